// The context stage's long-lived state for one server: index, activity and sources, fed by document events.
import type { Config } from '../config/schema.js';
import type { DocumentStore } from '../documents.js';
import type { ParseService } from '../syntax/tree.js';
import type { EditCheck, OffsetEdit } from '../syntax/editCheck.js';
import type { LanguageName } from '../syntax/languages.js';
import type { PathPolicy } from '../privacy/paths.js';
import type { Logger } from '../util/logger.js';
import { syntaxAvailable } from '../syntax/binding.js';
import { uriToPath, type Workspace } from '../workspace.js';
import { DocumentActivity } from './activity.js';
import { ContextEngine } from './engine.js';
import { FileTables } from './fileTables.js';
import { WorkspaceIndex, type IndexLimits, type IndexProgress } from './index.js';
import { packSymbols } from './packed.js';
import { standardSources } from './standard.js';
import { SymbolHost } from './symbolHost.js';
import { TagExtractor } from './tags.js';

export interface ContextServiceDeps {
  documents: DocumentStore;
  parser: ParseService;
  workspace: Workspace;
  /** Files whose real path is outside the workspace folders are not indexed. */
  paths?: Pick<PathPolicy, 'outsideWorkspace'>;
  logger: Logger;
  /** True while an inline request is in flight: background work waits. */
  busy: () => boolean;
  onProgress?: (p: IndexProgress) => void;
  /** tandem's state directory: the index is kept there between runs (indexStore.ts). Without it, in memory only. */
  stateDir?: string;
  /** The index worker's script (default: symbolWorker.js beside this module, as built). */
  workerScript?: URL;
}

export type FileEvent = { uri: string; type: 'created' | 'changed' | 'deleted' };

export function indexLimits(config: Config): IndexLimits {
  const c = config.context;
  return { maxFileBytes: c.maxFileBytes, maxFiles: c.maxFiles, maxWorkspaceBytes: c.maxWorkspaceBytes, exclude: c.exclude };
}

export class ContextService {
  readonly activity: DocumentActivity;
  readonly engine: ContextEngine;
  /** Open documents' imports and identifier counts, worked out when they open, settle or are indexed. */
  readonly tables: FileTables;
  private index: WorkspaceIndex | undefined;
  /** Open documents by file path: the index reads their text instead of the disk's. */
  private readonly openByPath = new Map<string, string>();
  /** The index's worker thread, started with the first file to index. */
  private readonly symbolHost: SymbolHost;
  private readonly extractor = new TagExtractor();

  constructor(private readonly deps: ContextServiceDeps) {
    this.symbolHost = new SymbolHost(deps.logger, deps.workerScript);
    this.tables = new FileTables(() => this.index);
    this.activity = new DocumentActivity({
      text: (uri) => deps.documents.get(uri)?.text.getText(),
      relativePath: (uri) => deps.workspace.relativePath(uri),
      busy: deps.busy,
      settled: (uri) => this.prepare(uri),
    });
    this.engine = new ContextEngine(
      standardSources({
        index: () => this.index,
        activity: this.activity,
        tables: this.tables,
        openText: (uri) => {
          const d = deps.documents.get(uri);
          if (!d) return undefined;
          const t = d.text;
          return {
            lineCount: t.lineCount,
            path: deps.workspace.relativePath(uri),
            lineAt: (row) => (row >= 0 && row < t.lineCount ? t.getText({ start: { line: row, character: 0 }, end: { line: row + 1, character: 0 } }).replace(/\r?\n$/, '') : undefined),
          };
        },
      }),
      undefined,
      deps.logger,
    );
  }

  get workspaceIndex(): WorkspaceIndex | undefined {
    return this.index;
  }

  /** Starts (or, with new limits, adjusts; or, switched off, drops) the background index of the workspace folders. */
  start(config: Config): void {
    if (!config.context.enabled) {
      // Switched off: the index stops its background work and gives its memory back; its files
      // queued in the worker are dropped, the worker itself kept (code actions check in it).
      this.index?.dispose();
      this.index = undefined;
      this.symbolHost.dropSymbols();
      return;
    }
    if (this.index) {
      this.index.setLimits(indexLimits(config));
      return;
    }
    const roots = this.deps.workspace.roots;
    if (roots.length === 0) return; // no folders: context from open documents only
    // Without tree-sitter's binding no file yields definitions: no index (the server said so once).
    if (!syntaxAvailable()) return;
    const { documents, parser, workspace, logger } = this.deps;
    this.index = new WorkspaceIndex({
      // In the index worker; on this thread (in slices, within the parse budget) only when the
      // worker cannot run. A pathological file is skipped either way (counted unparseable).
      parse: async (lang, text) => (await parser.parse(lang, text)).tree,
      symbols: (lang, text) =>
        this.symbolHost.symbols(lang, text, async () => {
          const tree = (await parser.parse(lang, text)).tree;
          return tree ? packSymbols(this.extractor.extract(tree, lang, text)) : undefined;
        }),
      relativePath: (abs) => workspace.relativePath(abs),
      logger,
      busy: this.deps.busy,
      openDocument: (abs) => {
        const uri = this.openByPath.get(abs);
        const doc = uri ? documents.get(uri) : undefined;
        if (!doc || doc.binary) return undefined;
        // Its tree when it matches the text; else the index parses the text itself, in slices.
        const tree = doc.tree?.exact();
        return { text: doc.text.getText(), ...(tree ? { tree } : {}) };
      },
      onProgress: this.deps.onProgress,
      ...(this.deps.stateDir ? { persist: { stateDir: this.deps.stateDir } } : {}),
      ...(this.deps.paths ? { outside: (abs: string) => this.deps.paths!.outsideWorkspace(abs) } : {}),
    });
    const started = performance.now();
    const building = this.index.build(roots, indexLimits(config));
    // Documents opened before the index existed (unsaved ones included) count from the start.
    for (const abs of this.openByPath.keys()) this.index.fileChanged(abs);
    building
      .then(() => this.index?.idle())
      .then(() => {
        // Every open document's imports resolve against the whole index now.
        for (const uri of this.openByPath.values()) this.prepare(uri);
        const s = this.index?.stats();
        if (s) logger.info(`indexed ${s.files} files (${s.symbols} definitions; ${s.cache.fromCache} unchanged since the saved index, ${s.cache.read} read) in ${Math.round(performance.now() - started)} ms; skipped ${s.skipped.tooBig} too big, ${s.skipped.binary} binary, ${s.skipped.unparseable} unparseable, ${s.skipped.overLimit} over the limits`);
      })
      .catch((err: unknown) => logger.error(`workspace index failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
  }

  /** Workspace folders added and removed: the new ones are indexed, the old ones' files dropped. */
  foldersChanged(config: Config, added: string[], removed: string[]): void {
    if (!this.index) return this.start(config);
    for (const r of removed) this.index.removeRoot(r);
    if (added.length > 0 && config.context.enabled) {
      this.index.build(added, indexLimits(config)).catch((err: unknown) => this.deps.logger.error(`workspace index failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    }
  }

  opened(uri: string): void {
    const abs = uriToPath(uri);
    if (abs) this.openByPath.set(abs, uri);
    this.activity.changed(uri);
    if (abs) this.index?.documentChanged(abs);
    // Not left to the first keystroke: a document is usually completed in soon after it opens.
    this.prepare(uri);
  }

  /** Works out what the document's requests need that does not depend on the cursor. */
  private prepare(uri: string): void {
    const doc = this.deps.documents.get(uri);
    if (!doc || doc.binary) return;
    this.tables.prepare({ uri, abs: uriToPath(uri), lang: doc.tree?.language.name, text: doc.text.getText(), tree: doc.tree?.peek() });
  }

  /** One content change replaced lines `line` to `endLine` (as of after it). */
  changed(uri: string, line: number, endLine: number): void {
    this.activity.edited(uri, line, endLine);
    const abs = uriToPath(uri);
    if (abs) this.index?.documentChanged(abs);
  }

  saved(uri: string): void {
    const abs = uriToPath(uri);
    if (abs) this.index?.fileChanged(abs);
  }

  closed(uri: string): void {
    const abs = uriToPath(uri);
    this.activity.closed(uri);
    this.tables.forget(uri, abs);
    if (abs) {
      this.openByPath.delete(abs);
      this.index?.fileChanged(abs); // unsaved edits are gone: the disk's text counts again
    }
  }

  /**
   * A code action's syntax check of `edits`, in the index's worker (see SymbolHost.check); one
   * that cannot run there ('unavailable') is left to the caller's thread. Switching the index off
   * keeps the worker, so no check is interrupted by it.
   */
  checkEdits(lang: LanguageName, text: string, edits: readonly OffsetEdit[]): Promise<EditCheck | null | 'unavailable'> {
    return this.symbolHost.check(lang, text, edits);
  }

  /** workspace/didChangeWatchedFiles: renames arrive as a deletion and a creation. */
  filesChanged(events: FileEvent[]): void {
    for (const e of events) {
      const abs = uriToPath(e.uri);
      if (!abs) continue;
      if (e.type === 'deleted') this.index?.fileDeleted(abs);
      else this.index?.fileChanged(abs);
    }
  }

  dispose(): void {
    this.index?.dispose();
    this.activity.dispose();
    void this.symbolHost.dispose();
  }
}
