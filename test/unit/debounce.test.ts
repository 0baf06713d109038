// Debounce: none after a pause, a bounded delay while typing fast, a fixed setting honoured.
import { describe, expect, it } from 'vitest';
import { Debouncer, IDLE_GAP_MS } from '../../server/src/pipeline/debounce.js';

/** Delays for requests arriving at the given times (ms). */
function delays(setting: number | 'adaptive', times: number[]): number[] {
  const d = new Debouncer(() => setting);
  return times.map((t) => d.delayFor(t));
}

/** n requests `gap` ms apart, starting at `start`. */
function keys(start: number, gap: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i * gap);
}

describe('Debouncer (adaptive)', () => {
  it('the first request ever is answered at once', () => {
    expect(delays('adaptive', [5000])).toEqual([0]);
  });

  const pauses: [string, number, number][] = [
    ['a pause of exactly IDLE_GAP_MS', IDLE_GAP_MS, 0],
    ['a long pause', 10 * IDLE_GAP_MS, 0],
  ];
  it.each(pauses)('no wait after %s', (_n, gap, expected) => {
    const times = [...keys(1000, 40, 6)];
    times.push(times[times.length - 1]! + gap);
    expect(delays('adaptive', times).at(-1)).toBe(expected);
  });

  it('waits while typing, a little longer than the gap between keys, within bounds', () => {
    for (const gap of [5, 20, 40, 60, 90, 120, IDLE_GAP_MS - 1]) {
      const ds = delays('adaptive', keys(1000, gap, 40)).slice(1);
      for (const d of ds) {
        expect(d).toBeGreaterThanOrEqual(25);
        expect(d).toBeLessThanOrEqual(150);
      }
      // Settled on a steady rhythm: 1.5 times the gap, clamped to [25, 150].
      expect(ds.at(-1)).toBeCloseTo(Math.min(150, Math.max(25, gap * 1.5)), 0);
    }
  });

  it('faster typing never waits longer than slower typing, once settled', () => {
    const settled = (gap: number) => delays('adaptive', keys(0, gap, 40)).at(-1)!;
    const gaps = [10, 30, 50, 70, 90, 110];
    const ds = gaps.map(settled);
    expect([...ds].sort((a, b) => a - b)).toEqual(ds);
  });

  it('a pause does not disturb the typing estimate', () => {
    const d = new Debouncer(() => 'adaptive');
    const fast = keys(0, 30, 20).map((t) => d.delayFor(t));
    expect(d.delayFor(10_000)).toBe(0); // back after a break
    const again = d.delayFor(10_030);
    expect(again).toBeCloseTo(fast.at(-1)!, 0);
  });
});

describe('Debouncer (fixed)', () => {
  const fixed: [number, number[]][] = [
    [0, [0, 10, 20, 5000]],
    [75, [0, 10, 20, 5000]],
    [300, [0, 1, 2, 10_000]],
  ];
  it.each(fixed)('debounceMs=%d is honoured whatever the rhythm', (ms, times) => {
    expect(delays(ms, times)).toEqual(times.map(() => ms));
  });

  it('reads the setting at each request (a config change applies at once)', () => {
    let setting: number | 'adaptive' = 50;
    const d = new Debouncer(() => setting);
    expect(d.delayFor(0)).toBe(50);
    setting = 'adaptive';
    expect(d.delayFor(1000)).toBe(0);
    setting = 120;
    expect(d.delayFor(1010)).toBe(120);
  });

  it('wait() sleeps the delay and stops early when aborted', async () => {
    const d = new Debouncer(() => 60);
    const t0 = performance.now();
    await d.wait(0, new AbortController().signal);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    const ctrl = new AbortController();
    const p = d.wait(1, ctrl.signal);
    ctrl.abort(new Error('superseded'));
    await expect(p).rejects.toThrow('superseded');
  });

  it('counts its waits and the requests that skipped it', async () => {
    const d = new Debouncer(() => 'adaptive');
    const never = new AbortController().signal;
    await d.wait(1000, never); // first request: no wait
    d.skip();
    await d.wait(1030, never); // 30 ms after the last keystroke: a wait
    const c = d.snapshot();
    expect(c).toMatchObject({ waited: 1, skipped: 1 });
    expect(c.waitedMs).toBeGreaterThanOrEqual(25);
  });
});
