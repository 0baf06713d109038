// The syntax check of a merged completion: cursor-marked blocks, a completion each, the text that survives.
import { describe, expect, it } from 'vitest';
import { checkSyntax, missingClosers, syntaxBlock } from '../../server/src/pipeline/postprocess/syntaxCheck.js';
import { MAX_ERROR_WALK, errorCount, errorCountWithin, errorNodes } from '../../server/src/syntax/editCheck.js';
import { openAt, pool } from './fixtures.js';

// The time bound the server passes is ignored here: a loaded machine must give the same answers.
const parse = (lang: Parameters<typeof pool.parseNow>[0], text: string) => pool.parseNow(lang, text);

function check(marked: string, languageId: string, completion: string): string {
  const { doc, offset } = openAt(marked, languageId);
  const block = syntaxBlock(doc.tree!.current()!, doc.tree!.language, doc.text.getText(), offset);
  expect(block).toBeDefined();
  // A clock that stands still: the 12 ms budget is for the running server; here only the parse
  // count bounds the check, so a loaded machine gives the same answers.
  return checkSyntax(completion, block!, parse, () => 0);
}

describe('syntax check of the merged completion', () => {
  it.each([
    // [language, document with ├, completion, expected]
    ['typescript', 'function f(a: number) {\n  ├\n}\n', 'return a + 1;\n}', 'return a + 1;'],
    ['typescript', 'function f(a: number) {\n  const x = ├\n}\n', 'g(a, [1, 2', 'g(a, [1, 2])'],
    ['typescript', 'function f(a: number) {\n  ├\n}\n', 'if (a > 1) {\n    return a;\n  }\n  return 0;', 'if (a > 1) {\n    return a;\n  }\n  return 0;'],
    ['typescript', 'class A {\n  m() {\n    ├\n  }\n}\n', 'return 1;\n  }\n}\n}', 'return 1;'],
    ['python', 'def f(x):\n    ├\n', 'y = x + 1\n    return y', 'y = x + 1\n    return y'],
    ['python', 'def f(x):\n    return g(├\n', 'x, [1, 2', 'x, [1, 2]'], // only what the completion opened
    ['go', 'package main\n\nfunc f(a int) int {\n\t├\n}\n', 'return a\n}\n}', 'return a'],
    ['rust', 'fn f(a: i32) -> i32 {\n    ├\n}\n', 'a + 1\n}\n}', 'a + 1'],
    ['java', 'class A {\n  int f(int a) {\n    ├\n  }\n}\n', 'return a;\n  }\n}\n}', 'return a;'],
  ])('%s: %j + %j', (lang, doc, completion, expected) => {
    expect(check(doc, lang, completion)).toBe(expected);
  });

  it('leaves the completion alone when the block was broken already and no shorter text fixes it', () => {
    expect(check('function f( {\n  ├\n', 'typescript', 'return 1;')).toBe('return 1;');
  });

  it('leaves a trailing block opener open: the user goes on to fill the block', () => {
    expect(check('function f(a: number) {\n  ├\n}\n', 'typescript', 'if (a > 1) {')).toBe('if (a > 1) {');
  });

  it('does not close what the text after the cursor already closes', () => {
    expect(check('function f(a: number) {\n  g(├)\n}\n', 'typescript', 'a, 1')).toBe('a, 1');
  });

  it('finds the brackets a completion left open, skipping strings and comments', () => {
    expect(missingClosers('f(a, [1, "(", { b: 2 }')).toBe('])');
    expect(missingClosers('x) + (y')).toBe('');
    expect(missingClosers('f(a) // (')).toBe('');
  });

  it('a block too large for the check is skipped', () => {
    const { doc, offset } = openAt(`const big = [${'1, '.repeat(20_000)}├];\n`, 'typescript');
    expect(syntaxBlock(doc.tree!.current()!, doc.tree!.language, doc.text.getText(), offset)).toBeUndefined();
  });
});

describe('errorCount', () => {
  it('counts ERROR and MISSING nodes, none in clean code', () => {
    expect(errorCount(pool.parseNow('typescript', 'let a = 1;\n')!)).toBe(0);
    const broken = pool.parseNow('typescript', 'function f( {\n  return (1;\n}\n')!;
    expect(errorCount(broken)).toBeGreaterThan(0);
    expect([...errorNodes(broken)][0]!.type).toBe('program'); // the root holds the errors: the walk starts there
  });

  it('a tree 20,000 levels deep with an error at the bottom: counted without overflowing the stack', () => {
    const text = `const x = ${'['.repeat(20_000)}1 +;${']'.repeat(20_000)};\n`;
    const tree = pool.parseNow('javascript', text, { maxMs: 60_000 })!;
    expect(tree).toBeDefined();
    expect(errorCount(tree)).toBeGreaterThan(0);
    // Document order: the first error node found is the outermost one holding the first error.
    const first = [...errorNodes(tree)].find((n) => n.type === 'ERROR' || n.isMissing)!;
    expect(first.startIndex).toBeLessThanOrEqual(text.indexOf('+'));
  });

  it('a whole file broken in thousands of places is given up after MAX_ERROR_WALK nodes (too broken to count), one with an error among thousands of lines is counted', () => {
    const broken = pool.parseNow('javascript', 'const q = "ab" +; '.repeat(5000), { maxMs: 60_000 })!;
    expect(errorCountWithin(broken)).toBeUndefined();
    expect(errorCountWithin(broken, Infinity)).toBe(5000);
    const fine = pool.parseNow('javascript', 'let a = (1;\n' + 'const q = "ab" + 1;\n'.repeat(2000))!;
    expect(errorCountWithin(fine, MAX_ERROR_WALK)).toBe(errorCount(fine));
    expect(errorCount(fine)).toBeGreaterThan(0);
  });
});
