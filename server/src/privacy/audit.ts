// The audit log: one JSON line per model request, rotated by size; what left, where to, never the code.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
  outcome: string;
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

/** Records are written together after this pause, so a burst of keystrokes costs one write. */
const BATCH_MS = 50;

/**
 * Appends records in order, off the request's path: `write` only queues the line; a batch is
 * written BATCH_MS later through one queue, so concurrent requests never interleave half lines
 * and a keystroke never waits on the disk.
 */
export class AuditLog {
  private queue: Promise<void> = Promise.resolve();
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private failed = false;
  /** Bytes in the current file, known after the first write: no stat per batch. */
  private size: number | undefined;

  constructor(private readonly opts: AuditOptions) {}

  write(record: AuditRecord): Promise<void> {
    this.pending.push(JSON.stringify(record) + '\n');
    if (!this.timer) {
      this.timer = setTimeout(() => this.drain(), BATCH_MS);
      this.timer.unref?.();
    }
    return new Promise((resolve) => setTimeout(resolve, BATCH_MS + 1).unref?.()).then(() => this.queue);
  }

  /** Resolves when every record written so far is on disk. */
  flush(): Promise<void> {
    this.drain();
    return this.queue;
  }

  private drain(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.queue = this.queue.then(() => this.append(lines));
  }

  private async append(lines: string[]): Promise<void> {
    const { path, maxBytes } = this.opts;
    try {
      if (this.size === undefined) {
        await mkdir(dirname(path), { recursive: true });
        this.size = await stat(path).then((st) => st.size, () => 0);
      }
      // Rotation happens between records, never inside one. `size` counts the pending chunk too.
      let chunk = '';
      for (const line of lines) {
        const bytes = Buffer.byteLength(line);
        if (this.size > 0 && this.size + bytes > maxBytes) {
          if (chunk) await appendFile(path, chunk, { mode: 0o600 });
          chunk = '';
          await this.rotate();
          this.size = 0;
        }
        chunk += line;
        this.size += bytes;
      }
      if (chunk) await appendFile(path, chunk, { mode: 0o600 });
      this.failed = false;
    } catch (err) {
      this.size = undefined;
      // Reported once per outage: a full disk must not flood the log on every keystroke.
      if (!this.failed) this.opts.onError?.(`audit log ${path}: ${(err as Error).message}`);
      this.failed = true;
    }
  }

  private async rotate(): Promise<void> {
    const { path, keep } = this.opts;
    await unlink(`${path}.${keep}`).catch(() => undefined);
    for (let i = keep - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => undefined);
    await rename(path, `${path}.1`).catch(() => undefined);
  }
}
