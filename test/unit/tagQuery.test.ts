// The tag query's limits count work, not time, wherever a file parses cleanly: a clean file's tags
// are complete however loaded the machine. Only a file that holds a syntax error (where error
// recovery can make the query superlinear) is queried under QUERY_TIMEOUT_MS.
import Parser from 'tree-sitter';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QUERY_TIMEOUT_MS, TagExtractor } from '../../server/src/context/tags.js';
import { pool } from './fixtures.js';

type Options = Parser.QueryOptions | undefined;

/** The options of every tag query the extractor runs, in order. */
function queriesOf(run: () => void): Options[] {
  const seen: Options[] = [];
  const real = Parser.Query.prototype.matches;
  vi.spyOn(Parser.Query.prototype, 'matches').mockImplementation(function (this: Parser.Query, node, options) {
    seen.push(options);
    return real.call(this, node, options);
  });
  run();
  return seen;
}

const fn = (i: number) => `export function f${i}(a: number, b: string): number {\n  return a + b.length * ${i};\n}\n`;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('tag query limits', () => {
  it('a clean file is queried whole without a clock: all of its 4,000 definitions are there', () => {
    const text = Array.from({ length: 4000 }, (_, i) => fn(i)).join('');
    const tree = pool.parseNow('typescript', text, { maxMs: 60_000 })!;
    expect(tree.rootNode.hasError).toBe(false);
    const x = new TagExtractor();
    let found: ReturnType<TagExtractor['matches']> = [];
    const calls = queriesOf(() => (found = x.matches('typescript', tree)));
    expect(calls).toHaveLength(1);
    expect(calls[0]?.timeoutMicros).toBeUndefined();
    expect(calls[0]?.maxStartDepth).toBeGreaterThan(0);
    const names = new Set(found.map((m) => m.captures.find((c) => c.name === 'name')!.node.text));
    expect(names.size).toBe(4000);
  });

  it('a file with a syntax error is queried whole under the clock; what it finds when the clock is not reached is every definition', () => {
    // An unclosed call inside f150's body.
    const parts = Array.from({ length: 300 }, (_, i) => (i === 150 ? fn(i).replace('return', 'foo((( return') : fn(i)));
    const text = parts.join('');
    const tree = pool.parseNow('typescript', text, { maxMs: 60_000 })!;
    expect(tree.rootNode.hasError).toBe(true);
    const x = new TagExtractor();
    let found: ReturnType<TagExtractor['matches']> = [];
    const calls = queriesOf(() => (found = x.matches('typescript', tree)));
    expect(calls.map((o) => o?.timeoutMicros)).toEqual([QUERY_TIMEOUT_MS * 1000]);
    expect(found.length).toBeLessThanOrEqual(300);
  });

  it('a file that is one ERROR node (unclosed template literals) is queried whole, under the clock', () => {
    const text = '`${'.repeat(2000);
    const tree = pool.parseNow('typescript', text, { maxMs: 60_000 })!;
    expect(tree.rootNode.type).toBe('ERROR');
    const calls = queriesOf(() => new TagExtractor().matches('typescript', tree));
    expect(calls.map((o) => o?.timeoutMicros)).toEqual([QUERY_TIMEOUT_MS * 1000]);
  });

  it('definitions nested past the start depth are not looked for (a bound on the walk), those above are', () => {
    const deep = `const deep = ${'['.repeat(3000)}{ deepMethod() {} }${']'.repeat(3000)};\n`;
    const shallow = `const shallow = [[{ shallowMethod() {} }]];\n`;
    const text = `${fn(1)}${deep}${shallow}class C {\n  m(x: number) {}\n}\n`;
    const tree = pool.parseNow('typescript', text, { maxMs: 60_000 })!;
    expect(tree.rootNode.hasError).toBe(false);
    const symbols = new TagExtractor().extract(tree, 'typescript', text).symbols.map((s) => s.name);
    expect(symbols).toEqual(['f1', 'deep', 'shallow', 'shallowMethod', 'C', 'm']);
  });
});
