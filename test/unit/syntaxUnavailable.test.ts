// Without tree-sitter's binding (an optional dependency that did not build: no C++ compiler at
// install): no parse is tried, documents go without trees and never retry, and what is said says why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindingFailure, resetBindingForTests, syntaxAvailable, syntaxOffMessage } from '../../server/src/syntax/binding.js';
import { grammar, grammarFailure, languageOf, resetGrammarsForTests } from '../../server/src/syntax/languages.js';
import { DocumentTree, ParseService } from '../../server/src/syntax/tree.js';

const WHY = "tree-sitter: Cannot find module 'tree-sitter'";

beforeAll(() => {
  resetBindingForTests(WHY);
  resetGrammarsForTests();
});

afterAll(() => {
  resetBindingForTests();
  resetGrammarsForTests();
});

describe('syntax features without the tree-sitter binding', () => {
  it('says why, and every grammar is unavailable for that reason', () => {
    expect(syntaxAvailable()).toBe(false);
    expect(bindingFailure()).toBe(WHY);
    expect(grammar('python')).toBeUndefined();
    expect(grammarFailure('typescript')).toBe(WHY);
    const m = syntaxOffMessage(WHY);
    expect(m).toContain(`tree-sitter cannot be loaded (${WHY})`);
    expect(m).toContain('completions use text windows');
    expect(m).toContain('python3, make and a C++ compiler (g++)');
  });

  it('ParseService answers "unavailable" without running a slice', async () => {
    const svc = new ParseService();
    expect(await svc.parse('python', 'x = 1\n')).toEqual({ ms: 0, reason: 'unavailable' });
    expect(svc.parseNow('python', 'x = 1\n')).toBeUndefined();
    expect(svc.counters).toMatchObject({ unavailable: 2, slices: 0, parses: 0, tooSlow: 0 });
  });

  it('a document goes without a tree, takes edits, and never asks for a parse again', async () => {
    const svc = new ParseService();
    let text = 'def f(n):\n    return n\n';
    const debug: string[] = [];
    const doc = new DocumentTree(languageOf('python', 'f.py')!, { parser: svc, idleMs: 0, debug: (m) => debug.push(m) }, () => text, 'f.py');
    expect(await doc.settled(60_000)).toBeUndefined();
    expect(doc.givenUp).toBe(true);
    expect(svc.counters.unavailable).toBe(1);
    text = 'def f(n):\n    return n + 1\n';
    doc.edit({ startIndex: 22, oldEndIndex: 22, newEndIndex: 26, startPosition: { row: 1, column: 12 }, oldEndPosition: { row: 1, column: 12 }, newEndPosition: { row: 1, column: 16 } });
    expect(doc.current()).toBeUndefined();
    expect(await doc.settled(60_000)).toBeUndefined();
    expect(doc.parseNow()).toBeUndefined(); // the CLI's synchronous form: no tree either
    // One try for the settle, one for parseNow: the edit and current() scheduled nothing.
    expect(svc.counters.unavailable).toBe(2);
    // The server says it once for the process; the document says nothing per parse.
    expect(debug).toEqual([]);
    doc.dispose();
  });
});
