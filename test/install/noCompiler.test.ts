// "Install anywhere" (issue 16): `npm ci` and the README's quick start on a machine without a C++
// compiler, make or python3. The repository is cloned from this working tree (tracked files, with
// their uncommitted edits), installed with a PATH of links to every program on this one's except
// the compilers, npm's cache pointing at the usual cache (so little or nothing is downloaded),
// then the quick start is run as the README gives it, with the fake vLLM, and an editor session
// over stdio. tree-sitter's native binding (built at install where its prebuilt addon does not
// load) is an optional dependency: without it tandem parses with tree-sitter's WebAssembly build
// and says so once at info level and in `doctor`. Skipped, with the reason, where the registry
// is needed and cannot be reached.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { LspClient } from '../lsp-client.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** Programs a native build needs, hidden from the install (with versioned names: gcc-12, python3.11). */
const HIDDEN = /^((cc|c\+\+|gcc|g\+\+|cpp|clang|clang\+\+|make|gmake|python|python3)(-[\d.]+)?|python3\.\d+|(x86_64|aarch64)-linux-gnu-(gcc|g\+\+|cpp|c\+\+)(-[\d.]+)?)$/;
/** npm's errors when it had to download and could not. */
const OFFLINE = /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network/i;

let work: string;
let clone: string;
let env: NodeJS.ProcessEnv;
let install: { code: number | null; out: string; ms: number };
let skipReason: string | undefined;
let fake: FakeVllm;
let config: string;

/** A directory of links to every program on PATH (the first of each name) but the hidden ones. */
function pathWithoutCompilers(dir: string): string {
  mkdirSync(dir);
  const seen = new Set<string>();
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (seen.has(n) || HIDDEN.test(n)) continue;
      seen.add(n);
      try {
        if (statSync(join(d, n)).isFile()) symlinkSync(join(d, n), join(dir, n));
      } catch {
        // a dangling link or an unreadable entry: not a program
      }
    }
  }
  return dir;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number | null; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (d) => ((out += d), (stdout += d)));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out, stdout }));
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tandem-install-'));
  clone = join(work, 'tandem');
  // The working tree as a commit (no ref, nothing in the checkout changes), else HEAD.
  const tree = spawnSync('git', ['stash', 'create'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() || 'HEAD';
  const sha = spawnSync('git', ['rev-parse', tree], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const c = spawnSync('git', ['clone', '--quiet', '--no-checkout', ROOT, clone], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`git clone ${ROOT}: ${c.stderr}`);
  const co = spawnSync('git', ['checkout', '--quiet', sha], { cwd: clone, encoding: 'utf8' });
  if (co.status !== 0) throw new Error(`git checkout ${sha} in the clone: ${co.stderr}`);

  const cache = process.env.npm_config_cache || spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim() || join(homedir(), '.npm');
  env = { ...process.env, PATH: pathWithoutCompilers(join(work, 'bin')), npm_config_cache: cache, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', CI: 'true' };
  for (const k of ['CC', 'CXX', 'PYTHON', 'npm_config_python', 'NODE_GYP_FORCE_PYTHON', 'npm_config_nodedir']) delete env[k];
  // npm as a test runner sets these for its own project: they must not leak into the clone's.
  for (const k of Object.keys(env)) if (/^npm_(package|lifecycle)_/.test(k) || k === 'INIT_CWD') delete env[k];

  const t = performance.now();
  const r = await run('npm', ['ci'], { cwd: clone, env });
  install = { code: r.code, out: r.out, ms: performance.now() - t };
  if (r.code !== 0 && OFFLINE.test(r.out)) {
    const ping = spawnSync('npm', ['ping'], { env, encoding: 'utf8', timeout: 20_000 });
    if (ping.status !== 0) skipReason = `npm's registry cannot be reached and the cache lacks packages: ${(r.out.match(/npm error .*(ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONN\w+|ETIMEDOUT|ENETUNREACH).*/) ?? [''])[0].slice(0, 200)}`;
  }
  fake = await startFakeVllm({ respond: () => ({ text: 'return fib(n - 1) + fib(n - 2)' }) });
  config = join(work, 'tandem.json');
  writeFileSync(config, JSON.stringify({ backends: { fim: { kind: 'vllm', url: fake.url } } }));
}, 600_000);

afterAll(async () => {
  await fake?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The clone's tree-sitter loads (its prebuilt addon did, here) or is absent (it needed building). */
function treeSitterLoads(): boolean {
  return spawnSync(process.execPath, ['-e', "require('tree-sitter')"], { cwd: clone, env, encoding: 'utf8' }).status === 0;
}

describe('install and quick start without a C++ compiler, make or python3', () => {
  it('the PATH used hides the compilers and keeps node and npm', (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const found = spawnSync('sh', ['-c', 'for p in cc c++ gcc g++ make python3 python node npm git; do command -v $p >/dev/null && echo $p; done'], { env, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(found).toEqual(['node', 'npm', 'git']);
  });

  it('npm ci succeeds and builds the server', (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    expect(install.code, install.out.slice(-3000)).toBe(0);
    expect(existsSync(join(clone, 'server', 'out', 'cli', 'main.js'))).toBe(true);
    // The grammar packages (prebuilt C addons, which load on old glibc too) are there.
    expect(existsSync(join(clone, 'node_modules', 'tree-sitter-python', 'package.json'))).toBe(true);
    // Where tree-sitter's own prebuilt addon does not load (GLIBCXX_3.4.31 on Debian 12), npm
    // tried to build it, failed for want of a compiler, and left it out.
    if (!treeSitterLoads()) expect(existsSync(join(clone, 'node_modules', 'tree-sitter'))).toBe(false);
  });

  it("the quick start's complete and doctor work, with syntax features, and doctor says which tree-sitter", async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const home = join(work, 'home');
    const e = { ...env, XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: config, TANDEM_LOG: '' };
    // As the README gives them (npx, in the checkout, runs the checkout's own tandem-lsp).
    const complete = await run('npx', ['tandem-lsp', 'complete', 'test/fixtures/quickstart/fib.py:3:5'], { cwd: clone, env: e });
    expect(complete.code, complete.out).toBe(0);
    expect(complete.stdout).toContain('return fib(n - 1) + fib(n - 2)');
    const doctor = await run('npx', ['tandem-lsp', 'doctor'], { cwd: clone, env: e });
    expect(doctor.code, doctor.out).toBe(0);
    expect(doctor.stdout).toMatch(/^route inline\s+-> fim/m);
    const grammars = 'grammars typescript, tsx, javascript, python, go, rust, java';
    if (treeSitterLoads()) expect(doctor.stdout).toMatch(new RegExp(`^syntax\\s+tree-sitter loaded; ${grammars}$`, 'm'));
    else expect(doctor.stdout).toMatch(new RegExp(`^syntax\\s+tree-sitter's WebAssembly build loaded \\(the native binding: tree-sitter: Cannot find module 'tree-sitter'\\); ${grammars}$`, 'm'));
    // The workspace index (tree-sitter in the index's worker thread) holds the folder's file.
    const prompt = await run('npx', ['tandem-lsp', 'prompt', 'test/fixtures/quickstart/fib.py:3:5', '--workspace', 'test/fixtures/quickstart', '--json'], { cwd: clone, env: e });
    expect(prompt.code, prompt.out).toBe(0);
    expect(JSON.parse(prompt.stdout).index.files).toBeGreaterThanOrEqual(1);
  });

  it('an editor session over stdio completes, and the WebAssembly build standing in is said once at info level', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const home = join(work, 'home-lsp');
    const client = new LspClient({ bin: join(clone, 'server', 'bin', 'tandem-lsp.js'), cwd: clone, env: { ...env, XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '', TANDEM_LOG: 'info' } });
    try {
      const folder = join(clone, 'test', 'fixtures', 'quickstart');
      await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } } }, rootUri: `file://${folder}`, workspaceFolders: [{ uri: `file://${folder}`, name: 'quickstart' }] });
      const uri = `file://${join(folder, 'fib.py')}`;
      const text = 'def fib(n):\n    if n < 2:\n        return n\n    \n';
      client.open(uri, 'python', text);
      const res = await client.inline(uri, { line: 3, character: 4 }).result;
      expect(res.items[0].insertText).toContain('return fib(n - 1) + fib(n - 2)');
      // The same again after an edit: documents without trees take edits too.
      client.change(uri, 2, [{ range: { start: { line: 3, character: 4 }, end: { line: 3, character: 4 } }, text: 'x = 1\n    ' }]);
      const again = await client.inline(uri, { line: 4, character: 4 }).result;
      expect(again.items[0].insertText).toContain('return fib(n - 1) + fib(n - 2)');
      expect(client.stderr).not.toContain('syntax features off');
      const said = client.stderr.match(/^\[info\] [\w.]+: tree-sitter: its WebAssembly build stands in for the native binding \(.*\)$/gm) ?? [];
      expect(said.length).toBe(treeSitterLoads() ? 0 : 1);
    } finally {
      await client.stop();
    }
    expect(client.protocolErrors).toEqual([]);
  });
});
