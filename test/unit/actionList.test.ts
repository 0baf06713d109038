// Code-action listing: which offers the syntax node under the cursor earns, with cursor-marker fixtures.
import { describe, expect, it } from 'vitest';
import { listActions, type DiagnosticRef } from '../../server/src/actions/list.js';
import { MAX_COMMENTS } from '../../server/src/syntax/code.js';
import { openAt } from './fixtures.js';

function offers(marked: string, languageId: string, opts: { selectTo?: string; diagnostics?: DiagnosticRef[] } = {}) {
  const { doc, offset } = openAt(marked, languageId);
  const text = doc.text.getText();
  const end = opts.selectTo ? text.indexOf(opts.selectTo, offset) + opts.selectTo.length : offset;
  return listActions({ languageId, language: doc.tree?.language, tree: doc.tree?.current(), text, start: offset, end, diagnostics: opts.diagnostics ?? [] });
}
const ids = (o: { id: string }[]) => o.map((x) => x.id);

const SELECTION_END = '┤';
/** Offers for the selection from `├` to `┤` (in that order), and the text of an offer's range. */
function selected(marked: string, languageId: string) {
  const at = marked.indexOf(SELECTION_END);
  if (at < marked.indexOf('├')) throw new Error(`fixture needs ├ before ${SELECTION_END}: ${JSON.stringify(marked)}`);
  const { doc, offset } = openAt(marked.slice(0, at) + marked.slice(at + SELECTION_END.length), languageId);
  const text = doc.text.getText();
  const o = listActions({ languageId, language: doc.tree?.language, tree: doc.tree?.current(), text, start: offset, end: at - '├'.length, diagnostics: [] });
  // The server hands it the document's chunked text, read at the selection: the same offers.
  expect(listActions({ languageId, language: doc.tree?.language, tree: doc.tree?.current(), text: doc.text, start: offset, end: at - '├'.length, diagnostics: [] })).toEqual(o);
  const range = (id: string) => {
    const x = o.find((y) => y.id === id);
    return x && text.slice(x.start, x.end);
  };
  return { o, ids: ids(o), range };
}

describe('listActions', () => {
  it('thousands of blocks deep: the enclosing function is found without climbing node by node (each climb walks down from the root)', () => {
    const depth = 3000;
    const { doc, offset } = openAt(`export function deep(r) {\n${'{'.repeat(depth)}r├;${'}'.repeat(depth)}\n}\n`, 'typescript');
    const tree = doc.tree?.current();
    expect(tree).toBeDefined();
    let proto: object | null = tree!.rootNode;
    while (proto && !Object.prototype.hasOwnProperty.call(proto, 'parent')) proto = Object.getPrototypeOf(proto);
    const getter = Object.getOwnPropertyDescriptor(proto!, 'parent')!.get!;
    let climbs = 0;
    Object.defineProperty(proto!, 'parent', { configurable: true, get() { climbs++; return getter.call(this); } });
    try {
      const text = doc.text.getText();
      const o = listActions({ languageId: 'typescript', language: doc.tree?.language, tree, text, start: offset, end: offset, diagnostics: [] });
      expect(ids(o)).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'addTypes', 'generateTests']);
      expect(o[0]).toMatchObject({ title: 'Explain this function (tandem)', start: 'export '.length, end: text.length - 1 });
    } finally {
      Object.defineProperty(proto!, 'parent', { configurable: true, get: getter });
    }
    // A few steps around the function (its export wrapper), not one per level of nesting.
    expect(climbs).toBeLessThan(10);
  });

  it('a tree edited since its parse down to nothing under the range: a selection is still offered, nothing encloses it', () => {
    const { doc, store } = openAt('class A {}\n├', 'java');
    // Everything replaced by a range edit: the tree is edited (not re-parsed) and spans nothing now.
    store.change(doc.uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } }, text: '' }]);
    store.change(doc.uri, 3, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'int x = 1;\n' }]);
    const o = listActions({ languageId: 'java', language: doc.tree?.language, tree: doc.tree?.current(), text: doc.text.getText(), start: 0, end: 5, diagnostics: [] });
    expect(ids(o)).toEqual(['explain', 'simplify', 'errorHandling']);
  });

  it('inside an undocumented, untyped TypeScript function: the full set', () => {
    const o = offers('export function area(r) {\n  return 3.14 * ├r * r;\n}\n', 'typescript');
    expect(ids(o)).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'addTypes', 'generateTests']);
    expect(o[0]!.title).toBe('Explain this function (tandem)');
    expect(o.find((x) => x.id === 'document')!.kind).toBe('refactor.rewrite.tandem.document');
  });

  it('a documented, typed function is not offered docs or types', () => {
    const o = offers('/** Area of a circle. */\nexport function area(r: number): number {\n  return ├3.14 * r * r;\n}\n', 'typescript');
    expect(ids(o)).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
  });

  it('Python: docstrings count as documentation; missing annotations earn addTypes', () => {
    expect(ids(offers('def area(r):\n    """Area."""\n    return ├r * r\n', 'python'))).toEqual(['explain', 'simplify', 'errorHandling', 'addTypes', 'generateTests']);
    expect(ids(offers('def area(r: float) -> float:\n    return ├r * r\n', 'python'))).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'generateTests']);
  });

  it('Go has no addTypes; a selection names itself', () => {
    const o = offers('package m\n\nfunc Area(r float64) float64 {\n\t├return r * r\n}\n', 'go', { selectTo: 'r * r' });
    expect(ids(o)).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
    expect(o[0]!.title).toBe('Explain this selection (tandem)');
  });

  it('on the signature: update call sites; one quick fix per diagnostic, first', () => {
    const marked = 'export function area(r: number, ├unit: string): number {\n  return r;\n}\n';
    const d: DiagnosticRef = { message: "Parameter 'unit' is declared but never used.\nmore", start: 33, end: 37, source: 'ts' };
    const o = offers(marked, 'typescript', { diagnostics: [d] });
    expect(ids(o)).toEqual(['fixDiagnostic', 'explain', 'document', 'simplify', 'errorHandling', 'generateTests', 'updateCallSites']);
    expect(o[0]).toMatchObject({ title: "Fix with tandem: Parameter 'unit' is declared but never used.", kind: 'quickfix.tandem', diagnostic: d });
    expect(o.at(-1)!.title).toBe('Update call sites of area (tandem)');
  });

  it('at top level with nothing selected: nothing but quick fixes', () => {
    expect(ids(offers('import x from "y";\n├\n', 'typescript'))).toEqual([]);
  });

  it('a plain-text file with a selection still gets explain and simplify', () => {
    expect(ids(offers('some ├words here', 'plaintext', { selectTo: 'words' }))).toEqual(['explain', 'simplify', 'errorHandling']);
  });

  describe('a selection of exactly one unit earns its actions besides the selection\'s', () => {
    it('TypeScript: a function selected exactly, and with its export and a linewise end', () => {
      const fn = 'function area(r) {\n  return 3.14 * r * r;\n}';
      for (const marked of [`export ├${fn}┤\n`, `├export ${fn}\n┤`, `const x = 1;\n├\n\nexport ${fn}\n\n┤const y = 2;\n`]) {
        const s = selected(marked, 'typescript');
        expect(s.ids, marked).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'addTypes', 'generateTests']);
        expect(s.o[0]!.title).toBe('Explain this selection (tandem)');
        // The unit's actions work on the function, the selection's on what was selected.
        expect(s.range('document')).toBe(fn);
        expect(s.range('generateTests')).toBe(fn);
        expect(s.range('addTypes')).toBe(fn);
        expect(s.range('simplify')).toBe(marked.slice(marked.indexOf('├') + 1, marked.indexOf('┤')));
      }
    });

    it('TypeScript: comments around the unit do not count; a doc comment selected with it is its documentation', () => {
      const fn = 'function area(r: number): number {\n  return 3.14 * r * r;\n} // trailing';
      const withDoc = selected(`├/** Area. */\nexport ${fn}\n// after\n┤`, 'typescript');
      expect(withDoc.ids).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
      expect(withDoc.range('generateTests')).toBe(fn);
      // A trailing comment that the grammar puts inside the function, left out of the selection.
      const s = selected('/* license */\n\n├export function area(r: number): number {\n  return 3.14 * r * r;\n}┤ // trailing\n', 'typescript');
      expect(s.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'generateTests']);
    });

    it('TypeScript: a method, a class and an arrow function bound to a name', () => {
      const method = selected('class Cart {\n  ├add(item) {\n    this.items.push(item);\n  }┤\n  size() { return 0; }\n}\n', 'typescript');
      // A method's selection starts on its name: its call sites are offered, as with the cursor there.
      expect(method.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'addTypes', 'generateTests', 'updateCallSites']);
      expect(method.o.find((x) => x.id === 'generateTests')!.title).toBe('Generate tests for this function (tandem)');
      expect(method.range('document')).toBe('add(item) {\n    this.items.push(item);\n  }');
      const cls = selected('├class Cart {\n  add(item: string): void {}\n}\n┤', 'typescript');
      expect(cls.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'generateTests']);
      expect(cls.o.at(-1)!.title).toBe('Generate tests for this class (tandem)');
      const arrow = selected('├const twice = (x) => x * 2;┤\n', 'typescript');
      expect(arrow.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'addTypes', 'generateTests']);
      expect(arrow.range('generateTests')).toBe('(x) => x * 2');
    });

    it('TypeScript: two functions, or half of one, are not one unit', () => {
      const two = selected('├function a() {\n  return 1;\n}\n\nfunction b() {\n  return 2;\n}\n┤', 'typescript');
      expect(two.ids).toEqual(['explain', 'simplify', 'errorHandling']);
      // Half a function: no documentation offer; the function around it keeps its offers as before.
      const half = selected('├function area(r) {\n  const k = 3.14;┤\n  return k * r * r;\n}\n', 'typescript');
      expect(half.ids).toEqual(['explain', 'simplify', 'errorHandling', 'addTypes', 'generateTests']);
      // Two methods: the class around them, as with the cursor between them; no documentation offer.
      const methods = selected('class Cart {\n  ├a() {}\n  b() {}┤\n}\n', 'typescript');
      expect(methods.ids).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
      expect(methods.range('generateTests')).toBe('class Cart {\n  a() {}\n  b() {}\n}');
      // Only comments and whitespace: no unit.
      expect(selected('├// just a note\n\n┤function f() {}\n', 'typescript').ids).toEqual(['explain', 'simplify', 'errorHandling']);
    });

    it('past MAX_COMMENTS comments, or text typed since the parse, or a start inside a name: not one unit', () => {
      const fn = 'function f(): number {\n  return 1;\n}\n';
      // The last comment is the function's documentation.
      expect(selected(`├${'// c\n'.repeat(MAX_COMMENTS)}${fn}┤`, 'typescript').ids).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
      expect(selected(`├${'// c\n'.repeat(MAX_COMMENTS + 2)}${fn}┤`, 'typescript').ids).toEqual(['explain', 'simplify', 'errorHandling']);
      expect(selected(`├${fn}${'// c\n'.repeat(MAX_COMMENTS + 2)}┤`, 'typescript').ids).toEqual(['explain', 'simplify', 'errorHandling']);
      expect(selected(`f├unction f(): void {}┤\n`, 'typescript').ids).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
      // `x` typed after the function: the tree is edited, not parsed again, and holds no leaf for it.
      const { doc, store } = openAt(`├${fn}\n`, 'typescript');
      store.change(doc.uri, 2, [{ range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } }, text: 'x' }]);
      const text = doc.text.getText();
      const list = (end: number) => ids(listActions({ languageId: 'typescript', language: doc.tree?.language, tree: doc.tree?.current(), text, start: 0, end, diagnostics: [] }));
      expect(list(text.length)).toEqual(['explain', 'simplify', 'errorHandling']);
      expect(list(fn.length)).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'generateTests']);
    });

    it('Python: a decorated function with comments around it, a class, a method; two functions and half of one', () => {
      const fn = 'def area(r):\n    return 3.14 * r * r';
      const s = selected(`import math\n├\n@cache\n${fn}\n    # trailing, inside the block\n\n┤print(area(2))\n`, 'python');
      expect(s.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'addTypes', 'generateTests']);
      expect(s.range('generateTests')).toBe(`${fn}\n    # trailing, inside the block`);
      const documented = selected('├def area(r: float) -> float:\n    """Area."""\n    return r * r\n┤', 'python');
      expect(documented.ids).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
      const cls = selected('# shapes\n├class Circle:\n    def area(self) -> float:\n        return 1.0\n┤', 'python');
      expect(cls.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'generateTests']);
      expect(cls.o.at(-1)!.title).toBe('Generate tests for this class (tandem)');
      const method = selected('class Circle:\n├    def area(self) -> float:\n        return 1.0\n┤', 'python');
      expect(method.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'generateTests']);
      expect(method.range('document')).toBe('def area(self) -> float:\n        return 1.0');
      expect(selected('├def a(x: int) -> int:\n    return x\n\ndef b(x: int) -> int:\n    return x\n┤', 'python').ids).toEqual(['explain', 'simplify', 'errorHandling']);
      expect(selected('def a(x: int) -> int:\n    ├y = x\n    return y┤\n', 'python').ids).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
    });

    it('Go: a function with its comment and a method; a type; two functions and half of one', () => {
      const fn = 'func Area(r float64) float64 {\n\treturn r * r\n}';
      const s = selected(`package m\n\n├// Area is the area.\n${fn}\n┤`, 'go');
      expect(s.ids).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
      expect(s.range('generateTests')).toBe(fn);
      const method = selected('package m\n\ntype T struct{}\n\n├func (t T) Size() int {\n\treturn 0\n}┤\n', 'go');
      expect(method.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'generateTests']);
      const type = selected('package m\n\n├type T struct {\n\tn int\n}\n┤', 'go');
      expect(type.ids).toEqual(['explain', 'document', 'simplify', 'errorHandling', 'generateTests']);
      expect(selected('package m\n\n├func A() {}\n\nfunc B() {}\n┤', 'go').ids).toEqual(['explain', 'simplify', 'errorHandling']);
      expect(selected('package m\n\n├func A() int {\n\tx := 1┤\n\treturn x\n}\n', 'go').ids).toEqual(['explain', 'simplify', 'errorHandling', 'generateTests']);
    });
  });
});
