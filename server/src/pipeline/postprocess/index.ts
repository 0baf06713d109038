// The postprocess stages in their order; each is one small file with golden tests.
import { blockScope } from './blockScope.js';
import { reindent } from './indentation.js';
import { neighborRepeat } from './neighborRepeat.js';
import { repetition } from './repetition.js';
import { singleLine } from './singleLine.js';
import { suffixRepeat } from './suffixRepeat.js';
import type { CursorContext, Filter } from './types.js';

export type { CursorContext } from './types.js';
export { completionMode } from './mode.js';
export { documentIndentation, readEditorIndentation, type EditorIndentation, type IndentStyle } from './indentation.js';

// Re-indenting comes before the block scope, which reads where lines end by their indentation.
const FILTERS: Filter[] = [singleLine, repetition, reindent, blockScope, suffixRepeat, neighborRepeat];

/** Cuts `text` at the first stop string (servers apply them too, but not every API takes them all). */
export function cutAtStops(text: string, stops: string[]): string {
  let end = text.length;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}

/** Runs every filter; returns '' when nothing worth showing is left. */
export function postprocess(raw: string, stops: string[], ctx: CursorContext): string {
  let text = cutAtStops(raw, stops).replace(/\r\n/g, '\n');
  for (const f of FILTERS) {
    text = f(text, ctx);
    if (text === '') return '';
  }
  if (text.trim() === '') return '';
  // Trailing blanks after code at the end of a line are noise. Before code that follows on the
  // line (single-line mode) they separate the two; a last line of bare indentation places a
  // bracket the editor auto-closed after the cursor (see blockScope): both are kept.
  if (ctx.mode === 'multi') text = text.replace(/(\S)[ \t]+$/, '$1');
  return text;
}
