// The workspace index: definitions and imports of every source file, built and kept fresh in the background.
import { readdirSync, readFileSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import picomatch from 'picomatch';
import { languageOf, type LanguageName } from '../syntax/languages.js';
import type { Tree } from '../syntax/tree.js';
import type { Logger } from '../util/logger.js';
import { IgnoreFile, IgnoreStack } from './gitignore.js';
import { contentHash, IndexStore, RACY_MS, type FileStamp, type StoredFile } from './indexStore.js';
import { ProjectManifests } from './modules.js';
import { ImportResolver, type ExportTarget } from './resolve.js';
import { TagExtractor } from './tags.js';
import { BadPacked, hasName, nameKey, nameKeys, packSymbols, unpackExports, unpackImports, unpackNamed, unpackSymbols, type PackedSymbols } from './packed.js';
import type { ExportAlias, FileSymbols, ImportRef, IndexedSymbol } from './types.js';

export interface IndexLimits {
  /** Files above this many bytes are skipped (generated code, bundles, data). */
  maxFileBytes: number;
  /** At most this many files per workspace. */
  maxFiles: number;
  /** At most this many bytes of source per workspace. */
  maxWorkspaceBytes: number;
  /** Globs (relative to a root) never indexed, besides .gitignore. */
  exclude: string[];
}

export interface IndexProgress {
  done: number;
  total: number;
  finished: boolean;
}

export interface IndexDeps {
  /**
   * Parses a file's text; undefined when the parser gives up. The server's runs in slices off the
   * event loop (ParseService.parse), so a pathological file never holds a request up.
   */
  parse: (lang: LanguageName, text: string) => Promise<Tree | undefined> | Tree | undefined;
  /**
   * A file's definitions, imports and exports, worked out off this thread (the server's index
   * worker) and packed (packed.ts); undefined when the parse gave up. Without it, the index
   * parses (`parse`) and extracts on this thread.
   */
  symbols?: (lang: LanguageName, text: string) => Promise<PackedSymbols | undefined>;
  /** Workspace-relative path with `/` separators: the form snippets carry and privacy globs match. */
  relativePath: (abs: string) => string;
  logger: Logger;
  /** True while an inline request is in flight: indexing waits for it to end. */
  busy?: () => boolean;
  /** An open document's text and latest tree, which win over the file on disk. */
  openDocument?: (abs: string) => { text: string; tree?: Tree } | undefined;
  onProgress?: (p: IndexProgress) => void;
  /**
   * True for a path whose real path lies outside every workspace folder (a symbolic link that
   * leads out): such files are never indexed, so their text never becomes context.
   */
  outside?: (abs: string) => boolean;
  /** Longest stretch of indexing work before yielding to the event loop. */
  sliceMs?: number;
  /**
   * Keep the index on disk under this state directory (indexStore.ts): a build starts from what
   * was saved and reads only files that changed since. Without it, the index lives in memory.
   */
  persist?: { stateDir: string };
}

/**
 * One indexed file. Its definitions, imports and exports are kept packed (packed.ts) and unpacked
 * the first time something reads them, then kept: a request reads a few files, and loading or
 * indexing thousands makes no objects that a young-generation collection would have to copy.
 */
export class FileEntry {
  private syms: IndexedSymbol[] | undefined;
  private imps: ImportRef[] | undefined;
  private exps: ExportAlias[] | undefined;

  constructor(
    readonly abs: string,
    readonly rel: string,
    readonly lang: LanguageName,
    readonly bytes: number,
    readonly packed: PackedSymbols,
    /** The bytes this entry was read from, when the index is kept on disk. */
    readonly stamp: FileStamp | undefined,
    /** Called once when a packed part does not unpack (a damaged index file): the file is read again. */
    private readonly damaged: (e: FileEntry, err: unknown) => void,
    /** The objects `packed` was made from, when they are at hand (a file indexed on this thread). */
    found?: FileSymbols,
  ) {
    if (found) {
      this.syms = found.symbols.map((s) => ({ name: s.name, kind: s.kind, container: s.container, path: rel, line: s.line, endLine: s.endLine, runs: s.runs }));
      this.imps = found.imports;
      this.exps = found.exports;
    }
  }

  get symbols(): IndexedSymbol[] {
    return (this.syms ??= this.unpack(() => unpackSymbols(this.packed, this.rel)));
  }

  get imports(): ImportRef[] {
    return (this.imps ??= this.unpack(() => unpackImports(this.packed)));
  }

  /** Names the file exports for its own definitions under another name (`export default f`). */
  get exports(): ExportAlias[] {
    return (this.exps ??= this.unpack(() => unpackExports(this.packed)));
  }

  /** The distinct names of its definitions (without unpacking them). */
  get names(): string[] {
    return this.packed.names === '' ? [] : this.packed.names.split('\n');
  }

  /** Whether it defines `name` (without unpacking). */
  defines(name: string): boolean {
    return hasName(this.packed.names, name);
  }

  /**
   * Its definitions named `name`: from `symbols` once those are unpacked, else only these
   * unpacked (objects of their own: lookups key definitions by path and line, not identity).
   */
  named(name: string): IndexedSymbol[] {
    if (this.syms) return this.syms.filter((s) => s.name === name);
    if (!this.defines(name)) return [];
    return this.unpack(() => unpackNamed(this.packed, name, this.rel));
  }

  private unpack<T>(read: () => T[]): T[] {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof BadPacked)) throw err;
      this.damaged(this, err);
      return [];
    }
  }
}

export interface IndexStats {
  files: number;
  symbols: number;
  bytes: number;
  skipped: { tooBig: number; binary: number; unreadable: number; unparseable: number; overLimit: number };
  /** Files taken from the on-disk index and files read and indexed, since this index was made. */
  cache: CacheCounts;
}

export interface CacheCounts {
  /** Entries taken from the on-disk index without parsing (`verified` of them after reading and hashing the file). */
  fromCache: number;
  verified: number;
  /** Files (or open documents) read, parsed and indexed. */
  read: number;
  /** Saves that wrote at least one shard. */
  saves: number;
}

/** Directories never walked, whatever .gitignore says. */
const ALWAYS_SKIPPED = new Set(['.git', '.hg', '.svn', 'node_modules']);
const BINARY_SNIFF_BYTES = 8000;
const BUSY_RETRY_MS = 15;
/**
 * Indexing work between two turns of the event loop: what a request arriving meanwhile waits at
 * most, besides one file and a collection. While the index works, the event loop's delay p99 is
 * about this plus the longest young-generation pause (issue 14's target: 5 ms); a turn costs
 * microseconds, so halving the 4 ms it was costs no measurable indexing time.
 */
const DEFAULT_SLICE_MS = 2;
const PROGRESS_EVERY_MS = 200;
const CHANGE_SETTLE_MS = 750;
/**
 * A directory this large (its own size: ~6,000 entries on ext4, ~12,000 on tmpfs) is read in
 * batches instead of one synchronous call.
 */
const BIG_DIR_BYTES = 256 * 1024;
/** How long the index waits, once idle, before writing what changed to disk. */
const SAVE_DELAY_MS = 2000;

export class WorkspaceIndex {
  private readonly files = new Map<string, FileEntry>();
  /**
   * The files defining each name (an array only for a name defined in more than one), in the
   * order they were indexed, by the name's key (packed.ts's nameKey: no string per name is kept).
   */
  private readonly byName = new Map<number, FileEntry | FileEntry[]>();
  /** `lookup`'s answers, each dropped when a file defining that name enters or leaves. */
  private readonly looked = new Map<string, readonly IndexedSymbol[]>();
  private readonly byBase = new Map<string, Set<string>>();
  private readonly byDir = new Map<string, Set<string>>();
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly settleTimers = new Map<string, NodeJS.Timeout>();
  private readonly resolved = new Map<string, string[]>();
  private readonly exportsResolved = new Map<string, ExportTarget>();
  private readonly manifests: ProjectManifests;
  private readonly resolver: ImportResolver;
  /** Bumped whenever a file enters, changes in or leaves the index, or a manifest changes: what was resolved before may differ now. */
  private changes = 0;
  private readonly extractor = new TagExtractor();
  private readonly idleWaiters: (() => void)[] = [];
  private pumping = false;
  private disposed = false;
  private done = 0;
  private total = 0;
  private lastProgress = 0;
  private bytes = 0;
  private excludeMatcher: (rel: string) => boolean = () => false;
  /** The folders built so far: events for files outside them are ignored. */
  private readonly roots: string[] = [];
  private limits: IndexLimits = { maxFileBytes: 256 * 1024, maxFiles: 20_000, maxWorkspaceBytes: 256 * 1024 * 1024, exclude: [] };
  readonly skipped: IndexStats['skipped'] = { tooBig: 0, binary: 0, unreadable: 0, unparseable: 0, overLimit: 0 };
  private readonly counts: CacheCounts = { fromCache: 0, verified: 0, read: 0, saves: 0 };
  /** On-disk stores by workspace folder (with `persist`). */
  private readonly stores = new Map<string, IndexStore>();
  /** Records loaded from disk and not yet checked against their files, by absolute path. */
  private readonly loaded = new Map<string, StoredFile>();
  /** Builds between loading records and queueing their files: leftovers are dropped only after. */
  private building = 0;
  /** Bumped whenever what the disk should hold changes (a file read, dropped, or re-stamped). */
  private diskChanges = 0;
  /** `diskChanges` as of the last save: a save is due when it differs, or a store asks for one. */
  private savedAt = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;

  constructor(private readonly deps: IndexDeps) {
    this.manifests = new ProjectManifests(deps.logger);
    this.resolver = new ImportResolver(
      {
        has: (abs) => this.files.has(abs),
        byBase: (name) => this.byBase.get(name) ?? [],
        filesIn: (dir) => this.byDir.get(dir) ?? [],
        dirs: () => this.byDir.keys(),
        entry: (abs) => this.files.get(abs),
        definedIn: (abs, name) => {
          const e = this.files.get(abs);
          return e === undefined ? [] : e.named(name).filter((s) => s.container === undefined);
        },
        resolved: (fromAbs, lang, source) => this.resolveImport(fromAbs, lang, source),
      },
      this.manifests,
      deps.logger,
    );
  }

  /**
   * Walks the roots (gitignore and limits applied) and queues every source file; indexing runs in
   * slices off the request path. Resolves when the walk is done; `idle()` waits for the indexing.
   */
  async build(roots: string[], limits: IndexLimits): Promise<void> {
    this.setLimits(limits);
    for (const r of roots) if (!this.roots.includes(r)) this.roots.push(r);
    this.building++;
    try {
      // What was saved comes first: each record is checked against its file when the file's turn comes.
      if (this.deps.persist) for (const root of roots) await this.loadStore(root, this.deps.persist.stateDir);
      const found: string[] = [];
      const manifests: string[] = [];
      let bytes = 0;
      for (const root of roots) {
        if (this.disposed) return;
        const budget = { files: limits.maxFiles - found.length, bytes: limits.maxWorkspaceBytes - bytes };
        const over = this.skipped.overLimit;
        const r = await walk(root, limits, budget, this.skipped, this.deps.logger, this.deps.outside, this.deps.sliceMs ?? DEFAULT_SLICE_MS);
        found.push(...r.files);
        manifests.push(...r.manifests);
        bytes += r.bytes;
        // A repository larger than the limits (50,000 files) is indexed in part: said once per folder and build.
        const left = this.skipped.overLimit - over;
        if (left > 0) this.deps.logger.warn(`${root}: ${left} source files left out of the index, over context.maxFiles (${limits.maxFiles} files) or context.maxWorkspaceBytes (${limits.maxWorkspaceBytes} bytes) for the workspace; the first in path order are indexed (raise the limits, or leave folders out with context.exclude)`);
      }
      // Read before the first file is indexed, so that no request resolves without them.
      await this.manifests.load(manifests);
      this.clearResolved();
      this.total += found.length;
      for (const f of found) this.enqueue(f);
    } finally {
      this.building--;
    }
    // Nothing to index (an empty folder): records of files gone go now.
    if (!this.pumping) this.finish();
    else this.report(true);
  }

  private async loadStore(root: string, stateDir: string): Promise<void> {
    if (this.stores.has(root)) return;
    const store = IndexStore.open(root, { stateDir, logger: this.deps.logger, sliceMs: this.deps.sliceMs ?? DEFAULT_SLICE_MS, busy: this.deps.busy });
    if (!store) return;
    this.stores.set(root, store);
    const records = await store.load();
    // Keys are paths relative to the folder, as `records()` wrote them.
    const prefix = root.endsWith(sep) ? root : root + sep;
    for (const [key, rec] of records) this.loaded.set(prefix + key, rec);
  }

  /**
   * Writes what changed since the last save to disk now (the CLI, before it answers; tests). The
   * server's index saves by itself, a moment after indexing goes idle.
   */
  async save(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    while (this.saving) await this.saving;
    if (!this.saveDue() || this.disposed) return;
    this.saving = this.saveNow();
    try {
      await this.saving;
    } finally {
      this.saving = undefined;
    }
  }

  /** Counts of files taken from disk and read afresh. */
  get cacheCounts(): CacheCounts {
    return { ...this.counts };
  }

  private async saveNow(): Promise<void> {
    const at = this.diskChanges;
    let written = 0;
    for (const [store, list] of this.records()) written += await store.save(list);
    this.settleSave(at, written);
  }

  private saveSync(): void {
    const at = this.diskChanges;
    let written = 0;
    for (const [store, list] of this.records()) written += store.saveSync(list);
    this.settleSave(at, written);
  }

  private saveDue(): boolean {
    if (this.stores.size === 0) return false;
    if (this.savedAt !== this.diskChanges) return true;
    for (const s of this.stores.values()) if (s.stale) return true;
    return false;
  }

  private settleSave(at: number, written: number): void {
    if (written > 0) this.counts.saves++;
    this.savedAt = at;
  }

  /** Each store's records: the entries with a stamp, under the innermost folder holding them. */
  private records(): Map<IndexStore, StoredFile[]> {
    const out = new Map<IndexStore, StoredFile[]>();
    for (const store of this.stores.values()) out.set(store, []);
    for (const e of this.files.values()) {
      if (!e.stamp) continue;
      const root = this.innermostRoot(e.abs);
      if (root === undefined) continue;
      const st = e.stamp;
      const key = e.abs.slice(root.endsWith(sep) ? root.length : root.length + 1);
      out.get(this.stores.get(root)!)!.push({ key, size: st.size, mtimeMs: st.mtimeMs, hash: st.hash, racy: st.racy, lang: e.lang, bytes: e.bytes, packed: e.packed });
    }
    return out;
  }

  /** A save a moment after the index went idle with changes; writes happen in slices, waiting while a request runs. */
  private scheduleSave(): void {
    if (!this.saveDue() || this.disposed || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save().catch((err: unknown) => this.deps.logger.warn(`saving the index failed: ${err instanceof Error ? err.message : String(err)}`));
    }, SAVE_DELAY_MS);
    this.saveTimer.unref?.();
  }

  private innermostRoot(abs: string): string | undefined {
    let best: string | undefined;
    for (const r of this.stores.keys()) if (abs.startsWith(r.endsWith(sep) ? r : r + sep) && (best === undefined || r.length > best.length)) best = r;
    return best;
  }

  /** New limits apply to the files indexed from now on. */
  setLimits(limits: IndexLimits): void {
    this.limits = limits;
    this.excludeMatcher = limits.exclude.length ? picomatch(limits.exclude, { dot: true }) : () => false;
  }

  /** Resolves when nothing is queued (tests, the CLI, benchmarks). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.pumping) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** An open document changed: re-index it once edits settle. */
  documentChanged(abs: string): void {
    if (!this.isIndexable(abs)) return;
    clearTimeout(this.settleTimers.get(abs));
    const t = setTimeout(() => {
      this.settleTimers.delete(abs);
      this.enqueue(abs);
    }, CHANGE_SETTLE_MS);
    t.unref?.();
    this.settleTimers.set(abs, t);
  }

  /** A file was created, changed, saved or closed: re-read it (or the open document) soon. */
  fileChanged(abs: string): void {
    if (ProjectManifests.isManifest(abs)) return this.manifestChanged(abs);
    if (!this.isIndexable(abs)) return;
    if (!this.files.has(abs)) this.total++;
    this.enqueue(abs);
  }

  /** A workspace folder was removed: its files leave the index. */
  removeRoot(root: string): void {
    const i = this.roots.indexOf(root);
    if (i >= 0) this.roots.splice(i, 1);
    this.stores.delete(root);
    const prefix = root.endsWith(sep) ? root : root + sep;
    for (const f of [...this.files.keys()]) if (f.startsWith(prefix) && !this.roots.some((r) => f.startsWith(r + sep))) this.drop(f);
    if (!this.roots.some((r) => prefix.startsWith(r + sep))) this.manifests.removeUnder(prefix);
    this.clearResolved();
  }

  fileDeleted(abs: string): void {
    if (ProjectManifests.isManifest(abs)) {
      this.manifests.remove(abs);
      this.clearResolved();
    }
    clearTimeout(this.settleTimers.get(abs));
    this.settleTimers.delete(abs);
    this.drop(abs);
    // A deleted directory: every indexed file under it goes too.
    const prefix = abs.endsWith('/') ? abs : abs + '/';
    for (const f of [...this.files.keys()]) if (f.startsWith(prefix)) this.drop(f);
  }

  get(abs: string): FileEntry | undefined {
    return this.files.get(abs);
  }

  /** Every indexed file (multi-file actions look for importers and test files). */
  entries(): IterableIterator<FileEntry> {
    return this.files.values();
  }

  /** Definitions with this exact name, across the workspace. */
  lookup(name: string): readonly IndexedSymbol[] {
    const known = this.looked.get(name);
    if (known) return known;
    const files = this.byName.get(nameKey(name));
    if (!files) return [];
    const r: IndexedSymbol[] = [];
    for (const e of Array.isArray(files) ? files : [files]) r.push(...e.named(name));
    this.looked.set(name, r);
    return r;
  }

  /** Indexed files in a directory. */
  filesIn(dir: string): FileEntry[] {
    const out: FileEntry[] = [];
    for (const f of this.byDir.get(dir) ?? []) {
      const e = this.files.get(f);
      if (e) out.push(e);
    }
    return out;
  }

  stats(): IndexStats {
    let symbols = 0;
    for (const e of this.files.values()) symbols += e.packed.count;
    return { files: this.files.size, symbols, bytes: this.bytes, skipped: { ...this.skipped }, cache: { ...this.counts } };
  }

  /** Changes with every file indexed or dropped and every manifest read: caches of resolved imports compare it. */
  get version(): number {
    return this.changes;
  }

  get progress(): IndexProgress {
    return { done: this.done, total: Math.max(this.total, this.done), finished: this.queue.length === 0 && !this.pumping };
  }

  /**
   * The indexed files an import refers to (a Go import: every file of the package). Cached until
   * the set of files changes.
   */
  resolveImport(fromAbs: string, lang: LanguageName, source: string): string[] {
    const key = `${fromAbs}\0${source}`;
    let r = this.resolved.get(key);
    if (!r) {
      r = this.resolver.resolve(fromAbs, lang, source);
      this.resolved.set(key, r);
    }
    return r;
  }

  /**
   * What `name` exported by `files` (an import's resolved files) refers to: its definitions, found
   * through re-exports (barrels, `__init__.py`, `pub use`), or the modules it names. Cached like
   * `resolveImport`.
   */
  exported(files: readonly string[], name: string): ExportTarget {
    const key = `${files.join('\0')}\0\0${name}`;
    let r = this.exportsResolved.get(key);
    if (!r) {
      r = this.resolver.exported(files, name);
      this.exportsResolved.set(key, r);
    }
    return r;
  }

  dispose(): void {
    // On the way out (shutdown, context switched off) what changed is written at once: the next
    // start reads only what changes after this.
    if (this.saveTimer && !this.saving) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.saveSync();
    }
    this.disposed = true;
    this.loaded.clear();
    this.looked.clear();
    for (const t of this.settleTimers.values()) clearTimeout(t);
    this.settleTimers.clear();
    this.queue.length = 0;
    this.queued.clear();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** A source file inside a workspace folder, not excluded: documents elsewhere are not indexed. */
  private isIndexable(abs: string): boolean {
    if (this.disposed || languageOf('', abs) === undefined || !this.underRoot(abs)) return false;
    return !this.excluded(abs) && !this.deps.outside?.(abs);
  }

  private underRoot(abs: string): boolean {
    return this.roots.some((r) => abs.startsWith(r.endsWith(sep) ? r : r + sep));
  }

  private excluded(abs: string): boolean {
    const rel = this.deps.relativePath(abs);
    if (rel.split('/').some((s) => ALWAYS_SKIPPED.has(s))) return true;
    return this.excludeMatcher(rel);
  }

  private enqueue(abs: string): void {
    if (this.disposed || this.queued.has(abs)) return;
    this.queued.add(abs);
    this.queue.push(abs);
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => void this.run());
  }

  /**
   * Indexes the queue in slices of `sliceMs`, yielding to the event loop between them and waiting
   * while an inline request is in flight. A file's parse runs in the ParseService's own slices.
   */
  private async run(): Promise<void> {
    const sliceMs = this.deps.sliceMs ?? DEFAULT_SLICE_MS;
    let until = performance.now() + sliceMs;
    while (this.queue.length > 0 && !this.disposed) {
      if (this.deps.busy?.()) {
        await new Promise((r) => setTimeout(r, BUSY_RETRY_MS).unref?.());
        continue;
      }
      if (performance.now() >= until) {
        this.report(false);
        await new Promise((r) => setImmediate(r));
        until = performance.now() + sliceMs;
        continue;
      }
      const abs = this.queue.shift()!;
      this.queued.delete(abs);
      try {
        await this.indexOne(abs);
      } catch (err) {
        // A bug in extraction must not stop the index: log it and go on with the next file.
        this.skipped.unparseable++;
        this.deps.logger.debug(`cannot index ${abs}: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.done++;
    }
    this.finish();
  }

  private finish(): void {
    this.pumping = false;
    // Records of files no build queued (deleted, excluded now) are not needed any more.
    if (this.building === 0 && this.loaded.size > 0) {
      this.loaded.clear();
      this.diskChanges++;
    }
    this.report(true);
    this.scheduleSave();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private report(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastProgress < PROGRESS_EVERY_MS) return;
    this.lastProgress = now;
    this.deps.onProgress?.(this.progress);
  }

  private async indexOne(abs: string): Promise<void> {
    const lang = languageOf('', abs);
    if (!lang) return;
    const saved = this.loaded.get(abs);
    this.loaded.delete(abs);
    const persist = this.stores.size > 0;
    const open = this.deps.openDocument?.(abs);
    let text: string;
    let stamp: FileStamp | undefined;
    if (open) {
      text = open.text;
      if (persist) {
        // Kept with its hash only: the file on disk may differ, so it is taken from disk only when its bytes match.
        stamp = { size: Buffer.byteLength(text), mtimeMs: -1, hash: contentHash(text), racy: true };
        // The text the record was read from (a document opened unchanged): the record and its
        // stamp hold, as the disk's stamp still says whether the file changed since.
        if (saved?.hash === stamp.hash) return this.adopt(abs, saved, saved, false);
      }
    } else {
      let size: number;
      let mtimeMs: number;
      const now = Date.now();
      try {
        const st = statSync(abs);
        if (!st.isFile()) return this.drop(abs);
        size = st.size;
        mtimeMs = st.mtimeMs;
      } catch {
        return this.drop(abs); // deleted or renamed away
      }
      if (size > this.limits.maxFileBytes) {
        this.skipped.tooBig++;
        return this.drop(abs);
      }
      if (!this.files.has(abs) && (this.files.size >= this.limits.maxFiles || this.bytes + size > this.limits.maxWorkspaceBytes)) {
        this.skipped.overLimit++;
        return;
      }
      const racy = mtimeMs >= now - RACY_MS;
      // Unchanged since it was saved (same size and mtime, and the mtime was not that of the moment of reading).
      if (saved && !saved.racy && saved.size === size && saved.mtimeMs === mtimeMs) return this.adopt(abs, saved, saved, false);
      let buf: Buffer;
      try {
        buf = readFileSync(abs);
      } catch {
        this.skipped.unreadable++;
        return this.drop(abs);
      }
      if (buf.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
        this.skipped.binary++;
        return this.drop(abs);
      }
      if (persist) {
        stamp = { size: buf.length, mtimeMs, hash: contentHash(buf), racy };
        // Touched, or saved in the tick it was read, but the same bytes: what was saved holds.
        if (saved?.hash === stamp.hash) return this.adopt(abs, saved, stamp, true);
      }
      text = buf.toString('utf8');
    }
    if (text.length > this.limits.maxFileBytes) {
      this.skipped.tooBig++;
      return this.drop(abs);
    }
    let found: PackedSymbols | FileSymbols | undefined;
    try {
      found = this.deps.symbols ? await this.deps.symbols(lang.name, text) : await this.extractHere(lang.name, text, open?.tree);
    } catch {
      found = undefined;
    }
    // The index may have been disposed, or the folder removed, while the parse ran.
    if (this.disposed || !this.underRoot(abs)) return this.drop(abs);
    if (!found) {
      this.skipped.unparseable++;
      return this.drop(abs);
    }
    this.counts.read++;
    if (stamp) this.diskChanges++;
    this.install(abs, lang.name, text.length, found, stamp);
  }

  /** A saved record whose file has not changed: filed as if read now, under the rules a read file meets. */
  private adopt(abs: string, saved: StoredFile, stamp: FileStamp, verified: boolean): void {
    if (saved.bytes > this.limits.maxFileBytes) {
      this.skipped.tooBig++;
      return this.drop(abs);
    }
    if (this.disposed || !this.underRoot(abs)) return this.drop(abs);
    this.counts.fromCache++;
    if (verified) {
      this.counts.verified++;
      this.diskChanges++; // a new stamp to save (the same bytes, met at another mtime)
    }
    this.install(abs, saved.lang, saved.bytes, saved.packed, { size: stamp.size, mtimeMs: stamp.mtimeMs, hash: stamp.hash, racy: stamp.racy });
  }

  /** Files `found` (objects made on this thread, or packed by the worker or the saved index) under `abs`. */
  private install(abs: string, lang: LanguageName, bytes: number, found: PackedSymbols | FileSymbols, stamp: FileStamp | undefined): void {
    const rel = this.deps.relativePath(abs);
    const packed = 'count' in found ? found : packSymbols(found);
    const entry = new FileEntry(abs, rel, lang, bytes, packed, stamp, this.damaged, 'count' in found ? undefined : found);
    this.drop(abs);
    this.files.set(abs, entry);
    this.bytes += entry.bytes;
    for (const key of nameKeys(packed.names)) {
      const had = this.byName.get(key);
      if (had === entry || (Array.isArray(had) && had[had.length - 1] === entry)) continue; // two names of one key
      this.byName.set(key, had === undefined ? entry : Array.isArray(had) ? (had.push(entry), had) : [had, entry]);
    }
    this.forget(entry);
    addTo(this.byBase, basename(abs), abs);
    addTo(this.byDir, dirname(abs), abs);
    this.clearResolved();
  }

  /** `lookup`'s answers for the names a file defines, which it changes by entering or leaving. */
  private forget(e: FileEntry): void {
    if (this.looked.size > 0) for (const name of e.names) this.looked.delete(name);
  }

  /**
   * A packed part of a file's record did not unpack (a damaged index file that passed its
   * checksum): said once per file, without its content, and the file read again.
   */
  private readonly damaged = (e: FileEntry, err: unknown): void => {
    this.deps.logger.warn(`index record of ${e.rel} cannot be read (${err instanceof Error ? err.message : String(err)}); indexing the file again`);
    if (this.files.get(e.abs) !== e) return;
    this.drop(e.abs);
    this.fileChanged(e.abs);
  };

  /** Parse (unless the open document's tree matches) and extract on this thread. */
  private async extractHere(lang: LanguageName, text: string, tree: Tree | undefined): Promise<FileSymbols | undefined> {
    const t = tree ?? (await this.deps.parse(lang, text));
    return t ? this.extractor.extract(t, lang, text) : undefined;
  }

  private drop(abs: string): void {
    const old = this.files.get(abs);
    if (!old) return;
    if (old.stamp) this.diskChanges++;
    this.files.delete(abs);
    this.bytes -= old.bytes;
    for (const key of nameKeys(old.packed.names)) {
      const had = this.byName.get(key);
      if (had === old) this.byName.delete(key);
      else if (Array.isArray(had)) {
        const kept = had.filter((x) => x !== old);
        if (kept.length === 0) this.byName.delete(key);
        else if (kept.length !== had.length) this.byName.set(key, kept.length === 1 ? kept[0]! : kept);
      }
    }
    this.forget(old);
    this.byBase.get(basename(abs))?.delete(abs);
    this.byDir.get(dirname(abs))?.delete(abs);
    this.clearResolved();
  }

  private clearResolved(): void {
    this.resolved.clear();
    this.exportsResolved.clear();
    this.changes++;
  }

  /** A go.mod, tsconfig.json, package.json or Cargo.toml changed: read it again, then resolve afresh. */
  private manifestChanged(abs: string): void {
    if (this.disposed || !this.roots.some((r) => abs.startsWith(r.endsWith(sep) ? r : r + sep)) || this.excluded(abs)) return;
    this.manifests
      .update(abs)
      .then(() => this.clearResolved())
      .catch((err: unknown) => this.deps.logger.debug(`cannot read ${abs}: ${err instanceof Error ? err.message : String(err)}`));
  }
}

function addTo(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

/**
 * A directory's entries a batch per turn of the event loop: one `readdirSync` of 50,000 entries
 * holds the loop ~50-90 ms.
 */
async function entriesInBatches(dir: string): Promise<Dirent[]> {
  const out: Dirent[] = [];
  for await (const ent of await opendir(dir, { bufferSize: 1024 })) out.push(ent);
  return out;
}

/** Reads a directory's .gitignore, if any. */
function ignoreFileIn(dir: string): IgnoreFile | undefined {
  try {
    return new IgnoreFile(readFileSync(join(dir, '.gitignore'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Source files under `root`: .gitignore files honoured at every level, `exclude` globs and the
 * limits applied, symbolic links to directories followed once (a loop is walked no further),
 * symbolic links that lead out of the workspace (`outside`) not followed at all.
 *
 * Synchronous calls in slices of `sliceMs`, yielding between them: the promise API costs a trip
 * through libuv's pool per entry and stat (~10x slower; it was a third of a cold CLI run).
 */
async function walk(root: string, limits: IndexLimits, budget: { files: number; bytes: number }, skipped: IndexStats['skipped'], logger: Logger, outside: ((abs: string) => boolean) | undefined, sliceMs: number): Promise<{ files: string[]; bytes: number; manifests: string[] }> {
  const files: string[] = [];
  const manifests: string[] = [];
  let bytes = 0;
  const excluded = limits.exclude.length ? picomatch(limits.exclude, { dot: true }) : () => false;
  const seenDirs = new Set<string>();
  const stack: { dir: string; ignore: IgnoreStack }[] = [];
  try {
    const real = realpathSync(root);
    seenDirs.add(real);
    stack.push({ dir: root, ignore: new IgnoreStack().with(root, ignoreFileIn(root)) });
  } catch {
    logger.debug(`workspace folder ${root} cannot be read; not indexed`);
    return { files, bytes, manifests };
  }
  let until = performance.now() + sliceMs;
  const turn = async () => {
    if (performance.now() < until) return;
    await new Promise((r) => setImmediate(r));
    until = performance.now() + sliceMs;
  };
  while (stack.length > 0) {
    const { dir, ignore } = stack.pop()!;
    await turn();
    let entries: Dirent[];
    try {
      entries = statSync(dir).size > BIG_DIR_BYTES ? await entriesInBatches(dir) : readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const subdirs: string[] = [];
    for (const [i, ent] of entries.entries()) {
      if ((i & 63) === 63) await turn();
      if (ALWAYS_SKIPPED.has(ent.name)) continue;
      const abs = join(dir, ent.name);
      const rel = abs.slice(root.length + 1);
      let isDir = ent.isDirectory();
      let isFile = ent.isFile();
      if (ent.isSymbolicLink()) {
        if (outside?.(abs)) {
          logger.debug(`${abs} leads outside the workspace folders: not indexed`);
          continue;
        }
        try {
          const st = statSync(abs);
          isDir = st.isDirectory();
          isFile = st.isFile();
          if (isDir) {
            const real = realpathSync(abs);
            if (seenDirs.has(real)) continue; // a loop, or a directory we walk anyway
            seenDirs.add(real);
          }
        } catch {
          continue; // a dangling link
        }
      }
      if (isDir) {
        if (ignore.ignored(abs, true) || excluded(rel + '/')) continue;
        subdirs.push(abs);
        continue;
      }
      // Manifests regardless of .gitignore file rules (ignored folders are not walked): a committed
      // package.json can match a broad pattern such as `**/package.json`, meant for generated ones.
      if (isFile && ProjectManifests.isManifest(abs) && !excluded(rel)) manifests.push(abs);
      if (!isFile || !languageOf('', ent.name) || ignore.ignored(abs, false) || excluded(rel)) continue;
      let size: number;
      try {
        size = statSync(abs).size;
      } catch {
        continue;
      }
      if (size > limits.maxFileBytes) {
        skipped.tooBig++;
        continue;
      }
      if (files.length >= budget.files || bytes + size > budget.bytes) {
        skipped.overLimit++;
        continue;
      }
      files.push(abs);
      bytes += size;
    }
    // Depth-first in name order, so that a limit cuts the same files every time.
    subdirs.sort().reverse();
    for (const d of subdirs) stack.push({ dir: d, ignore: ignore.with(d, ignoreFileIn(d)) });
  }
  return { files: files.sort(), bytes, manifests };
}
