// Drops text the document already has after the cursor: the rest of the line, or the next lines.
import { sameLine, type Filter } from './types.js';

export const suffixRepeat: Filter = (text, ctx) => {
  let out = text;
  // Single line: the model often re-types the auto-inserted closers, e.g. `foo(a)` before `)`.
  const rest = ctx.lineSuffix.trim();
  if (rest && !out.includes('\n')) {
    if (out.trim() === rest) return '';
    if (out.trimEnd().endsWith(rest)) out = out.trimEnd().slice(0, out.trimEnd().length - rest.length);
  }
  // Multi line: trailing lines that repeat the lines after the cursor. A closing bracket repeats
  // one only at its indentation: one level further in it closes a block of the completion's own.
  const next = ctx.nextLines.filter((l) => l.trim() !== '');
  if (next.length > 0 && out.includes('\n')) {
    const lines = out.split('\n');
    // Find the earliest line from which the completion just replays the upcoming lines.
    for (let i = 1; i < lines.length; i++) {
      const tail = lines.slice(i).filter((l) => l.trim() !== '');
      if (tail.length > 0 && tail.length <= next.length && tail.every((l, k) => sameLine(l, next[k]!))) {
        out = lines.slice(0, i).join('\n');
        break;
      }
    }
  }
  return out;
};
