// What every postprocess filter sees: the cursor's surroundings in the document.

export interface CursorContext {
  /** Text of the cursor's line before the cursor. */
  linePrefix: string;
  /** Text of the cursor's line after the cursor (no line break). */
  lineSuffix: string;
  /** The lines after the cursor's line, up to a few dozen. */
  nextLines: string[];
  /** 'single' when the cursor sits before code on its line. */
  mode: 'single' | 'multi';
  maxLines: number;
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
