// Debounce: how long an inline request waits for the next keystroke before calling the model.
import { sleep } from '../util/abort.js';

/** A request after this long a pause is answered at once: the user is waiting, not typing. */
export const IDLE_GAP_MS = 200;
const MIN_DELAY_MS = 25;
const MAX_DELAY_MS = 150;

/** What the debounce did, for `tandem.stats`: tests and the benchmark read the server's own account. */
export interface DebounceCounts {
  /** Requests that waited (a delay above 0). */
  waited: number;
  /** The sum of those delays, in milliseconds. */
  waitedMs: number;
  /** Requests that skipped it: the user asked (an invoked inline request). */
  skipped: number;
}

export class Debouncer {
  private last = -Infinity;
  private avgGap = MAX_DELAY_MS;
  private readonly counts: DebounceCounts = { waited: 0, waitedMs: 0, skipped: 0 };

  constructor(private setting: () => number | 'adaptive') {}

  /** The wait for a request arriving now (updates the typing-speed estimate). */
  delayFor(now: number): number {
    const gap = now - this.last;
    this.last = now;
    const s = this.setting();
    if (s !== 'adaptive') return s;
    if (gap >= IDLE_GAP_MS) return 0;
    this.avgGap = 0.7 * this.avgGap + 0.3 * gap;
    // Wait a little longer than the user's usual gap between keys: the next key cancels us.
    return Math.min(MAX_DELAY_MS, Math.max(MIN_DELAY_MS, this.avgGap * 1.5));
  }

  /** Waits out the delay for a request arriving `now`; `during` hears the delay first when there is one. */
  async wait(now: number, signal: AbortSignal, during?: (ms: number) => void): Promise<void> {
    const ms = this.delayFor(now);
    if (ms <= 0) return;
    this.counts.waited++;
    this.counts.waitedMs += ms;
    during?.(ms);
    await sleep(ms, signal);
  }

  /**
   * A request the user asked for explicitly: answered at once. It is no keystroke, so the typing
   * estimate stays as it was.
   */
  skip(): void {
    this.counts.skipped++;
  }

  snapshot(): DebounceCounts {
    return { ...this.counts };
  }
}
