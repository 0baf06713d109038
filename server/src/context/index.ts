// The workspace index: definitions and imports of every source file, built and kept fresh in the background.
import { readFileSync, statSync } from 'node:fs';
import { opendir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import picomatch from 'picomatch';
import { languageOf, type LanguageName } from '../syntax/languages.js';
import type { Tree } from '../syntax/tree.js';
import type { Logger } from '../util/logger.js';
import { IgnoreFile, IgnoreStack } from './gitignore.js';
import { ProjectManifests } from './modules.js';
import { ImportResolver, type ExportTarget } from './resolve.js';
import { TagExtractor } from './tags.js';
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
   * worker); undefined when the parse gave up. Without it, the index parses (`parse`) and
   * extracts on this thread.
   */
  symbols?: (lang: LanguageName, text: string) => Promise<FileSymbols | undefined>;
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
}

export interface FileEntry {
  abs: string;
  rel: string;
  lang: LanguageName;
  bytes: number;
  symbols: IndexedSymbol[];
  imports: ImportRef[];
  /** Names the file exports for its own definitions under another name (`export default f`). */
  exports: ExportAlias[];
}

export interface IndexStats {
  files: number;
  symbols: number;
  bytes: number;
  skipped: { tooBig: number; binary: number; unreadable: number; unparseable: number; overLimit: number };
}

/** Directories never walked, whatever .gitignore says. */
const ALWAYS_SKIPPED = new Set(['.git', '.hg', '.svn', 'node_modules']);
const BINARY_SNIFF_BYTES = 8000;
const BUSY_RETRY_MS = 15;
/** Indexing work between two turns of the event loop: what a request arriving meanwhile waits at most, besides one file. */
const DEFAULT_SLICE_MS = 4;
const PROGRESS_EVERY_MS = 200;
const CHANGE_SETTLE_MS = 750;

export class WorkspaceIndex {
  private readonly files = new Map<string, FileEntry>();
  private readonly byName = new Map<string, IndexedSymbol[]>();
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
          const rel = this.files.get(abs)?.rel;
          return rel === undefined ? [] : (this.byName.get(name) ?? []).filter((s) => s.path === rel && s.container === undefined);
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
    const found: string[] = [];
    const manifests: string[] = [];
    let bytes = 0;
    for (const root of roots) {
      if (this.disposed) return;
      const budget = { files: limits.maxFiles - found.length, bytes: limits.maxWorkspaceBytes - bytes };
      const r = await walk(root, limits, budget, this.skipped, this.deps.logger, this.deps.outside);
      found.push(...r.files);
      manifests.push(...r.manifests);
      bytes += r.bytes;
    }
    // Read before the first file is indexed, so that no request resolves without them.
    await this.manifests.load(manifests);
    this.clearResolved();
    this.total += found.length;
    for (const f of found) this.enqueue(f);
    this.report(true);
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
    return this.byName.get(name) ?? [];
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
    for (const e of this.files.values()) symbols += e.symbols.length;
    return { files: this.files.size, symbols, bytes: this.bytes, skipped: { ...this.skipped } };
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
    this.disposed = true;
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
    this.report(true);
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
    const open = this.deps.openDocument?.(abs);
    let text: string;
    if (open) {
      text = open.text;
    } else {
      let size: number;
      try {
        const st = statSync(abs);
        if (!st.isFile()) return this.drop(abs);
        size = st.size;
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
      text = buf.toString('utf8');
    }
    if (text.length > this.limits.maxFileBytes) {
      this.skipped.tooBig++;
      return this.drop(abs);
    }
    let found: FileSymbols | undefined;
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
    const rel = this.deps.relativePath(abs);
    const { symbols, imports, exports } = found;
    this.drop(abs);
    const entry: FileEntry = { abs, rel, lang: lang.name, bytes: text.length, symbols: symbols.map((s) => ({ name: s.name, kind: s.kind, container: s.container, path: rel, line: s.line, endLine: s.endLine, runs: s.runs })), imports, exports };
    this.files.set(abs, entry);
    this.bytes += entry.bytes;
    for (const s of entry.symbols) {
      let list = this.byName.get(s.name);
      if (!list) this.byName.set(s.name, (list = []));
      list.push(s);
    }
    addTo(this.byBase, basename(abs), abs);
    addTo(this.byDir, dirname(abs), abs);
    this.clearResolved();
  }

  /** Parse (unless the open document's tree matches) and extract on this thread. */
  private async extractHere(lang: LanguageName, text: string, tree: Tree | undefined): Promise<FileSymbols | undefined> {
    const t = tree ?? (await this.deps.parse(lang, text));
    return t ? this.extractor.extract(t, lang, text) : undefined;
  }

  private drop(abs: string): void {
    const old = this.files.get(abs);
    if (!old) return;
    this.files.delete(abs);
    this.bytes -= old.bytes;
    for (const s of old.symbols) {
      const list = this.byName.get(s.name);
      if (!list) continue;
      const kept = list.filter((x) => x.path !== old.rel || x.line !== s.line);
      if (kept.length) this.byName.set(s.name, kept);
      else this.byName.delete(s.name);
    }
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

/** Reads a directory's .gitignore, if any. */
async function ignoreFileIn(dir: string): Promise<IgnoreFile | undefined> {
  try {
    return new IgnoreFile(await readFile(join(dir, '.gitignore'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Source files under `root`: .gitignore files honoured at every level, `exclude` globs and the
 * limits applied, symbolic links to directories followed once (a loop is walked no further),
 * symbolic links that lead out of the workspace (`outside`) not followed at all.
 */
async function walk(root: string, limits: IndexLimits, budget: { files: number; bytes: number }, skipped: IndexStats['skipped'], logger: Logger, outside?: (abs: string) => boolean): Promise<{ files: string[]; bytes: number; manifests: string[] }> {
  const files: string[] = [];
  const manifests: string[] = [];
  let bytes = 0;
  const excluded = limits.exclude.length ? picomatch(limits.exclude, { dot: true }) : () => false;
  const seenDirs = new Set<string>();
  const stack: { dir: string; ignore: IgnoreStack }[] = [];
  try {
    const real = await realpath(root);
    seenDirs.add(real);
    stack.push({ dir: root, ignore: new IgnoreStack().with(root, await ignoreFileIn(root)) });
  } catch {
    logger.debug(`workspace folder ${root} cannot be read; not indexed`);
    return { files, bytes, manifests };
  }
  while (stack.length > 0) {
    const { dir, ignore } = stack.pop()!;
    let handle;
    try {
      handle = await opendir(dir);
    } catch {
      continue;
    }
    const subdirs: string[] = [];
    for await (const ent of handle) {
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
          const st = await stat(abs);
          isDir = st.isDirectory();
          isFile = st.isFile();
          if (isDir) {
            const real = await realpath(abs);
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
        size = (await stat(abs)).size;
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
    for (const d of subdirs) stack.push({ dir: d, ignore: ignore.with(d, await ignoreFileIn(d)) });
  }
  return { files: files.sort(), bytes, manifests };
}
