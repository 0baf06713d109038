// What every postprocess filter sees: the cursor's surroundings in the document.
import type { IndentStyle } from './indentation.js';

export interface CursorContext {
  /** Text of the cursor's line before the cursor. */
  linePrefix: string;
  /** Text of the cursor's line after the cursor (no line break). */
  lineSuffix: string;
  /** The nearest line above the cursor's line that is not blank ('' when there is none close by). */
  lineAbove: string;
  /** The lines after the cursor's line, up to a few dozen. */
  nextLines: string[];
  /** 'single' when the cursor sits before code on its line. */
  mode: 'single' | 'multi';
  maxLines: number;
  /** The document's indentation (undefined: unknown, the model's is kept). */
  indent?: IndentStyle;
}

/** A filter returns the text to keep; '' drops the completion. */
export type Filter = (text: string, ctx: CursorContext) => string;

export function indentOf(line: string): number {
  let n = 0;
  for (const ch of line) {
    if (ch === ' ') n++;
    else if (ch === '\t') n += 4;
    else break;
  }
  return n;
}

/** Beyond this length a line is cut to its head and tail (see `clipLine`). */
export const CLIP_CHARS = 512;

/**
 * A long line cut to its first and last CLIP_CHARS/2 characters: its indentation and its end, all
 * that indentation and block filters read. The cursor's line can be a megabyte of minified code;
 * joining it to the completion and trimming the result copied all of it on every request.
 */
export function clipLine(line: string): string {
  return line.length <= CLIP_CHARS ? line : line.slice(0, CLIP_CHARS / 2) + line.slice(-CLIP_CHARS / 2);
}

/** The leading blanks of a line. */
export function leadingBlanks(line: string): string {
  return line.slice(0, line.length - line.trimStart().length);
}

/**
 * Lines so short that repeating one is normal code: closing brackets (`}`, `});`), `end`, `fi`,
 * `pass`. They repeat their neighbours legitimately (`}` under `}` one level out).
 */
export function isTrivialLine(line: string): boolean {
  const t = line.trim();
  return t.length <= 4 || !/[\p{L}\p{N}]/u.test(t);
}

/**
 * Whether two lines say the same: equal but for whitespace (a copy often differs in spacing). A
 * trivial line is the same only at the same indentation, where a second one doubles the first.
 */
export function sameLine(a: string, b: string): boolean {
  if (!equalButWhitespace(a, b)) return false;
  return !isTrivialLine(a) || indentOf(a) === indentOf(b);
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 160 || c === 0xfeff || (c >= 0x2000 && (c <= 0x200a || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000)) || c === 0x1680;

/**
 * Whether `a` and `b` have the same characters but for whitespace, and at least one that is not
 * whitespace. Compared in place, stopping at the first difference: the cursor's line can be a
 * megabyte of minified code, and copying it without its spaces on every request cost ~15 ms and
 * the garbage collector more.
 */
function equalButWhitespace(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  let any = false;
  for (;;) {
    while (i < a.length && isSpace(a.charCodeAt(i))) i++;
    while (j < b.length && isSpace(b.charCodeAt(j))) j++;
    if (i === a.length || j === b.length) return any && i === a.length && j === b.length;
    if (a.charCodeAt(i) !== b.charCodeAt(j)) return false;
    any = true;
    i++;
    j++;
  }
}
