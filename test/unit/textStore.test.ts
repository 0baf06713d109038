// The chunked text store against vscode-languageserver-textdocument (the oracle): the same text,
// lines, positions and offsets after seeded random edit sequences, with CR LF, CR, LF, multi-byte
// and surrogate-pair text, ranges past the end and reversed, and edits across chunk boundaries.
import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Position, Range } from '../../server/src/documents.js';
import { ChunkedText } from '../../server/src/textStore.js';
// mulberry32: the same cases on every run.
import { mulberry32 as random } from '../../bench/fuzzGen.js';

const PIECES = ['a', 'b', 'x', ' ', '\t', 'const q = 1;', '\n', '\n', '\r\n', '\r', 'é', 'ü', '😀', '\ud83d', '\ude00', '\r\r\n', '\n\r', '漢字'];

function text(rnd: () => number, chars: number): string {
  const parts: string[] = [];
  let n = 0;
  while (n < chars) {
    const p = PIECES[Math.floor(rnd() * PIECES.length)]!;
    parts.push(p);
    n += p.length;
  }
  return parts.join('');
}

const int = (rnd: () => number, n: number) => Math.floor(rnd() * n);

/** A position anywhere, sometimes past the end of its line or of the document, or negative. */
function position(rnd: () => number, doc: TextDocument): Position {
  const r = rnd();
  if (r < 0.03) return { line: doc.lineCount + int(rnd, 3), character: int(rnd, 5) };
  if (r < 0.05) return { line: -1, character: int(rnd, 5) };
  if (r < 0.15) {
    const p = doc.positionAt(int(rnd, doc.getText().length + 1));
    return { line: p.line, character: p.character + 1 + int(rnd, 200) };
  }
  return doc.positionAt(int(rnd, doc.getText().length + 1));
}

/** The oracle takes only ranges inside the text (a line past the end breaks its line table), as documents.ts gives it. */
const inside = (doc: TextDocument, r: Range): Range => ({ start: doc.positionAt(doc.offsetAt(r.start)), end: doc.positionAt(doc.offsetAt(r.end)) });

function same(ours: ChunkedText, oracle: TextDocument, rnd: () => number, full: boolean): void {
  const t = oracle.getText();
  expect(ours.lineCount).toBe(oracle.lineCount);
  expect(ours.length).toBe(t.length);
  expect(ours.version).toBe(oracle.version);
  const step = Math.max(1, Math.floor(t.length / 4000));
  const offsets = full ? Array.from({ length: Math.floor(t.length / step) + 2 }, (_, i) => Math.min(i * step, t.length)) : Array.from({ length: 40 }, () => int(rnd, t.length + 3) - 1);
  for (const o of offsets) expect(ours.positionAt(o), `positionAt(${o})`).toEqual(oracle.positionAt(o));
  const lines = full ? Array.from({ length: Math.min(oracle.lineCount + 2, 1500) }, (_, i) => (i === 0 ? -1 : Math.floor(((i - 1) * (oracle.lineCount + 1)) / 1499))) : Array.from({ length: 20 }, () => int(rnd, oracle.lineCount + 2));
  for (const line of lines) {
    for (const character of [0, 1, 3, 50, 5000, -1]) expect(ours.offsetAt({ line, character }), `offsetAt(${line}:${character})`).toBe(oracle.offsetAt({ line, character }));
  }
  for (const line of lines.slice(0, full ? 300 : 5).concat([-1, oracle.lineCount, oracle.lineCount + 3])) {
    expect(ours.getLineRange(line), `getLineRange(${line})`).toEqual(oracle.getLineRange(line));
    expect(ours.getEOLCharacters(line), `getEOLCharacters(${line})`).toBe(oracle.getEOLCharacters(line));
  }
  for (let i = 0; i < (full ? 200 : 20); i++) {
    const range = { start: position(rnd, oracle), end: position(rnd, oracle) };
    expect(ours.getText(range), JSON.stringify(range)).toBe(oracle.getText(range));
  }
  for (let i = 0; i < 10; i++) {
    const a = int(rnd, t.length + 2);
    expect(ours.charCodeAt(a)).toEqual(t.charCodeAt(a));
    const s = t.slice(a, a + int(rnd, 30));
    expect(ours.startsWith(s, a)).toBe(true);
    expect(ours.startsWith(`${s}\u0001`, a)).toBe(t.startsWith(`${s}\u0001`, a));
  }
  if (full) expect(ours.getText()).toBe(t);
}

function edit(rnd: () => number, oracle: TextDocument): { range: Range; text: string } | { text: string } {
  const r = rnd();
  if (r < 0.005) return { text: text(rnd, int(rnd, 20_000)) };
  const start = position(rnd, oracle);
  // Mostly typing and small deletions near a place; now and then a paste or a cut of many kB.
  let end = start;
  if (r < 0.3) end = position(rnd, oracle);
  else if (r < 0.6) end = oracle.positionAt(oracle.offsetAt(start) + int(rnd, 4));
  const inserted = r < 0.08 ? text(rnd, int(rnd, 12_000)) : r < 0.5 ? text(rnd, int(rnd, 3)) : '';
  return { range: { start, end }, text: inserted };
}

describe('ChunkedText', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`matches vscode-languageserver-textdocument over 600 random edits (seed ${seed})`, () => {
      const rnd = random(seed);
      const initial = text(rnd, seed % 3 === 0 ? 0 : 2000 + int(rnd, 40_000));
      const oracle = TextDocument.create('file:///a.ts', 'typescript', 1, initial);
      const ours = new ChunkedText('file:///a.ts', 'typescript', 1, initial);
      same(ours, oracle, rnd, true);
      for (let i = 0; i < 600; i++) {
        const e = edit(rnd, oracle);
        const version = i + 2;
        ours.update([e], version);
        TextDocument.update(oracle, ['range' in e ? { range: inside(oracle, e.range), text: e.text } : e], version);
        same(ours, oracle, rnd, i % 100 === 99);
      }
      same(ours, oracle, rnd, true);
    });
  }

  it('takes several changes in one update, in order', () => {
    const ours = new ChunkedText('u', 'plaintext', 1, 'ab\r\ncd');
    const oracle = TextDocument.create('u', 'plaintext', 1, 'ab\r\ncd');
    const changes = [
      { range: { start: { line: 0, character: 2 }, end: { line: 1, character: 0 } }, text: '\r' }, // CR kept alone
      { range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: '\n' }, // CR LF again
      { range: { start: { line: 1, character: 2 }, end: { line: 0, character: 1 } }, text: 'Z' }, // reversed range
    ];
    ours.update(changes, 2);
    TextDocument.update(oracle, changes, 2);
    same(ours, oracle, random(9), true);
  });

  it('keeps a CR LF pair whole across chunk boundaries', () => {
    // CRs where chunks would be cut, and edits that make and break pairs at the boundaries.
    const initial = `${'x'.repeat(4095)}\r\n${'\r'.repeat(9000)}\n${'y'.repeat(8190)}\r`;
    const ours = new ChunkedText('u', 'plaintext', 1, initial);
    const oracle = TextDocument.create('u', 'plaintext', 1, initial);
    same(ours, oracle, random(7), true);
    const rnd = random(8);
    for (let i = 0; i < 300; i++) {
      const at = oracle.positionAt(int(rnd, oracle.getText().length + 1));
      const end = oracle.positionAt(oracle.offsetAt(at) + int(rnd, 3));
      const e = { range: { start: at, end }, text: ['\r', '\n', '', 'q'][int(rnd, 4)]! };
      ours.update([e], i + 2);
      TextDocument.update(oracle, [e], i + 2);
      same(ours, oracle, rnd, i % 50 === 49);
    }
  });

  it('edits and reads by position without joining the whole text', () => {
    const initial = Array.from({ length: 60_000 }, (_, i) => `const v${i} = "é😀" + ${i};`).join('\n');
    const ours = new ChunkedText('u', 'javascript', 1, initial);
    const oracle = TextDocument.create('u', 'javascript', 1, initial);
    const joins = ours.joins;
    let p = { line: 30_000, character: 10 };
    for (let i = 0; i < 50; i++) {
      const e = { range: { start: p, end: p }, text: i % 10 === 9 ? '\r\n' : 'k' };
      ours.update([e], i + 2);
      TextDocument.update(oracle, [e], i + 2);
      p = ours.positionAt(ours.offsetAt(p) + e.text.length);
      expect(ours.getText({ start: { line: p.line - 3, character: 0 }, end: { line: p.line + 3, character: 0 } })).toBe(oracle.getText({ start: { line: p.line - 3, character: 0 }, end: { line: p.line + 3, character: 0 } }));
      expect(ours.lineCount).toBe(oracle.lineCount);
      expect(ours.slice(ours.offsetAt(p) - 100, ours.offsetAt(p) + 100)).toBe(oracle.getText().slice(oracle.offsetAt(p) - 100, oracle.offsetAt(p) + 100));
    }
    expect(ours.joins).toBe(joins);
    // A whole-text reader joins once per edit, not per read.
    expect(ours.getText()).toBe(oracle.getText());
    expect(ours.getText()).toBe(oracle.getText());
    expect(ours.joins).toBe(joins + 1);
  });

  it('gives snapshots that keep their text through later edits', () => {
    const ours = new ChunkedText('u', 'plaintext', 1, 'a\nb\n'.repeat(5000));
    const before = ours.snapshot();
    ours.update([{ range: { start: { line: 3, character: 0 }, end: { line: 9000, character: 0 } }, text: 'Q' }], 2);
    ours.update([{ text: 'whole' }], 3);
    expect(before.length).toBe(20_000);
    expect(before.text).toBe('a\nb\n'.repeat(5000));
    expect(ours.getText()).toBe('whole');
    expect(ours.lineCount).toBe(1);
  });

  it('reads a snapshot at a few places without joining it', () => {
    const rnd = random(11);
    const initial = text(rnd, 30_000);
    const ours = new ChunkedText('u', 'plaintext', 1, initial);
    ours.update([{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'q' }], 2);
    const snap = ours.snapshot();
    const t = `q${initial}`;
    ours.update([{ range: { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } }, text: '' }], 3);
    for (let i = 0; i < 300; i++) {
      const a = int(rnd, t.length + 10);
      const b = a + int(rnd, 9000);
      expect(snap.slice(a, b)).toBe(t.slice(a, b));
      expect(snap.charCodeAt(a)).toEqual(t.charCodeAt(a));
    }
    expect(snap.slice(0, t.length)).toBe(t);
    // What read it so far did not join it: the acceptance check reads a few places per keystroke.
    expect(snap.joins).toBe(0);
    expect(snap.text).toBe(t);
    expect(snap.text).toBe(t);
    expect(snap.joins).toBe(1);
  });

  it('handles the empty document', () => {
    const ours = new ChunkedText('u', 'plaintext', 1, '');
    expect(ours.lineCount).toBe(1);
    expect(ours.positionAt(5)).toEqual({ line: 0, character: 0 });
    expect(ours.offsetAt({ line: 3, character: 3 })).toBe(0);
    expect(ours.getText({ start: { line: 0, character: 0 }, end: { line: 9, character: 0 } })).toBe('');
    ours.update([{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'x\r' }], 2);
    expect(ours.lineCount).toBe(2);
    ours.update([{ range: { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } }, text: '' }], 3);
    expect(ours.getText()).toBe('');
    expect(ours.lineCount).toBe(1);
  });
});
