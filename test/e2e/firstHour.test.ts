// A new user's first hour, run as the user would (the built CLI against the fakes): every
// failure names what is at fault and what fixes it.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOllama, type FakeOllama } from '../fake/ollama.js';
import { startFakeTgi, type FakeTgi } from '../fake/tgi.js';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { BIN } from '../lsp-client.js';
import { selfSignedCert, type Cert } from '../unit/backendKit.js';

let vllm: FakeVllm;
let ollama: FakeOllama;
let tlsTgi: FakeTgi;
let cert: Cert;
let dir: string;
let home: string;
let file: string;

export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '', TANDEM_LOG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function config(name: string, data: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify(data));
  return f;
}

beforeAll(async () => {
  cert = selfSignedCert();
  [vllm, ollama, tlsTgi] = await Promise.all([
    startFakeVllm({ respond: () => ({ text: 'return n\n' }) }),
    startFakeOllama(),
    startFakeTgi({ tls: { key: cert.key, cert: cert.cert }, respond: () => ({ text: 'x' }) }),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'tandem-first-'));
  home = join(dir, 'home');
  mkdirSync(join(dir, '.git'));
  file = join(dir, 'fib.py');
  writeFileSync(file, 'def fib(n):\n    if n < 2:\n        return n\n    \n');
});

afterAll(async () => {
  await Promise.all([vllm.close(), ollama.close(), tlsTgi.close()]);
  cert.cleanup();
});

describe('doctor says what is wrong and what fixes it', () => {
  it('a misspelled model: not usable, exit 1, the nearest served name', async () => {
    const cfg = config('typo.json', { backends: { fim: { kind: 'vllm', url: vllm.url, model: 'Qwen/Qwen2.5-Coder-7B-Typo' } } });
    const r = await runCli(['doctor', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`not usable: model "Qwen/Qwen2.5-Coder-7B-Typo" is not served by ${vllm.url}/v1/models`);
    expect(r.stdout).toContain(`Fix: did you mean "Qwen/Qwen2.5-Coder-7B"? set backends.fim.model in ${cfg} to a model the server serves (it serves "Qwen/Qwen2.5-Coder-7B")`);
    expect(r.stdout).toMatch(/route inline\s+-> none/);
  });

  it('complete with that model: exit 3, one period, the model and the nearest served name', async () => {
    const cfg = config('typo2.json', { backends: { fim: { kind: 'vllm', url: vllm.url, model: 'Qwen/Qwen2.5-Coder-7B-Typo' } } });
    const r = await runCli(['complete', `${file}:4:5`, '--config', cfg]);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain('..');
    expect(r.stderr).toContain('model "Qwen/Qwen2.5-Coder-7B-Typo"');
    expect(r.stderr).toContain('did you mean "Qwen/Qwen2.5-Coder-7B"?');
    expect(r.stderr).toContain(cfg);
  });

  it('an Ollama model that is not pulled: /api/tags names what is', async () => {
    const cfg = config('ollama.json', { backends: { cpu: { kind: 'ollama', url: ollama.url, model: 'qwen2.5-coder:1.5b' } } });
    const r = await runCli(['doctor', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('did you mean "qwen2.5-coder:1.5b-base"?');
    expect(r.stdout).toContain(`set backends.cpu.model in ${cfg}`);
  });

  it('TGI serves its one model under any name: a different name is a note, not a failure', async () => {
    const tgi = await startFakeTgi({ respond: () => ({ text: 'x' }) });
    try {
      const cfg = config('tgi-name.json', { backends: { tgi: { kind: 'tgi', url: tgi.url, model: 'deepseek-ai/deepseek-coder-6.7b-base' } } });
      const r = await runCli(['doctor', '--config', cfg]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`note: the server has "Qwen/Qwen2.5-Coder-7B" loaded and answers any name; "deepseek-ai/deepseek-coder-6.7b-base" only chooses the prompt template`);
    } finally {
      await tgi.close();
    }
  });

  it('an apiKeyEnv whose variable is unset is named, not reported as a wrong key', async () => {
    const cfg = config('key.json', { backends: { fim: { kind: 'vllm', url: vllm.url, apiKeyEnv: 'TANDEM_TEST_UNSET_KEY' } } });
    const r = await runCli(['doctor', '--config', cfg], { TANDEM_TEST_UNSET_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('not usable: TANDEM_TEST_UNSET_KEY is not set');
    expect(r.stdout).toContain('Fix: the environment variable TANDEM_TEST_UNSET_KEY (backends.fim.apiKeyEnv) is not set: export TANDEM_TEST_UNSET_KEY=<your key>');
    const ok = await runCli(['doctor', '--config', cfg], { TANDEM_TEST_UNSET_KEY: 'sk-test-0123456789' });
    expect(ok.code).toBe(0);
  });

  it('a key the server refuses: not usable, the variable named (even where a configured model spares the lookup)', async () => {
    const refusing = await startFakeVllm({ models: { status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } } } });
    try {
      const cfg = config('badkey.json', { backends: { cloud: { kind: 'openai', url: `${refusing.url}/v1`, model: 'Qwen/Qwen2.5-Coder-7B', apiKeyEnv: 'TANDEM_TEST_KEY' } } });
      const r = await runCli(['doctor', '--config', cfg], { TANDEM_TEST_KEY: 'sk-wrong-0123456789' });
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('answered 401: Incorrect API key provided');
      expect(r.stdout).toContain('Fix: the server refused the key in TANDEM_TEST_KEY (backends.cloud.apiKeyEnv): check its value.');
      expect(r.stdout).not.toContain('sk-wrong');
    } finally {
      await refusing.close();
    }
  });

  it('an untrusted certificate: caFile and proxy named, with the subject and issuer', async () => {
    const cfg = config('tls.json', { backends: { tgi: { kind: 'tgi', url: tlsTgi.url } } });
    const r = await runCli(['doctor', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('unreachable: could not reach');
    expect(r.stdout).toContain(`Fix: ${tlsTgi.url} is not trusted: set backends.tgi.caFile in ${cfg} to the PEM file of the CA that issued its certificate (subject "CN=tandem test", issuer "CN=tandem test")`);
    expect(r.stdout).toContain('backends.tgi.proxy');
    expect(r.stdout).not.toContain('deploy/');
    const trusted = config('tls-ok.json', { backends: { tgi: { kind: 'tgi', url: tlsTgi.url, caFile: cert.certPath } } });
    expect((await runCli(['doctor', '--config', trusted])).code).toBe(0);
  });

  it('a dead server: the fix names the --config file that set the URL, not a user file that does not exist', async () => {
    const cfg = config('wrongport.json', { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9' } } });
    const r = await runCli(['complete', `${file}:4:5`, '--config', cfg]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`set backends.fim.url in ${cfg} to a running one`);
    expect(r.stderr).not.toContain(join(home, 'tandem', 'config.json'));
    const viaEnv = await runCli(['doctor'], { TANDEM_CONFIG: cfg });
    expect(viaEnv.stdout).toContain(`set backends.fim.url in ${cfg}`);
  });
});

describe('configuration errors name the source and the nearest key', () => {
  it('a key typo gets "did you mean"', async () => {
    const cfg = config('debounce.json', { backends: { fim: { kind: 'vllm', url: vllm.url } }, inline: { debounceMS: 50 } });
    const r = await runCli(['doctor', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`tandem-lsp: ${cfg}: inline.debounceMS: unknown key; did you mean \`debounceMs\`?\n`);
  });

  it('the user file is named when it set the value', async () => {
    mkdirSync(join(home, 'tandem'), { recursive: true });
    const user = join(home, 'tandem', 'config.json');
    writeFileSync(user, JSON.stringify({ backends: { fim: { kind: 'vllm', url: vllm.url, modle: 'x' } } }));
    try {
      const r = await runCli(['doctor']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${user}: backends.fim.modle: unknown key; did you mean \`model\`?`);
    } finally {
      writeFileSync(user, '{}');
    }
  });
});

describe('complete, prompt and explain refuse the same files and positions, in the same words', () => {
  it('a binary file, a directory, a line past the end', async () => {
    const cfg = config('refuse.json', { backends: { fim: { kind: 'vllm', url: vllm.url } } });
    const bin = join(dir, 'blob.py');
    writeFileSync(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00]));
    const before = vllm.requests.length;
    const cases: [string, string, string][] = [
      [`${bin}:1:1`, `${bin}:1`, `${bin} is a binary file, not text`],
      [`${dir}:1:1`, `${dir}:1`, `${dir} is a directory, not a file`],
      [`${file}:40:1`, `${file}:40`, 'line 40 is past the end of the file (5 lines)'],
      [`${file}:2:1`, `${file}:2-40`, 'line 40 is past the end of the file (5 lines)'],
    ];
    for (const [position, range, message] of cases) {
      const [c, p, e] = await Promise.all([runCli(['complete', position, '--config', cfg]), runCli(['prompt', position, '--config', cfg, '--json']), runCli(['explain', range, '--config', cfg])]);
      if (position.endsWith(':2:1')) expect(c.code).toBe(0);
      else {
        expect([c.code, p.code, c.stderr]).toEqual([2, 2, expect.stringContaining(message)]);
        expect(p.stderr).toBe(c.stderr);
      }
      expect(e.code).toBe(2);
      expect(e.stderr).toContain(message);
    }
    // Nothing refused reached the model (the one valid completion did).
    expect(vllm.requests.slice(before).filter((r) => r.path === '/v1/chat/completions')).toEqual([]);
  });
});

describe('the workspace of a CLI call is the project of the file, and prompt --json says what it assumed', () => {
  it('nearest folder with a manifest, not the cwd or the repository root; --workspace wins', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'tandem-repo-'));
    mkdirSync(join(repo, '.git'));
    for (let i = 0; i < 5; i++) writeFileSync(join(repo, `other${i}.py`), `def other${i}():\n    return ${i}\n`);
    const pkg = join(repo, 'packages', 'calc');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), '{"name": "calc"}');
    writeFileSync(join(pkg, 'add.js'), 'function add(a, b) {\n  \n}\n');
    const cfg = config('ws.json', { backends: { fim: { kind: 'vllm', url: vllm.url } } });
    const r = await runCli(['prompt', 'packages/calc/add.js:2:3', '--config', cfg, '--json'], {}, repo);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.workspace).toEqual({ root: pkg, why: 'nearest folder with package.json' });
    expect(out.index.files).toBe(1);
    expect(out.budget.contextWindowSource).toBe('assumed');
    expect(out.assumed).toEqual(['budget.contextWindow', 'model']);
    const wide = JSON.parse((await runCli(['prompt', 'packages/calc/add.js:2:3', '--config', cfg, '--json', '--workspace', repo], {}, repo)).stdout);
    expect(wide.workspace).toEqual({ root: repo, why: '--workspace' });
    expect(wide.index.files).toBe(6);
    const sized = config('ws-sized.json', { backends: { fim: { kind: 'vllm', url: vllm.url, model: 'Qwen/Qwen2.5-Coder-7B', maxContextTokens: 16384 } } });
    const known = JSON.parse((await runCli(['prompt', 'packages/calc/add.js:2:3', '--config', sized, '--json'], {}, repo)).stdout);
    expect(known.budget).toMatchObject({ contextWindow: 16384, contextWindowSource: 'config' });
    expect(known.assumed).toEqual([]);
  });
});
