// Multi-line completions end with the block they are in: indentation tells where that is.
import { clipLine, indentOf, type Filter } from './types.js';

/**
 * Whether a line ends (before trailing whitespace) with an opening bracket or a colon. Read from
 * the end: the cursor's line can be a megabyte of minified code, and a regex scanned all of it.
 */
export function opensBlock(line: string): boolean {
  const t = line.trimEnd();
  return t.length > 0 && '{([:'.includes(t[t.length - 1]!);
}
/** A line that starts with a closing bracket. */
export const CLOSER = /^\s*[)\]}]/;

/**
 * Lines continue while they are indented deeper than the cursor's line, or at its level as
 * siblings. A line that dedents below it ends the completion. When the cursor's own line opens
 * a block, the completion ends when that block does: with its closing bracket if the document
 * does not already have it right after the cursor.
 */
export const blockScope: Filter = (text, ctx) => {
  if (ctx.mode !== 'multi') return text;
  const lines = text.split('\n');
  const first = lines[0]!;
  const prefix = clipLine(ctx.linePrefix);
  const firstLine = prefix + first;
  const base = indentOf(prefix.trim() === '' && first.trim() !== '' ? firstLine : prefix);
  const cursorOpened = opensBlock(firstLine);
  let siblingOpen = false;
  const kept: string[] = [first];
  for (let i = 1; i < lines.length && kept.length < ctx.maxLines; i++) {
    const line = lines[i]!;
    if (line.trim() === '') {
      kept.push(line);
      continue;
    }
    const indent = indentOf(line);
    if (indent < base) break; // left the block the cursor is in
    if (indent > base) {
      kept.push(line);
      continue;
    }
    if (cursorOpened) {
      // Back at the level of the line that opened the block: the block ends here.
      const closer = line.trim()[0]!;
      if (CLOSER.test(line) && ctx.lineSuffix.trim().startsWith(closer)) {
        // The editor auto-closed the bracket right after the cursor (`{├}`): typing it again would
        // double it; end with a line break and the closer's indentation so it lands on its own line.
        kept.push(line.slice(0, line.length - line.trimStart().length));
        return kept.join('\n');
      }
      if (CLOSER.test(line) && !suffixCloses(ctx.nextLines, indent, closer)) kept.push(line);
      break;
    }
    if (CLOSER.test(line) && !siblingOpen) break; // closes a block the cursor is inside of
    kept.push(line);
    siblingOpen = opensBlock(line);
  }
  while (kept.length > 1 && kept[kept.length - 1]!.trim() === '') kept.pop();
  return kept.join('\n');
};

function suffixCloses(nextLines: string[], indent: number, closer: string): boolean {
  const next = nextLines.find((l) => l.trim() !== '');
  return next !== undefined && indentOf(next) === indent && next.trim().startsWith(closer);
}
