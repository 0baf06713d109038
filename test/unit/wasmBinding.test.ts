// tree-sitter's WebAssembly build, which stands in where the native binding did not install (no
// C++ compiler): the same trees, the same tags, parses in slices that resume, and a parser of
// a halted parse reset, as with the native binding. Each figure is compared with the native
// binding's in this same process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSyntax, nativeBindingFailure, resetBindingForTests, syntaxBackend } from '../../server/src/syntax/binding.js';
import { resetGrammarsForTests, type LanguageName } from '../../server/src/syntax/languages.js';
import { ParseService, type Tree } from '../../server/src/syntax/tree.js';
import { TagExtractor } from '../../server/src/context/tags.js';
import { listActions } from '../../server/src/actions/list.js';
import { ancestors } from '../../server/src/syntax/ancestors.js';
import { languageOf } from '../../server/src/syntax/languages.js';

const ROOT = join(import.meta.dirname, '..', '..');
const spans = (t: Tree): string => {
  const out: string[] = [];
  const cursor = t.walk();
  let down = true;
  for (;;) {
    if (down) out.push(`${cursor.nodeType}@${cursor.startIndex}-${cursor.endIndex}:${cursor.startPosition.row},${cursor.startPosition.column}${cursor.currentNode.isMissing ? '!' : ''}`);
    if (down && cursor.gotoFirstChild()) continue;
    if (cursor.gotoNextSibling()) {
      down = true;
      continue;
    }
    if (!cursor.gotoParent()) break;
    down = false;
  }
  return out.join('\n');
};

const SOURCES: [LanguageName, string][] = [
  ['typescript', readFileSync(join(ROOT, 'server/src/syntax/tree.ts'), 'utf8')],
  ['typescript', readFileSync(join(ROOT, 'server/src/context/tags.ts'), 'utf8')],
  ['python', 'import os\nfrom a.b import c as d\n\nclass Émile(Base):\n    """ü"""\n    def go(self, x: int) -> int:\n        return x + 1\n\nMAX = 3\n'],
  ['go', 'package m\n\nimport "fmt"\n\ntype T struct{ a int }\n\nfunc (t *T) Go(x int) int { fmt.Println("ß"); return x }\n'],
  ['rust', 'use std::io;\npub struct S { a: u8 }\nimpl S { pub fn go(&self) -> u8 { self.a } }\n'],
  ['java', 'package p;\nimport java.util.List;\npublic class A { int go(List<String> x) { return x.size(); } }\n'],
  ['javascript', 'export default function (a) { return a }\nexport const f = (x) => x * 2;\n'],
  ['tsx', 'export function C(p: { n: string }) { return <div>{p.n}</div>; }\n'],
  // Broken text: error recovery must build the same tree.
  ['typescript', 'function f(a: number {\n  return (a + ;\n}\nclass {'],
];

/** What the native binding made of each source, before the switch. */
let native: { spans: string; tags: string }[] = [];
let nativeWalks = '';

/** Cursor walks (listing actions: the unit a selection covers, firstCode; ancestors), as one string. */
function walks(svc: ParseService): string {
  const go = '// Sum adds.\nfunc Sum(a, b int) int {\n\treturn a + b\n}\n\nfunc (s *S) M() {}\n';
  const tree = svc.parseNow('go', go, { maxMs: 60_000 })!;
  const out: unknown[] = [];
  for (const [start, end] of [[0, go.indexOf('\n\nfunc (s')], [go.indexOf('func Sum'), go.indexOf('}') + 1], [go.indexOf('return'), go.indexOf('return')], [go.length, go.length]] as const) {
    out.push(listActions({ languageId: 'go', language: languageOf('go', 'a.go'), tree, text: go, start, end, diagnostics: [] }).map((o) => [o.id, o.start, o.end]));
    out.push(ancestors(tree, start, end).map((n) => n.type));
  }
  return JSON.stringify(out);
}

beforeAll(async () => {
  const svc = new ParseService();
  const tags = new TagExtractor();
  native = SOURCES.map(([lang, text]) => {
    const t = svc.parseNow(lang, text, { maxMs: 60_000 })!;
    return { spans: spans(t), tags: JSON.stringify(tags.extract(t, lang, text)) };
  });
  nativeWalks = walks(svc);
  process.env.TANDEM_TREE_SITTER = 'wasm';
  resetBindingForTests();
  resetGrammarsForTests();
  await loadSyntax();
});

afterAll(() => {
  delete process.env.TANDEM_TREE_SITTER;
  resetBindingForTests();
  resetGrammarsForTests();
});

describe("tree-sitter's WebAssembly build", () => {
  it('is the one in use, and says why', () => {
    expect(syntaxBackend()).toBe('wasm');
    expect(nativeBindingFailure()).toBe('TANDEM_TREE_SITTER=wasm');
  });

  it('builds the same trees (UTF-16 offsets, error recovery) and the same tags as the native binding', () => {
    const svc = new ParseService();
    const tags = new TagExtractor();
    SOURCES.forEach(([lang, text], i) => {
      const t = svc.parseNow(lang, text, { maxMs: 60_000 })!;
      expect(spans(t) === native[i]!.spans, `${lang} source ${i}`).toBe(true);
      expect(JSON.stringify(tags.extract(t, lang, text))).toBe(native[i]!.tags);
    });
  });

  it('cursor walks end where the native ones do (gotoFirstChildForIndex answers true/false there, an index/null natively)', () => {
    expect(walks(new ParseService())).toBe(nativeWalks);
  });

  it('parses in slices that resume (the same tree as one call), and re-parses an edited tree incrementally', async () => {
    const big = Array.from({ length: 2000 }, (_, i) => `export function f${i}(a: number, b: string): number {\n  return a + b.length * ${i};\n}\n`).join('');
    const svc = new ParseService();
    const out = await svc.parse('typescript', big, { maxMs: 60_000 });
    expect(svc.counters.slices).toBeGreaterThan(1);
    const whole = svc.parseNow('typescript', big, { maxMs: 60_000 })!;
    expect(spans(out.tree!) === spans(whole)).toBe(true);
    // One character typed into the first function's body; the tree edited, then parsed from it.
    const at = big.indexOf('return');
    const next = big.slice(0, at) + 'x;' + big.slice(at);
    out.tree!.edit({ startIndex: at, oldEndIndex: at, newEndIndex: at + 2, startPosition: { row: 1, column: 2 }, oldEndPosition: { row: 1, column: 2 }, newEndPosition: { row: 1, column: 4 } });
    const again = svc.parseNow('typescript', next, { old: out.tree!, maxMs: 60_000 })!;
    expect(spans(again) === spans(svc.parseNow('typescript', next, { maxMs: 60_000 })!)).toBe(true);
  });

  it('gives a parse up at its budget and resets its parser for the next one', async () => {
    const svc = new ParseService();
    const out = await svc.parse('javascript', '((((\n' + 'const q = "ab" + 1; '.repeat(15_000), { maxMs: 20 });
    expect(out).toMatchObject({ reason: 'too slow' });
    const after = await svc.parse('javascript', 'let ok = 1;\n');
    expect(after.tree?.rootNode.toString()).toBe('(program (lexical_declaration (variable_declarator name: (identifier) value: (number))))');
  });
});
