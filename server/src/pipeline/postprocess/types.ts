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
  const ta = a.replace(/\s+/g, '');
  if (ta === '' || ta !== b.replace(/\s+/g, '')) return false;
  return !isTrivialLine(a) || indentOf(a) === indentOf(b);
}
