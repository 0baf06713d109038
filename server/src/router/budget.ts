// Cloud spend: tokens × the backend's price, one line per priced request in a file per local day, shared by every tandem process.
import { closeSync, openSync, readdirSync, readSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { appendLines } from '../util/appendLines.js';
import { stateDir } from '../util/paths.js';

/** `$XDG_STATE_HOME/tandem/spend/`, else `~/.local/state/tandem/spend/`: one `YYYY-MM-DD.jsonl` per day. */
export function spendDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'spend');
}

export interface Prices {
  pricePerMTokIn?: number;
  pricePerMTokOut?: number;
}

export function costUsd(p: Prices, tokensIn: number, tokensOut: number): number {
  return ((p.pricePerMTokIn ?? 0) * tokensIn + (p.pricePerMTokOut ?? 0) * tokensOut) / 1_000_000;
}

/** The local calendar day, so "daily" means the developer's day, not UTC's. */
export function localDay(d: Date): string {
  const m = String(d.getMonth() + 1).padStart(2, '0');
  const day = String(d.getDate()).padStart(2, '0');
  return `${d.getFullYear()}-${m}-${day}`;
}

/** Days of ledger files kept; older ones are removed when a new day's first spend is written. */
const KEEP_DAYS = 31;
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;

interface Totals {
  usd: number;
  byBackend: Record<string, number>;
}

interface Day {
  day: string;
  /** Summed from the day's file, every process's lines. */
  file: Totals;
  /** Bytes of the day's file already summed: only what was appended since is read. */
  offset: number;
  /** This process's spend that could not be written (full disk, read-only folder). */
  unwritten: Totals;
}

/**
 * The day's spend. Every priced request appends one line `{"time","backend","tokensIn",
 * "tokensOut","usd"}` to the day's file with one O_APPEND write, synchronously, before the answer
 * goes back, so a CLI call's spend is there after it exits and two editor windows never lose each
 * other's spend (there is no read-modify-write). The total is the sum of the file, read on demand
 * from where the last read stopped.
 */
export class SpendLedger {
  private state: Day;
  private failed = false;

  /**
   * `dir`: where the days' files are (undefined: memory only). `onError`: a ledger that cannot be
   * written or read, reported once per outage; the in-memory total still caps this process.
   */
  constructor(
    private readonly dir: string | undefined,
    private readonly now: () => Date = () => new Date(),
    private readonly onError?: (message: string) => void,
  ) {
    this.state = emptyDay(localDay(this.now()));
  }

  record(backend: string, prices: Prices, tokensIn: number, tokensOut: number): number {
    const usd = costUsd(prices, tokensIn, tokensOut);
    if (usd <= 0) return 0;
    this.refresh();
    const line = JSON.stringify({ time: this.now().toISOString(), backend, tokensIn, tokensOut, usd }) + '\n';
    if (this.dir) {
      let fresh = false;
      try {
        const path = this.file(this.state.day);
        fresh = !statSync(path, { throwIfNoEntry: false });
        appendLines(path, line);
        this.ok();
      } catch (err) {
        this.fail(err);
        add(this.state.unwritten, backend, usd);
        return usd;
      }
      // The next read sums this line, as it does every other process's.
      if (fresh) this.prune();
      return usd;
    }
    add(this.state.unwritten, backend, usd);
    return usd;
  }

  today(): { day: string; usd: number; byBackend: Record<string, number> } {
    this.refresh();
    const { file, unwritten } = this.state;
    const byBackend = { ...file.byBackend };
    for (const [b, usd] of Object.entries(unwritten.byBackend)) byBackend[b] = (byBackend[b] ?? 0) + usd;
    return { day: this.state.day, usd: file.usd + unwritten.usd, byBackend };
  }

  /** True once today's spend reached `dailyUsd` (no cap when undefined). */
  exhausted(dailyUsd: number | undefined): boolean {
    return dailyUsd !== undefined && this.today().usd >= dailyUsd;
  }

  private file(day: string): string {
    return join(this.dir!, `${day}.jsonl`);
  }

  /** A new day starts at zero; then the lines appended to today's file since the last read are added. */
  private refresh(): void {
    const today = localDay(this.now());
    if (this.state.day !== today) this.state = emptyDay(today);
    if (!this.dir) return;
    try {
      const path = this.file(today);
      const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
      // Smaller than what was read: the file was removed or replaced by hand; sum it again.
      if (size < this.state.offset) this.state = { ...this.state, file: { usd: 0, byBackend: {} }, offset: 0 };
      if (size > this.state.offset) this.readFrom(path, size);
      this.ok();
    } catch (err) {
      this.fail(err);
    }
  }

  private readFrom(path: string, size: number): void {
    const buf = Buffer.alloc(size - this.state.offset);
    const fd = openSync(path, 'r');
    try {
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.state.offset + got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    // Whole lines only: a line being appended right now is summed by the next read.
    const end = buf.lastIndexOf(0x0a) + 1;
    for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        const e = JSON.parse(line) as { backend?: unknown; usd?: unknown };
        if (typeof e.backend === 'string' && typeof e.usd === 'number' && Number.isFinite(e.usd) && e.usd > 0) add(this.state.file, e.backend, e.usd);
      } catch {
        /* a line cut by a full disk: its spend is lost, the others count */
      }
    }
    this.state.offset += end;
  }

  /** Removes the files of days older than KEEP_DAYS; no process writes those any more. */
  private prune(): void {
    const d = this.now();
    const cutoff = localDay(new Date(d.getFullYear(), d.getMonth(), d.getDate() - KEEP_DAYS));
    try {
      for (const name of readdirSync(this.dir!)) {
        const m = DAY_FILE.exec(name);
        if (m && m[1]! < cutoff) unlinkSync(join(this.dir!, name));
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private ok(): void {
    this.failed = false;
  }

  private fail(err: unknown): void {
    if (!this.failed) this.onError?.(`spend ledger ${this.dir}: ${(err as Error).message}`);
    this.failed = true;
  }
}

function emptyDay(day: string): Day {
  return { day, file: { usd: 0, byBackend: {} }, offset: 0, unwritten: { usd: 0, byBackend: {} } };
}

function add(t: Totals, backend: string, usd: number): void {
  t.usd += usd;
  t.byBackend[backend] = (t.byBackend[backend] ?? 0) + usd;
}
