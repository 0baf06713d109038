// The context stage: tag extraction per language, the index and its import resolution, each source on
// cursor-marked fixtures, packing, the repository-level prompt layouts, and privacy over every segment.
import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../server/src/config/load.js';
import type { Config } from '../../server/src/config/schema.js';
import { DocumentActivity } from '../../server/src/context/activity.js';
import { pack } from '../../server/src/context/pack.js';
import { nameKey } from '../../server/src/context/packed.js';
import { EnclosingSource } from '../../server/src/context/sources/enclosing.js';
import { DefinitionsSource } from '../../server/src/context/sources/definitions.js';
import { RecentEditsSource } from '../../server/src/context/sources/recentEdits.js';
import { queryText, SimilarSource } from '../../server/src/context/sources/similar.js';
import { TagExtractor } from '../../server/src/context/tags.js';
import type { Candidate } from '../../server/src/context/types.js';
import { BackendRegistry } from '../../server/src/models/registry.js';
import { InlinePipeline } from '../../server/src/pipeline/inline.js';
import { TEMPLATES } from '../../server/src/prompt/templates.js';
import { LogHub, silentLogger } from '../../server/src/util/logger.js';
import { pool } from './fixtures.js';
import { ALL_SOURCES, engineFor, indexOf, LIMITS, openIn, requestFor, tempWorkspace } from './contextHelpers.js';
import { SOURCES_UNHURRIED } from '../wait.js';

/** A deadline no source reaches, however busy the machine: these tests are about what they find. */
const FAR = () => performance.now() + 60_000;

function tags(lang: Parameters<TagExtractor['extract']>[1], text: string) {
  const tree = pool.parseNow(lang, text);
  return new TagExtractor().extract(tree, lang, text);
}

describe('tag queries', () => {
  it('TypeScript: functions, classes with members, interfaces, types, enums, top-level constants and arrow functions', () => {
    const src = [
      "import { a, b as c } from './x.js';",
      "import * as ns from '../y';",
      "import D from './d';",
      'export class Repo<T> extends Base {',
      '  private readonly items = new Map<string, T>();',
      '  save(item: T): void {',
      '    this.items.set("k", item);',
      '  }',
      '}',
      'export interface Shape { area(): number }',
      'export type Id = string;',
      'export enum Color { Red }',
      'export const LIMIT = 3;',
      'export const twice = (n: number): number => n * 2;',
      'function local() { const inner = 1; return inner; }',
    ].join('\n');
    const r = tags('typescript', src);
    const got = r.symbols.map((s) => `${s.kind}:${s.container ? s.container + '.' : ''}${s.name}@${s.line}`);
    expect(got).toEqual(expect.arrayContaining(['class:Repo@3', 'method:Repo.save@5', 'interface:Shape@9', 'method:Shape.area@9', 'type:Id@10', 'enum:Color@11', 'constant:LIMIT@12', 'function:twice@13', 'function:local@14']));
    expect(got.some((g) => g.includes('inner'))).toBe(false); // locals are not definitions
    expect(r.symbols.find((s) => s.name === 'save')!.runs[0]!.text).toBe('  save(item: T): void {\n    this.items.set("k", item);\n  }');
    expect(r.imports).toEqual([
      { source: './x.js', names: [{ imported: 'a', local: 'a' }, { imported: 'b', local: 'c' }] },
      { source: '../y', names: [], namespace: 'ns' },
      { source: './d', names: [{ imported: 'default', local: 'D' }] },
    ]);
  });

  it('Python: functions, classes, methods (container), decorated definitions, constants, imports', () => {
    const src = ['from .orders import parse_order as po, Order', 'import pkg.mod as m', 'MAX_ITEMS = 3', 'helper_value = 4', '@cached', 'def total(x: int) -> int:', '    """Sum."""', '    return x', 'class Cart(Base):', '    def add(self, item):', '        pass', ''].join('\n');
    const r = tags('python', src);
    expect(r.symbols.map((s) => `${s.kind}:${s.container ?? ''}.${s.name}@${s.line}`)).toEqual(['constant:.MAX_ITEMS@2', 'function:.total@4', 'class:.Cart@8', 'method:Cart.add@9']);
    expect(r.symbols[1]!.runs[0]!.text.startsWith('@cached\ndef total')).toBe(true);
    expect(r.imports).toEqual([
      { source: '.orders', names: [{ imported: 'parse_order', local: 'po' }, { imported: 'Order', local: 'Order' }] },
      { source: 'pkg.mod', names: [], namespace: 'm' },
    ]);
  });

  it('Go: functions, methods with their receiver type, structs, interfaces, constants, imports', () => {
    const src = ['package shop', 'import (', '\t"fmt"', '\tinv "example.com/shop/inventory"', ')', 'const Max = 3', 'type Order struct {', '\tID string', '}', 'type Repo interface {', '\tSave(o Order) error', '}', 'func (s *Store) Save(o *Order) error { return nil }', 'func Parse(s string) Order { return Order{} }', ''].join('\n');
    const r = tags('go', src);
    expect(r.symbols.map((s) => `${s.kind}:${s.container ?? ''}.${s.name}`)).toEqual(['constant:.Max', 'struct:.Order', 'interface:.Repo', 'method:Repo.Save', 'method:Store.Save', 'function:.Parse']);
    expect(r.imports).toEqual([
      { source: 'fmt', names: [], namespace: 'fmt' },
      { source: 'example.com/shop/inventory', names: [], namespace: 'inv' },
    ]);
  });

  it('Rust and Java', () => {
    const rs = tags('rust', ['use crate::orders::{parse, Order};', 'pub struct S { a: i32 }', 'impl S {', '    pub fn new() -> Self { S { a: 1 } }', '}', 'trait T { fn m(&self); }', 'pub fn f(x: &Repo) {}', ''].join('\n'));
    expect(rs.symbols.map((s) => `${s.kind}:${s.container ?? ''}.${s.name}`)).toEqual(['struct:.S', 'method:S.new', 'trait:.T', 'method:T.m', 'function:.f']);
    expect(rs.imports[0]).toEqual({ source: 'crate::orders', names: [{ imported: 'parse', local: 'parse' }, { imported: 'Order', local: 'Order' }] });
    const java = tags('java', ['package com.x;', 'import com.x.orders.OrderService;', 'public class A { private Repo repo; public int m(Order o) { return 1; } }', 'interface I { void f(); }', ''].join('\n'));
    expect(java.symbols.map((s) => `${s.kind}:${s.container ?? ''}.${s.name}`)).toEqual(['class:.A', 'method:A.m', 'interface:.I', 'method:I.f']);
    expect(java.imports[0]).toEqual({ source: 'com.x.orders.OrderService', names: [{ imported: 'OrderService', local: 'OrderService' }] });
  });

  it('a long class is shown by its header and member signatures, not its bodies', () => {
    const lines = ['export class Big {', '  count = 0;'];
    for (let i = 0; i < 10; i++) lines.push(`  m${i}(x: number): number {`, `    return x + ${i};`, '  }');
    lines.push('}');
    const r = tags('typescript', lines.join('\n'));
    const big = r.symbols.find((s) => s.name === 'Big')!;
    const text = big.runs.map((x) => x.text).join('\n');
    expect(text).toContain('  m9(x: number): number {');
    expect(text).not.toContain('return x');
    expect(text.endsWith('}')).toBe(true);
  });

  it('files with syntax errors still give the definitions the parser recovered', () => {
    const r = tags('typescript', 'export function ok(a: number) { return a; }\nexport function broken( {\n');
    expect(r.symbols.map((s) => s.name)).toContain('ok');
  });
});

const TS_PROJECT = {
  'src/orders.ts': 'export interface Order { id: string; total: number }\nexport function parseOrder(raw: string): Order {\n  return { id: raw, total: 0 };\n}\nexport class OrderRepo {\n  save(order: Order): void {}\n  findOrder(id: string): Order | undefined { return undefined; }\n}\n',
  'src/util/money.ts': 'export function formatMoney(cents: number): string {\n  return (cents / 100).toFixed(2);\n}\n',
  'src/other.ts': 'export function parseOrder(x: number): number { return x; }\n',
};

describe('the index', () => {
  it('resolves imports per language to the indexed files', async () => {
    const root = tempWorkspace({
      ...TS_PROJECT,
      'src/index.ts': '',
      'py/shop/__init__.py': '',
      'py/shop/orders.py': 'def parse_order(raw):\n    return raw\n',
      'py/shop/cart.py': '',
      'go/go.mod': 'module example.com/shop\n',
      'go/orders/model.go': 'package orders\nfunc ParseOrder(s string) string { return s }\n',
      'go/orders/model_test.go': 'package orders\n',
      'go/cart/cart.go': 'package cart\n',
    });
    const { index } = await indexOf(root);
    const from = (rel: string) => join(root, rel);
    expect(index.resolveImport(from('src/index.ts'), 'typescript', './orders.js')).toEqual([from('src/orders.ts')]);
    expect(index.resolveImport(from('src/index.ts'), 'typescript', './util/money')).toEqual([from('src/util/money.ts')]);
    expect(index.resolveImport(from('src/index.ts'), 'typescript', 'node:fs')).toEqual([]);
    expect(index.resolveImport(from('py/shop/cart.py'), 'python', '.orders')).toEqual([from('py/shop/orders.py')]);
    expect(index.resolveImport(from('py/shop/cart.py'), 'python', 'shop.orders')).toEqual([from('py/shop/orders.py')]);
    expect(index.resolveImport(from('go/cart/cart.go'), 'go', 'example.com/shop/orders')).toEqual([from('go/orders/model.go')]);
    expect(index.lookup('parseOrder').map((s) => s.path).sort()).toEqual(['src/orders.ts', 'src/other.ts']);
    index.dispose();
  });

  it('skips what it must and survives bad input: syntax errors, huge, binary, symlink loops, ignored, deleted and renamed files', async () => {
    const root = tempWorkspace({
      '.gitignore': 'dist/\n*.gen.ts\n!keep.gen.ts\n',
      'src/ok.ts': 'export function fine(): number { return 1; }\n',
      'src/broken.ts': 'export function half( {{{ ]]] \n export const y = ;\n',
      'src/huge.ts': 'export const x = 1;\n'.repeat(20_000),
      'src/blob.ts': Buffer.from([0x65, 0x78, 0, 1, 2, 3, 0, 0]),
      'src/a.gen.ts': 'export function generated() {}\n',
      'src/keep.gen.ts': 'export function kept() {}\n',
      'dist/out.ts': 'export function built() {}\n',
      'node_modules/pkg/index.ts': 'export function dep() {}\n',
      'src/nested/.gitignore': 'secret.ts\n',
      'src/nested/secret.ts': 'export function hidden() {}\n',
      'src/nested/open.ts': 'export function visible() {}\n',
    });
    symlinkSync(root, join(root, 'src', 'loop'));
    symlinkSync(join(root, 'missing'), join(root, 'src', 'dangling.ts'));
    const { index } = await indexOf(root, { ...LIMITS, maxFileBytes: 100_000 });
    const names = (n: string) => index.lookup(n).length;
    expect(names('fine')).toBe(1);
    expect(names('visible')).toBe(1);
    expect(names('kept')).toBe(1);
    for (const n of ['generated', 'built', 'dep', 'hidden', 'x']) expect(names(n), n).toBe(0);
    expect(index.stats().skipped.tooBig).toBe(1);
    expect(index.stats().skipped.binary).toBe(1);
    // Deleted, renamed and changed files.
    rmSync(join(root, 'src/ok.ts'));
    index.fileDeleted(join(root, 'src/ok.ts'));
    renameSync(join(root, 'src/nested/open.ts'), join(root, 'src/nested/moved.ts'));
    index.fileDeleted(join(root, 'src/nested/open.ts'));
    index.fileChanged(join(root, 'src/nested/moved.ts'));
    writeFileSync(join(root, 'src/keep.gen.ts'), 'export function renamedKept() {}\n');
    index.fileChanged(join(root, 'src/keep.gen.ts'));
    index.fileChanged(join(root, 'src/never-existed.ts'));
    await index.idle();
    expect(names('fine')).toBe(0);
    expect(index.lookup('visible').map((s) => s.path)).toEqual(['src/nested/moved.ts']);
    expect(names('kept')).toBe(0);
    expect(names('renamedKept')).toBe(1);
    // A deleted folder takes its files along.
    rmSync(join(root, 'src/nested'), { recursive: true });
    index.fileDeleted(join(root, 'src/nested'));
    expect(names('visible')).toBe(0);
    index.dispose();
  });

  it('two names of one by-name key (the table keeps a hash, not the name) are told apart, as files come and go', async () => {
    // Two identifiers whose 30-bit keys collide, found by brute force (~2^15 tries by the birthday bound).
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const name = `n${i.toString(36)}`;
      const other = seen.get(nameKey(name));
      if (other) pair = [other, name];
      else seen.set(nameKey(name), name);
    }
    const [a, b] = pair;
    const root = tempWorkspace({ 'a.ts': `export function ${a}(x: number) {}\n`, 'b.ts': `export function ${b}(y: string) {}\nexport function ${a}Not() {}\n`, 'both.ts': `export const ${b} = 1;\nexport const ${a} = 2;\n` });
    const { index } = await indexOf(root);
    expect(index.lookup(a).map((s) => s.path).sort()).toEqual(['a.ts', 'both.ts']);
    expect(index.lookup(b).map((s) => s.path).sort()).toEqual(['b.ts', 'both.ts']);
    rmSync(join(root, 'both.ts'));
    index.fileDeleted(join(root, 'both.ts'));
    expect(index.lookup(a).map((s) => s.path)).toEqual(['a.ts']);
    expect(index.lookup(b).map((s) => s.path)).toEqual(['b.ts']);
    expect(index.lookup(`${a}Not`).map((s) => s.path)).toEqual(['b.ts']);
    index.dispose();
  });

  it('honours maxFiles and exclude', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`src/f${i}.ts`] = `export function f${i}() {}\n`;
    files['gen/skip.ts'] = 'export function skipped() {}\n';
    const root = tempWorkspace(files);
    const { index } = await indexOf(root, { ...LIMITS, maxFiles: 4, exclude: ['gen/**'] });
    expect(index.stats().files).toBe(4);
    expect(index.lookup('skipped')).toEqual([]);
    index.dispose();
  });

  it('a repository over maxFiles: the first files in path order are indexed, one warning names the limits, completions get context', async () => {
    const files: Record<string, string> = {};
    // src/a0..a9 come first in path order; z/ holds the rest (a 50,000-file repository, scaled down).
    for (let i = 0; i < 10; i++) files[`src/a${i}.ts`] = `export function parseOrder${i}(raw: string, strict: boolean): number {\n  return ${i};\n}\n`;
    for (let i = 0; i < 40; i++) files[`z/f${i}.ts`] = `export function other${i}() {}\n`;
    const root = tempWorkspace(files);
    const lines: string[] = [];
    const hub = new LogHub('debug');
    hub.addSink({ write: (level, line) => level === 'warn' && lines.push(line) });
    const { index, workspace } = await indexOf(root, { ...LIMITS, maxFiles: 12 }, hub.logger('context'));
    expect(index.stats().files).toBe(12);
    expect(index.stats().skipped.overLimit).toBe(38);
    expect(lines).toEqual([expect.stringMatching(/: 38 source files left out of the index, over context\.maxFiles \(12 files\) or context\.maxWorkspaceBytes .*context\.exclude/)]);
    const { doc, offset, abs } = openIn(root, 'src/main.ts', "import { parseOrder3 } from './a3.js';\n\nparseOrder3(├\n", 'typescript');
    const { engine } = engineFor(index, workspace);
    const got = engine.gather(requestFor(doc, offset, workspace, abs), ALL_SOURCES);
    expect(got.candidates.map((c) => c.runs[0]!.text.split('\n')[0])).toContain('export function parseOrder3(raw: string, strict: boolean): number {');
    index.dispose();
  });

  it('a missing workspace folder gives an empty index, not an error', async () => {
    const { index } = await indexOf('/nonexistent/tandem-workspace');
    expect(index.stats().files).toBe(0);
  });
});

describe('definitions source', () => {
  it('TypeScript: the imported callee of the line being written, resolved through the import', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'src/main.ts', "import { parseOrder } from './orders.js';\nimport { formatMoney } from './util/money.js';\n\nexport function run(raw: string) {\n  const order = parseOrder(raw);\n  return formatMoney(├);\n}\n", 'typescript');
    const got = new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR());
    const texts = got.sort((a, b) => b.score - a.score).map((c) => `${c.path}: ${c.runs[0]!.text.split('\n')[0]}`);
    expect(texts[0]).toBe('src/util/money.ts: export function formatMoney(cents: number): string {');
    expect(texts).toContain('src/orders.ts: export function parseOrder(raw: string): Order {');
    // Resolved through the import: the other parseOrder (src/other.ts) is not offered.
    expect(texts.some((t) => t.startsWith('src/other.ts'))).toBe(false);
  });

  it('TypeScript: an imported function is offered even when the call is the hole itself', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'src/main.ts', "import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = ├\n}\n", 'typescript');
    const got = new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR());
    expect(got.map((c) => c.runs[0]!.text.split('\n')[0])).toContain('export function parseOrder(raw: string): Order {');
  });

  it('Python: from-imports and module attributes', async () => {
    const root = tempWorkspace({ 'shop/__init__.py': '', 'shop/orders.py': 'def parse_order(raw: str) -> dict:\n    return {}\n\n\ndef total(order: dict) -> int:\n    return 0\n', 'shop/tax.py': 'RATE = 3\n\n\ndef compute_tax(amount: float) -> float:\n    return amount * RATE\n' });
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'shop/cart.py', 'from shop.orders import parse_order\nfrom shop import tax\n\n\ndef checkout(raw):\n    order = parse_order(raw)\n    return tax.compute_tax(├)\n', 'python');
    const got = new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR());
    const firsts = got.map((c) => c.runs[0]!.text.split('\n')[0]);
    expect(firsts).toContain('def parse_order(raw: str) -> dict:');
    expect(firsts).toContain('def compute_tax(amount: float) -> float:');
  });

  it('Go: package-qualified calls and same-package functions', async () => {
    const root = tempWorkspace({ 'go.mod': 'module example.com/shop\n', 'orders/orders.go': 'package orders\n\n// ParseOrder reads one order.\nfunc ParseOrder(raw string) Order {\n\treturn Order{}\n}\n\ntype Order struct {\n\tID string\n}\n', 'cart/helpers.go': 'package cart\n\nfunc lineTotal(n int) int {\n\treturn n * 2\n}\n' });
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'cart/cart.go', 'package cart\n\nimport "example.com/shop/orders"\n\nfunc Checkout(raw string) int {\n\to := orders.ParseOrder(raw)\n\t_ = o\n\treturn lineTotal(├)\n}\n', 'go');
    const got = new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR());
    const firsts = got.map((c) => `${c.path}: ${c.runs[0]!.text.split('\n')[0]}`);
    expect(firsts).toContain('orders/orders.go: func ParseOrder(raw string) Order {');
    expect(firsts).toContain('cart/helpers.go: func lineTotal(n int) int {');
  });

  it('member access at the cursor: a package\'s members, and the members of a variable\'s declared type', async () => {
    const root = tempWorkspace({
      'go.mod': 'module example.com/shop\n',
      'orders/orders.go': 'package orders\n\nfunc ParseOrder(raw string) string {\n\treturn raw\n}\n\nfunc helper() {}\n',
      'src/log.ts': 'export class LogHub {\n  level = 1;\n  addSink(s: string): void {}\n}\nexport function unrelated(): void {}\n',
    });
    const { index, workspace } = await indexOf(root);
    const go = openIn(root, 'cart/cart.go', 'package cart\n\nimport "example.com/shop/orders"\n\nfunc Checkout(raw string) string {\n\treturn orders.├\n}\n', 'go');
    const goGot = new DefinitionsSource(() => index).gather(requestFor(go.doc, go.offset, workspace, go.abs), FAR());
    expect(goGot.map((c) => c.runs[0]!.text.split('\n')[0])).toEqual(['func ParseOrder(raw string) string {']); // unexported helper left out
    const filler = Array.from({ length: 20 }, (_, i) => `const pad${i} = ${i};`).join('\n');
    const ts = openIn(root, 'src/main.ts', `import { LogHub } from './log.js';\n\nconst hub = new LogHub();\n${filler}\nfunction later() {\n  hub.├\n}\n`, 'typescript');
    const tsGot = new DefinitionsSource(() => index).gather(requestFor(ts.doc, ts.offset, workspace, ts.abs), FAR());
    const best = tsGot.sort((a, b) => b.score - a.score)[0]!;
    expect(best.why).toBe('type of hub');
    expect(best.runs[0]!.text).toContain('addSink(s: string): void {}');
  });

  it('a bare name near the cursor is not taken for a method of the same name; after `new`, unused imported classes rank first', async () => {
    const root = tempWorkspace({ 'src/a.ts': 'export class Index {\n  stats(): number { return 1; }\n}\n', 'src/stats.ts': 'export class Stats {\n  n = 0;\n}\nexport function formatStats(): string { return ""; }\n' });
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'src/main.ts', "import { Stats, formatStats } from './stats.js';\nformatStats();\nconst stats = new ├\n", 'typescript');
    const got = new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR()).sort((a, b) => b.score - a.score);
    expect(got.some((c) => c.runs[0]!.text.includes('stats(): number'))).toBe(false);
    expect(got[0]!.runs[0]!.text.startsWith('export class Stats {')).toBe(true);
  });

  it('Rust: `use crate::…` items; Java: imported classes; JavaScript: relative imports', async () => {
    const root = tempWorkspace({
      'rs/src/orders.rs': 'pub fn parse_order(raw: &str) -> Order {\n    Order {}\n}\npub struct Order {}\n',
      'java/src/main/java/com/shop/orders/OrderService.java': 'package com.shop.orders;\n\npublic class OrderService {\n  public Order find(String id) { return null; }\n}\n',
      'js/lib/money.js': 'export function formatMoney(cents) {\n  return (cents / 100).toFixed(2);\n}\n',
    });
    const { index, workspace } = await indexOf(root);
    const firsts = (rel: string, marked: string, lang: string) => {
      const { doc, offset, abs } = openIn(root, rel, marked, lang);
      return new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR()).map((c) => c.runs[0]!.text.split('\n')[0]);
    };
    expect(firsts('rs/src/main.rs', 'use crate::orders::parse_order;\n\nfn main() {\n    let o = parse_order(├);\n}\n', 'rust')).toContain('pub fn parse_order(raw: &str) -> Order {');
    expect(firsts('java/src/main/java/com/shop/App.java', 'package com.shop;\n\nimport com.shop.orders.OrderService;\n\nclass App {\n  void run() {\n    OrderService s = new ├\n  }\n}\n', 'java')).toContain('public class OrderService {');
    expect(firsts('js/app.js', "import { formatMoney } from './lib/money.js';\n\nconsole.log(formatMoney(├));\n", 'javascript')).toContain('export function formatMoney(cents) {');
  });

  it('gives nothing without an index; past its deadline, only the likeliest callee', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'src/main.ts', "import { parseOrder } from './orders.js';\nimport { formatMoney } from './util/money.js';\nformatMoney(1);\nparseOrder(├);\n", 'typescript');
    expect(new DefinitionsSource(() => undefined).gather(requestFor(doc, offset, workspace, abs), FAR())).toEqual([]);
    expect(new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR())).toHaveLength(2);
    const late = new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), performance.now() - 1);
    expect(late.map((c) => `${c.path}: ${c.runs[0]!.text.split('\n')[0]}`)).toEqual(['src/orders.ts: export function parseOrder(raw: string): Order {']);
  });
});

describe('enclosing source', () => {
  it('TypeScript: members of the enclosing class and the types of its fields and parameters', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const { index, workspace } = await indexOf(root);
    const body = ['export class Checkout {', '  constructor(private readonly repo: OrderRepo) {}'];
    for (let i = 0; i < 20; i++) body.push(`  step${i}(): number {`, `    return ${i};`, '  }');
    body.push('  run(order: Order): void {', '    this.repo.├', '  }', '}', '');
    const { doc, offset, abs } = openIn(root, 'src/checkout.ts', "import { Order, OrderRepo } from './orders.js';\n" + body.join('\n'), 'typescript');
    const got = new EnclosingSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR());
    const own = got.find((c) => c.path === 'src/checkout.ts')!;
    expect(own.runs.map((r) => r.text).join('\n')).toContain('  step19(): number {');
    const repo = got.find((c) => c.why === 'type OrderRepo in scope')!;
    expect(repo.runs.map((r) => r.text).join('\n')).toContain('findOrder(id: string): Order | undefined');
    expect(got.some((c) => c.why === 'type Order in scope')).toBe(true);
  });

  it('Go: the receiver type, its fields\' types and its methods in other files of the package', async () => {
    const root = tempWorkspace({
      'go.mod': 'module example.com/shop\n',
      'orders/store.go': 'package orders\n\nimport "example.com/shop/audit"\n\ntype Store struct {\n\tlog *audit.Log\n}\n',
      'orders/find.go': 'package orders\n\nfunc (s *Store) Find(id string) (Order, bool) {\n\treturn Order{}, false\n}\n',
      'audit/log.go': 'package audit\n\ntype Log struct {\n\tlines []string\n}\n\nfunc (l *Log) Write(s string) {\n\tl.lines = append(l.lines, s)\n}\n',
    });
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'orders/save.go', 'package orders\n\nfunc (s *Store) Save(o Order) {\n\ts.├\n}\n', 'go');
    const got = new EnclosingSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR());
    const all = got.map((c) => `${c.path}: ${c.runs.map((r) => r.text).join(' | ')}`);
    expect(all.some((t) => t.startsWith('orders/store.go: type Store struct'))).toBe(true);
    expect(all.some((t) => t.startsWith('orders/find.go: func (s *Store) Find(id string) (Order, bool) {'))).toBe(true);
    expect(all.some((t) => t.startsWith('audit/log.go: type Log struct'))).toBe(true);
  });

  it('Python: the class around the cursor and its __init__ parameter types', async () => {
    const root = tempWorkspace({ 'shop/repo.py': 'class OrderRepo:\n    def find_order(self, key: str):\n        return None\n' });
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'shop/service.py', 'from shop.repo import OrderRepo\n\n\nclass Service:\n    def __init__(self, repo: OrderRepo):\n        self.repo = repo\n\n    def run(self, key):\n        return self.repo.├\n', 'python');
    const got = new EnclosingSource(() => index).gather(requestFor(doc, offset, workspace, abs), FAR());
    expect(got.some((c) => c.path === 'shop/repo.py' && c.runs[0]!.text.includes('def find_order(self, key: str):'))).toBe(true);
    expect(got.find((c) => c.path === 'shop/service.py')!.runs.map((r) => r.text).join('\n')).toContain('self.repo = repo');
  });
});

describe('similar and recent-edit sources', () => {
  it("the query is the 20 lines up to the cursor's line end, clipped near the cursor on a minified line", () => {
    const lines = Array.from({ length: 40 }, (_, i) => `line${i} = ${i};`);
    const text = lines.join('\n');
    const offset = text.indexOf('line30 ') + 4;
    expect(queryText(text, offset)).toBe(lines.slice(11, 31).join('\n'));
    const minified = `${'var a=b.c(d);'.repeat(150_000)}nearCursor(x)${'f(g);'.repeat(100_000)}`;
    const q = queryText(minified, minified.indexOf('nearCursor') + 'nearCursor('.length);
    expect(q.length).toBeLessThanOrEqual(2800);
    expect(q).toContain('nearCursor(x)');
  });

  it('finds the most similar window of another open document, and the regions edited last', () => {
    const texts = new Map<string, string>();
    const other = ['function unrelated() {}', ...Array.from({ length: 30 }, (_, i) => `const filler${i} = ${i};`), 'for (const order of orders) {', '  total += order.amount * taxRate;', '  seen.add(order.id);', '}'].join('\n');
    texts.set('file:///w/other.ts', other);
    const activity = new DocumentActivity({ text: (u) => texts.get(u), relativePath: (u) => u.replace('file:///w/', '') });
    activity.changed('file:///w/other.ts');
    activity.flush();
    const root = tempWorkspace({});
    const { doc, offset, abs } = openIn(root, 'main.ts', 'let total = 0;\nconst seen = new Set();\nfor (const order of orders) {\n  total += order.amount * ├\n}\n', 'typescript');
    const req = requestFor(doc, offset, { relativePath: () => 'main.ts' } as never, abs);
    const sim = new SimilarSource(activity).gather(req, FAR());
    expect(sim).toHaveLength(1);
    expect(sim[0]!.path).toBe('other.ts');
    expect(sim[0]!.runs[0]!.text).toContain('total += order.amount * taxRate;');

    activity.edited('file:///w/other.ts', 5, 5);
    activity.edited('file:///w/other.ts', 6, 6); // merged with the one above
    activity.edited(doc.uri, 3, 3); // under the cursor: already in the prompt
    const lines = other.split('\n');
    const edits = new RecentEditsSource(activity, (u) => (u === 'file:///w/other.ts' ? { lineAt: (r) => lines[r], lineCount: lines.length, path: 'other.ts' } : undefined)).gather(req, FAR());
    expect(edits).toHaveLength(1);
    expect(edits[0]!.runs[0]).toEqual({ start: 3, text: lines.slice(3, 9).join('\n') });
  });
});

describe('packing', () => {
  const cand = (path: string, start: number, lines: string[], score: number, kind: Candidate['kind'] = 'definition'): Candidate => ({ kind, path, runs: [{ start, text: lines.join('\n') }], score, why: '' });
  const opts = (budgetTokens: number) => ({ budgetChars: budgetTokens * 3, fileOverheadChars: (p: string) => p.length + 16, linePrefixChars: 0 });

  it('takes the best whole snippets that fit, skips what does not, and orders by path then line', () => {
    const big = cand('a/big.ts', 0, Array.from({ length: 40 }, (_, i) => `const bigLine${i} = ${i};`), 0.9);
    const z = cand('z.ts', 10, ['export function zed(): void {'], 0.8);
    const b = cand('b.ts', 3, ['export function bee(): void {'], 0.7);
    const p = pack([big, z, b], opts(60));
    expect(p.files.map((f) => f.path)).toEqual(['b.ts', 'z.ts']);
    expect(p.segments.map((s) => s.path)).toEqual(['b.ts', 'z.ts']);
    expect(p.chars).toBeLessThanOrEqual(180);
    // The same candidates in another order give the same bytes.
    expect(pack([b, big, z], opts(60))).toEqual(p);
  });

  it('never repeats lines: overlapping snippets share them, lines already in the prompt are left out', () => {
    const cls = cand('repo.ts', 0, ['export class Repo {', '  find(id: string) {'], 0.6);
    const method = cand('repo.ts', 1, ['  find(id: string) {', '    return 1;', '  }'], 0.9);
    const here = cand('main.ts', 5, ['const a = 1;'], 0.95, 'enclosing');
    const p = pack([cls, method, here], { ...opts(500), excluded: (path, row) => path === 'main.ts' && row >= 0 && row <= 10 });
    expect(p.files).toEqual([{ path: 'repo.ts', text: 'export class Repo {\n  find(id: string) {\n    return 1;\n  }' }]);
    const gap = pack([cand('x.py', 0, ['def a():'], 0.5), cand('x.py', 9, ['def b():'], 0.4)], opts(500));
    expect(gap.files[0]!.text).toBe('def a():\n# ...\ndef b():');
  });
});

function config(extra: Record<string, unknown> = {}): Config {
  // The sources' budgets out of the way, under what a test sets itself.
  const r = resolveConfig([
    { origin: 'test budgets', trust: 'user', data: { context: { sources: SOURCES_UNHURRIED } } },
    { origin: 'test', trust: 'user', data: { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9', model: 'Qwen/Qwen2.5-Coder-7B', maxContextTokens: 16384 } }, ...extra } },
  ]);
  if (!r.ok) throw new Error(r.error);
  return r.config;
}

async function planIn(root: string, rel: string, marked: string, cfg: Config) {
  const { index, workspace } = await indexOf(root);
  const { doc, offset } = openIn(root, rel, marked, 'typescript');
  const { engine } = engineFor(index, workspace);
  const backends = new BackendRegistry(silentLogger());
  backends.update(cfg);
  const pipeline = new InlinePipeline({ config: () => cfg, backends, workspace, logger: silentLogger(), context: engine });
  return pipeline.plan(doc, offset, cfg, new AbortController().signal, false);
}

const MAIN = "import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = ├\n}\n";

describe('prompt with context', () => {
  it('Qwen2.5-Coder: repository layout, snippets under their paths, segments with kinds and paths', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const plan = await planIn(root, 'src/main.ts', MAIN, config());
    const p = plan.prompt.prompt;
    expect(p.startsWith(`<|repo_name|>${root.split('/').pop()}\n<|file_sep|>src/orders.ts\n`)).toBe(true);
    expect(p).toContain('export function parseOrder(raw: string): Order {');
    expect(p).toContain("<|file_sep|>src/main.ts\n<|fim_prefix|>import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = <|fim_suffix|>\n}\n<|fim_middle|>");
    expect(p.endsWith('<|fim_middle|>')).toBe(true);
    const kinds = plan.prompt.segments.map((s) => `${s.kind}:${s.path}`);
    expect(kinds[0]).toBe('definition:src/orders.ts');
    expect(kinds).toContain('prefix:src/main.ts');
    expect(plan.context?.sources.map((s) => s.name)).toEqual(['definitions', 'enclosing', 'recentEdits', 'similar']);
  });

  it('declares every file the prompt holds, with its text, and the parts for servers that lay out FIM themselves', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const plan = await planIn(root, 'src/main.ts', MAIN, config());
    expect(plan.prompt.sources.map((x) => x.path)).toEqual(['src/main.ts', 'src/orders.ts']);
    expect(plan.prompt.sources[1]!.text).toContain('export function parseOrder(raw: string): Order {');
    expect(plan.prompt.parts.snippets.map((x) => x.path)).toEqual(['src/orders.ts']);
    expect(plan.prompt.parts.prefix).toBe("// Path: src/main.ts\nimport { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = ");
    expect(plan.prompt.parts.suffix).toBe('\n}\n');
  });

  it('StarCoder2 repository layout; DeepSeek gets the snippets as comments with their path', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const sc = await planIn(root, 'src/main.ts', MAIN, config({ backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9', model: 'bigcode/starcoder2-7b' } } }));
    expect(sc.prompt.prompt).toMatch(/^<repo_name>[^<]+<file_sep>src\/orders\.ts\nexport function parseOrder\(raw: string\): Order \{\n/);
    expect(sc.prompt.prompt).toContain('<file_sep><fim_prefix>src/main.ts\nimport { parseOrder }');
    const ds = await planIn(root, 'src/main.ts', MAIN, config({ backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9', model: 'deepseek-coder-6.7b-base' } } }));
    expect(ds.prompt.prompt).toMatch(/^<\uFF5Cfim\u2581begin\uFF5C>\/\/ Path: src\/orders\.ts\n\/\/ export function parseOrder/);
    expect(ds.prompt.prompt).toContain('// export function parseOrder(raw: string): Order {\n');
    expect(ds.prompt.prompt).toContain('// Path: src/main.ts\nimport { parseOrder }');
  });

  it('context.enabled: false and context.maxTokens: 0 leave the prompt to the current file', async () => {
    const root = tempWorkspace(TS_PROJECT);
    for (const c of [{ enabled: false }, { maxTokens: 0 }]) {
      const plan = await planIn(root, 'src/main.ts', MAIN, config({ context: c }));
      expect(plan.prompt.prompt.startsWith('<|fim_prefix|>// Path: src/main.ts\n')).toBe(true);
      expect(plan.prompt.segments.map((s) => s.kind)).toEqual(['path', 'prefix', 'suffix']);
    }
  });

  it('keeps the context part of the prompt byte-identical while a word is typed (prefix cache)', async () => {
    const root = tempWorkspace({ ...TS_PROJECT, 'src/prices.ts': 'export function priceOf(sku: string): number {\n  return 1;\n}\nexport function parseSku(raw: string): string {\n  return raw;\n}\n' });
    const { index, workspace } = await indexOf(root);
    const { engine } = engineFor(index, workspace);
    const cfg = config();
    const backends = new BackendRegistry(silentLogger());
    backends.update(cfg);
    const pipeline = new InlinePipeline({ config: () => cfg, backends, workspace, logger: silentLogger(), context: engine });
    const heads: string[] = [];
    const word = 'parseOrder';
    for (let k = 2; k <= word.length; k++) {
      const { doc, offset } = openIn(root, 'src/main.ts', `import { parseOrder } from './orders.js';\nimport { priceOf, parseSku } from './prices.js';\n\nexport function run(raw: string) {\n  const order = ${word.slice(0, k)}├\n}\n`, 'typescript');
      const p = (await pipeline.plan(doc, offset, cfg, new AbortController().signal, false)).prompt.prompt;
      heads.push(p.slice(0, p.indexOf('<|file_sep|>src/main.ts')));
    }
    expect(heads[0]).toContain('export function parseOrder(raw: string): Order {');
    expect(new Set(heads).size).toBe(1);
  });

  it('stays within the context budget', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const plan = await planIn(root, 'src/main.ts', MAIN, config({ context: { maxTokens: 40 } }));
    const ctx = plan.prompt.segments.filter((s) => !['path', 'prefix', 'suffix', 'imports', 'scope'].includes(s.kind));
    expect(ctx.reduce((n, s) => n + s.tokens, 0)).toBeLessThanOrEqual(40);
  });
});

describe('privacy over every segment', () => {
  const cloudFirst = (onPremOnly: string[]) =>
    config({
      backends: { cloud: { kind: 'openai', url: 'https://api.example.com/v1', model: 'qwen-coder-cloud', maxContextTokens: 16384 }, fim: { kind: 'vllm', url: 'http://127.0.0.1:9', model: 'Qwen/Qwen2.5-Coder-7B', maxContextTokens: 16384 } },
      routes: { inline: ['cloud', 'fim'] },
      privacy: { onPremOnly },
    });

  it('a snippet of an onPremOnly file never rides to a cloud backend: it is left out', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const plan = await planIn(root, 'src/main.ts', MAIN, cloudFirst(['src/orders.ts']));
    expect(plan.route.backend).toBe('cloud');
    expect(plan.prompt.prompt).not.toContain('parseOrder(raw: string)');
    expect(plan.prompt.segments.some((s) => s.path === 'src/orders.ts')).toBe(false);
    expect(plan.prompt.sources.map((x) => x.path)).toEqual(['src/main.ts']);
  });

  it('the router sees every segment path: a protected current file keeps the whole prompt on-prem, snippets included', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const plan = await planIn(root, 'src/main.ts', MAIN, cloudFirst(['src/main.ts']));
    expect(plan.route.backend).toBe('fim');
    expect(plan.route.reason).toContain('src/main.ts');
    expect(plan.prompt.prompt).toContain('parseOrder(raw: string)');
  });

  it('without cloud backends, protected snippets stay in the prompt', async () => {
    const root = tempWorkspace(TS_PROJECT);
    const plan = await planIn(root, 'src/main.ts', MAIN, config({ privacy: { onPremOnly: ['src/orders.ts'] } }));
    expect(plan.route.backend).toBe('fim');
    expect(plan.prompt.prompt).toContain('parseOrder(raw: string)');
  });
});

describe('templates', () => {
  it('qwen and starcoder have repository layouts; the others do not', () => {
    expect(Object.entries(TEMPLATES).filter(([, t]) => t.renderRepo).map(([n]) => n)).toEqual(['qwen', 'starcoder']);
  });
});


describe('context settings', () => {
  it('defaults, validation, and a workspace tandem.json that may only switch context off', () => {
    const r = resolveConfig([{ origin: 'test', trust: 'user', data: {} }]);
    if (!r.ok) throw new Error(r.error);
    expect(r.config.context).toMatchObject({ enabled: true, maxTokens: 2048, share: 0.5, maxFileBytes: 262144, sources: { definitions: { enabled: true, budgetMs: 10 } } });
    const bad = resolveConfig([{ origin: 'user.json', trust: 'user', data: { context: { share: 2 } } }]);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/^user\.json: context\.share: /);
    const ws = resolveConfig([], [{ root: '/w', file: '/w/tandem.json', data: { context: { enabled: false, maxTokens: 99999 } } }]);
    expect(ws.ok && ws.config.context.enabled).toBe(false);
    expect(ws.ok && ws.config.context.maxTokens).toBe(2048);
    expect(ws.ok && ws.warnings).toEqual(['/w/tandem.json: context.maxTokens: ignored: a workspace may only switch features off']);
    const on = resolveConfig([{ origin: 'user.json', trust: 'user', data: { context: { enabled: false } } }], [{ root: '/w', file: '/w/tandem.json', data: { context: { enabled: true } } }]);
    expect(on.ok && on.config.context.enabled).toBe(false);
  });
});
