// A next-edit answer turned into the smallest edits of the document, or refused with the reason.
import { errorCountWithin, errorCountOf } from '../syntax/editCheck.js';
import type { SyntaxNode, Tree } from '../syntax/tree.js';
import type { LanguageName } from '../syntax/languages.js';
import type { BoundedParse } from '../pipeline/postprocess/syntaxCheck.js';
import { diffLines } from '../util/lineDiff.js';
import { TextLines } from '../util/textLines.js';
import { REGION_END, REGION_START, ZETA_CURSOR, INSTRUCT_CURSOR, type ParsedAnswer, type Region } from './formats.js';

/** One edit of the document by UTF-16 offsets of its text as the prompt saw it. */
export interface NextEdit {
  start: number;
  end: number;
  text: string;
}

export type EditsOutcome = { ok: true; edits: NextEdit[] } | { ok: false; reason: string };

/** The user's last step, as its changed lines: at `line` (in the text now), `removed` became `added`. */
export interface LastChange {
  line: number;
  removed: string[];
  added: string[];
}

export interface SyntaxCheck {
  lang: LanguageName;
  parse: BoundedParse;
  /**
   * The document's own tree, parsed to exactly the text the edits are of (or undefined): the
   * errors before the edits are then counted on it, in whole top-level nodes around the region,
   * instead of on a parse of their own.
   */
  tree?: () => Tree | undefined;
}

/** Lines around the region parsed before and after, for the syntax check. */
const SYNTAX_MARGIN_LINES = 40;
const SYNTAX_MAX_MS = 12;
/** A region of at least this many non-blank lines of which fewer than this share survive was rewritten wholesale. */
const WHOLESALE_MIN_LINES = 4;
const WHOLESALE_KEPT_SHARE = 0.3;
/** Lines beyond the region an answer must repeat before it counts as running past the region. */
const OVERRUN_LINES = 2;
const MARKUP = [REGION_START, REGION_END, ZETA_CURSOR, INSTRUCT_CURSOR, '<|file_sep|>', '<|start_of_file|>', '<|endoftext|>'];

interface Hunk {
  /** Region line where the removed lines start (0-based, in the region). */
  at: number;
  removed: string[];
  added: string[];
}

function splitLines(text: string): string[] {
  return text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/**
 * The edits that make the region read as the model rewrote it, each as small as the characters
 * that differ; refused (with the reason) when the answer is no use: unreadable or cut off, empty,
 * holding prompt markup, running past the region into the lines after or before it, rewriting the
 * region wholesale, changing nothing, only re-indenting, undoing the user's last change, or adding
 * syntax errors around the region.
 */
export function answerToEdits(args: {
  /** The document's text the prompt was made from. */
  text: string;
  region: Region;
  parsed: ParsedAnswer;
  last?: LastChange;
  syntax?: SyntaxCheck;
}): EditsOutcome {
  const { text, region, parsed } = args;
  if (!parsed.ok) return parsed;
  const was = splitLines(region.text);
  const now = splitLines(parsed.text);
  if (parsed.text.trim() === '' && region.text.trim() !== '') return { ok: false, reason: 'the answer\'s region is empty' };
  const markup = MARKUP.find((m) => parsed.text.includes(m));
  if (markup) return { ok: false, reason: `the answer's region holds ${markup}` };
  const all = new TextLines(text);
  if (overruns(all, region, was, now)) return { ok: false, reason: 'the answer runs past the region into the lines around it' };
  const d = diffLines(was, now);
  const hunks = hunksOf(d.lines);
  if (hunks.length === 0) return { ok: false, reason: 'the answer changes nothing' };
  const kept = d.lines.filter((l) => l.kind === ' ' && l.text.trim() !== '').length;
  const solid = was.filter((l) => l.trim() !== '').length;
  if (solid >= WHOLESALE_MIN_LINES && kept < solid * WHOLESALE_KEPT_SHARE) return { ok: false, reason: `the answer rewrites the region wholesale (${kept} of its ${solid} lines kept)` };
  if (hunks.every((h) => h.removed.length === h.added.length && h.removed.every((l, i) => l.trim() === h.added[i]!.trim()))) return { ok: false, reason: 'the answer only re-indents' };
  if (args.last && hunks.some((h) => undoes(h, region.startLine, args.last!))) return { ok: false, reason: 'the answer undoes the user\'s last edit' };
  const eol = text.slice(region.start, region.end + 2).includes('\r\n') ? '\r\n' : '\n';
  const edits = hunks.map((h) => editOf(h, text, region, was, eol));
  if (args.syntax && breaksSyntax(args.syntax, text, all, region, edits)) return { ok: false, reason: 'the answer adds syntax errors to its block' };
  return { ok: true, edits };
}

function hunksOf(lines: readonly { kind: ' ' | '-' | '+'; text: string }[]): Hunk[] {
  const out: Hunk[] = [];
  let at = 0;
  let cur: Hunk | undefined;
  for (const l of lines) {
    if (l.kind === ' ') {
      if (cur) out.push(cur);
      cur = undefined;
      at++;
      continue;
    }
    cur ??= { at, removed: [], added: [] };
    if (l.kind === '-') {
      cur.removed.push(l.text);
      at++;
    } else cur.added.push(l.text);
  }
  if (cur) out.push(cur);
  return out;
}

/**
 * Whether the answer's lines go on past the region: it ends with the lines that follow the region
 * (or starts with those before it) while the region itself did not.
 */
function overruns(all: TextLines, region: Region, was: string[], now: string[]): boolean {
  const after = all.slice(region.endLine, region.endLine + OVERRUN_LINES);
  const before = all.slice(Math.max(0, region.startLine - OVERRUN_LINES), region.startLine);
  const solid = (ls: string[]) => ls.length === OVERRUN_LINES && ls.some((l) => l.trim() !== '');
  const endsWith = (ls: string[], tail: string[]) => ls.length >= tail.length && tail.every((l, i) => ls[ls.length - tail.length + i] === l);
  const startsWith = (ls: string[], head: string[]) => ls.length >= head.length && head.every((l, i) => ls[i] === l);
  if (solid(after) && endsWith(now, after) && !endsWith(was, after)) return true;
  if (solid(before) && startsWith(now, before) && !startsWith(was, before)) return true;
  return false;
}

/** A hunk that puts back what the user's last change took out, where it took it out. */
function undoes(h: Hunk, regionLine: number, last: LastChange): boolean {
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((l, i) => l.trimEnd() === b[i]!.trimEnd());
  return regionLine + h.at === last.line && same(h.removed, last.added) && same(h.added, last.removed);
}

/** A hunk as one edit of the document, cut down to the characters that differ. */
function editOf(h: Hunk, text: string, region: Region, was: string[], eol: string): NextEdit {
  // Offsets of each region line's start in the document, and of the region's end.
  const starts: number[] = [];
  let off = region.start;
  for (const l of was) {
    starts.push(off);
    off += l.length;
    if (text.startsWith('\r\n', off)) off += 2;
    else if (text[off] === '\n') off += 1;
  }
  const lineEnd = (i: number) => starts[i]! + was[i]!.length;
  let start: number;
  let end: number;
  let oldText: string;
  let newText: string;
  if (h.removed.length === 0) {
    // An insertion of whole lines before region line `at` (or after the region's last line).
    if (h.at < was.length) {
      start = end = starts[h.at]!;
      newText = h.added.join(eol) + eol;
    } else {
      start = end = region.end;
      newText = eol + h.added.join(eol);
    }
    return { start, end, text: newText };
  }
  const last = h.at + h.removed.length - 1;
  if (h.added.length === 0) {
    // A deletion of whole lines, with one of the line breaks around them.
    if (last + 1 < was.length) return { start: starts[h.at]!, end: starts[last + 1]!, text: '' };
    if (h.at > 0) return { start: lineEnd(h.at - 1), end: lineEnd(last), text: '' };
    return { start: starts[h.at]!, end: lineEnd(last), text: '' };
  }
  start = starts[h.at]!;
  end = lineEnd(last);
  oldText = text.slice(start, end);
  newText = h.added.join(eol);
  // The characters both sides share at their ends are not part of the edit.
  let head = 0;
  while (head < oldText.length && head < newText.length && oldText[head] === newText[head]) head++;
  let tail = 0;
  while (tail < oldText.length - head && tail < newText.length - head && oldText[oldText.length - 1 - tail] === newText[newText.length - 1 - tail]) tail++;
  // Never split a surrogate pair or a CR LF.
  while (head > 0 && (isLowSurrogate(oldText.charCodeAt(head)) || (oldText[head - 1] === '\r' && oldText[head] === '\n'))) head--;
  while (tail > 0 && (isLowSurrogate(oldText.charCodeAt(oldText.length - tail)) || (oldText[oldText.length - tail - 1] === '\r' && oldText[oldText.length - tail] === '\n'))) tail--;
  return { start: start + head, end: end - tail, text: newText.slice(head, newText.length - tail) };
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Applies edits (non-overlapping, any order) to `text`. */
export function applyEdits(text: string, edits: readonly NextEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/**
 * Whether the edits add ERROR/MISSING nodes to the lines around them (the lines the edits touch
 * and 40 lines on each side, parsed as they would be, and counted as they are; each parse
 * bounded). A check that cannot run (a parse over its time, too many errors to count) lets the
 * answer through.
 *
 * With the document's tree, the excerpt is instead the edited lines widened to whole top-level
 * nodes (declarations, statements), which parses as it does within the file, and the errors
 * before are those of the document's tree in those nodes: one parse, of the edited excerpt. Without
 * it, or where whole nodes would make the excerpt too long, the excerpt is parsed before and after.
 * The edits' lines, not the whole region's: the region is some 25 lines around the cursor, an
 * edit is often one of its functions, and the parse (a few µs a line) is the check's cost.
 */
function breaksSyntax(check: SyntaxCheck, text: string, all: TextLines, region: Region, edits: NextEdit[]): boolean {
  // The lines the edits touch.
  const first = all.lineAt(Math.min(...edits.map((e) => e.start)));
  const last = all.lineAt(Math.max(...edits.map((e) => e.end)));
  let from = Math.max(0, first - SYNTAX_MARGIN_LINES);
  let to = Math.min(all.count, last + 1 + SYNTAX_MARGIN_LINES);
  // Whole top-level nodes need no margin: the excerpt starts and ends where the file's own
  // declarations do, so it parses as it does in the file, and an error an edit makes (a brace
  // taken out) shows within the nodes that hold the edit or at the excerpt's end.
  const tree = check.tree?.();
  let whole = tree ? topLevelSpan(tree, all, first, last + 1) : undefined;
  // Blank lines between top-level nodes (a declaration inserted there): the excerpt is those
  // lines, edited, with no errors before.
  if (tree && !whole && all.slice(first, last + 1).every((l) => l.trim() === '')) whole = { from: first, to: last + 1, nodes: [] };
  if (whole && whole.to - whole.from <= MAX_WHOLE_LINES) ({ from, to } = whole);
  const startOff = all.offset(from);
  const endOff = all.offset(to);
  const before = text.slice(startOff, endOff);
  const after = applyEdits(before, edits.map((e) => ({ start: e.start - startOff, end: e.end - startOff, text: e.text })));
  let e0: number | undefined;
  if (whole && whole.to - whole.from <= MAX_WHOLE_LINES) e0 = errorCountOf(whole.nodes);
  else {
    const t0 = check.parse(check.lang, before, SYNTAX_MAX_MS);
    if (!t0) return false;
    e0 = errorCountWithin(t0);
  }
  if (e0 === undefined) return false;
  const t1 = check.parse(check.lang, after, SYNTAX_MAX_MS);
  if (!t1) return false;
  const e1 = errorCountWithin(t1);
  return e1 !== undefined && e1 > e0;
}

/** Whole top-level nodes longer than this are parsed before and after instead, with the margin (a region inside a long class). */
const MAX_WHOLE_LINES = 4 * SYNTAX_MARGIN_LINES;

/**
 * Lines `from..to` (exclusive) widened to whole children of the root: the first and last
 * top-level nodes on those lines and the nodes between; undefined when the tree has none there.
 */
function topLevelSpan(tree: Tree, lines: TextLines, from: number, to: number): { from: number; to: number; nodes: SyntaxNode[] } | undefined {
  const root = tree.rootNode;
  const topAt = (row: number): SyntaxNode | undefined => {
    // The top-level node over the line's first character (an indented statement's indentation
    // belongs to no node but the root): the root's first child ending past it, if it starts by
    // then. One call into the binding, where walking up from the deepest node took one a level.
    const line = lines.line(row);
    const at = lines.offset(row) + line.length - line.trimStart().length;
    const n = root.firstChildForIndex(at);
    return n && n.startIndex <= at ? n : undefined;
  };
  // The rows may fall between top-level nodes (a blank line): then the next one, or the one before.
  let first = topAt(from);
  for (let row = from; !first && row < to; row++) first = topAt(row);
  if (!first) return undefined;
  const nodes: SyntaxNode[] = [];
  let last = first;
  for (let n: SyntaxNode | null = first; n && n.startPosition.row < to; n = n.nextSibling) {
    nodes.push(n);
    last = n;
  }
  // A node's last line holds the next node's start when they share it (`a(); b();`): take whole lines.
  return { from: Math.min(from, first.startPosition.row), to: Math.max(to, last.endPosition.row + 1), nodes };
}
