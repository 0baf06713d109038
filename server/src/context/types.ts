// Plain types of the context stage: indexed symbols, imports, and the snippets sources offer for a prompt.
import type { LanguageName } from '../syntax/languages.js';
import type { Tree } from '../syntax/tree.js';

export type SymbolKind = 'function' | 'method' | 'class' | 'interface' | 'type' | 'enum' | 'struct' | 'trait' | 'constant';

/** Whole lines of one file: `text` is lines start..start+k joined by `\n`, without a final line break. */
export interface Run {
  /** 0-based line of the first line. */
  start: number;
  text: string;
}

/** One definition found by a tag query, with the lines the prompt would show for it. */
export interface IndexedSymbol {
  name: string;
  kind: SymbolKind;
  /** The class, interface, impl or receiver type a method belongs to. */
  container?: string;
  /** Workspace-relative path with `/` separators (the form privacy globs match). */
  path: string;
  /** 0-based first and last line of the whole definition. */
  line: number;
  endLine: number;
  /** Signature lines (and a short body, or a type's member signatures). */
  runs: Run[];
}

/** One import statement: what module it names, and which local names it binds. */
export interface ImportRef {
  /** The module as written: './orders', 'pkg.mod', 'example.com/shop/orders', 'crate::orders', 'com.x.Order'. */
  source: string;
  /** Named bindings: `imported` in the module, `local` in this file ('default' for default imports). */
  names: { imported: string; local: string }[];
  /**
   * A local name bound to the whole module (namespace import, `export * as ns from`, Go package,
   * Python module: its alias, or the dotted path for `import pkg.mod`, Rust `mod x;`); `'*'` for
   * every name of it (`export * from`, `from .x import *`, Rust `use x::*`, Java `import x.*`).
   */
  namespace?: string;
}

/** A name a file exports for one of its own definitions under another name: `export default f`, `export { a as b }`. */
export interface ExportAlias {
  /** The exported name ('default' for a default export). */
  name: string;
  /** The definition's name in the file. */
  local: string;
}

export interface FileSymbols {
  symbols: Omit<IndexedSymbol, 'path'>[];
  imports: ImportRef[];
  /** Only the aliases: a definition exported under its own name needs no entry. */
  exports: ExportAlias[];
}

/** What a context snippet is; each kind is one segment kind in `prompt --json`. */
export type SnippetKind = 'definition' | 'enclosing' | 'similar' | 'recentEdit';

/** A snippet a source proposes: lines of one file, with a score in [0, 1] for ranking. */
export interface Candidate {
  kind: SnippetKind;
  path: string;
  runs: Run[];
  score: number;
  /** Short reason, for `prompt --json` and debugging ("imported parseOrder", "similar lines"). */
  why: string;
}

/** Splits `text` into lines (without their line breaks; `\r` dropped). */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  return lines;
}

/** Runs of consecutive rows out of a sorted list of distinct row numbers. */
export function rowsToRuns(lineAt: (row: number) => string | undefined, rows: readonly number[]): Run[] {
  const runs: Run[] = [];
  let start = -1;
  let prev = -2;
  let buf: string[] = [];
  for (const r of rows) {
    const line = lineAt(r);
    if (line === undefined) continue;
    if (r !== prev + 1) {
      if (buf.length) runs.push({ start, text: buf.join('\n') });
      buf = [];
      start = r;
    }
    buf.push(line);
    prev = r;
  }
  if (buf.length) runs.push({ start, text: buf.join('\n') });
  return runs;
}

/** What a context source sees of one inline request: plain data and cheap accessors, no I/O. */
export interface ContextRequest {
  uri: string;
  /** Absolute path of the document, when it is a file. */
  abs?: string;
  relPath: string;
  lang?: LanguageName;
  /**
   * The document's text, or for a big one a window of it around the cursor (tens of K characters
   * each side; pipeline/inline.ts): `offset` is into `text`, rows are always the document's.
   */
  text: string;
  offset: number;
  cursorLine: number;
  /** The document's latest tree (edited, perhaps not re-parsed): read, never parsed here. */
  tree?: Tree;
  /** One line of the document, without its line break. */
  lineAt(row: number): string | undefined;
  lineCount: number;
}

/**
 * One context source: gathers candidates for a request, the likeliest first, checking inside its
 * loops whether `now()` has passed `deadline` and then returning what it has found so far.
 */
export interface ContextSource {
  readonly name: string;
  gather(req: ContextRequest, deadline: number, now?: () => number): Candidate[];
}

/** The clock sources read when the engine gives none. */
export const wallClock = (): number => performance.now();
