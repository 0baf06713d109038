// What a next-edit prompt may hold: the history's steps and viewed ranges, less what the backend may not see.
import type { EditHistory } from './history.js';
import type { NextEditInput } from './formats.js';

/** Viewed ranges of other files in one prompt, the most recent. */
export const MAX_RELATED = 3;

export interface InputArgs {
  history: EditHistory;
  uri: string;
  /** The current file's workspace-relative path. */
  path: string;
  text: string;
  cursor: number;
  /**
   * Lines `start..end` (inclusive) of an open document, or undefined when it is not open any more.
   */
  lines: (uri: string, start: number, end: number) => string | undefined;
  /**
   * May text of the file at `path` join this prompt? The pipeline passes the path policy's
   * `mayJoin` for the backend it chose (a cloud backend: no `onPremOnly` file, nothing outside the
   * workspace). The current file's own path is the route's to decide and always joins.
   */
  mayJoin: (path: string) => boolean;
}

/**
 * The prompt's input: every recent step and viewed range whose file may join, each carrying its
 * path, so that the format lists it among the prompt's sources for the privacy gate.
 */
export function nextEditInput(a: InputArgs): NextEditInput {
  const allowed = (p: string) => p === a.path || a.mayJoin(p);
  const events = a.history.recent().filter((e) => allowed(e.path));
  const related: { path: string; text: string }[] = [];
  for (const v of a.history.viewedElsewhere(a.uri)) {
    if (related.length >= MAX_RELATED) break;
    if (v.path === a.path || !allowed(v.path)) continue;
    const text = a.lines(v.uri, v.start, v.end);
    if (text !== undefined && text.trim() !== '') related.push({ path: v.path, text });
  }
  return { path: a.path, text: a.text, cursor: a.cursor, events, related };
}
