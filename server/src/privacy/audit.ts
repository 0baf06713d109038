// The audit log: one JSON line per model request, rotated by size; what left, where to, never the code.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';

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
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.length > 0 ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'tandem', 'audit.jsonl');
}

export interface AuditOptions {
  path: string;
  /** Rotate when the file would grow past this size. */
  maxBytes: number;
  /** Rotated files kept: audit.jsonl.1 … audit.jsonl.N. */
  keep: number;
  onError?: (message: string) => void;
}

/**
 * Appends records in order, off the request's path: `write` returns at once and the lines
 * reach the file through one queue, so concurrent requests never interleave half lines.
 */
export class AuditLog {
  private queue: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(private readonly opts: AuditOptions) {}

  write(record: AuditRecord): Promise<void> {
    const line = JSON.stringify(record) + '\n';
    this.queue = this.queue.then(() => this.append(line));
    return this.queue;
  }

  /** Resolves when every record written so far is on disk. */
  flush(): Promise<void> {
    return this.queue;
  }

  private async append(line: string): Promise<void> {
    const { path, maxBytes } = this.opts;
    try {
      await mkdir(dirname(path), { recursive: true });
      const size = await stat(path).then((s) => s.size, () => 0);
      if (size > 0 && size + Buffer.byteLength(line) > maxBytes) await this.rotate();
      await appendFile(path, line, { mode: 0o600 });
      this.failed = false;
    } catch (err) {
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
