// The context stage's view of an open document at an offset: plain data and cheap accessors.
import type { DocView } from '../documents.js';
import { uriToPath } from '../workspace.js';
import type { ContextRequest } from './types.js';

export function contextRequest(doc: DocView, offset: number, relPath: string): ContextRequest {
  const text = doc.text;
  // A big document's window (pipeline/inline.ts): `text` and `offset` are the window's.
  const w = doc.window;
  return {
    uri: doc.uri,
    abs: uriToPath(doc.uri),
    relPath,
    lang: doc.tree?.language.name,
    text: text.getText(),
    offset,
    // Rows are the document's, a window's too (the index's and recent edits' rows are).
    cursorLine: text.positionAt(offset).line + (w?.line ?? 0),
    tree: doc.tree?.current(),
    lineAt: w ? (row) => w.lineAt(row) : (row) => (row >= 0 && row < text.lineCount ? text.getText({ start: { line: row, character: 0 }, end: { line: row + 1, character: 0 } }).replace(/\r?\n$/, '') : undefined),
    lineCount: w?.lineCount ?? text.lineCount,
  };
}
