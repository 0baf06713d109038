// The document's indentation style (tabs or spaces, how wide), and completions re-indented to it.
import { CLOSER, opensBlock } from './blockScope.js';
import { clipLine, leadingBlanks, type CursorContext, type Filter } from './types.js';

/** How the document indents, in the terms of LSP's `FormattingOptions`. */
export interface IndentStyle {
  /** Spaces (true) or tabs. */
  insertSpaces: boolean;
  /** Columns per level when indenting with spaces; the width of a tab otherwise. */
  tabSize: number;
}

/**
 * What the editor said about indentation, from settings it pushes (`editor.*`, VS Code's names):
 * LSP's inline completion request carries no `FormattingOptions`.
 */
export interface EditorIndentation {
  insertSpaces?: boolean;
  tabSize?: number;
  /** false: the editor's settings rule and the file is not read (VS Code's `editor.detectIndentation`). */
  detectIndentation?: boolean;
}

/** Characters read on each side of the cursor: detection costs the same in a 10 MB file as in a 60 KB one. */
const SCAN_CHARS = 12_000;
/** Indented lines needed before the file's style is believed. */
const MIN_INDENTED = 2;
const MAX_WIDTH = 8;
const DEFAULT_TAB = 4;

/**
 * The indentation most lines near `offset` use: tabs when more lines start with a tab than with
 * spaces, else spaces of the width most indentation steps take (the growth from one line to the
 * next; 2 to 8 columns). Block-comment continuations (` * `) and one-space indents are not
 * evidence. Undefined when fewer than two lines are indented.
 */
export function detectIndentation(text: string, offset: number): IndentStyle | undefined {
  // A window of whole lines: searches for line ends stay inside it (a minified line can be megabytes).
  let win = text;
  if (text.length > 2 * SCAN_CHARS) {
    const start = Math.max(0, Math.min(offset - SCAN_CHARS, text.length - 2 * SCAN_CHARS));
    win = text.slice(start, start + 2 * SCAN_CHARS);
    if (start > 0) win = win.slice(win.indexOf('\n') + 1 || win.length);
  }
  const end = win.length;
  let tabs = 0;
  let spaces = 0;
  let narrowest = Infinity;
  const steps = new Array<number>(MAX_WIDTH + 1).fill(0);
  let prev: number | undefined = 0;
  for (let i = 0; i < end; ) {
    let nl = win.indexOf('\n', i);
    if (nl < 0) nl = end;
    let j = i;
    while (j < nl && win.charCodeAt(j) === 32) j++;
    const n = j - i;
    const c = j < nl ? win.charCodeAt(j) : -1;
    if (c === 9 && n === 0) {
      tabs++;
      prev = undefined; // no step to measure from a tab-indented line
    } else if (c !== -1 && c !== 13 && c !== 9 && !(c === 42 && n > 0) && n !== 1) {
      // A line of code indented with n spaces (not blank, not ` * ` of a block comment).
      if (n > 0) {
        spaces++;
        narrowest = Math.min(narrowest, n);
      }
      if (prev !== undefined && n > prev && n - prev <= MAX_WIDTH) steps[n - prev]!++;
      prev = n;
    }
    i = nl + 1;
  }
  if (tabs + spaces < MIN_INDENTED) return undefined;
  if (tabs > spaces) return { insertSpaces: false, tabSize: DEFAULT_TAB };
  let width = 0;
  for (let d = 2; d <= MAX_WIDTH; d++) if (steps[d]! > (steps[width] ?? 0)) width = d;
  return { insertSpaces: true, tabSize: width || Math.min(narrowest, MAX_WIDTH) };
}

/** The editor's style when it said both what and how wide; a tab-indented one defaults to width 4. */
function editorStyle(e: EditorIndentation | undefined): IndentStyle | undefined {
  if (e?.insertSpaces === undefined) return undefined;
  return { insertSpaces: e.insertSpaces, tabSize: e.tabSize ?? DEFAULT_TAB };
}

/** One detection per document version: repeated requests at one version read nothing again. */
const detected = new WeakMap<object, { version: number; style: IndentStyle | undefined }>();

/**
 * The document's indentation: what its lines use, else the editor's settings; the editor's alone
 * when it switched detection off. `doc` is the key of the cache (the same object across edits,
 * its `version` changing with each).
 */
export function documentIndentation(doc: { readonly version: number }, text: string, offset: number, editor?: EditorIndentation): IndentStyle | undefined {
  const fromEditor = editorStyle(editor);
  if (fromEditor && editor?.detectIndentation === false) return fromEditor;
  let hit = detected.get(doc);
  if (hit?.version !== doc.version) {
    hit = { version: doc.version, style: detectIndentation(text, offset) };
    detected.set(doc, hit);
  }
  const style = hit.style;
  if (!style) return fromEditor;
  // A tab's width is the editor's to say; the file does not show it.
  return style.insertSpaces || editor?.tabSize === undefined ? style : { insertSpaces: false, tabSize: editor.tabSize };
}

/** `editor.tabSize`/`insertSpaces`/`detectIndentation` pushed by a client; each problem names its key. */
export function readEditorIndentation(editor: unknown, where: string): { value: EditorIndentation | undefined; problems: string[] } {
  if (editor === null || editor === undefined) return { value: undefined, problems: [] };
  if (typeof editor !== 'object' || Array.isArray(editor)) return { value: undefined, problems: [`${where}: expected an object`] };
  const e = editor as Record<string, unknown>;
  const value: EditorIndentation = {};
  const problems: string[] = [];
  if (e.tabSize !== undefined && e.tabSize !== null) {
    if (Number.isInteger(e.tabSize) && (e.tabSize as number) >= 1 && (e.tabSize as number) <= 16) value.tabSize = e.tabSize as number;
    else problems.push(`${where}.tabSize: expected an integer from 1 to 16`);
  }
  for (const key of ['insertSpaces', 'detectIndentation'] as const) {
    if (e[key] === undefined || e[key] === null) continue;
    if (typeof e[key] === 'boolean') value[key] = e[key];
    else problems.push(`${where}.${key}: expected true or false`);
  }
  return { value: Object.keys(value).length > 0 ? value : undefined, problems };
}

/** Model units tried, in the order that wins a tie. */
const UNITS = [4, 2, 8, 3];

/** Levels and left-over alignment columns of a line's leading blanks, `unit` spaces (or one tab) a level. */
function levelsOf(lead: string, unit: number): { levels: number; rest: number } {
  let levels = 0;
  let sp = 0;
  for (const ch of lead) {
    if (ch === '\t') {
      levels += 1 + Math.floor(sp / unit);
      sp = 0;
    } else sp++;
  }
  return { levels: levels + Math.floor(sp / unit), rest: sp % unit };
}

/** The level of a document line in the document's own style. */
function docLevel(line: string, style: IndentStyle): number {
  return levelsOf(leadingBlanks(line), style.tabSize).levels;
}

/** The line a completion line is read against: its columns as the model wrote them, its blanks as shown. */
interface Previous {
  columns: number;
  shown: string;
  level: number;
  opens: boolean;
}

/** The completion's lines read with `unit` model spaces a level. */
interface Reading {
  lines: string[];
  /** Lines whose indentation is not whole levels (and is no alignment). */
  odd: number;
  /**
   * How far the lines stray from well-nested code: the first indented line should sit one level
   * under a line that opens a block, at its level otherwise (one out for a closing bracket), and
   * no line should go more than one level deeper than that. A unit too small doubles every step;
   * one too large flattens the first.
   */
  misfit: number;
}

/**
 * Reads the completion's indentation with `unit` spaces (or one tab) a level and writes it in the
 * document's style. A line more than MAX_WIDTH columns deeper than the one before aligns with
 * something in it (an argument after `(`): it keeps that line's blanks plus the same number of
 * spaces past them. Lines already in the document's style keep their blanks.
 */
function readWith(lines: string[], ctx: CursorContext, style: IndentStyle, unit: number): Reading {
  const prefixBlank = ctx.linePrefix.trim() === '';
  const prefixLevel = prefixBlank ? docLevel(ctx.linePrefix, style) : 0;
  const anchorLine = prefixBlank ? clipLine(ctx.lineAbove) : clipLine(ctx.linePrefix) + lines[0]!;
  const anchorLevel = docLevel(anchorLine, style);
  let prev: Previous = { columns: anchorLevel * unit, shown: leadingBlanks(anchorLine), level: anchorLevel, opens: opensBlock(anchorLine) };
  const step = style.insertSpaces ? ' '.repeat(style.tabSize) : '\t';
  const out = [...lines];
  let odd = 0;
  let misfit = 0;
  let seen = false;
  for (let i = prefixBlank ? 0 : 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const lead = leadingBlanks(line);
    const body = line.slice(lead.length);
    const { levels, rest } = levelsOf(lead, unit);
    const own = i === 0 ? prefixLevel : 0;
    const columns = (levels + own) * unit + rest;
    if (seen && columns > prev.columns + MAX_WIDTH) {
      out[i] = prev.shown + ' '.repeat(columns - prev.columns) + body;
      continue;
    }
    const native = lead === '' || (!style.insertSpaces && lead[0] === '\t');
    const shown = native ? lead : step.repeat(levels) + ' '.repeat(rest);
    if (!native && rest > 0) odd++;
    const level = levels + own;
    const expected = prev.level + (prev.opens ? 1 : 0) - (CLOSER.test(line) ? 1 : 0);
    misfit += seen ? Math.max(0, level - expected) : Math.abs(level - expected);
    seen = true;
    out[i] = shown + body;
    prev = { columns, shown: (i === 0 ? ctx.linePrefix : '') + shown, level, opens: opensBlock(line) };
  }
  return { lines: out, odd, misfit };
}

/**
 * Re-indents a multi-line completion to the document's style, levels kept: the model writes
 * indentation its own way (4 spaces in a tab-indented Go file, 4 in a 2-space TypeScript file).
 * The model's unit is the one that leaves fewest lines between levels, then makes its lines nest
 * most plausibly below the cursor's line, the document's own winning a tie. The first line's
 * leading blanks count only where it starts its own line.
 */
export const reindent: Filter = (text, ctx) => {
  const style = ctx.indent;
  if (!style || !text.includes('\n')) return text;
  const lines = text.split('\n');
  let spaced = false;
  let tabbed = false;
  for (let i = ctx.linePrefix.trim() === '' ? 0 : 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (line[0] === '\t') tabbed = true;
    else if (line[0] === ' ') spaced = true;
  }
  // Tab-led lines are foreign only to a space-indented document; space-led ones perhaps to either.
  if (!spaced && !(tabbed && style.insertSpaces)) return text;
  const order = style.insertSpaces ? [style.tabSize, ...UNITS.filter((u) => u !== style.tabSize)] : UNITS;
  let best: Reading | undefined;
  for (const u of spaced ? order : [DEFAULT_TAB]) {
    const r = readWith(lines, ctx, style, u);
    if (!best || r.odd < best.odd || (r.odd === best.odd && r.misfit < best.misfit)) best = r;
  }
  return best!.lines.join('\n');
};
