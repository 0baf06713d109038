// Incremental sync: text and tree after a sequence of LSP edits equal a fresh parse of the final text.
import { describe, expect, it } from 'vitest';
import { DocumentStore, looksBinary, type ContentChange, type Position } from '../../server/src/documents.js';
import { pool } from './fixtures.js';

const at = (line: number, character: number): Position => ({ line, character });
const ins = (p: Position, text: string): ContentChange => ({ range: { start: p, end: p }, text });
const del = (start: Position, end: Position): ContentChange => ({ range: { start, end }, text: '' });
const rep = (start: Position, end: Position, text: string): ContentChange => ({ range: { start, end }, text });

interface Case {
  name: string;
  lang: string;
  initial: string;
  /** One array per didChange notification. */
  edits: ContentChange[][];
  final: string;
}

const CASES: Case[] = [
  {
    name: 'typing a statement character by character',
    lang: 'typescript',
    initial: 'function f() {\n  \n}\n',
    edits: [...'return 1;'].map((ch, i) => [ins(at(1, 2 + i), ch)]),
    final: 'function f() {\n  return 1;\n}\n',
  },
  {
    name: 'deleting across lines',
    lang: 'typescript',
    initial: 'const a = 1;\nconst b = 2;\nconst c = 3;\n',
    edits: [[del(at(0, 10), at(2, 10))]],
    final: 'const a = 3;\n',
  },
  {
    name: 'multi-line replacement, then an edit after it in the same notification',
    lang: 'typescript',
    initial: 'class A {\n  x = 1;\n}\n',
    edits: [[rep(at(1, 2), at(1, 8), 'run() {\n    return 2;\n  }'), ins(at(4, 1), '\nexport { A };')]],
    final: 'class A {\n  run() {\n    return 2;\n  }\n}\nexport { A };\n',
  },
  {
    name: 'CRLF text inserted and deleted',
    lang: 'typescript',
    initial: 'let a = 1;\r\nlet b = 2;\r\n',
    edits: [[ins(at(1, 10), '\r\nlet c = a + b;')], [del(at(0, 10), at(1, 0))], [ins(at(0, 10), '\r\n')]],
    final: 'let a = 1;\r\nlet b = 2;\r\nlet c = a + b;\r\n',
  },
  {
    name: 'non-BMP characters: positions count UTF-16 code units',
    lang: 'typescript',
    // 😀 is two UTF-16 units: character 14 is after it, before the closing quote.
    initial: 'const s = "a😀";\nconst t = 1;\n',
    edits: [[ins(at(0, 14), 'b😀c')], [rep(at(1, 6), at(1, 7), 'u')], [ins(at(0, 10), '😀 + ')]],
    final: 'const s = 😀 + "a😀b😀c";\nconst u = 1;\n',
  },
  {
    name: 'non-BMP text on a later line shifts nothing on other lines',
    lang: 'python',
    initial: 'def f():\n    return "😀😀"\n\nx = 1\n',
    edits: [[rep(at(1, 12), at(1, 14), '🎉')], [ins(at(3, 5), '  # 👍')], [del(at(1, 12), at(1, 16))]],
    final: 'def f():\n    return ""\n\nx = 1  # 👍\n',
  },
  {
    name: 'Python: indentation edits that change the block structure',
    lang: 'python',
    initial: 'def f(x):\n    if x:\n        return 1\n    return 0\n',
    edits: [[del(at(2, 0), at(2, 4))], [ins(at(3, 0), '    ')], [rep(at(1, 0), at(2, 0), '')]],
    final: 'def f(x):\n    return 1\n        return 0\n',
  },
  {
    name: 'Go: a function inserted before another',
    lang: 'go',
    initial: 'package main\n\nfunc main() {\n}\n',
    edits: [[ins(at(2, 0), 'func helper(x int) int {\n\treturn x\n}\n\n')], [ins(at(6, 13), '\n\t_ = helper(1)')]],
    final: 'package main\n\nfunc helper(x int) int {\n\treturn x\n}\n\nfunc main() {\n\t_ = helper(1)\n}\n',
  },
  {
    name: 'positions past the end of a line are clamped to it',
    lang: 'typescript',
    initial: 'let a = 1;\nlet b = 2;\n',
    edits: [[ins(at(0, 99), ' // one')], [del(at(1, 10), at(1, 500))], [ins(at(1, 80), ';')]],
    final: 'let a = 1; // one\nlet b = 2;;\n',
  },
  {
    name: 'a line past the end of the document appends',
    lang: 'typescript',
    initial: 'let a = 1;\n',
    edits: [[ins(at(40, 3), 'let z = 0;\n')]],
    final: 'let a = 1;\nlet z = 0;\n',
  },
  {
    name: 'a full replacement among incremental changes',
    lang: 'typescript',
    initial: 'let a = 1;\n',
    edits: [[ins(at(0, 0), '// x\n')], [{ text: 'const z = [1, 2];\n' }], [rep(at(0, 11), at(0, 15), '3')]],
    final: 'const z = [3];\n',
  },
];

describe('DocumentStore.change keeps text and tree in step', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const store = new DocumentStore(pool);
    const uri = `file:///work/doc.${c.lang === 'python' ? 'py' : c.lang === 'go' ? 'go' : 'ts'}`;
    let doc = store.open(uri, c.lang, 1, c.initial);
    // Parse first, so each change edits an existing tree (the incremental path under test).
    expect(doc.tree?.parseNow()).toBeDefined();
    let version = 1;
    for (const batch of c.edits) {
      doc = store.change(uri, ++version, batch)!;
      // Re-parse after some notifications only: edits must also compose on an edited, unparsed tree.
      if (version % 2 === 0) doc.tree!.parseNow();
    }
    expect(doc.text.getText()).toBe(c.final);
    expect(doc.text.version).toBe(version);
    const incremental = doc.tree!.parseNow()!;
    const full = pool.parseNow(doc.tree!.language.name, c.final);
    expect(incremental.rootNode.toString()).toBe(full.rootNode.toString());
    // Positions too, not just shapes: the same nodes at the same places.
    const spans = (n: typeof full.rootNode): string[] => [`${n.type}@${n.startIndex}-${n.endIndex}:${n.startPosition.row},${n.startPosition.column}`, ...n.children.flatMap(spans)];
    expect(spans(incremental.rootNode)).toEqual(spans(full.rootNode));
    expect(incremental.rootNode.text).toBe(c.final);
  });

  it('a change past the end of the document lands at the end and keeps the line table whole', () => {
    const store = new DocumentStore(pool);
    store.open('file:///work/p.ts', 'typescript', 1, 'function f() {\n  \n}\n');
    const doc = store.change('file:///work/p.ts', 2, [rep(at(9, 0), at(10, 0), 'x\ny')])!;
    expect(doc.text.getText()).toBe('function f() {\n  \n}\nx\ny');
    expect(doc.text.offsetAt(at(4, 1))).toBe(doc.text.getText().length);
    expect(doc.text.positionAt(doc.text.getText().length)).toEqual(at(4, 1));
  });

  it('an unknown document is ignored', () => {
    const store = new DocumentStore(pool);
    expect(store.change('file:///nope.ts', 2, [ins(at(0, 0), 'x')])).toBeUndefined();
  });

  it('edits before the first parse are picked up by it', () => {
    const store = new DocumentStore(pool);
    store.open('file:///a.ts', 'typescript', 1, 'let a = 1;\n');
    const doc = store.change('file:///a.ts', 2, [ins(at(0, 10), '\nlet b = a;')])!;
    expect(doc.tree!.parseNow()!.rootNode.toString()).toBe(pool.parseNow('typescript', 'let a = 1;\nlet b = a;\n').rootNode.toString());
  });
});

describe('binary content', () => {
  const rows: [string, string, boolean][] = [
    ['plain text', 'let a = 1;\n', false],
    ['a NUL byte', 'let a = 1;\u0000\n', true],
    ['a NUL at the start', '\u0000ELF', true],
    ['control characters other than NUL', 'a\u0001\u0002\u001b[0m\n', false],
  ];
  it.each(rows)('%s → binary %s', (_n, text, binary) => {
    expect(looksBinary(text)).toBe(binary);
    const doc = new DocumentStore(pool).open('file:///work/x.ts', 'typescript', 1, text);
    expect(doc.binary).toBe(binary);
    expect(doc.tree === undefined).toBe(binary);
  });

  it('a full replacement with binary content drops the tree; back to text brings it back', () => {
    const store = new DocumentStore(pool);
    store.open('file:///work/x.ts', 'typescript', 1, 'let a = 1;\n');
    const bin = store.change('file:///work/x.ts', 2, [{ text: 'PK\u0003\u0004\u0000\u0000' }])!;
    expect(bin.binary).toBe(true);
    expect(bin.tree).toBeUndefined();
    const back = store.change('file:///work/x.ts', 3, [{ text: 'let b = 2;\n' }])!;
    expect(back.binary).toBe(false);
    expect(back.tree?.parseNow()?.rootNode.text).toBe('let b = 2;\n');
  });

  it('languages without a grammar have no tree but are not binary', () => {
    const doc = new DocumentStore(pool).open('file:///work/notes.md', 'markdown', 1, '# hi\n');
    expect(doc.binary).toBe(false);
    expect(doc.tree).toBeUndefined();
  });
});
