// The workspace index on disk: one directory per workspace folder under tandem's state directory, holding each file's definitions, imports and exports with the stamp they were read at.
//
// Layout: <stateDir>/index/<sha256 of the folder's real path, 24 hex>/<bits>-<n>.json, a file per
// shard (a file's shard: a hash of its path relative to the folder, on `bits` bits, chosen so a
// shard holds ~64 files). Each shard is a header line that must equal this process's own (format,
// grammar package versions, a hash of the extraction code, the folder's real path), a line with
// the SHA-1 of the rest, and a line per file: a JSON array of its key, stamp, language, size and
// definitions' names, then its packed definitions, imports and exports (packed.ts), separated by
// tabs (JSON text holds no raw tab or line break). A shard is read in one go (a few ms) and written
// whole through a temporary file and a rename: a reader sees an old or a new shard, never half of
// one; two writers of a shard leave the last one's. Only shards whose content changed are written.
//
// Loading checks the checksum and each file's line but leaves the packed parts as a view of the
// shard file's bytes (outside V8's heap), parsed when a request first reads that file (FileEntry
// in index.ts): building every definition's objects at once made the young-generation
// collections that copy them pause the event loop (see packed.ts).
//
// A shard that is damaged, truncated or from another version is left out (its files are indexed
// afresh) and said once per load; a directory that cannot be written leaves the index in memory,
// said once. Every record is checked against the file itself before use (WorkspaceIndex), so a
// stale or foreign shard can cost a re-read, never a wrong definition; a packed part that does
// not parse when read costs its file a re-read too.
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { syntaxBackend } from '../syntax/binding.js';
import type { LanguageName } from '../syntax/languages.js';
import type { Logger } from '../util/logger.js';
import { VERSION } from '../version.js';
import type { PackedSymbols } from './packed.js';

/** Bumped whenever the records' layout changes. */
export const FORMAT = 2;

/** What the index knew of a file's bytes when it read them. */
export interface FileStamp {
  /** Bytes on disk (an open document's text: its UTF-8 length). */
  size: number;
  /** The file's mtime when it was read; -1 for an open document's text (never trusted by stat). */
  mtimeMs: number;
  /** SHA-1 of the bytes read (base64). */
  hash: string;
  /**
   * The mtime was within RACY_MS of the moment of reading: a write in the same clock tick would
   * leave size and mtime alone, so the stamp alone does not prove the file unchanged.
   */
  racy: boolean;
}

/** One file's record: its path relative to the folder (`key`, native separators), stamp and what the index read from it. */
export interface StoredFile extends FileStamp {
  key: string;
  lang: LanguageName;
  /** Characters of the text (FileEntry.bytes). */
  bytes: number;
  /** Its definitions, imports and exports, unpacked by the index when a request reads them. */
  packed: PackedSymbols;
}

export interface StoreOptions {
  /** tandem's state directory (util/paths.ts). */
  stateDir: string;
  logger: Logger;
  /** Longest stretch of work between two turns of the event loop (async load and save). */
  sliceMs?: number;
  /** True while an inline request is in flight: a save waits. */
  busy?: () => boolean;
}

/** A stamp whose mtime is this close to the moment of reading is checked by content next time. */
export const RACY_MS = 2000;
const FILES_PER_SHARD = 64;
const MAX_BITS = 12;
/** As the index's own slices (index.ts). */
const DEFAULT_SLICE_MS = 2;
const BUSY_RETRY_MS = 15;
const NL = 10;
const TAB = 9;
const LINE_END = Buffer.from('\n');
const SHARD_NAME = /^(\d{1,2})-(\d{1,5})\.json$/;
const TEMP_NAME = /^\d{1,2}-\d{1,5}\.json\.(\d+)\.\d+\.tmp$/;

const LANGS: ReadonlySet<string> = new Set<LanguageName>(['typescript', 'tsx', 'javascript', 'python', 'go', 'rust', 'java']);

/** Grammar packages whose versions decide what a file's tags are. */
const GRAMMAR_PACKAGES = ['tree-sitter', 'tree-sitter-go', 'tree-sitter-java', 'tree-sitter-javascript', 'tree-sitter-python', 'tree-sitter-rust', 'tree-sitter-typescript'];
/** The code that turns a tree into records: a change to any of it makes old records wrong. */
const EXTRACTION_CODE = ['./tags', './types', './packed', '../syntax/languages'];

interface Version {
  format: number;
  grammars: Record<string, string>;
  extractor: string;
}

let version: Version | undefined;
/** Temporary files are named by process and by this counter: two stores of one folder in one process never share one. */
let nextTemp = 0;

/** web-tree-sitter's version (its package.json is not among its exports: found beside its entry file). */
function webTreeSitterVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return String((JSON.parse(readFileSync(join(dirname(require.resolve('web-tree-sitter')), 'package.json'), 'utf8')) as { version?: unknown }).version);
  } catch {
    return 'unknown';
  }
}

/** This process's format, grammar versions and extraction code hash (worked out once). */
export function storeVersion(): Version {
  if (version) return version;
  const require = createRequire(import.meta.url);
  const grammars: Record<string, string> = {};
  for (const p of GRAMMAR_PACKAGES) {
    try {
      grammars[p] = String((JSON.parse(readFileSync(require.resolve(`${p}/package.json`), 'utf8')) as { version?: unknown }).version);
    } catch {
      grammars[p] = 'missing';
    }
  }
  // Which tree-sitter parsed: its WebAssembly build may be another release than the native binding.
  grammars.binding = syntaxBackend() === 'wasm' ? `web-tree-sitter ${webTreeSitterVersion()}` : (syntaxBackend() ?? 'none');
  const h = createHash('sha256');
  // This module's own extension: .js when built, .ts under the test runner.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  try {
    for (const f of EXTRACTION_CODE) h.update(readFileSync(new URL(f + ext, import.meta.url)));
  } catch {
    // Sources not where they were built: fall back to the release, which changes with them.
    h.update(`tandem ${VERSION}`);
  }
  version = { format: FORMAT, grammars, extractor: h.digest('hex').slice(0, 16) };
  return version;
}

/** The directory holding a folder's index: one per real path, so two spellings of a folder share it. */
export function storeDir(stateDir: string, realRoot: string): string {
  return join(stateDir, 'index', createHash('sha256').update(realRoot).digest('hex').slice(0, 24));
}

/** SHA-1 of a file's bytes or an open document's text, as stamps hold it. */
export function contentHash(data: Buffer | string): string {
  return createHash('sha1').update(data).digest('base64');
}

export class IndexStore {
  readonly dir: string;
  private readonly header: string;
  /**
   * Per shard file, what is on disk as this process read or wrote it: its fingerprint, or the
   * records read (fingerprinted only when a save needs it, off the load's path).
   */
  private readonly onDisk = new Map<string, string | readonly StoredFile[]>();
  /** Shards were found that must be rewritten or removed (damaged, of another version). */
  private mustRewrite = false;
  /** Set once writing failed: the index stays in memory from then on. */
  private broken = false;
  private tempsSwept = false;

  private constructor(
    readonly root: string,
    realRoot: string,
    private readonly opts: StoreOptions,
  ) {
    this.dir = storeDir(opts.stateDir, realRoot);
    this.header = JSON.stringify({ ...storeVersion(), root: realRoot });
  }

  /** The store of a workspace folder; undefined when the folder's real path cannot be found (nothing to key it by). */
  static open(root: string, opts: StoreOptions): IndexStore | undefined {
    let real: string;
    try {
      real = realpathSync(root);
    } catch {
      return undefined;
    }
    return new IndexStore(root, real, opts);
  }

  /** Whether the next save must write even if no record changed: what is on disk is damaged or of another version. */
  get stale(): boolean {
    return this.mustRewrite && !this.broken;
  }

  /** Whether saving gave up (the directory cannot be written). */
  get inMemoryOnly(): boolean {
    return this.broken;
  }

  /** Every usable record, by key, reading a shard per turn of the event loop. Never throws. */
  async load(): Promise<Map<string, StoredFile>> {
    const out = new Map<string, StoredFile>();
    await this.drive(this.loadSteps(out));
    return out;
  }

  loadSync(): Map<string, StoredFile> {
    const out = new Map<string, StoredFile>();
    for (const _ of this.loadSteps(out));
    return out;
  }

  /** Writes the shards whose records changed (and removes those no longer used). Never throws. */
  async save(files: Iterable<StoredFile>): Promise<number> {
    const r = { written: 0 };
    await this.drive(this.saveSteps(files, r));
    return r.written;
  }

  saveSync(files: Iterable<StoredFile>): number {
    const r = { written: 0 };
    for (const _ of this.saveSteps(files, r));
    return r.written;
  }

  /** Runs a generator, yielding to the event loop whenever a slice is spent, and waiting while busy. */
  private async drive(steps: Generator<void>): Promise<void> {
    const sliceMs = this.opts.sliceMs ?? DEFAULT_SLICE_MS;
    let until = performance.now() + sliceMs;
    for (const _ of steps) {
      if (performance.now() < until && !this.opts.busy?.()) continue;
      await new Promise((r) => setImmediate(r));
      while (this.opts.busy?.()) await new Promise((r) => setTimeout(r, BUSY_RETRY_MS).unref?.());
      until = performance.now() + sliceMs;
    }
  }

  private *loadSteps(out: Map<string, StoredFile>): Generator<void> {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => SHARD_NAME.test(n));
    } catch (err) {
      // None yet is the first run (a file in the way is said when saving). A directory that cannot
      // be read is said once, and not written either.
      const c = code(err);
      if (c !== 'ENOENT' && c !== 'ENOTDIR') {
        this.broken = true;
        this.opts.logger.warn(`index cache ${this.dir} cannot be read (${c}); the index is kept in memory only`);
      }
      return;
    }
    let stale = 0;
    let damaged = 0;
    let first = '';
    for (const name of names.sort()) {
      yield;
      let text: Buffer;
      try {
        text = readFileSync(join(this.dir, name));
      } catch (err) {
        if (code(err) === 'ENOENT') continue; // removed by another process meanwhile
        damaged++;
        first ||= `${name}: ${code(err)}`;
        continue;
      }
      const nl = text.indexOf(NL);
      const head = text.toString('utf8', 0, nl < 0 ? text.length : nl);
      if (head !== this.header) {
        if (isHeader(head)) stale++;
        else {
          damaged++;
          first ||= `${name}: no valid header`;
        }
        continue;
      }
      const got: StoredFile[] = [];
      try {
        const nl2 = text.indexOf(NL, nl + 1);
        if (nl2 < 0) throw new Bad('no checksum');
        if (text.toString('latin1', nl + 1, nl2) !== bodyHash(text.subarray(nl2 + 1))) throw new Bad('checksum does not match');
        decodeShard(text, nl2 + 1, got);
      } catch (err) {
        damaged++;
        first ||= `${name}: ${err instanceof Error ? err.message : String(err)}`;
        continue;
      }
      for (const f of got) out.set(f.key, f);
      this.onDisk.set(name, got);
    }
    if (damaged > 0 || stale > 0) this.mustRewrite = true;
    if (damaged > 0) this.opts.logger.warn(`index cache ${this.dir}: ${damaged} of ${names.length} shard files damaged (${first})${stale ? `, ${stale} from another version` : ''}; their files are indexed again`);
    else if (stale > 0) this.opts.logger.info(`index cache ${this.dir} was written by another version of tandem or of its grammars; rebuilding it`);
  }

  private *saveSteps(files: Iterable<StoredFile>, result: { written: number }): Generator<void> {
    if (this.broken) return;
    // Fingerprints of shards as read (their records were written in key order).
    for (const [name, known] of this.onDisk) {
      if (typeof known !== 'string') this.onDisk.set(name, fingerprint(known));
      yield;
    }
    const all = [...files];
    let bits = 0;
    while (bits < MAX_BITS && all.length > FILES_PER_SHARD << bits) bits++;
    const shards = new Map<string, StoredFile[]>();
    for (const [i, f] of all.entries()) {
      if ((i & 1023) === 1023) yield;
      const name = `${bits}-${shardOf(f.key, bits)}.json`;
      let list = shards.get(name);
      if (!list) shards.set(name, (list = []));
      list.push(f);
    }
    let temp: string | undefined;
    try {
      this.ensureDir();
      for (const [name, list] of shards) {
        yield;
        list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        const fp = fingerprint(list);
        const known = this.onDisk.get(name);
        if (known !== undefined && (typeof known === 'string' ? known : fingerprint(known)) === fp) continue;
        temp = join(this.dir, `${name}.${process.pid}.${nextTemp++}.tmp`);
        const body = Buffer.concat(list.flatMap(encodeFile));
        writeTemp(temp, Buffer.concat([Buffer.from(`${this.header}\n${bodyHash(body)}\n`), body]));
        renameSync(temp, join(this.dir, name));
        temp = undefined;
        this.onDisk.set(name, fp);
        result.written++;
      }
      yield;
      // Shards of another size, or left empty, and temporary files of processes that died mid-write.
      for (const n of readdirSync(this.dir)) {
        const m = TEMP_NAME.exec(n);
        if ((SHARD_NAME.test(n) && !shards.has(n)) || (m && !this.tempsSwept && !alive(Number(m[1])))) {
          tryUnlink(join(this.dir, n));
          this.onDisk.delete(n);
        }
      }
      this.tempsSwept = true;
      this.mustRewrite = false;
    } catch (err) {
      if (temp) tryUnlink(temp);
      this.broken = true;
      this.opts.logger.warn(`index cache ${this.dir} cannot be written (${code(err)}); the index is kept in memory only`);
    }
  }

  /** The folder's directory, created 0700; an existing one narrowed to 0700. */
  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const d of [join(this.dir, '..'), this.dir]) {
      const st = lstatSync(d);
      if (!st.isDirectory()) throw Object.assign(new Error(`${d} is not a directory`), { code: 'ENOTDIR' });
      if ((st.mode & 0o077) !== 0) chmodSync(d, 0o700);
    }
  }
}

/**
 * Creates `path` (it must not exist: never through a link someone placed), 0600 from the start
 * (umask can only narrow it): the records hold lines of code. A file of that name can only be
 * left by a dead process that had this one's pid (names are unique within a process): removed.
 */
function writeTemp(path: string, data: Buffer): void {
  try {
    writeFileSync(path, data, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (code(err) !== 'EEXIST') throw err;
    unlinkSync(path);
    writeFileSync(path, data, { mode: 0o600, flag: 'wx' });
  }
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? (err instanceof Error ? err.message : String(err));
}

function tryUnlink(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // gone already, or not ours to remove
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return code(err) === 'EPERM';
  }
}

function isHeader(line: string): boolean {
  try {
    const h = JSON.parse(line) as { format?: unknown } | null;
    return typeof h === 'object' && h !== null && typeof h.format === 'number';
  } catch {
    return false;
  }
}

/** FNV-1a of the key, cut to `bits` bits: a file stays in its shard while the shard count does. */
function shardOf(key: string, bits: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return bits === 0 ? 0 : (h >>> 0) & ((1 << bits) - 1);
}

/** What decides a shard's bytes: its files' keys and stamps (a record follows from its file's content). */
function fingerprint(files: readonly StoredFile[]): string {
  const h = createHash('sha1');
  for (const f of files) h.update(`${f.key}\0${f.size}\0${f.mtimeMs}\0${f.hash}\0${f.racy ? 1 : 0}\n`);
  return h.digest('base64');
}

/** A file's line: its key, stamp, language, size and names as JSON, a tab, then its packed bytes. */
function encodeFile(f: StoredFile): Uint8Array[] {
  const p = f.packed;
  return [Buffer.from(`${JSON.stringify([f.key, f.size, f.mtimeMs, f.hash, f.racy, f.lang, f.bytes, p.count, p.names])}\t`), p.data, LINE_END];
}

function bodyHash(body: Uint8Array): string {
  return createHash('sha1').update(body).digest('base64');
}

class Bad extends Error {}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -1;
}

/**
 * Checks every file's line from `from` on (a shard is input: a damaged one must not reach the
 * index), its packed bytes kept as a view of `text`. Messages name a line by its position: what a
 * damaged one holds may be code.
 */
function decodeShard(text: Buffer, from: number, out: StoredFile[]): void {
  let at = from;
  for (let i = 0; at < text.length; i++) {
    const end = text.indexOf(NL, at);
    if (end < 0) throw new Bad(`record ${i}: cut short`);
    const t1 = text.indexOf(TAB, at);
    const t2 = t1 < 0 ? -1 : text.indexOf(TAB, t1 + 1);
    const t3 = t2 < 0 ? -1 : text.indexOf(TAB, t2 + 1);
    if (t3 < 0 || t3 > end) throw new Bad(`record ${i}: expected 4 fields`);
    let head: unknown;
    try {
      head = JSON.parse(text.toString('utf8', at, t1));
    } catch {
      throw new Bad(`record ${i}: not valid JSON`);
    }
    if (!Array.isArray(head) || head.length !== 9) throw new Bad(`record ${i}: expected a list of 9`);
    const [key, size, mtimeMs, hash, racy, lang, bytes, count, names] = head as unknown[];
    if (typeof key !== 'string' || key.length === 0 || key.split(/[\\/]/).includes('..')) throw new Bad(`record ${i}: bad key`);
    if (typeof lang !== 'string' || !LANGS.has(lang)) throw new Bad(`record ${i}: bad language`);
    if (!isInt(size) || !isInt(bytes) || typeof mtimeMs !== 'number' || !Number.isFinite(mtimeMs) || typeof hash !== 'string' || typeof racy !== 'boolean') throw new Bad(`record ${i}: bad stamp`);
    if (!isInt(count) || typeof names !== 'string') throw new Bad(`record ${i}: bad names`);
    const packed: PackedSymbols = { names, count, data: text.subarray(t1 + 1, end) };
    out.push({ key, size, mtimeMs, hash, racy, lang: lang as LanguageName, bytes, packed });
    at = end + 1;
  }
}
