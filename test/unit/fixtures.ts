// Cursor-marker fixtures shared by the unit tests: `├` marks the cursor in a document string.
import { resolveConfig } from '../../server/src/config/load.js';
import type { Config } from '../../server/src/config/schema.js';
import { DocumentStore, type Doc } from '../../server/src/documents.js';
import { ParseService } from '../../server/src/syntax/tree.js';

export const CURSOR = '├';

/** The text without its one cursor marker, and the marker's UTF-16 offset. */
export function splitCursor(marked: string): { text: string; offset: number } {
  const offset = marked.indexOf(CURSOR);
  if (offset < 0 || marked.indexOf(CURSOR, offset + 1) >= 0) throw new Error(`fixture needs exactly one ${CURSOR}: ${JSON.stringify(marked)}`);
  return { text: marked.slice(0, offset) + marked.slice(offset + CURSOR.length), offset };
}

/** Parsers are shared across a test file, like the server shares them across documents. */
export const pool = new ParseService();

const EXTENSIONS: Record<string, string> = { typescript: 'ts', python: 'py', go: 'go', javascript: 'js', rust: 'rs', java: 'java', plaintext: 'txt' };

let nextDoc = 1;
/** Opens a document (with a fresh tree when the language has a grammar) at a cursor-marked text. */
export function openAt(marked: string, languageId: string, store = new DocumentStore(pool)): { doc: Doc; offset: number; store: DocumentStore } {
  const { text, offset } = splitCursor(marked);
  const uri = `file:///work/fixture${nextDoc++}.${EXTENSIONS[languageId] ?? 'txt'}`;
  const doc = store.open(uri, languageId, 1, text);
  // No time bound that a loaded machine could run past: fixtures need their tree.
  doc.tree?.parseNow(60_000);
  return { doc, offset, store };
}

export function defaultConfig(inline: Record<string, unknown> = {}): Config {
  const r = resolveConfig([{ origin: 'test', trust: 'user', data: { inline } }]);
  if (!r.ok) throw new Error(r.error);
  return r.config;
}
