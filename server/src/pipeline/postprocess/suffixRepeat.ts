// Drops text the document already has after the cursor: the rest of the line, or the next lines.
import type { Filter } from './types.js';

export const suffixRepeat: Filter = (text, ctx) => {
  let out = text;
  // Single line: the model often re-types the auto-inserted closers, e.g. `foo(a)` before `)`.
  const rest = ctx.lineSuffix.trim();
  if (rest && !out.includes('\n')) {
    if (out.trim() === rest) return '';
    if (out.trimEnd().endsWith(rest)) out = out.trimEnd().slice(0, out.trimEnd().length - rest.length);
  }
  // Multi line: trailing lines that repeat the lines after the cursor.
  const next = ctx.nextLines.map((l) => l.trim()).filter((l) => l !== '');
  if (next.length > 0 && out.includes('\n')) {
    const lines = out.split('\n');
    // Find the earliest line from which the completion just replays the upcoming lines.
    for (let i = 1; i < lines.length; i++) {
      const tail = lines.slice(i).map((l) => l.trim()).filter((l) => l !== '');
      if (tail.length > 0 && tail.every((l, k) => next[k] === l)) {
        out = lines.slice(0, i).join('\n');
        break;
      }
    }
  }
  // A completion that is exactly the next line (the model skipped ahead) adds nothing.
  const firstNext = next[0];
  if (firstNext !== undefined && ctx.linePrefix.trim() === '' && out.trim() === firstNext) return '';
  return out;
};
