// Single-line mode keeps the first line only: the cursor sits before code on its line.
import type { Filter } from './types.js';

export const singleLine: Filter = (text, ctx) => {
  if (ctx.mode !== 'single') return text;
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
};
