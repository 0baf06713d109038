// @ts-check
// Shared by the robustness benchmarks (memory, soak, pathological): the machine line, the server under
// test with its own figures (tandem.stats) and the kernel's (/proc), real source documents, the reports.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BIN_ENV, BIN_NODE_FLAGS, LspClient } from '../test/lsp-client.js';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..');
export const MB = 2 ** 20;
export const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile; NaN for no samples. @param {number[]} xs @param {number} p */
export function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

export const fmtMB = (/** @type {number} */ bytes) => `${(bytes / MB).toFixed(1)} MB`;
export const fmtMs = (/** @type {number} */ ms) => (Number.isFinite(ms) ? `${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms` : '—');

/** `--name value` from the command line, else `fallback`. @param {string} name @param {string} [fallback] */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

/**
 * What the numbers were measured on: taken at the start, completed with the load at the end. The
 * machine is often shared, so its load average and uptime belong with every figure.
 */
export function machine() {
  const start = loadavg();
  const uptime = () => {
    try {
      return execFileSync('uptime', { encoding: 'utf8' }).trim();
    } catch {
      return 'uptime unavailable';
    }
  };
  const startUptime = uptime();
  const startedAt = new Date();
  const t0 = performance.now();
  return {
    /** The line that opens every report. */
    line() {
      const la = (/** @type {number[]} */ l) => l.map((x) => x.toFixed(2)).join(' / ');
      const c = cpus();
      return [
        `Machine: ${c.length} x ${c[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}.`,
        `Load average (1/5/15 min): ${la(start)} at start, ${la(loadavg())} at end. \`uptime\` at start: \`${startUptime}\`; at end: \`${uptime()}\`.`,
        `Started ${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')}, ran ${((performance.now() - t0) / 1000).toFixed(0)} s.`,
      ].join('\n');
    },
  };
}

/** VmRSS and VmHWM (peak) of a process from /proc/<pid>/status, in bytes; undefined off Linux. @param {number | undefined} pid */
export function procMemory(pid) {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (/** @type {string} */ key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { vmRssBytes: kb('VmRSS'), vmHwmBytes: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * @typedef {{ resolutionMs: number, samples: number, p50Ms: number, p99Ms: number, maxMs: number }} LoopFigures
 * @typedef {{ rssBytes: number, heapUsedBytes: number, eventLoop?: LoopFigures }} ProcessFigures
 * @typedef {{ requests: number, process: ProcessFigures, [k: string]: unknown }} StatsAnswer
 */

/**
 * A server over stdio, pointed at `backendUrl` (a fake vLLM) with its own empty config home and a
 * state directory (audit log, spend ledger) that `close()` removes.
 * `probe`: node also gets `--expose-gc` and bench/heapProbe.js (see `probe()`), besides the bin's own flags.
 * @param {{ backendUrl: string, loopMonitorMs?: number, workspace?: string, options?: Record<string, unknown>, capabilities?: unknown, env?: Record<string, string>, probe?: boolean }} o
 */
export async function startServer(o) {
  const home = mkdtempSync(join(tmpdir(), 'tandem-bench-home-'));
  // BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" (say): extra node flags for the server, after the bin's own.
  const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const client = new LspClient({
    ...(extra.length || o.probe ? { nodeArgs: [...BIN_NODE_FLAGS, ...(o.probe ? ['--expose-gc', '--import', pathUri(join(HERE, 'heapProbe.js'))] : []), ...extra] } : {}),
    env: {
      ...(extra.length || o.probe ? BIN_ENV : {}),
      TANDEM_CONFIG: '',
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_STATE_HOME: join(home, 'state'),
      ...(o.loopMonitorMs ? { TANDEM_LOOP_MONITOR_MS: String(o.loopMonitorMs) } : {}),
      ...o.env,
    },
  });
  // A server that dies (or is killed for being stuck) with messages still queued for it must end
  // in a report, not in the benchmark's own crash on EPIPE.
  client.child.stdin.on('error', () => undefined);
  const capabilities = o.capabilities ?? { textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } }, window: { workDoneProgress: true } };
  await client.initialize({
    initializationOptions: { backends: { fim: { kind: 'vllm', url: o.backendUrl } }, ...o.options },
    capabilities,
    ...(o.workspace ? { workspaceFolders: [{ uri: pathUri(o.workspace), name: 'bench' }] } : {}),
  });
  return {
    client,
    pid: /** @type {number} */ (client.child.pid),
    /** `[error]` lines the server wrote to stderr so far. */
    errorLines: () => client.stderr.split('\n').filter((l) => l.startsWith('[error]')),
    /** Stops the server (killed when it does not answer shutdown) and removes its home. */
    async close() {
      await client.stop();
      rmSync(home, { recursive: true, force: true });
    },
    /** Kills a server that is stuck rather than waiting for its shutdown answer. */
    async kill() {
      client.child.kill('SIGKILL');
      await client.exited;
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Asks a server started with `probe` for its heap's live size after two forced full collections
 * (and a heap snapshot when its environment names TANDEM_PROBE_SNAPSHOTS); resolves with what
 * bench/heapProbe.js printed.
 * @param {LspClient} client
 * @returns {Promise<{ k: number, gc: boolean, gcMs: number, heapUsedBefore: number, heapUsedAfter: number, heapTotalAfter: number, rssAfter: number, externalAfter: number, snapshot?: string }>}
 */
export async function probe(client) {
  const from = client.stderr.length;
  client.child.kill('SIGUSR2');
  for (let waited = 0; waited < 300_000; waited += 50) {
    const m = /^\[probe\] (\{.*\})\n/m.exec(client.stderr.slice(from));
    if (m) return JSON.parse(/** @type {string} */ (m[1]));
    await sleep(50);
  }
  throw new Error('the server did not answer the heap probe within 300 s');
}

/** @param {string} path */
export const pathUri = (path) => pathToFileURL(path).href;

/**
 * One `tandem.stats` call (which also starts a new event-loop period), its answer time, and the
 * kernel's view of the same process right after.
 * @param {LspClient} client
 * @returns {Promise<{ stats: StatsAnswer, ms: number, proc: ReturnType<typeof procMemory> }>}
 */
export async function stats(client) {
  const t = performance.now();
  const s = /** @type {StatsAnswer} */ (await client.request('workspace/executeCommand', { command: 'tandem.stats' }));
  const ms = performance.now() - t;
  if (!s || typeof s.process?.rssBytes !== 'number') throw new Error(`tandem.stats answered without process.rssBytes: ${JSON.stringify(s).slice(0, 200)}`);
  return { stats: s, ms, proc: procMemory(client.child.pid) };
}

/**
 * Polls tandem.stats once a second until `consecutive` samples in a row lie within `withinBytes` of
 * each other, or `capMs` passes (then `settled` is false).
 * @param {LspClient} client @param {{ withinBytes?: number, consecutive?: number, intervalMs?: number, capMs?: number }} [o]
 */
export async function settle(client, o = {}) {
  const { withinBytes = 2 * MB, consecutive = 3, intervalMs = 1000, capMs = 120_000 } = o;
  const t0 = performance.now();
  /** @type {Awaited<ReturnType<typeof stats>>[]} */
  const samples = [];
  for (;;) {
    samples.push(await stats(client));
    const last = samples.slice(-consecutive).map((s) => s.stats.process.rssBytes);
    if (last.length === consecutive && Math.max(...last) - Math.min(...last) <= withinBytes) return { settled: true, samples, ms: performance.now() - t0 };
    if (performance.now() - t0 > capMs) return { settled: false, samples, ms: performance.now() - t0 };
    await sleep(intervalMs);
  }
}

/** Least-squares slope of ys over xs (units of y per unit of x). @param {number[]} xs @param {number[]} ys */
export function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

// Grammars the server has (server/src/syntax/languages.ts): files of other kinds are not documents here.
const LANGUAGE_BY_EXT = /** @type {Record<string, string>} */ ({
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'typescriptreact',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascript',
  '.py': 'python', '.pyi': 'python', '.go': 'go', '.rs': 'rust', '.java': 'java',
});
const EXT_BY_LANGUAGE = /** @type {Record<string, string>} */ ({ typescript: '.ts', typescriptreact: '.tsx', javascript: '.js', python: '.py', go: '.go', rust: '.rs', java: '.java' });
// Generated, vendored or minified code is not what people edit.
const SKIP_DIRS = new Set(['.git', '.hg', '.svn', '.bin', '.cache', '.vite', 'coverage', '__pycache__']);
const LONGEST_LINE = 1000;
const MOST_LINES_PER_FILE = 3000;

/**
 * Real source files under `root` (following directory links once; node_modules included, as the
 * default corpus is node_modules itself), in path order: no declaration files, no minified ones,
 * none with a line over 1,000 characters or an inline source map, at most 3,000 lines of each.
 * @param {string} root
 * @returns {{ path: string, languageId: string, lines: string[] }[]}
 */
export function realSources(root) {
  /** @type {{ path: string, languageId: string, lines: string[] }[]} */
  const out = [];
  const seen = new Set();
  /** @param {string} dir */
  const walk = (dir) => {
    let real;
    try {
      real = realpathSync(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name)) walk(p);
        continue;
      }
      const languageId = LANGUAGE_BY_EXT[extname(name).toLowerCase()];
      if (!languageId || /\.d\.[mc]?ts$|\.min\.js$/.test(name) || !st.isFile() || st.size === 0 || st.size > 2 * MB) continue;
      const text = readFileSync(p, 'utf8');
      if (text.includes('\u0000') || text.includes('sourceMappingURL=data:')) continue;
      const lines = text.split(/\r?\n/);
      if (lines.some((l) => l.length > LONGEST_LINE)) continue;
      out.push({ path: relative(root, p), languageId, lines: lines.slice(0, MOST_LINES_PER_FILE) });
    }
  };
  walk(root);
  return out;
}

/**
 * Whole lines of the installed packages' real JavaScript, in path order, up to `bytes` (the big
 * document of bench:pathological's case e and of bench/textEdit.js).
 * @param {number} bytes
 * @returns {string[]}
 */
export function realJavaScriptLines(bytes) {
  /** @type {string[]} */
  const lines = [];
  let size = 0;
  for (const s of realSources(NODE_MODULES)) {
    if (s.languageId !== 'javascript') continue;
    for (const l of s.lines) {
      lines.push(l);
      size += l.length + 1;
    }
    if (size >= bytes) break;
  }
  return lines;
}

/**
 * `count` documents of `lines` lines each, cut from the consecutive lines of real files of one
 * language at a time (languages take turns, so a mixed corpus gives mixed documents). When the
 * corpus holds fewer lines than asked, it is read again from its start; `wrapped` says from which
 * document on.
 * @param {ReturnType<typeof realSources>} sources @param {number} count @param {number} lines
 */
export function cutDocuments(sources, count, lines) {
  /** @type {Map<string, string[][]>} */
  const byLanguage = new Map();
  for (const s of sources) {
    const list = byLanguage.get(s.languageId) ?? [];
    list.push(s.lines);
    byLanguage.set(s.languageId, list);
  }
  // A stream of lines per language; one with fewer lines than a document is left out.
  const streams = [...byLanguage].map(([languageId, files]) => ({ languageId, all: files.flat(), at: 0 })).filter((s) => s.all.length >= lines);
  if (streams.length === 0) throw new Error(`no language has ${lines} lines of source in the corpus`);
  /** @type {{ languageId: string, ext: string, text: string }[]} */
  const docs = [];
  let wrapped = /** @type {number | undefined} */ (undefined);
  for (let i = 0; docs.length < count; i++) {
    // Languages with lines left take turns; once all are spent, they start over.
    let open = streams.filter((s) => s.at + lines <= s.all.length);
    if (open.length === 0) {
      wrapped ??= docs.length;
      for (const s of streams) s.at = 0;
      open = streams;
    }
    const s = /** @type {typeof streams[number]} */ (open[i % open.length]);
    docs.push({ languageId: s.languageId, ext: EXT_BY_LANGUAGE[s.languageId] ?? '.txt', text: `${s.all.slice(s.at, s.at + lines).join('\n')}\n` });
    s.at += lines;
  }
  const corpusLines = streams.reduce((n, s) => n + s.all.length, 0);
  return { docs, wrapped, corpusLines, languages: streams.map((s) => `${s.languageId} ${s.all.length.toLocaleString('en-US')} lines`).join(', ') };
}

/** The default corpus: the packages installed in node_modules (their .js/.ts sources). */
export const NODE_MODULES = join(ROOT, 'node_modules');

/** A fresh temporary directory; `remove()` deletes it. @param {string} prefix */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Prints the report and writes it to bench/out/<name>.md (ignored by git). @param {string} name @param {string} md */
export function writeReport(name, md) {
  mkdirSync(join(HERE, 'out'), { recursive: true });
  const file = join(HERE, 'out', `${name}.md`);
  writeFileSync(file, md.endsWith('\n') ? md : `${md}\n`);
  process.stdout.write(md.endsWith('\n') ? md : `${md}\n`);
  process.stdout.write(`(written to ${relative(ROOT, file)})\n`);
}

/** Deterministic pseudo-random numbers (mulberry32), so runs with the same seed do the same things. @param {number} seed */
export function random(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [lo, hi]. @param {number} lo @param {number} hi */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    /** @template T @param {T[]} xs @returns {T} */
    pick: (xs) => /** @type {any} */ (xs[Math.floor(next() * xs.length)]),
  };
}

/**
 * Runs a benchmark's main (which resolves with its exit code: 1 when a target is missed) and exits:
 * test/lsp-client.js leaves a 10 s timer behind each stop, which would hold the process otherwise.
 * @param {string} name @param {() => Promise<number>} main
 */
export function runBench(name, main) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${name} failed: ${err && err.stack ? err.stack : err}\n`);
      process.exit(2);
    },
  );
}
