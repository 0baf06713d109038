// Replaying a diff's hunks as edit steps: the parse of `git diff -U0`, the text before the hunks,
// and one history step per hunk.
import { describe, expect, it } from 'vitest';
import { EditHistory } from '../../server/src/nextEdit/history.js';
import { parseUnifiedDiff, replayHunks, textBefore } from '../../server/src/nextEdit/replay.js';

const DIFF = [
  'diff --git a/src/geo.ts b/src/geo.ts',
  'index 1111111..2222222 100644',
  '--- a/src/geo.ts',
  '+++ b/src/geo.ts',
  '@@ -1 +1 @@',
  '-export function area(w: number, h: number) {',
  '+export function area(w: number, h: number, d: number) {',
  '@@ -3,0 +4,2 @@',
  '+',
  '+// volume',
  '@@ -6,2 +7,0 @@',
  '-// old',
  '-// lines',
  'diff --git a/gone.ts b/gone.ts',
  '--- a/gone.ts',
  '+++ /dev/null',
  '@@ -1 +0,0 @@',
  '-x',
  '',
].join('\n');

const OLD = ['export function area(w: number, h: number) {', '  return w * h;', '}', 'export const a = area(1, 2);', '', '// old', '// lines', 'end'].join('\n');
const NOW = ['export function area(w: number, h: number, d: number) {', '  return w * h;', '}', '', '// volume', 'export const a = area(1, 2);', '', 'end'].join('\n');

describe('nextEdit/replay', () => {
  it('reads each kept file\'s hunks: a change, an insertion after a line, a deletion; a deleted file is left out', () => {
    const files = parseUnifiedDiff(DIFF);
    expect([...files.keys()]).toEqual(['src/geo.ts']);
    expect(files.get('src/geo.ts')).toEqual([
      { oldStart: 0, removed: ['export function area(w: number, h: number) {'], added: ['export function area(w: number, h: number, d: number) {'] },
      { oldStart: 3, removed: [], added: ['', '// volume'] },
      { oldStart: 5, removed: ['// old', '// lines'], added: [] },
    ]);
  });

  it('puts the text before the hunks back together, and replays it to the text after, one step per hunk', () => {
    const hunks = parseUnifiedDiff(DIFF).get('src/geo.ts')!;
    expect(textBefore(NOW, hunks)).toBe(OLD);
    let t = 0;
    const history = new EditHistory({ now: () => t, relativePath: () => 'src/geo.ts' });
    const steps = [...replayHunks(history, 'file:///w/src/geo.ts', OLD, hunks, (ms) => (t += ms))];
    expect(steps.map((s) => [s.line, s.endLine, s.lineDelta])).toEqual([
      [0, 0, 0],
      [3, 4, 2],
      [7, 7, -2],
    ]);
    expect(steps.at(-1)!.after).toBe(NOW);
    t += 10_000;
    const recorded = history.recent();
    expect(recorded).toHaveLength(3);
    expect(recorded[0]!.after).toContain('export function area(w: number, h: number, d: number) {');
    expect(recorded[2]!.before).toContain('// old');
  });
});
