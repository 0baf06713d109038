// What the user did lately, for next-edit prompts: per document its recent edits as steps (a word
// typed is one step), each a before/after pair of lines with its time; and places lately looked at
// in other documents. Plain data in, plain data out: the clock is injected.
import { unifiedDiff } from '../util/lineDiff.js';

/**
 * One meaningful edit of one document: from line `line` (0-based, as of before the step) the
 * lines `before` became `after`. Both sides start and end with the same up to STEP_CONTEXT lines
 * of unchanged context, `context` at each end saying how many.
 */
export interface EditStep {
  uri: string;
  /** Workspace-relative path (absolute outside the folders): the privacy gate's source. */
  path: string;
  /** 0-based first line of the change, in the document as it was before the step. */
  line: number;
  before: string[];
  after: string[];
  /** Unchanged lines at the head and at the tail of both sides. */
  context: { head: number; tail: number };
  /** When the step's last change came (the injected clock's time). */
  at: number;
}

/** A stretch of a document the user looked at (a request was made there): lines `start..end`, 0-based, inclusive. */
export interface ViewedRange {
  uri: string;
  path: string;
  start: number;
  end: number;
  at: number;
}

export interface HistoryDeps {
  now: () => number;
  relativePath: (uri: string) => string;
}

/** A pause this long closes a step: the next change starts another. */
export const STEP_PAUSE_MS = 1500;
/** A change more than this many lines from the open step's lines starts another step. */
export const STEP_NEAR_LINES = 1;
/** Steps kept per document, and in all. */
export const MAX_STEPS_PER_DOC = 16;
export const MAX_STEPS = 48;
/** A step's side longer than this is cut to its first lines (said with `truncated`). */
export const MAX_STEP_LINES = 40;
/** Characters of all kept steps together; the oldest go first past it. */
export const MAX_HISTORY_CHARS = 64_000;
export const MAX_VIEWED = 8;
/** Unchanged lines kept on each side of a step, as `diff -u` shows them. */
export const STEP_CONTEXT = 3;
/** Documents longer than this keep no history (the parse service's limit too). */
export const MAX_DOC_CHARS = 1_000_000;
/** Lines around a request's line recorded as viewed. */
export const VIEW_RADIUS = 8;

/** A text read only if needed: a string, or a snapshot that joins its chunks on first read (textStore.ts). */
export type LazyText = string | { readonly length: number; readonly text: string };

const textOf = (t: LazyText): string => (typeof t === 'string' ? t : t.text);

interface OpenStep {
  /** The whole text before the step's first change: joined when the step is diffed, not per keystroke. */
  base: LazyText;
  /** Lines the step touched, in the current text (inclusive). */
  lo: number;
  hi: number;
  last: number;
  /**
   * The step as diffed against the text now (null: no difference), until the next change: a
   * request reads it when it builds its prompt and again when the answer comes back.
   */
  diffed?: EditStep | null;
}

/**
 * Per document: the open step (its text before, the lines it covers in the text now) and the
 * closed steps, each the region of lines that differs (common head and tail cut off). A change
 * joins the open step when it comes within STEP_PAUSE_MS of the last one and touches lines within
 * STEP_NEAR_LINES of the step's; otherwise the step closes and a new one opens. Closing costs one
 * pass over the text; a change costs a few numbers.
 */
export class EditHistory {
  private readonly steps: EditStep[] = [];
  private readonly open = new Map<string, OpenStep>();
  private readonly current = new Map<string, () => string>();
  private readonly viewedRanges: ViewedRange[] = [];

  constructor(private readonly deps: HistoryDeps) {}

  /**
   * One content change of `uri`: `before` is the document's text before it, `line..endLine` the
   * lines it replaced (as of after the change, 0-based inclusive), `lineDelta` the lines it added
   * (negative: removed); `text()` reads the document's text now (read only when a step closes).
   */
  changed(uri: string, before: LazyText, line: number, endLine: number, lineDelta: number, text: () => string): void {
    // A document too big to parse is too big to keep a version of.
    if (before.length > MAX_DOC_CHARS) {
      this.open.delete(uri);
      return;
    }
    const now = this.deps.now();
    this.current.set(uri, text);
    const step = this.open.get(uri);
    if (step && now - step.last <= STEP_PAUSE_MS && line <= step.hi + STEP_NEAR_LINES && endLine - lineDelta >= step.lo - STEP_NEAR_LINES) {
      step.lo = Math.min(step.lo, line);
      step.hi = Math.max(step.hi + lineDelta, endLine);
      step.last = now;
      step.diffed = undefined;
      return;
    }
    if (step) this.close(uri, step, textOf(before));
    this.open.set(uri, { base: before, lo: line, hi: endLine, last: now });
  }

  /** The document's edits go, and places viewed in it: a closed document's history is over. */
  closed(uri: string): void {
    this.open.delete(uri);
    this.current.delete(uri);
    for (let i = this.steps.length - 1; i >= 0; i--) if (this.steps[i]!.uri === uri) this.steps.splice(i, 1);
    for (let i = this.viewedRanges.length - 1; i >= 0; i--) if (this.viewedRanges[i]!.uri === uri) this.viewedRanges.splice(i, 1);
  }

  /** A request was made at `line` of `uri`: the lines around it count as viewed. */
  viewed(uri: string, line: number, lineCount: number): void {
    const start = Math.max(0, line - VIEW_RADIUS);
    const end = Math.max(start, Math.min(lineCount - 1, line + VIEW_RADIUS));
    for (let i = this.viewedRanges.length - 1; i >= 0; i--) {
      const v = this.viewedRanges[i]!;
      if (v.uri === uri && start <= v.end && end >= v.start) this.viewedRanges.splice(i, 1);
    }
    this.viewedRanges.push({ uri, path: this.deps.relativePath(uri), start, end, at: this.deps.now() });
    if (this.viewedRanges.length > MAX_VIEWED) this.viewedRanges.shift();
  }

  /** Viewed ranges of documents other than `uri`, most recent first. */
  viewedElsewhere(uri: string): ViewedRange[] {
    return this.viewedRanges.filter((v) => v.uri !== uri).reverse();
  }

  /**
   * The steps of every document, oldest first, the open ones included as they stand now (an open
   * step is what the user is doing: the prompt needs it most). At most `max`, the newest.
   */
  recent(max = MAX_STEPS): EditStep[] {
    // Steps whose pause has passed are closed now, so that each document's text is diffed once
    // per step, not once per request.
    const now = this.deps.now();
    for (const [uri, step] of [...this.open]) {
      const text = this.current.get(uri);
      if (now - step.last > STEP_PAUSE_MS && text) this.close(uri, step, text());
    }
    const out = [...this.steps];
    for (const [uri, step] of this.open) {
      if (step.diffed === undefined) step.diffed = this.stepOf(uri, step, this.current.get(uri)?.()) ?? null;
      if (step.diffed) out.push(step.diffed);
    }
    out.sort((a, b) => a.at - b.at);
    return out.slice(Math.max(0, out.length - max));
  }

  /** The user's last step in `uri` (open or closed), or undefined. */
  last(uri: string): EditStep | undefined {
    const mine = this.recent().filter((s) => s.uri === uri);
    return mine[mine.length - 1];
  }

  private close(uri: string, step: OpenStep, now: string): void {
    this.open.delete(uri);
    const s = step.diffed !== undefined ? step.diffed : this.stepOf(uri, step, now);
    if (!s) return;
    this.steps.push(s);
    const mine = this.steps.filter((x) => x.uri === uri);
    if (mine.length > MAX_STEPS_PER_DOC) this.steps.splice(this.steps.indexOf(mine[0]!), 1);
    if (this.steps.length > MAX_STEPS) this.steps.shift();
    let chars = 0;
    for (let i = this.steps.length - 1; i >= 0; i--) {
      chars += stepChars(this.steps[i]!);
      if (chars > MAX_HISTORY_CHARS) {
        this.steps.splice(0, i + 1);
        break;
      }
    }
  }

  /** The lines that differ between the step's base and `now`: common head and tail lines cut. */
  private stepOf(uri: string, step: OpenStep, now: string | undefined): EditStep | undefined {
    const base = textOf(step.base);
    if (now === undefined || now === base) return undefined;
    // Only the lines around the characters that differ are split (a big document costs two
    // character scans, not two arrays of all its lines): the span from a few lines above the first
    // difference to a few below the last, the texts being equal outside it.
    const { start, endA, endB, line0 } = differingLines(base, now, STEP_CONTEXT + 1);
    // A final newline ends the last line; it does not start an empty one.
    const a = linesOf(base.slice(start, endA));
    const b = linesOf(now.slice(start, endB));
    let head = 0;
    while (head < a.length && head < b.length && a[head] === b[head]) head++;
    let tail = 0;
    while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
    const strip = (l: string) => (l.endsWith('\r') ? l.slice(0, -1) : l);
    const up = Math.min(STEP_CONTEXT, head);
    // A side cut short has no tail context: the lines after the cut are not the step's.
    const long = a.length - tail - head > MAX_STEP_LINES || b.length - tail - head > MAX_STEP_LINES;
    const down = long ? 0 : Math.min(STEP_CONTEXT, tail);
    const cut = (lines: string[], end: number) => {
      const mid = lines.slice(head, end).slice(0, MAX_STEP_LINES);
      return [...lines.slice(head - up, head), ...mid, ...lines.slice(end, end + down)].map(strip);
    };
    const before = cut(a, a.length - tail);
    const after = cut(b, b.length - tail);
    return { uri, path: this.deps.relativePath(uri), line: line0 + head - up, before, after, context: { head: up, tail: down }, at: step.last };
  }
}

/**
 * Where `a` and `b` differ, in whole lines with `extra` lines more on each side: `start` (a line
 * start, the same in both), the ends in each (a line end or the text's end, after which the texts
 * are equal), and the line number of `start`.
 */
function differingLines(a: string, b: string, extra: number): { start: number; endA: number; endB: number; line0: number } {
  const max = Math.min(a.length, b.length);
  let p = 0;
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  let s = 0;
  while (s < max - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  // (lastIndexOf takes a negative position as 0: the guards keep it off the text's first character.)
  let start = p > 0 ? a.lastIndexOf('\n', p - 1) + 1 : 0;
  for (let k = 0; k < extra && start > 0; k++) start = start >= 2 ? a.lastIndexOf('\n', start - 2) + 1 : 0;
  // After a.length - s the texts are the same characters: their line ends stay aligned.
  let endA = a.length - s;
  let endB = b.length - s;
  for (let k = 0; k <= extra; k++) {
    const nl = a.indexOf('\n', k === 0 ? endA : endA + 1);
    if (nl < 0) {
      endA = a.length;
      endB = b.length;
      break;
    }
    endB += nl - endA;
    endA = nl;
  }
  let line0 = 0;
  for (let i = a.indexOf('\n'); i >= 0 && i < start; i = a.indexOf('\n', i + 1)) line0++;
  return { start, endA, endB, line0 };
}

function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function stepChars(s: EditStep): number {
  let n = 0;
  for (const l of s.before) n += l.length + 1;
  for (const l of s.after) n += l.length + 1;
  return n;
}

/** A step as a unified diff (`--- a/path`, `+++ b/path`, one hunk, `@@` numbers in the file's). */
export function stepDiff(step: EditStep): string {
  return unifiedDiff(step.path, step.before.join('\n') + '\n', step.after.join('\n') + '\n', step.line);
}

/** The step's changed lines only (its context cut): what the user removed and what they wrote. */
export function stepChange(step: EditStep): { line: number; removed: string[]; added: string[] } {
  const { head, tail } = step.context;
  return { line: step.line + head, removed: step.before.slice(head, step.before.length - tail), added: step.after.slice(head, step.after.length - tail) };
}
