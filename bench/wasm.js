// @ts-check
// `npm run bench:wasm`: web-tree-sitter (tree-sitter compiled to WebAssembly, the grammars' own
// .wasm files) against the native binding (`tree-sitter`, a compiled addon), on the parse work
// tandem does: the idle re-parse after a one-character edit and the full parse of a 10,000-line
// file, the syntax check's parses of a completion merged into its block, the tag extraction of
// one file (the index's query plus its tree walks: `TagExtractor.extract`, run on either tree),
// the longest a parse holds the event loop in 1 ms slices (normal and pathological text), and the
// index's per-file work (parse + extract) over a generated workspace (bench/context.js's
// generator, TS/Python/Go). Both bindings run in this one process, in alternating rounds, so the
// machine's load falls on both alike. Prints Markdown (ratios wasm / native) with `uptime`.
//
//   node bench/wasm.js [--files 1000] [--rounds 5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bigFile } from './bigFile.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const require = createRequire(import.meta.url);
const { TagExtractor } = await import('../server/out/context/tags.js');
const { QUERIES } = await import('../server/out/context/tags.js');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const FILES = arg('--files', 1000);
const ROUNDS = arg('--rounds', 5);

/** @param {number[]} xs @param {number} p */
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const med = (/** @type {number[]} */ xs) => pct(xs, 50);

/** Every file under `dir`. @param {string} dir @returns {string[]} */
function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

// ---- the two bindings behind one small interface -------------------------------------------

/** @typedef {'typescript'|'python'|'go'} Lang */
const GRAMMAR_WASM = {
  typescript: require.resolve('tree-sitter-typescript/tree-sitter-typescript.wasm'),
  python: require.resolve('tree-sitter-python/tree-sitter-python.wasm'),
  go: require.resolve('tree-sitter-go/tree-sitter-go.wasm'),
};

async function nativeBinding() {
  const t = performance.now();
  const Parser = require('tree-sitter');
  const langs = { typescript: require('tree-sitter-typescript').typescript, python: require('tree-sitter-python'), go: require('tree-sitter-go') };
  const parsers = {}, queries = {};
  for (const [k, l] of Object.entries(langs)) {
    parsers[k] = new Parser();
    parsers[k].setLanguage(l);
    const q = new Parser.Query(l, QUERIES[k]);
    // The shape syntax/binding.ts gives TagExtractor: matches within a time limit in ms.
    queries[k] = { matches: (node, ms) => q.matches(node, { timeoutMicros: ms * 1000 }) };
  }
  return {
    name: 'native',
    loadMs: performance.now() - t,
    /** @param {Lang} lang @param {string} text @param {any} [old] @param {number} [sliceMs] */
    parse(lang, text, old, sliceMs) {
      const p = parsers[lang];
      p.setTimeoutMicros(sliceMs ? Math.round(sliceMs * 1000) : 0);
      return p.parse(text, old ?? null, { bufferSize: 32 * 1024 }) ?? null;
    },
    reset: (/** @type {Lang} */ lang) => parsers[lang].reset(),
    queries,
    free() {},
  };
}

async function wasmBinding() {
  const t = performance.now();
  // BENCH_WEB_TREE_SITTER: another web-tree-sitter's entry file, to compare its versions.
  const { Parser, Language, Query } = await import(process.env.BENCH_WEB_TREE_SITTER ? pathToFileURL(process.env.BENCH_WEB_TREE_SITTER).href : 'web-tree-sitter');
  await Parser.init();
  const parsers = {}, queries = {};
  for (const [k, file] of Object.entries(GRAMMAR_WASM)) {
    const l = await Language.load(readFileSync(file));
    parsers[k] = new Parser();
    parsers[k].setLanguage(l);
    const q = new Query(l, QUERIES[k]);
    queries[k] = {
      matches(node, ms) {
        const until = performance.now() + ms;
        return q.matches(node, { progressCallback: () => performance.now() >= until });
      },
    };
  }
  return {
    name: 'wasm',
    loadMs: performance.now() - t,
    /** @param {Lang} lang @param {string} text @param {any} [old] @param {number} [sliceMs] */
    parse(lang, text, old, sliceMs) {
      // No timeout option since 0.25: the progress callback, asked every so many operations, halts it.
      const until = sliceMs ? performance.now() + sliceMs : 0;
      return parsers[lang].parse(text, old ?? null, sliceMs ? { progressCallback: () => performance.now() >= until } : undefined) ?? null;
    },
    reset: (/** @type {Lang} */ lang) => parsers[lang].reset(),
    queries,
    /** WebAssembly trees live in the module's linear memory: freed by hand (or by a finalizer later). */
    free: (/** @type {any} */ tree) => tree?.delete(),
  };
}

// ---- inputs ----------------------------------------------------------------------------------


/** tandem's own sources, concatenated to about `lines` lines: real code rather than repeats. */
function realFile(lines) {
  const out = [];
  for (const f of listFiles(join(ROOT, 'server', 'src')).filter((f) => f.endsWith('.ts')).sort()) {
    out.push(...readFileSync(f, 'utf8').split('\n'));
    if (out.length >= lines) break;
  }
  return out.slice(0, lines).join('\n');
}

/** An edit in the units tree.edit takes: `ch` inserted at `at`. */
function insertEdit(text, at, ch) {
  const before = text.slice(0, at);
  const row = before.split('\n').length - 1;
  const column = at - before.lastIndexOf('\n') - 1;
  return { startIndex: at, oldEndIndex: at, newEndIndex: at + ch.length, startPosition: { row, column }, oldEndPosition: { row, column }, newEndPosition: { row, column: column + ch.length } };
}

// ---- measurements ----------------------------------------------------------------------------

/** Full parse and incremental re-parse after a 1-char edit (median of `n` each). */
function parses(b, text, n) {
  const full = [], incr = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    const tree = b.parse('typescript', text);
    full.push(performance.now() - t);
    // A character typed in the middle of the file, the tree edited, then the idle re-parse.
    const at = text.indexOf('\n', Math.floor(text.length / 2) + i * 97) + 1;
    const next = text.slice(0, at) + 'x' + text.slice(at);
    tree.edit(insertEdit(text, at, 'x'));
    t = performance.now();
    const again = b.parse('typescript', next, tree);
    incr.push(performance.now() - t);
    b.free(again);
    b.free(tree);
  }
  return { full: med(full), incr: med(incr) };
}

/**
 * The syntax check: a completion merged into its block (a top-level declaration, ~40 lines of real
 * code) and parsed whole, three variants per check as syntaxCheck.ts does at most.
 */
function syntaxChecks(b, blocks, n) {
  const per = [];
  for (let i = 0; i < n; i++) {
    const block = blocks[i % blocks.length];
    const cut = Math.floor(block.length / 2);
    const variants = [block.slice(0, cut) + 'const value = compute(a, b);\n' + block.slice(cut), block.slice(0, cut) + 'if (ready) {\n  go();\n' + block.slice(cut), block.slice(0, cut) + 'if (ready) {\n  go();\n}\n' + block.slice(cut)];
    const t = performance.now();
    for (const v of variants) {
      const tree = b.parse('typescript', v);
      tree.rootNode.hasError;
      b.free(tree);
    }
    per.push(performance.now() - t);
  }
  return med(per);
}

/** TagExtractor.extract (query + walks) on a tree of `b`, the query given by `b`. */
function extractor(b) {
  const ex = new TagExtractor();
  // The extractor compiles its queries on first use from the native grammar; hand it `b`'s.
  for (const [lang, q] of Object.entries(b.queries)) /** @type {any} */ (ex).queries.set(lang, q);
  return ex;
}

function tags(b, text, n) {
  const ex = extractor(b);
  const tree = b.parse('typescript', text);
  const ms = [];
  let defs = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    defs = ex.extract(tree, 'typescript', text).symbols.length;
    ms.push(performance.now() - t);
  }
  b.free(tree);
  return { ms: med(ms), defs };
}

/** A parse in 1 ms slices, as the ParseService runs one: how many slices and the longest. */
function sliced(b, lang, text) {
  let tree = null, slices = 0, longest = 0;
  const t0 = performance.now();
  while (!tree) {
    const t = performance.now();
    tree = b.parse(lang, text, undefined, 1);
    longest = Math.max(longest, performance.now() - t);
    slices++;
    if (performance.now() - t0 > 20_000) {
      b.reset(lang);
      break;
    }
  }
  const total = performance.now() - t0;
  b.free(tree);
  return { slices, longest, total, done: !!tree };
}

/** The index's per-file work on a generated workspace: parse, then extract; ms in all. */
function indexWork(b, files) {
  const ex = extractor(b);
  let defs = 0;
  const t = performance.now();
  for (const { lang, text } of files) {
    const tree = b.parse(lang, text);
    defs += ex.extract(tree, lang, text).symbols.length;
    b.free(tree);
  }
  return { ms: performance.now() - t, defs };
}

// ---- main ----------------------------------------------------------------------------------

const uptime = () => spawnSync('uptime', { encoding: 'utf8' }).stdout.trim();

/**
 * Resident memory in a fresh process with one binding: after loading it, with trees held for
 * 1,000,000 characters (TreeRetention's cap: two 10,000-line files), and after they are freed.
 * WebAssembly trees live in the module's linear memory, which grows and never shrinks.
 */
async function memory(which) {
  const rss = () => process.memoryUsage().rss / 2 ** 20;
  const base = rss();
  const b = which === 'wasm' ? await wasmBinding() : await nativeBinding();
  const loaded = rss();
  const real = realFile(10_000);
  const trees = [];
  for (let chars = 0; chars + real.length <= 1_000_000; chars += real.length) trees.push(b.parse('typescript', real + `\n// ${chars}\n`));
  const held = rss();
  for (const t of trees) b.free(t);
  trees.length = 0;
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 50));
  globalThis.gc?.();
  const freed = rss();
  process.stdout.write(JSON.stringify({ base, loaded, held, freed, chars: real.length }) + '\n');
}

function memoryOf(which) {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--memory', which], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

async function main() {
  if (process.argv[2] === '--memory') return memory(process.argv[3]);
  const loadBefore = uptime();
  const wasm = await wasmBinding();
  const native = await nativeBinding();
  const both = [native, wasm];

  const big = bigFile(10_000);
  const real = realFile(10_000);
  // Blocks for the syntax check: top-level declarations of tandem's own code, 20-60 lines.
  const blocks = [];
  for (const m of real.matchAll(/^(export )?(async )?(function|class) [\s\S]*?\n\}\n/gm)) {
    const lines = m[0].split('\n').length;
    if (lines >= 20 && lines <= 60) blocks.push(m[0]);
    if (blocks.length >= 20) break;
  }
  // Pathological: an unclosed `((((` before 200 kB of code sends tree-sitter into error recovery.
  const patho = '('.repeat(2000) + real.slice(0, 200_000);

  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-wasm-'));
  let workspace;
  try {
    const g = spawnSync(process.execPath, [join(HERE, 'context.js'), '--generate', dir, String(FILES)], { encoding: 'utf8' });
    if (g.status !== 0) throw new Error(g.stderr);
    const byExt = { '.ts': 'typescript', '.py': 'python', '.go': 'go' };
    workspace = listFiles(dir).filter((f) => byExt[extname(f)]).map((f) => ({ lang: byExt[extname(f)], text: readFileSync(f, 'utf8') }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const wsBytes = workspace.reduce((s, f) => s + f.text.length, 0);

  /** @type {Record<string, Record<string, number[]>>} */
  const r = { native: {}, wasm: {} };
  const put = (b, k, v) => (r[b.name][k] ??= []).push(v);
  let defs = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const b of round % 2 ? [...both].reverse() : both) {
      const p = parses(b, big, 5);
      put(b, 'full', p.full);
      put(b, 'incr', p.incr);
      const q = parses(b, real, 5);
      put(b, 'fullReal', q.full);
      put(b, 'incrReal', q.incr);
      put(b, 'check', syntaxChecks(b, blocks, 20));
      const t = tags(b, real, 5);
      put(b, 'tags', t.ms);
      defs[`tags-${b.name}`] = t.defs;
      const s = sliced(b, 'typescript', real);
      put(b, 'sliceMax', s.longest);
      put(b, 'slicedTotal', s.total);
      const sp = sliced(b, 'typescript', patho);
      put(b, 'pathoSliceMax', sp.longest);
      put(b, 'pathoTotal', sp.total);
      const w = indexWork(b, workspace);
      put(b, 'index', w.ms);
      defs[`index-${b.name}`] = w.defs;
    }
  }
  const mem = { native: memoryOf('native'), wasm: memoryOf('wasm') };
  const loadAfter = uptime();
  const m = (b, k) => med(r[b][k]);
  const mx = (b, k) => Math.max(...r[b][k]);
  const row = (what, k, unit = 'ms', f = m) => `| ${what} | ${f('native', k).toFixed(2)} ${unit} | ${f('wasm', k).toFixed(2)} ${unit} | ${(f('wasm', k) / f('native', k)).toFixed(2)} |`;
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const wasmVersion = JSON.parse(readFileSync(join(dirname(process.env.BENCH_WEB_TREE_SITTER ?? require.resolve('web-tree-sitter')), 'package.json'), 'utf8')).version;
  const nativeVersion = require('tree-sitter/package.json').version;
  const lines = [
    `Machine: ${machine}. ${new Date().toISOString().slice(0, 10)}. tree-sitter ${nativeVersion} (native) vs web-tree-sitter ${wasmVersion} with the grammar packages' own .wasm files. Medians of ${ROUNDS} alternating rounds (each a median of 5-20 runs); "max" rows the highest over the rounds.`,
    `Load: before \`${loadBefore}\`; after \`${loadAfter}\`.`,
    '',
    '| work | native | wasm | wasm / native |',
    '|---|---|---|---|',
    row('load binding + 3 grammars + queries (once per process/worker)', 'load', 'ms', (b) => (b === 'native' ? native : wasm).loadMs),
    row('full parse, 10,000-line file (bench/bigFile.js, 300 kB)', 'full'),
    row(`full parse, 10,000 lines of tandem's own code (${(real.length / 1000).toFixed(0)} kB)`, 'fullReal'),
    row('re-parse after a 1-char edit, bigFile (the idle re-parse)', 'incr'),
    row('re-parse after a 1-char edit, own code', 'incrReal'),
    row(`syntax check: 3 parses of a completion merged into a 20-60-line block (${blocks.length} blocks)`, 'check'),
    row(`tag extraction (query + walks) of the 10,000-line own-code file (${defs['tags-native']} / ${defs['tags-wasm']} definitions)`, 'tags'),
    row('longest 1 ms slice of a sliced parse, own code, max', 'sliceMax', 'ms', mx),
    row('sliced parse of own code, total', 'slicedTotal'),
    row('longest 1 ms slice, pathological (2,000 × `(` + 200 kB), max', 'pathoSliceMax', 'ms', mx),
    row('sliced pathological parse, total', 'pathoTotal'),
    `| resident memory: binding + 3 grammars loaded, over a bare process | ${(mem.native.loaded - mem.native.base).toFixed(0)} MiB | ${(mem.wasm.loaded - mem.wasm.base).toFixed(0)} MiB | ${((mem.wasm.loaded - mem.wasm.base) / (mem.native.loaded - mem.native.base)).toFixed(2)} |`,
    `| resident memory: trees held for 1,000,000 characters (2 × own code) | ${(mem.native.held - mem.native.loaded).toFixed(0)} MiB | ${(mem.wasm.held - mem.wasm.loaded).toFixed(0)} MiB | ${((mem.wasm.held - mem.wasm.loaded) / (mem.native.held - mem.native.loaded)).toFixed(2)} |`,
    `| resident memory: after those trees are freed (over loaded) | ${(mem.native.freed - mem.native.loaded).toFixed(0)} MiB | ${(mem.wasm.freed - mem.wasm.loaded).toFixed(0)} MiB | — |`,
    row(`index work: parse + extract of ${workspace.length} generated files (${(wsBytes / 2 ** 20).toFixed(1)} MiB TS/Python/Go; ${defs['index-native']} / ${defs['index-wasm']} definitions)`, 'index'),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench:wasm failed: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
