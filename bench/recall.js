// @ts-check
// `npm run bench:recall -- --repo DIR --lang ts|py|go`: how often the prompt holds the parameter list
// of the function a call site calls, on a real repository, in a long-lived server and in cold CLI
// processes, at several context budgets, with the time the context stage took per request.
//
// Holes (built from the repository's own files with the project's tree-sitter grammars, files in
// path order, then a seeded sample):
// - a call `name(` or `x.name(` in file F whose callee `name` is a function or method defined (with a
//   body) in another file of the repository, and not in F itself (a call in F then most likely means
//   F's own definition);
// - every definition of `name` outside F has the same parameter list once whitespace is normalised
//   (several different ones: the gold is unclear, the hole is skipped), with at least one parameter
//   besides self/cls (an empty list is in every prompt);
// - a member call whose name is also a method of the language's standard library (`x.get(`,
//   `s.split(`, `err.Error(`) is skipped: a workspace definition of that name is not what it calls;
// - one hole per (file, callee): its first call in the file;
// - the call can reach a definition of the repository (the hole is skipped otherwise, counted apart):
//   a bare call `name(` in TypeScript or Python needs `name` imported (or a star import): else it is
//   a global, a builtin or a parameter (`setTimeout(`, `start_response(`); a name imported from a
//   module outside the repository (a Node builtin, a package that is not a workspace one, Python's
//   standard library, a Go package outside the repository's modules) is that module's, and so is a
//   member call whose receiver chain starts at such an import (`xml.NewEncoder(w).Encode(`,
//   `Window.showErrorMessage(`); and a bare call reaches only module-level definitions, never a
//   function nested in another one's body (another file cannot name it).
// The document is the file with the rest of the call's line cut after `(` (the user is typing the
// arguments); the cursor is right after the `(`. Hit: the prompt's cross-file part (everything but
// the current file's own section) holds the parameter list, whitespace-normalised.
//
// Modes: `server` runs `tandem-lsp --stdio` over LSP (test/lsp-client.js) against the fake vLLM
// (test/fake/vllm.js records each prompt), one server per budget, after its index is built; each
// hole's document is opened, parsed (a code-action listing parses a document without a tree), then
// edited to the hole and completed; the context time is the server's own debug line. `cli` runs one
// cold `tandem-lsp prompt --json` process per hole and budget (the hole written into the file, put
// back afterwards) on a sample of the holes; the context time is its `contextMs`. Beside each wall time
// the process's CPU time meanwhile (`contextCpuMs`, the debug line's `cpu`): on a loaded machine the
// difference is time the process waited for a core.
//
// `--load K` runs K CPU hogs meanwhile (stress-ng --cpu K if installed, else node busy loops).
// Writes bench/out/recall/<repo>-<mode>-<load>.json; `--report [DIR]` prints every such file (of DIR) as tables.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { walk } from './walk.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT_DIR = join(HERE, 'out', 'recall');
const { ParseService } = await import('../server/out/syntax/tree.js');
const { startFakeVllm } = await import('../test/fake/vllm.js');
const { LspClient, BIN } = await import('../test/lsp-client.js');

const LANGS = {
  ts: { exts: ['.ts', '.tsx', '.mts', '.cts'], languageId: (/** @type {string} */ f) => (f.endsWith('.tsx') ? 'typescriptreact' : 'typescript') },
  py: { exts: ['.py'], languageId: () => 'python' },
  go: { exts: ['.go'], languageId: () => 'go' },
};

/** Methods of each language's standard library: a member call of one of these names is not a hole. */
const LIBRARY_MEMBERS = {
  ts: 'set get has delete clear add push pop shift unshift slice splice concat join split map filter reduce find findIndex some every forEach includes indexOf lastIndexOf sort reverse keys values entries test exec match replace replaceAll trim trimStart trimEnd startsWith endsWith padStart padEnd toString parse stringify then catch finally resolve reject log debug info warn error trace write end on once off emit abort close open read next return throw apply call bind assign freeze now at flat flatMap fill from of isArray dispose fire toJSON',
  py: 'get set items keys values append extend insert pop remove update copy format strip lstrip rstrip split rsplit join lower upper startswith endswith encode decode read write close open replace find index count sort add discard clear setdefault group match search sub fullmatch',
  go: 'Println Printf Sprintf Errorf Error String Len Lock Unlock RLock RUnlock Done Wait Add Get Set Del Write Read Close Fatal Fatalf Helper Run Equal Cleanup Logf Log Skip Parallel',
};

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {{repo?: string, lang?: 'ts'|'py'|'go', holes: number, cliHoles?: number, mode: string, budgets: number[], seed: number, load: number, name?: string, commit?: string, report?: string, misses: boolean}} */
  const a = { holes: 60, mode: 'both', budgets: [512, 1024, 2048], seed: 14, load: 0, misses: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--repo') a.repo = resolve(v());
    else if (k === '--lang') {
      const l = v();
      if (l !== 'ts' && l !== 'py' && l !== 'go') throw new Error(`--lang ${l}: expected ts, py or go`);
      a.lang = l;
    } else if (k === '--holes') a.holes = positive(k, v());
    else if (k === '--cli-holes') a.cliHoles = positive(k, v());
    else if (k === '--mode') {
      a.mode = v();
      if (!['server', 'cli', 'both'].includes(a.mode)) throw new Error(`--mode ${a.mode}: expected server, cli or both`);
    } else if (k === '--budgets') a.budgets = v().split(',').map((x) => positive(k, x));
    else if (k === '--seed') a.seed = positive(k, v());
    else if (k === '--load') a.load = Number(v());
    else if (k === '--name') a.name = v();
    else if (k === '--commit') a.commit = v();
    else if (k === '--report') a.report = argv[i + 1] && !argv[i + 1].startsWith('--') ? resolve(v()) : OUT_DIR;
    else if (k === '--misses') a.misses = true;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.report && (!a.repo || !a.lang)) throw new Error('usage: bench/recall.js --repo DIR --lang ts|py|go [--holes N] [--cli-holes N] [--mode server|cli|both] [--budgets 512,1024,2048] [--seed N] [--load K] [--name NAME] [--commit SHA] [--misses] | --report [DIR]');
  return a;
}

/** @param {string} flag @param {string} v */
function positive(flag, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} ${v}: expected a whole number above 0`);
  return n;
}

/** @param {number[]} xs @param {number} p */
function pct(xs, p) {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

/** Deterministic PRNG (mulberry32). @param {number} seed */
function rng(seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Source files of the language, in path order; dot-directories and node_modules skipped. @param {string} dir @param {string[]} exts */
function listFiles(dir, exts, out = /** @type {string[]} */ ([])) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) listFiles(p, exts, out);
    else if (e.isFile() && exts.some((x) => e.name.endsWith(x)) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** @param {string} s */
const norm = (s) => s.replace(/\s+/g, ' ').trim();

/** A function or method definition with a body: its name and parameter list node, or null. @param {any} n */
function definitionOf(n) {
  switch (n.type) {
    case 'function_declaration': // TS, Go
    case 'generator_function_declaration':
    case 'method_definition':
    case 'function_definition': // Python
    case 'method_declaration': // Go
      return n.childForFieldName('body') ? { name: n.childForFieldName('name'), params: n.childForFieldName('parameters') } : null;
    case 'variable_declarator': // const f = (…) => …
    case 'public_field_definition': {
      // class field f = (…) => …
      const value = n.childForFieldName('value');
      if (!value || (value.type !== 'arrow_function' && value.type !== 'function_expression')) return null;
      return { name: n.childForFieldName('name'), params: value.childForFieldName('parameters') };
    }
  }
  return null;
}

/** A call's callee name node, whether it is a member call, the argument list node and the receiver chain's first identifier, or null. @param {any} n */
function callOf(n) {
  if (n.type !== 'call_expression' && n.type !== 'call') return null;
  const f = n.childForFieldName('function');
  const args = n.childForFieldName('arguments');
  if (!f || !args || !(args.type === 'arguments' || args.type === 'argument_list')) return null;
  if (f.type === 'identifier') return { name: f, member: false, args, root: f.text };
  const field = f.type === 'member_expression' ? 'property' : f.type === 'attribute' ? 'attribute' : f.type === 'selector_expression' ? 'field' : undefined;
  const name = field ? f.childForFieldName(field) : null;
  return name ? { name, member: true, args, root: receiverRoot(f) } : null;
}

/** The identifier a member chain starts at (`a` of `a.b(x).c`), or undefined (`this`, a literal, a subscript). @param {any} f */
function receiverRoot(f) {
  let n = f;
  for (let i = 0; i < 64 && n; i++) {
    if (n.type === 'identifier') return n.text;
    const next = n.childForFieldName('object') ?? n.childForFieldName('operand') ?? n.childForFieldName('function');
    if (!next || !['member_expression', 'attribute', 'selector_expression', 'call_expression', 'call', 'identifier'].includes(next.type)) return undefined;
    n = next;
  }
  return undefined;
}

/** Node types whose body makes a definition in it local (a bare call in another file cannot reach it). */
const SCOPES = new Set(['function_declaration', 'generator_function_declaration', 'function_expression', 'arrow_function', 'method_definition', 'function_definition', 'method_declaration', 'func_literal', 'lambda', 'class_declaration', 'abstract_class_declaration', 'class', 'class_definition', 'class_body', 'object']);

/** Whether a definition node sits at module level (not inside a function, method or class). @param {any} n */
function moduleLevel(n) {
  for (let p = n.parent; p; p = p.parent) if (SCOPES.has(p.type)) return false;
  return true;
}

/**
 * The names a file's imports bind (to the module as written), and whether it star-imports (Python
 * `from x import *`). Imports inside functions count (Python's local imports).
 * @param {any} n @param {'ts'|'py'|'go'} lang @param {{names: Map<string, string>, star: boolean}} out
 */
function importBinding(n, lang, out) {
  if (lang === 'ts' && n.type === 'import_statement') {
    const source = n.childForFieldName('source')?.text.slice(1, -1) ?? '';
    const clause = n.namedChildren.find((/** @type {any} */ c) => c.type === 'import_clause');
    for (const c of clause?.namedChildren ?? []) {
      if (c.type === 'identifier') out.names.set(c.text, source);
      else if (c.type === 'namespace_import') out.names.set(c.namedChildren[0]?.text ?? '', source);
      else if (c.type === 'named_imports') for (const s of c.namedChildren) if (s.type === 'import_specifier') out.names.set((s.childForFieldName('alias') ?? s.childForFieldName('name'))?.text ?? '', source);
    }
    const req = n.namedChildren.find((/** @type {any} */ c) => c.type === 'import_require_clause');
    if (req) out.names.set(req.namedChildren[0]?.text ?? '', req.childForFieldName('source')?.text.slice(1, -1) ?? '');
  } else if (lang === 'py' && n.type === 'import_statement') {
    for (const c of n.namedChildren) {
      const dotted = c.type === 'aliased_import' ? c.childForFieldName('name') : c;
      const alias = c.type === 'aliased_import' ? c.childForFieldName('alias')?.text : undefined;
      if (dotted) out.names.set(alias ?? dotted.text.split('.')[0], dotted.text);
    }
  } else if (lang === 'py' && n.type === 'import_from_statement') {
    const mod = n.childForFieldName('module_name');
    for (const c of n.namedChildren) {
      if (c === mod || c.id === mod?.id) continue;
      if (c.type === 'dotted_name') out.names.set(c.text, mod?.text ?? '');
      else if (c.type === 'aliased_import') out.names.set(c.childForFieldName('alias')?.text ?? '', mod?.text ?? '');
      else if (c.type === 'wildcard_import') out.star = true;
    }
  } else if (lang === 'go' && n.type === 'import_spec') {
    const path = n.childForFieldName('path')?.text.slice(1, -1) ?? '';
    const alias = n.childForFieldName('name')?.text;
    const segs = path.split('/');
    let last = segs.pop() ?? path;
    if (/^v\d+$/.test(last) && segs.length) last = segs.pop() ?? last;
    out.names.set(alias ?? last.replace(/^go-/, '').replace(/\.v\d+$/, ''), path);
  }
}

/**
 * Whether a module as imported is outside the repository: a Node builtin or a package that is not a
 * workspace package (TypeScript; a bare path that is a folder or file of the repository, as a
 * tsconfig baseUrl makes it, is inside), a top-level module or package the repository does not hold
 * (Python), an import path under none of the repository's go.mod modules (Go).
 * @param {string} repo @param {'ts'|'py'|'go'} lang @param {string[]} files
 */
function externalModules(repo, lang, files) {
  const rels = files.map((f) => relative(repo, f).split('\\').join('/'));
  if (lang === 'ts') {
    const packages = new Set();
    for (const f of listFiles(repo, ['package.json'])) {
      try {
        const name = JSON.parse(readFileSync(f, 'utf8')).name;
        if (typeof name === 'string') packages.add(name);
      } catch {
        // not JSON: no package name
      }
    }
    const builtins = new Set(builtinModules);
    return (/** @type {string} */ source) => {
      if (source.startsWith('.') || source.startsWith('/')) return false;
      if (source.startsWith('node:') || builtins.has(source) || builtins.has(source.split('/')[0] ?? '')) return true;
      const segs = source.split('/');
      const pkg = source.startsWith('@') ? segs.slice(0, 2).join('/') : segs[0];
      if (packages.has(pkg)) return false;
      return !existsSync(join(repo, source)) && !rels.some((r) => r.startsWith(source + '.') || r.startsWith(source + '/'));
    };
  }
  if (lang === 'py') {
    const tops = new Set();
    for (const r of rels) for (const seg of r.replace(/\.py$/, '').split('/')) tops.add(seg);
    return (/** @type {string} */ source) => !source.startsWith('.') && !tops.has(source.split('.')[0]);
  }
  const modules = listFiles(repo, ['go.mod']).map((f) => /^module\s+(\S+)/m.exec(readFileSync(f, 'utf8'))?.[1]).filter(Boolean);
  return (/** @type {string} */ source) => !modules.some((m) => source === m || source.startsWith(m + '/'));
}

/** @param {string} params */
function hasParameters(params) {
  const inner = norm(params).replace(/^\(|\)$/g, '').trim();
  return inner !== '' && !/^(self|cls)\s*,?$/.test(inner);
}

/**
 * @typedef {{ abs: string, rel: string, name: string, gold: string, offset: number, text: string, original: string, line: number, character: number, languageId: string }} Hole
 */

/** @param {string} repo @param {'ts'|'py'|'go'} lang @param {number} want @param {number} seed */
export function buildHoles(repo, lang, want, seed) {
  const parser = new ParseService();
  const files = listFiles(repo, LANGS[lang].exts);
  const external = externalModules(repo, lang, files);
  /** @type {Map<string, Map<string, Set<string>>>} name → file → normalised parameter lists */
  const defs = new Map();
  /** The same for module-level definitions only: what a bare call can reach. */
  const topDefs = new Map();
  /** @type {{abs: string, text: string, calls: {name: string, member: boolean, at: number, root?: string}[], imports: {names: Map<string, string>, star: boolean}}[]} */
  const parsed = [];
  const library = new Set(LIBRARY_MEMBERS[lang].split(' '));
  /** @param {Map<string, Map<string, Set<string>>>} m @param {string} name @param {string} abs @param {string} params */
  const record = (m, name, abs, params) => {
    let byFile = m.get(name);
    if (!byFile) m.set(name, (byFile = new Map()));
    let lists = byFile.get(abs);
    if (!lists) byFile.set(abs, (lists = new Set()));
    lists.add(params);
  };
  for (const abs of files) {
    const text = readFileSync(abs, 'utf8');
    if (text.length > 262144) continue; // the index's own limit
    const grammar = lang === 'py' ? 'python' : lang === 'go' ? 'go' : abs.endsWith('.tsx') ? 'tsx' : 'typescript';
    // A budget only a stuck parse reaches: the wall-time default is stretched by a loaded machine.
    const tree = parser.parseNow(grammar, text, { maxMs: 60_000 });
    if (!tree) continue;
    const calls = /** @type {{name: string, member: boolean, at: number, root?: string}[]} */ ([]);
    const imports = { names: new Map(), star: false };
    walk(tree.rootNode, (n) => {
      const d = definitionOf(n);
      if (d && d.name && d.params) {
        record(defs, d.name.text, abs, norm(d.params.text));
        if (n.type !== 'method_definition' && n.type !== 'method_declaration' && n.type !== 'public_field_definition' && moduleLevel(n)) record(topDefs, d.name.text, abs, norm(d.params.text));
      }
      const c = callOf(n);
      if (c) calls.push({ name: c.name.text, member: c.member, at: c.args.startIndex + 1, root: c.root });
      importBinding(n, lang, imports);
    });
    parsed.push({ abs, text, calls, imports });
  }
  /** @type {Hole[]} */
  const all = [];
  let ambiguous = 0;
  /** Calls left out because they cannot reach a definition of the repository (see the head of this file). */
  let unreachable = 0;
  for (const { abs, text, calls, imports } of parsed) {
    const seen = new Set();
    for (const c of calls) {
      if (seen.has(c.name)) continue;
      seen.add(c.name);
      const byFile = (c.member ? defs : topDefs).get(c.name);
      const anyDef = defs.get(c.name);
      if (!anyDef || anyDef.has(abs) || (c.member && library.has(c.name))) continue;
      const bound = c.root === undefined ? undefined : imports.names.get(c.root);
      const importedFromOutside = bound !== undefined && external(bound);
      const global = !c.member && lang !== 'go' && bound === undefined && !imports.star;
      if (!byFile || importedFromOutside || global) {
        unreachable++;
        continue;
      }
      const lists = new Set([...byFile.values()].flatMap((s) => [...s]));
      if (lists.size !== 1) {
        ambiguous++;
        continue;
      }
      const gold = [...lists][0];
      if (!hasParameters(gold)) continue;
      let end = text.indexOf('\n', c.at);
      if (end < 0) end = text.length;
      const punched = text.slice(0, c.at) + text.slice(end);
      const before = text.slice(0, c.at);
      const line = before.split('\n').length - 1;
      const character = c.at - (before.lastIndexOf('\n') + 1);
      all.push({ abs, rel: relative(repo, abs).split('\\').join('/'), name: c.name, gold, offset: c.at, text: punched, original: text, line, character, languageId: LANGS[lang].languageId(abs) });
    }
  }
  // A seeded shuffle of the sites in path order, then the sample back in path order.
  const r = rng(seed);
  const order = all.map((h, i) => ({ h, k: r(), i }));
  order.sort((x, y) => x.k - y.k);
  const picked = order.slice(0, want).sort((x, y) => x.i - y.i).map((x) => x.h);
  return { files: files.length, sites: all.length, ambiguous, unreachable, picked };
}

/** The prompt's cross-file part: every section but the current file's (repository layout). @param {string} prompt @param {string} rel */
function crossFilePart(prompt, rel) {
  const own = prompt.indexOf(`<|file_sep|>${rel}\n<|fim_prefix|>`);
  if (own >= 0) return prompt.slice(0, own);
  const fim = prompt.indexOf('<|fim_prefix|>');
  return fim >= 0 ? prompt.slice(0, fim) : '';
}

/** @param {string} prompt @param {Hole} h */
export const isHit = (prompt, h) => norm(crossFilePart(prompt, h.rel)).includes(h.gold);

/** @param {string} dir @param {Record<string, unknown>} backend @param {number} budget */
function writeConfig(dir, backend, budget) {
  const file = join(dir, `config-${budget}.json`);
  // A prompt budget large enough that the context budget is the limit (context.share of 8,192).
  writeFileSync(file, JSON.stringify({ backends: { fim: { kind: 'vllm', maxContextTokens: 32768, ...backend } }, inline: { debounceMs: 0, maxPromptTokens: 8192 }, context: { maxTokens: budget } }));
  return file;
}

/** @param {string} home */
function envFor(home) {
  return { XDG_CONFIG_HOME: join(home, 'config'), XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '' };
}

/**
 * @typedef {{ budget: number, holes: number, hits: number, contextMs: number[], cpuMs: number[], late: number, wallMs: number[], misses: string[] }} BudgetResult
 */

/** @param {string} repo @param {Hole[]} holes @param {number[]} budgets @param {string} home */
async function runServer(repo, holes, budgets, home) {
  const fake = await startFakeVllm({ respond: () => ({ text: '' }) });
  /** @type {BudgetResult[]} */
  const results = [];
  try {
    for (const budget of budgets) {
      const cfg = writeConfig(home, { url: fake.url }, budget);
      const client = new LspClient({ args: ['--config', cfg], env: { ...envFor(home), TANDEM_LOG: 'debug' } });
      const began = performance.now();
      await client.initialize({ capabilities: { textDocument: { inlineCompletion: {} }, window: { workDoneProgress: true } }, workspaceFolders: [{ uri: pathToFileURL(repo).href, name: basename(repo) }] });
      await client.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end', 600_000);
      const indexMs = performance.now() - began;
      /** @type {BudgetResult & {indexMs: number}} */
      const r = { budget, holes: holes.length, hits: 0, contextMs: [], cpuMs: [], late: 0, wallMs: [], misses: [], indexMs };
      let version = 1;
      for (const h of holes) {
        const uri = pathToFileURL(h.abs).href;
        client.open(uri, h.languageId, h.original, version);
        // Listing code actions parses a document that has no tree yet: the file as the user left it.
        await client.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: h.line, character: h.character }, end: { line: h.line, character: h.character } }, context: { diagnostics: [] } }).catch(() => null);
        // Then the keystrokes: the rest of the call's line goes (the tree is edited, not re-parsed).
        const lineEnd = h.original.indexOf('\n', h.offset);
        const endChar = h.character + ((lineEnd < 0 ? h.original.length : lineEnd) - h.offset);
        client.change(uri, ++version, [{ range: { start: { line: h.line, character: h.character }, end: { line: h.line, character: endChar } }, text: '' }]);
        const logLines = contextLines(client.stderr).length;
        const before = fake.completions().length;
        const t = performance.now();
        await client.inline(uri, { line: h.line, character: h.character }).result;
        r.wallMs.push(performance.now() - t);
        const reqs = fake.completions();
        const prompt = reqs.length > before ? String(reqs.at(-1)?.body?.prompt ?? '') : '';
        if (isHit(prompt, h)) r.hits++;
        else r.misses.push(`${h.rel}:${h.line + 1}:${h.character + 1} ${h.name}${h.gold}${prompt ? '' : ' (no request reached the model)'}`);
        // stderr is a separate pipe: wait for the request's context line to arrive.
        for (let i = 0; i < 200 && contextLines(client.stderr).length <= logLines; i++) await new Promise((res) => setTimeout(res, 5));
        const line = contextLines(client.stderr)[logLines];
        if (line) {
          r.contextMs.push(Number(line.ms));
          if (line.cpu !== undefined) r.cpuMs.push(Number(line.cpu));
          if (line.late) r.late++;
        }
        client.notify('textDocument/didClose', { textDocument: { uri } });
      }
      await client.stop();
      if (client.protocolErrors.length) throw new Error(`server wrote bad frames: ${client.protocolErrors[0]}`);
      results.push(r);
    }
  } finally {
    await fake.close();
  }
  return results;
}

/** The server's per-request context debug lines, in order. @param {string} stderr */
function contextLines(stderr) {
  return [...stderr.matchAll(/context ([\d.]+) ms(?:, cpu ([\d.]+) ms)?: ([^\n]*)/g)].map((m) => ({ ms: m[1], cpu: m[2], late: / late\b/.test(m[3] ?? '') }));
}

/** @param {string} repo @param {Hole[]} holes @param {number[]} budgets @param {string} home */
function runCli(repo, holes, budgets, home) {
  /** @type {BudgetResult[]} */
  const results = budgets.map((budget) => ({ budget, holes: holes.length, hits: 0, contextMs: /** @type {number[]} */ ([]), cpuMs: /** @type {number[]} */ ([]), late: 0, wallMs: /** @type {number[]} */ ([]), misses: /** @type {string[]} */ ([]) }));
  for (const h of holes) {
    writeFileSync(h.abs, h.text);
    try {
      budgets.forEach((budget, i) => {
        const r = results[i];
        const cfg = writeConfig(home, { url: 'http://127.0.0.1:9', model: 'Qwen/Qwen2.5-Coder-7B' }, budget);
        const t = performance.now();
        const p = spawnSync(process.execPath, [BIN, 'prompt', `${h.abs}:${h.line + 1}:${h.character + 1}`, '--workspace', repo, '--config', cfg, '--json'], { encoding: 'utf8', env: { ...process.env, ...envFor(home) }, maxBuffer: 64 * 2 ** 20 });
        r.wallMs.push(performance.now() - t);
        if (p.status !== 0) throw new Error(`tandem-lsp prompt ${h.rel}:${h.line + 1}:${h.character + 1} exited ${p.status}: ${p.stderr}`);
        const out = JSON.parse(p.stdout);
        /** @type {{ms: number, late: boolean}[]} */
        const sources = out.context?.sources ?? [];
        // `contextMs` is the whole context stage; older builds report the sources only.
        r.contextMs.push(typeof out.contextMs === 'number' ? out.contextMs : sources.reduce((s, x) => s + x.ms, 0));
        if (typeof out.contextCpuMs === 'number') r.cpuMs.push(out.contextCpuMs);
        if (sources.some((x) => x.late)) r.late++;
        if (isHit(out.prompt, h)) r.hits++;
        else r.misses.push(`${h.rel}:${h.line + 1}:${h.character + 1} ${h.name}${h.gold}`);
      });
    } finally {
      writeFileSync(h.abs, h.original);
    }
  }
  return results;
}

/** CPU hogs for the run: stress-ng if installed, else node busy loops. @param {number} k */
function startLoad(k) {
  if (k <= 0) return { what: 'none', stop: () => undefined };
  const stress = spawnSync('stress-ng', ['--version'], { encoding: 'utf8' }).status === 0;
  const procs = stress ? [spawn('stress-ng', ['--cpu', String(k), '--quiet'], { stdio: 'ignore' })] : Array.from({ length: k }, () => spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore' }));
  return {
    what: stress ? `stress-ng --cpu ${k}` : `${k} node busy loops`,
    stop: () => {
      for (const p of procs) if (p.pid !== undefined && p.exitCode === null) p.kill('SIGTERM');
    },
  };
}

/** @param {BudgetResult[]} rs @param {string} mode */
function summary(rs, mode) {
  return rs.map((r) => ({ mode, budget: r.budget, holes: r.holes, hits: r.hits, recall: r.holes ? r.hits / r.holes : NaN, contextP50: pct(r.contextMs, 50), contextP99: pct(r.contextMs, 99), contextMax: Math.max(...r.contextMs), cpuP50: pct(r.cpuMs, 50), cpuP99: pct(r.cpuMs, 99), late: r.late, wallP50: pct(r.wallMs, 50), misses: r.misses }));
}

/** Markdown tables of every run recorded in `dir`: one row per repository, mode and load, then per language. @param {string} dir */
function report(dir) {
  /** @type {any[]} */
  const runs = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  const budgets = [...new Set(runs.flatMap((d) => d.rows.map((/** @type {any} */ r) => r.budget)))].sort((a, b) => a - b);
  const head = `| repository (commit) | lang | load | mode | holes | ${budgets.map((b) => `recall ${b}`).join(' | ')} | context ms p50 / p99 / max | its CPU ms p50 / p99 | a source late | wall p50 |`;
  const rule = `|${'---|'.repeat(9 + budgets.length)}`;
  /** @param {string} label @param {any[]} ds */
  const row = (label, ds) => {
    const rows = ds.flatMap((d) => d.rows);
    const rec = (/** @type {number} */ b) => {
      const at = rows.filter((r) => r.budget === b);
      const holes = at.reduce((n, r) => n + r.holes, 0);
      return holes ? `${((100 * at.reduce((n, r) => n + r.hits, 0)) / holes).toFixed(1)} %` : '—';
    };
    const ms = rows.flatMap((r) => r.contextMsAll);
    const cpu = rows.flatMap((r) => r.cpuMsAll ?? []);
    const late = rows.reduce((n, r) => n + r.late, 0);
    const requests = rows.reduce((n, r) => n + r.holes, 0);
    const holes = ds.reduce((n, d) => n + (d.rows[0]?.holes ?? 0), 0);
    return `| ${label} | ${ds[0].lang} | ${ds[0].load} | ${ds[0].mode} | ${holes} | ${budgets.map(rec).join(' | ')} | ${pct(ms, 50).toFixed(2)} / ${pct(ms, 99).toFixed(2)} / ${Math.max(...ms).toFixed(2)} | ${cpu.length ? `${pct(cpu, 50).toFixed(2)} / ${pct(cpu, 99).toFixed(2)}` : '—'} | ${late} of ${requests} | ${pct(rows.flatMap((r) => r.wallMsAll), 50).toFixed(0)} ms |`;
  };
  const lines = [head, rule, ...runs.map((d) => row(`${d.name} (${String(d.commit).slice(0, 10)})`, [d]))];
  const groups = new Map();
  for (const d of runs) {
    const k = `${d.lang}\0${d.mode}\0${d.load}`;
    groups.set(k, [...(groups.get(k) ?? []), d]);
  }
  lines.push('', head.replace('repository (commit)', 'all repositories'), rule, ...[...groups.values()].map((ds) => row(`**${ds.length} repositories**`, ds)));
  const loads = runs.map((d) => `${d.name}/${d.mode}/${d.load}: ${d.loadavg.map((/** @type {number} */ x) => x.toFixed(1)).join(' → ')}`);
  lines.push('', `Load average (1 min) at the start and end of each run: ${loads.join('; ')}.`, `Machine: ${runs[0]?.machine ?? '?'}.`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.report) return report(args.report);
  const repo = /** @type {string} */ (args.repo);
  const lang = /** @type {'ts'|'py'|'go'} */ (args.lang);
  const name = args.name ?? basename(repo);
  // A repository exported without its .git directory names its commit with --commit.
  const git = args.commit ? undefined : spawnSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  const commit = args.commit ?? (git?.status === 0 ? git.stdout.trim() : 'unknown');
  const { files, sites, ambiguous, unreachable, picked } = buildHoles(repo, lang, args.holes, args.seed);
  process.stderr.write(`${name}: ${files} files, ${sites} call sites make holes (${ambiguous} skipped as ambiguous, ${unreachable} as reaching no definition of the repository); ${picked.length} sampled\n`);
  const home = mkdtempSync(join(tmpdir(), 'tandem-recall-'));
  const load = startLoad(args.load);
  const loadBefore = loadavg()[0];
  mkdirSync(OUT_DIR, { recursive: true });
  try {
    for (const mode of args.mode === 'both' ? ['server', 'cli'] : [args.mode]) {
      const t = performance.now();
      const cliHoles = picked.filter((_, i) => i % Math.max(1, Math.round(picked.length / (args.cliHoles ?? Math.min(30, picked.length)))) === 0);
      const rs = mode === 'server' ? await runServer(repo, picked, args.budgets, home) : runCli(repo, cliHoles, args.budgets, home);
      const rows = summary(rs, mode).map((s, i) => ({ ...s, contextMsAll: rs[i].contextMs, cpuMsAll: rs[i].cpuMs, wallMsAll: rs[i].wallMs, indexMs: /** @type {any} */ (rs[i]).indexMs }));
      const out = { name, commit, lang, mode, load: load.what, loadavg: [loadBefore, loadavg()[0]], machine: `${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`, files, sites, ambiguous, unreachable, seconds: (performance.now() - t) / 1000, rows };
      const tag = args.load > 0 ? `load${args.load}` : 'idle';
      writeFileSync(join(OUT_DIR, `${name}-${mode}-${tag}.json`), JSON.stringify(out, null, 1));
      for (const r of rows) {
        process.stdout.write(`${name} ${mode} ${tag} budget ${r.budget}: recall ${(100 * r.recall).toFixed(1)} % (${r.hits}/${r.holes}), context p50 ${r.contextP50.toFixed(2)} ms p99 ${r.contextP99.toFixed(2)} ms max ${r.contextMax.toFixed(2)} ms (CPU p50 ${r.cpuP50.toFixed(2)} ms p99 ${r.cpuP99.toFixed(2)} ms), late ${r.late}, wall p50 ${r.wallP50.toFixed(0)} ms\n`);
        if (args.misses) for (const m of r.misses) process.stdout.write(`  miss ${m}\n`);
      }
    }
  } finally {
    load.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

// Run as a script; imported (a diagnosis of the misses), it only lends its hole builder.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    process.stderr.write(`bench:recall failed: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  });
}
