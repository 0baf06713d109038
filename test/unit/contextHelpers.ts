// Test helpers for the context stage: a temporary workspace on disk, its index, and cursor-marked documents in it.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DocumentActivity } from '../../server/src/context/activity.js';
import { ContextEngine } from '../../server/src/context/engine.js';
import { WorkspaceIndex, type IndexLimits } from '../../server/src/context/index.js';
import { standardSources } from '../../server/src/context/standard.js';
import type { ContextRequest } from '../../server/src/context/types.js';
import { DocumentStore, type Doc } from '../../server/src/documents.js';
import { silentLogger, type Logger } from '../../server/src/util/logger.js';
import { Workspace } from '../../server/src/workspace.js';
import { pool, splitCursor } from './fixtures.js';

export const LIMITS: IndexLimits = { maxFileBytes: 256 * 1024, maxFiles: 20_000, maxWorkspaceBytes: 1 << 30, exclude: [] };

/** Writes `files` (path → text) under a fresh temporary folder and returns its path. */
export function tempWorkspace(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'tandem-ctx-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

export async function indexOf(root: string, limits: IndexLimits = LIMITS, logger: Logger = silentLogger()): Promise<{ index: WorkspaceIndex; workspace: Workspace }> {
  const workspace = new Workspace([root]);
  const index = new WorkspaceIndex({ parse: (l, t) => pool.parseNow(l, t), relativePath: (abs) => workspace.relativePath(abs), logger, sliceMs: 50 });
  await index.build([root], limits);
  await index.idle();
  return { index, workspace };
}

/** Opens `rel` of the workspace with the cursor-marked text (also written to disk without the marker). */
export function openIn(root: string, rel: string, marked: string, languageId: string, store = new DocumentStore(pool)): { doc: Doc; offset: number; store: DocumentStore; abs: string } {
  const { text, offset } = splitCursor(marked);
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
  const doc = store.open(pathToFileURL(abs).href, languageId, 1, text);
  doc.tree?.parseNow();
  return { doc, offset, store, abs };
}

export function requestFor(doc: Doc, offset: number, workspace: Workspace, abs: string): ContextRequest {
  const t = doc.text;
  return {
    uri: doc.uri,
    abs,
    relPath: workspace.relativePath(doc.uri),
    lang: doc.tree?.language.name,
    text: t.getText(),
    offset,
    cursorLine: t.positionAt(offset).line,
    tree: doc.tree?.current(),
    lineAt: (row) => (row >= 0 && row < t.lineCount ? t.getText({ start: { line: row, character: 0 }, end: { line: row + 1, character: 0 } }).replace(/\r?\n$/, '') : undefined),
    lineCount: t.lineCount,
  };
}

export function engineFor(index: WorkspaceIndex | undefined, workspace: Workspace, store?: DocumentStore): { engine: ContextEngine; activity: DocumentActivity } {
  const activity = new DocumentActivity({ text: (uri) => store?.get(uri)?.text.getText(), relativePath: (uri) => workspace.relativePath(uri) });
  const engine = new ContextEngine(standardSources({ index: () => index, activity, openText: () => undefined }));
  return { engine, activity };
}

/** Every source on, with a budget none reaches however busy the machine (a source named x: none at all). */
export const ALL_SOURCES = (name: string) => ({ enabled: true, budgetMs: name === 'x' ? 0 : 60_000 });
