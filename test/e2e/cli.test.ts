// The `tandem-lsp` command as a user runs it: output, JSON shapes, exit codes and error sentences.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { BIN } from '../lsp-client.js';

let fake: FakeVllm;
let dir: string;
let home: string;

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, XDG_CONFIG_HOME: home, TANDEM_CONFIG: '', TANDEM_LOG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function writeConfig(name: string, data: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, typeof data === 'string' ? data : JSON.stringify(data));
  return f;
}

beforeAll(async () => {
  fake = await startFakeVllm({ respond: () => ({ text: 'return fib(n - 1) + fib(n - 2)\n\nprint(fib(10))' }) });
  dir = mkdtempSync(join(tmpdir(), 'tandem-cli-'));
  home = join(dir, 'home');
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, 'fib.py'), 'def fib(n):\n    if n < 2:\n        return n\n    \n');
});

afterAll(async () => {
  await fake.close();
});

describe('tandem-lsp CLI', () => {
  it('--version and --help', async () => {
    const v = await run(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = await run(['--help']);
    expect(h.code).toBe(0);
    for (const cmd of ['--stdio', 'complete FILE:LINE:COL', 'prompt FILE:LINE:COL', 'doctor']) expect(h.stdout).toContain(cmd);
  });

  it('complete prints the text to insert, postprocessed to the block', async () => {
    const cfg = writeConfig('ok.json', { backends: { fim: { kind: 'vllm', url: fake.url } } });
    const r = await run(['complete', join(dir, 'fib.py') + ':4:5', '--config', cfg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The model went on past the function; the completion ends with the block.
    expect(r.stdout).toBe('return fib(n - 1) + fib(n - 2)\n');
    const j = await run(['complete', join(dir, 'fib.py') + ':4:5', '--config', cfg, '--json']);
    const out = JSON.parse(j.stdout);
    expect(out).toMatchObject({ text: 'return fib(n - 1) + fib(n - 2)', backend: 'fim', model: 'Qwen/Qwen2.5-Coder-7B' });
    expect(typeof out.latencyMs).toBe('number');
  });

  it('TANDEM_CONFIG is read, and --config wins over it', async () => {
    const good = writeConfig('good.json', { backends: { fim: { kind: 'vllm', url: fake.url } } });
    const bad = writeConfig('bad-url.json', { backends: { fim: { kind: 'vllm', url: 'nope' } } });
    expect((await run(['complete', join(dir, 'fib.py') + ':4:5'], { TANDEM_CONFIG: good })).code).toBe(0);
    expect((await run(['complete', join(dir, 'fib.py') + ':4:5', '--config', good], { TANDEM_CONFIG: bad })).code).toBe(0);
    const r = await run(['complete', join(dir, 'fib.py') + ':4:5'], { TANDEM_CONFIG: bad });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}: backends.fim.url: expected a URL`);
  });

  it('exits 3 naming the URL when no backend answers, and 2 on bad config or arguments', async () => {
    const dead = await startFakeVllm();
    const url = dead.url;
    await dead.close();
    const cfg = writeConfig('dead.json', { backends: { fim: { kind: 'vllm', url } } });
    const r = await run(['complete', join(dir, 'fib.py') + ':4:5', '--config', cfg]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${url}`);
    expect(r.stderr).toContain('deploy/');
    expect(r.stdout).toBe('');

    const badJson = writeConfig('broken.json', '{"backends": {,}}');
    const b = await run(['complete', join(dir, 'fib.py') + ':4:5', '--config', badJson]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(new RegExp(`${badJson.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid JSON.*line 1, column \\d+`));

    const kind = writeConfig('kind.json', { backends: { fim: { kind: 'gpt', url: fake.url } } });
    expect((await run(['doctor', '--config', kind])).stderr).toContain('backends.fim.kind: expected one of: vllm, openai, tgi, ollama, llamacpp');

    expect((await run(['complete', 'nofile.py'])).code).toBe(2);
    expect((await run(['complete', join(dir, 'missing.py') + ':1:1'])).stderr).toContain('missing.py: cannot read the file');
    const past = await run(['complete', join(dir, 'fib.py') + ':40:1']);
    expect(past.code).toBe(2);
    expect(past.stderr).toContain('line 40 is past the end of the file');
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['complete', '--bogus'])).stderr).toContain('unknown flag --bogus');
  });

  it('prompt --json is a dry run that lists segments, route and budget', async () => {
    const cfg = writeConfig('model.json', { backends: { fim: { kind: 'vllm', url: fake.url, model: 'deepseek-ai/deepseek-coder-6.7b-base', maxContextTokens: 4096 } } });
    const before = fake.requests.length;
    const r = await run(['prompt', join(dir, 'fib.py') + ':4:5', '--config', cfg, '--json']);
    expect(r.code).toBe(0);
    expect(fake.requests.length).toBe(before);
    const out = JSON.parse(r.stdout);
    expect(out.task).toBe('inline');
    expect(out.route).toEqual({ backend: 'fim', reason: 'first backend of routes.inline' });
    expect(out.template).toBe('deepseek');
    expect(out.prompt.startsWith('<｜fim▁begin｜># Path: fib.py\ndef fib(n):')).toBe(true);
    expect(out.segments.map((s: { kind: string }) => s.kind)).toEqual(['path', 'prefix', 'suffix']);
    for (const s of out.segments) expect(s.path).toBe('fib.py');
    expect(out.budget).toMatchObject({ contextWindow: 4096, maxTokens: 128 });
    expect(out.budget.prompt).toBeGreaterThan(0);
  });

  it('doctor reports each backend and route, exiting 1 when a route has no backend', async () => {
    const ok = writeConfig('doc-ok.json', { backends: { fim: { kind: 'vllm', url: fake.url } } });
    const r = await run(['doctor', '--config', ok]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fim\s+vllm\s+onprem http:\/\/127\.0\.0\.1:\d+\s+reachable\s+model Qwen\/Qwen2\.5-Coder-7B\s+context 32768 \(server\)\s+latency \d+ ms/);
    expect(r.stdout).toMatch(/route inline\s+-> fim/);
    expect(r.stdout).toMatch(/route chat\s+-> fim/);
    const dead = writeConfig('doc-dead.json', { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9' } } });
    const d = await run(['doctor', '--config', dead]);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain('unreachable: could not reach http://127.0.0.1:9/v1');
    expect(d.stdout).toMatch(/route inline\s+-> none/);
  });

  it('prompt --task nextEdit shows the next-edit prompt, the uncommitted changes as the edits, without calling a backend', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'tandem-ne-'));
    const git = (...a: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { stdio: 'ignore' });
    const before = ['export function area(w: number, h: number) {', '  return w * h;', '}', '', 'export function report(w: number, h: number) {', '  console.log(area(w, h));', '}', ''];
    writeFileSync(join(repo, 'geo.ts'), before.join('\n'));
    git('init', '-q');
    git('add', 'geo.ts');
    git('commit', '-q', '-m', 'geo');
    // The user added a parameter to the definition; the call below is the next edit.
    writeFileSync(join(repo, 'geo.ts'), before.join('\n').replace('area(w: number, h: number) {\n  return w * h;', 'area(w: number, h: number, d: number) {\n  return w * h * d;'));
    const cfg = writeConfig('ne-zeta.json', { backends: { gpu: { kind: 'vllm', url: fake.url, model: 'zed-industries/zeta', maxContextTokens: 8192 } } });
    const sent = fake.requests.length;
    const r = await run(['prompt', join(repo, 'geo.ts') + ':6:3', '--config', cfg, '--task', 'nextEdit', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fake.requests.length).toBe(sent);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ task: 'nextEdit', route: { backend: 'gpu', reason: 'first backend of routes.nextEdit' }, template: 'zeta', templateFrom: 'model zed-industries/zeta', history: { source: 'git diff HEAD', steps: 1 }, assumed: [] });
    // The edit, as Zeta's prompt shows it: a diff of the file, then the excerpt with the cursor.
    expect(out.prompt).toContain('User edited "geo.ts":\n```diff\n@@ -1,5 +1,5 @@\n-export function area(w: number, h: number) {\n-  return w * h;\n+export function area(w: number, h: number, d: number) {\n+  return w * h * d;\n }');
    expect(out.prompt).toContain('<|editable_region_start|>\nexport function area(w: number, h: number, d: number) {');
    expect(out.prompt).toContain('  <|user_cursor_is_here|>console.log(area(w, h));');
    expect(out.region).toEqual({ startLine: 1, endLine: 7 });
    expect(out.segments.map((s: { kind: string }) => s.kind)).toEqual(['edit', 'region', 'file']);
    expect(out.budget).toMatchObject({ contextWindow: 8192, contextWindowSource: 'config' });
    expect(out.budget.maxTokens).toBeGreaterThan(out.segments[1].tokens);

    // Without a model in config the format is the instruct fallback, and the dry run says it assumed it.
    const bare = writeConfig('ne-bare.json', { backends: { gpu: { kind: 'vllm', url: fake.url } } });
    const b = JSON.parse((await run(['prompt', join(repo, 'geo.ts') + ':6:3', '--config', bare, '--task', 'nextEdit', '--json'])).stdout);
    expect(b.template).toBe('instruct');
    expect(b.assumed).toEqual(['budget.contextWindow', 'model', 'template']);
    expect(b.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user']);

    // The inline prompt is still the default, and an unknown task is a usage error naming the flag.
    expect(JSON.parse((await run(['prompt', join(repo, 'geo.ts') + ':6:3', '--config', cfg, '--json'])).stdout).task).toBe('inline');
    const bad = await run(['prompt', join(repo, 'geo.ts') + ':6:3', '--config', cfg, '--task', 'rename', '--json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--task rename: expected one of: inline, nextEdit');
  });

  it('doctor names the next-edit route and each of its backends\' format; an empty next-edit route is no failure', async () => {
    const ok = writeConfig('doc-ne.json', { backends: { fim: { kind: 'vllm', url: fake.url }, ne: { kind: 'vllm', url: fake.url, nextEdit: 'sweep' } }, routes: { inline: ['fim'], nextEdit: ['ne', 'fim'] } });
    const r = await run(['doctor', '--config', ok]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/route nextEdit\s+-> ne\s+\(first backend of routes\.nextEdit\)/);
    expect(r.stdout).toContain('next-edit format on ne: sweep (backends.ne.nextEdit)');
    expect(r.stdout).toContain('next-edit format on fim: instruct (the model "Qwen/Qwen2.5-Coder-7B" is no known next-edit model');
    // Only a cloud backend: the default next-edit route (the inline route's on-prem backends) is empty.
    const cloud = writeConfig('doc-ne-cloud.json', { backends: { fim: { kind: 'vllm', url: fake.url, location: 'cloud' } } });
    const c = await run(['doctor', '--config', cloud]);
    expect(c.stdout).toMatch(/route inline\s+-> fim/);
    expect(c.stdout).toMatch(/route nextEdit\s+-> none\s+\(routes\.nextEdit is empty/);
    expect(c.code).toBe(0);
  });

  it('a workspace tandem.json may only tighten privacy', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'tandem-ws-'));
    writeFileSync(join(ws, 'a.py'), 'x = 1\n');
    writeFileSync(join(ws, 'tandem.json'), JSON.stringify({ privacy: { airGapped: true }, routes: { inline: ['cloud'] } }));
    const cfg = writeConfig('cloud.json', { backends: { fim: { kind: 'vllm', url: fake.url }, cloud: { kind: 'openai', url: 'https://api.example.invalid/v1', model: 'gpt-4o' } }, routes: { inline: ['cloud', 'fim'] } });
    const r = await run(['prompt', join(ws, 'a.py') + ':2:1', '--config', cfg, '--workspace', ws, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('tandem.json: routes: ignored');
    const out = JSON.parse(r.stdout);
    expect(out.route.backend).toBe('fim');
    expect(out.route.reason).toContain('cloud: cloud, air-gapped');
  });

  it('a tandem.json that does not parse air-gaps the run, with a warning naming its line and column', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'tandem-ws-'));
    writeFileSync(join(ws, 'a.py'), 'x = 1\n');
    writeFileSync(join(ws, 'tandem.json'), '{"privacy": {"airGapped": true,}}');
    const cfg = writeConfig('cloud-first.json', { backends: { fim: { kind: 'vllm', url: fake.url }, cloud: { kind: 'openai', url: 'https://api.example.invalid/v1', model: 'gpt-4o' } }, routes: { inline: ['cloud', 'fim'] } });
    const r = await run(['prompt', join(ws, 'a.py') + ':2:1', '--config', cfg, '--workspace', ws, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`tandem-lsp: warning: ${join(ws, 'tandem.json')}: invalid JSON: Expected double-quoted property name at line 1, column 32; air-gapped until the file is fixed`);
    const out = JSON.parse(r.stdout);
    expect(out.route.backend).toBe('fim');
    expect(out.route.reason).toContain('cloud: cloud, air-gapped');
  });
});
