// Parsing off the event loop: sliced parses with time and size bounds, trees kept in step with
// edits made while a parse runs, only a few documents keeping trees, and idle-time collection.
import { describe, expect, it } from 'vitest';
import { DocumentStore, type ContentChange } from '../../server/src/documents.js';
import { MAX_PARSE_CHARS, MAX_PARSE_DEFER_MS, ParseService, TreeRetention, parseBudgetMs, type Tree } from '../../server/src/syntax/tree.js';
import { IdleCollector } from '../../server/src/util/runtime.js';
import { MAX_DEPTH, ancestors } from '../../server/src/syntax/ancestors.js';
import { until } from '../wait.js';
import { pool } from './fixtures.js';

/** What made tree-sitter's error recovery take seconds in the issue: a stray `((((` before 300 kB. */
const PATHOLOGICAL = '((((\n' + 'const q = "ab" + 1; '.repeat(15_000);
/** Normal code that no machine parses within one 1 ms slice (~130 kB). */
const BIG = Array.from({ length: 2000 }, (_, i) => `export function f${i}(a: number, b: string): number {\n  return a + b.length * ${i};\n}\n`).join('');

/** Every node's type and place, as one string (a deep compare of 100,000 entries is slow). */
const spans = (t: Tree): string => {
  const out: string[] = [];
  const walk = (n: Tree['rootNode']) => {
    out.push(`${n.type}@${n.startIndex}-${n.endIndex}:${n.startPosition.row},${n.startPosition.column}`);
    for (const c of n.children) walk(c);
  };
  walk(t.rootNode);
  return out.join('\n');
};

describe('ParseService', () => {
  it('a parse longer than a slice yields between slices and ends with the same tree as one call', async () => {
    const svc = new ParseService();
    const out = await svc.parse('typescript', BIG, { maxMs: 60_000 }); // a budget only a stuck test reaches
    expect(out.tree).toBeDefined();
    expect(svc.counters.slices).toBeGreaterThan(1);
    expect(spans(out.tree!) === spans(pool.parseNow('typescript', BIG, { maxMs: 60_000 })!)).toBe(true);
  });

  it('pathological input is given up at its budget, without a tree', async () => {
    const svc = new ParseService();
    const out = await svc.parse('javascript', PATHOLOGICAL, { maxMs: 20 });
    expect(out.tree).toBeUndefined();
    expect(out).toMatchObject({ reason: 'too slow' });
    expect(svc.counters).toMatchObject({ tooSlow: 1, parses: 0 });
    expect(svc.counters.slices).toBeGreaterThan(1);
    // The parser it used was reset: the next parse is a fresh one, not a resumed one.
    const after = await svc.parse('javascript', 'let ok = 1;\n');
    expect(after.tree?.rootNode.toString()).toBe(pool.parseNow('javascript', 'let ok = 1;\n')!.rootNode.toString());
  });

  it('text over MAX_PARSE_CHARS is not parsed at all', async () => {
    const svc = new ParseService();
    const out = await svc.parse('javascript', 'x'.repeat(MAX_PARSE_CHARS + 1));
    expect(out).toMatchObject({ reason: 'too big' });
    expect(svc.counters).toMatchObject({ tooBig: 1, slices: 0 });
    expect(svc.parseNow('javascript', 'x'.repeat(MAX_PARSE_CHARS + 1))).toBeUndefined();
  });

  it('an open document over MAX_PARSE_CHARS is given up without its chunks being joined, edit after edit', async () => {
    const svc = new ParseService();
    const debug: string[] = [];
    const store = new DocumentStore(svc, { debug: (m) => debug.push(m) });
    const doc = store.open('file:///big.js', 'javascript', 1, 'let a = 1;\n'.repeat(MAX_PARSE_CHARS / 10 + 1));
    store.change(doc.uri, 2, [{ range: { start: { line: 5, character: 0 }, end: { line: 5, character: 0 } }, text: 'x' }]);
    const joins = doc.text.joins;
    expect(await doc.tree!.settled(60_000)).toBeUndefined();
    expect(doc.tree!.current()).toBeUndefined();
    expect(doc.tree!.givenUp).toBe(true);
    expect(svc.counters).toMatchObject({ tooBig: 1, slices: 0 });
    expect(debug.join('\n')).toMatch(/big\.js: no syntax tree \(\d+ characters, over 1000000\)/);
    expect(doc.text.joins).toBe(joins);
  });

  it('parses take turns: a small one queued behind a pathological one finishes first', async () => {
    const svc = new ParseService();
    const order: string[] = [];
    const slow = svc.parse('javascript', PATHOLOGICAL, { maxMs: 60_000 }).then((o) => (order.push('slow'), o));
    const small = svc.parse('javascript', 'const a = 1;\n'.repeat(2000), { maxMs: 60_000 }).then((o) => (order.push('small'), o));
    expect((await small).tree).toBeDefined();
    expect(order).toEqual(['small']);
    expect(svc.pending).toBe(1);
    // Cancelled at its next turn.
    const ac = new AbortController();
    const third = svc.parse('javascript', PATHOLOGICAL, { signal: ac.signal });
    ac.abort();
    expect(await third).toMatchObject({ reason: 'cancelled' });
    void slow;
  });

  it('waits while the server is busy (an inline request in flight), then runs', async () => {
    let busy = true;
    const svc = new ParseService({ busy: () => busy, now: () => 0 }); // a clock that stands still: the defer cap never ends
    const p = svc.parse('typescript', 'let a = 1;\n');
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 15));
    expect(svc.counters.slices).toBe(0);
    busy = false;
    expect((await p).tree).toBeDefined();
  });

  it('waits for busy spells only until MAX_PARSE_DEFER_MS after it was queued, not per slice: a parse of many slices ends while the server stays busy', async () => {
    let clock = 0;
    const svc = new ParseService({ busy: () => true, now: () => clock }); // slices cost no time on this clock: only the defer budget moves it
    const p = svc.parse('typescript', BIG, { maxMs: 60_000 });
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 15));
    expect(svc.counters.slices).toBe(0);
    clock = MAX_PARSE_DEFER_MS; // the budget spent: every slice from now on runs although the server stays busy
    expect((await p).tree).toBeDefined();
    expect(svc.counters.slices).toBeGreaterThan(1);
    // The next parse has its own budget.
    const next = svc.parse('typescript', 'let b = 2;\n');
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 15));
    expect(svc.pending).toBe(1);
    clock += MAX_PARSE_DEFER_MS;
    expect((await next).tree).toBeDefined();
  });

  it('an urgent parse (a request waits for it) goes ahead of background ones and does not wait for busy spells', async () => {
    const svc = new ParseService({ busy: () => true, now: () => 0 }); // background parses wait for ever on this clock
    const order: string[] = [];
    const background = svc.parse('javascript', PATHOLOGICAL, { maxMs: 60_000 }).then(() => order.push('background'));
    const first = svc.parse('typescript', BIG, { maxMs: 60_000, urgent: true }).then((o) => (order.push('first'), o));
    const second = svc.parse('python', 'x = 1\n', { urgent: true }).then((o) => (order.push('second'), o));
    expect((await first).tree).toBeDefined();
    expect((await second).tree).toBeDefined();
    expect(order).toEqual(['second', 'first']); // the small one goes first
    expect(svc.pending).toBe(1);
    void background;
  });

  it('urgent parses of short texts go ahead of urgent ones of long texts, even started ones', async () => {
    const svc = new ParseService({ now: () => 0 });
    const order: string[] = [];
    const longs = [1, 2, 3, 4].map((i) => svc.parse('typescript', BIG, { maxMs: 60_000, urgent: true }).then((o) => (order.push(`long ${i}`), o)));
    await new Promise((r) => setImmediate(r)); // the long ones have begun
    const short = svc.parse('typescript', 'let a = 1;\n', { urgent: true }).then((o) => (order.push('short'), o));
    expect((await short).tree).toBeDefined();
    expect(order).toEqual(['short']);
    await Promise.all(longs);
  });

  it('budgets scale with the text: 100 ms plus 1 ms per 1,000 characters', () => {
    expect(parseBudgetMs(0)).toBe(100);
    expect(parseBudgetMs(300_000)).toBe(400);
  });
});

describe('DocumentTree', () => {
  it('edits made while a sliced parse runs are applied to the tree it returns', async () => {
    const store = new DocumentStore(new ParseService(), { budgetMs: 60_000 }); // a budget only a stuck test reaches
    const uri = 'file:///work/big.ts';
    const doc = store.open(uri, 'typescript', 1, BIG);
    const first = doc.tree!.settled(60_000); // starts the parse now; its first slice cannot finish it
    expect(doc.tree!.exact()).toBeUndefined();
    const changes: ContentChange[][] = [
      [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'let zz = 1;\n' }],
      [{ range: { start: { line: 3, character: 9 }, end: { line: 3, character: 11 } }, text: 'twentyTwo' }],
    ];
    let v = 1;
    for (const c of changes) store.change(uri, ++v, c);
    const tree = await first;
    expect(tree).toBeDefined();
    // Positions already right after the edits, before any re-parse.
    expect(tree!.rootNode.endIndex).toBe(doc.text.getText().length);
    const exact = doc.tree!.parseNow(60_000)!;
    expect(spans(exact) === spans(pool.parseNow('typescript', doc.text.getText(), { maxMs: 60_000 })!)).toBe(true);
  });

  it('a document whose parse is given up completes from text: no tree, and no retry at once', async () => {
    const debug: string[] = [];
    const store = new DocumentStore(new ParseService({ sliceMs: 1 }), { debug: (m) => debug.push(m) });
    const doc = store.open('file:///work/bad.js', 'javascript', 1, PATHOLOGICAL);
    // parseNow with a tiny bound gives up as the sliced parse would at its budget.
    expect(doc.tree!.parseNow(5)).toBeUndefined();
    expect(doc.tree!.current()).toBeUndefined();
    // The sliced one says why at debug level, naming the document, never its text.
    expect(doc.tree!.givenUp).toBe(false); // not yet: its sliced parse is still to run
    const out = await doc.tree!.settled(60_000);
    expect(out).toBeUndefined();
    expect(doc.tree!.givenUp).toBe(true); // code actions skip their syntax check of it meanwhile
    expect(debug.join('\n')).toMatch(/file:\/\/\/work\/bad\.js: no syntax tree \(parse too slow after \d+ ms\); completing from text windows/);
    expect(debug.join('\n')).not.toContain('const q');
    // Retried only after a back-off: settled() answers at once meanwhile.
    expect(await doc.tree!.settled(60_000)).toBeUndefined();
  });
});

describe('full replacements (didChange without a range)', () => {
  it('become the edit of the span that differs: the same document and tree, edited, then re-parsed incrementally to what a fresh parse gives', async () => {
    // Budgets only a stuck test reaches: a change of every line ending re-parses nearly all of it.
    const store = new DocumentStore(new ParseService(), { budgetMs: 60_000, slowReparseMs: 60_000 });
    const uri = 'file:///work/full.ts';
    const doc = store.open(uri, 'typescript', 1, BIG);
    const tree = doc.tree!;
    await tree.settled(60_000);
    const cases = [
      BIG.replace('f1000(', 'renamed1000('), // a name in the middle
      `// head\n${BIG}`, // an insertion at the start
      BIG.slice(0, BIG.length - 200), // a deletion at the end
      BIG.replace(/\n/g, '\r\n'), // every line ending
      BIG.replace(/\n/g, '\r\n').replace('\r\nexport function f7(', '\r\n\r\nexport function f7('), // among CR LF pairs
      BIG.replace(/\n/g, '\r\n').replace('\r\nexport function f9(', '\nexport function f9('), // a CR taken out: the texts differ inside a pair
    ];
    let v = 1;
    for (const next of cases) {
      expect(store.change(uri, ++v, [{ text: next }])).toBe(doc);
      expect(doc.text.getText()).toBe(next);
      expect(doc.text.version).toBe(v);
      expect(doc.tree).toBe(tree);
      // Edited before any re-parse: its positions span the new text already.
      expect(tree.current()!.rootNode.endIndex).toBe(next.length);
      const exact = await tree.settled(60_000);
      expect(spans(exact!) === spans(pool.parseNow('typescript', next, { maxMs: 60_000 })!)).toBe(true);
    }
  });

  it('a replacement that makes the text binary (or not) opens it afresh; one with nothing changed only moves the version', () => {
    const store = new DocumentStore(new ParseService());
    const uri = 'file:///work/b.ts';
    const doc = store.open(uri, 'typescript', 1, 'let a = 1;\n');
    expect(store.change(uri, 2, [{ text: 'let a = 1;\n' }])).toBe(doc);
    expect(doc.text.version).toBe(2);
    const binary = store.change(uri, 3, [{ text: 'let a\u0000 = 1;\n' }])!;
    expect(binary).not.toBe(doc);
    expect(binary.binary).toBe(true);
    expect(binary.tree).toBeUndefined();
    const back = store.change(uri, 4, [{ text: 'let b = 2;\n' }])!;
    expect(back.binary).toBe(false);
    expect(back.text.getText()).toBe('let b = 2;\n');
  });
});

describe('slow re-parses', () => {
  it('three slow re-parses in a row give the tree up (the threshold at 0 ms here: every re-parse is slow)', async () => {
    const debug: string[] = [];
    const store = new DocumentStore(new ParseService(), { debug: (m) => debug.push(m), slowReparseMs: 0 });
    const uri = 'file:///work/deep.js';
    const doc = store.open(uri, 'javascript', 1, 'let a = [[[1]]];\n');
    expect(await doc.tree!.settled(60_000)).toBeDefined(); // the first parse is not a re-parse
    for (let v = 2; v <= 4; v++) {
      store.change(uri, v, [{ range: { start: { line: 0, character: 11 }, end: { line: 0, character: 11 } }, text: '2' }]);
      await doc.tree!.settled(60_000);
    }
    expect(doc.tree!.current()).toBeUndefined();
    expect(debug.join('\n')).toMatch(/deep\.js: no syntax tree \(re-parses too slow \(\d+ ms after a few edits\)\); completing from text windows/);
  });
});

describe('TreeRetention', () => {
  it('keeps trees for the documents used last, up to its count and size', () => {
    const retention = new TreeRetention(2, 1_000_000);
    const store = new DocumentStore(pool, { retention });
    const docs = ['a', 'b', 'c'].map((n) => store.open(`file:///work/${n}.ts`, 'typescript', 1, `let ${n} = 1;\n`));
    for (const d of docs) d.tree!.parseNow();
    expect(docs.map((d) => !!d.tree!.exact())).toEqual([false, true, true]);
    expect(retention.dropped).toBe(1);
    // Using b makes c the oldest; parsing a again drops c.
    docs[1]!.tree!.current();
    docs[0]!.tree!.parseNow();
    expect(docs.map((d) => !!d.tree!.exact())).toEqual([true, true, false]);
    const bySize = new TreeRetention(10, 30);
    const s2 = new DocumentStore(pool, { retention: bySize });
    const big = s2.open('file:///work/big.ts', 'typescript', 1, `let x = "${'y'.repeat(40)}";\n`);
    const small = s2.open('file:///work/small.ts', 'typescript', 1, 'let s = 1;\n');
    big.tree!.parseNow();
    small.tree!.parseNow();
    expect([!!big.tree!.exact(), !!small.tree!.exact()]).toEqual([false, true]);
  });

  it('parses opened documents only while there is room; beyond it, on first use', async () => {
    const retention = new TreeRetention(2, 1_000_000);
    const store = new DocumentStore(pool, { retention });
    const docs = ['a', 'b', 'c', 'd'].map((n) => store.open(`file:///work/${n}.ts`, 'typescript', 1, `let ${n} = 1;\n`));
    await Promise.all(docs.slice(0, 2).map((d) => d.tree!.settled(60_000)));
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 40)); // past the idle delay the first two waited
    expect(docs.map((d) => !!d.tree!.exact())).toEqual([true, true, false, false]);
    // Used (a code action waits for it): parsed, and the least recently used one drops.
    expect(await docs[3]!.tree!.settled(60_000)).toBeDefined();
    expect(docs.map((d) => !!d.tree!.exact())).toEqual([false, true, false, true]);
  });

  it('closing a document forgets its tree', () => {
    const retention = new TreeRetention(2, 1_000_000);
    const store = new DocumentStore(pool, { retention });
    store.open('file:///work/a.ts', 'typescript', 1, 'let a = 1;\n').tree!.parseNow();
    expect(retention.size).toBe(1);
    store.close('file:///work/a.ts');
    expect(retention.size).toBe(0);
  });
});

describe('IdleCollector', () => {
  // Its timers run on the real clock (20 ms); whether the server counts as idle is read from an
  // injected clock, so the answers do not depend on how fast this machine is.
  function setup() {
    let now = 0;
    let busy = false;
    const heap = { used: 0 };
    const calls: number[] = [];
    const c = new IdleCollector({ idleMs: 20, thresholdChars: 100, heapGrowthBytes: 1000, now: () => now, heapUsed: () => heap.used, gc: () => calls.push(now), busy: () => busy });
    return { c, calls, heap, at: (t: number) => (now = t), setBusy: (b: boolean) => (busy = b) };
  }
  const pause = () => new Promise((r) => setTimeout(r, 60));

  it('collects once the server is idle after enough trees were dropped, not before', async () => {
    const { c, calls, at } = setup();
    c.dropped(50);
    at(2000);
    await pause();
    expect(calls).toEqual([]); // 50 characters' trees: under the threshold
    c.dropped(60);
    at(2500);
    await until(() => calls.length > 0, 'a collection');
    expect(calls).toEqual([2500]);
    c.dispose();
  });

  it('waits while messages keep coming or a request is in flight; heap growth also calls for one', async () => {
    const { c, calls, heap, at, setBusy } = setup();
    heap.used = 5000;
    at(100);
    c.activity(); // a message at 100; the clock stands at 100: not idle, re-armed
    await pause();
    expect(calls).toEqual([]);
    setBusy(true);
    at(5000);
    await pause();
    expect(calls).toEqual([]);
    setBusy(false);
    await until(() => calls.length > 0, 'a collection');
    expect(calls).toEqual([5000]);
    // Nothing new since: no more collections, and no timer left armed.
    await pause();
    expect(calls).toEqual([5000]);
    c.dispose();
  });
});

describe('ancestors', () => {
  it('gives what descendantForIndex and its chain of .parent give, at every position and range', () => {
    const text = "import { a, b } from './x';\nexport class K {\n  m(x: number): number {\n    return [x, { y: `${x}` }].length;\n  }\n}\n";
    const tree = pool.parseNow('typescript', text)!;
    for (let o = 0; o <= text.length; o++) {
      for (const e of [o, Math.min(text.length, o + 7)]) {
        const want: number[] = [];
        for (let n: Tree['rootNode'] | null = tree.rootNode.descendantForIndex(o, e); n; n = n.parent) want.push(n.id);
        expect(ancestors(tree, o, e).map((n) => n.id), `${o}-${e}`).toEqual(want);
      }
    }
  });

  it('deep nesting: the walk stops MAX_DEPTH levels down, the root still last', () => {
    const text = `a = ${'['.repeat(3000)}${']'.repeat(3000)};\n`;
    const tree = pool.parseNow('javascript', text)!;
    const chain = ancestors(tree, 1500);
    expect(chain.length).toBe(MAX_DEPTH + 1);
    expect(chain[chain.length - 1]!.id).toBe(tree.rootNode.id);
    expect(chain[0]!.startIndex).toBeLessThanOrEqual(1500);
  });
});
