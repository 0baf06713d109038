// Backend health: a circuit breaker per backend fed by real requests and probes, latency averages, 429 cooldowns.
import type { BackendFailure, FailureKind } from '../models/types.js';

/**
 * Failures that say "the server is not there" or "it will not serve us": one of them opens the
 * breaker at once. A refused key (401/403) does not fix itself between keystrokes, so it too costs
 * one request per breaker window, not one per request.
 */
const DOWN_KINDS: ReadonlySet<FailureKind> = new Set(['unreachable', 'timeout', 'auth']);
/**
 * Failures that may be passing trouble: the breaker opens after a few in a row. A hedged request
 * that the backend lost while silent (`slow`) is one: a single slow prefill must not send every
 * keystroke elsewhere, a backend that drips or stalls request after request must.
 */
const FLAKY_KINDS: ReadonlySet<FailureKind> = new Set(['server', 'stream', 'bad_response', 'slow']);
const FLAKY_THRESHOLD = 3;
export const FIRST_OPEN_MS = 5_000;
const MAX_OPEN_MS = 60_000;
const DEFAULT_COOLDOWN_MS = 10_000;
/** Weight of the newest sample in the latency average. */
const LATENCY_ALPHA = 0.2;

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BackendHealth {
  name: string;
  state: BreakerState;
  healthy: boolean;
  latencyMs: number | null;
  /** The last failure's message, for doctor and the status line. */
  lastError: string | null;
  /** Set while a 429 asked us to wait. */
  coolingDownUntil: number | null;
}

interface Entry {
  state: BreakerState;
  failuresInRow: number;
  openUntil: number;
  openMs: number;
  trialInFlight: boolean;
  latency: number | null;
  lastError: string | null;
  cooldownUntil: number;
}

/**
 * Why a breaker: a dead GPU server must cost one deadline, not one per keystroke. After it
 * opens, requests skip the backend at once (the route's next one serves) until a probe or a
 * single trial request, after `openMs`, finds it back; each failed trial doubles the wait.
 */
export class HealthMonitor {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners: (() => void)[] = [];
  private readonly latencyListeners: (() => void)[] = [];

  constructor(private readonly now: () => number = () => Date.now()) {}

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Called when a latency sample changes a backend's rounded average (the status shows it). */
  onLatency(fn: () => void): void {
    this.latencyListeners.push(fn);
  }

  /** Forget backends no longer configured. */
  retain(names: string[]): void {
    for (const n of [...this.entries.keys()]) if (!names.includes(n)) this.entries.delete(n);
  }

  private entry(name: string): Entry {
    let e = this.entries.get(name);
    if (!e) {
      e = { state: 'closed', failuresInRow: 0, openUntil: 0, openMs: FIRST_OPEN_MS, trialInFlight: false, latency: null, lastError: null, cooldownUntil: 0 };
      this.entries.set(name, e);
    }
    return e;
  }

  /**
   * May a request go to this backend now? An open breaker past its wait lets exactly one
   * trial through (half-open); its outcome closes or re-opens the breaker.
   */
  available(name: string): boolean {
    const e = this.entry(name);
    const t = this.now();
    if (e.cooldownUntil > t) return false;
    if (e.state === 'closed') return true;
    if (e.state === 'open' && t >= e.openUntil) {
      e.state = 'half-open';
      e.trialInFlight = false;
    }
    if (e.state === 'half-open' && !e.trialInFlight) {
      e.trialInFlight = true;
      return true;
    }
    return false;
  }

  /** Read-only: would `available` say yes (without taking the half-open trial)? */
  isHealthy(name: string): boolean {
    const e = this.entry(name);
    const t = this.now();
    if (e.cooldownUntil > t) return false;
    return e.state === 'closed' || (e.state !== 'half-open' && t >= e.openUntil) || (e.state === 'half-open' && !e.trialInFlight);
  }

  success(name: string, latencyMs?: number): void {
    const e = this.entry(name);
    const changed = e.state !== 'closed';
    const shown = e.latency === null ? null : Math.round(e.latency);
    if (latencyMs !== undefined) e.latency = e.latency === null ? latencyMs : e.latency + LATENCY_ALPHA * (latencyMs - e.latency);
    e.state = 'closed';
    e.failuresInRow = 0;
    e.openMs = FIRST_OPEN_MS;
    e.trialInFlight = false;
    e.lastError = null;
    if (changed) this.emit();
    if (e.latency !== null && Math.round(e.latency) !== shown) for (const fn of this.latencyListeners) fn();
  }

  failure(name: string, f: BackendFailure): void {
    const e = this.entry(name);
    if (f.kind === 'cancelled' || f.kind === 'context_length') {
      // Says nothing about the server; a cancelled trial hands the trial to the next request.
      if (e.state === 'half-open') e.trialInFlight = false;
      return;
    }
    const before = this.signature(e);
    // A failure after the wait ran out is a failed trial, whether or not `available` was asked.
    if (e.state === 'open' && this.now() >= e.openUntil) e.state = 'half-open';
    e.lastError = f.message;
    if (f.kind === 'rate_limited') {
      e.cooldownUntil = this.now() + (f.retryAfterMs ?? DEFAULT_COOLDOWN_MS);
    } else if (DOWN_KINDS.has(f.kind) || (FLAKY_KINDS.has(f.kind) && ++e.failuresInRow >= FLAKY_THRESHOLD) || e.state === 'half-open') {
      // A failed trial doubles the wait; a first opening starts at FIRST_OPEN_MS.
      if (e.state === 'half-open') e.openMs = Math.min(MAX_OPEN_MS, e.openMs * 2);
      e.state = 'open';
      e.openUntil = this.now() + e.openMs;
      e.trialInFlight = false;
    }
    if (before !== this.signature(e)) this.emit();
  }

  /** What listeners care about: a change of breaker state or of cooldown. */
  private signature(e: Entry): string {
    return `${e.state}${e.cooldownUntil > this.now() ? '+cooldown' : ''}`;
  }

  snapshot(name: string): BackendHealth {
    const e = this.entry(name);
    const t = this.now();
    return {
      name,
      state: e.state === 'open' && t >= e.openUntil ? 'half-open' : e.state,
      healthy: this.isHealthy(name) && e.state === 'closed',
      latencyMs: e.latency === null ? null : Math.round(e.latency),
      lastError: e.lastError,
      coolingDownUntil: e.cooldownUntil > t ? e.cooldownUntil : null,
    };
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}
