// Cloud spend: prices per million tokens, a daily total that survives restarts and resets at midnight.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costUsd, SpendLedger } from '../../server/src/router/budget.js';

describe('SpendLedger', () => {
  it('prices tokens per million', () => {
    expect(costUsd({ pricePerMTokIn: 2.5, pricePerMTokOut: 10 }, 1_000_000, 100_000)).toBeCloseTo(3.5);
    expect(costUsd({}, 5000, 5000)).toBe(0);
  });

  it('sums the day, caps it, keeps it across restarts and starts again the next day', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tandem-spend-')), 'spend.json');
    let now = new Date(2026, 10, 25, 9, 0);
    const a = new SpendLedger(path, () => now);
    a.record('cloud', { pricePerMTokIn: 2, pricePerMTokOut: 8 }, 500_000, 50_000); // 1.4
    expect(a.today().usd).toBeCloseTo(1.4);
    expect(a.exhausted(2)).toBe(false);
    a.record('cloud', { pricePerMTokIn: 2, pricePerMTokOut: 8 }, 300_000, 0); // 0.6
    expect(a.exhausted(2)).toBe(true);
    expect(a.exhausted(undefined)).toBe(false);
    const b = new SpendLedger(path, () => now);
    expect(b.today()).toMatchObject({ day: '2026-11-25', byBackend: { cloud: expect.closeTo(2, 5) } });
    now = new Date(2026, 10, 26, 0, 1);
    expect(b.today().usd).toBe(0);
    expect(new SpendLedger(path, () => now).today().usd).toBe(0);
  });
});
