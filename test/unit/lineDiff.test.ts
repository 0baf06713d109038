// The proposal diff of tandem.compare: a shortest line diff when it is cheap, bounded work when it is not.
import { describe, expect, it } from 'vitest';
import { MAX_DIFF_LINES, MAX_DIFF_WORK, diffLines, unifiedDiff, type DiffLine } from '../../server/src/util/lineDiff.js';

/** The old and the new text a diff describes. */
const sides = (lines: DiffLine[]) => ({ a: lines.filter((l) => l.kind !== '+').map((l) => l.text), b: lines.filter((l) => l.kind !== '-').map((l) => l.text) });

/** The longest common subsequence's length, by the textbook table: what a shortest diff keeps. */
function lcsLength(a: string[], b: string[]): number {
  const row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let diag = 0;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = a[i - 1] === b[j - 1] ? diag + 1 : Math.max(up, row[j - 1]!);
      diag = up;
    }
  }
  return row[b.length]!;
}

/** A small seeded generator (mulberry32): the same cases on every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('diffLines', () => {
  it('keeps as many lines as the longest common subsequence, and its sides are the two texts (500 seeded cases)', () => {
    const r = rng(13);
    for (let c = 0; c < 500; c++) {
      const words = ['a', 'b', 'c', 'd', '}', ''];
      const make = () => Array.from({ length: Math.floor(r() * 14) }, () => words[Math.floor(r() * words.length)]!);
      const a = make();
      const b = make();
      const d = diffLines(a, b);
      expect(d.exact).toBe(true);
      expect(sides(d.lines)).toEqual({ a, b });
      expect(d.lines.filter((l) => l.kind === ' ').length).toBe(lcsLength(a, b));
    }
  });

  it('stops at its work bound on two long texts with nothing in common, and shows the middle replaced whole', () => {
    const a = Array.from({ length: 20_000 }, (_, i) => `old ${i}`);
    const b = Array.from({ length: 20_000 }, (_, i) => `new ${i}`);
    const d = diffLines(['same', ...a, 'end'], ['same', ...b, 'end']);
    // An exact search would take (N + M) * D = 40,000 * 40,000 steps; a table, 400 million cells.
    expect(d.exact).toBe(false);
    expect(d.work).toBeGreaterThan(MAX_DIFF_WORK);
    expect(d.work).toBeLessThanOrEqual(MAX_DIFF_WORK + 1);
    expect(d.lines).toEqual([{ kind: ' ', text: 'same' }, ...a.map((text) => ({ kind: '-', text })), ...b.map((text) => ({ kind: '+', text })), { kind: ' ', text: 'end' }]);
  });

  it('a bound passed part-way along a run of equal lines overshoots by that run only', () => {
    const a = ['x', ...Array.from({ length: 50 }, (_, i) => `l${i}`)];
    const b = ['y', ...Array.from({ length: 50 }, (_, i) => `l${i}`), 'z'];
    const d = diffLines(a, b, 3);
    expect(d.exact).toBe(false);
    expect(d.work).toBeLessThanOrEqual(3 + 1 + 50);
    expect(sides(d.lines)).toEqual({ a, b });
  });

  it('a few lines changed in a 50,000-line text: exact, with work linear in the size', () => {
    const a = Array.from({ length: 50_000 }, (_, i) => `line ${i}`);
    const b = [...a];
    b[100] = 'changed 100';
    b.splice(25_000, 1);
    b.splice(49_900, 0, 'inserted');
    const d = diffLines(a, b);
    expect(d.exact).toBe(true);
    expect(d.work).toBeLessThan(MAX_DIFF_WORK);
    expect(d.lines.filter((l) => l.kind !== ' ')).toEqual([
      { kind: '-', text: 'line 100' },
      { kind: '+', text: 'changed 100' },
      { kind: '-', text: 'line 25000' },
      { kind: '+', text: 'inserted' },
    ]);
    expect(sides(d.lines)).toEqual({ a, b });
  });
});

describe('unifiedDiff', () => {
  it('shows the changed lines of a region with their line numbers', () => {
    expect(unifiedDiff('src/a.ts', 'a\nb\nc\n', 'a\nB\nc\nd\n', 9)).toBe(['--- a/src/a.ts', '+++ b/src/a.ts', '@@ -10,3 +10,4 @@', ' a', '-b', '+B', ' c', '+d'].join('\n'));
  });

  it('changes far apart get a hunk each with three lines of context, numbered in the file', () => {
    const a = Array.from({ length: 30 }, (_, i) => `l${i + 1}`);
    const b = [...a];
    b[1] = 'L2';
    b.splice(20, 1);
    b.splice(25, 0, 'new'); // before l27: six lines after the deletion, so one hunk with it
    expect(unifiedDiff('x.py', a.join('\n'), b.join('\n'), 100).split('\n')).toEqual([
      '--- a/x.py',
      '+++ b/x.py',
      '@@ -101,5 +101,5 @@',
      ' l1',
      '-l2',
      '+L2',
      ' l3',
      ' l4',
      ' l5',
      '@@ -118,12 +118,12 @@',
      ' l18',
      ' l19',
      ' l20',
      '-l21',
      ' l22',
      ' l23',
      ' l24',
      ' l25',
      ' l26',
      '+new',
      ' l27',
      ' l28',
      ' l29',
    ]);
  });

  it('a pure insertion names the line before it, as diff -u does', () => {
    expect(unifiedDiff('a', ['1', '2', '3', '4', '5', '6', '7', '8'].join('\n'), ['1', '2', '3', '4', '5', '6', '7', '8', '9'].join('\n'), 0).split('\n').slice(2)).toEqual(['@@ -6,3 +6,4 @@', ' 6', ' 7', ' 8', '+9']);
    expect(unifiedDiff('a', '', 'x', 0).split('\n').slice(2)).toEqual(['@@ -1,1 +1,1 @@', '-', '+x']);
  });

  it('a diff longer than MAX_DIFF_LINES is cut short with a note, its last hunk numbered for what it shows', () => {
    const a = Array.from({ length: 3000 }, (_, i) => `old ${i}`).join('\n');
    const b = Array.from({ length: 3000 }, (_, i) => `new ${i}`).join('\n');
    const out = unifiedDiff('big.ts', a, b, 0).split('\n');
    expect(out).toHaveLength(2 + 1 + MAX_DIFF_LINES + 1);
    expect(out[2]).toBe(`@@ -1,${MAX_DIFF_LINES} +0,0 @@`); // the first 2,000 of 3,000 lines taken out, before any put in
    expect(out.at(-1)).toBe(`\\ cut short after ${MAX_DIFF_LINES} lines: the diff's last 4000 lines (the region's from its line 2001) are not shown`);
  });
});
