// Cloud spend: prices per million tokens, a daily total shared by processes, kept across restarts, reset at midnight.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { costUsd, SpendLedger, spendDir } from '../../server/src/router/budget.js';

const tempDir = () => join(mkdtempSync(join(tmpdir(), 'tandem-spend-')), 'spend');
const PRICES = { pricePerMTokIn: 2, pricePerMTokOut: 8 };
/** The built module: a child process runs the same code as the server (tsc builds it before the tests). */
const BUILT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'server', 'out', 'router', 'budget.js');

describe('SpendLedger', () => {
  it('prices tokens per million', () => {
    expect(costUsd({ pricePerMTokIn: 2.5, pricePerMTokOut: 10 }, 1_000_000, 100_000)).toBeCloseTo(3.5);
    expect(costUsd({}, 5000, 5000)).toBe(0);
  });

  it('sums the day, caps it, keeps it across restarts and starts again the next day', () => {
    const dir = tempDir();
    let now = new Date(2026, 10, 25, 9, 0);
    const a = new SpendLedger(dir, () => now);
    a.record('cloud', PRICES, 500_000, 50_000); // 1.4
    expect(a.today().usd).toBeCloseTo(1.4);
    expect(a.exhausted(2)).toBe(false);
    a.record('cloud', PRICES, 300_000, 0); // 0.6
    expect(a.exhausted(2)).toBe(true);
    expect(a.exhausted(undefined)).toBe(false);
    const b = new SpendLedger(dir, () => now);
    expect(b.today()).toMatchObject({ day: '2026-11-25', byBackend: { cloud: expect.closeTo(2, 5) } });
    now = new Date(2026, 10, 26, 0, 1);
    expect(b.today().usd).toBe(0);
    expect(new SpendLedger(dir, () => now).today().usd).toBe(0);
  });

  it('two processes share the day: neither loses the other’s spend', async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: build first (npx tsc -p tsconfig.json)`);
    const dir = tempDir();
    const a = new SpendLedger(dir);
    const b = new SpendLedger(dir);
    const N = 200;
    // A CLI call meanwhile: another process appending to the same day's file at the same time.
    const script = join(dirname(dir), 'spender.mjs');
    writeFileSync(script, [
      `import { SpendLedger } from ${JSON.stringify(pathToFileURL(BUILT).href)};`,
      `const ledger = new SpendLedger(${JSON.stringify(dir)}, undefined, (m) => { console.error(m); process.exitCode = 1; });`,
      `process.stdin.once('data', () => { for (let i = 0; i < ${N}; i++) ledger.record('child', { pricePerMTokIn: 1 }, 1000, 0); process.stdin.destroy(); });`,
      `console.log('ready');`,
    ].join('\n'));
    const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdin.write('go\n');
    for (let i = 0; i < N; i++) {
      a.record('a', { pricePerMTokIn: 1 }, 1000, 0); // $0.001 each
      b.record('b', { pricePerMTokIn: 1 }, 2000, 0); // $0.002 each
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(await exit).toBe(0);
    expect(stderr).toBe('');
    for (const ledger of [a, b, new SpendLedger(dir)]) {
      const t = ledger.today();
      expect(t.byBackend.a).toBeCloseTo(N * 0.001, 9);
      expect(t.byBackend.b).toBeCloseTo(N * 0.002, 9);
      expect(t.byBackend.child).toBeCloseTo(N * 0.001, 9);
      expect(t.usd).toBeCloseTo(N * 0.004, 9);
    }
  });

  it('a ledger that cannot be written is reported once and still caps this process', () => {
    const base = mkdtempSync(join(tmpdir(), 'tandem-spend-'));
    // A file where the ledger's folder should be: no mkdir can succeed, not even as root.
    writeFileSync(join(base, 'spend'), '');
    const errors: string[] = [];
    const ledger = new SpendLedger(join(base, 'spend'), undefined, (m) => errors.push(m));
    ledger.record('cloud', PRICES, 500_000, 0);
    ledger.record('cloud', PRICES, 500_000, 0);
    expect(ledger.today().usd).toBeCloseTo(2);
    expect(ledger.exhausted(2)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(join(base, 'spend'));
  });

  it('keeps a month of day files', () => {
    const dir = tempDir();
    let now = new Date(2026, 0, 1, 12, 0);
    const ledger = new SpendLedger(dir, () => now);
    for (const day of [1, 2, 20, 40]) {
      now = new Date(2026, 0, day, 12, 0);
      ledger.record('cloud', PRICES, 1000, 0);
    }
    expect(readdirSync(dir).sort()).toEqual(['2026-01-20.jsonl', '2026-02-09.jsonl']);
  });

  it('lives under XDG_STATE_HOME', () => {
    expect(spendDir({ XDG_STATE_HOME: '/s' })).toBe('/s/tandem/spend');
  });
});
