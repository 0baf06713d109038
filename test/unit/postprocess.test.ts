// Golden cases of the postprocess stage: document with `├` at the cursor, raw model output, text shown.
import { describe, expect, it } from 'vitest';
import { cursorContext } from '../../server/src/pipeline/inline.js';
import { cutAtStops, postprocess, type EditorIndentation } from '../../server/src/pipeline/postprocess/index.js';
import { TEMPLATES } from '../../server/src/prompt/templates.js';
import { defaultConfig, openAt } from './fixtures.js';

interface Case {
  name: string;
  lang: string;
  doc: string;
  raw: string;
  shown: string;
  /** inline settings for this case (multiline, maxLines). */
  inline?: Record<string, unknown>;
  /** The editor's pushed indentation settings. */
  editor?: EditorIndentation;
}

function run(c: Case): string {
  const { doc, offset } = openAt(c.doc, c.lang);
  const ctx = cursorContext(doc, offset, defaultConfig(c.inline), c.editor);
  return postprocess(c.raw, TEMPLATES.qwen.stop, ctx);
}

const SINGLE_LINE: Case[] = [
  {
    name: 'mid-line cursor keeps the first line only',
    lang: 'typescript',
    doc: 'if (count├ > 0) {\n  go();\n}\n',
    raw: ' && ready\n  && other()',
    shown: ' && ready',
  },
  {
    name: 'mid-line cursor in Python',
    lang: 'python',
    doc: 'total = compute(├items)\n',
    raw: 'all_\nprint(total)',
    shown: 'all_',
  },
  {
    name: 'multiline switched off keeps one line even at the end of a line',
    lang: 'typescript',
    doc: 'function f() {├\n',
    raw: '\n  return 1;\n}',
    shown: '',
    inline: { multiline: false },
  },
  {
    name: 'multiline switched off: first line of a completion that starts on the line',
    lang: 'typescript',
    doc: 'const total = ├\n',
    raw: 'a + b;\nconsole.log(total);',
    shown: 'a + b;',
    inline: { multiline: false },
  },
];

const BLOCKS: Case[] = [
  {
    name: 'TS: block opened at the cursor ends with its closing brace when the file lacks it',
    lang: 'typescript',
    doc: 'function add(a: number, b: number) {├',
    raw: '\n  return a + b;\n}\n\nfunction sub(a: number, b: number) {\n  return a - b;\n}',
    shown: '\n  return a + b;\n}',
  },
  {
    name: 'TS: closing brace dropped when the next line already has it',
    lang: 'typescript',
    doc: 'function add(a: number, b: number) {├\n}\n',
    raw: '\n  return a + b;\n}\n\nfunction sub() {}',
    shown: '\n  return a + b;',
  },
  {
    name: 'TS: closing brace right after the cursor (auto-closed) is not typed again; it moves to its own line',
    lang: 'typescript',
    doc: 'function add(a: number, b: number) {├}\n',
    raw: '\n  return a + b;\n}\n\nfunction sub() {}',
    shown: '\n  return a + b;\n',
  },
  {
    name: 'TS: nested auto-closed brace keeps its indentation',
    lang: 'typescript',
    doc: 'class A {\n  run() {├}\n}\n',
    raw: '\n    this.go();\n  }\n\n  stop() {}\n}',
    shown: '\n    this.go();\n  ',
  },
  {
    name: 'TS: cursor on an empty line inside a block stops where the block closes',
    lang: 'typescript',
    doc: 'function f() {\n  const a = 1;\n  ├\n}\n',
    raw: 'const b = 2;\n  log(a, b);\n}\n\nfunction g() {}',
    shown: 'const b = 2;\n  log(a, b);',
  },
  {
    name: 'TS: a sibling block opened inside the completion keeps its own closing brace',
    lang: 'typescript',
    doc: 'function f(xs: number[]) {\n  let t = 0;\n  ├\n  return t;\n}\n',
    raw: 'for (const x of xs) {\n    t += x;\n  }\n}\n',
    shown: 'for (const x of xs) {\n    t += x;\n  }',
  },
  {
    name: 'TS: arguments opened at the cursor end with the closing parenthesis',
    lang: 'typescript',
    doc: 'const v = call(├',
    raw: '\n  first,\n  second,\n);\nconst w = 2;',
    shown: '\n  first,\n  second,\n);',
  },
  {
    name: 'Python: a body ends when indentation returns to the def',
    lang: 'python',
    doc: 'def area(r):\n    ├\n\ndef other():\n    pass\n',
    raw: 'return 3.14 * r * r\n\ndef perimeter(r):\n    return 2 * 3.14 * r',
    shown: 'return 3.14 * r * r',
  },
  {
    name: 'Python: block opened at the cursor (colon) ends at its dedent',
    lang: 'python',
    doc: 'def total(xs):\n    t = 0\n    for x in xs:├\n    return t\n',
    raw: '\n        if x > 0:\n            t += x\n    return t\n',
    shown: '\n        if x > 0:\n            t += x',
  },
  {
    name: 'Python: siblings at the cursor level continue, a dedent ends them',
    lang: 'python',
    doc: 'class P:\n    def __init__(self, x, y):\n        ├\n',
    raw: 'self.x = x\n        self.y = y\n\n    def norm(self):\n        return 0',
    shown: 'self.x = x\n        self.y = y',
  },
  {
    name: 'Go: block opened at the cursor gets its brace when the file lacks it',
    lang: 'go',
    doc: 'func sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {├\n\treturn total\n}\n',
    raw: '\n\t\ttotal += x\n\t}\n\treturn total\n}\n',
    shown: '\n\t\ttotal += x\n\t}',
  },
  {
    name: 'Go: no brace when the next line closes the block',
    lang: 'go',
    doc: 'func sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {├\n\t}\n\treturn total\n}\n',
    raw: '\n\t\ttotal += x\n\t}\n\treturn total\n}\n',
    shown: '\n\t\ttotal += x',
  },
  {
    name: 'Go: completion inside a function stops at its closing brace',
    lang: 'go',
    doc: 'func main() {\n\t├\n}\n',
    raw: 'fmt.Println("hi")\n\tos.Exit(0)\n}\n\nfunc other() {}',
    shown: 'fmt.Println("hi")\n\tos.Exit(0)',
  },
  {
    name: 'maxLines bounds a completion',
    lang: 'typescript',
    doc: 'function f() {\n  ├\n}\n',
    raw: 'a();\n  b();\n  c();\n  d();\n  e();',
    shown: 'a();\n  b();\n  c();',
    inline: { maxLines: 3 },
  },
];

const REPEATS: Case[] = [
  {
    name: 'the rest of the line is dropped when the model retypes it',
    lang: 'typescript',
    doc: 'console.log(├"done");\n',
    raw: 'prefix, "done");',
    shown: 'prefix, ',
  },
  {
    name: 'a completion that is only the rest of the line shows nothing',
    lang: 'typescript',
    doc: 'console.log(├"done");\n',
    raw: '"done");',
    shown: '',
  },
  {
    name: 'auto-closed brackets typed again are dropped',
    lang: 'typescript',
    doc: 'const v = max(├);\n',
    raw: 'a, b);',
    shown: 'a, b',
  },
  {
    name: 'trailing lines that replay the next lines of the file are dropped',
    lang: 'typescript',
    doc: 'function f() {\n  const a = 1;\n  ├\n  return a + b;\n}\n',
    raw: 'const b = 2;\n  return a + b;\n}',
    shown: 'const b = 2;',
  },
  {
    name: 'a completion that is just the next line shows nothing',
    lang: 'python',
    doc: 'def f(a):\n    ├\n    return a\n',
    raw: 'return a',
    shown: '',
  },
  {
    // The first line carries no indentation (the cursor's line has it), so it is not part of the run.
    name: 'the same line over and over is cut',
    lang: 'typescript',
    doc: 'function f() {\n  ├\n}\n',
    raw: 'log("x");\n  log("x");\n  log("x");\n  log("x");\n  log("x");',
    shown: 'log("x");\n  log("x");',
  },
  {
    name: 'a line repeated twice is still fine',
    lang: 'typescript',
    doc: 'function f() {\n  ├\n}\n',
    raw: 'tick();\n  tick();',
    shown: 'tick();\n  tick();',
  },
  {
    name: 'a short pattern repeated to the end is cut after its first occurrence',
    lang: 'typescript',
    doc: 'const v = wrap(├',
    raw: 'inner(x))))))))))))))',
    shown: 'inner(x)',
  },
  {
    name: 'a repeated list item is cut',
    lang: 'python',
    doc: 'xs = [├',
    raw: '0, 1, 1, 1, 1, 1, 1, 1, 1',
    shown: '0, 1',
  },
];

// Files with enough indented lines to show their style; the model answers in its own.
const GO_TABS = 'package main\n\nfunc sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {├\n\treturn total\n}\n';
const PY_TABS = 'def total(xs):\n\tt = 0\n\tfor x in xs:├\n\treturn t\n';
const TS_2 = 'function f(xs: number[]) {\n  let t = 0;\n  for (const x of xs) {├\n  return t;\n}\n';
const TS_4 = 'function f(xs: number[]) {\n    let t = 0;\n    for (const x of xs) {├\n    return t;\n}\n';

const INDENTATION: Case[] = [
  {
    name: 'Go (gofmt tabs): 4-space completion becomes tabs, nesting kept',
    lang: 'go',
    doc: GO_TABS,
    raw: '\n        if x > 0 {\n            total += x\n        }\n    }\n    return total\n}',
    shown: '\n\t\tif x > 0 {\n\t\t\ttotal += x\n\t\t}\n\t}',
  },
  {
    name: 'Go (gofmt tabs): 2-space completion becomes tabs',
    lang: 'go',
    doc: GO_TABS,
    raw: '\n    total += x\n  }\n  return total\n}',
    shown: '\n\t\ttotal += x\n\t}',
  },
  {
    name: 'Go: a tab-indented completion is left alone, alignment spaces after the tabs included',
    lang: 'go',
    doc: 'package main\n\ntype P struct {\n\tX int\n\tY int\n}\n\nfunc f() P {\n\treturn P{├\n}\n',
    raw: '\n\t\tX:    1,\n\t\tLong: 2,\n\t}',
    shown: '\n\t\tX:    1,\n\t\tLong: 2,\n\t}',
  },
  {
    name: 'Python with tabs: 4-space body becomes tabs',
    lang: 'python',
    doc: PY_TABS,
    raw: '\n        if x > 0:\n            t += x\n    return t\n',
    shown: '\n\t\tif x > 0:\n\t\t\tt += x',
  },
  {
    name: 'Python with tabs: cursor on an empty line, siblings at the model\'s 4 spaces',
    lang: 'python',
    doc: 'class P:\n\tdef __init__(self, x, y):\n\t\t├\n',
    raw: 'self.x = x\n        self.y = y\n        if x:\n            self.n = 1',
    shown: 'self.x = x\n\t\tself.y = y\n\t\tif x:\n\t\t\tself.n = 1',
  },
  {
    name: 'TS with 2 spaces: a 4-space completion is re-indented to 2',
    lang: 'typescript',
    doc: TS_2,
    raw: '\n        if (x > 0) {\n            t += x;\n        }\n    }\n    return t;\n}',
    shown: '\n    if (x > 0) {\n      t += x;\n    }\n  }',
  },
  {
    name: 'TS with 2 spaces: a 2-space completion is left alone',
    lang: 'typescript',
    doc: TS_2,
    raw: '\n    if (x > 0) {\n      t += x;\n    }\n  }',
    shown: '\n    if (x > 0) {\n      t += x;\n    }\n  }',
  },
  {
    name: 'TS with 4 spaces: a 2-space completion is re-indented to 4',
    lang: 'typescript',
    doc: TS_4,
    raw: '\n    if (x > 0) {\n      t += x;\n    }\n  }',
    shown: '\n        if (x > 0) {\n            t += x;\n        }\n    }',
  },
  {
    name: 'TS with 4 spaces: a 4-space completion is left alone',
    lang: 'typescript',
    doc: TS_4,
    raw: '\n        if (x > 0) {\n            t += x;\n        }\n    }',
    shown: '\n        if (x > 0) {\n            t += x;\n        }\n    }',
  },
  {
    name: 'TS with 4 spaces: a tab-indented completion becomes spaces',
    lang: 'typescript',
    doc: TS_4,
    raw: '\n\t\tt += x;\n\t}',
    shown: '\n        t += x;\n    }',
  },
  {
    name: 'TS with 4 spaces: continuation lines keep their alignment past whole levels',
    lang: 'typescript',
    doc: 'class A {\n    run() {\n        ├\n    }\n}\n',
    // A 2-space model: the cursor's line is at its 4 columns, `second` aligned under `first`.
    raw: 'const total = add(first,\n                      second);\n    if (total) {\n      log(total);\n    }',
    shown: 'const total = add(first,\n                          second);\n        if (total) {\n            log(total);\n        }',
  },
  {
    // 4 columns after a line at 8 read as 2-space siblings or as a 4-space dedent: the document's unit wins.
    name: 'Python with 4 spaces: a completion that leaves the method keeps the document\'s unit (then ends there)',
    lang: 'python',
    doc: 'class P:\n    def a(self):\n        x = 1\n        ├\n',
    raw: 'return x\n\n    def b(self):\n        return 2',
    shown: 'return x',
  },
  {
    name: 'YAML with 2 spaces: a 4-space mapping is re-indented to 2',
    lang: 'yaml',
    doc: 'services:\n  web:\n    image: nginx\n  db:├\n',
    raw: '\n        image: postgres\n        ports:\n            - "5432:5432"',
    shown: '\n    image: postgres\n    ports:\n      - "5432:5432"',
  },
  {
    name: 'a file without indented lines takes the editor\'s settings (tabs)',
    lang: 'typescript',
    doc: 'function f() {├',
    raw: '\n    return 1;\n}',
    shown: '\n\treturn 1;\n}',
    editor: { insertSpaces: false, tabSize: 4 },
  },
  {
    name: 'the file\'s own style beats the editor\'s settings',
    lang: 'typescript',
    doc: TS_2,
    raw: '\n        t += x;\n    }',
    shown: '\n    t += x;\n  }',
    editor: { insertSpaces: false, tabSize: 4 },
  },
  {
    name: 'editor.detectIndentation false: the editor\'s settings rule',
    lang: 'typescript',
    doc: TS_2,
    raw: '\n    t += x;\n  }',
    shown: '\n        t += x;\n    }',
    editor: { insertSpaces: true, tabSize: 4, detectIndentation: false },
  },
  {
    name: 'no style known (no indented lines, no editor settings): the model\'s indentation stays',
    lang: 'typescript',
    doc: 'function f() {├',
    raw: '\n    return 1;\n}',
    shown: '\n    return 1;\n}',
  },
  {
    name: 'single-line mode is not re-indented',
    lang: 'go',
    doc: 'package main\n\nfunc f() {\n\tx := g(├)\n\ty := 2\n}\n',
    raw: '1,    2',
    shown: '1,    2',
  },
];

const BLOCK_REPEATS: Case[] = [
  {
    name: 'TS: a two-line block over and over keeps its first copy',
    lang: 'typescript',
    doc: 'function f() {\n  ├\n}\n',
    raw: 'const row = next();\n  rows.push(row);\n  const row = next();\n  rows.push(row);\n  const row = next();\n  rows.push(row);\n  const row',
    shown: 'const row = next();\n  rows.push(row);',
  },
  {
    name: 'Python: a block with a blank line between copies keeps its first copy',
    lang: 'python',
    doc: 'def f():\n    x = 0\n    ├\n',
    raw: 'x = read()\n    check(x)\n\n    x = read()\n    check(x)\n\n    x = read()\n    check(x)',
    shown: 'x = read()\n    check(x)',
  },
  {
    name: 'Go: a repeated block after a line of its own is cut after the first copy',
    lang: 'go',
    doc: 'package main\n\nfunc f() {\n\t├\n}\n',
    raw: 'open()\n\tif err != nil {\n\t\treturn\n\t}\n\tif err != nil {\n\t\treturn\n\t}\n\tif err != nil {',
    shown: 'open()\n\tif err != nil {\n\t\treturn\n\t}',
  },
  {
    name: 'blocks that differ are kept, though their closing lines repeat',
    lang: 'typescript',
    doc: 'function f(a: boolean, b: boolean) {\n  ├\n}\n',
    raw: 'const x = 1;\n  if (a) {\n    go(x);\n  }\n  if (b) {\n    go(x);\n  }',
    shown: 'const x = 1;\n  if (a) {\n    go(x);\n  }\n  if (b) {\n    go(x);\n  }',
  },
];

const NEIGHBOURS: Case[] = [
  {
    name: 'TS: a copy of the line above is dropped',
    lang: 'typescript',
    doc: 'function f() {\n  log("start");\n  ├\n}\n',
    raw: 'log("start");',
    shown: '',
  },
  {
    name: 'TS: a copy of the line above that differs only in spacing is dropped',
    lang: 'typescript',
    doc: 'function f() {\n  log("start", 1);\n\n  ├\n}\n',
    raw: 'log( "start",1 );',
    shown: '',
  },
  {
    name: 'Python: the rest of a line that makes it the line above is dropped',
    lang: 'python',
    doc: 'import os\nimport ├\n',
    raw: 'os',
    shown: '',
  },
  {
    name: 'Python: a new line after the cursor\'s line that copies it is dropped',
    lang: 'python',
    doc: 'x = compute(a)├\nprint(x)\n',
    raw: '\nx = compute(a)',
    shown: '',
  },
  {
    name: 'Go: a copy of the line below (with other indentation) is dropped',
    lang: 'go',
    doc: 'package main\n\nfunc f() {\n\t├\n\tdefer cleanup()\n}\n',
    raw: '    defer cleanup()',
    shown: '',
  },
  {
    name: 'a line like its neighbours but different is kept',
    lang: 'typescript',
    doc: 'function f() {\n  log("start");\n  ├\n  log("end");\n}\n',
    raw: 'log("middle");',
    shown: 'log("middle");',
  },
  {
    name: 'TS: `}` closing an inner block is kept though the line below is `}` too',
    lang: 'typescript',
    doc: 'function f(a: boolean) {\n  if (a) {\n    go();\n  ├\n}\n',
    raw: '}',
    shown: '}',
  },
  {
    name: 'TS: `}` under a `}` one level in is kept',
    lang: 'typescript',
    doc: 'function f(a: boolean) {\n  if (a) {\n    go();\n  }\n├\n',
    raw: '}',
    shown: '}',
  },
  {
    name: 'TS: `}` that would double the `}` below at its indentation is dropped',
    lang: 'typescript',
    doc: 'function f(a: boolean) {\n  go(a);\n├\n}\n',
    raw: '}',
    shown: '',
  },
  {
    name: 'TS: a trailing `}` one level deeper than the next line closes the completion\'s own block',
    lang: 'typescript',
    doc: 'function f(a: boolean) {\n  if (a) {├\n}\n',
    raw: '\n    go();\n  }',
    shown: '\n    go();\n  }',
  },
  {
    name: 'two new lines, the first a copy of the line above, are more than a copy',
    lang: 'python',
    doc: 'a = 1\n├\n',
    raw: 'a = 1\nb = 2',
    shown: 'a = 1\nb = 2',
  },
];

const EMPTY: Case[] = [
  { name: 'empty output', lang: 'typescript', doc: 'const a = ├\n', raw: '', shown: '' },
  { name: 'whitespace only', lang: 'typescript', doc: 'const a = ├\n', raw: '  \n\t\n   ', shown: '' },
  { name: 'only line breaks', lang: 'python', doc: 'def f():\n    ├', raw: '\n\n\n', shown: '' },
  { name: 'only a stop token', lang: 'typescript', doc: 'const a = ├\n', raw: '<|endoftext|>return 1', shown: '' },
  { name: 'trailing blanks at the end of the line are trimmed', lang: 'typescript', doc: 'const a = ├\n', raw: '1;   \t', shown: '1;' },
  { name: 'CRLF from the model becomes LF', lang: 'typescript', doc: 'function f() {\n  ├\n}\n', raw: 'a();\r\n  b();', shown: 'a();\n  b();' },
];

/** A minified line: what precedes the cursor is clipped, yet what the filters decide is unchanged. */
const MINIFIED = 'var a=b.c(d);'.repeat(80_000);
const LONG_LINES: Case[] = [
  { name: 'a block opened at the end of a megabyte line still ends with its closer', lang: 'javascript', doc: `${MINIFIED}function f(){├\n`, raw: '\n  return 1;\n}\nvar z = 2;', shown: '\n  return 1;\n}' },
  { name: 'a one-line completion on a megabyte line is shown (no neighbour copy test there)', lang: 'javascript', doc: `${MINIFIED}\n${MINIFIED}├\n`, raw: 'var a=b.c(d);', shown: 'var a=b.c(d);' },
];

describe.each([
  ['single-line mode', SINGLE_LINE],
  ['block scope', BLOCKS],
  ['repetition and suffix', REPEATS],
  ['indentation', INDENTATION],
  ['repeated blocks', BLOCK_REPEATS],
  ['repeats of a neighbouring line', NEIGHBOURS],
  ['nothing worth showing', EMPTY],
  ['megabyte lines', LONG_LINES],
] as const)('postprocess: %s', (_group, cases) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(run(c)).toBe(c.shown);
  });
});

describe('cutAtStops', () => {
  const rows: [string, string, string[], string][] = [
    ['no stops', 'abc', [], 'abc'],
    ['stop absent', 'abc', ['<|endoftext|>'], 'abc'],
    ['cut at a stop', 'return 1;<|endoftext|>junk', ['<|endoftext|>'], 'return 1;'],
    ['earliest of several stops wins, whatever their order', 'a<fim_suffix>b<|endoftext|>c', ['<|endoftext|>', '<fim_suffix>'], 'a'],
    ['stop at the very start', '<|fim_middle|>x', TEMPLATES.qwen.stop, ''],
    ['stop that is a prefix of another', 'x</s>y', ['</s>', '</'], 'x'],
    ['newline as a stop', 'one\ntwo', ['\n'], 'one'],
    ['deepseek full-width sentinel, not ASCII', 'a<|fim▁end|>b<｜fim▁end｜>c', TEMPLATES.deepseek.stop, 'a<|fim▁end|>b'],
  ];
  it.each(rows)('%s', (_n, text, stops, expected) => {
    expect(cutAtStops(text, stops)).toBe(expected);
  });
});
