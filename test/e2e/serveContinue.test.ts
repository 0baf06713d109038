// A real chat client through `tandem-lsp serve`: the Continue CLI (`cn`, npm @continuedev/cli),
// installed once into ~/.cache/tandem-ci (test/clients/continueCli.mjs), run headless (`cn -p`)
// with the README's config.yaml, answers from the fake backend behind serve.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../clients/continueCli.mjs';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { startServeProcess, type ServeProcess } from '../serveProcess.js';

const cn: { entry?: string; missing?: string } = install();
const ANSWER = 'The answer from the fake behind tandem is 42.';

let fake: FakeVllm;
let serve: ServeProcess;
let root: string;

beforeAll(async () => {
  if (cn.missing) return;
  fake = await startFakeVllm({ respond: () => ({ text: ANSWER }) });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-continue-ws-')));
  writeFileSync(join(root, 'notes.md'), '# notes\n');
  serve = await startServeProcess({ workspace: root, config: { backends: { local: { kind: 'vllm', url: fake.url } } } });
});

afterAll(async () => {
  await serve?.stop();
  await fake?.close();
});

/** The README's Continue config, for this serve's port. */
function readmeConfig(url: string): string {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Continue'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
  expect(yaml).toContain('apiBase: http://127.0.0.1:8770/v1');
  return yaml.replace('http://127.0.0.1:8770/v1', url);
}

function runCn(args: string[], home: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cn.entry!, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: home, CONTINUE_CLI_ENABLE_TELEMETRY: '0', CONTINUE_METRICS_ENABLED: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(cn.missing)(`Continue CLI through tandem-lsp serve${cn.missing ? ` (skipped: ${cn.missing.split('\n')[0]})` : ''}`, () => {
  it('cn -p answers from the fake backend, with the README\'s config and the token from ~/.continue/.env', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tandem-continue-home-'));
    mkdirSync(join(home, '.continue'));
    writeFileSync(join(home, '.continue', 'config.yaml'), readmeConfig(serve.url));
    writeFileSync(join(home, '.continue', '.env'), `TANDEM_SERVE_TOKEN=${serve.token}\n`);
    const r = await runCn(['-p', 'What is six times seven?', '--config', join(home, '.continue', 'config.yaml')], home);
    expect(r.stdout, r.stderr).toContain(ANSWER);
    expect(r.code).toBe(0);
    // It went through tandem: the fake got the question, on the chat route, without the client's token.
    const sent = fake.requests.filter((q) => q.method === 'POST' && q.path === '/v1/chat/completions');
    expect(sent.length).toBeGreaterThan(0);
    expect(JSON.stringify(sent.at(-1)!.body.messages)).toContain('What is six times seven?');
    for (const q of fake.requests) expect(JSON.stringify(q.headers)).not.toContain(serve.token);
  });

  it('with a wrong token Continue gets the 401 and the fake gets nothing', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tandem-continue-home-'));
    mkdirSync(join(home, '.continue'));
    writeFileSync(join(home, '.continue', 'config.yaml'), readmeConfig(serve.url));
    writeFileSync(join(home, '.continue', '.env'), 'TANDEM_SERVE_TOKEN=tdm_not-the-token\n');
    const before = fake.requests.length;
    const r = await runCn(['-p', 'hello?', '--config', join(home, '.continue', 'config.yaml')], home);
    expect(r.stdout).not.toContain(ANSWER);
    expect(`${r.stdout}${r.stderr}`).toMatch(/401|bearer token/i);
    expect(fake.requests.length).toBe(before);
  });
});
