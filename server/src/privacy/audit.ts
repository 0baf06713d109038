// The audit log: one JSON line per model request, on disk before the answer leaves; rotated by size; never the code.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, linkSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { openAppend, writeWhole } from '../util/appendLines.js';
import { stateDir } from '../util/paths.js';

export interface AuditSource {
  path: string;
  /** sha256 of the text that was sent from this file, to prove later what was (not) sent. */
  sha256: string;
}

export interface AuditRecord {
  time: string;
  task: string;
  backend: string;
  location: 'onprem' | 'cloud';
  model: string | null;
  tokensIn: number;
  tokensOut: number;
  sources: AuditSource[];
  redactions: number;
  latencyMs: number;
  /** `ok`, a failure kind, or `interrupted`: the process ended while the backend was answering. */
  outcome: string;
  /** A chat's door: `lsp` (tandem/chat) or `serve` (the OpenAI-compatible endpoint). */
  origin?: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `$XDG_STATE_HOME/tandem/audit.jsonl`, else `~/.local/state/tandem/audit.jsonl`. */
export function defaultAuditPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'audit.jsonl');
}

export interface AuditOptions {
  path: string;
  /** Rotate when the file would grow past this size. */
  maxBytes: number;
  /** Rotated files kept: audit.jsonl.1 … audit.jsonl.N. */
  keep: number;
  onError?: (message: string) => void;
}

/** How long a prepare() check holds: longer than a backend usually takes, short for a file's life. */
const READY_MS = 10_000;

/** Requests handed to a backend and not answered yet, across every log of the process. */
const inFlight = new Map<object, () => void>();

/**
 * Writes every request still in flight as `interrupted`: the process is about to end (exit,
 * signal, uncaught error) and those requests did reach a backend. Synchronous, so it can run in an
 * `exit` handler.
 */
export function writeInFlight(): void {
  for (const [key, write] of inFlight) {
    inFlight.delete(key);
    write();
  }
}

/**
 * Appends records synchronously, at the moment the gate has a request's outcome, before the answer
 * leaves the process: a SIGKILL right after the answer loses nothing. Each write is one write() of
 * whole lines to the file opened with O_APPEND, so several processes (editor windows, a CLI call)
 * share one log without interleaving or losing lines. On the answer's path that is the JSON and
 * one write(), the file's checks having run earlier (prepare): about 0.2 ms of the inline p50 on
 * the bench machine; a writer thread measured slower (bench/RESULTS.md, issue 12).
 */
export class AuditLog {
  private failed = false;
  private rotateFailed = false;
  /** The open log file and which file it is, to notice a rotation by another process. */
  private fd: number | undefined;
  private file: { ino: number; dev: number } | undefined;
  private closed = false;
  /** Checked by prepare(): the next write needs no stat. */
  private ready = false;
  private readyAt = 0;
  /** Bytes of the last write, the guess prepare() makes for the next record's size. */
  private lastBytes = 0;

  constructor(private readonly opts: AuditOptions) {}

  /** Never throws: a log that cannot be written is reported once per outage. */
  write(...records: AuditRecord[]): void {
    if (records.length === 0) return;
    try {
      this.append(records.map((r) => JSON.stringify(r) + '\n').join(''));
      this.failed = false;
    } catch (err) {
      // Opened afresh next time: the descriptor may be what failed.
      this.closeFile();
      // A full disk must not flood the log on every keystroke, nor fail the request.
      if (!this.failed) this.opts.onError?.(`audit log ${this.opts.path}: ${(err as Error).message}`);
      this.failed = true;
    }
  }

  /**
   * A request is about to be handed to a backend: `interrupted()` gives its record should the
   * process end before the answer; the returned function writes the real one.
   */
  begin(interrupted: () => AuditRecord): (record: AuditRecord) => void {
    const key = {};
    inFlight.set(key, () => this.write(interrupted()));
    // Once written as interrupted, a request has its one line: an answer after that adds none.
    return (record) => {
      if (inFlight.delete(key)) this.write(record);
    };
  }

  /**
   * Makes the next write a single system call: checks the file (is it due for rotation? is it still
   * the file our descriptor holds, or did another process rotate it, or someone remove it?) ahead
   * of time. The gate calls it while the backend works, so at the outcome only the write remains.
   */
  prepare(): void {
    // A log the configuration let go keeps no descriptor open in between.
    if (this.closed) return;
    try {
      this.check(this.lastBytes);
      this.ready = true;
      this.readyAt = performance.now();
    } catch {
      /* the write checks again, and reports what fails */
    }
  }

  /** The descriptor stays open between records: opening and closing per record costs as much again. */
  private append(chunk: string): void {
    const bytes = Buffer.byteLength(chunk);
    // A check made long ago (a request the backend took minutes over) is made again.
    if (!this.ready || this.fd === undefined || performance.now() - this.readyAt > READY_MS) this.check(bytes);
    this.ready = false;
    writeWhole(this.fd!, chunk);
    this.lastBytes = bytes;
    if (this.closed) this.closeFile();
  }

  private check(bytes: number): void {
    const { path, maxBytes } = this.opts;
    let st = statSync(path, { throwIfNoEntry: false });
    // Rotation happens between records, never inside one.
    if (st && st.size > 0 && st.size + bytes > maxBytes) {
      this.rotateLocked(bytes);
      st = statSync(path, { throwIfNoEntry: false });
    }
    if (this.fd === undefined || !st || st.ino !== this.file?.ino || st.dev !== this.file.dev) this.reopen();
  }

  private reopen(): void {
    this.closeFile();
    const fd = openAppend(this.opts.path);
    this.fd = fd;
    this.file = fstatSync(fd);
  }

  /** Lets the file go (the configuration named another log); a late record still gets written. */
  close(): void {
    this.closed = true;
    this.closeFile();
  }

  private closeFile(): void {
    this.ready = false;
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      /* already unusable */
    }
    this.fd = undefined;
  }

  /**
   * Rotates under a lock file, so two processes never shift the same files at once (the second
   * rename would overwrite what the first moved). Whoever takes the lock looks at the size again
   * (another process may have rotated meanwhile); whoever does not appends in place and leaves
   * rotation to the holder: no request waits for another process. A line written through a
   * descriptor opened just before the file was renamed lands in `.1`, still kept.
   */
  private rotateLocked(bytes: number): void {
    const { path, maxBytes } = this.opts;
    const lock = `${path}.lock`;
    try {
      const token = takeLock(lock);
      if (token) {
        try {
          const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
          if (size > 0 && size + bytes > maxBytes) this.rotate();
        } finally {
          releaseLock(lock, token);
        }
      }
      this.rotateFailed = false;
    } catch (err) {
      // The record matters more than the file's size: it is appended in place all the same.
      if (!this.rotateFailed) this.opts.onError?.(`audit log ${path}: cannot rotate: ${(err as Error).message}`);
      this.rotateFailed = true;
    }
  }

  private rotate(): void {
    const { path, keep } = this.opts;
    const tryTo = (f: () => void) => {
      try {
        f();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    };
    tryTo(() => unlinkSync(`${path}.${keep}`));
    for (let i = keep - 1; i >= 1; i--) tryTo(() => renameSync(`${path}.${i}`, `${path}.${i + 1}`));
    tryTo(() => renameSync(path, `${path}.1`));
  }
}

/**
 * A rotation takes microseconds; a lock older than this, or whose process is gone, was left by a
 * process killed in those microseconds.
 */
const STALE_LOCK_MS = 10_000;

/** Creates the lock file (O_EXCL); its content names the holder. Undefined when another holds it. */
function takeLock(lock: string): string | undefined {
  const token = `${process.pid} ${Math.random().toString(36).slice(2)}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      try {
        writeSync(fd, token);
      } finally {
        closeSync(fd);
      }
      return token;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (attempt > 0 || !breakStaleLock(lock)) return undefined;
  }
  return undefined;
}

/** Removes only our own lock: after a stale-lock takeover the file may be someone else's. */
function releaseLock(lock: string, token: string): void {
  try {
    if (readFileSync(lock, 'utf8') === token) unlinkSync(lock);
  } catch {
    /* gone already */
  }
}

/** True when a stale lock was removed (or vanished), so taking it may be tried again. */
function breakStaleLock(lock: string): boolean {
  let seen: { ino: number; dev: number; mtimeMs: number };
  let pid: number;
  try {
    seen = statSync(lock);
    pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
  } catch {
    return true;
  }
  // An empty file may be a lock taken a moment ago whose pid is not written yet: only age tells.
  const stale = Date.now() - seen.mtimeMs > STALE_LOCK_MS || (pid > 0 && !processAlive(pid));
  if (!stale) return false;
  // Moved aside, not unlinked: of two processes breaking it, one moves it; and if what was moved
  // is not the file judged stale (a fresh lock taken in between), it is put back.
  const aside = `${lock}.${process.pid}.stale`;
  try {
    renameSync(lock, aside);
  } catch {
    return false;
  }
  const moved = statSync(aside);
  if (moved.ino !== seen.ino || moved.dev !== seen.dev) {
    try {
      linkSync(aside, lock);
    } catch {
      /* a third process holds it now */
    }
    unlinkSync(aside);
    return false;
  }
  unlinkSync(aside);
  return true;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
