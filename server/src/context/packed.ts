// A file's definitions, imports and exports kept as JSON in UTF-8 bytes until a request reads them.
//
// Why: the index of a large workspace is mostly objects that live as long as the server (a
// 5,000-file workspace: ~350,000 symbols, lines, imports and their strings). Made in one burst,
// as loading the saved index or receiving the worker's answers does, each of them survives V8's
// young-generation collections, which copy what survives: pauses of 6-14 ms on the event loop
// every few milliseconds of the burst. Kept packed, a file is a handful of objects (its names
// for the by-name table, a view of bytes that live outside V8's heap: a slice of the shard file
// it was read from, or the buffer the worker transferred); the objects are made for the few files
// a request reads, when it reads them (FileEntry in index.ts).
import type { ExportAlias, FileSymbols, ImportRef, IndexedSymbol, SymbolKind } from './types.js';

export interface PackedSymbols {
  /**
   * The distinct names of the file's definitions, in their first definition's order, joined by
   * line breaks: one string, not one per name (a name holding a line break, which no identifier
   * does, is left out).
   */
  names: string;
  /** How many definitions `symbols` holds. */
  count: number;
  /**
   * UTF-8 of three JSON lists separated by tabs (JSON text holds no raw tab or line break): the
   * definitions, each as an IndexedSymbol with `path` '' and `container` null when absent; the
   * ImportRefs; the ExportAliases.
   */
  data: Uint8Array;
}

/** A packed file that is not what `pack` writes (a damaged or foreign index file): its message names no content. */
export class BadPacked extends Error {}

const TAB = 9;
const encoder = new TextEncoder();

const KINDS: ReadonlySet<string> = new Set<SymbolKind>(['function', 'method', 'class', 'interface', 'type', 'enum', 'struct', 'trait', 'constant']);

export function packSymbols(found: FileSymbols): PackedSymbols {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const s of found.symbols) {
    if (seen.has(s.name) || s.name.includes('\n')) continue;
    seen.add(s.name);
    names.push(s.name);
  }
  // Field for field in IndexedSymbol's order, so that JSON.parse builds objects of the index's own shape.
  const symbols = JSON.stringify(found.symbols.map((s) => ({ name: s.name, kind: s.kind, container: s.container ?? null, path: '', line: s.line, endLine: s.endLine, runs: s.runs })));
  // Its own ArrayBuffer (not a pooled one): the worker transfers it to the main thread.
  return { names: names.join('\n'), count: found.symbols.length, data: encoder.encode(`${symbols}\t${JSON.stringify(found.imports)}\t${JSON.stringify(found.exports)}`) };
}

/**
 * The by-name table's key for `name` (or for `text` from `from` to `to`): FNV-1a of its UTF-16
 * units, cut to 30 bits so that V8 keeps it as a small integer (a Map keyed by it holds no
 * strings). Two names of one key cost only a file unpacked to find it defines neither.
 */
export function nameKey(text: string, from = 0, to = text.length): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

/** The keys of a packed file's names, without making a string of each. */
export function nameKeys(names: string): number[] {
  const out: number[] = [];
  if (names.length === 0) return out;
  let from = 0;
  for (;;) {
    const nl = names.indexOf('\n', from);
    out.push(nameKey(names, from, nl < 0 ? names.length : nl));
    if (nl < 0) return out;
    from = nl + 1;
  }
}

/** Whether `name` is one of a packed file's names. */
export function hasName(names: string, name: string): boolean {
  for (let at = names.indexOf(name); at >= 0; at = names.indexOf(name, at + 1)) {
    const end = at + name.length;
    if ((at === 0 || names.charCodeAt(at - 1) === 10) && (end === names.length || names.charCodeAt(end) === 10)) return true;
  }
  return false;
}

/** The `n`th (0-2) JSON part of a packed file's bytes. */
function part(p: PackedSymbols, n: number, what: string): Record<string, unknown>[] {
  const b = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  const t1 = b.indexOf(TAB);
  const t2 = t1 < 0 ? -1 : b.indexOf(TAB, t1 + 1);
  if (t2 < 0 || b.indexOf(TAB, t2 + 1) >= 0) throw new BadPacked('expected 3 parts');
  const [from, to] = n === 0 ? [0, t1] : n === 1 ? [t1 + 1, t2] : [t2 + 1, b.length];
  // Most files have no exports and many no imports: no string made for those.
  if (to - from === 2 && b[from] === 0x5b && b[from + 1] === 0x5d) return [];
  return parse(b.toString('utf8', from, to), what);
}

/** The definitions of a packed file, their `path` set; checked field by field (BadPacked). */
export function unpackSymbols(p: PackedSymbols, path: string): IndexedSymbol[] {
  const list = part(p, 0, 'definitions');
  if (list.length !== p.count) throw new BadPacked(`${list.length} definitions where ${p.count} were listed`);
  for (const s of list) checkSymbol(s, path);
  return list as unknown as IndexedSymbol[];
}

/**
 * The definitions named `name` of a packed file, parsing only theirs (a by-name lookup of a name
 * many files define would otherwise parse all of them). Each definition's JSON starts with
 * `{"name":<name>,"kind":"` and the next one with `},{"name":"`: byte runs that hold raw quotes,
 * which no JSON string does, so they are found only where a definition starts.
 */
export function unpackNamed(p: PackedSymbols, name: string, path: string): IndexedSymbol[] {
  const b = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  const end = b.indexOf(TAB);
  if (end < 2) throw new BadPacked('expected 3 parts');
  const out: IndexedSymbol[] = [];
  const start = Buffer.from(`{"name":${JSON.stringify(name)},"kind":"`);
  for (let at = b.indexOf(start); at >= 0 && at < end; at = b.indexOf(start, at + 1)) {
    let close = b.indexOf(NEXT, at);
    // The last definition ends where the list does (`}]` before the tab).
    if (close < 0 || close > end) close = end - 2;
    const s = parseOne(b.toString('utf8', at, close + 1), 'definitions');
    checkSymbol(s, path);
    out.push(s as unknown as IndexedSymbol);
  }
  return out;
}

const NEXT = Buffer.from('},{"name":"');

function checkSymbol(s: Record<string, unknown>, path: string): void {
  if (!isObject(s) || typeof s.name !== 'string' || typeof s.kind !== 'string' || !KINDS.has(s.kind) || (s.container !== null && typeof s.container !== 'string') || !isInt(s.line) || !isInt(s.endLine) || !Array.isArray(s.runs)) throw new BadPacked('bad definition');
  for (const run of s.runs as unknown[]) if (!isObject(run) || !isInt(run.start) || typeof run.text !== 'string') throw new BadPacked('bad lines of a definition');
  // Present but undefined, as on a symbol read from a tree (code tests `container === undefined`).
  if (s.container === null) s.container = undefined;
  s.path = path;
}

export function unpackImports(p: PackedSymbols): ImportRef[] {
  const list = part(p, 1, 'imports');
  for (const i of list) {
    if (!isObject(i) || typeof i.source !== 'string' || !Array.isArray(i.names) || (i.namespace !== undefined && typeof i.namespace !== 'string')) throw new BadPacked('bad import');
    for (const n of i.names as unknown[]) if (!isObject(n) || typeof n.imported !== 'string' || typeof n.local !== 'string') throw new BadPacked('bad import name');
  }
  return list as unknown as ImportRef[];
}

export function unpackExports(p: PackedSymbols): ExportAlias[] {
  const list = part(p, 2, 'exports');
  for (const e of list) if (!isObject(e) || typeof e.name !== 'string' || typeof e.local !== 'string') throw new BadPacked('bad export');
  return list as unknown as ExportAlias[];
}

/** JSON.parse, its error said without V8's quote of the input (it is code, perhaps of a protected file). */
function parse(text: string, what: string): Record<string, unknown>[] {
  const v = parseOne(text, what);
  if (!Array.isArray(v)) throw new BadPacked(`${what}: expected an array`);
  return v as Record<string, unknown>[];
}

function parseOne(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new BadPacked(`${what}: not valid JSON`);
  }
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -1;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
