// The open documents: text (kept by incremental sync) and their syntax trees.
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { languageOf } from './syntax/languages.js';
import { DocumentTree, endPointAfterInsert, type ParseService, type TreeRetention } from './syntax/tree.js';
import { ChunkedText } from './textStore.js';

export interface Position { line: number; character: number }
export interface Range { start: Position; end: Position }
export type ContentChange = { range: Range; text: string } | { text: string };

/**
 * What a completion reads of a document: an open one, or one as it would read with an edit made
 * (the item selected in the editor's suggest widget inserted), sharing the open one's tree.
 */
export interface DocView {
  readonly uri: string;
  readonly languageId: string;
  readonly text: TextDocument;
  /** Content with NUL bytes: never parsed, never completed. */
  readonly binary: boolean;
  /** Undefined for languages without a grammar and for binary content. */
  readonly tree: Pick<DocumentTree, 'language' | 'current'> | undefined;
  /**
   * Set when `text` is a window of a big document around the cursor (pipeline/inline.ts): where
   * the window starts in the document (offset and line), and the whole document, to read rows
   * outside the window from its chunks. Offsets into `text` are the window's.
   */
  readonly window?: TextWindow;
}

/** Where a DocView's text sits in its document (see DocView.window). */
export interface TextWindow {
  /** The document offset of the window's first character. */
  readonly offset: number;
  /** The document line of the window's first line (the window starts at a line start, or inside a line longer than it). */
  readonly line: number;
  /** The document's line count, as the view reads (a selected item's line ends counted). */
  readonly lineCount: number;
  /** Line `row` of the document as the view reads, without its line end; read from the chunks. */
  lineAt(row: number): string | undefined;
  /** What keys the work done once per document version (the indentation detected). */
  readonly of: { readonly version: number };
}

export interface Doc extends DocView {
  /** Kept in chunks: a keystroke rebuilds a few kB, not the whole text (see textStore.ts). */
  readonly text: ChunkedText;
  readonly tree: DocumentTree | undefined;
}

/** Text with NUL bytes is not source code; we neither parse nor complete it. */
export function looksBinary(text: string): boolean {
  return text.indexOf('\u0000') !== -1;
}

/**
 * The edit of `doc` that makes it `next`: the span between their longest common head and tail.
 * Its ends are kept off the middle of a CR LF pair, where an LSP position cannot point.
 */
function differingSpan(doc: ChunkedText, next: string): { range: Range; text: string } {
  const old = doc.getText();
  const max = Math.min(old.length, next.length);
  let head = 0;
  while (head < max && old.charCodeAt(head) === next.charCodeAt(head)) head++;
  let tail = 0;
  while (tail < max - head && old.charCodeAt(old.length - 1 - tail) === next.charCodeAt(next.length - 1 - tail)) tail++;
  if (head > 0 && old[head - 1] === '\r' && old[head] === '\n') head--;
  if (tail > 0 && old[old.length - tail - 1] === '\r' && old[old.length - tail] === '\n') tail--;
  return { range: { start: doc.positionAt(head), end: doc.positionAt(old.length - tail) }, text: next.slice(head, next.length - tail) };
}

export class DocumentStore {
  private readonly docs = new Map<string, Doc>();

  /**
   * @param retention which documents keep a tree (none: all do, as in one-shot commands)
   * @param debug where a document's lack of a tree (too big, too slow to parse) is said
   */
  constructor(
    private readonly parser: ParseService,
    private readonly opts: { retention?: TreeRetention; debug?: (message: string) => void; slowReparseMs?: number; budgetMs?: number } = {},
  ) {}

  get(uri: string): Doc | undefined {
    return this.docs.get(uri);
  }

  open(uri: string, languageId: string, version: number, content: string): Doc {
    this.docs.get(uri)?.tree?.dispose();
    const text = new ChunkedText(uri, languageId, version, content);
    const binary = looksBinary(content);
    const lang = binary ? undefined : languageOf(languageId, uri);
    const tree = lang ? new DocumentTree(lang, { parser: this.parser, ...this.opts }, () => text.getText(), uri, () => text.length) : undefined;
    if (tree && this.opts.retention) this.opts.retention.opened(tree);
    else tree?.schedule();
    const doc: Doc = { uri, languageId, text, binary, tree };
    this.docs.set(uri, doc);
    return doc;
  }

  /** Applies LSP content changes in order, editing the tree for each so its positions stay true. */
  change(uri: string, version: number, changes: ContentChange[]): Doc | undefined {
    let doc = this.docs.get(uri);
    if (!doc) return undefined;
    for (const full of changes) {
      let change = full;
      if (!('range' in full)) {
        // A full replacement (clients without incremental sync send one per keystroke): made the
        // edit of the span where the texts differ, so the tree is edited and re-parsed
        // incrementally, and a parse under way goes on, instead of a new document's whole parse
        // (200 ms of slices for 400 kB, often cancelled by the next replacement).
        if (!doc.tree || looksBinary(full.text) !== doc.binary) {
          doc = this.open(uri, doc.languageId, version, full.text);
          continue;
        }
        change = differingSpan(doc.text, full.text);
      }
      if ('range' in change) {
        // A range given end first is taken in order, as TextDocument.update takes it.
        const [startIndex, oldEndIndex] = [doc.text.offsetAt(change.range.start), doc.text.offsetAt(change.range.end)].sort((x, y) => x - y) as [number, number];
        // Normalised positions: clients may send characters past the end of a line.
        const s = doc.text.positionAt(startIndex);
        const e = doc.text.positionAt(oldEndIndex);
        const startPosition = { row: s.line, column: s.character };
        doc.tree?.edit({
          startIndex,
          oldEndIndex,
          newEndIndex: startIndex + change.text.length,
          startPosition,
          oldEndPosition: { row: e.line, column: e.character },
          newEndPosition: endPointAfterInsert(startPosition, change.text),
        });
        doc.text.replace(startIndex, oldEndIndex, change.text);
      }
    }
    doc.text.update([], version);
    return doc;
  }

  close(uri: string): void {
    this.docs.get(uri)?.tree?.dispose();
    this.docs.delete(uri);
  }

  /** Every open document. */
  all(): IterableIterator<Doc> {
    return this.docs.values();
  }

  get size(): number {
    return this.docs.size;
  }
}
