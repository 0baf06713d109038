// The document's indentation as the postprocess stage reads it: from the file near the cursor,
// bounded, cached per version, and from the editor's pushed settings.
import { describe, expect, it } from 'vitest';
import { detectIndentation, documentIndentation, readEditorIndentation, reindent } from '../../server/src/pipeline/postprocess/indentation.js';

describe('detectIndentation', () => {
  it.each([
    ['gofmt tabs', 'func f() {\n\tif x {\n\t\ty()\n\t}\n}\n', { insertSpaces: false, tabSize: 4 }],
    ['Python with tabs', 'def f(x):\n\tif x:\n\t\treturn 1\n\treturn 0\n', { insertSpaces: false, tabSize: 4 }],
    ['TS with 2 spaces', 'function f() {\n  if (x) {\n    y();\n  }\n}\n', { insertSpaces: true, tabSize: 2 }],
    ['TS with 4 spaces', 'function f() {\n    if (x) {\n        y();\n    }\n}\n', { insertSpaces: true, tabSize: 4 }],
    ['YAML with 2 spaces', 'a:\n  b:\n    c: 1\n  d: 2\n', { insertSpaces: true, tabSize: 2 }],
    ['one level only: its width', 'a:\n    b: 1\n    c: 2\n', { insertSpaces: true, tabSize: 4 }],
    // ` * ` lines of a block comment sit one column in: no evidence of a 1- or 3-space style.
    ['JSDoc continuation lines are not evidence', '/**\n * One.\n * Two.\n */\nclass A {\n    f() {\n        g();\n    }\n}\n', { insertSpaces: true, tabSize: 4 }],
    ['tabs when more lines start with a tab than with spaces', 'f {\n\ta\n\tb\n\tc\n  d\n}\n', { insertSpaces: false, tabSize: 4 }],
    ['CRLF line ends', 'f {\r\n  a\r\n  b\r\n}\r\n', { insertSpaces: true, tabSize: 2 }],
  ])('%s', (_name, text, style) => {
    expect(detectIndentation(text, 0)).toEqual(style);
  });

  it.each([
    ['no indented line', 'a\nb\nc\n'],
    ['one indented line is not enough', 'f {\n  a\n}\n'],
    ['blank lines of whitespace are not indentation', 'a\n    \n\t\n  \nb\n'],
    ['empty text', ''],
  ])('nothing known: %s', (_name, text) => {
    expect(detectIndentation(text, 0)).toBeUndefined();
  });

  it('reads only the text around the cursor in a large file', () => {
    const far = 'f {\n\tx()\n}\n'.repeat(100_000); // 1.1 MB of tab-indented code
    const near = 'g {\n  y()\n}\n'.repeat(6_000); // 66 KB
    const text = far + near;
    // Whole, the file is mostly tabs; near the end, where the cursor is, it is 2 spaces.
    expect(detectIndentation(text, text.length)).toEqual({ insertSpaces: true, tabSize: 2 });
    expect(detectIndentation(text, 0)).toEqual({ insertSpaces: false, tabSize: 4 });
  });

  it('a giant single line reads as nothing known', () => {
    expect(detectIndentation('x'.repeat(1_000_000), 500_000)).toBeUndefined();
  });
});

describe('documentIndentation', () => {
  const TABS = 'f {\n\ta\n\tb\n}\n';
  const SPACES = 'f {\n  a\n  b\n}\n';

  it('detects once per document version', () => {
    const doc = { version: 1 };
    expect(documentIndentation(doc, TABS, 0)).toEqual({ insertSpaces: false, tabSize: 4 });
    // Same version: the cached answer, the text is not read again.
    expect(documentIndentation(doc, SPACES, 0)).toEqual({ insertSpaces: false, tabSize: 4 });
    doc.version = 2;
    expect(documentIndentation(doc, SPACES, 0)).toEqual({ insertSpaces: true, tabSize: 2 });
  });

  it('the file first, the editor where the file shows nothing, the editor alone without detection', () => {
    const editor = { insertSpaces: true, tabSize: 8 };
    expect(documentIndentation({ version: 1 }, SPACES, 0, editor)).toEqual({ insertSpaces: true, tabSize: 2 });
    expect(documentIndentation({ version: 1 }, 'a\nb\n', 0, editor)).toEqual({ insertSpaces: true, tabSize: 8 });
    expect(documentIndentation({ version: 1 }, SPACES, 0, { ...editor, detectIndentation: false })).toEqual({ insertSpaces: true, tabSize: 8 });
    // A tab's width is the editor's to say.
    expect(documentIndentation({ version: 1 }, TABS, 0, { tabSize: 2 })).toEqual({ insertSpaces: false, tabSize: 2 });
    // tabSize alone does not say spaces or tabs.
    expect(documentIndentation({ version: 1 }, 'a\n', 0, { tabSize: 2 })).toBeUndefined();
  });
});

describe('readEditorIndentation', () => {
  const where = 'workspace/didChangeConfiguration settings.editor';
  it('takes VS Code\'s names and ignores the other editor settings', () => {
    expect(readEditorIndentation({ tabSize: 2, insertSpaces: true, detectIndentation: false, fontSize: 14 }, where)).toEqual({ value: { tabSize: 2, insertSpaces: true, detectIndentation: false }, problems: [] });
    expect(readEditorIndentation({ fontSize: 14 }, where)).toEqual({ value: undefined, problems: [] });
    expect(readEditorIndentation(null, where)).toEqual({ value: undefined, problems: [] });
  });

  it('names each bad key and keeps the good ones', () => {
    expect(readEditorIndentation({ tabSize: 0, insertSpaces: 'yes', detectIndentation: true }, where)).toEqual({
      value: { detectIndentation: true },
      problems: [`${where}.tabSize: expected an integer from 1 to 16`, `${where}.insertSpaces: expected true or false`],
    });
    expect(readEditorIndentation({ tabSize: 2.5 }, where).problems).toEqual([`${where}.tabSize: expected an integer from 1 to 16`]);
    expect(readEditorIndentation([4], where)).toEqual({ value: undefined, problems: [`${where}: expected an object`] });
  });
});

describe('reindent keeps every line\'s code', () => {
  // Seeded: the same cases on every run.
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const LEADS = ['', ' ', '  ', '    ', '      ', '        ', '\t', '\t\t', '\t  ', '  \t', '                     '];
  const BODIES = ['if (x) {', '}', 'return 1;', 'foo(a,', 'b)', ' * doc', 'else:', ''];
  const STYLES = [{ insertSpaces: false, tabSize: 4 }, { insertSpaces: true, tabSize: 2 }, { insertSpaces: true, tabSize: 4 }, { insertSpaces: true, tabSize: 3 }];

  it('changes only leading blanks, line for line, and writes converted lines in the document\'s style', () => {
    for (let k = 0; k < 2_000; k++) {
      const lines = Array.from({ length: 1 + rand(8) }, () => LEADS[rand(LEADS.length)]! + BODIES[rand(BODIES.length)]!);
      const style = STYLES[rand(STYLES.length)]!;
      const ctx = { linePrefix: LEADS[rand(LEADS.length)]! + (rand(2) ? 'x = ' : ''), lineSuffix: '', lineAbove: LEADS[rand(LEADS.length)]! + BODIES[rand(BODIES.length)]!, nextLines: [], mode: 'multi' as const, maxLines: 16, indent: style };
      const text = lines.join('\n');
      const out = reindent(text, ctx).split('\n');
      expect(out.map((l) => l.trimStart())).toEqual(lines.map((l) => l.trimStart()));
      for (const [i, line] of out.entries()) {
        if (line === lines[i] || line.trim() === '') continue;
        // A converted line: tabs then alignment spaces in a tab-indented document, spaces only in the other.
        const lead = line.slice(0, line.length - line.trimStart().length);
        expect(lead).toMatch(style.insertSpaces ? /^ *$/ : /^\t* *$/);
      }
    }
  });
});
