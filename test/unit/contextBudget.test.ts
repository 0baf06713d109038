// The context stage's time budgets, on injected clocks: late sources keep what they found, the engine
// stays within the sum of the budgets, the definitions source does the likeliest work first, the
// per-document tables are worked out before the request; the prompt keeps a lone snippet through
// its second packing pass; and code actions' checks reach the index worker across its restarts.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { resolveConfig } from '../../server/src/config/load.js';
import { ContextEngine } from '../../server/src/context/engine.js';
import { FileTables } from '../../server/src/context/fileTables.js';
import { MAX_CHAIN, identifierTable, nearIdentifiers } from '../../server/src/context/identifiers.js';
import { ContextService } from '../../server/src/context/service.js';
import { DefinitionsSource } from '../../server/src/context/sources/definitions.js';
import { EnclosingSource } from '../../server/src/context/sources/enclosing.js';
import type { Candidate, ContextRequest, ContextSource } from '../../server/src/context/types.js';
import { buildInlinePrompt } from '../../server/src/prompt/inline.js';
import { TEMPLATES } from '../../server/src/prompt/templates.js';
import { DocumentStore } from '../../server/src/documents.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { Workspace } from '../../server/src/workspace.js';
import { until } from '../wait.js';
import { pool } from './fixtures.js';
import { indexOf, openIn, requestFor, tempWorkspace } from './contextHelpers.js';

const found = (why: string): Candidate => ({ kind: 'definition', path: 'a.ts', runs: [{ start: 0, text: why }], score: 0.5, why });

describe('the engine on an injected clock', () => {
  it('keeps what a late source found, costs a throwing source only its own, and skips sources once the budgets are spent', () => {
    let clock = 1000;
    const seen: Record<string, number> = {};
    const taking = (name: string, ms: number): ContextSource => ({
      name,
      gather: (_req, deadline) => {
        seen[name] = deadline - clock;
        clock += ms;
        return [found(name)];
      },
    });
    const broken: ContextSource = {
      name: 'broken',
      gather: () => {
        throw new Error('bug');
      },
    };
    const g = new ContextEngine([taking('slow', 15), broken, taking('fine', 1), taking('exact', 5)], () => clock).gather({} as never, () => ({ enabled: true, budgetMs: 5 }));
    // `slow` ran 10 ms past its budget: its work is done, so what it found is kept. That used the
    // budgets of `broken` and `fine` too: they are skipped; `exact` gets its own 5 ms, the last of the sum.
    expect(g.candidates.map((x) => x.why)).toEqual(['slow', 'exact']);
    expect(g.sources.map((s) => `${s.name}:${s.ms}:${s.late}:${s.skipped ?? false}`)).toEqual(['slow:15:true:false', 'broken:0:true:true', 'fine:0:true:true', 'exact:5:false:false']);
    expect(seen).toEqual({ slow: 5, exact: 5 });
    expect(g.ms).toBe(20);
  });

  it('runs the first source even when the process paused before it past every budget (its deadline already gone); skips the rest', () => {
    let clock = 0;
    const deadlines: Record<string, number> = {};
    const source = (name: string): ContextSource => ({
      name,
      gather: (_req, deadline) => {
        deadlines[name] = deadline;
        return [found(name)];
      },
    });
    // The clock's first look is the gather's start; by the second (the first source's start) 30 ms have gone by.
    const now = () => (clock++ === 0 ? 0 : 30);
    const g = new ContextEngine([source('definitions'), source('enclosing'), source('similar')], now).gather({} as never, () => ({ enabled: true, budgetMs: 5 }));
    expect(g.candidates.map((c) => c.why)).toEqual(['definitions']);
    expect(deadlines).toEqual({ definitions: 5 }); // past already: it does its likeliest step only
    expect(g.sources.map((x) => `${x.name}:${x.skipped ?? false}`)).toEqual(['definitions:false', 'enclosing:true', 'similar:true']);
  });

  it('gives each source its own budget at most, less what the sources before it overran', () => {
    let clock = 0;
    const seen: string[] = [];
    const taking = (name: string, ms: number): ContextSource => ({
      name,
      gather: (_req, deadline) => {
        seen.push(`${name}:${deadline - clock}`);
        clock += ms;
        return [];
      },
    });
    const budgets: Record<string, number> = { a: 10, b: 5, c: 6, d: 3 };
    const g = new ContextEngine([taking('a', 2), taking('b', 16), taking('c', 1), taking('d', 1)], () => clock).gather({} as never, (n) => ({ enabled: true, budgetMs: budgets[n]! }));
    // `a` finished 8 ms early: `b` still gets only its own 5 ms. `b` ran until 18, 3 ms past the
    // sum so far (15): `c` gets 6 - 3. `d`'s full 3 ms fit in what is left of the sum (24).
    expect(seen).toEqual(['a:10', 'b:5', 'c:3', 'd:3']);
    expect(g.sources.map((s) => `${s.name}:${s.late}`)).toEqual(['a:false', 'b:true', 'c:false', 'd:false']);
    expect(g.ms).toBe(20);
  });

  it('never runs past the sum of the budgets when every source checks its deadline in its loop', () => {
    let clock = 0;
    const step = 0.7;
    // Each source has endless work: one step per item, looking at the clock before each.
    const looping = (name: string): ContextSource => ({
      name,
      gather: (_req, deadline, now = () => clock) => {
        const out: Candidate[] = [];
        while (now() <= deadline) {
          clock += step;
          out.push(found(`${name}${out.length}`));
        }
        return out;
      },
    });
    const budgets: Record<string, number> = { definitions: 10, enclosing: 5, recentEdits: 3, similar: 6 };
    const g = new ContextEngine(['definitions', 'enclosing', 'recentEdits', 'similar'].map(looping), () => clock).gather({} as never, (n) => ({ enabled: true, budgetMs: budgets[n]! }));
    const sum = 10 + 5 + 3 + 6;
    expect(g.ms).toBeLessThanOrEqual(sum + step);
    // Every source ran, each kept what it found, and none ran past its deadline by more than one step.
    for (const s of g.sources) expect(s.candidates).toBeGreaterThan(0);
    for (const s of g.sources) expect(s.ms).toBeLessThanOrEqual(budgets[s.name]! + step);
    expect(g.candidates).toHaveLength(g.sources.reduce((n, s) => n + s.candidates, 0));
  });

  it('reads the process\'s CPU time only when asked (two system calls per request otherwise)', () => {
    let reads = 0;
    const cpu = () => (reads++, reads * 2);
    const engine = new ContextEngine([{ name: 'a', gather: () => [found('x')] }], () => 0, undefined, cpu);
    const plain = engine.gather({} as never, () => ({ enabled: true, budgetMs: 5 }), { cpu: false });
    expect(plain.candidates).toHaveLength(1);
    expect(plain).not.toHaveProperty('cpuMs');
    expect(reads).toBe(0);
    // By default (code actions, the CLI) it is read before and after: here 2 ms apart.
    expect(engine.gather({} as never, () => ({ enabled: true, budgetMs: 5 })).cpuMs).toBe(2);
    expect(reads).toBe(2);
  });
});

function resolved(data: Record<string, unknown>) {
  const r = resolveConfig([{ origin: 'test', trust: 'user', data }]);
  if (!r.ok) throw new Error(r.error);
  return r.config;
}

/** A clock that moves one millisecond each time it is read: a source's work is counted in looks at it. */
function tickingClock(): { now: () => number } {
  let t = 0;
  return { now: () => t++ };
}

describe('the definitions source past its deadline', () => {
  it('Go: keeps the package-qualified callee at the cursor, found before the same-package scan', async () => {
    const helpers = Array.from({ length: 30 }, (_, i) => `func helper${i}(n int) int {\n\treturn n + ${i}\n}\n`).join('\n');
    const root = tempWorkspace({
      'go.mod': 'module example.com/shop\n',
      'orders/orders.go': 'package orders\n\n// ParseOrder reads one order.\nfunc ParseOrder(raw string, strict bool) Order {\n\treturn Order{}\n}\n\ntype Order struct {\n\tID string\n}\n',
      'cart/helpers.go': `package cart\n\n${helpers}`,
    });
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'cart/cart.go', 'package cart\n\nimport "example.com/shop/orders"\n\nfunc Checkout(raw string) int {\n\to := orders.ParseOrder(├\n\treturn 0\n}\n', 'go');
    const req = requestFor(doc, offset, workspace, abs);
    const firsts = (got: Candidate[]) => got.map((c) => c.runs[0]!.text.split('\n')[0]);
    const all = firsts(new DefinitionsSource(() => index).gather(req, Number.POSITIVE_INFINITY));
    expect(all).toContain('func ParseOrder(raw string, strict bool) Order {');
    expect(all.filter((l) => l?.startsWith('func helper'))).toHaveLength(30);
    // Three looks at the clock: the callee is found, the package's other files are not reached.
    const clock = tickingClock();
    const cut = firsts(new DefinitionsSource(() => index).gather(req, 3, clock.now));
    expect(cut).toContain('func ParseOrder(raw string, strict bool) Order {');
    expect(cut.some((l) => l?.startsWith('func helper'))).toBe(false);
  });

  it('Go: past its deadline already, a method called on a variable is still found, by name', async () => {
    const root = tempWorkspace({
      'go.mod': 'module example.com/shop\n',
      'render/context.go': 'package render\n\ntype Context struct{}\n\nfunc (c *Context) PureJSON(code int, obj any) {}\n\nfunc (c *Context) Status(code int) {}\n',
    });
    const { index, workspace } = await indexOf(root);
    const { doc, offset, abs } = openIn(root, 'api/api.go', 'package api\n\nimport "example.com/shop/render"\n\nfunc Handle(c *render.Context) {\n\tc.Status(200)\n\tc.PureJSON(├\n}\n', 'go');
    const got = new DefinitionsSource(() => index).gather(requestFor(doc, offset, workspace, abs), -1, tickingClock().now);
    expect(got.map((c) => c.runs[0]!.text.split('\n')[0])).toEqual(['func (c *Context) PureJSON(code int, obj any) {}']);
  });

  it('through the engine: a late definitions source still gives its best candidate to the prompt, and reports itself late', async () => {
    const root = tempWorkspace({
      'src/money.ts': 'export function formatMoney(cents: number, currency: string): string {\n  return `${cents} ${currency}`;\n}\n',
      ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`src/m${i}.ts`, `export function pad${i}(n: number): number {\n  return n;\n}\n`])),
    });
    const { index, workspace } = await indexOf(root);
    const imports = Array.from({ length: 20 }, (_, i) => `import { pad${i} } from './m${i}.js';`).join('\n');
    const uses = Array.from({ length: 20 }, (_, i) => `pad${i}(1);`).join('\n');
    const { doc, offset, abs } = openIn(root, 'src/main.ts', `${imports}\nimport { formatMoney } from './money.js';\n${uses}\n\nexport function show(c: number) {\n  return formatMoney(├\n}\n`, 'typescript');
    const clock = tickingClock();
    const g = new ContextEngine([new DefinitionsSource(() => index)], clock.now).gather(requestFor(doc, offset, workspace, abs), () => ({ enabled: true, budgetMs: 4 }));
    const report = g.sources[0]!;
    expect(report.late).toBe(true);
    expect(g.candidates.map((c) => c.runs[0]!.text.split('\n')[0])).toContain('export function formatMoney(cents: number, currency: string): string {');
    // It stopped: the imported names further away were not all resolved.
    expect(g.candidates.length).toBeLessThan(21);
  });
});

describe('the enclosing source past its deadline', () => {
  it('reads the members of a class of a thousand fields while time is left, looking at the clock as it goes, and keeps the class', async () => {
    const root = tempWorkspace({ 'src/first.ts': 'export interface FirstType {\n  a: string;\n}\n', 'src/last.ts': 'export interface LastType {\n  z: string;\n}\n' });
    const { index, workspace } = await indexOf(root);
    const fields = Array.from({ length: 1000 }, (_, i) => `  f${i}: number;`).join('\n');
    const { doc, offset, abs } = openIn(root, 'src/big.ts', `export class Big {\n  first: FirstType;\n${fields}\n  last: LastType;\n  run() {\n    this.├\n  }\n}\n`, 'typescript');
    const req = requestFor(doc, offset, workspace, abs);
    // Each look at the clock moves it one millisecond: the looks count the work.
    let looks = 0;
    const clock = () => looks++;
    const all = new EnclosingSource(() => index).gather(req, Number.POSITIVE_INFINITY, clock);
    expect(all.map((c) => c.why)).toEqual(expect.arrayContaining(['members of Big', 'type FirstType in scope', 'type LastType in scope']));
    // The whole class read: the clock was looked at along the way, not only between steps.
    expect(looks).toBeGreaterThan(1000 / 64);
    looks = 0;
    const cut = new EnclosingSource(() => index).gather(req, 3, clock);
    expect(cut.map((c) => c.why)).toEqual(['members of Big']);
    expect(looks).toBeLessThan(8);
  });
});

describe('per-document tables, worked out before the request', () => {
  it('a prepared document\'s imports are resolved once and reused until the index changes', async () => {
    const root = tempWorkspace({ 'src/money.ts': 'export function formatMoney(cents: number): string {\n  return "";\n}\n', 'src/main.ts': "import { formatMoney } from './money.js';\n\nformatMoney(1);\n" });
    const { index } = await indexOf(root);
    const tables = new FileTables(() => index);
    const abs = `${root}/src/main.ts`;
    const doc = { uri: `file://${abs}`, abs, lang: 'typescript' as const, text: "import { formatMoney } from './money.js';\n\nformatMoney(1);\n" };
    tables.prepare(doc);
    const first = tables.importsFor(doc)!;
    expect(first.known).toBe(true);
    expect(first.table.imported('formatMoney')!.hits.map((s) => s.path)).toEqual(['src/money.ts']);
    expect(tables.importsFor(doc)!.table).toBe(first.table); // the same resolved table, request after request
    expect(tables.identifiersOf(doc.uri)!.counts.get('formatMoney')).toBe(2);
    // A file changed in the index: what the imports resolve to may have changed, so the table is new.
    index.fileChanged(`${root}/src/money.ts`);
    await index.idle();
    expect(tables.importsFor(doc)!.table).not.toBe(first.table);
    tables.forget(doc.uri, abs);
    expect(tables.identifiersOf(doc.uri)).toBeUndefined();
  });

  it('the identifier table gives a request the weights a scan of the text would', () => {
    const text = [
      "import { parseOrder, formatMoney } from './orders.js';",
      ...Array.from({ length: 40 }, (_, i) => `const v${i} = parseOrder(raw${i % 3});`),
      'export function run(raw: string) {',
      '  const order = parseOrder(raw);',
      '  return formatMoney(order.total);',
      '}',
      ...Array.from({ length: 10 }, (_, i) => `log(v${i});`),
    ].join('\n');
    const offset = text.indexOf('formatMoney(order') + 'formatMoney('.length;
    const scanned = nearIdentifiers(text, offset);
    const tabled = nearIdentifiers(text, offset, {}, identifierTable(text));
    const names = [...identifierTable(text)!.counts.keys()];
    expect(names.length).toBeGreaterThan(40);
    for (const n of names) {
      expect([n, tabled.weight(n), tabled.count(n), tabled.isMember(n)]).toEqual([n, scanned.weight(n), scanned.count(n), scanned.isMember(n)]);
    }
    expect([...tabled.near]).toEqual([...scanned.near]);
    expect([...tabled.qualified()]).toEqual([...scanned.qualified()]);
    // The near zone first, by weight: the same order either way; then the same names.
    const nearCount = scanned.near.size;
    expect([...tabled.ranked()].slice(0, nearCount)).toEqual([...scanned.ranked()].slice(0, nearCount));
    expect(new Set(tabled.ranked())).toEqual(new Set(scanned.ranked()));
  });

  it('the identifier table qualifies along chains (`a.b.c`, Rust `a::b::c`) as a scan does: every prefix qualifies the next name', () => {
    const text = [
      'import pkg.mod',
      ...Array.from({ length: 5 }, (_, i) => `x${i} = crate::util::fmt::pad(${i})`),
      // Far enough that those chains are the wide zone's (the table's, given one).
      ...Array.from({ length: 30 }, (_, i) => `y${i} = ${i}`),
      'def run(raw):',
      '    order = pkg.mod.parse(raw)',
      '    return pkg.mod.render(├',
    ].join('\n');
    const offset = text.indexOf('├');
    const clean = text.replace('├', '');
    const scanned = nearIdentifiers(clean, offset);
    const tabled = nearIdentifiers(clean, offset, {}, identifierTable(clean));
    const pairs = (n: typeof scanned) => [...n.qualified()].map((q) => `${q.qualifier}/${q.member}`);
    expect(pairs(tabled)).toEqual(pairs(scanned));
    expect(pairs(scanned)).toEqual(expect.arrayContaining(['pkg/mod', 'pkg.mod/render', 'pkg.mod/parse', 'crate/util', 'crate.util/fmt', 'crate.util.fmt/pad']));
    for (const n of ['mod', 'render', 'parse', 'util', 'fmt', 'pad']) expect([n, tabled.isMember(n)]).toEqual([n, true]);
    expect(tabled.isMember('pkg')).toBe(false);
  });

  it('on a one-line document the near zone still ends a few thousand characters from the cursor, with a table or without', () => {
    const filler = (n: number) => 'let q = 1 + 2; '.repeat(n);
    const text = `farAway(1); ${filler(20_000)}midway(2); ${filler(330)}closeBy(3); ${filler(7)}`; // one line, 300 kB
    const offset = text.length - 50;
    for (const n of [nearIdentifiers(text, offset), nearIdentifiers(text, offset, {}, identifierTable(text))]) {
      expect(n.near.has('closeBy')).toBe(true); // ~100 characters back
      expect(n.near.has('midway')).toBe(false); // ~5,000 back: the wide zone's (a count), not the near zone's
      expect(n.near.has('farAway')).toBe(false);
    }
  });

  it('a chain qualifies its first MAX_CHAIN names only: a 2,000-name `a.b.c…` costs no quadratic work', () => {
    const chain = Array.from({ length: 2_000 }, (_, i) => `n${i}`).join('.');
    const text = `x = ${chain}\n${'y = 1\n'.repeat(40)}run(`;
    const offset = text.length;
    for (const n of [nearIdentifiers(text, offset), nearIdentifiers(text, offset, {}, identifierTable(text))]) {
      const pairs = [...n.qualified()].filter((q) => q.qualifier.startsWith('n0'));
      expect(pairs.map((q) => q.member)).toEqual(Array.from({ length: MAX_CHAIN - 1 }, (_, i) => `n${i + 1}`));
      expect(pairs.at(-1)!.qualifier).toBe(Array.from({ length: MAX_CHAIN - 1 }, (_, i) => `n${i}`).join('.'));
      // Every name still counts as an identifier of the document.
      expect(n.count('n1999')).toBe(1);
    }
  });
});

describe('the context service checks code actions\' edits in the index worker', () => {
  it('a check sent before the index is switched off is answered by the worker, which the switch keeps', async () => {
    const root = tempWorkspace({ 'src/a.ts': 'export const a = 1;\n' });
    const workerScript = pathToFileURL(join(import.meta.dirname, '../../server/out/context/symbolWorker.js'));
    const service = new ContextService({ documents: new DocumentStore(pool), parser: pool, workspace: new Workspace([root]), logger: silentLogger(), busy: () => false, workerScript });
    try {
      const text = 'export function area(r: number): number {\n  return 3.14 * r * r;\n}\n';
      const at = text.indexOf('3.14');
      const pending = service.checkEdits('typescript', text, [{ start: at, end: at + 4, newText: '(Math.PI' }]);
      service.start(resolved({ context: { enabled: false } })); // drops the index's queued files, not the worker or its checks
      const r = await pending;
      expect(r).not.toBe('unavailable');
      expect((r as { added: number }).added).toBeGreaterThan(0);
    } finally {
      service.dispose();
    }
  });
});

describe('the context service prepares documents off the request path', () => {
  it('counts a document\'s identifiers when it opens (before any request, before the index), resolves its imports once the index is built, and forgets it when it closes', async () => {
    const root = tempWorkspace({ 'src/money.ts': 'export function formatMoney(cents: number): string {\n  return "";\n}\n' });
    const documents = new DocumentStore(pool);
    const service = new ContextService({ documents, parser: pool, workspace: new Workspace([root]), logger: silentLogger(), busy: () => false });
    const abs = `${root}/src/main.ts`;
    const uri = pathToFileURL(abs).href;
    documents.open(uri, 'typescript', 1, "import { formatMoney } from './money.js';\n\nformatMoney(1);\n");
    service.opened(uri);
    // Before the index exists: the identifiers are counted already.
    expect(service.tables.identifiersOf(uri)!.counts.get('formatMoney')).toBe(2);
    service.start(resolved({}));
    await until(() => service.workspaceIndex?.progress.finished && service.workspaceIndex.get(`${root}/src/money.ts`) && service.tables.importsFor({ uri, abs, lang: 'typescript' })?.table.imported('formatMoney')?.hits.length, 'the index and the prepared imports');
    service.closed(uri);
    expect(service.tables.identifiersOf(uri)).toBeUndefined();
    service.dispose();
  });
});

describe('packing in the prompt', () => {
  it('a single snippet survives the second packing pass of a long document (the windows grow into its room)', () => {
    const text = Array.from({ length: 3000 }, (_, i) => `const v${i} = ${i};`).join('\n');
    const doc = TextDocument.create('file:///w/a.ts', 'typescript', 1, text);
    const offset = doc.offsetAt({ line: 1500, character: 0 });
    const snippet: Candidate = { kind: 'definition', path: 'b.ts', runs: [{ start: 3, text: 'export function parseOrder(raw: string): Order {' }], score: 0.9, why: 'imported parseOrder' };
    for (const template of [TEMPLATES.qwen, TEMPLATES.deepseek]) {
      const p = buildInlinePrompt({ doc, offset, language: undefined, lineComment: '//', tree: undefined, relPath: 'a.ts', template, budget: { contextWindow: 8192, maxTokens: 128, maxPromptTokens: 4096 }, context: { candidates: [snippet], maxTokens: 2048, share: 0.5, repoName: 'w' } });
      expect(p.prompt).toContain('export function parseOrder(raw: string): Order {');
      expect(p.segments.filter((s) => s.kind === 'definition')).toEqual([expect.objectContaining({ path: 'b.ts' })]);
      // The windows took back the room the snippet did not use.
      expect(p.budget.prompt).toBeGreaterThan(3000);
    }
  });
});
