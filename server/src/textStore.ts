// An open document's text, kept in chunks so that a keystroke costs one chunk, not the document.
//
// vscode-languageserver-textdocument keeps one string: each edit concatenates the whole text anew,
// and the next edit's `substring` flattens that cons-string (2 MB copied, 7-13 ms per keystroke
// on a 2 MB file). Here an edit rebuilds only the chunk(s) it touches (a few kB) and counts their
// line ends; the offsets and line counts of the chunks after it are summed again (one number per
// chunk). A chunk's line starts are worked out when a position in it is first asked for. Positions,
// offsets and ranges are read from the chunks; the whole text is joined only when a reader asks
// for it, and kept until the next edit.
//
// Positions are in UTF-16 code units, lines end at CR LF, CR or LF, and out-of-range positions
// clamp exactly as vscode-languageserver-textdocument's do (test/unit/textStore.test.ts compares
// the two on seeded random edits).
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Position, Range } from './documents.js';

/** A chunk is split once it grows past MAX_CHUNK; a new text is cut into CHUNK-sized ones. */
const CHUNK = 4096;
const MAX_CHUNK = 2 * CHUNK;
/** A chunk left shorter than this by an edit is merged into a neighbour. */
const MIN_CHUNK = CHUNK >> 2;

const CR = 13;
const LF = 10;

/** The line ends (CR LF, CR or LF) in `s`. */
function lineEndsIn(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === LF) n++;
    else if (ch === CR) {
      if (s.charCodeAt(i + 1) === LF) i++;
      n++;
    }
  }
  return n;
}

/** The offsets, within `s`, at which a line starts after a line end; `n` of them (lineEndsIn). */
function lineStartsIn(s: string, n: number): Uint32Array {
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === LF) out[k++] = i + 1;
    else if (ch === CR) {
      if (s.charCodeAt(i + 1) === LF) i++;
      out[k++] = i + 1;
    }
  }
  return out;
}

/**
 * `s` cut into pieces of about CHUNK characters, never between a CR and what follows it (so a
 * chunk other than the last never ends in CR, and a CR LF pair is never split).
 */
function cut(s: string): string[] {
  if (s.length <= MAX_CHUNK) return [s];
  const out: string[] = [];
  let at = 0;
  while (s.length - at > MAX_CHUNK) {
    let end = at + CHUNK;
    while (end < s.length && s.charCodeAt(end - 1) === CR) end++;
    out.push(s.slice(at, end));
    at = end;
  }
  if (at < s.length) out.push(s.slice(at));
  return out;
}

/** The last index in `xs` (ascending) whose value is <= `x`; -1 when none. */
function lastAtMost(xs: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}

/**
 * What a reader that looks at a few places of a text needs: a string, or a ChunkedText (which
 * reads them from its chunks, without joining the whole text).
 */
export interface TextReader {
  readonly length: number;
  charCodeAt(index: number): number;
  slice(start: number, end: number): string;
}

/** An incremental change (its range as the client sent it) or the whole new text. */
export type TextChange = { range: Range; text: string } | { text: string };

/**
 * The text of a document at one moment, cheap to take (the chunks are shared, never changed):
 * `text` joins them on first use.
 */
export class TextSnapshot implements TextReader {
  private joined: string | undefined;
  constructor(
    private readonly chunks: readonly string[],
    readonly length: number,
    joined?: string,
  ) {
    this.joined = joined;
  }

  /** How many times the chunks were joined (0 or 1; a test's check that a reader does not). */
  joins = 0;

  get text(): string {
    if (this.joined === undefined) {
      this.joins++;
      this.joined = this.chunks.join('');
    }
    return this.joined;
  }

  /** As String.slice with `0 <= start`, read from the chunks (a walk over them: for a few reads). */
  slice(start: number, end: number): string {
    if (this.joined !== undefined) return this.joined.slice(start, end);
    start = Math.max(0, Math.min(start, this.length));
    end = Math.max(start, Math.min(end, this.length));
    const parts: string[] = [];
    let at = 0;
    for (const c of this.chunks) {
      const next = at + c.length;
      if (next > start && at < end) parts.push(c.slice(Math.max(0, start - at), Math.min(c.length, end - at)));
      if (next >= end) break;
      at = next;
    }
    return parts.join('');
  }

  charCodeAt(index: number): number {
    return index >= 0 && index < this.length ? this.slice(index, index + 1).charCodeAt(0) : NaN;
  }
}

/** A document's text: the TextDocument interface the server reads, over chunks. */
export class ChunkedText implements TextDocument, TextReader {
  private chunks: string[] = [''];
  /** Per chunk: its line ends. */
  private ends: number[] = [0];
  /**
   * Per chunk: where lines start in it (after a line end), relative to the chunk; worked out when
   * a position in the chunk is first asked for (most chunks of an open document never are).
   */
  private starts: (Uint32Array | undefined)[] = [undefined];
  /** Per chunk: its offset in the text; one more entry, the length. */
  private offsets: number[] = [0, 0];
  /** Per chunk: the number of line ends before it; one more entry, the total. */
  private breaks: number[] = [0, 0];
  /** The text joined, until the next edit. */
  private joined: string | undefined;
  private _version: number;
  /** How many times the whole text was joined (a test's check that a reader does not). */
  joins = 0;

  constructor(
    readonly uri: string,
    readonly languageId: string,
    version: number,
    content: string,
  ) {
    this._version = version;
    this.reset(content);
  }

  get version(): number {
    return this._version;
  }

  get length(): number {
    return this.offsets[this.chunks.length]!;
  }

  get lineCount(): number {
    return this.breaks[this.chunks.length]! + 1;
  }

  /** The whole text (joined once per edit) or the text of `range` (read from its chunks). */
  getText(range?: Range): string {
    if (!range) {
      if (this.joined === undefined) {
        this.joins++;
        this.joined = this.chunks.join('');
      }
      return this.joined;
    }
    const a = this.offsetAt(range.start);
    const b = this.offsetAt(range.end);
    return a <= b ? this.slice(a, b) : this.slice(b, a);
  }

  /** The text between two offsets (clamped), without joining the whole text. */
  slice(start: number, end: number): string {
    const len = this.length;
    start = Math.max(0, Math.min(start, len));
    end = Math.max(start, Math.min(end, len));
    if (this.joined !== undefined) return this.joined.slice(start, end);
    if (start === end) return '';
    let i = this.chunkAt(start);
    const first = this.chunks[i]!;
    const from = start - this.offsets[i]!;
    if (end <= this.offsets[i + 1]!) return first.slice(from, end - this.offsets[i]!);
    const parts = [first.slice(from)];
    for (i++; end > this.offsets[i + 1]!; i++) parts.push(this.chunks[i]!);
    parts.push(this.chunks[i]!.slice(0, end - this.offsets[i]!));
    return parts.join('');
  }

  /** The UTF-16 code unit at `offset` (NaN outside the text), as String.charCodeAt. */
  charCodeAt(offset: number): number {
    if (offset < 0 || offset >= this.length) return NaN;
    const i = this.chunkAt(offset);
    return this.chunks[i]!.charCodeAt(offset - this.offsets[i]!);
  }

  /** Whether `s` occurs at `offset`, as String.startsWith, without joining the whole text. */
  startsWith(s: string, offset: number): boolean {
    const at = Math.max(0, Math.min(offset, this.length));
    return at + s.length <= this.length && this.slice(at, at + s.length) === s;
  }

  /** The text as it is now, to read after later edits. */
  snapshot(): TextSnapshot {
    return new TextSnapshot(this.chunks.slice(), this.length, this.joined);
  }

  offsetAt(position: Position): number {
    const lines = this.lineCount;
    if (position.line >= lines) return this.length;
    if (position.line < 0) return 0;
    const lineOffset = this.lineOffset(position.line);
    if (position.character <= 0) return lineOffset;
    const next = position.line + 1 < lines ? this.lineOffset(position.line + 1) : this.length;
    return this.beforeEol(Math.min(lineOffset + position.character, next), lineOffset);
  }

  positionAt(offset: number): Position {
    offset = Math.max(Math.min(offset, this.length), 0);
    const i = this.chunkAt(offset);
    const local = offset - this.offsets[i]!;
    const starts = this.startsOf(i);
    const k = lastAtMost(starts, local);
    const line = this.breaks[i]! + k + 1;
    const lineOffset = k >= 0 ? this.offsets[i]! + starts[k]! : this.lineOffset(line);
    return { line, character: this.beforeEol(offset, lineOffset) - lineOffset };
  }

  /** Line `line` without its line end; past the last line, the last line; before the first, an empty range. */
  getLineRange(line: number): Range {
    const lines = this.lineCount;
    if (line >= lines) {
      const last = lines - 1;
      return { start: { line: last, character: 0 }, end: { line: last, character: this.length - this.lineOffset(last) } };
    }
    if (line < 0) return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    const start = this.lineOffset(line);
    const next = line + 1 < lines ? this.lineOffset(line + 1) : this.length;
    return { start: { line, character: 0 }, end: { line, character: this.beforeEol(next, start) - start } };
  }

  /** The line end of line `line` ('' for the last line and for lines out of range). */
  getEOLCharacters(line: number): string {
    const lines = this.lineCount;
    if (line >= lines || line < 0) return '';
    const start = this.lineOffset(line);
    const next = line + 1 < lines ? this.lineOffset(line + 1) : this.length;
    return this.slice(this.beforeEol(next, start), next);
  }

  /**
   * Applies changes in order, as TextDocument.update does: a range's ends are taken in either
   * order and clamped to the text; a change without a range replaces the whole text.
   */
  update(changes: readonly TextChange[], version: number): void {
    for (const c of changes) {
      if ('range' in c && c.range !== undefined) {
        let { start, end } = c.range;
        if (start.line > end.line || (start.line === end.line && start.character > end.character)) [start, end] = [end, start];
        this.replace(this.offsetAt(start), this.offsetAt(end), c.text);
      } else this.reset(c.text);
    }
    this._version = version;
  }

  /** Replaces the text between two offsets (start <= end, both within the text) with `text`. */
  replace(start: number, end: number, text: string): void {
    this.joined = undefined;
    let a = this.chunkAt(start);
    let b = end > start ? this.chunkAt(end - 1) : a;
    let piece = this.chunks[a]!.slice(0, start - this.offsets[a]!) + text + this.chunks[b]!.slice(end - this.offsets[b]!);
    const n = this.chunks.length;
    // A chunk other than the last never ends in CR (a CR LF pair is never split, and a CR at a
    // chunk's end is a line end by itself); a short one joins a neighbour.
    while (b + 1 < n && (piece.charCodeAt(piece.length - 1) === CR || (piece.length < MIN_CHUNK && this.chunks[b + 1]!.length + piece.length <= MAX_CHUNK))) piece += this.chunks[++b]!;
    if (piece.length < MIN_CHUNK && a > 0 && this.chunks[a - 1]!.length + piece.length <= MAX_CHUNK) piece = this.chunks[--a]! + piece;
    const pieces = piece.length === 0 && n > b - a + 1 ? [] : cut(piece);
    const ends = pieces.map(lineEndsIn);
    const starts = pieces.map(() => undefined);
    if (pieces.length < 10_000) {
      this.chunks.splice(a, b - a + 1, ...pieces);
      this.ends.splice(a, b - a + 1, ...ends);
      this.starts.splice(a, b - a + 1, ...starts);
    } else {
      // Not as arguments: a call takes only so many.
      this.chunks = this.chunks.slice(0, a).concat(pieces, this.chunks.slice(b + 1));
      this.ends = this.ends.slice(0, a).concat(ends, this.ends.slice(b + 1));
      this.starts = this.starts.slice(0, a).concat(starts, this.starts.slice(b + 1));
    }
    this.sum(a);
  }

  private reset(content: string): void {
    this.chunks = cut(content);
    this.ends = this.chunks.map(lineEndsIn);
    this.starts = this.chunks.map(() => undefined);
    this.offsets = [0];
    this.breaks = [0];
    this.sum(0);
    this.joined = content;
  }

  /** The chunk offsets and line-end counts again, from chunk `from` on. */
  private sum(from: number): void {
    const n = this.chunks.length;
    this.offsets.length = n + 1;
    this.breaks.length = n + 1;
    for (let i = from; i < n; i++) {
      this.offsets[i + 1] = this.offsets[i]! + this.chunks[i]!.length;
      this.breaks[i + 1] = this.breaks[i]! + this.ends[i]!;
    }
  }

  /** The chunk holding `offset`: the last one starting at or before it (the last chunk for the end). */
  private chunkAt(offset: number): number {
    return Math.min(lastAtMost(this.offsets, offset), this.chunks.length - 1);
  }

  /** Where line `line` (0 < line < lineCount, or 0) starts. */
  private lineOffset(line: number): number {
    if (line <= 0) return 0;
    // The chunk holding the line's (line - 1)th line end: the last with fewer line ends before it.
    const i = lastAtMost(this.breaks, line - 1);
    return this.offsets[i]! + this.startsOf(i)[line - 1 - this.breaks[i]!]!;
  }

  private startsOf(i: number): Uint32Array {
    return (this.starts[i] ??= lineStartsIn(this.chunks[i]!, this.ends[i]!));
  }

  /** `offset` moved back off the line end it is in or after, no further than `lineOffset`. */
  private beforeEol(offset: number, lineOffset: number): number {
    while (offset > lineOffset) {
      const ch = this.charCodeAt(offset - 1);
      if (ch !== CR && ch !== LF) break;
      offset--;
    }
    return offset;
  }
}
