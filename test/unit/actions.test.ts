// The action pipeline's plain parts: prompt building, answer parsing (good, sloppy, broken), edit narrowing, and the syntax check of edits (the edited tree it parses from, here or in the worker).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { actionMessages, editChecker, explainMessages, parseAnswer, EDIT_FORMAT } from '../../server/src/pipeline/actions.js';
import { lineScope, tighten, type TextEdit } from '../../server/src/actions/editFormat.js';
import { SymbolHost } from '../../server/src/context/symbolHost.js';
import { editedTree, errorCount } from '../../server/src/syntax/editCheck.js';
import type { SyntaxNode, Tree } from '../../server/src/syntax/tree.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { pool } from './fixtures.js';

const CODE = 'function area(r) {\n  return 3.14 * r * r;\n}\n';

describe('action prompts', () => {
  it('system: the edit format; user: task, diagnostic, language, path and the code', () => {
    const m = actionMessages({ id: 'fixDiagnostic', languageId: 'typescript', path: 'src/a.ts', code: CODE, diagnostic: "Cannot find name 'pi'." });
    expect(m[0]).toEqual({ role: 'system', content: EDIT_FORMAT });
    expect(m[0]!.content).toContain('<<<<<<< SEARCH');
    expect(m[1]!.content).toBe(["Task: Fix the problem the diagnostic reports, changing as little as possible.", "Diagnostic: Cannot find name 'pi'.", 'Language: typescript', 'File: src/a.ts', '', '```typescript', CODE.trimEnd(), '```'].join('\n'));
  });

  it('tandem.edit: the instruction is the task', () => {
    expect(actionMessages({ id: 'edit', instruction: ' rename r to radius ', languageId: 'python', path: 'g.py', code: 'x\n' })[1]!.content).toBe('Task: Edit this code as asked: rename r to radius\nLanguage: python\nFile: g.py\n\n```python\nx\n```');
  });

  it('code holding a fence is wrapped in tildes', () => {
    expect(actionMessages({ id: 'document', languageId: 'markdown', path: 'a.md', code: '```\nx\n```\n' })[1]!.content).toContain('~~~~markdown\n```\nx\n```\n~~~~');
  });

  it('explain sends the enclosing scope when it differs from the selection', () => {
    const m = explainMessages({ languageId: 'typescript', path: 'a.ts', code: 'r * r', scope: CODE });
    expect(m[1]!.content).toContain('It sits inside:');
    expect(m[1]!.content).toContain('The code to explain:\n```typescript\nr * r\n```');
  });

  it('lineScope widens to whole lines', () => {
    const text = 'a\n  bcd\ne\n';
    expect(lineScope(text, 4, 6)).toEqual({ start: 2, end: 8 });
    expect(lineScope(text, 0, 1)).toEqual({ start: 0, end: 2 });
  });
});

describe('parseAnswer', () => {
  it('good: one exact block', () => {
    const r = parseAnswer('<<<<<<< SEARCH\n  return 3.14 * r * r;\n=======\n  return Math.PI * r * r;\n>>>>>>> REPLACE\n', CODE);
    expect(r).toEqual({ ok: true, edits: [{ start: 19, end: 41, newText: '  return Math.PI * r * r;' }] });
  });

  it('sloppy: prose, a fence, and the block one level off in indentation', () => {
    const code = 'function f(x) {\n  if (x) {\n    return 1;\n  }\n}\n';
    const answer = 'Sure! Here is the change:\n\n```ts\n<<<<<<< SEARCH\nif (x) {\n  return 1;\n}\n=======\nif (x > 0) {\n  return 1;\n}\n>>>>>>> REPLACE\n```\nThis checks the sign.';
    expect(parseAnswer(answer, code)).toEqual({ ok: true, edits: [{ start: 16, end: 44, newText: '  if (x > 0) {\n    return 1;\n  }' }] });
  });

  it('a bare fenced block replaces the whole scope', () => {
    const r = parseAnswer('```ts\nconst area = (r) => Math.PI * r * r;\n```', CODE);
    expect(r).toEqual({ ok: true, edits: [{ start: 0, end: CODE.length, newText: 'const area = (r) => Math.PI * r * r;\n' }] });
  });

  it('broken: unknown SEARCH text, unclosed block, nothing at all', () => {
    expect(parseAnswer('<<<<<<< SEARCH\nnot here\n=======\nx\n>>>>>>> REPLACE', CODE)).toEqual({ ok: false, error: 'block 1: the SEARCH text was not found in the file' });
    expect(parseAnswer('<<<<<<< SEARCH\nreturn\n=======\n', CODE)).toMatchObject({ ok: false, error: expect.stringContaining('not closed') });
    expect(parseAnswer('I cannot help with that.', CODE)).toEqual({ ok: false, error: 'the answer holds no SEARCH/REPLACE block' });
  });
});

describe('tighten', () => {
  it('keeps only the changed lines', () => {
    const e = tighten(CODE, { start: 0, end: CODE.length, newText: 'function area(r) {\n  return Math.PI * r * r;\n}\n' });
    expect(e).toEqual({ start: 19, end: 42, newText: '  return Math.PI * r * r;\n' });
  });

  it('a pure insertion stays an insertion', () => {
    const e = tighten(CODE, { start: 0, end: CODE.length, newText: '/** Area. */\n' + CODE });
    expect(e).toEqual({ start: 0, end: 0, newText: '/** Area. */\n' });
  });
});

describe('editedTree', () => {
  // The file before, and the edits of an answer (offsets in it): one line, several lines, a deletion, text after an astral character.
  const BEFORE = ['export function area(r: number): number {', '  const s = "😀 é";', '  if (r < 0) {', '    return 0;', '  }', '  return 3.14 * r * r;', '}', ''].join('\n');
  const at = (s: string) => BEFORE.indexOf(s);
  const cases: [string, TextEdit[]][] = [
    ['one line', [{ start: at('3.14'), end: at('3.14') + 4, newText: 'Math.PI' }]],
    ['lines in, one out, and a deletion', [{ start: at('  if'), end: at('  }') + 4, newText: '  if (r < 0) {\n    throw new RangeError("r");\n  }\n  // checked\n' }, { start: at(' * r * r'), end: at(' * r * r') + 4, newText: '' }]],
    ['after the astral character, breaking the syntax', [{ start: at('é') + 1, end: at('é') + 2, newText: '\n' }, { start: at('return 0'), end: at('return 0') + 8, newText: 'return (0' }]],
    ['the whole file', [{ start: 0, end: BEFORE.length, newText: 'let x = 1;\n' }]],
  ];
  for (const [name, edits] of cases) {
    it(`the edited tree puts every leaf clear of the edits where the new text has it, and an incremental parse from it gives a fresh parse's tree: ${name}`, () => {
      const after = applyAll(BEFORE, edits);
      const tree = pool.parseNow('typescript', BEFORE)!;
      // Every leaf clear of the edits, and where it must be once the tree is told of them.
      const moved = leaves(tree.rootNode)
        .filter((n) => n.endIndex > n.startIndex && edits.every((e) => n.endIndex <= e.start || n.startIndex >= e.end))
        .map((n) => {
          const start = n.startIndex + edits.filter((e) => e.end <= n.startIndex).reduce((d, e) => d + e.newText.length - (e.end - e.start), 0);
          return { type: n.type, start, end: start + n.endIndex - n.startIndex, row: after.slice(0, start).split('\n').length - 1, column: start - (after.lastIndexOf('\n', start - 1) + 1) };
        });
      const old = editedTree(tree, BEFORE, edits)!;
      expect(old).toBeDefined();
      for (const m of moved) {
        const n = old.rootNode.descendantForIndex(m.start, m.end);
        expect({ type: n.type, start: n.startIndex, end: n.endIndex, row: n.startPosition.row, column: n.startPosition.column }).toEqual(m);
      }
      const incremental = pool.parseNow('typescript', after, { old })!;
      const fresh = pool.parseNow('typescript', after)!;
      expect(incremental.rootNode.toString()).toBe(fresh.rootNode.toString());
      expect([incremental.rootNode.endIndex, errorCount(incremental)]).toEqual([fresh.rootNode.endIndex, errorCount(fresh)]);
    });
  }

  it('a parse from the document\'s unedited tree gives the check a tree of its own: editing it leaves the document\'s as it was', () => {
    const docTree = pool.parseNow('typescript', BEFORE)!;
    const own = pool.parseNow('typescript', BEFORE, { old: docTree })!;
    const spans = (t: typeof docTree) => leaves(t.rootNode).map((n) => `${n.type}@${n.startIndex}`).join(' ');
    const was = spans(docTree);
    editedTree(own, BEFORE, cases[1]![1]);
    expect(spans(docTree)).toBe(was);
    expect(spans(own)).not.toBe(was);
  });

  it('overlapping edits get no tree (their result has no single meaning)', () => {
    expect(editedTree(pool.parseNow('typescript', BEFORE)!, BEFORE, [{ start: 0, end: 10, newText: 'a' }, { start: 5, end: 12, newText: 'b' }])).toBeUndefined();
  });
});

function leaves(n: SyntaxNode): SyntaxNode[] {
  return n.childCount === 0 ? [n] : n.children.flatMap(leaves);
}

function applyAll(text: string, edits: TextEdit[]): string {
  return [...edits].sort((a, b) => b.start - a.start).reduce((t, e) => t.slice(0, e.start) + e.newText + t.slice(e.end), text);
}

describe('editChecker: the syntax check of an action\'s edits', () => {
  const TEXT = ['export function area(r: number): number {', '  if (r < 0) {', '    return 0;', '  }', '  return 3.14 * r * r;', '}', ''].join('\n');
  const at = TEXT.indexOf('3.14');
  const GOOD: TextEdit[] = [{ start: at, end: at + 4, newText: 'Math.PI' }];
  const BAD: TextEdit[] = [{ start: at, end: at + 4, newText: '(Math.PI' }];
  const parse = async (lang: 'typescript', text: string, old?: Tree) => (await pool.parse(lang, text, { urgent: true, ...(old ? { old } : {}) })).tree;
  const BUILT = pathToFileURL(join(import.meta.dirname, '../../server/out/context/symbolWorker.js'));

  it('here, in slices (no worker): the errors an edit adds, where the first is, and the same verdicts on a retry', async () => {
    const check = editChecker({ lang: 'typescript', text: TEXT, docTree: undefined, parse, warn: () => undefined });
    const bad = await check(BAD);
    expect(bad?.added).toBeGreaterThan(0);
    expect(bad?.first).toMatch(/line 5/);
    expect(await check(GOOD)).toEqual({ added: 0 }); // the retry: a fresh parse, the first one's tree being edited
  });

  it('from the document\'s own tree, which stays as it was', async () => {
    const docTree = pool.parseNow('typescript', TEXT)!;
    const was = docTree.rootNode.toString();
    const check = editChecker({ lang: 'typescript', text: TEXT, docTree, parse, warn: () => undefined });
    expect(await check(GOOD)).toEqual({ added: 0 });
    expect((await check(BAD))?.added).toBeGreaterThan(0);
    expect(docTree.rootNode.toString()).toBe(was);
    expect(docTree.rootNode.endIndex).toBe(TEXT.length);
  });

  it('in the worker when it runs, and here when it cannot start: the same verdicts', async () => {
    for (const script of [BUILT, pathToFileURL(join(tmpdir(), 'no-such-tandem-worker.mjs'))]) {
      const host = new SymbolHost(silentLogger(), script);
      try {
        const check = editChecker({ lang: 'typescript', text: TEXT, docTree: undefined, parse, offThread: (l, t, e) => host.check(l, t, e), warn: () => undefined });
        expect(await check(GOOD)).toEqual({ added: 0 });
        const bad = await check(BAD);
        expect(bad?.added).toBeGreaterThan(0);
        expect(bad?.first).toMatch(/line 5/);
      } finally {
        await host.dispose();
      }
    }
  });
});
