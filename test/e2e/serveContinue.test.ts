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

// Installed on first use (about 20 s; remembered for an hour when it fails, e.g. without the registry).
const cn: { entry?: string; missing?: string } = install();
if (cn.missing) console.warn(`test/e2e/serveContinue.test.ts: SKIPPED: ${cn.missing}`);
const ANSWER = 'The answer from the fake behind tandem is 42.';
/** `cn` takes 5-20 s to start on a loaded 2-core machine, twice per test at most: a bound only a stuck run reaches. */
const CN_STUCK_MS = 180_000;

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

function runCn(args: string[], home: string, cwd = root): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cn.entry!, ...args], {
      cwd,
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
  }, CN_STUCK_MS);

  it('Continue\'s tools pass through both ways, and a protected file its Read tool fetched never reaches the cloud', async () => {
    const MARK = 'protectedMarker7f3a';
    const keys = `export function helper(n: number): number {\n  const ${MARK}_scaled = n * 31 + 0x5bd1;\n  return ${MARK}_scaled ^ (n << 7);\n}\n`;
    const ws = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-continue-ws-')));
    mkdirSync(join(ws, 'internal'));
    writeFileSync(join(ws, 'internal', 'pricing.ts'), keys);
    // The cloud, first on the chat route, asks for the file with Continue's own Read tool; on-prem answers after.
    const cloud = await startFakeVllm({ model: 'big', respond: () => ({ toolCalls: [{ id: 'call_read_1', name: 'Read', arguments: JSON.stringify({ filepath: 'internal/pricing.ts' }) }] }) });
    const local = await startFakeVllm({ respond: (r) => ({ text: r.body.messages.some((m: { role: string }) => m.role === 'tool') ? 'On-prem read it: it scales and mixes n.' : 'no tool result' }) });
    const s = await startServeProcess({
      workspace: ws,
      config: {
        backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'big' }, local: { kind: 'vllm', url: local.url } },
        routes: { inline: ['local'], action: ['local'], multiFile: ['local'], chat: ['cloud', 'local'] },
        privacy: { onPremOnly: ['internal/**'] },
      },
    });
    try {
      const home = mkdtempSync(join(tmpdir(), 'tandem-continue-home-'));
      mkdirSync(join(home, '.continue'));
      writeFileSync(join(home, '.continue', 'config.yaml'), readmeConfig(s.url));
      writeFileSync(join(home, '.continue', '.env'), `TANDEM_SERVE_TOKEN=${s.token}\n`);
      const r = await runCn(['-p', 'Summarise the helper file for me.', '--config', join(home, '.continue', 'config.yaml')], home, ws);
      expect(r.stdout, r.stderr).toContain('On-prem read it: it scales and mixes n.');
      const cloudChats = cloud.requests.filter((q) => q.method === 'POST');
      expect(cloudChats).toHaveLength(1);
      // Continue's tools reached the backend as Continue sent them.
      expect(cloudChats[0]!.body.tools.map((t: { function: { name: string } }) => t.function.name)).toContain('Read');
      const second = local.requests.filter((q) => q.method === 'POST' && q.path === '/v1/chat/completions').at(-1)!;
      const assistant = second.body.messages.find((m: { role: string }) => m.role === 'assistant');
      expect(assistant.tool_calls).toEqual([{ id: 'call_read_1', type: 'function', function: { name: 'Read', arguments: JSON.stringify({ filepath: 'internal/pricing.ts' }) } }]);
      const tool = second.body.messages.find((m: { role: string }) => m.role === 'tool');
      expect(tool.tool_call_id).toBe('call_read_1');
      expect(tool.content).toContain(MARK);
      for (const q of cloud.requests) expect(q.rawBody).not.toContain(MARK);
    } finally {
      await s.stop();
      await cloud.close();
      await local.close();
    }
  }, CN_STUCK_MS);

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
  }, CN_STUCK_MS);
});
