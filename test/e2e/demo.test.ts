// The README's no-GPU demo, run as a user runs it: `npm run fake-vllm` (node test/fake/vllm.js),
// then the CLI and `npm run demo` (test/fake/demo.js) against it. Every feature must work there.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../lsp-client.js';

const FAKE = join(__dirname, '..', 'fake', 'vllm.js');
const DEMO = join(__dirname, '..', 'fake', 'demo.js');
const FIB = join(__dirname, '..', 'fixtures', 'quickstart', 'fib.py');

let fake: ChildProcess;
let url: string;
let home: string;

function run(cmd: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, cmd, { env: { ...process.env, XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '', TANDEM_LOG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'tandem-demo-test-'));
  fake = spawn(process.execPath, [FAKE, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let err = '';
    fake.stderr!.on('data', (d) => {
      err += d;
      const m = /at (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    fake.on('exit', () => reject(new Error(`fake vllm exited: ${err}`)));
  });
});

afterAll(() => {
  fake.kill();
});

describe('the no-GPU demo', () => {
  it('the fake serves two model names', async () => {
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['Qwen/Qwen2.5-Coder-7B', 'Qwen/Qwen2.5-Coder-1.5B']);
  });

  it('complete, explain and doctor from the command line', async () => {
    const cfg = ['--config', join(home, 'none.json')];
    writeFileSync(cfg[1]!, JSON.stringify({ backends: { local: { kind: 'vllm', url } } }));
    const c = await run([BIN, 'complete', `${FIB}:3:5`, ...cfg]);
    expect([c.code, c.stdout, c.stderr]).toEqual([0, 'return 42\n', '']);
    const e = await run([BIN, 'explain', `${FIB}:6-10`, ...cfg]);
    expect(e.code).toBe(0);
    expect(e.stdout).toContain('This 5-line excerpt of `fib.py` defines `fib_table`. A loop walks through the values one at a time.');
    expect(e.stdout).not.toMatch(/^42$/m);
    const d = await run([BIN, 'doctor', ...cfg]);
    expect(d.code).toBe(0);
  });

  it('npm run demo: ghost text, a code action applied, explain and compare', async () => {
    const r = await run([DEMO, '--url', url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('=== 1. ghost text at line 3, column 5 (textDocument/inlineCompletion) ===\nreturn 42\n');
    expect(r.stdout).toContain('=== 2. code action "Add documentation comment (tandem)" (codeAction/resolve), applied ===');
    expect(r.stdout).toContain("\n\n# fib_table: documented by tandem's demo backend (a real model writes what it does here)\ndef fib_table(limit):\n    table = [0, 1]\n");
    expect(r.stdout).toContain('=== 3. explain lines 6-10 (tandem.explain) ===\nThis 5-line excerpt of `fib.py` defines `fib_table`.');
    expect(r.stdout).toContain('## demo (Qwen/Qwen2.5-Coder-7B)');
    expect(r.stdout).toContain('## demo2 (Qwen/Qwen2.5-Coder-1.5B)');
    expect(r.stdout).toMatch(/\| demo2 \| Qwen\/Qwen2\.5-Coder-1\.5B \| \d+ ms \|/);
  });

  it('without the fake, the demo says how to start it', async () => {
    const r = await run([DEMO, '--url', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('npm run fake-vllm');
  });
});
