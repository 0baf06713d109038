// @ts-check
// `npm run bench:cli -- [--repo DIR --target FILE:LINE:COL] [--files N] [--runs N]`: the wall time of
// one-shot `tandem-lsp prompt --json` and `tandem-lsp complete` processes (Node's start-up included,
// the bin run as a command so its shebang's flags apply), first with an empty state directory (the
// whole workspace indexed, then saved), then with the index saved by the run before (only changed
// files re-read); and `tandem-lsp --version`, the floor every command pays for Node and tandem's
// modules. `complete` asks the loopback fake vLLM (test/fake/vllm.js), which answers at once.
// Without --repo, a workspace of N (default 500) files is generated (TypeScript, Python and Go
// copies of test/fixtures/context, as `bench/context.js --generate` writes them).
// Prints Markdown and writes bench/out/coldCli.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const { startFakeVllm } = await import('../test/fake/vllm.js');
const { BIN } = await import('../test/lsp-client.js');

/** @param {string[]} argv */
function parseCli(argv) {
  const { values } = parseArgs({ args: argv, options: { repo: { type: 'string' }, target: { type: 'string' }, files: { type: 'string', default: '500' }, runs: { type: 'string', default: '7' } } });
  if (values.repo && !values.target) throw new Error('--repo needs --target FILE:LINE:COL (a place to complete in it)');
  return { repo: values.repo ? resolve(values.repo) : undefined, target: values.target, files: Number(values.files), runs: Number(values.runs) };
}

/**
 * Runs the bin once; resolves with its wall time (spawn to exit, on this process's clock), exit
 * status and parsed JSON output.
 * @param {string[]} args @param {Record<string, string>} env
 */
function timed(args, env) {
  return new Promise((resolvePromise, reject) => {
    const t = performance.now();
    const child = spawn(BIN, args, { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t;
      if (code !== 0) return reject(new Error(`tandem-lsp ${args.join(' ')} exited ${code}: ${err}`));
      let json;
      try {
        json = args.includes('--json') ? JSON.parse(out) : undefined;
      } catch {
        json = undefined;
      }
      resolvePromise({ ms, json });
    });
  });
}

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** @param {string} dir */
function countSources(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === '.git') continue;
    if (e.isDirectory()) n += countSources(join(dir, e.name));
    else if (/\.(ts|tsx|mts|cts|js|jsx|mjs|cjs|py|pyi|go|rs|java)$/.test(e.name)) n++;
  }
  return n;
}

async function main() {
  const args = parseCli(process.argv.slice(2));
  const tmp = mkdtempSync(join(tmpdir(), 'tandem-bench-cli-'));
  const fake = await startFakeVllm({ respond: () => ({ text: 'x' }) });
  try {
    let repo = args.repo;
    let target = args.target;
    if (!repo) {
      repo = join(tmp, 'ws');
      mkdirSync(join(repo, '.git'), { recursive: true });
      const r = spawnSync(process.execPath, [join(HERE, 'context.js'), '--generate', repo, String(args.files)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      target = `${join(repo, 'ts0', 'src', 'orders.ts')}:12:1`;
    }
    const config = join(tmp, 'config.json');
    writeFileSync(config, JSON.stringify({ backends: { fim: { kind: 'vllm', url: fake.url, model: 'Qwen/Qwen2.5-Coder-7B', maxContextTokens: 32768 } } }));
    const env = { XDG_CONFIG_HOME: join(tmp, 'config'), XDG_STATE_HOME: join(tmp, 'state'), TANDEM_CONFIG: '', TANDEM_LOG: '' };
    const promptArgs = ['prompt', /** @type {string} */ (target), '--workspace', repo, '--config', config, '--json'];
    const completeArgs = ['complete', /** @type {string} */ (target), '--workspace', repo, '--config', config, '--json'];
    const load = loadavg().map((x) => x.toFixed(2)).join(', ');

    /** @type {number[]} */
    const version = [];
    for (let i = 0; i < args.runs; i++) version.push((/** @type {any} */ (await timed(['--version'], env))).ms);
    /** @type {{prompt: number[], complete: number[], promptIndex: any[], completeIndex: any[]}} */
    const cold = { prompt: [], complete: [], promptIndex: [], completeIndex: [] };
    /** @type {{prompt: number[], complete: number[], promptIndex: any[]}} */
    const warm = { prompt: [], complete: [], promptIndex: [] };
    for (let i = 0; i < Math.max(1, Math.floor(args.runs / 2)); i++) {
      // Cold: no saved index (each run starts from an empty state directory).
      rmSync(env.XDG_STATE_HOME, { recursive: true, force: true });
      const p = /** @type {any} */ (await timed(promptArgs, env));
      cold.prompt.push(p.ms);
      cold.promptIndex.push(p.json.index);
      rmSync(env.XDG_STATE_HOME, { recursive: true, force: true });
      cold.complete.push((/** @type {any} */ (await timed(completeArgs, env))).ms);
    }
    // Warm: the index the last cold run saved.
    for (let i = 0; i < args.runs; i++) {
      const p = /** @type {any} */ (await timed(promptArgs, env));
      warm.prompt.push(p.ms);
      warm.promptIndex.push(p.json.index);
      warm.complete.push((/** @type {any} */ (await timed(completeArgs, env))).ms);
    }
    const loadAfter = loadavg().map((x) => x.toFixed(2)).join(', ');
    const files = countSources(repo);
    const idx = warm.promptIndex.at(-1);
    const fmt = (/** @type {number[]} */ xs) => `${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
    const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
    const name = args.repo ? repo : `generated ${files}-file workspace`;
    const lines = [
      `Machine: ${machine}; load average (1, 5, 15 min) ${load} before, ${loadAfter} after. ${new Date().toISOString().slice(0, 10)}. Workspace: ${name} (${files} source files, ${idx?.files ?? '?'} indexed); target ${relative(repo, /** @type {string} */ (target))}. Wall time of the whole process, spawn to exit; median of ${args.runs} (cold: ${cold.prompt.length}).`,
      '',
      '| command | cold (no saved index) | warm (saved index) | target (warm) |',
      '|---|---|---|---|',
      `| \`tandem-lsp --version\` (Node + modules) | ${fmt(version)} | | |`,
      `| \`tandem-lsp prompt --json\` | ${fmt(cold.prompt)} | ${fmt(warm.prompt)} | ≤ 700 ms: ${median(warm.prompt) <= 700 ? 'met' : 'MISSED'} |`,
      `| \`tandem-lsp complete --json\` (fake vLLM) | ${fmt(cold.complete)} | ${fmt(warm.complete)} | ≤ 700 ms: ${median(warm.complete) <= 700 ? 'met' : 'MISSED'} |`,
      `| files read / from the saved index | ${cold.promptIndex[0]?.read} / ${cold.promptIndex[0]?.fromCache} | ${idx?.read} / ${idx?.fromCache} | |`,
    ];
    const md = lines.join('\n') + '\n';
    mkdirSync(join(HERE, 'out'), { recursive: true });
    writeFileSync(join(HERE, 'out', 'coldCli.md'), md);
    process.stdout.write(md);
  } finally {
    await fake.close();
    if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:cli failed: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
