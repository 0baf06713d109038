// The completion cache: exact hits, typing through a shown completion, and backspacing to it;
// editor habits (auto-closed pairs, Enter between braces, a suggest item accepted) kept hits.
import { describe, expect, it } from 'vitest';
import { CompletionCache, fit, type CacheHit } from '../../server/src/pipeline/cache.js';
import { splitCursor } from './fixtures.js';

const URI = 'file:///work/a.ts';

/** A cache holding `completion` for the document `marked` at its cursor. */
function cacheWith(marked: string, completion: string, uri = URI): CompletionCache {
  const c = new CompletionCache(16);
  const { text, offset } = splitCursor(marked);
  c.set(uri, text, offset, completion);
  return c;
}

/** The first item's text, where the cache answers plainly (an insertion at the cursor). */
function lookup(c: CompletionCache, marked: string, uri = URI): string | undefined {
  const { text, offset } = splitCursor(marked);
  const hit = c.get(uri, text, offset);
  if (hit) expect(hit.items[0]!.replace).toBe(0);
  return hit?.items[0]!.text;
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
    const typedOne = (uri: string, k: number) => c.get(uri, `v${k} = ${k};`, `v${k} = ${k}`.length)?.items[0]!.text;
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

  it('a speculative entry answers its own place as speculative, the places typing leads to as typed through', () => {
    const c = new CompletionCache(16);
    const { text, offset } = splitCursor(STORED);
    c.set(URI, text, offset, SHOWN, true);
    expect(c.get(URI, text, offset)).toEqual({ kind: 'speculative', items: [{ text: SHOWN, replace: 0 }] });
    expect(hitAt(c, 'function add(a, b) {\n  ret├\n}\n')).toEqual({ kind: 'typedThrough', items: [{ text: 'urn a + b;', replace: 0 }] });
    expect(hitAt(cacheWith(STORED, SHOWN), STORED)?.kind).toBe('cache');
  });

  it('several completions at one place: typing keeps each that it is the start of', () => {
    const c = new CompletionCache(16);
    const { text, offset } = splitCursor(STORED);
    c.set(URI, text, offset, ['return a + b;', 'return b;', 'throw new Error();']);
    expect(hitAt(c, STORED)?.items.map((i) => i.text)).toEqual(['return a + b;', 'return b;', 'throw new Error();']);
    expect(hitAt(c, 'function add(a, b) {\n  return ├\n}\n')?.items.map((i) => i.text)).toEqual(['a + b;', 'b;']);
    expect(hitAt(c, 'function add(a, b) {\n  t├\n}\n')?.items.map((i) => i.text)).toEqual(['hrow new Error();']);
    expect(hitAt(c, 'function add(a, b) {\n  x├\n}\n')).toBeUndefined();
  });
});

function hitAt(c: CompletionCache, marked: string): CacheHit | undefined {
  const { text, offset } = splitCursor(marked);
  return c.get(URI, text, offset);
}

describe('CompletionCache and the editor\'s own edits', () => {
  // Shown at the start of the body: a call with brackets and a string, then a second line.
  const PLACE = 'function f(a) {\n  ├\n}\n';
  const CALL = 'log(a, [1, "x"]);\n  return a;';
  const at = (body: string) => `function f(a) {\n  ${body}\n}\n`;
  const rows: [string, string, { text: string; replace: number } | undefined][] = [
    ['`(` auto-closed: the rest goes over the editor\'s `)`', at('log(├)'), { text: 'a, [1, "x"]);\n  return a;', replace: 1 }],
    ['`[` inside it: over `])`', at('log(a, [├])'), { text: '1, "x"]);\n  return a;', replace: 2 }],
    ['a quote auto-closed inside both: over `"])`', at('log(a, [1, "├"])'), { text: 'x"]);\n  return a;', replace: 3 }],
    ['the closing quote typed over the editor\'s: over `])`', at('log(a, [1, "x"├])'), { text: ']);\n  return a;', replace: 2 }],
    ['every closer typed over: a plain rest again', at('log(a, [1, "x"])├'), { text: ';\n  return a;', replace: 0 }],
    ['a suggest item accepted (`log` at once): the rest', at('log├'), { text: '(a, [1, "x"]);\n  return a;', replace: 0 }],
    ['a suggest item with its parentheses (`log()`, cursor inside): over `)`', at('log(├)'), { text: 'a, [1, "x"]);\n  return a;', replace: 1 }],
    ['backspaced to part of it: the rest from there', at('lo├'), { text: 'g(a, [1, "x"]);\n  return a;', replace: 0 }],
  ];
  it.each(rows)('%s', (_name, marked, expected) => {
    const hit = hitAt(cacheWith(PLACE, CALL), marked);
    expect(hit?.items[0]).toEqual(expected);
    if (hit) expect(hit.kind).toBe('typedThrough');
  });

  it('a rest that ends with the editor\'s closer is shown without it: a plain insertion', () => {
    const c = cacheWith(PLACE, 'log(a)');
    expect(hitAt(c, at('log(├)'))?.items).toEqual([{ text: 'a', replace: 0 }]);
  });

  it('a completion that does not hold the editor\'s closer is no hit', () => {
    const c = cacheWith(PLACE, 'log(a, b');
    expect(hitAt(c, at('log(├)'))).toBeUndefined();
  });

  it('Enter between auto-closed braces: the rest up to the editor\'s closing line, then past it the remainder', () => {
    const c = cacheWith(PLACE, 'if (a) {\n    return 1;\n  }\n  return 0;');
    // `{` closed by the editor: the body up to its `}`.
    expect(hitAt(c, at('if (a) {├}'))?.items).toEqual([{ text: '\n    return 1;\n  ', replace: 0 }]);
    // Enter between them: the editor indents the cursor's line and moves `}` to its own.
    expect(hitAt(c, 'function f(a) {\n  if (a) {\n    ├\n  }\n}\n')?.items).toEqual([{ text: 'return 1;', replace: 0 }]);
    // The body typed: nothing to add before the editor's line, and no need to ask (the completion
    // goes on past it); after it, the rest.
    expect(hitAt(c, 'function f(a) {\n  if (a) {\n    return 1;├\n  }\n}\n')).toEqual({ kind: 'typedThrough', items: [] });
    expect(hitAt(c, 'function f(a) {\n  if (a) {\n    return 1;\n  }├\n}\n')?.items).toEqual([{ text: '\n  return 0;', replace: 0 }]);
  });

  it('backspace over text typed before the place: the deleted text again, then the completion', () => {
    // Shown after `ret` was typed; backspacing shows the deleted letters again in front of it.
    const c = cacheWith('function add(a, b) {\n  ret├\n}\n', 'urn a + b;');
    expect(lookup(c, 'function add(a, b) {\n  re├\n}\n')).toBe('turn a + b;');
    expect(lookup(c, 'function add(a, b) {\n  ├\n}\n')).toBe('return a + b;');
    // A different letter typed after backspacing: not what was deleted.
    expect(lookup(c, 'function add(a, b) {\n  rex├\n}\n')).toBeUndefined();
    // Deleted text and more typed after the cursor: no.
    expect(lookup(c, 'function add(a, b) {\n  re├)\n}\n')).toBeUndefined();
  });

  it('an answer for a suggest-widget item\'s text: typing on from it hits, backspacing to before it does not', () => {
    // Made for `s.toUpperCase` with the item put in; the document only ever held `s.to`.
    const c = new CompletionCache(16);
    const { text, offset } = splitCursor('  return s.toUpperCase├\n');
    c.set(URI, text, offset, '();', false, true);
    expect(lookup(c, '  return s.toUpperCase├\n')).toBe('();');
    expect(lookup(c, '  return s.toUpperCase(├\n')).toBe(');');
    expect(lookup(c, '  return s.to├\n')).toBeUndefined();
    // The same answer stored for the document's own text comes back after a backspace.
    const own = cacheWith('  return s.toUpperCase├\n', '();');
    expect(lookup(own, '  return s.to├\n')).toBe('UpperCase();');
  });

  it('fit: what is shown for a rest and the editor\'s text after the cursor', () => {
    expect(fit('a + b;', '')).toEqual({ text: 'a + b;', replace: 0 });
    expect(fit('', ')')).toBeUndefined();
    expect(fit(')', ')')).toBeUndefined(); // the editor already holds all of it
    expect(fit('a)', ')')).toEqual({ text: 'a', replace: 0 });
    expect(fit('a), b)', ')')).toEqual({ text: 'a), b', replace: 0 });
    expect(fit('a, "b");', '")')).toEqual({ text: 'a, "b");', replace: 2 });
    expect(fit('a;\n)', ')')).toEqual({ text: 'a;\n', replace: 0 });
    expect(fit('a\n  })', ')')).toEqual({ text: 'a\n  }', replace: 0 });
    expect(fit('x;\n  }\n  y;', '\n  }')).toEqual({ text: 'x;', replace: 0 });
    expect(fit('x;', ']')).toBeUndefined();
    // The closer on the cursor's line and Enter's closing line below, each where the rest has it.
    expect(fit('a)) {\n    b;\n  }', ')\n  }')).toEqual({ text: 'a)) {\n    b;', replace: 1 });
    expect(fit('\n    b;\n  }\n  c;\n}', '}\n}')).toEqual({ text: '\n    b;\n  ', replace: 0 });
    // Two closing lines: the rest goes on between them, so nothing to add before the first.
    expect(fit('\n    }\n    c;\n  }', '\n    }\n  }')).toEqual({ text: '', replace: 0 });
    // Closing lines the rest does not have, or not in that order: no fit.
    expect(fit('\n  c;', '\n  }')).toBeUndefined();
    expect(fit('\n  }\n    }', '\n    }\n  }')).toBeUndefined();
  });
});
