// The health picture for `tandem/status` and periodic probes that keep it current.
import type { Config } from '../config/schema.js';
import type { BackendRegistry } from '../models/registry.js';
import { deadlineSignal } from '../util/abort.js';
import { chooseBackend } from './route.js';

export interface Status {
  state: 'ok' | 'degraded' | 'offline';
  message: string;
  backends: { name: string; healthy: boolean; latencyMs: number | null }[];
  /** While the user has snoozed ghost text (`tandem.snooze`): when that ends, ISO 8601; absent otherwise. */
  snoozedUntil?: string;
}

/** `14:05` today, else `2025-06-01 14:05`, in the server's local time (the editor's, unless the server runs remotely). */
export function clockTime(ms: number, now: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return d.toDateString() === new Date(now).toDateString() ? time : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}`;
}

/** The status with the user's snooze said (in the message, for clients that show it as it is, and as a date). */
export function withSnooze(status: Status, snoozedUntil: number | undefined, now: number = Date.now()): Status {
  if (snoozedUntil === undefined) return status;
  return { ...status, message: `${status.message}; inline completions snoozed until ${clockTime(snoozedUntil, now)}`, snoozedUntil: new Date(snoozedUntil).toISOString() };
}

/**
 * `offline`: no backend may serve inline completions; `degraded`: some backend is down, cooling
 * down or the cloud budget is spent, but every route still has one; `ok` otherwise.
 */
export function statusOf(config: Config, registry: BackendRegistry): Status {
  const health = registry.health;
  const usable = (name: string) => !(config.backends[name]!.location === 'cloud' && config.privacy.airGapped);
  const backends = Object.keys(config.backends)
    .filter(usable)
    .map((name) => {
      const h = health.snapshot(name);
      return { name, healthy: h.healthy, latencyMs: h.latencyMs };
    });
  const budgetSpent = registry.spend.exhausted(config.budget.dailyUsd);
  const inputs = { isHealthy: (n: string) => health.isHealthy(n), budgetExhausted: budgetSpent };
  const inline = chooseBackend(config, 'inline', [], inputs);
  const down = backends.filter((b) => !b.healthy).map((b) => `${b.name}: ${health.snapshot(b.name).lastError ?? 'cooling down'}`);
  if (!inline.backend) return { state: 'offline', message: `no backend for inline completions (${down.join('; ') || inline.reason})`, backends };
  const served = (['action', 'multiFile'] as const).every((t) => chooseBackend(config, t, [], inputs).backend !== undefined);
  const lat = health.snapshot(inline.backend).latencyMs;
  const via = `inline via ${inline.backend}${lat !== null ? ` (${lat} ms)` : ''}`;
  if (down.length || budgetSpent || !served) {
    const notes = [...down, ...(budgetSpent ? [`daily cloud budget of $${config.budget.dailyUsd} spent: cloud routes fall back on-prem`] : [])];
    return { state: 'degraded', message: `${via}; ${notes.join('; ')}`, backends };
  }
  return { state: 'ok', message: via, backends };
}

/**
 * A latency as the status compares it: unknown, or its band of about a fifth (quarter octaves),
 * so the first measurement and a real change go out while the moving average's jitter does not.
 */
export function latencyBand(ms: number | null): number | null {
  return ms === null ? null : Math.round(4 * Math.log2(Math.max(1, ms)));
}

/**
 * What decides whether a `tandem/status` is news: state, message (its latency left out), each
 * backend's health and latency band, the snooze. Equal keys are not sent again.
 */
export function statusKey(status: Status): string {
  return JSON.stringify([status.state, status.message.replace(/ \(\d+ ms\)/, ''), status.backends.map((b) => [b.name, b.healthy, latencyBand(b.latencyMs)]), status.snoozedUntil]);
}

export const PROBE_EVERY_MS = 15_000;
const PROBE_TIMEOUT_MS = 5_000;

/**
 * Checks backends without a model call: at start, then every 15 s those that are not healthy
 * (so a breaker closes as soon as the server is back, not on a user's keystroke). Cloud
 * backends are never probed while air-gapped.
 */
export class Prober {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly registry: BackendRegistry, private readonly config: () => Config) {}

  start(): void {
    void this.round(true);
    this.timer = setInterval(() => void this.round(false), PROBE_EVERY_MS);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async round(all: boolean): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const config = this.config();
      await Promise.all(
        Object.values(config.backends).map(async (b) => {
          if (b.location === 'cloud' && config.privacy.airGapped) return;
          if (!all && this.registry.health.snapshot(b.name).healthy) return;
          const backend = this.registry.get(b.name);
          if (!backend) return;
          const start = performance.now();
          const signal = deadlineSignal(PROBE_TIMEOUT_MS);
          const o = backend.probe ? await backend.probe(signal) : await backend.info(signal);
          this.registry.report(b.name, o.ok ? undefined : o.failure, o.ok ? Math.round(performance.now() - start) : undefined, true);
        }),
      );
    } finally {
      this.running = false;
    }
  }
}
