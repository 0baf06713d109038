// Whether ghost text runs for a document now: inline.enabled, the per-language switch
// (inline.languages) and the user's snooze (`tandem.snooze`). Checked first thing in a request,
// so one that is switched off or snoozed answers empty without a backend being asked.
import { languageEnabled, type Config } from '../config/schema.js';

/** The longest snooze, a week: a snooze is a pause; inline.enabled and inline.languages switch off for good. */
export const MAX_SNOOZE_MINUTES = 7 * 24 * 60;

/** Why inline completions are off for a document of `languageId`, or undefined when they run. */
export function inlineOff(inline: Config['inline'], languageId: string, snoozedUntil: number | undefined): string | undefined {
  if (!inline.enabled) return 'inline completions are switched off (inline.enabled)';
  if (!languageEnabled(inline.languages, languageId)) return `inline completions are switched off for language ${JSON.stringify(languageId.slice(0, 60))} (inline.languages)`;
  if (snoozedUntil !== undefined) return `inline completions are snoozed until ${new Date(snoozedUntil).toISOString()} (tandem.snooze)`;
  return undefined;
}

export interface SnoozeOptions {
  /** Milliseconds since the epoch (Date.now): the end is reported as a date. */
  now?: () => number;
  /** Runs `fn` after `ms` and returns how to cancel it (setTimeout, unref'd, by default). */
  schedule?: (fn: () => void, ms: number) => () => void;
  /** Snoozing began, ended (asked, or its time ran out) or moved: the status changes. */
  onChange?: () => void;
}

const defaultSchedule = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

/**
 * The user's pause of ghost text, for this server process: `set(minutes)` from `tandem.snooze`.
 * Whether it is on is the clock's answer (`endsAt`); a timer at the end only tells the status.
 */
export class Snooze {
  private until: number | undefined;
  private cancel: (() => void) | undefined;
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => () => void;

  constructor(private readonly opts: SnoozeOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.schedule = opts.schedule ?? defaultSchedule;
  }

  /** When snoozing ends (ms since the epoch), or undefined when ghost text runs. */
  get endsAt(): number | undefined {
    return this.until !== undefined && this.now() < this.until ? this.until : undefined;
  }

  /** Snoozes for `minutes` from now (0 resumes at once); returns the end, as `endsAt`. Callers check the range. */
  set(minutes: number): number | undefined {
    this.cancel?.();
    this.cancel = undefined;
    this.until = minutes > 0 ? this.now() + minutes * 60_000 : undefined;
    if (this.until !== undefined) this.arm(this.until - this.now());
    this.opts.onChange?.();
    return this.endsAt;
  }

  dispose(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  private arm(ms: number): void {
    this.cancel = this.schedule(() => {
      this.cancel = undefined;
      const left = this.until === undefined ? 0 : this.until - this.now();
      // A timer may fire a little before the clock reaches the end: wait the rest.
      if (left > 0) return this.arm(left);
      this.until = undefined;
      this.opts.onChange?.();
    }, ms);
  }
}
