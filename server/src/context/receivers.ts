// What a member call's receiver is (`this.client.send(`, `conn.send(`, `jsonBinding{}.Bind(`): its type from what the code declares, and that type's method of the name, through base classes.
import { join } from 'node:path';
import { ancestors } from '../syntax/ancestors.js';
import { ImportTable } from './fileTables.js';
import type { WorkspaceIndex } from './index.js';
import type { ContextRequest, IndexedSymbol } from './types.js';

const TYPE_KINDS = new Set(['class', 'interface', 'type', 'struct', 'trait', 'enum']);
/** Types whose methods are signatures only: the implementation is elsewhere. */
const ABSTRACT_KINDS = new Set(['interface', 'type', 'trait']);
const CLASS_NODES = new Set(['class_declaration', 'abstract_class_declaration', 'class', 'class_definition', 'interface_declaration']);
/** Base classes followed from a type: real hierarchies are two or three deep. */
const MAX_BASES_DEPTH = 3;
/** Links of a receiver chain followed (`this.a.b.c.send(`). */
const MAX_CHAIN = 4;
/** How far back in the text a variable's declaration is looked for. */
const DECLARATION_WINDOW = 24_000;
/** Types a chain never resolves to: builtins, not workspace definitions. */
const BUILTIN = new Set(['Promise', 'Array', 'Map', 'Set', 'Record', 'Partial', 'Readonly', 'Error', 'Date', 'String', 'Object', 'Number', 'Boolean', 'List', 'Dict', 'Optional', 'Any']);

/** The receiver of the call the cursor is in, as written: `this.client` of `this.client.send(`. */
export interface Receiver {
  /** The chain's links, first to last (`['this', 'client']`); a Go composite literal `T{}` is `['T{}']`. */
  chain: string[];
}

/**
 * The receiver chain written before `.name(` whose name starts at `nameStart`: plain links only
 * (`a.b!.c?.`); undefined for a receiver that is a call, an index or a literal other than Go's
 * `T{}` (what those return takes a type checker).
 */
export function receiverBefore(text: string, nameStart: number): Receiver | undefined {
  let i = nameStart;
  const chain: string[] = [];
  for (let links = 0; links <= MAX_CHAIN; links++) {
    while (i > 0 && (text[i - 1] === ' ' || text[i - 1] === '\t')) i--;
    if (text[i - 1] !== '.') break;
    i--;
    while (i > 0 && (text[i - 1] === '!' || text[i - 1] === '?')) i--;
    // Go's composite literal: `jsonBinding{}.Bind(`.
    if (text[i - 1] === '}' && text[i - 2] === '{') {
      let b = i - 2;
      while (b > 0 && /[\w$]/.test(text[b - 1]!)) b--;
      const name = text.slice(b, i - 2);
      if (chain.length === 0 && /^[A-Za-z_]\w*$/.test(name)) return { chain: [`${name}{}`] };
      return undefined;
    }
    let b = i;
    while (b > 0 && /[\w$]/.test(text[b - 1]!)) b--;
    const link = text.slice(b, i);
    if (!/^[A-Za-z_$][\w$]*$/.test(link)) return undefined;
    chain.unshift(link);
    i = b;
  }
  if (chain.length === 0 || chain.length > MAX_CHAIN) return undefined;
  // A chain that starts after a `)`, `]` or `.` begins at something this cannot type.
  let j = i;
  while (j > 0 && (text[j - 1] === ' ' || text[j - 1] === '\t')) j--;
  if (text[j - 1] === ')' || text[j - 1] === ']' || text[j - 1] === '.') return undefined;
  return { chain };
}

/**
 * The definitions of method `name` on the receiver's type, found through the declarations in the
 * text before the cursor (`x: T`, `x = new T(`, `x := &T{`, Go's `x *T` parameters, Python's
 * `x = T(`), the class around the cursor for `this`/`self`, fields' declared types along the chain,
 * and base classes named in a type's header (`extends`, Python's bases). Only what the index and
 * the document hold: no file is read. `late` is looked at between steps. `abstract`: the methods
 * found are an interface's (or a type's) signatures, their implementation somewhere else.
 */
export function receiverMethods(req: ContextRequest, index: WorkspaceIndex, table: ImportTable, receiver: Receiver, name: string, late: () => boolean): { symbols: IndexedSymbol[]; type: string; abstract: boolean } | undefined {
  const root = req.abs && req.abs.endsWith(req.relPath) ? req.abs.slice(0, req.abs.length - req.relPath.length) : undefined;
  const tables = new Map<string, ImportTable | undefined>();
  /** The import table of an indexed file (the current one's is the request's own). */
  const tableOf = (path: string): ImportTable | undefined => {
    if (path === req.relPath) return table;
    if (!tables.has(path)) {
      const abs = root === undefined ? undefined : join(root, path);
      const e = abs ? index.get(abs) : undefined;
      tables.set(path, e && abs ? new ImportTable(index, abs, e.lang, e.imports, index.version) : undefined);
    }
    return tables.get(path);
  };
  /** A type name as written in `path` (`T` or `ns.T`) to its definitions. */
  const resolveType = (written: string, path: string): IndexedSymbol[] => {
    const dot = written.lastIndexOf('.');
    const t = tableOf(path);
    if (dot > 0) {
      const ref = t?.namespaces.get(written.slice(0, dot));
      return ref && t ? t.inFiles(t.filesOf(ref.source), written.slice(dot + 1)).filter((s) => TYPE_KINDS.has(s.kind)) : [];
    }
    const imported = t?.imported(written)?.hits.filter((s) => TYPE_KINDS.has(s.kind));
    if (imported && imported.length) return imported;
    const all = index.lookup(written).filter((s) => TYPE_KINDS.has(s.kind));
    const own = all.filter((s) => s.path === path);
    if (own.length) return own;
    // Go: a type of the same package (the same folder) before any other of that name.
    const sibling = all.filter((s) => dirOf(s.path) === dirOf(path));
    return (sibling.length ? sibling : all.length <= 2 ? all : []).slice(0, 2);
  };

  // The chain's first link: `this.field` is typed by the document's own text (the class being
  // edited), a bare `this.` by the bases its header names.
  let [first, ...rest] = receiver.chain;
  let types: IndexedSymbol[] = [];
  let typeName: string | undefined;
  if (first === 'this' || first === 'self') {
    const cls = enclosingClass(req);
    if (!cls) return undefined;
    if (rest.length === 0) {
      typeName = cls.name;
      for (const b of baseNames({ name: cls.name, runs: [{ start: 0, text: cls.header }] })) types.push(...resolveType(b, req.relPath));
    } else {
      [first, ...rest] = rest;
      typeName = declaredType(req, first!);
    }
  } else typeName = first!.endsWith('{}') ? first!.slice(0, -2) : declaredType(req, first!);
  if (!typeName || BUILTIN.has(typeName)) return undefined;
  if (types.length === 0) types = resolveType(typeName, req.relPath);
  // Then each field along the chain, by its declared type in the type's lines.
  for (const field of rest) {
    if (late() || types.length === 0) return undefined;
    let next: string | undefined;
    for (const t of types) next ??= fieldType(t, field);
    if (!next || BUILTIN.has(next)) return undefined;
    const owner = types.find((t) => fieldType(t, field) === next) ?? types[0]!;
    typeName = next;
    types = resolveType(next, owner.path);
  }
  // The method on the type, else on its bases.
  const seen = new Set<string>();
  for (let depth = 0; depth <= MAX_BASES_DEPTH && types.length > 0 && !late(); depth++) {
    const found: IndexedSymbol[] = [];
    const bases: IndexedSymbol[] = [];
    let abstract = true;
    for (const t of types) {
      const key = `${t.path}:${t.line}`;
      if (seen.has(key)) continue;
      seen.add(key);
      // (Go's methods live in any file of the type's package.)
      const before = found.length;
      for (const s of index.lookup(name)) if (s.container === t.name && (s.path === t.path || (req.lang === 'go' && dirOf(s.path) === dirOf(t.path)))) found.push(s);
      if (found.length > before && !ABSTRACT_KINDS.has(t.kind)) abstract = false;
      if (found.length === 0) for (const b of baseNames(t)) bases.push(...resolveType(b, t.path));
    }
    if (found.length) return { symbols: found, type: found[0]!.container ?? typeName!, abstract };
    types = bases;
  }
  return undefined;
}

const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/') + 1);

/**
 * The name of the class around the cursor: from the tree, else (the line being typed often leaves
 * the tree in error there) the nearest `class X` above, indented less than the cursor's line.
 */
function enclosingClass(req: ContextRequest): { name: string; header: string } | undefined {
  if (req.tree) {
    for (const n of ancestors(req.tree, Math.max(0, req.offset - 1))) {
      if (!CLASS_NODES.has(n.type)) continue;
      const name = n.childForFieldName('name')?.text;
      const body = n.childForFieldName('body');
      return name ? { name, header: req.text.slice(n.startIndex, body ? body.startIndex : Math.min(n.endIndex, n.startIndex + 400)) } : undefined;
    }
  }
  const lineStart = req.text.lastIndexOf('\n', req.offset - 1) + 1;
  const indent = /^[ \t]*/.exec(req.text.slice(lineStart, req.offset))![0].length;
  const zone = req.text.slice(Math.max(0, lineStart - DECLARATION_WINDOW), lineStart);
  let found: { name: string; header: string } | undefined;
  for (const m of zone.matchAll(/^([ \t]*)((?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)[^\n{]*)/gm)) if (m[1]!.length < indent) found = { name: m[3]!, header: m[2]! };
  return found;
}

const TYPE_WORD = '((?:[A-Za-z_$][\\w$]*\\.)?[A-Z][\\w$]*)';

/**
 * The type a variable or field was last declared with before the cursor: `x: T`, `x: ns.T`,
 * `x = new T(`, `x = T(` (Python), `x := T{` / `&T{`, `var x T`, Go's `x *T` in a parameter list.
 */
function declaredType(req: ContextRequest, name: string): string | undefined {
  return declaredTypeBefore(req.text, req.offset, req.lang, name);
}

/** `declaredType` on a text and offset (the cursor), for a language. */
export function declaredTypeBefore(text: string, offset: number, lang: string | undefined, name: string): string | undefined {
  if (!/^[A-Za-z_$][\w$]*$/.test(name) || name === 'this' || name === 'self') return undefined;
  const zone = text.slice(Math.max(0, offset - DECLARATION_WINDOW), offset);
  const n = name.replace(/\$/g, '\\$');
  const forms = [`\\b${n}\\??\\s*:\\s*(?:readonly\\s+)?${TYPE_WORD}`, `\\b${n}\\s*(?::[^=\\n]*)?:?=\\s*(?:await\\s+)?(?:new\\s+)?&?${TYPE_WORD}\\s*[({]`];
  if (lang === 'go') forms.push(`(?:[(,]|\\bvar)\\s*${n}\\s+\\*?${TYPE_WORD}`);
  const re = new RegExp(forms.join('|'), 'g');
  let last: string | undefined;
  for (let m = re.exec(zone); m; m = re.exec(zone)) last = m[1] ?? m[2] ?? m[3];
  return last;
}

/** A field's declared type in a type's indexed lines (`name: T`, `name?: ns.T`, Go's `Name *T`, Python's `self.name = T(`). */
function fieldType(t: IndexedSymbol, field: string): string | undefined {
  const f = field.replace(/\$/g, '\\$');
  const re = new RegExp(`(?:^|[\\s.;{,(])${f}\\??\\s*(?::\\s*(?:readonly\\s+)?${TYPE_WORD}|=\\s*(?:new\\s+)?${TYPE_WORD}\\s*\\(|\\s+\\*?${TYPE_WORD}\\s*(?:$|\\s|\`|//))`, 'm');
  for (const r of t.runs) {
    const m = re.exec(r.text);
    if (m) return m[1] ?? m[2] ?? m[3];
  }
  return undefined;
}

/** The base types a type's header names: `extends A`, `implements B, C`, Python's `class X(A, B):`, an interface's `extends`. */
function baseNames(t: Pick<IndexedSymbol, 'name' | 'runs'>): string[] {
  const header = t.runs[0]?.text.split('\n').slice(0, 3).join(' ') ?? '';
  const out: string[] = [];
  const py = /^\s*class\s+\w+\s*\(([^)]*)\)/.exec(header);
  if (py) for (const b of py[1]!.split(',')) if (/^\s*[\w.]+\s*$/.test(b)) out.push(b.trim());
  const ext = /\b(?:extends|implements)\s+([^{]*)/.exec(header);
  if (ext) for (const m of ext[1]!.replace(/<[^<>]*(?:<[^<>]*>[^<>]*)*>/g, '').matchAll(/[A-Za-z_$][\w$.]*/g)) if (m[0] !== 'implements' && m[0] !== 'extends') out.push(m[0]);
  return out.filter((b) => !BUILTIN.has(b) && b !== 'object' && b !== t.name);
}
