// Drops a completion whose one new line only repeats the line above or below it: the model copied a neighbour.
import { CLIP_CHARS, isTrivialLine, sameLine, type Filter } from './types.js';

/**
 * The completion is merged into the cursor's line; when that yields exactly one new non-blank
 * line and it says what the nearest line above or below already says (up to whitespace), nothing
 * is shown. Trivial lines (`}`, `end`) repeat neighbours in real code: one is dropped only where
 * it would double the line below at the same indentation (the closer the file already has).
 */
export const neighborRepeat: Filter = (text, ctx) => {
  const parts = text.split('\n');
  let at = -1;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i]!.trim() === '') continue;
    if (at >= 0) return text; // two or more new lines: more than a copy
    at = i;
  }
  if (at < 0) return text;
  // A completion inside a line of minified code copies no neighbour worth dropping; comparing
  // would copy the whole line on every request.
  if (ctx.linePrefix.length + ctx.lineSuffix.length > CLIP_CHARS) return text;
  const last = parts.length - 1;
  const line = (at === 0 ? ctx.linePrefix : '') + parts[at]! + (at === last ? ctx.lineSuffix : '');
  const cursorLine = ctx.linePrefix + parts[0]!;
  const above = at > 0 && cursorLine.trim() !== '' ? cursorLine : ctx.lineAbove;
  const lastLine = parts[last]! + ctx.lineSuffix;
  const below = at < last && lastLine.trim() !== '' ? lastLine : (ctx.nextLines.find((l) => l.trim() !== '') ?? '');
  if (isTrivialLine(line)) return sameLine(line, below) ? '' : text;
  return sameLine(line, above) || sameLine(line, below) ? '' : text;
};
