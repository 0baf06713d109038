// The completion cache: exact hits, typing through a shown completion, and backspacing to it.
import { describe, expect, it } from 'vitest';
import { CompletionCache } from '../../server/src/pipeline/cache.js';
import { splitCursor } from './fixtures.js';

const URI = 'file:///work/a.ts';

/** A cache holding `completion` for the document `marked` at its cursor. */
function cacheWith(marked: string, completion: string, uri = URI): CompletionCache {
  const c = new CompletionCache(16);
  const { text, offset } = splitCursor(marked);
  c.set(uri, text, offset, completion);
  return c;
}

function lookup(c: CompletionCache, marked: string, uri = URI): string | undefined {
  const { text, offset } = splitCursor(marked);
  return c.get(uri, text, offset);
}

// Stored: `return a + b;` shown at `function add(a, b) {\n  ├\n}`.
const STORED = 'function add(a, b) {\n  ├\n}\n';
const SHOWN = 'return a + b;';

describe('CompletionCache', () => {
  const rows: [string, string, string | undefined][] = [
    ['exact hit at the same place', STORED, SHOWN],
    ['typed the first character: the rest', 'function add(a, b) {\n  r├\n}\n', 'eturn a + b;'],
    ['typed a word and a space: the rest', 'function add(a, b) {\n  return ├\n}\n', 'a + b;'],
    ['typed all but the last character', 'function add(a, b) {\n  return a + b├\n}\n', ';'],
    ['typed all of it: nothing left to show', 'function add(a, b) {\n  return a + b;├\n}\n', undefined],
    ['typed something else: miss', 'function add(a, b) {\n  x├\n}\n', undefined],
    ['typed the start then diverged: miss', 'function add(a, b) {\n  return b├\n}\n', undefined],
    ['the suffix changed: miss', 'function add(a, b) {\n  ├\n}\n// more\n', undefined],
    ['typed through but the suffix changed: miss', 'function add(a, b) {\n  ret├\n}\n\n', undefined],
    ['the text before the completion changed: miss', 'function add(a, c) {\n  ├\n}\n', undefined],
    ['typed-through after an edit above: miss', 'function add(a, c) {\n  ret├\n}\n', undefined],
    ['cursor one character left of the stored place: miss', 'function add(a, b) {\n ├ \n}\n', undefined],
    ['backspace back to the original place: hit again', STORED, SHOWN],
  ];
  it.each(rows)('%s', (_name, marked, expected) => {
    expect(lookup(cacheWith(STORED, SHOWN), marked)).toBe(expected);
  });

  it('walks through a completion keystroke by keystroke, and back', () => {
    const c = cacheWith(STORED, SHOWN);
    const at = (typed: string) => `function add(a, b) {\n  ${typed}├\n}\n`;
    const forward: (string | undefined)[] = [];
    for (let i = 0; i <= SHOWN.length; i++) forward.push(lookup(c, at(SHOWN.slice(0, i))));
    expect(forward).toEqual([...Array.from({ length: SHOWN.length }, (_, i) => SHOWN.slice(i)), undefined]);
    // Backspacing retraces the same states.
    for (let i = SHOWN.length - 1; i >= 0; i--) expect(lookup(c, at(SHOWN.slice(0, i)))).toBe(SHOWN.slice(i));
  });

  it('keeps documents apart', () => {
    const c = cacheWith(STORED, SHOWN, 'file:///work/a.ts');
    expect(lookup(c, STORED, 'file:///work/b.ts')).toBeUndefined();
    expect(lookup(c, 'function add(a, b) {\n  re├\n}\n', 'file:///work/b.ts')).toBeUndefined();
  });

  it('forget() ends typing through, exact hits stay', () => {
    const c = cacheWith(STORED, SHOWN);
    c.forget(URI);
    expect(lookup(c, 'function add(a, b) {\n  re├\n}\n')).toBeUndefined();
    expect(lookup(c, STORED)).toBe(SHOWN);
  });

  it('a newer completion at the same place wins', () => {
    const c = cacheWith(STORED, SHOWN);
    const { text, offset } = splitCursor(STORED);
    c.set(URI, text, offset, 'return b + a;');
    expect(lookup(c, STORED)).toBe('return b + a;');
    expect(lookup(c, 'function add(a, b) {\n  return b├\n}\n')).toBe(' + a;');
  });

  it('the least recently used entry is evicted beyond the size', () => {
    const c = new CompletionCache(2);
    const places = ['a├', 'b├', 'c├'];
    for (const m of places) {
      const { text, offset } = splitCursor(m);
      c.set(URI, text, offset, `${m[0]}!`);
    }
    expect(places.map((m) => lookup(c, m))).toEqual([undefined, 'b!', 'c!']);
  });

  it('holds at most its size in all, however many documents were completed in', () => {
    // Typed-through lists once kept evicted entries (a few KB each) for every document ever
    // completed in, closed ones too: a soak grew by them.
    const c = new CompletionCache(8);
    const uris = Array.from({ length: 50 }, (_, i) => `file:///work/f${i}.ts`);
    // Four places per document: `vK = |;` completed with `K + 1;`.
    const put = (uri: string, k: number) => c.set(uri, `v${k} = ;`, `v${k} = `.length, `${k} + 1`);
    const typedOne = (uri: string, k: number) => c.get(uri, `v${k} = ${k};`, `v${k} = ${k}`.length);
    for (const uri of uris) for (let k = 0; k < 4; k++) put(uri, k);
    expect(c.counts).toEqual({ entries: 8, listed: 8, documents: 2 });
    // The newest still walk through; an evicted one does not.
    expect(typedOne(uris[49]!, 3)).toBe(' + 1');
    expect(typedOne(uris[48]!, 0)).toBe(' + 1');
    expect(typedOne(uris[47]!, 3)).toBeUndefined();
  });

  it('a completion stored again at the same place is listed once', () => {
    const c = cacheWith(STORED, SHOWN);
    const { text, offset } = splitCursor(STORED);
    for (let i = 0; i < 20; i++) c.set(URI, text, offset, SHOWN);
    expect(c.counts).toEqual({ entries: 1, listed: 1, documents: 1 });
  });
});
