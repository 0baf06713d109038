// Hedged requests: a backend silent for its hedge delay has the route's next allowed backend asked too; the first usable answer wins.
import type { Config } from '../config/schema.js';
import type { BackendFailure, Outcome } from '../models/types.js';
import { CancelledError } from '../util/abort.js';
import type { Logger } from '../util/logger.js';

/**
 * The adaptive delay is a backend's p95 time to first token, kept within these bounds: below the
 * floor, ordinary jitter would double the load on both backends; above the cap, the hedge would
 * come too late to help within an inline deadline.
 */
export const HEDGE_FLOOR_MS = 100;
export const HEDGE_CAP_MS = 500;
/** The delay until a backend has HEDGE_MIN_SAMPLES first tokens on record. */
export const HEDGE_INITIAL_MS = 300;
export const HEDGE_MIN_SAMPLES = 5;
/** First-token times kept per backend. */
const TTFT_SAMPLES = 100;

/** `backends.<name>.hedgeMs`: a fixed delay, the adaptive one, or never. */
export type HedgeSetting = number | 'adaptive' | 'off';

export interface HedgeLeg<T> {
  backend: string;
  /**
   * Takes the backend's request slot just before it is asked (a half-open breaker lets one trial
   * through); false: it may not be asked now. Called only if the leg really starts, so a slot is
   * never taken by a hedge that was no longer needed.
   */
  claim?: () => boolean;
  /** Asks the backend under `signal`; `token` is called on every streamed piece of the answer. */
  run(signal: AbortSignal, token: () => void): Promise<Outcome<T>>;
}

export interface RaceResult<T> {
  /** The winner's answer; else an answer `usable` refused; else the last failure. */
  outcome: Outcome<T>;
  /** The backend whose outcome this is. */
  backend: string;
  /** Every backend asked, in order (one, or two when hedged). */
  asked: string[];
}

export interface HedgeSnapshot {
  /** Requests that asked a second backend because the first went silent. */
  started: number;
  /** Of those, whose answer was used, by backend. */
  won: Record<string, number>;
  /** What each backend's next inline request would wait for before hedging (omitted: `hedgeMs: "off"`). */
  delayMs: Record<string, number>;
}

interface Samples {
  xs: number[];
  /** Where the next sample goes once the ring is full. */
  at: number;
  p95: number | undefined;
}

interface Running {
  backend: string;
  ctrl: AbortController;
  start: number;
  tokens: number;
  done: boolean;
  detach(): void;
}

/**
 * Why hedge: a backend that drips or stalls would otherwise hold ghost text until the inline
 * deadline, and the breaker cannot know a server is slow until it has been slow. Racing the
 * route's next backend after the first one's usual (p95) wait costs a second request only on the
 * slowest few per cent, and the loser's connection is closed at once so its server stops
 * generating. Which backend may be the second is the router's decision (privacy, health, budget),
 * made by the caller's `next`.
 */
export class Hedger {
  private readonly ttft = new Map<string, Samples>();
  private started = 0;
  private readonly won: Record<string, number> = {};

  constructor(
    /** Feeds health: a first backend that went silent and lost counts as slow (health.ts: three in a row open its breaker). */
    private readonly report: (name: string, failure: BackendFailure) => void,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Forget backends no longer configured, or rebuilt (a new URL is a new server). */
  forget(keep: (name: string) => boolean): void {
    for (const n of [...this.ttft.keys()]) if (!keep(n)) this.ttft.delete(n);
  }

  /** How long `name` may stay silent before the route's next backend is asked too; undefined: never. */
  delayFor(name: string, setting: HedgeSetting | undefined, deadlineMs: number): number | undefined {
    if (setting === 'off') return undefined;
    if (typeof setting === 'number') return setting;
    const s = this.ttft.get(name);
    let delay = HEDGE_INITIAL_MS;
    if (s && s.xs.length >= HEDGE_MIN_SAMPLES) {
      s.p95 ??= percentile(s.xs, 0.95);
      delay = Math.min(HEDGE_CAP_MS, Math.max(HEDGE_FLOOR_MS, Math.round(s.p95)));
    }
    // Half the deadline at most: the second backend needs time to answer within it.
    return Math.min(delay, Math.floor(deadlineMs / 2));
  }

  snapshot(config: Config): HedgeSnapshot {
    const delayMs: Record<string, number> = {};
    for (const b of Object.values(config.backends)) {
      const d = this.delayFor(b.name, b.hedgeMs, config.inline.deadlineMs);
      if (d !== undefined) delayMs[b.name] = d;
    }
    return { started: this.started, won: { ...this.won }, delayMs };
  }

  /**
   * Runs `first`; if it sends nothing for `delayMs` (before its first token or between two), asks
   * the leg `next` plans too. The first answer `usable` accepts wins and the other leg is aborted.
   * A leg that fails leaves the race to the other; with no leg left the best outcome seen is
   * returned (the caller fails over from there). Without `next` or a delay, `first` runs alone
   * under the caller's own signal.
   */
  race<T>(first: HedgeLeg<T>, next: (() => Promise<HedgeLeg<T> | undefined>) | undefined, delayMs: number | undefined, signal: AbortSignal, usable: (v: T) => boolean): Promise<RaceResult<T>> {
    if (!next || delayMs === undefined) return this.alone(first, signal);
    return new Promise<RaceResult<T>>((resolve, reject) => {
      const legs: Running[] = [];
      let settled = false;
      let planning = false;
      let hedged = false;
      let timer: NodeJS.Timeout | undefined;
      let kept: { outcome: Outcome<T>; backend: string } | undefined;

      const stop = (except?: Running) => {
        settled = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        for (const l of legs) {
          l.detach();
          if (l !== except && !l.done) l.ctrl.abort(new CancelledError(except ? `${except.backend} answered first` : 'the hedged request ended'));
        }
      };
      const finish = (outcome: Outcome<T>, backend: string, winner?: Running) => {
        const primary = legs[0]!;
        stop(winner);
        if (hedged && winner) {
          this.won[backend] = (this.won[backend] ?? 0) + 1;
          const at = Math.round(this.now() - primary.start);
          if (winner !== primary && !primary.done) {
            // It went silent for its delay and another backend's whole answer came first: a strike
            // for the breaker, like a flaky failure (three in a row open it). One that had already
            // failed was reported with its own failure.
            this.report(primary.backend, { kind: 'slow', message: `sent ${primary.tokens ? 'no further token' : 'no first token'} for ${delayMs} ms; ${backend} answered first (hedged request, ${at} ms)` });
          }
          if (this.log.enabled('debug')) this.log.debug(`hedge: ${backend} won after ${at} ms; ${legs.filter((l) => l !== winner).map((l) => `${l.backend} aborted${l.tokens ? ` after ${l.tokens} pieces` : ', no token'}`).join(', ')}`);
        }
        resolve({ outcome, backend, asked: legs.map((l) => l.backend) });
      };
      const fail = (err: unknown) => {
        if (settled) return;
        stop();
        reject(err);
      };
      const maybeDone = () => {
        if (!settled && !planning && legs.every((l) => l.done) && kept) finish(kept.outcome, kept.backend);
      };
      const start = (leg: HedgeLeg<T>) => {
        const ctrl = new AbortController();
        const onAbort = () => ctrl.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        const l: Running = { backend: leg.backend, ctrl, start: this.now(), tokens: 0, done: false, detach: () => signal.removeEventListener('abort', onAbort) };
        legs.push(l);
        const token = () => {
          if (l.tokens++ === 0) this.sample(l.backend, this.now() - l.start);
          // The first leg's silence is what the timer measures: each piece starts it over.
          if (timer && l === legs[0]) timer.refresh();
        };
        leg.run(ctrl.signal, token).then((o) => {
          l.done = true;
          if (settled) return;
          if (o.ok && usable(o.value)) return finish(o, l.backend, l);
          // An answer that postprocessed to nothing beats any failure; among failures the latest is kept.
          if (o.ok || !kept?.outcome.ok) kept = { outcome: o, backend: l.backend };
          maybeDone();
        }, fail);
      };
      const hedge = async () => {
        timer = undefined;
        if (settled) return;
        planning = true;
        let leg: HedgeLeg<T> | undefined;
        try {
          leg = await next();
        } catch (err) {
          planning = false;
          // Planning throws when the request itself was cancelled: the first leg ends with it.
          if (!signal.aborted) return fail(err);
          return maybeDone();
        }
        planning = false;
        if (settled) return;
        const primary = legs[0]!;
        if (!leg || signal.aborted || !(leg.claim?.() ?? true)) {
          if (this.log.enabled('debug')) this.log.debug(`hedge: ${primary.backend} silent for ${delayMs} ms; no other backend of the route may serve now`);
          return maybeDone();
        }
        hedged = true;
        this.started++;
        if (this.log.enabled('debug')) this.log.debug(`hedge: ${primary.backend} sent ${primary.tokens ? 'no further token' : 'no first token'} for ${delayMs} ms; asking ${leg.backend} too`);
        start(leg);
      };
      timer = setTimeout(() => void hedge(), delayMs);
      start(first);
    });
  }

  /** One leg and no hedge: only its first token is timed, for the adaptive delay. */
  private async alone<T>(leg: HedgeLeg<T>, signal: AbortSignal): Promise<RaceResult<T>> {
    const start = this.now();
    let seen = false;
    const outcome = await leg.run(signal, () => {
      if (seen) return;
      seen = true;
      this.sample(leg.backend, this.now() - start);
    });
    return { outcome, backend: leg.backend, asked: [leg.backend] };
  }

  private sample(name: string, ms: number): void {
    let s = this.ttft.get(name);
    if (!s) this.ttft.set(name, (s = { xs: [], at: 0, p95: undefined }));
    if (s.xs.length < TTFT_SAMPLES) s.xs.push(ms);
    else {
      s.xs[s.at] = ms;
      s.at = (s.at + 1) % TTFT_SAMPLES;
    }
    s.p95 = undefined;
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}
