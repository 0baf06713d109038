// @ts-check
// The fuzzer's seeded LSP message stream (bench/fuzz.js drives it, test/e2e/fuzz.test.ts too): a
// PRNG, a mirror of the documents the server holds, and one maker per kind of message. Pure: the
// same seed, files and folders give the same messages, whatever the server answers, so a failing
// message is found again by its seed and index.
import { TextDocument } from 'vscode-languageserver-textdocument';
import { pathToFileURL } from 'node:url';

/** mulberry32: a 32-bit state, good enough for choosing test inputs, and reproducible. */
export function mulberry32(/** @type {number} */ seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  /** @param {number} seed */
  constructor(seed) {
    this.next = mulberry32(seed);
  }
  /** An integer in [0, n). @param {number} n */
  int(n) {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi]. @param {number} lo @param {number} hi */
  between(lo, hi) {
    return lo + this.int(hi - lo + 1);
  }
  /** @param {number} p */
  chance(p) {
    return this.next() < p;
  }
  /** @template T @param {readonly T[]} xs @returns {T} */
  pick(xs) {
    return /** @type {T} */ (xs[this.int(xs.length)]);
  }
  /** @template T @param {readonly [number, T][]} table @returns {T} */
  weighted(table) {
    let r = this.next() * table.reduce((s, [w]) => s + w, 0);
    for (const [w, v] of table) if ((r -= w) < 0) return v;
    return /** @type {[number, T]} */ (table.at(-1))[1];
  }
}

/** FNV-1a of a string: lets the fakes choose an answer from the request's content, not from timing. */
export function hash(/** @type {string} */ s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * @typedef {{ type: 'request', id: number | string, method: string, params: any, note: string }
 *   | { type: 'notification', method: string, params: any, note: string }} Message
 * @typedef {{ op: 'write', path: string, text: string } | { op: 'delete', path: string } | { op: 'symlink', path: string, target: string }} FsOp
 * @typedef {Message & { fs?: FsOp[], config?: unknown }} Step
 * `fs`: done on disk before the message is sent (the watched-file events describe it);
 * `config`: the editor's tandem section from then on (what a workspace/configuration pull answers).
 * @typedef {{ rel: string, text: string }} SourceFile
 * @typedef {{ seed: number, root: string, other: string, files: SourceFile[], commands: string[], actionIds: string[], actionKinds: string[] }} GeneratorOptions
 */

const EXT_LANG = /** @type {Record<string, string>} */ ({ ts: 'typescript', tsx: 'typescriptreact', js: 'javascript', py: 'python', go: 'go', rs: 'rust', java: 'java', txt: 'plaintext', md: 'markdown' });
const LANGS = ['typescript', 'typescriptreact', 'javascript', 'python', 'go', 'rust', 'java', 'plaintext', 'markdown', '', 'x-unknown', 'TypeScript'];
const REQUEST_METHODS = ['textDocument/inlineCompletion', 'textDocument/completion', 'textDocument/codeAction', 'codeAction/resolve', 'workspace/executeCommand'];
const NOTIFICATION_METHODS = ['textDocument/didOpen', 'textDocument/didChange', 'textDocument/didClose', 'textDocument/didSave', 'workspace/didChangeConfiguration', 'workspace/didChangeWatchedFiles', 'workspace/didChangeWorkspaceFolders', '$/cancelRequest', '$/setTrace'];
/** Most documents open at once: more would only make every message slower, not find more. */
const MAX_OPEN = 14;
const KB = 1024;

/** A value of any JSON type, sometimes large or deep. @param {Rng} rng @param {number} [depth] @returns {unknown} */
export function junk(rng, depth = 0) {
  const leaves = [null, true, false, 0, -1, 1.5, -0.5, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, '', 'x', '\ud800', '😀', 'file:///', '\u0000'];
  if (depth > 3) return rng.pick(leaves);
  switch (rng.int(10)) {
    case 0:
      return 'y'.repeat(rng.pick([1000, 70_000]));
    case 1:
      return Array.from({ length: rng.int(4) }, () => junk(rng, depth + 1));
    case 2:
      return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.pick(['uri', 'range', 'line', 'text', 'id', '__proto__', 'constructor', 'toString', 'data', 'items']), junk(rng, depth + 1)]));
    case 3:
      return nested(rng.pick([50, 1000, 4000]), rng.chance(0.5));
    case 4:
      return Array.from({ length: rng.pick([1000, 20_000]) }, (_, i) => i);
    default:
      return rng.pick(leaves);
  }
}

/** An object or array nested `depth` levels deep. @param {number} depth @param {boolean} arrays */
function nested(depth, arrays) {
  /** @type {unknown} */
  let v = 1;
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
  return v;
}

/** Every path to a value inside `v` (at most a few hundred), for mutation. @param {unknown} v */
function paths(v, at = /** @type {(string | number)[]} */ ([]), out = /** @type {(string | number)[][]} */ ([])) {
  if (out.length > 300) return out;
  out.push(at);
  if (Array.isArray(v)) v.slice(0, 8).forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

/**
 * The params of a valid message with one value replaced by junk, deleted, or made the wrong type.
 * Only the containers on the way to that value are copied: the rest (documents' text) is shared.
 * @param {Rng} rng @param {unknown} params
 */
export function mutate(rng, params) {
  const path = rng.pick(paths(params));
  /** @param {any} v @param {(string | number)[]} at @returns {unknown} */
  const edit = (v, at) => {
    if (at.length === 0) return broken(rng, v);
    const [k, ...rest] = /** @type {[string | number, ...(string | number)[]]} */ (at);
    const copy = Array.isArray(v) ? [...v] : { ...v };
    const next = edit(v[k], rest);
    if (next === DELETE) delete copy[k];
    else copy[k] = next;
    return copy;
  };
  const out = edit(params, path);
  return out === DELETE ? junk(rng) : out;
}

const DELETE = Symbol('delete');

/** `was`, deleted (DELETE), given a neighbouring wrong value, or replaced by junk. @param {Rng} rng @param {unknown} was */
function broken(rng, was) {
  const what = rng.int(4);
  if (what === 0) return DELETE;
  if (what === 1 && typeof was === 'number') return rng.pick([-1, 0.5, 2 ** 53, 1e300, -1e300, NaN, '1', null]);
  if (what === 2 && typeof was === 'string') return rng.pick([1, null, '', was + '\u0000', was.slice(0, 1), ['x'], { uri: was }]);
  return junk(rng);
}

// Pathological text. Each maker gives about `size` UTF-16 units of text in the spirit of its name.

/** @param {string} piece @param {number} size */
const repeatTo = (piece, size) => piece.repeat(Math.max(1, Math.ceil(size / Math.max(1, piece.length))));

/** @type {Record<string, (rng: Rng, base: string, size: number) => string>} */
export const PATHOLOGICAL = {
  // Brackets that never close, before a large file: every later node sits inside an error.
  unbalanced: (rng, base, size) => rng.pick(['(', '{', '[', '<', '"', '/*', "'''"]).repeat(rng.pick([4, 100, 5000])) + '\n' + repeatTo(base + '\n', size),
  minified: (_rng, _base, size) => repeatTo('var a=function(b,c){return b+c*2},d=[1,2,3].map(function(e){return{k:e,"v":a(e,e)}});if(d.length>2){a(d[0].k,1)}else{d=null};', size),
  deepNesting: (rng, _base, size) => {
    const n = Math.min(rng.pick([500, 3000, 20_000]), size / 2);
    return rng.pick([() => '{'.repeat(n) + '}'.repeat(n), () => 'f('.repeat(n) + ')'.repeat(n), () => '['.repeat(n), () => Array.from({ length: Math.min(n, 400) }, (_, i) => ' '.repeat(i) + 'if x:').join('\n') + '\n' + ' '.repeat(400) + 'pass\n'])();
  },
  templates: (rng, _base, size) => rng.pick([() => repeatTo('`${', size), () => repeatTo('const s = `a ${ `b ${ `c ${x}` }` } ${', size), () => '`' + repeatTo('${a}\\`$', size)])(),
  surrogates: (rng, base, size) => repeatTo(rng.pick(['😀', 'a😀b\ud800c', '\udc00\ud800', '𝒳𝒴', 'é\u0301']) + base.slice(0, 200), size),
  nul: (_rng, base, size) => repeatTo(base.slice(0, 500) + '\u0000\u0000', size),
  crlf: (rng, base) => base.replace(/\n/g, rng.pick(['\r\n', '\r', '\n\r'])),
  longLine: (_rng, base, size) => base.replace(/\n/, '\n' + 'x'.repeat(size) + '\n'),
  random: (rng, _base, size) => {
    const n = Math.min(size, 20_000);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(rng.pick([rng.int(128), rng.int(0x10000), 10, 32, 40, 41, 123, 125]));
    return s;
  },
  empty: () => '',
};

export class FuzzGenerator {
  /** @param {GeneratorOptions} opts */
  constructor(opts) {
    this.rng = new Rng(opts.seed);
    this.opts = opts;
    const file = (/** @type {string} */ p) => pathToFileURL(p).href;
    const root = opts.root;
    this.rootUri = file(root);
    // URIs of real files, files not yet on disk, files outside every folder and odd URIs.
    this.realFiles = opts.files.map((f) => ({ uri: file(`${root}/${f.rel}`), rel: f.rel, text: f.text }));
    this.uris = [
      ...this.realFiles.slice(0, 12).map((f) => f.uri),
      ...['ts/src/fuzzNew.ts', 'py/shop/fuzz_new.py', 'go/fuzznew/new.go', 'ts/src/plain', 'ts/src/x.rs', 'ts/src/X.java', 'notes.md', 'ts/src/a b ü 😀.ts'].map((r) => file(`${root}/${r}`)),
      file(`${opts.other}/elsewhere.ts`),
      file('/tmp/tandem-fuzz-nowhere/missing.py'),
      `${this.rootUri}/ts/src/a%00b.ts`,
      `${this.rootUri}/../../etc/passwd.ts`,
      `${this.rootUri}/ts/src`,
      `${this.rootUri}/${'d/'.repeat(2500)}deep.ts`,
      `${this.rootUri}/ts/src/q.ts?x=1#frag`,
      'untitled:Untitled-1',
      'file:///',
      'file://server/share/a.py',
      'http://example.com/a.ts',
      'vscode-notebook-cell:/nb.ipynb#cell1',
      'not a uri',
      `${this.rootUri}/ts/src/lone\ud800.ts`,
    ];
    /** @type {Map<string, {doc: TextDocument, lang: string, kind: string}>} */
    this.docs = new Map();
    this.nextId = 1000;
    /** Ids of recent requests: $/cancelRequest picks among them, pending or answered. */
    this.recentIds = /** @type {(number | string)[]} */ ([]);
    this.created = 0;
  }

  /** @returns {Step} */
  next() {
    const open = this.docs.size;
    return this.step([
      [24, 'didChange'],
      [17, 'inline'],
      [2, 'completion'],
      [open < MAX_OPEN ? 8 : 1, 'didOpen'],
      [open >= MAX_OPEN ? 6 : 2, 'didClose'],
      [2, 'didSave'],
      [7, 'codeAction'],
      [4, 'resolve'],
      [8, 'command'],
      [5, 'cancel'],
      [1.5, 'configuration'],
      [2, 'watchedFiles'],
      [1, 'folders'],
      [2.5, 'unknown'],
      [9, 'malformed'],
    ]);
  }

  /** One step of a kind drawn from `table`. @param {[number, string][]} table @returns {Step} */
  step(table) {
    /** @type {Record<string, () => Step>} */
    const makers = {
      didChange: () => this.didChange(),
      inline: () => this.inline('textDocument/inlineCompletion'),
      completion: () => this.inline('textDocument/completion'),
      didOpen: () => this.didOpen(),
      didClose: () => this.didClose(),
      didSave: () => this.didSave(),
      codeAction: () => this.codeAction(),
      resolve: () => this.resolve(),
      command: () => this.command(),
      cancel: () => this.cancel(),
      configuration: () => this.configuration(),
      watchedFiles: () => this.watchedFiles(),
      folders: () => this.folders(),
      unknown: () => this.unknown(),
      malformed: () => this.malformed(),
    };
    return /** @type {() => Step} */ (makers[this.rng.weighted(table)])();
  }

  /** @param {string} method @param {unknown} params @param {string} note @returns {Step} */
  request(method, params, note) {
    const id = this.rng.chance(0.05) ? `s-${this.nextId++}` : this.nextId++;
    this.recentIds.push(id);
    if (this.recentIds.length > 48) this.recentIds.shift();
    return { type: 'request', id, method, params, note };
  }

  /** @param {string} method @param {unknown} params @param {string} note @returns {Step} */
  notification(method, params, note) {
    return { type: 'notification', method, params, note };
  }

  /** An open document (mostly), or a URI the server does not hold. */
  anyUri() {
    const open = [...this.docs.keys()];
    return open.length > 0 && this.rng.chance(0.85) ? this.rng.pick(open) : this.rng.pick(this.uris);
  }

  /** @param {string} uri */
  label(uri) {
    const d = this.docs.get(uri);
    return d ? `${d.kind} ${d.lang || '""'} ${Math.round(d.doc.getText().length / KB)} kB` : 'unknown doc';
  }

  /** A position in the document: valid, at its end, or past it. @param {string} uri */
  position(uri) {
    const d = this.docs.get(uri)?.doc;
    const r = this.rng;
    if (!d || r.chance(0.08)) return r.pick([{ line: 0, character: 0 }, { line: 1e6, character: 0 }, { line: 0, character: 2 ** 31 }, { line: 2 ** 53 - 1, character: 2 ** 53 - 1 }]);
    const len = d.getText().length;
    if (r.chance(0.1)) return d.positionAt(len);
    if (r.chance(0.05)) return { line: d.lineCount + r.int(5), character: r.int(200) };
    const p = d.positionAt(r.int(len + 1));
    // A character past the end of its line, sometimes.
    return r.chance(0.05) ? { line: p.line, character: p.character + r.between(1, 5000) } : p;
  }

  /** @param {string} uri */
  range(uri) {
    const a = this.position(uri);
    const d = this.docs.get(uri)?.doc;
    if (!d || this.rng.chance(0.3)) return { start: a, end: a };
    const b = d.positionAt(d.offsetAt(a) + this.rng.int(this.rng.pick([10, 400, 20_000])));
    // Reversed, now and then: start after end.
    return this.rng.chance(0.07) ? { start: b, end: a } : { start: a, end: b };
  }

  /** @param {string} lang */
  baseText(lang) {
    const want = lang === 'python' ? '.py' : lang === 'go' ? '.go' : '.ts';
    const pool = this.realFiles.filter((f) => f.rel.endsWith(want));
    return this.rng.pick(pool.length > 0 ? pool : this.realFiles).text;
  }

  /** @param {string} lang @returns {{ text: string, kind: string }} */
  content(lang) {
    const r = this.rng;
    const base = this.baseText(lang);
    if (r.chance(0.55)) return { text: base, kind: 'source' };
    const kind = r.pick(Object.keys(PATHOLOGICAL));
    const size = r.pick([2 * KB, 40 * KB, 200 * KB, 400 * KB]);
    return { text: /** @type {(typeof PATHOLOGICAL)[string]} */ (PATHOLOGICAL[kind])(r, base, size), kind };
  }

  didOpen() {
    const r = this.rng;
    const uri = r.chance(0.7) ? r.pick(this.uris.slice(0, 20)) : r.pick(this.uris);
    const ext = /\.(\w+)(?:[?#]|$)/.exec(uri)?.[1] ?? '';
    const lang = r.chance(0.85) ? (EXT_LANG[ext] ?? 'plaintext') : r.pick(LANGS);
    const { text, kind } = this.content(lang);
    const version = r.pick([1, 0, -5, 2 ** 31 - 1]);
    this.docs.set(uri, { doc: TextDocument.create(uri, lang, version, text), lang, kind });
    return this.notification('textDocument/didOpen', { textDocument: { uri, languageId: lang, version, text } }, `didOpen ${kind} ${lang} ${Math.round(text.length / KB)} kB`);
  }

  /** One content change; `valid` false when its shape is wrong (the server ignores the whole message). @param {string} uri */
  change(uri) {
    const r = this.rng;
    const d = this.docs.get(uri);
    const lang = d?.lang ?? 'typescript';
    if (r.chance(0.04)) return { change: { text: this.content(lang).text }, note: 'full' };
    const range = r.chance(0.06)
      ? r.pick([{ start: { line: 1e6, character: 0 }, end: { line: 1e6 + 1, character: 5 } }, { start: { line: 0, character: 1e9 }, end: { line: 0, character: 1e9 } }, { start: { line: 2 ** 53 - 1, character: 0 }, end: { line: 0, character: 0 } }])
      : this.range(uri);
    const text = r.weighted([
      [40, () => r.pick(['x', 'a', ' ', '\n', '(', ')', '{', '}', '"', '`', '${', '\t', ';', 'return ', 'def ', 'func '])],
      [20, () => ''],
      [10, () => this.baseText(lang).slice(0, r.int(2000))],
      [3, () => r.pick(['\ud800', '\udc00', '😀', '\u0000', '\r\n', '\r', '\u2028', '\ufeff'])],
      [2, () => '('.repeat(r.pick([10, 5000]))],
      [1, () => /** @type {(typeof PATHOLOGICAL)[string]} */ (PATHOLOGICAL[r.pick(Object.keys(PATHOLOGICAL))])(r, this.baseText(lang), r.pick([4 * KB, 100 * KB]))],
    ])();
    const change = { range, text };
    if (r.chance(0.03)) return { change: { ...change, range: { start: { line: -1, character: 0 }, end: range.end } }, note: 'negative line', invalid: true };
    if (r.chance(0.02)) return { change: { ...change, rangeLength: r.int(100) }, note: 'rangeLength' };
    return { change, note: text.length > 1000 ? `insert ${Math.round(text.length / KB)} kB` : text === '' ? 'delete' : 'insert' };
  }

  didChange() {
    const r = this.rng;
    const uri = this.anyUri();
    const d = this.docs.get(uri);
    const n = r.weighted([[80, 1], [15, 2], [5, r.between(3, 30)]]);
    const made = Array.from({ length: n }, () => this.change(uri));
    const version = r.chance(0.95) ? (d?.doc.version ?? 0) + 1 : r.pick([null, 0, -1, d?.doc.version ?? 1]);
    const valid = !made.some((m) => m.invalid);
    const changes = made.map((m) => m.change);
    if (d && valid) {
      // As the server should apply them: a full change replaces the document, a ranged one edits
      // it, its range clamped to the text first (TextDocument.update corrupts its line table when
      // handed lines past the end).
      for (const c of changes) {
        if ('range' in c) {
          const at = (/** @type {{line: number, character: number}} */ p) => d.doc.positionAt(d.doc.offsetAt(p));
          TextDocument.update(d.doc, [{ range: { start: at(c.range.start), end: at(c.range.end) }, text: c.text }], version ?? 0);
        } else d.doc = TextDocument.create(uri, d.lang, version ?? 0, c.text);
      }
    }
    return this.notification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: changes }, `didChange ${made.map((m) => m.note).join('+')} on ${this.label(uri)}`);
  }

  didClose() {
    const uri = this.anyUri();
    const note = `didClose ${this.label(uri)}`;
    this.docs.delete(uri);
    return this.notification('textDocument/didClose', { textDocument: { uri } }, note);
  }

  didSave() {
    const uri = this.anyUri();
    const text = this.rng.chance(0.3) ? { text: this.docs.get(uri)?.doc.getText() ?? 'x' } : {};
    return this.notification('textDocument/didSave', { textDocument: { uri }, ...text }, `didSave ${this.label(uri)}`);
  }

  /** @param {string} method */
  inline(method) {
    const r = this.rng;
    const uri = this.anyUri();
    const context = r.weighted([[70, { triggerKind: 2 }], [20, { triggerKind: 1 }], [5, undefined], [5, { triggerKind: 2, selectedCompletionInfo: { range: this.range(uri), text: 'x' } }]]);
    return this.request(method, { textDocument: { uri }, position: this.position(uri), ...(context ? { context } : {}) }, `${method === 'textDocument/completion' ? 'completion' : 'inline'} on ${this.label(uri)}`);
  }

  /** @param {string} uri */
  diagnostics(uri) {
    const r = this.rng;
    return Array.from({ length: r.weighted([[60, 0], [30, 1], [10, r.between(2, 50)]]) }, () => ({
      range: this.range(uri),
      message: r.pick(['Cannot find name "x".', '', 'm'.repeat(20_000), '\ud800', { kind: 'markdown', value: 'undefined variable' }]),
      ...(r.chance(0.5) ? { severity: r.between(1, 4), source: r.pick(['ts', 'pyright', 'gopls', '']) } : {}),
    }));
  }

  codeAction() {
    const r = this.rng;
    const uri = this.anyUri();
    const only = r.chance(0.2) ? [r.pick([...this.opts.actionKinds, 'quickfix', 'refactor', 'source', '', 'x.y'])] : undefined;
    return this.request('textDocument/codeAction', { textDocument: { uri }, range: this.range(uri), context: { diagnostics: this.diagnostics(uri), ...(only ? { only } : {}), triggerKind: r.between(1, 2) } }, `codeAction on ${this.label(uri)}`);
  }

  /** Action data as listing would give it (current version, offsets in the document), or a stale or odd copy. */
  actionData() {
    const r = this.rng;
    const uri = this.anyUri();
    const d = this.docs.get(uri)?.doc;
    const len = d?.getText().length ?? 100;
    let start = r.int(len + 1);
    let end = Math.min(len, start + r.int(3000));
    if (r.chance(0.05)) [start, end] = [end, start];
    if (r.chance(0.05)) end = len + 1000;
    const version = r.chance(0.85) ? (d?.version ?? 1) : r.pick([0, -1, (d?.version ?? 1) - 1, 2 ** 40]);
    const diagnostic = r.chance(0.2) ? { diagnostic: { message: r.pick(['x is not defined', '']) } } : {};
    return { id: r.pick(this.opts.actionIds), uri, version, start, end, ...diagnostic };
  }

  resolve() {
    const r = this.rng;
    const data = this.actionData();
    const action = r.weighted(/** @type {[number, () => object][]} */ ([
      [85, () => ({ title: 'fuzz', kind: 'refactor.rewrite.tandem.simplify', data })],
      [5, () => ({ title: 'Explain', command: { title: 'Explain', command: 'tandem.explain', arguments: [{ uri: data.uri, range: this.range(data.uri) }] } })],
      [10, () => ({ title: 'fuzz', data: mutate(r, data) })],
    ]))();
    return this.request('codeAction/resolve', action, `resolve ${data.id} on ${this.label(data.uri)}`);
  }

  /** Arguments for a command the server declares: its shape (mostly) or junk. @param {string} command */
  commandArgs(command) {
    const r = this.rng;
    const uri = this.anyUri();
    const at = { uri, range: this.range(uri) };
    switch (command) {
      case 'tandem.accepted':
        return [{ id: r.pick(['c-1', '', 'x'.repeat(500)]), ...(r.chance(0.3) ? { partial: true } : {}) }];
      case 'tandem.stats':
        return r.pick([[], undefined, null]);
      case 'tandem.applyAction':
        return [this.actionData()];
      case 'tandem.explain':
        return [{ ...at, ...(r.chance(0.7) ? { open: false } : {}) }];
      case 'tandem.edit':
        return [{ ...at, instruction: r.pick(['rename x to y', 'add logging', ' ', '\u0000']), ...(r.chance(0.3) ? { scope: r.pick(['file', 'workspace']) } : {}) }];
      case 'tandem.compare':
        return [{ ...at, ...(r.chance(0.5) ? { instruction: 'make it shorter' } : {}), ...(r.chance(0.5) ? { backends: r.pick([['fim', 'chat'], ['chat', 'chat'], ['nope', 'fim']]) } : {}) }];
      default:
        return [junk(r)];
    }
  }

  command() {
    /** A mutated value as a label: String() throws on an object without a usable toString. @param {unknown} v */
    const shown = (v) => {
      try {
        return String(v);
      } catch {
        return Object.prototype.toString.call(v);
      }
    };
    const r = this.rng;
    const command = r.chance(0.95) ? r.pick(this.opts.commands) : r.pick(['tandem.nope', '', 'TANDEM.STATS']);
    /** @type {unknown} */
    let args = this.commandArgs(command);
    if (r.chance(0.15)) args = r.chance(0.5) ? mutate(r, args ?? []) : junk(r);
    // The document the arguments name, when they name one (no draw from the stream: notes change nothing).
    const uri = Array.isArray(args) && args[0] !== null && typeof args[0] === 'object' && typeof args[0].uri === 'string' ? args[0].uri : undefined;
    const what = uri === undefined ? typeof args : `${'id' in args[0] ? `${shown(args[0].id)} ` : ''}${'scope' in args[0] ? `scope ${shown(args[0].scope)} ` : ''}on ${this.label(uri)}`;
    return this.request('workspace/executeCommand', { command, ...(args === undefined ? {} : { arguments: args }) }, `${command} ${what}`);
  }

  cancel() {
    const r = this.rng;
    const id = this.recentIds.length > 0 && r.chance(0.85) ? r.pick(this.recentIds) : r.pick([999_999_999, -1, 'nope', 0, 2 ** 53]);
    return this.notification('$/cancelRequest', { id }, 'cancel');
  }

  configuration() {
    const r = this.rng;
    // Only settings that leave the fakes serving and completions on: the final check relies on them.
    const section = r.pick([
      undefined,
      {},
      { inline: { debounceMs: 0 } },
      { inline: { debounceMs: 'adaptive', maxTokens: 64 } },
      { context: { enabled: false } },
      { context: { enabled: true } },
      { log: { level: 'warn' } },
      { privacy: { airGapped: true, onPremOnly: ['**/a*a*a*a*a*b/**', '[', '**/*.py'] } },
      { inline: { debounceMs: -5 } },
      { inline: { deadlineMs: 'soon' } },
      { routes: { inline: ['nope'] } },
      { backends: 42 },
      'tandem',
      [1, 2],
      nested(2000, false),
      { unknownKey: true },
    ]);
    return { ...this.notification('workspace/didChangeConfiguration', { settings: r.chance(0.8) ? { tandem: section } : junk(r) }, 'configuration'), config: section };
  }

  watchedFiles() {
    const r = this.rng;
    const root = this.opts.root;
    /** @type {FsOp[]} */
    const fs = [];
    const changes = [];
    for (let i = r.between(1, 4); i > 0; i--) {
      const op = r.weighted([[5, 'write'], [3, 'change'], [2, 'delete'], [1, 'symlink'], [2, 'none']]);
      if (op === 'write' || op === 'change') {
        const rel = op === 'write' ? `gen/f${this.created++ % 20}.${r.pick(['ts', 'py', 'go'])}` : r.pick(this.realFiles).rel;
        const lang = rel.endsWith('.py') ? 'python' : rel.endsWith('.go') ? 'go' : 'typescript';
        fs.push({ op: 'write', path: `${root}/${rel}`, text: this.content(lang).text });
        changes.push({ uri: pathToFileURL(`${root}/${rel}`).href, type: op === 'write' ? 1 : 2 });
      } else if (op === 'delete') {
        const rel = `gen/f${r.int(20)}.${r.pick(['ts', 'py', 'go'])}`;
        fs.push({ op: 'delete', path: `${root}/${rel}` });
        changes.push({ uri: pathToFileURL(`${root}/${rel}`).href, type: 3 });
      } else if (op === 'symlink') {
        // A link back to the workspace (a loop), or to a folder outside it.
        const rel = `gen/link${r.int(3)}`;
        fs.push({ op: 'symlink', path: `${root}/${rel}`, target: r.pick([root, this.opts.other, '/nonexistent']) });
        changes.push({ uri: pathToFileURL(`${root}/${rel}`).href, type: 1 });
      } else changes.push({ uri: r.pick(this.uris), type: r.between(1, 3) });
    }
    return { ...this.notification('workspace/didChangeWatchedFiles', { changes }, `watched ${changes.length}`), fs };
  }

  folders() {
    const r = this.rng;
    const folder = (/** @type {string} */ p) => ({ uri: pathToFileURL(p).href, name: p.split('/').pop() ?? '' });
    const pool = [folder(this.opts.root), folder(`${this.opts.root}/ts`), folder(this.opts.other), folder('/tmp/tandem-fuzz-nowhere'), { uri: 'untitled:x', name: 'x' }, { uri: this.opts.root, name: 'plain path' }];
    const some = () => Array.from({ length: r.int(3) }, () => r.pick(pool));
    return this.notification('workspace/didChangeWorkspaceFolders', { event: { added: some(), removed: some() } }, 'folders');
  }

  unknown() {
    const r = this.rng;
    if (r.chance(0.5)) {
      const method = r.pick(['tandem/nope', 'textDocument/hover', 'textDocument/definition', '$/unknown', '', 'textDocument/didOpen', 'workspace/didChangeWatchedFiles', 'initialized', 'tandem/status']);
      return this.request(method, r.chance(0.5) ? junk(r) : {}, `unknown request ${method}`);
    }
    const method = r.pick(['tandem/nope', '$/unknown', 'textDocument/inlineCompletion', 'codeAction/resolve', '$/setTrace', '$/progress', 'window/workDoneProgress/cancel', 'textDocument/willSave', 'x']);
    const params = method === '$/setTrace' ? { value: r.pick(['off', 'messages', 'verbose', 'loud']) } : r.chance(0.5) ? junk(r) : {};
    return this.notification(method, params, `unknown notification ${method}`);
  }

  /** A known method with params of the wrong shape: junk, or a valid message with one value broken. */
  malformed() {
    const r = this.rng;
    if (r.chance(0.4)) {
      const method = r.pick([...REQUEST_METHODS, ...NOTIFICATION_METHODS]);
      const params = junk(r);
      return REQUEST_METHODS.includes(method) ? this.request(method, params, `junk ${method}`) : this.notification(method, params, `junk ${method}`);
    }
    // A valid message from the mirror's point of view, then broken: the mirror must not follow it.
    const docs = new Map([...this.docs].map(([k, v]) => [k, { ...v, doc: TextDocument.create(v.doc.uri, v.lang, v.doc.version, v.doc.getText()) }]));
    const base = this.step([
      [4, 'inline'],
      [2, 'codeAction'],
      [2, 'resolve'],
      [2, 'command'],
      [3, 'didChange'],
      [1, 'didOpen'],
      [1, 'didClose'],
      [1, 'watchedFiles'],
      [1, 'folders'],
    ]);
    this.docs = docs;
    return { ...base, fs: undefined, params: mutate(r, base.params), note: `mutated ${base.note}` };
  }
}
