// Code-action listing: which offers the syntax node under the cursor earns, with cursor-marker fixtures.
import { describe, expect, it } from 'vitest';
import { listActions, type DiagnosticRef } from '../../server/src/actions/list.js';
import { openAt } from './fixtures.js';

function offers(marked: string, languageId: string, opts: { selectTo?: string; diagnostics?: DiagnosticRef[] } = {}) {
  const { doc, offset } = openAt(marked, languageId);
  const text = doc.text.getText();
  const end = opts.selectTo ? text.indexOf(opts.selectTo, offset) + opts.selectTo.length : offset;
  return listActions({ languageId, language: doc.tree?.language, tree: doc.tree?.current(), text, start: offset, end, diagnostics: opts.diagnostics ?? [] });
}
const ids = (o: { id: string }[]) => o.map((x) => x.id);

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
});
