// `tandem-lsp explain FILE:LINE[-LINE]`: Markdown streamed to stdout, the lines in the prompt, exit codes.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { BIN } from '../lsp-client.js';

let fake: FakeVllm;
let dir: string;
const ANSWER = 'Returns the `n`th **Fibonacci** number.';

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'home'), XDG_STATE_HOME: join(dir, 'state'), TANDEM_CONFIG: '', TANDEM_LOG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  fake = await startFakeVllm({ respond: () => ({ text: ANSWER }) });
  dir = mkdtempSync(join(tmpdir(), 'tandem-explain-'));
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, 'fib.py'), 'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n');
  writeFileSync(join(dir, 'ok.json'), JSON.stringify({ backends: { chat: { kind: 'vllm', url: fake.url } } }));
});

afterAll(async () => {
  await fake.close();
});

describe('tandem-lsp explain', () => {
  it('prints the Markdown explanation of the lines; the prompt holds them', async () => {
    const r = await run(['explain', join(dir, 'fib.py') + ':2-3', '--config', join(dir, 'ok.json')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(ANSWER + '\n');
    const user = fake.requests.filter((q) => q.path === '/v1/chat/completions').at(-1)!.body.messages[1].content;
    expect(user).toContain('The code to explain:\n```python\n    if n < 2:\n        return n\n```');
    expect(user).toContain('from fib.py');
  });

  it('bad ranges exit 2; no backend exits 3', async () => {
    expect((await run(['explain', join(dir, 'fib.py') + ':3-2', '--config', join(dir, 'ok.json')])).code).toBe(2);
    expect((await run(['explain', join(dir, 'fib.py') + ':99', '--config', join(dir, 'ok.json')])).code).toBe(2);
    writeFileSync(join(dir, 'dead.json'), JSON.stringify({ backends: { chat: { kind: 'vllm', url: 'http://127.0.0.1:9' } } }));
    const r = await run(['explain', join(dir, 'fib.py') + ':1', '--config', join(dir, 'dead.json')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no usable backend');
  });
});
