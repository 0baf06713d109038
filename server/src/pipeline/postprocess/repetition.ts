// Cuts degenerate output: the same line or block of lines over and over, or a short pattern repeated to the end.
import { isTrivialLine, type Filter } from './types.js';

const MAX_SAME_LINES = 2;
/** Lines searched for a repeated block: a completion is a few dozen lines; this bounds the search on a runaway one. */
const MAX_BLOCK_SCAN = 200;

export const repetition: Filter = (text) => {
  const lines = text.split('\n');
  let run = 1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    run = line.trim() !== '' && line === lines[i - 1] ? run + 1 : 1;
    if (run > MAX_SAME_LINES) return lines.slice(0, i - run + 2).join('\n');
  }
  const cut = repeatedBlock(lines);
  if (cut !== undefined) return lines.slice(0, cut).join('\n');
  // A short unit repeated many times at the end ("))))))))", "a, a, a, a, a, a").
  const m = /(.{1,12}?)\1{5,}$/s.exec(text);
  if (m && m.index !== undefined) return text.slice(0, m.index + m[1]!.length);
  return text;
};

/**
 * Where to cut a block of two or more lines that comes again right after itself (the model loops
 * over it): after its first copy. Lines compare without their indentation (the first line of a
 * completion carries none). A block of closing brackets alone (`  }`, `}`) is not a loop.
 */
function repeatedBlock(lines: string[]): number | undefined {
  const keys = lines.slice(0, MAX_BLOCK_SCAN).map((l) => l.trim());
  const n = keys.length;
  for (let s = 0; s + 4 <= n; s++) {
    for (let k = 2; s + 2 * k <= n; k++) {
      let same = true;
      for (let j = 0; j < k && same; j++) same = keys[s + j] === keys[s + k + j];
      if (same && keys.slice(s, s + k).some((l) => l !== '' && !isTrivialLine(l))) return s + k;
    }
  }
  return undefined;
}
