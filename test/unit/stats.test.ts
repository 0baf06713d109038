// Counters of what was shown: local answers by kind and their times, acceptances per backend.
import { describe, expect, it } from 'vitest';
import { Stats } from '../../server/src/stats.js';

describe('Stats', () => {
  it('counts local answers by kind (their sum is cacheHits) with p50, p99 and the slowest of their times', () => {
    const s = new Stats();
    s.shown('t1', 'fim', undefined, 140);
    for (let i = 0; i < 98; i++) s.shown(`c${i}`, 'cache', 'typedThrough', 1);
    s.shown('t2', 'cache', 'cache', 0);
    s.shown('t3', 'cache', 'speculative', 3);
    s.shown('t4', 'cache', 'typedThrough', 12);
    const snap = s.snapshot();
    expect(snap.shown).toBe(102);
    expect(snap.cacheHits).toBe(101);
    expect(snap.local).toEqual({ cache: 1, typedThrough: 99, speculative: 1, p50Ms: 1, p99Ms: 3, maxMs: 12 });
    // A backend's answer is no local one, whatever its time.
    expect(snap.byBackend.fim).toEqual({ shown: 1, accepted: 0, partiallyAccepted: 0 });
  });

  it('percentiles are of the last 1000 local answers; the slowest is of all', () => {
    const s = new Stats();
    s.shown('slow', 'cache', 'cache', 40);
    for (let i = 0; i < 1000; i++) s.shown(`f${i}`, 'cache', 'typedThrough', 2);
    expect(s.snapshot().local).toMatchObject({ p50Ms: 2, p99Ms: 2, maxMs: 40 });
  });
});
