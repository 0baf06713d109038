// Cuts degenerate output: the same line over and over, or a short pattern repeated to the end.
import type { Filter } from './types.js';

const MAX_SAME_LINES = 2;

export const repetition: Filter = (text) => {
  const lines = text.split('\n');
  let run = 1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    run = line.trim() !== '' && line === lines[i - 1] ? run + 1 : 1;
    if (run > MAX_SAME_LINES) return lines.slice(0, i - run + 2).join('\n');
  }
  // A short unit repeated many times at the end ("))))))))", "a, a, a, a, a, a").
  const m = /(.{1,12}?)\1{5,}$/s.exec(text);
  if (m && m.index !== undefined) return text.slice(0, m.index + m[1]!.length);
  return text;
};
