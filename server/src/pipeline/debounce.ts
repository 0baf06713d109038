// Debounce: how long an inline request waits for the next keystroke before calling the model.
import { sleep } from '../util/abort.js';

/** A request after this long a pause is answered at once: the user is waiting, not typing. */
export const IDLE_GAP_MS = 200;
const MIN_DELAY_MS = 25;
const MAX_DELAY_MS = 150;

export class Debouncer {
  private last = -Infinity;
  private avgGap = MAX_DELAY_MS;

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

  async wait(now: number, signal: AbortSignal): Promise<void> {
    const ms = this.delayFor(now);
    if (ms > 0) await sleep(ms, signal);
  }
}
