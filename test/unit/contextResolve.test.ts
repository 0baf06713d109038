// Import resolution per language on cursor-marked fixtures: re-exports, module forms, aliases and
// workspace packages, and the bad inputs that must degrade with a log line; and the call being
// written, per form: its callee ranked first, methods through overloads, chains and local imports.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTables, pythonLocalImports } from '../../server/src/context/fileTables.js';
import { calleeAt, DefinitionsSource } from '../../server/src/context/sources/definitions.js';
import { TagExtractor } from '../../server/src/context/tags.js';
import type { Candidate } from '../../server/src/context/types.js';
import { parseJsonc } from '../../server/src/util/jsonc.js';
import { LogHub } from '../../server/src/util/logger.js';
import { Workspace } from '../../server/src/workspace.js';
import { indexOf, LIMITS, openIn, requestFor, tempWorkspace } from './contextHelpers.js';
import { pool } from './fixtures.js';
import { until } from '../wait.js';

/** A deadline no source reaches, however busy the machine: these tests are about what is found. */
const FAR = () => performance.now() + 60_000;

const LANGUAGE_IDS: Record<string, string> = { ts: 'typescript', js: 'javascript', py: 'python', go: 'go', rs: 'rust', java: 'java' };

/** A workspace on disk, indexed with every log line kept, and the definitions source asked at cursors in it. */
async function project(files: Record<string, string>) {
  const root = tempWorkspace(files);
  const hub = new LogHub('trace');
  const lines: string[] = [];
  hub.addSink({ write: (_level, line) => lines.push(line) });
  const { index, workspace } = await indexOf(root, LIMITS, hub.logger('index'));
  const abs = (rel: string) => join(root, rel);
  /** Candidates for the cursor in `marked`, opened as `rel`, best first, as `path: first line` with the reason. */
  const at = (rel: string, marked: string) => {
    const { doc, offset, abs: file } = openIn(root, rel, marked, LANGUAGE_IDS[rel.split('.').pop()!]!);
    const got = new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, file), FAR());
    return got.sort((a, b) => b.score - a.score).map((c: Candidate) => ({ def: `${c.path}: ${c.runs[0]!.text.split('\n')[0]}`, why: c.why, text: c.runs.map((r) => r.text).join('\n') }));
  };
  return { root, index, lines, abs, at };
}

function expectFound(got: { def: string; why: string }[], def: string, why: string | RegExp): void {
  const hit = got.find((g) => g.def === def);
  expect(hit, `${def} among ${JSON.stringify(got.map((g) => g.def))}`).toBeDefined();
  if (typeof why === 'string') expect(hit!.why).toBe(why);
  else expect(hit!.why).toMatch(why);
}

type FormCase = [form: string, rel: string, marked: string, def: string, why: string | RegExp];

/** One test per form: the definition is found at the cursor, for the reason given. */
function eachForm(files: Record<string, string>, cases: FormCase[]): void {
  it.each(cases)('%s', async (_form, rel, marked, def, why) => {
    const p = await project(files);
    expectFound(p.at(rel, marked), def, why);
    p.index.dispose();
  });
}

describe('JSONC (tsconfig.json)', () => {
  it('reads comments and trailing commas, keeps them inside strings, and names the line and column of a fault', () => {
    const r = parseJsonc('\ufeff// head\n{\n  /* block\n  comment */ "a": "x // not a comment /* nor this */",\n  "b": [1, 2,],\n  "c": { "d": true, },\n}\n');
    expect(r).toEqual({ ok: true, value: { a: 'x // not a comment /* nor this */', b: [1, 2], c: { d: true } } });
    expect(parseJsonc('{ "a": "quote \\" ,}" , }')).toEqual({ ok: true, value: { a: 'quote " ,}' } });
    const bad = parseJsonc('{\n  "compilerOptions": {\n    "baseUrl": .\n  }\n}');
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toMatch(/line 3|Unexpected token/);
      expect(bad.error).not.toContain('compilerOptions'); // the message names a place, it does not quote the file
    }
  });
});

const TS_FILES: Record<string, string> = {
  'tsconfig.base.json': '{\n  "compilerOptions": {\n    "baseUrl": ".",\n    "paths": { "@app/*": ["src/impl/*"], "@tax": ["src/impl/tax.ts"], },\n  },\n}\n',
  'tsconfig.json': "// The project's config: comments and trailing commas, as tsc allows.\n{\n  /* shared options */\n  \"extends\": \"./tsconfig.base.json\",\n  \"compilerOptions\": { \"strict\": true, },\n}\n",
  'src/impl/orders.ts': 'export interface Order { id: string }\nexport function parseOrder(raw: string, strict: boolean): Order {\n  return { id: raw };\n}\n',
  'src/impl/money.ts': 'export function formatMoney(cents: number): string {\n  return String(cents);\n}\nexport default function defaultFormatter(value: number, currency: string): string {\n  return currency + value;\n}\n',
  'src/impl/tax.ts': 'export function computeTax(amount: number, rate: number): number {\n  return amount * rate;\n}\n',
  'src/impl/locale.ts': 'export default function (lang: string, fallback: string): { message: string } {\n  return { message: lang || fallback };\n}\n',
  'src/impl/widget.ts': 'class Widget {\n  constructor(readonly label: string) {}\n}\nexport default Widget;\n',
  'src/barrel/named.ts': "export { parseOrder } from '../impl/orders';\n",
  'src/barrel/renamed.ts': "export { parseOrder as readOrder } from '../impl/orders.js';\n",
  'src/barrel/star.ts': "export * from '../impl/money';\n",
  'src/barrel/chain.ts': "export * from './named';\nexport * from './star';\n",
  'src/barrel/ns.ts': "export * as tax from '../impl/tax';\n",
  'src/barrel/relay.ts': "import { computeTax } from '../impl/tax';\nexport { computeTax };\n",
  'src/barrel/defaults.ts': "export { default as formatter } from '../impl/money';\n",
  'src/barrel/index.ts': "export * from './chain';\n",
  'src/cycle/a.ts': "export * from './b';\nexport { lost } from './b';\n",
  'src/cycle/b.ts': "export * from './a';\nexport { lost } from './a';\n",
  'src/elsewhere/lost.ts': 'export function lost(reason: string): never {\n  throw new Error(reason);\n}\n',
  'packages/util/package.json': '{ "name": "@acme/util", "main": "dist/index.js" }\n',
  'packages/util/src/index.ts': 'export function slugify(text: string, sep: string): string {\n  return text;\n}\n',
  'packages/plain/package.json': JSON.stringify({ name: 'plain', exports: { '.': { types: './lib/main.d.ts', import: './lib/main.mjs' }, './extra': './lib/extra.js' } }),
  'packages/plain/src/main.ts': 'export function plainMain(flag: boolean): void {}\n',
  'packages/plain/src/extra.ts': 'export function plainExtra(n: number): number {\n  return n;\n}\n',
  'packages/types/package.json': JSON.stringify({ name: '@acme/types', main: './lib/umd/main.js', exports: { '.': { types: './lib/main.d.ts', '@acme/source': './src/entry.ts', import: './lib/esm/main.js' } } }),
  'packages/types/src/entry.ts': 'export function typesEntry(kind: string): string {\n  return kind;\n}\n',
  'packages/umd/.gitignore': '**/package.json\n',
  'packages/umd/package.json': JSON.stringify({ name: 'umd-pkg', main: './lib/umd/main.js' }),
  'packages/umd/src/main.ts': 'export function umdMain(flag: boolean): void {}\n',
  'src/impl/requests.ts': 'export interface Req { id: number }\nexport namespace Req {\n  export const method = "req";\n  export function is(value: unknown): value is Req {\n    return true;\n  }\n}\n',
  'src/fake/server.js': 'export function startFake(options) {\n  return Promise.resolve({ options });\n}\n',
  'src/fake/server.d.ts': 'export interface Options { port?: number }\nexport function startFake(options?: Options): Promise<{ options: Options }>;\n',
};

const PARSE_ORDER = 'src/impl/orders.ts: export function parseOrder(raw: string, strict: boolean): Order {';
const FORMAT_MONEY = 'src/impl/money.ts: export function formatMoney(cents: number): string {';
const COMPUTE_TAX = 'src/impl/tax.ts: export function computeTax(amount: number, rate: number): number {';
const DEFAULT_FORMATTER = 'src/impl/money.ts: export default function defaultFormatter(value: number, currency: string): string {';

describe('TypeScript and JavaScript: barrels, default exports, tsconfig paths, workspace packages', () => {
  eachForm(TS_FILES, [
    ['export { x } from', 'src/main.ts', "import { parseOrder } from './barrel/named';\n\nparseOrder(├);\n", PARSE_ORDER, 'imported parseOrder'],
    ['export { x as y } from', 'src/main.ts', "import { readOrder } from './barrel/renamed';\n\nreadOrder(├);\n", PARSE_ORDER, 'imported readOrder'],
    ['export * from', 'src/main.ts', "import { formatMoney } from './barrel/star';\n\nformatMoney(├);\n", FORMAT_MONEY, 'imported formatMoney'],
    ['a chain of barrels (index → export * → export { x })', 'src/main.ts', "import { parseOrder } from './barrel';\n\nparseOrder(├);\n", PARSE_ORDER, 'imported parseOrder'],
    ['export * as ns from', 'src/main.ts', "import { tax } from './barrel/ns';\n\ntax.computeTax(├);\n", COMPUTE_TAX, 'tax.computeTax'],
    ['import { x }; export { x }', 'src/main.ts', "import { computeTax } from './barrel/relay';\n\ncomputeTax(├);\n", COMPUTE_TAX, 'imported computeTax'],
    ['import * as ns from a barrel, ns.f(', 'src/main.ts', "import * as orders from './barrel';\n\norders.parseOrder(├);\n", PARSE_ORDER, 'orders.parseOrder'],
    ['export default function f; import g from', 'src/main.ts', "import fmt from './impl/money';\n\nfmt(├);\n", DEFAULT_FORMATTER, 'imported fmt'],
    ['export default function (anonymous)', 'src/main.ts', "import locale from './impl/locale';\n\nlocale(├);\n", 'src/impl/locale.ts: export default function (lang: string, fallback: string): { message: string } {', 'imported locale'],
    ['export default C (an identifier)', 'src/main.ts', "import W from './impl/widget';\n\nconst w = new W(├);\n", 'src/impl/widget.ts: class Widget {', 'imported W'],
    ['export { default as x } from', 'src/main.ts', "import { formatter } from './barrel/defaults';\n\nformatter(├);\n", DEFAULT_FORMATTER, 'imported formatter'],
    ['tsconfig paths, a wildcard (through extends)', 'src/main.ts', "import { computeTax } from '@app/tax';\n\ncomputeTax(├);\n", COMPUTE_TAX, 'imported computeTax'],
    ['tsconfig paths, an exact key', 'src/main.ts', "import { computeTax } from '@tax';\n\ncomputeTax(├);\n", COMPUTE_TAX, 'imported computeTax'],
    ['tsconfig baseUrl', 'src/main.ts', "import { formatMoney } from 'src/impl/money';\n\nformatMoney(├);\n", FORMAT_MONEY, 'imported formatMoney'],
    ['a workspace package by name (main into dist/ → src/)', 'src/main.ts', "import { slugify } from '@acme/util';\n\nslugify(├);\n", 'packages/util/src/index.ts: export function slugify(text: string, sep: string): string {', 'imported slugify'],
    ['a workspace package by its exports conditions', 'src/main.ts', "import { plainMain } from 'plain';\n\nplainMain(├);\n", 'packages/plain/src/main.ts: export function plainMain(flag: boolean): void {}', 'imported plainMain'],
    ['a workspace package subpath export', 'packages/util/src/use.ts', "import { plainExtra } from 'plain/extra';\n\nplainExtra(├);\n", 'packages/plain/src/extra.ts: export function plainExtra(n: number): number {', 'imported plainExtra'],
    ['./x.js from TypeScript: the types in x.d.ts beside x.js', 'src/main.ts', "import { startFake } from './fake/server.js';\n\nstartFake(├);\n", 'src/fake/server.d.ts: export function startFake(options?: Options): Promise<{ options: Options }>;', 'imported startFake'],
    ['a workspace package by a custom condition that names its sources', 'src/main.ts', "import { typesEntry } from '@acme/types';\n\ntypesEntry(├);\n", 'packages/types/src/entry.ts: export function typesEntry(kind: string): string {', 'imported typesEntry'],
    ['a workspace package whose main (lib/umd/main.js) is built from src/main.ts; its package.json matched by a .gitignore rule', 'src/main.ts', "import { umdMain } from 'umd-pkg';\n\numdMain(├);\n", 'packages/umd/src/main.ts: export function umdMain(flag: boolean): void {}', 'imported umdMain'],
    ['a namespace (export namespace N) and an interface of one name', 'src/main.ts', "import { Req } from './impl/requests';\n\nReq.is(├);\n", 'src/impl/requests.ts: export namespace Req {', 'imported Req'],
    ['JavaScript through a barrel', 'src/app.js', "import { parseOrder } from './barrel/index.js';\n\nparseOrder(├);\n", PARSE_ORDER, 'imported parseOrder'],
    ['a cycle a → b → a that does not define the name: by name', 'src/main.ts', "import { lost } from './cycle/a';\n\nlost(├);\n", 'src/elsewhere/lost.ts: export function lost(reason: string): never {', 'defined as lost'],
  ]);


  it('resolves through the index: aliases to files, names to definitions, cycles to an end (logged once)', async () => {
    const p = await project(TS_FILES);
    const main = p.abs('src/main.ts');
    expect(p.index.resolveImport(main, 'typescript', '@app/orders')).toEqual([p.abs('src/impl/orders.ts')]);
    expect(p.index.resolveImport(main, 'typescript', '@acme/util')).toEqual([p.abs('packages/util/src/index.ts')]);
    expect(p.index.resolveImport(main, 'typescript', 'plain/extra')).toEqual([p.abs('packages/plain/src/extra.ts')]);
    expect(p.index.resolveImport(main, 'typescript', 'react')).toEqual([]);
    const barrel = p.index.resolveImport(main, 'typescript', './barrel');
    expect(p.index.exported(barrel, 'formatMoney').symbols.map((s) => s.path)).toEqual(['src/impl/money.ts']);
    expect(p.index.exported(p.index.resolveImport(main, 'typescript', './barrel/ns'), 'tax').modules).toEqual([p.abs('src/impl/tax.ts')]);
    const cyc = p.index.resolveImport(main, 'typescript', './cycle/a');
    expect(p.index.exported(cyc, 'nowhere')).toEqual({ symbols: [], modules: [] });
    expect(p.lines.some((l) => /re-exports of nowhere lead back to .*cycle\/a\.ts/.test(l))).toBe(true);
    p.index.exported(cyc, 'nowhereElse');
    const cycleLines = p.lines.filter((l) => l.includes('lead back to'));
    p.index.exported(cyc, 'nowhereElse');
    expect(p.lines.filter((l) => l.includes('lead back to'))).toEqual(cycleLines); // once per cycle, not per request
    p.index.dispose();
  });

  it('a tsconfig that is not JSON, extends a missing file or extends itself in a loop degrades with a log line; imports keep resolving', async () => {
    const p = await project({
      'tsconfig.json': '{\n  "compilerOptions": {\n    "baseUrl": "src",\n',
      'sub/tsconfig.json': '{\n  "extends": "./missing-base.json",\n  "compilerOptions": { "paths": { "#lib/*": ["lib/*"] } },\n}\n',
      'sub/lib/fmt.ts': 'export function fmt(value: number): string {\n  return String(value);\n}\n',
      'src/util.ts': 'export function helper(n: number): number {\n  return n;\n}\n',
      'broken/package.json': '{ "name": "broken", ',
      'loop/tsconfig.json': '{ "extends": "./b.json", "compilerOptions": { "baseUrl": "." } }',
      'loop/b.json': '{ "extends": "./tsconfig.json" }',
      'loop/mod.ts': 'export function inLoop(): void {}\n',
      'broken/src/index.ts': 'export function brokenEntry(): void {}\n',
    });
    expect(p.lines.some((l) => l.includes(p.abs('tsconfig.json')) && l.includes('is not valid JSON'))).toBe(true);
    expect(p.lines.some((l) => l.includes(p.abs('sub/tsconfig.json')) && l.includes('./missing-base.json') && l.includes('does not exist'))).toBe(true);
    expect(p.lines.some((l) => l.includes(p.abs('broken/package.json')) && l.includes('is not valid JSON'))).toBe(true);
    expect(p.lines.some((l) => l.includes(p.abs('loop/b.json')) && l.includes('leads back to'))).toBe(true);
    expect(p.index.resolveImport(p.abs('loop/main.ts'), 'typescript', 'mod')).toEqual([p.abs('loop/mod.ts')]); // its own baseUrl still counts
    // The broken root config maps nothing; relative imports still resolve.
    expect(p.index.resolveImport(p.abs('src/main.ts'), 'typescript', 'util')).toEqual([]);
    expectFound(p.at('src/main.ts', "import { helper } from './util';\n\nhelper(├);\n"), 'src/util.ts: export function helper(n: number): number {', 'imported helper');
    // The config whose base is missing keeps its own paths.
    expectFound(p.at('sub/main.ts', "import { fmt } from '#lib/fmt';\n\nfmt(├);\n"), 'sub/lib/fmt.ts: export function fmt(value: number): string {', 'imported fmt');
    p.index.dispose();
  });

  it('a module with more definitions than the index keeps per file keeps its top-level ones first', () => {
    const methods = Array.from({ length: 450 }, (_, i) => `  m${i}() { return ${i}; },`).join('\n');
    const text = `export const table = {\n${methods}\n};\n\nexport function object(shape: Shape, params?: Params): ZodObject {\n  return build(shape, params);\n}\n`;
    const { symbols } = new TagExtractor().extract(pool.parseNow('typescript', text), 'typescript', text);
    expect(symbols.length).toBe(400);
    expect(symbols.map((s) => s.name)).toEqual(expect.arrayContaining(['table', 'object']));
    expect(symbols.map((s) => s.line)).toEqual([...symbols.map((s) => s.line)].sort((a, b) => a - b)); // still in file order
  });

  it('a workspace folder removed takes its packages along: a package of the same name in another folder takes over', async () => {
    const p = await project({ 'package.json': '{ "name": "dup-pkg", "main": "src/index.ts" }', 'src/index.ts': 'export function kept(): void {}\n' });
    // A folder whose path sorts first, so that its package.json wins while it is there.
    const other = mkdtempSync(join(tmpdir(), 'a-tandem-'));
    mkdirSync(join(other, 'src'));
    writeFileSync(join(other, 'package.json'), '{ "name": "dup-pkg", "main": "src/index.ts" }');
    writeFileSync(join(other, 'src/index.ts'), 'export function removed(): void {}\n');
    await p.index.build([other], LIMITS);
    await p.index.idle();
    expect(p.index.resolveImport(p.abs('src/main.ts'), 'typescript', 'dup-pkg')).toEqual([join(other, 'src/index.ts')]);
    p.index.removeRoot(other);
    expect(p.index.resolveImport(p.abs('src/main.ts'), 'typescript', 'dup-pkg')).toEqual([p.abs('src/index.ts')]);
    p.index.dispose();
  });

  it('a changed or deleted tsconfig is read again', async () => {
    const p = await project({ 'tsconfig.json': '{ "compilerOptions": { "paths": { "~/*": ["src/*"] } } }', 'src/a.ts': 'export function a(): void {}\n' });
    const main = p.abs('main.ts');
    expect(p.index.resolveImport(main, 'typescript', '~/a')).toEqual([p.abs('src/a.ts')]);
    writeFileSync(p.abs('tsconfig.json'), '{ "compilerOptions": { "paths": { "@/*": ["src/*"] } } }');
    p.index.fileChanged(p.abs('tsconfig.json'));
    await until(() => p.index.resolveImport(main, 'typescript', '@/a').length === 1, 'the changed tsconfig read again');
    expect(p.index.resolveImport(main, 'typescript', '~/a')).toEqual([]);
    rmSync(p.abs('tsconfig.json'));
    p.index.fileDeleted(p.abs('tsconfig.json'));
    expect(p.index.resolveImport(main, 'typescript', '@/a')).toEqual([]);
    p.index.dispose();
  });
});

const PY_FILES: Record<string, string> = {
  'app/pkg/__init__.py': 'from . import sub\nfrom .core import parse_order\nfrom .helpers import *\n',
  'app/pkg/typing.py': 'def cast_all(values: list) -> list:\n    return values\n',
  'app/tests/apps/inner/__init__.py': '',
  'app/tests/apps/inner/pkg.py': 'def parse_order(decoy: int) -> None:\n    pass\n',
  'app/pkg/core.py': 'def parse_order(\n    raw: str,\n    strict: bool = False,\n) -> dict:\n    order = {}\n    order["raw"] = raw\n    return order\n',
  'app/pkg/helpers.py': 'def slug(text: str, sep: str = "-") -> str:\n    return text\n',
  'app/pkg/sub/__init__.py': '',
  'app/pkg/sub/mod.py': 'def run(job: str, retries: int) -> None:\n    pass\n',
  'app/nspkg/tools.py': 'def tool(name: str) -> str:\n    return name\n',
  'app/cyc/__init__.py': '',
  'app/cyc/x.py': 'from .y import *\n',
  'app/cyc/y.py': 'from .x import *\n',
  'app/other/util.py': 'def helper_fn(value: int) -> int:\n    return value\n',
};

describe('Python: packages, __init__ re-exports, dotted imports, namespace packages', () => {
  eachForm(PY_FILES, [
    ['from .x import f in __init__.py', 'app/main.py', 'from pkg import parse_order\n\nparse_order(├)\n', 'app/pkg/core.py: def parse_order(', 'imported parse_order'],
    ['from .x import * in __init__.py', 'app/main.py', 'from pkg import slug\n\nslug(├)\n', 'app/pkg/helpers.py: def slug(text: str, sep: str = "-") -> str:', 'imported slug'],
    ['from pkg import mod; mod.f(', 'app/main.py', 'from pkg import core\n\ncore.parse_order(├)\n', 'app/pkg/core.py: def parse_order(', 'core.parse_order'],
    ['import pkg.mod; pkg.mod.f(', 'app/main.py', 'import pkg.sub.mod\n\npkg.sub.mod.run(├)\n', 'app/pkg/sub/mod.py: def run(job: str, retries: int) -> None:', 'pkg.sub.mod.run'],
    ['import pkg.mod as m; m.f(', 'app/main.py', 'import pkg.sub.mod as m\n\nm.run(├)\n', 'app/pkg/sub/mod.py: def run(job: str, retries: int) -> None:', 'm.run'],
    ['a namespace package (no __init__.py): from ns import mod', 'app/main.py', 'from nspkg import tools\n\ntools.tool(├)\n', 'app/nspkg/tools.py: def tool(name: str) -> str:', 'tools.tool'],
    ['a namespace package: from ns.mod import f', 'app/main.py', 'from nspkg.tools import tool\n\ntool(├)\n', 'app/nspkg/tools.py: def tool(name: str) -> str:', 'imported tool'],
    ['a namespace package: import ns.mod; ns.mod.f(', 'app/main.py', 'import nspkg.tools\n\nnspkg.tools.tool(├)\n', 'app/nspkg/tools.py: def tool(name: str) -> str:', 'nspkg.tools.tool'],
    ['star imports in a cycle that do not define the name: by name', 'app/main.py', 'from cyc.x import helper_fn\n\nhelper_fn(├)\n', 'app/other/util.py: def helper_fn(value: int) -> int:', 'defined as helper_fn'],
  ]);


  it('a package\'s __init__.py re-export is followed to the whole signature; the star-import cycle ends', async () => {
    const p = await project(PY_FILES);
    const init = p.index.resolveImport(p.abs('app/main.py'), 'python', 'pkg');
    expect(init).toEqual([p.abs('app/pkg/__init__.py')]);
    expect(p.index.exported(init, 'parse_order').symbols[0]!.runs[0]!.text).toBe('def parse_order(\n    raw: str,\n    strict: bool = False,\n) -> dict:');
    expect(p.index.exported(init, 'core').modules).toEqual([p.abs('app/pkg/core.py')]);
    expect(p.index.resolveImport(p.abs('app/main.py'), 'python', 'nspkg')).toEqual([]); // no __init__.py: nothing to read, no error
    expect(p.index.exported(p.index.resolveImport(p.abs('app/main.py'), 'python', 'cyc.x'), 'nothing')).toEqual({ symbols: [], modules: [] });
    expect(p.lines.some((l) => l.includes('re-exports of nothing lead back to'))).toBe(true);
    // `from . import sub` in pkg/__init__.py names the submodule; it is no cycle.
    expect(p.index.exported(init, 'sub').modules).toEqual([p.abs('app/pkg/sub/__init__.py')]);
    expect(p.lines.some((l) => l.includes('re-exports of sub'))).toBe(false);
    p.index.dispose();
  });

  it('imports under a top-level `if TYPE_CHECKING:` or `try:` count; a from-import\'s module is not one of its names', () => {
    const text = 'from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .wrappers import Response\n\ntry:\n    import simplejson as json\nexcept ImportError:\n    import json\n\n\ndef f():\n    from .inner import not_top_level\n\n\nif __name__ == \"__main__\":\n    for x in []:\n        import deep_in_a_script\n';
    const { imports } = new TagExtractor().extract(pool.parseNow('python', text), 'python', text);
    expect(imports).toEqual([
      { source: 'typing', names: [{ imported: 'TYPE_CHECKING', local: 'TYPE_CHECKING' }] },
      { source: '.wrappers', names: [{ imported: 'Response', local: 'Response' }] },
      { source: 'simplejson', names: [], namespace: 'json' },
      { source: 'json', names: [], namespace: 'json' },
    ]);
  });

  it('an absolute import starts at a folder that is no package: not a module of the same name inside one', async () => {
    const p = await project(PY_FILES);
    expect(p.index.resolveImport(p.abs('app/main.py'), 'python', 'typing')).toEqual([]); // not app/pkg/typing.py
    expect(p.index.resolveImport(p.abs('app/tests/apps/test_x.py'), 'python', 'pkg')).toEqual([p.abs('app/pkg/__init__.py')]);
    expect(p.index.resolveImport(p.abs('app/main.py'), 'python', 'pkg.typing')).toEqual([p.abs('app/pkg/typing.py')]);
    p.index.dispose();
  });
});

const GO_FILES: Record<string, string> = {
  'go.mod': 'module example.com/shop\n\ngo 1.22\n\nrequire example.com/lib v1.0.0\n\nreplace example.com/lib => ./third_party/lib\n\nreplace (\n\texample.com/gone => ../gone-missing // a checkout without it\n\texample.com/remote => example.com/fork v1.2.3\n)\n',
  'orders/orders.go': 'package orders\n\nfunc ParseOrder(\n\traw string,\n\tstrict bool,\n) (Order, error) {\n\treturn Order{}, nil\n}\n\ntype Order struct{ ID string }\n',
  'legacy/orders/orders.go': 'package orders\n\nfunc ParseOrder(raw []byte) Order {\n\treturn Order{}\n}\n\ntype Order struct{}\n',
  'modules/linter/go.mod': 'module example.com/shop/tools\n',
  'modules/linter/lint/lint.go': 'package lint\n\nfunc Check(path string, strict bool) []string {\n\treturn nil\n}\n',
  'third_party/lib/strs/strs.go': 'package strs\n\nfunc Reverse(s string) string {\n\treturn s\n}\n',
  'kitv2/go.mod': 'module example.com/kit/v2\n',
  'kitv2/kit.go': 'package kit\n\nfunc Run(name string) error {\n\treturn nil\n}\n',
};

describe('Go: packages by module path', () => {
  it('names an imported package as Go does: a module major version (/v2, .v3) is not its name, a /v1 folder is', () => {
    const text = 'package main\n\nimport (\n\t"example.com/kit/v2"\n\t"gopkg.in/yaml.v3"\n\t"example.com/api/v1"\n\tstr "strings"\n)\n';
    const { imports } = new TagExtractor().extract(pool.parseNow('go', text), 'go', text);
    expect(imports.map((i) => i.namespace)).toEqual(['kit', 'yaml', 'v1', 'str']);
  });

  it('maps imports through go.mod (nested modules, local replaces, major versions); a replace to a missing path is logged', async () => {
    const p = await project(GO_FILES);
    const cart = p.abs('cart/cart.go');
    expect(p.index.resolveImport(cart, 'go', 'example.com/shop/orders')).toEqual([p.abs('orders/orders.go')]);
    expect(p.index.resolveImport(cart, 'go', 'example.com/shop/tools/lint')).toEqual([p.abs('modules/linter/lint/lint.go')]);
    expect(p.index.resolveImport(cart, 'go', 'example.com/lib/strs')).toEqual([p.abs('third_party/lib/strs/strs.go')]);
    expect(p.index.resolveImport(cart, 'go', 'example.com/kit/v2')).toEqual([p.abs('kitv2/kit.go')]);
    expect(p.index.resolveImport(cart, 'go', 'example.com/gone/x')).toEqual([]);
    expect(p.lines.some((l) => l.includes(p.abs('go.mod')) && l.includes('../gone-missing') && l.includes('is not a directory'))).toBe(true);
    p.index.dispose();
  });

  it('at the cursor: each package-qualified call resolves to its package, not a same-named one elsewhere', async () => {
    const p = await project(GO_FILES);
    const body = (call: string) => `package cart\n\nimport (\n\t"example.com/gone/x"\n\t"example.com/kit/v2"\n\t"example.com/lib/strs"\n\t"example.com/shop/orders"\n\t"example.com/shop/tools/lint"\n)\n\nfunc Checkout(raw string) {\n\tx.Missing()\n\t${call}\n}\n`;
    const got = p.at('cart/cart.go', body('o, err := orders.ParseOrder(├)'));
    expectFound(got, 'orders/orders.go: func ParseOrder(', 'orders.ParseOrder');
    const legacy = got.find((g) => g.def.startsWith('legacy/'));
    if (legacy) expect(got.indexOf(legacy)).toBeGreaterThan(got.findIndex((g) => g.def.startsWith('orders/orders.go: func ParseOrder')));
    expect(got.find((g) => g.def.startsWith('orders/orders.go: func ParseOrder'))!.text).toContain(') (Order, error) {');
    expectFound(p.at('cart/cart.go', body('_ = lint.Check(├)')), 'modules/linter/lint/lint.go: func Check(path string, strict bool) []string {', 'lint.Check');
    expectFound(p.at('cart/cart.go', body('_ = strs.Reverse(├)')), 'third_party/lib/strs/strs.go: func Reverse(s string) string {', 'strs.Reverse');
    expectFound(p.at('cart/cart.go', body('_ = kit.Run(├)')), 'kitv2/kit.go: func Run(name string) error {', 'kit.Run');
    p.index.dispose();
  });
});

const RS_FILES: Record<string, string> = {
  'Cargo.toml': '[package]\nname = "shop-core"\nversion = "0.1.0"\n',
  'src/lib.rs': 'pub mod orders;\npub mod util;\n\npub use orders::parse_order;\n',
  'src/orders.rs': 'pub mod items;\n\npub fn parse_order(raw: &str, strict: bool) -> Order {\n    Order {}\n}\n\npub struct Order {}\n',
  'src/orders/items.rs': 'use super::Order;\n\npub fn item_count(order: &Order) -> usize {\n    0\n}\n',
  'src/util/mod.rs': 'pub fn slugify(text: &str) -> String {\n    text.to_string()\n}\n',
  'src/helpers.rs': 'pub fn assist(level: u8) -> bool {\n    true\n}\n',
  'crates/app/Cargo.toml': '[package]\nname = "app"\n',
  'crates/app/src/lib.rs': '',
  'src/flags/mod.rs': 'pub mod complete;\n',
  'src/flags/complete/mod.rs': 'pub mod bash;\n',
  'src/flags/complete/bash.rs': 'pub fn generate(shell: &str, verbose: bool) -> String {\n    String::new()\n}\n',
  'tests/util.rs': 'pub fn fixture(name: &str) -> Vec<u8> {\n    vec![]\n}\n',
  'tests/integration.rs': 'mod util;\n',
};

describe('Rust: use paths and mod declarations', () => {
  eachForm(RS_FILES, [
    ['use crate::a::b::f', 'src/main.rs', 'use crate::orders::items::item_count;\n\nfn main() {\n    item_count(├);\n}\n', 'src/orders/items.rs: pub fn item_count(order: &Order) -> usize {', 'imported item_count'],
    ['use crate::module; module::f(', 'src/main.rs', 'use crate::util;\n\nfn main() {\n    util::slugify(├);\n}\n', 'src/util/mod.rs: pub fn slugify(text: &str) -> String {', 'util.slugify'],
    ['mod x; x::f(', 'src/main.rs', 'mod helpers;\n\nfn main() {\n    helpers::assist(├);\n}\n', 'src/helpers.rs: pub fn assist(level: u8) -> bool {', 'helpers.assist'],
    ['a pub use re-export in lib.rs', 'src/checkout.rs', 'use crate::parse_order;\n\nfn run() {\n    parse_order(├);\n}\n', 'src/orders.rs: pub fn parse_order(raw: &str, strict: bool) -> Order {', 'imported parse_order'],
    ['a nested use list with a path and an alias: use a::{b::c as d}', 'src/flags/run.rs', 'use crate::flags::{\n    complete::{bash::generate as generate_bash},\n};\n\nfn run() {\n    generate_bash(├);\n}\n', 'src/flags/complete/bash.rs: pub fn generate(shell: &str, verbose: bool) -> String {', 'imported generate_bash'],
    ['an integration test is a crate of its own: crate::util is tests/util.rs', 'tests/other.rs', 'use crate::util;\n\n#[test]\nfn t() {\n    util::fixture(├);\n}\n', 'tests/util.rs: pub fn fixture(name: &str) -> Vec<u8> {', 'util.fixture'],
    ['another workspace crate by name', 'crates/app/src/main.rs', 'use shop_core::orders::parse_order;\n\nfn main() {\n    parse_order(├);\n}\n', 'src/orders.rs: pub fn parse_order(raw: &str, strict: bool) -> Order {', 'imported parse_order'],
  ]);


  it('resolves crate::, self::, super:: and child modules to files', async () => {
    const p = await project(RS_FILES);
    const items = p.abs('src/orders/items.rs');
    expect(p.index.resolveImport(items, 'rust', 'super')).toEqual([p.abs('src/orders.rs')]);
    expect(p.index.resolveImport(items, 'rust', 'crate')).toEqual([p.abs('src/lib.rs')]);
    expect(p.index.resolveImport(p.abs('src/lib.rs'), 'rust', 'orders::items')).toEqual([items]);
    expect(p.index.resolveImport(p.abs('src/orders.rs'), 'rust', 'self::items')).toEqual([items]);
    expect(p.index.resolveImport(p.abs('src/main.rs'), 'rust', 'std::collections')).toEqual([]);
    p.index.dispose();
  });
});

const JAVA_FILES: Record<string, string> = {
  'src/main/java/com/shop/orders/OrderService.java': 'package com.shop.orders;\n\npublic class OrderService {\n  public Order find(String id, boolean strict) { return null; }\n}\n',
  'src/main/java/com/shop/orders/OrderRepo.java': 'package com.shop.orders;\n\npublic class OrderRepo {\n  public OrderRepo(String url) {}\n}\n',
  'src/main/java/com/shop/orders/Outer.java': 'package com.shop.orders;\n\npublic class Outer {\n  public static class Inner {\n    public Inner(int size) {}\n  }\n}\n',
  'src/main/java/com/shop/util/Strings.java': 'package com.shop.util;\n\npublic final class Strings {\n  public static String slugify(String text, char sep) {\n    return text;\n  }\n}\n',
};

describe('Java: class, static, nested and wildcard imports', () => {
  const app = (imp: string, line: string) => `package com.shop.app;\n\n${imp}\n\nclass App {\n  void run() {\n    ${line}\n  }\n}\n`;
  eachForm(JAVA_FILES, [
    ['import a.b.C', 'src/main/java/com/shop/app/App.java', app('import com.shop.orders.OrderService;', 'OrderService s = new ├'), 'src/main/java/com/shop/orders/OrderService.java: public class OrderService {', 'imported OrderService'],
    ['import static a.b.C.m', 'src/main/java/com/shop/app/App.java', app('import static com.shop.util.Strings.slugify;', 'String s = slugify(├'), 'src/main/java/com/shop/util/Strings.java:   public static String slugify(String text, char sep) {', 'imported slugify'],
    ['import a.b.Outer.Inner', 'src/main/java/com/shop/app/App.java', app('import com.shop.orders.Outer.Inner;', 'Inner i = new Inner(├'), 'src/main/java/com/shop/orders/Outer.java:   public static class Inner {', 'imported Inner'],
  ]);


  it('a wildcard import resolves to the package\'s files', async () => {
    const p = await project(JAVA_FILES);
    const files = p.index.resolveImport(p.abs('src/main/java/com/shop/app/App.java'), 'java', 'com.shop.orders');
    expect(files.map((f) => f.slice(p.root.length + 1))).toEqual(['src/main/java/com/shop/orders/OrderRepo.java', 'src/main/java/com/shop/orders/OrderService.java', 'src/main/java/com/shop/orders/Outer.java']);
    p.index.dispose();
  });
});

const CALL_FILES: Record<string, string> = {
  // Overload signatures, then the implementation: one definition of `send` in this file.
  'src/client.ts': 'export class BaseClient {\n  send(type: string): void;\n  send(type: string, params: object): void;\n  send(type: number): void;\n  send(type: number, params: object): void;\n  send(type: string | number, ...params: unknown[]): void {\n    void params;\n  }\n}\n',
  // Five more classes with a `send`, further away: the name alone is ambiguous.
  ...Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`lib/m${i}/sender.ts`, `export class Sender${i} {\n  send(code${i}: number): void {\n    return;\n  }\n}\n`])),
  'src/types.ts': `export interface Options {\n${Array.from({ length: 12 }, (_, i) => `  option${i}: string;`).join('\n')}\n}\n`,
  'src/features.ts': 'export class Feature {\n  pending(limit: number): string[] {\n    return [];\n  }\n  flush(force: boolean): void {\n    return;\n  }\n}\n',
  // A provider object: the property's function is what `provider.provideLinks(` calls.
  'src/providers.ts': 'export function makeProvider(enabled: boolean) {\n  return {\n    provideLinks: (document: string, token: number) => {\n      return [document, token];\n    },\n    resolveLink: enabled\n      ? (link: string, token: number) => {\n          return link;\n        }\n      : undefined,\n  };\n}\n',
  'errors.go': 'package gin\n\ntype Error struct {\n\tErr  error\n\tMeta any\n}\n\nfunc (msg *Error) SetMeta(data any) *Error {\n\tmsg.Meta = data\n\treturn msg\n}\n',
  'context.go': 'package gin\n\ntype Context struct{}\n\nfunc (c *Context) AbortWithError(code int, err error) *Error {\n\treturn nil\n}\n',
  'go.mod': 'module example.com/gin\n',
  'pkg/models.py': 'class Response:\n    def json(self, **kwargs: object) -> object:\n        return None\n',
  'pkg/helpers.py': 'def attach_errors(request: object, strict: bool) -> None:\n    return None\n',
};

describe('the call being written: its callee first, per form', () => {
  eachForm(CALL_FILES, [
    ['a method with overloads, among more same-named methods than are shown: its implementation', 'src/feature.ts', 'export function run(client: { send(t: string): void }) {\n  client.send(├\n}\n', 'src/client.ts:   send(type: string | number, ...params: unknown[]): void {', 'defined as send'],
    ['a method after a non-null assertion (`a!.m(`)', 'src/use.ts', 'export class User {\n  private feature?: { pending(n: number): string[] };\n  run() {\n    return this.feature!.pending(├\n  }\n}\n', 'src/features.ts:   pending(limit: number): string[] {', 'defined as pending'],
    ['a method after optional chaining (`a?.m(`)', 'src/use.ts', 'export function run(feature?: { flush(f: boolean): void }) {\n  feature?.flush(├\n}\n', 'src/features.ts:   flush(force: boolean): void {', 'defined as flush'],
    ['an object literal\'s function-valued property', 'src/test.ts', 'export function check(provider: { provideLinks(d: string, t: number): string[] }) {\n  return provider.provideLinks(├\n}\n', 'src/providers.ts:     provideLinks: (document: string, token: number) => {', 'defined as provideLinks'],
    ['an object literal\'s property that holds a function or undefined', 'src/test.ts', 'export function check(provider: { resolveLink?(l: string, t: number): string }) {\n  return provider.resolveLink?.(├\n}\n', 'src/providers.ts:     resolveLink: enabled', 'defined as resolveLink'],
    ['Go: a method called on what a call returns (`c.AbortWithError(…).SetMeta(`)', 'handler.go', 'package gin\n\nfunc handle(c *Context) {\n\tc.AbortWithError(400, nil).SetMeta(├\n}\n', 'errors.go: func (msg *Error) SetMeta(data any) *Error {', 'defined as SetMeta'],
    ['Python: `import json` does not hide a `.json(` method', 'pkg/client.py', 'import json\n\n\ndef fetch(response) -> object:\n    return response.json(├\n', 'pkg/models.py:     def json(self, **kwargs: object) -> object:', 'defined as json'],
  ]);

  it('the callee ranks above the imported names around it, however near', async () => {
    const p = await project(CALL_FILES);
    const got = p.at('src/feature.ts', "import type { Options } from './types';\n\nexport function run(client: { send(t: string): void }, options: Options) {\n  client.send(options.option1, ├\n}\n");
    expect(got[0]!.def).toBe('src/client.ts:   send(type: string | number, ...params: unknown[]): void {');
    // The overloads come with it, after it; the imported interface (near, used on the line) after them.
    const rank = (def: string) => got.findIndex((g) => g.def === def);
    expect(rank('src/client.ts:   send(type: string): void;')).toBeGreaterThan(0);
    expect(rank('src/types.ts: export interface Options {')).toBeGreaterThan(rank('src/client.ts:   send(type: string): void;'));
    p.index.dispose();
  });

  it('Python: a name imported inside a function counts as the file\'s import', async () => {
    const p = await project(CALL_FILES);
    const marked = 'def load(request):\n    from .helpers import attach_errors\n\n    attach_errors(├\n';
    const { doc, offset, abs } = openIn(p.root, 'pkg/wrappers.py', marked, 'python');
    const tables = new FileTables(() => p.index);
    const req = requestFor(doc, offset, new Workspace([p.root]), abs);
    const firsts = () => new DefinitionsSource(() => p.index, tables).gather(req, FAR()).map((c) => `${c.path}: ${c.runs[0]!.text.split('\n')[0]} (${c.why})`);
    // Before the document is prepared only the top-level imports are known: a bare name is local.
    expect(firsts()).not.toContain('pkg/helpers.py: def attach_errors(request: object, strict: bool) -> None: (imported attach_errors)');
    tables.prepare({ uri: doc.uri, abs, lang: 'python', text: doc.text.getText(), tree: doc.tree?.current() });
    expect(firsts()).toContain('pkg/helpers.py: def attach_errors(request: object, strict: bool) -> None: (imported attach_errors)');
    p.index.dispose();
  });

  it('reads local Python imports from the text: aliases, several names, parenthesised lists, stars; not the top level', () => {
    const text = 'import os\nfrom .top import a\n\n\ndef f():\n    from .x import b, c as d\n    from ..y import (\n        e,\n        g as h,\n    )\n    import pkg.mod as m, other\n    from .z import *\n';
    expect(pythonLocalImports(text)).toEqual([
      { source: '.x', names: [{ imported: 'b', local: 'b' }, { imported: 'c', local: 'd' }] },
      { source: '..y', names: [{ imported: 'e', local: 'e' }, { imported: 'g', local: 'h' }] },
      { source: '.z', names: [], namespace: '*' },
      { source: 'pkg.mod', names: [], namespace: 'm' },
      { source: 'other', names: [], namespace: 'other' },
    ]);
  });

  it('finds the function whose arguments are being written, over nested brackets and lines; none at statement level', () => {
    const at = (marked: string) => calleeAt(marked.replace('├', ''), marked.indexOf('├'))?.name;
    expect(at('client.send(├')).toBe('send');
    expect(at('a.b.send(x, f(y), [1, 2], ├')).toBe('send');
    expect(at('send(\n  first,\n  {\n    ├')).toBeUndefined(); // inside an object literal argument: a brace at depth 0
    expect(at('send(\n  first,\n  ├')).toBe('send');
    expect(at('c.AbortWithError(400, errors.New("x")).SetMeta(├')).toBe('SetMeta');
    expect(at('if (ready(├')).toBe('ready');
    expect(at('if (├')).toBeUndefined();
    expect(at('send(a);\nx = ├')).toBeUndefined();
    expect(at('def f(a):\n    x = ├')).toBeUndefined();
    expect(at('function f() {\n  ├')).toBeUndefined();
  });
});

/** Five classes with a `request` method beside the files that call one: the name alone points at them. */
const DECOYS = (dir: string, ext: 'ts' | 'py' | 'go'): Record<string, string> =>
  Object.fromEntries(
    Array.from({ length: 5 }, (_, i) => {
      if (ext === 'ts') return [`${dir}/decoy${i}.ts`, `export class Decoy${i} {\n  request(code${i}: number): void {\n    return;\n  }\n}\n`];
      if (ext === 'py') return [`${dir}/decoy${i}.py`, `class Decoy${i}:\n    def request(self, code${i}: int) -> None:\n        return None\n`];
      return [`${dir}/a${i}.go`, `package ${dir.split('/').pop()}\n\ntype a${i}Binding struct{}\n\nfunc (a${i}Binding) Request(code${i} int) error {\n\treturn nil\n}\n`];
    }),
  );

const RECEIVER_FILES: Record<string, string> = {
  'src/http/client.ts': 'export class HttpClient {\n  request(url: string, init: object): Promise<unknown> {\n    return Promise.resolve(init);\n  }\n}\n',
  'src/http/base.ts': 'export class BaseService {\n  protected request(path: string, body: object): void {\n    return;\n  }\n}\n',
  'src/http/deps.ts': "import { HttpClient } from './client';\n\nexport interface Deps {\n  http: HttpClient;\n  retries: number;\n}\n",
  'src/http/api.ts': 'export interface Api {\n  fetchAll(url: string): Promise<unknown>;\n}\n',
  'src/impl/real.ts': "import type { Api } from '../http/api';\n\nexport class RealApi implements Api {\n  fetchAll(url: string, retries = 3): Promise<unknown> {\n    return Promise.resolve([url, retries]);\n  }\n}\n",
  ...DECOYS('src/app', 'ts'),
  'app/http.py': 'class HttpClient:\n    def request(self, method: str, url: str) -> None:\n        return None\n',
  ...DECOYS('app', 'py'),
  'go.mod': 'module example.com/shop\n',
  'binding/json.go': 'package binding\n\ntype jsonBinding struct{}\n\nfunc (jsonBinding) Request(body []byte, obj any) error {\n\treturn nil\n}\n',
  'binding/context.go': 'package binding\n\ntype Context struct{}\n',
  'binding/render.go': 'package binding\n\nfunc (c *Context) Request(code int, obj any) {\n}\n',
  ...DECOYS('binding', 'go'),
};

const HTTP_REQUEST = 'src/http/client.ts:   request(url: string, init: object): Promise<unknown> {';

describe('a member call\'s receiver: its type settles which method it is, per form', () => {
  eachForm(RECEIVER_FILES, [
    ['a field with a declared type (`this.http.request(`)', 'src/app/main.ts', "import { HttpClient } from '../http/client';\n\nexport class App {\n  private http: HttpClient;\n  run() {\n    return this.http.request(├\n  }\n}\n", HTTP_REQUEST, 'method of HttpClient'],
    ['a constructor parameter property', 'src/app/main.ts', "import { HttpClient } from '../http/client';\n\nexport class App {\n  constructor(private readonly http: HttpClient) {}\n  run() {\n    return this.http.request(├\n  }\n}\n", HTTP_REQUEST, 'method of HttpClient'],
    ['a variable constructed with new', 'src/app/main.ts', "import { HttpClient } from '../http/client';\n\nexport function run() {\n  const client = new HttpClient();\n  return client.request(├\n}\n", HTTP_REQUEST, 'method of HttpClient'],
    ['a type through a namespace import (`x: net.HttpClient`)', 'src/app/main.ts', "import * as net from '../http/client';\n\nexport function run(client: net.HttpClient) {\n  return client.request(├\n}\n", HTTP_REQUEST, 'method of HttpClient'],
    ['a method inherited from an imported base class (`this.request(`)', 'src/app/main.ts', "import { BaseService } from '../http/base';\n\nexport class Orders extends BaseService {\n  run() {\n    this.request(├\n  }\n}\n", 'src/http/base.ts:   protected request(path: string, body: object): void {', 'method of BaseService'],
    ['a chain through another file\'s field (`this.deps.http.request(`)', 'src/app/main.ts', "import type { Deps } from '../http/deps';\n\nexport class App {\n  constructor(private deps: Deps) {}\n  run() {\n    return this.deps.http.request(├\n  }\n}\n", HTTP_REQUEST, 'method of HttpClient'],
    ['Python: `self.client = HttpClient()` in __init__', 'app/main.py', 'from .http import HttpClient\n\n\nclass App:\n    def __init__(self) -> None:\n        self.client = HttpClient()\n\n    def run(self) -> None:\n        self.client.request(├\n', 'app/http.py:     def request(self, method: str, url: str) -> None:', 'method of HttpClient'],
    ['Go: a composite literal (`jsonBinding{}.Request(`)', 'binding/json_test.go', 'package binding\n\nfunc TestJSON() {\n\t_ = jsonBinding{}.Request(├\n}\n', 'binding/json.go: func (jsonBinding) Request(body []byte, obj any) error {', 'method of jsonBinding'],
    ['Go: a parameter of pointer type, its methods in another file of the package', 'binding/handler.go', 'package binding\n\nfunc handle(c *Context) {\n\tc.Request(├\n}\n', 'binding/render.go: func (c *Context) Request(code int, obj any) {', 'method of Context'],
  ]);

  it('an interface-typed receiver: its signature first, then the implementation found by name, above the names around', async () => {
    const p = await project(RECEIVER_FILES);
    const got = p.at('src/app/main.ts', "import type { Api } from '../http/api';\n\nexport function run(api: Api, url: string) {\n  return api.fetchAll(├\n}\n");
    expect(got.slice(0, 2).map((g) => `${g.def} (${g.why})`)).toEqual(['src/http/api.ts:   fetchAll(url: string): Promise<unknown>; (method of Api)', 'src/impl/real.ts:   fetchAll(url: string, retries = 3): Promise<unknown> { (defined as fetchAll)']);
    p.index.dispose();
  });
});
