// util/textLines.ts: lines read from their starts, the same as splitting the whole text.
import { describe, expect, it } from 'vitest';
import { TextLines } from '../../server/src/util/textLines.js';
import { mulberry32 } from '../../bench/fuzzGen.js';

/** The lines as the formats read them before: split, CRs dropped. */
const split = (text: string) => text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));

describe('TextLines', () => {
  it('counts, cuts and places lines as splitting the text does, a final line break ending the last line', () => {
    expect(new TextLines('').count).toBe(1);
    expect(new TextLines('\n').count).toBe(1);
    expect(new TextLines('a\nb').count).toBe(2);
    expect(new TextLines('a\nb\n').count).toBe(2);
    const l = new TextLines('a\r\n\r\nbc\n');
    expect([l.line(0), l.line(1), l.line(2), l.line(3), l.line(9), l.line(-1)]).toEqual(['a', '', 'bc', '', '', '']);
    expect(l.slice(1, 10)).toEqual(['', 'bc', '']);
    expect([l.offset(0), l.offset(1), l.offset(2), l.offset(3), l.offset(7)]).toEqual([0, 3, 5, 8, 8]);
    expect([0, 1, 2, 3, 4, 5, 7, 8].map((o) => l.lineAt(o))).toEqual([0, 0, 0, 1, 1, 2, 2, 3]);
  });

  it('agrees with a whole split on 300 seeded random texts', () => {
    const rand = mulberry32(7);
    const pieces = ['a', 'bc', ' ', '\n', '\r\n', '\r', '', 'é', '😀'];
    for (let n = 0; n < 300; n++) {
      let text = '';
      for (let k = Math.floor(rand() * 40); k > 0; k--) text += pieces[Math.floor(rand() * pieces.length)];
      const lines = new TextLines(text);
      const all = split(text);
      // Only a line break at the very end ends the last line (a lone CR after it is a line of its own).
      const popped = all.length > 1 && text.endsWith('\n') ? all.length - 1 : all.length;
      expect(lines.count).toBe(popped);
      expect(lines.slice(0, 1000)).toEqual(all);
      const from = Math.floor(rand() * (all.length + 2));
      expect(lines.slice(from, from + 3)).toEqual(all.slice(from, from + 3));
      let off = 0;
      for (const [i, l] of text.split('\n').entries()) {
        expect(lines.offset(i)).toBe(off);
        for (let c = 0; c <= l.length; c++) expect(lines.lineAt(off + c)).toBe(i);
        off += l.length + 1;
      }
    }
  });
});
