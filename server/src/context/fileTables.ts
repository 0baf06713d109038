// Per-document work that does not depend on the cursor, done when a document opens, settles or is indexed: its imports with what they resolve to, and its identifier counts.
import type { LanguageName } from '../syntax/languages.js';
import type { Tree } from '../syntax/tree.js';
import { identifierTable, type IdentifierTable } from './identifiers.js';
import type { WorkspaceIndex } from './index.js';
import { extractImports } from './tags.js';
import type { ImportRef, IndexedSymbol } from './types.js';

/** Documents whose tables are kept (the open ones, most recently prepared or asked). */
const MAX_DOCS = 32;
/** Import statements read from a document that the index does not hold. */
const MAX_IMPORT_STATEMENTS = 200;

/**
 * What an imported name resolved to: the files its import names, its definitions there (through
 * re-exports), and, when it names a module instead (`from pkg import mod`, `use crate::m`,
 * `export * as ns`), that module's files.
 */
export interface Resolved {
  files: readonly string[];
  hits: readonly IndexedSymbol[];
  modules: readonly string[];
}

/**
 * One file's imports as the definitions source reads them: the local names they bind, the module
 * aliases, and (memoised, so computed once per index version) the files and definitions they
 * lead to.
 */
export class ImportTable {
  readonly local = new Map<string, { ref: ImportRef; imported: string }>();
  readonly namespaces = new Map<string, ImportRef>();
  private readonly files = new Map<string, string[]>();
  /** Per file list (as `filesOf` memoised it), definitions by name. */
  private readonly named = new WeakMap<readonly string[], Map<string, IndexedSymbol[]>>();
  private readonly resolvedNames = new Map<string, Resolved>();

  constructor(
    private readonly index: WorkspaceIndex,
    private readonly abs: string | undefined,
    private readonly lang: LanguageName,
    readonly imports: readonly ImportRef[],
    readonly version: number,
  ) {
    for (const ref of imports) {
      for (const n of ref.names) this.local.set(n.local, { ref, imported: n.imported });
      if (ref.namespace && ref.namespace !== '*') this.namespaces.set(ref.namespace, ref);
    }
  }

  /** The indexed files a module path names (a Go import: every file of the package). */
  filesOf(source: string): string[] {
    let f = this.files.get(source);
    if (!f) {
      f = this.abs ? this.index.resolveImport(this.abs, this.lang, source) : [];
      this.files.set(source, f);
    }
    return f;
  }

  /**
   * A Python `from pkg import mod`, Rust `use crate::orders` or TS `export * as ns` names a module,
   * not a symbol: its files (as the import's files export it, else as a submodule of its source).
   */
  moduleFiles(ref: ImportRef, name: string): readonly string[] {
    const files = this.filesOf(ref.source);
    const modules = files.length ? this.index.exported(files, name).modules : [];
    if (modules.length) return modules;
    const sep = this.lang === 'python' ? (ref.source.endsWith('.') ? '' : '.') : this.lang === 'rust' ? '::' : undefined;
    return sep === undefined ? [] : this.filesOf(ref.source + sep + name);
  }

  /**
   * Definitions of `name` that `files` (a list `filesOf` gave) export, through re-exports (barrels,
   * `__init__.py`, `pub use`): the top-level ones, else members of that name.
   */
  inFiles(files: readonly string[], name: string): readonly IndexedSymbol[] {
    if (files.length === 0) return [];
    let byName = this.named.get(files);
    if (!byName) this.named.set(files, (byName = new Map()));
    let hits = byName.get(name);
    if (!hits) byName.set(name, (hits = this.index.exported(files, name).symbols));
    return hits;
  }

  /**
   * What the imported local name is defined as, through its import; undefined for a name not
   * imported. A default import is its file's default export, else a definition of its local name.
   */
  imported(localName: string): Resolved | undefined {
    const imp = this.local.get(localName);
    if (!imp) return undefined;
    let r = this.resolvedNames.get(localName);
    if (r) return r;
    const files = this.filesOf(imp.ref.source);
    let hits = this.inFiles(files, imp.imported);
    if (imp.imported === 'default' && hits.length === 0) hits = this.inFiles(files, localName);
    const modules = hits.length === 0 ? this.moduleFiles(imp.ref, imp.imported) : [];
    this.resolvedNames.set(localName, (r = { files, hits, modules }));
    return r;
  }

  /** Every binding resolved now, so that requests find the work done. */
  resolveAll(): void {
    for (const name of this.local.keys()) this.imported(name);
    for (const ref of this.namespaces.values()) this.filesOf(ref.source);
  }
}

/** The document a table is prepared for, as the context stage sees it. */
export interface PreparedDocument {
  uri: string;
  abs?: string;
  lang?: LanguageName;
  text: string;
  tree?: Tree;
}

/**
 * The tables of open documents. `prepare` fills them off the request path (a document opened,
 * settled, or the index finished); a request reads them, and only builds what is missing or stale
 * (the index changed since, or the document was never prepared).
 */
export class FileTables {
  private readonly imports = new Map<string, ImportTable>();
  private readonly identifiers = new Map<string, IdentifierTable>();
  /** Python imports inside functions (`from .x import f` in a method), as of the last preparation. */
  private readonly localImports = new Map<string, ImportRef[]>();
  /** A document's imports with its local ones, kept while neither changes (the table cache compares by identity). */
  private readonly merged = new Map<string, { top: readonly ImportRef[]; local: readonly ImportRef[]; all: readonly ImportRef[] }>();
  /** Imports read from a document's tree, for documents the index does not hold: once per parse. */
  private readonly treeImports = new WeakMap<Tree, ImportRef[]>();

  constructor(private readonly index: () => WorkspaceIndex | undefined) {}

  /** Counts the document's identifiers and resolves its imports now. */
  prepare(doc: PreparedDocument): void {
    const ids = identifierTable(doc.text);
    remember(this.identifiers, doc.uri, ids);
    remember(this.localImports, doc.uri, doc.lang === 'python' ? pythonLocalImports(doc.text) : undefined);
    this.importsFor(doc)?.table.resolveAll();
  }

  /** The document's identifier counts as of its last preparation. */
  identifiersOf(uri: string): IdentifierTable | undefined {
    return this.identifiers.get(uri);
  }

  /**
   * The document's import table: from the index's entry for its file (as of its last settled
   * text), else from its tree. `known` is false when neither exists (before the first parse of
   * a document outside the index): then the file's imports are unknown, not empty.
   */
  importsFor(doc: { uri: string; abs?: string; lang?: LanguageName; tree?: Tree }): { table: ImportTable; known: boolean } | undefined {
    const index = this.index();
    if (!index || !doc.lang) return undefined;
    const entry = doc.abs ? index.get(doc.abs) : undefined;
    let refs: readonly ImportRef[] | undefined = entry?.imports;
    if (!refs && doc.tree) {
      refs = this.treeImports.get(doc.tree);
      if (!refs) {
        const got = extractImports(doc.tree.rootNode, doc.lang, MAX_IMPORT_STATEMENTS);
        this.treeImports.set(doc.tree, got);
        refs = got;
      }
    }
    const key = doc.abs ?? doc.uri;
    const known = refs !== undefined;
    const local = this.localImports.get(doc.uri);
    if (local && local.length > 0) {
      const top = refs ?? EMPTY;
      let m = this.merged.get(key);
      if (!m || m.top !== top || m.local !== local) remember(this.merged, key, (m = { top, local, all: [...top, ...local] }));
      refs = m.all;
    }
    const cached = this.imports.get(key);
    if (cached && cached.imports === (refs ?? EMPTY) && cached.version === index.version) return { table: cached, known };
    const table = new ImportTable(index, doc.abs, doc.lang, refs ?? EMPTY, index.version);
    remember(this.imports, key, table);
    return { table, known };
  }

  /** A document closed: its tables go. */
  forget(uri: string, abs?: string): void {
    this.identifiers.delete(uri);
    this.localImports.delete(uri);
    this.merged.delete(abs ?? uri);
    this.imports.delete(abs ?? uri);
  }
}

/** Indented (so function-level) `from m import a, b as c` and `import a.b as c` lines; a parenthesised list may span lines. */
const PY_LOCAL_FROM = /^[ \t]+from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)/gm;
const PY_LOCAL_IMPORT = /^[ \t]+import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)/gm;
/** Local import statements read per document: one in a generated file's every function says nothing more. */
const MAX_LOCAL_IMPORTS = 200;

/**
 * A Python document's imports inside functions and methods, read from its text: the index keeps a
 * module's top-level imports (what it re-exports), but a name imported where it is used is as
 * much the file's.
 */
export function pythonLocalImports(text: string): ImportRef[] {
  const out: ImportRef[] = [];
  PY_LOCAL_FROM.lastIndex = 0;
  for (let m = PY_LOCAL_FROM.exec(text); m && out.length < MAX_LOCAL_IMPORTS; m = PY_LOCAL_FROM.exec(text)) {
    const ref: ImportRef = { source: m[1]!, names: [] };
    for (const part of m[2]!.replace(/[()\\]/g, ' ').split(',')) {
      const w = part.trim().split(/\s+/);
      if (w[0] === '*') ref.namespace = '*';
      else if (w[0] && /^\w+$/.test(w[0])) ref.names.push({ imported: w[0], local: w[1] === 'as' && w[2] ? w[2] : w[0] });
    }
    if (ref.names.length || ref.namespace) out.push(ref);
  }
  PY_LOCAL_IMPORT.lastIndex = 0;
  for (let m = PY_LOCAL_IMPORT.exec(text); m && out.length < MAX_LOCAL_IMPORTS; m = PY_LOCAL_IMPORT.exec(text)) {
    for (const part of m[1]!.split(',')) {
      const w = part.trim().split(/\s+/);
      if (w[0]) out.push({ source: w[0], names: [], namespace: w[1] === 'as' && w[2] ? w[2] : w[0] });
    }
  }
  return out;
}

const EMPTY: readonly ImportRef[] = [];

/** Sets `key` as the most recent entry (or deletes it for undefined), keeping at most MAX_DOCS. */
function remember<T>(m: Map<string, T>, key: string, value: T | undefined): void {
  m.delete(key);
  if (value === undefined) return;
  m.set(key, value);
  while (m.size > MAX_DOCS) m.delete(m.keys().next().value!);
}
