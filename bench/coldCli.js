// @ts-check
// `npm run bench:cli -- [--repo DIR --target FILE:LINE:COL] [--files N] [--runs N]`: the wall time of
// one-shot `tandem-lsp prompt --json` and `tandem-lsp complete` processes (Node's start-up included,
// the bin run as a command so its shebang's flags apply), first with an empty state directory (the
// whole workspace indexed, then saved), then with the index saved by the run before (only changed
// files re-read); and `tandem-lsp --version`, the floor every command pays for Node and tandem's
// modules. `complete` asks the loopback fake vLLM (test/fake/vllm.js), which answers at once.
// Without --repo, a workspace of N (default 500) files is generated (TypeScript, Python and Go
// copies of test/fixtures/context, as `bench/context.js --generate` writes them).
// `--baseline BIN` also times another build's bin on the same workspace (e.g. main's, which keeps
// no index on disk). Prints Markdown and writes bench/out/coldCli.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const { startFakeVllm } = await import('../test/fake/vllm.js');
const { BIN, BIN_ENV, BIN_NODE_FLAGS } = await import('../test/lsp-client.js');

/**
 * Loaded before the bin: on exit, the process's CPU time (user + system, all threads) goes to fd 3.
 * CPU time is what a loaded machine changes least: on an idle one, wall time comes close to it.
 */
const CPU_PROBE = `data:text/javascript,${encodeURIComponent('import { writeSync } from "node:fs"; process.on("exit", () => { const u = process.cpuUsage(); try { writeSync(3, String((u.user + u.system) / 1000)); } catch {} });')}`;

/** @param {string[]} argv */
function parseCli(argv) {
  const { values } = parseArgs({ args: argv, options: { repo: { type: 'string' }, target: { type: 'string' }, files: { type: 'string', default: '500' }, runs: { type: 'string', default: '7' }, baseline: { type: 'string' } } });
  if (values.repo && !values.target) throw new Error('--repo needs --target FILE:LINE:COL (a place to complete in it)');
  return { repo: values.repo ? resolve(values.repo) : undefined, target: values.target, files: Number(values.files), runs: Number(values.runs), baseline: values.baseline ? resolve(values.baseline) : undefined };
}

/**
 * Runs the bin (or `bin`) once; resolves with its wall time (spawn to exit, on this process's clock), exit
 * status and parsed JSON output.
 * @param {string[]} args @param {Record<string, string>} env
 */
function timed(args, env, bin = BIN) {
  return new Promise((resolvePromise, reject) => {
    const t = performance.now();
    // As the bin's shebang starts it (its environment and node flags), plus the CPU probe.
    const child = spawn(process.execPath, [...BIN_NODE_FLAGS, '--import', CPU_PROBE, bin, ...args], { env: { ...process.env, ...BIN_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let cpu = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (err += d));
    /** @type {import('node:stream').Readable} */ (child.stdio[3]).on('data', (d) => (cpu += d));
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
      resolvePromise({ ms, cpuMs: Number(cpu), json });
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

    /** @typedef {{ms: number, cpuMs: number, json?: any}} Run */
    const many = async (/** @type {number} */ n, /** @type {() => Promise<Run>} */ once) => {
      /** @type {Run[]} */
      const out = [];
      for (let i = 0; i < n; i++) out.push(await once());
      return out;
    };
    const coldRuns = Math.max(1, Math.floor(args.runs / 2));
    const freshState = () => rmSync(env.XDG_STATE_HOME, { recursive: true, force: true });
    const version = await many(args.runs, () => timed(['--version'], env));
    // Cold: each run starts from an empty state directory (the whole workspace read, then saved).
    const coldPrompt = await many(coldRuns, () => (freshState(), timed(promptArgs, env)));
    const coldComplete = await many(coldRuns, () => (freshState(), timed(completeArgs, env)));
    // Warm: the index the run before saved.
    const warmPrompt = await many(args.runs, () => timed(promptArgs, env));
    const warmComplete = await many(args.runs, () => timed(completeArgs, env));
    // Another build's bin (e.g. one without the saved index), same workspace, same minutes.
    const baseline = args.baseline ? await many(coldRuns, () => timed(promptArgs, env, args.baseline)) : [];
    const loadAfter = loadavg().map((x) => x.toFixed(2)).join(', ');
    const files = countSources(repo);
    const idx = warmPrompt.at(-1)?.json?.index;
    const coldIdx = coldPrompt[0]?.json?.index;
    const fmt = (/** @type {Run[]} */ rs) => {
      const ms = rs.map((r) => r.ms);
      return `${median(ms).toFixed(0)} ms (${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)}); CPU ${median(rs.map((r) => r.cpuMs)).toFixed(0)} ms`;
    };
    const verdict = (/** @type {Run[]} */ rs) => `≤ 700 ms: ${median(rs.map((r) => r.ms)) <= 700 ? 'met' : 'MISSED'}`;
    const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
    const name = args.repo ? repo : `generated ${files}-file workspace`;
    const lines = [
      `Machine: ${machine}; load average (1, 5, 15 min) ${load} before, ${loadAfter} after. ${new Date().toISOString().slice(0, 10)}. Workspace: ${name} (${files} source files, ${idx?.files ?? '?'} indexed); target ${relative(repo, /** @type {string} */ (target))}. Wall time of the whole process, spawn to exit, median (range) of ${args.runs} (cold: ${coldRuns}); CPU: the process's user + system time, all threads (median).`,
      '',
      '| command | cold (no saved index) | warm (saved index) | target (warm, wall) |',
      '|---|---|---|---|',
      `| \`tandem-lsp --version\` (Node + modules) | ${fmt(version)} | | |`,
      `| \`tandem-lsp prompt --json\` | ${fmt(coldPrompt)} | ${fmt(warmPrompt)} | ${verdict(warmPrompt)} |`,
      `| \`tandem-lsp complete --json\` (fake vLLM) | ${fmt(coldComplete)} | ${fmt(warmComplete)} | ${verdict(warmComplete)} |`,
      ...(args.baseline ? [`| \`prompt --json\` of ${args.baseline} | ${fmt(baseline)} | | |`] : []),
      `| files read / from the saved index | ${coldIdx?.read} / ${coldIdx?.fromCache} | ${idx?.read} / ${idx?.fromCache} | |`,
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
