// The circuit breaker: one deadline per outage, a single trial after the wait, cooldown on 429; latency news for the status.
import { describe, expect, it } from 'vitest';
import type { BackendFailure } from '../../server/src/models/types.js';
import { HealthMonitor } from '../../server/src/router/health.js';
import { latencyBand, statusKey, type Status } from '../../server/src/router/status.js';

const fail = (kind: BackendFailure['kind'], extra: Partial<BackendFailure> = {}): BackendFailure => ({ kind, message: `${kind} at http://gpu:8000`, ...extra });

function monitor() {
  let t = 1_000_000;
  const h = new HealthMonitor(() => t);
  let changes = 0;
  h.onChange(() => changes++);
  return { h, advance: (ms: number) => (t += ms), changes: () => changes };
}

describe('HealthMonitor', () => {
  it('opens at once on a timeout or refused connection, then lets one trial through after 5 s', () => {
    const { h, advance, changes } = monitor();
    expect(h.available('fim')).toBe(true);
    h.failure('fim', fail('timeout'));
    expect(h.available('fim')).toBe(false);
    expect(h.snapshot('fim')).toMatchObject({ state: 'open', healthy: false, lastError: 'timeout at http://gpu:8000' });
    expect(changes()).toBe(1);
    advance(4_999);
    expect(h.available('fim')).toBe(false);
    advance(1);
    expect(h.available('fim')).toBe(true); // the trial
    expect(h.available('fim')).toBe(false); // only one at a time
    h.success('fim', 40);
    expect(h.available('fim')).toBe(true);
    expect(h.snapshot('fim')).toMatchObject({ state: 'closed', healthy: true, latencyMs: 40, lastError: null });
    expect(changes()).toBe(2);
  });

  it('a refused key (401/403) opens the breaker at once: a bad key costs one request per window, not one per keystroke', () => {
    const { h, advance } = monitor();
    h.failure('cloud', fail('auth', { status: 401 }));
    expect(h.available('cloud')).toBe(false);
    advance(5_000);
    expect(h.available('cloud')).toBe(true);
    expect(h.available('cloud')).toBe(false);
  });

  it('doubles the wait after each failed trial, up to a minute', () => {
    const { h, advance } = monitor();
    h.failure('fim', fail('unreachable'));
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      let waited = 0;
      while (!h.available('fim')) {
        advance(1_000);
        waited += 1_000;
      }
      waits.push(waited);
      h.failure('fim', fail('unreachable'));
    }
    expect(waits).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });

  it('a failure after the wait counts as a failed trial even when nobody claimed the trial', () => {
    const { h, advance } = monitor();
    h.failure('fim', fail('timeout'));
    advance(5_000);
    expect(h.isHealthy('fim')).toBe(true);
    h.failure('fim', fail('timeout')); // e.g. a probe, which does not claim the trial
    advance(5_000);
    expect(h.available('fim')).toBe(false); // the wait doubled to 10 s
    advance(5_000);
    expect(h.available('fim')).toBe(true);
  });

  it('a cancelled trial hands the trial to the next request', () => {
    const { h, advance } = monitor();
    h.failure('fim', fail('unreachable'));
    advance(5_000);
    expect(h.available('fim')).toBe(true);
    expect(h.available('fim')).toBe(false);
    h.failure('fim', fail('cancelled'));
    expect(h.available('fim')).toBe(true);
  });

  it('needs three 5xx in a row to open, and a success resets the count', () => {
    const { h } = monitor();
    h.failure('chat', fail('server'));
    h.failure('chat', fail('server'));
    h.success('chat', 100);
    h.failure('chat', fail('server'));
    h.failure('chat', fail('server'));
    expect(h.available('chat')).toBe(true);
    h.failure('chat', fail('server'));
    expect(h.available('chat')).toBe(false);
  });

  it('a lost hedge while silent (slow) counts like a 5xx: three in a row open, and it fails a trial at once', () => {
    const { h, advance } = monitor();
    h.failure('fim', fail('slow'));
    h.failure('fim', fail('slow'));
    expect(h.available('fim')).toBe(true);
    h.failure('fim', fail('slow'));
    expect(h.available('fim')).toBe(false);
    advance(5_000);
    expect(h.available('fim')).toBe(true); // the trial
    h.failure('fim', fail('slow'));
    expect(h.snapshot('fim')).toMatchObject({ state: 'open', lastError: 'slow at http://gpu:8000' });
    advance(5_000);
    expect(h.available('fim')).toBe(false); // the wait doubled
  });

  it('a 429 cools the backend down for Retry-After without opening the breaker', () => {
    const { h, advance } = monitor();
    h.failure('cloud', fail('rate_limited', { retryAfterMs: 3_000 }));
    expect(h.available('cloud')).toBe(false);
    expect(h.snapshot('cloud').coolingDownUntil).not.toBeNull();
    advance(3_000);
    expect(h.available('cloud')).toBe(true);
    expect(h.snapshot('cloud').state).toBe('closed');
  });

  it('cancellations and context-length errors say nothing about health', () => {
    const { h, changes } = monitor();
    h.failure('fim', fail('cancelled'));
    h.failure('fim', fail('context_length'));
    expect(h.available('fim')).toBe(true);
    expect(changes()).toBe(0);
  });

  it('averages latency', () => {
    const { h } = monitor();
    h.success('fim', 100);
    h.success('fim', 200);
    expect(h.snapshot('fim').latencyMs).toBe(120);
  });

  it('tells latency listeners when a sample changes the rounded average, and only then; breaker listeners are not told', () => {
    const { h, changes } = monitor();
    let samples = 0;
    h.onLatency(() => samples++);
    h.success('fim'); // no latency: nothing to show
    expect(samples).toBe(0);
    h.success('fim', 100); // the first measurement
    expect(samples).toBe(1);
    h.success('fim', 100);
    h.success('fim', 101); // 100.2 rounds to 100
    expect(samples).toBe(1);
    h.success('fim', 200);
    expect(samples).toBe(2);
    expect(changes()).toBe(0);
  });
});

describe('status key', () => {
  const status = (latencyMs: number | null, healthy = true): Status => ({ state: 'ok', message: latencyMs === null ? 'inline via fim' : `inline via fim (${latencyMs} ms)`, backends: [{ name: 'fim', healthy, latencyMs }] });

  it('is news when the latency first becomes known or moves by a band (about a fifth), not for jitter', () => {
    expect(statusKey(status(12))).not.toBe(statusKey(status(null)));
    expect(statusKey(status(12))).toBe(statusKey(status(12)));
    expect(statusKey(status(100))).toBe(statusKey(status(104)));
    expect(statusKey(status(100))).not.toBe(statusKey(status(140)));
    expect(statusKey(status(100))).not.toBe(statusKey(status(70)));
    expect(statusKey(status(100, false))).not.toBe(statusKey(status(100)));
  });

  it('bands latencies by quarter octaves', () => {
    expect(latencyBand(null)).toBeNull();
    expect(latencyBand(0)).toBe(0);
    expect(latencyBand(1)).toBe(0);
    expect(latencyBand(16)).toBe(16);
    expect(latencyBand(1024)).toBe(40);
    expect(latencyBand(1100)).toBe(40);
    expect(latencyBand(1300)).toBe(41);
  });
});
