// One tree-sitter tree per open document, kept in step with edits by tree.edit + incremental re-parse.
import Parser from 'tree-sitter';
import { grammar, type LanguageInfo, type LanguageName } from './languages.js';

export type Tree = Parser.Tree;
export type SyntaxNode = Parser.SyntaxNode;
export interface Point { row: number; column: number }

/** Bigger files complete from plain text windows: a parse would cost more than it helps. */
export const MAX_PARSE_CHARS = 2_000_000;

/** A deferred parse waits at most this long for the server to be idle. */
export const MAX_PARSE_DEFER_MS = 1000;

/** Parsers are stateful and not cheap to create: one per language, shared by all documents. */
export class ParserPool {
  private readonly parsers = new Map<LanguageName, Parser>();

  /**
   * @param busy true while a latency-critical request is in flight: background parses wait for it
   *   to end, so a re-parse never delays the handling of a backend's answer.
   */
  constructor(readonly busy: () => boolean = () => false) {}

  parse(lang: LanguageName, text: string, old?: Tree): Tree {
    let p = this.parsers.get(lang);
    if (!p) {
      p = new Parser();
      p.setLanguage(grammar(lang) as Parser.Language);
      this.parsers.set(lang, p);
    }
    // The binding reads strings in UTF-16 and reports UTF-16 offsets, the unit LSP uses too.
    // Large files need a buffer bigger than the 32 KiB default or parse() reads them in slices.
    return p.parse(text, old ?? null, { bufferSize: Math.max(32 * 1024, text.length * 2 + 2) });
  }
}

/** An edit in the units tree.edit wants (UTF-16 offsets and rows/columns), before it is applied. */
export interface TreeEdit {
  startIndex: number;
  oldEndIndex: number;
  newEndIndex: number;
  startPosition: Point;
  oldEndPosition: Point;
  newEndPosition: Point;
}

export function endPointAfterInsert(start: Point, inserted: string): Point {
  const lastNl = inserted.lastIndexOf('\n');
  if (lastNl < 0) return { row: start.row, column: start.column + inserted.length };
  let rows = 0;
  for (let i = inserted.indexOf('\n'); i >= 0; i = inserted.indexOf('\n', i + 1)) rows++;
  return { row: start.row + rows, column: inserted.length - lastNl - 1 };
}

/**
 * The tree of one document. Edits are applied to the old tree at once (cheap, keeps node
 * positions right), but the re-parse waits until typing pauses, so a keystroke's request
 * never pays for it; `fresh()` parses on demand for callers that need an exact tree.
 */
export class DocumentTree {
  private tree: Tree | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly language: LanguageInfo,
    private readonly pool: ParserPool,
    private readonly text: () => string,
    private readonly idleMs = 30,
  ) {}

  /**
   * The latest tree, possibly edited but not re-parsed since the last keystroke; undefined until
   * the first parse has run (it is scheduled on open, never done on a request's path).
   */
  current(): Tree | undefined {
    if (!this.tree) this.schedule();
    return this.tree;
  }

  /** A tree that matches the text exactly (parses now if edits are pending). */
  fresh(): Tree | undefined {
    if (this.tree && !this.dirty) return this.tree;
    this.cancelTimer();
    const text = this.text();
    if (text.length > MAX_PARSE_CHARS) {
      this.tree = undefined;
      this.dirty = false;
      return undefined;
    }
    this.tree = this.pool.parse(this.language.name, text, this.tree);
    this.dirty = false;
    return this.tree;
  }

  edit(e: TreeEdit): void {
    if (!this.tree) return; // the scheduled first parse reads the current text anyway
    this.tree.edit(e);
    this.dirty = true;
    this.cancelTimer();
    this.schedule();
  }

  /** Parse after `idleMs` without further edits, and once no inline request is in flight. */
  schedule(): void {
    if (this.timer) return;
    const since = performance.now();
    const tick = () => {
      this.timer = undefined;
      if (this.pool.busy() && performance.now() - since < MAX_PARSE_DEFER_MS) {
        this.timer = setTimeout(tick, this.idleMs);
        this.timer.unref?.();
        return;
      }
      this.fresh();
    };
    this.timer = setTimeout(tick, this.idleMs);
    this.timer.unref?.();
  }

  dispose(): void {
    this.cancelTimer();
    this.tree = undefined;
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
