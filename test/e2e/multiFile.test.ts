// Multi-file actions over stdio, in a real workspace folder: update call sites across three files
// (applied by the client), generate tests as a new file, tandem.edit on the workspace, tandem.compare.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest, type Reply } from '../fake/vllm.js';
import { LspClient, STUCK_MS } from '../lsp-client.js';
import { stopChecked } from './servers.js';

const fakes: FakeVllm[] = [];
let client: LspClient | undefined;

afterEach(async () => {
  const c = client;
  client = undefined;
  await stopChecked(c, fakes);
});

const block = (path: string, search: string[], replace: string[]) => [path, '<<<<<<< SEARCH', ...search, '=======', ...replace, '>>>>>>> REPLACE'].join('\n');
const chats = (f: FakeVllm) => f.requests.filter((r) => r.path === '/v1/chat/completions');
const CAPS = { textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } }, window: { workDoneProgress: true }, workspace: { workspaceEdit: { documentChanges: true, resourceOperations: ['create'] } } };

function workspace(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tandem-multi-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

async function fake(respond: (req: RecordedRequest) => Reply | Promise<Reply>, opts: { latencyMs?: number; model?: string } = {}) {
  const f = await startFakeVllm({ respond, latencyMs: opts.latencyMs ?? 0, tokenIntervalMs: 0, ...(opts.model ? { model: opts.model } : {}) });
  fakes.push(f);
  return f;
}

async function start(root: string, init: unknown, opts: { capabilities?: unknown; onRequest?: (method: string, params: any) => unknown } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'tandem-multi-home-'));
  client = new LspClient({ env: { XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '' }, ...(opts.onRequest ? { onRequest: opts.onRequest } : {}) });
  await client.initialize({ capabilities: opts.capabilities ?? CAPS, initializationOptions: init, workspaceFolders: [{ uri: pathToFileURL(root).href, name: 'shop' }] });
  // The index of the folder is built in the background: wait for its progress to end.
  await client.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end');
  return { client, home };
}

/** Applies a WorkspaceEdit as an editor would: versioned edits to open text, unversioned to disk, creates first. */
function applyToDisk(edit: any, open: Map<string, { text: string; version: number }>): void {
  for (const change of edit.documentChanges) {
    if (change.kind === 'create') {
      const path = fileURLToPath(change.uri);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, '', { flag: 'wx' }); // overwrite: false
      continue;
    }
    const uri = change.textDocument.uri;
    const mine = open.get(uri);
    if (mine && change.textDocument.version !== mine.version) throw new Error(`version mismatch for ${uri}`);
    const text = mine ? mine.text : readFileSync(fileURLToPath(uri), 'utf8');
    const doc = TextDocument.create(uri, 'x', 0, text);
    const out = TextDocument.applyEdits(doc, change.edits);
    if (mine) mine.text = out;
    writeFileSync(fileURLToPath(uri), out);
  }
}

const GEO_SAVED = ['export function area(r: number): number {', '  return Math.PI * r * r;', '}', '', 'export function ring(outer: number, inner: number): number {', '  return area(outer) - area(inner);', '}', ''].join('\n');
const GEO_NOW = GEO_SAVED.replace('export function area(r: number): number {', "export function area(r: number, unit: 'cm' | 'm'): number {").replace('  return Math.PI * r * r;', "  const k = unit === 'm' ? 10_000 : 1;\n  return k * Math.PI * r * r;");
const REPORT = ["import { area } from './geo.js';", '', 'export function report(r: number): string {', '  return `area: ${area(r)}`;', '}', ''].join('\n');
const CLI = ["import { area as size } from './geo.js';", "import * as geo from './geo.js';", '', 'export function main(args: string[]): void {', '  const r = Number(args[0]);', '  console.log(geo.area(r));', '}', ''].join('\n');
const UNRELATED = ['export function area(w: number, h: number): number {', '  return w * h;', '}', '', 'export const x = area(1, 2);', ''].join('\n');

describe('update call sites', () => {
  it('finds the calls in three files through the index, sends them with the new definition, and the client applies one WorkspaceEdit', async () => {
    const root = workspace({ 'src/geo.ts': GEO_SAVED, 'src/report.ts': REPORT, 'src/cli.ts': CLI, 'lib/rect.ts': UNRELATED });
    const answer = [
      'Here are the updates.',
      block('src/geo.ts', ['  return area(outer) - area(inner);'], ["  return area(outer, 'cm') - area(inner, 'cm');"]),
      '',
      '```ts',
      block('src/report.ts', ['  return `area: ${area(r)}`;'], ["  return `area: ${area(r, 'cm')}`;"]),
      '```',
      block('src/cli.ts', ['  console.log(geo.area(r));'], ["  console.log(geo.area(r, 'cm'));"]),
    ].join('\n');
    const cloud = await fake(() => ({ text: answer }), { model: 'big' });
    const onprem = await fake(() => ({ text: 'not used' }));
    const geoUri = pathToFileURL(join(root, 'src', 'geo.ts')).href;
    const open = new Map([[geoUri, { text: GEO_NOW, version: 4 }]]);
    const { client } = await start(root, { backends: { local: { kind: 'vllm', url: onprem.url }, cloud: { kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'big' } }, routes: { inline: ['local'], action: ['local'], multiFile: ['cloud', 'local'] } }, {
      capabilities: { ...CAPS, textDocument: { inlineCompletion: {} } },
      onRequest: (m, p) => {
        if (m !== 'workspace/applyEdit') return null;
        applyToDisk(p.edit, open);
        return { applied: true };
      },
    });
    client.open(geoUri, 'typescript', GEO_NOW, 4);
    const actions = (await client.request('textDocument/codeAction', { textDocument: { uri: geoUri }, range: { start: { line: 0, character: 30 }, end: { line: 0, character: 30 } }, context: { diagnostics: [] } })) as any[];
    const update = actions.find((a) => a.kind === 'source.tandem.updateCallSites');
    expect(update.title).toBe('Update call sites of area (tandem)');
    expect(update.command.command).toBe('tandem.applyAction');
    expect(chats(cloud)).toHaveLength(0);
    const res = await client.request('workspace/executeCommand', { command: update.command.command, arguments: update.command.arguments });
    expect(res).toEqual({ applied: true });

    // Routed as multiFile (cloud first); the prompt holds the definition, the saved signature and every call, nothing of lib/rect.ts.
    expect(chats(onprem)).toHaveLength(0);
    const user: string = chats(cloud)[0]!.body.messages[1].content;
    expect(user).toContain("export function area(r: number, unit: 'cm' | 'm'): number {");
    expect(user).toContain('The definition as last saved, for comparison:\n```typescript\nexport function area(r: number): number {');
    expect(user).toContain('src/report.ts\n(lines 1-5)');
    expect(user).toContain('  console.log(geo.area(r));');
    expect(user).toContain('  return area(outer) - area(inner);');
    expect(user).not.toContain('lib/rect.ts');
    expect(chats(cloud)[0]!.body.messages[0].content).toContain('write the\npath of the file it changes');

    const edit = client.serverRequests.find((r) => r.method === 'workspace/applyEdit')!.params.edit;
    expect(edit.documentChanges.map((c: any) => [c.textDocument.uri.slice(-9), c.textDocument.version])).toEqual([
      ['rc/geo.ts', 4],
      ['report.ts', null],
      ['rc/cli.ts', null],
    ]);
    expect(open.get(geoUri)!.text).toBe(GEO_NOW.replace('  return area(outer) - area(inner);', "  return area(outer, 'cm') - area(inner, 'cm');"));
    expect(readFileSync(join(root, 'src', 'report.ts'), 'utf8')).toBe(REPORT.replace('${area(r)}', "${area(r, 'cm')}"));
    expect(readFileSync(join(root, 'src', 'cli.ts'), 'utf8')).toBe(CLI.replace('geo.area(r)', "geo.area(r, 'cm')"));
    expect(readFileSync(join(root, 'lib', 'rect.ts'), 'utf8')).toBe(UNRELATED);
  });

  it('a block for a file that was not sent, or a file changed on disk meanwhile, is refused', async () => {
    const root = workspace({ 'src/geo.ts': GEO_SAVED, 'src/report.ts': REPORT });
    let n = 0;
    const f = await fake(() => {
      n++;
      if (n <= 2) return { text: block('src/other.ts', ['x'], ['y']) };
      // While the model answers, the user's other tool rewrites report.ts.
      writeFileSync(join(root, 'src', 'report.ts'), `${REPORT}// touched\n`);
      return { text: block('src/report.ts', ['  return `area: ${area(r)}`;'], ["  return `area: ${area(r, 'cm')}`;"]) };
    });
    const geoUri = pathToFileURL(join(root, 'src', 'geo.ts')).href;
    const { client } = await start(root, { backends: { chat: { kind: 'vllm', url: f.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] } });
    client.open(geoUri, 'typescript', GEO_NOW, 2);
    const list = async () => ((await client.request('textDocument/codeAction', { textDocument: { uri: geoUri }, range: { start: { line: 0, character: 18 }, end: { line: 0, character: 18 } }, context: { diagnostics: [] } })) as any[]).find((a) => a.data?.id === 'updateCallSites');
    const err = await client.request('codeAction/resolve', await list()).then(() => undefined, (e) => e);
    expect(err?.code).toBe(-32803);
    expect(err?.message).toContain('names src/other.ts, which is not one of the files given');
    expect(chats(f)).toHaveLength(2); // one retry with the problem fed back
    expect(chats(f)[1]!.body.messages.at(-1).content).toContain('That edit was rejected: block 1 names src/other.ts');
    const stale = await client.request('codeAction/resolve', await list()).then(() => undefined, (e) => e);
    expect(stale?.code).toBe(-32801);
    expect(stale?.message).toContain('src/report.ts changed while the model answered');
  });
});

describe('multi-file privacy and cancellation', () => {
  it('a call site in an onPremOnly file keeps the whole request on-prem, though multiFile routes to the cloud first', async () => {
    const root = workspace({ 'src/geo.ts': GEO_SAVED, 'src/report.ts': REPORT, 'src/cli.ts': CLI });
    const answer = block('src/cli.ts', ['  console.log(geo.area(r));'], ["  console.log(geo.area(r, 'cm'));"]);
    const cloud = await fake(() => ({ text: answer }), { model: 'big' });
    const onprem = await fake(() => ({ text: answer }));
    const geoUri = pathToFileURL(join(root, 'src', 'geo.ts')).href;
    const { client } = await start(root, { backends: { local: { kind: 'vllm', url: onprem.url }, cloud: { kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'big' } }, routes: { inline: ['local'], action: ['local'], multiFile: ['cloud', 'local'] }, privacy: { onPremOnly: ['src/cli.ts'] } });
    client.open(geoUri, 'typescript', GEO_NOW, 2);
    const actions = (await client.request('textDocument/codeAction', { textDocument: { uri: geoUri }, range: { start: { line: 0, character: 18 }, end: { line: 0, character: 18 } }, context: { diagnostics: [] } })) as any[];
    const resolved = (await client.request('codeAction/resolve', actions.find((a) => a.data?.id === 'updateCallSites'))) as any;
    expect(resolved.edit.documentChanges).toHaveLength(1);
    expect(chats(onprem)).toHaveLength(1);
    expect(chats(cloud)).toHaveLength(0);
  });

  it('$/cancelRequest on a multi-file resolve or a compare closes every model request', async () => {
    const root = workspace({ 'src/math.ts': 'export function inc(x: number): number {\n  return x + 1;\n}\n' });
    const a = await fake(() => ({ hang: true }));
    const b = await fake(() => ({ hang: true }));
    const uri = pathToFileURL(join(root, 'src', 'math.ts')).href;
    const { client } = await start(root, { backends: { one: { kind: 'vllm', url: a.url }, two: { kind: 'vllm', url: b.url } }, routes: { inline: ['one'], action: ['one', 'two'], multiFile: ['one'] } });
    client.open(uri, 'typescript', 'export function inc(x: number): number {\n  return x + 1;\n}\n');
    const actions = (await client.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, context: { diagnostics: [] } })) as any[];
    const gen = client.send('codeAction/resolve', actions.find((x) => x.data?.id === 'generateTests'));
    const first = await a.waitFor((r) => r.path === '/v1/chat/completions');
    client.cancel(gen.id);
    expect((await gen.result.then(() => undefined, (e) => e))?.code).toBe(-32800);
    await expect.poll(() => first.closedAt, { timeout: STUCK_MS }).not.toBeNull();

    const cmp = client.send('workspace/executeCommand', { command: 'tandem.compare', arguments: [{ uri, range: { start: { line: 0, character: 0 }, end: { line: 2, character: 1 } } }] });
    const [ra, rb] = await Promise.all([a.waitFor((r) => r.path === '/v1/chat/completions' && r !== first), b.waitFor((r) => r.path === '/v1/chat/completions')]);
    client.cancel(cmp.id);
    expect((await cmp.result.then(() => undefined, (e) => e))?.code).toBe(-32800);
    await expect.poll(() => ra.closedAt !== null && rb.closedAt !== null, { timeout: STUCK_MS }).toBe(true);
  });
});

describe('generate tests', () => {
  const MATH = ['export function clamp(x: number, lo: number, hi: number): number {', '  if (lo > hi) throw new RangeError("lo > hi");', '  return Math.min(hi, Math.max(lo, x));', '}', ''].join('\n');
  const UTIL_TEST = ["import { describe, expect, it } from 'vitest';", "import { pad } from '../src/util.js';", '', "describe('pad', () => {", "  it('pads', () => expect(pad('1', 2)).toBe(' 1'));", '});', ''].join('\n');
  const GENERATED = ["import { describe, expect, it } from 'vitest';", "import { clamp } from '../src/math.js';", '', "describe('clamp', () => {", "  it('keeps values in range', () => expect(clamp(5, 0, 3)).toBe(3));", "  it('throws when lo > hi', () => expect(() => clamp(1, 2, 0)).toThrow(RangeError));", '});', ''].join('\n');

  it("creates a new file where the project keeps its tests, in its framework, with CreateFile and an insert", async () => {
    const root = workspace({ 'src/math.ts': MATH, 'src/util.ts': 'export function pad(s: string, n: number): string {\n  return s.padStart(n);\n}\n', 'test/util.test.ts': UTIL_TEST, 'package.json': '{"devDependencies": {"vitest": "^4.0.0"}}\n' });
    let n = 0;
    const f = await fake(() => (++n === 1 ? { text: '```ts\nimport { clamp } from "../src/math.js";\ndescribe("clamp", () => {\n  it("x", () => {\n```' } : { text: `Here are the tests:\n\n\`\`\`typescript\n${GENERATED}\`\`\`\n` }));
    const uri = pathToFileURL(join(root, 'src', 'math.ts')).href;
    const { client } = await start(root, { backends: { chat: { kind: 'vllm', url: f.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] } });
    client.open(uri, 'typescript', MATH);
    const actions = (await client.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 2, character: 4 }, end: { line: 2, character: 4 } }, context: { diagnostics: [] } })) as any[];
    const gen = actions.find((a) => a.kind === 'source.tandem.generateTests');
    expect(gen.title).toBe('Generate tests for this function (tandem)');
    const resolved = (await client.request('codeAction/resolve', gen)) as any;
    const testUri = pathToFileURL(join(root, 'test', 'math.test.ts')).href;
    expect(resolved.edit).toEqual({
      documentChanges: [
        { kind: 'create', uri: testUri, options: { overwrite: false, ignoreIfExists: false } },
        { textDocument: { uri: testUri, version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: GENERATED }] },
      ],
    });
    // The first answer did not parse (cut off): one retry, with the problem said.
    expect(chats(f)).toHaveLength(2);
    const user: string = chats(f)[0]!.body.messages[1].content;
    expect(user).toContain('Write unit tests for `clamp` from src/math.ts, as a new file test/math.test.ts.');
    expect(user).toContain("Framework: vitest. Reach the code under test with: import { clamp } from '../src/math.js';");
    expect(user).toContain('An existing test file of the project (test/util.test.ts), for its style:');
    expect(chats(f)[1]!.body.messages.at(-1).content).toContain('the test file does not parse');
  });

  it('Python: pytest beside the tests/ folder, named test_<module>.py', async () => {
    const root = workspace({ 'app/orders.py': 'def total(items):\n    return sum(i.price for i in items)\n', 'app/users.py': 'def name(u):\n    return u.name\n', 'tests/test_users.py': 'import pytest\nfrom app.users import name\n\ndef test_name():\n    assert name(type("U", (), {"name": "a"})()) == "a"\n' });
    const f = await fake(() => ({ text: '```python\nfrom app.orders import total\n\ndef test_total_empty():\n    assert total([]) == 0\n```' }));
    const uri = pathToFileURL(join(root, 'app', 'orders.py')).href;
    const { client } = await start(root, { backends: { chat: { kind: 'vllm', url: f.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] } });
    client.open(uri, 'python', readFileSync(join(root, 'app', 'orders.py'), 'utf8'));
    const actions = (await client.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 1, character: 4 }, end: { line: 1, character: 4 } }, context: { diagnostics: [] } })) as any[];
    const resolved = (await client.request('codeAction/resolve', actions.find((a) => a.data?.id === 'generateTests'))) as any;
    expect(resolved.edit.documentChanges[0]).toEqual({ kind: 'create', uri: pathToFileURL(join(root, 'tests', 'test_orders.py')).href, options: { overwrite: false, ignoreIfExists: false } });
    expect(resolved.edit.documentChanges[1].edits[0].newText).toBe('from app.orders import total\n\ndef test_total_empty():\n    assert total([]) == 0\n');
    const user: string = chats(f)[0]!.body.messages[1].content;
    expect(user).toContain('Framework: pytest. Reach the code under test with: from app.orders import total');
  });
});

describe('tandem.edit on the workspace', () => {
  it('sends the document and the files it imports or that import it; the edit spans them and goes out with versions', async () => {
    const root = workspace({ 'src/geo.ts': GEO_SAVED, 'src/report.ts': REPORT, 'lib/rect.ts': UNRELATED });
    const f = await fake(() => ({ text: [block('src/geo.ts', ['export function area(r: number): number {'], ['export function circleArea(r: number): number {']), block('src/geo.ts', ['  return area(outer) - area(inner);'], ['  return circleArea(outer) - circleArea(inner);']), block('src/report.ts', ["import { area } from './geo.js';", '', 'export function report(r: number): string {', '  return `area: ${area(r)}`;'], ["import { circleArea } from './geo.js';", '', 'export function report(r: number): string {', '  return `area: ${circleArea(r)}`;'])].join('\n') }));
    const geoUri = pathToFileURL(join(root, 'src', 'geo.ts')).href;
    const { client } = await start(root, { backends: { chat: { kind: 'vllm', url: f.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] } }, { onRequest: (m) => (m === 'workspace/applyEdit' ? { applied: true } : null) });
    client.open(geoUri, 'typescript', GEO_SAVED, 7);
    const res = await client.request('workspace/executeCommand', { command: 'tandem.edit', arguments: [{ uri: geoUri, range: { start: { line: 0, character: 0 }, end: { line: 2, character: 1 } }, instruction: 'rename area to circleArea everywhere', scope: 'workspace' }] });
    expect(res).toEqual({ applied: true });
    const user: string = chats(f)[0]!.body.messages[1].content;
    expect(user).toContain('Edit as asked: rename area to circleArea everywhere');
    expect(user).toContain('The request is about src/geo.ts, lines 1-3.');
    expect(user).toContain('src/report.ts\n```typescript\n' + REPORT.replace(/\n$/, ''));
    expect(user).not.toContain('lib/rect.ts');
    const edit = client.serverRequests.find((r) => r.method === 'workspace/applyEdit')!.params.edit;
    const reportUri = pathToFileURL(join(root, 'src', 'report.ts')).href;
    expect(edit).toEqual({
      documentChanges: [
        { textDocument: { uri: geoUri, version: 7 }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 41 } }, newText: 'export function circleArea(r: number): number {' }, { range: { start: { line: 5, character: 0 }, end: { line: 5, character: 35 } }, newText: '  return circleArea(outer) - circleArea(inner);' }] },
        { textDocument: { uri: reportUri, version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 3, character: 28 } }, newText: "import { circleArea } from './geo.js';\n\nexport function report(r: number): string {\n  return `area: ${circleArea(r)}`;" }] },
      ],
    });
  });
});

describe('tandem.compare', () => {
  it('asks two backends at once and returns one Markdown document with each answer, its latency and tokens', async () => {
    const root = workspace({ 'src/geo.ts': GEO_SAVED });
    const a = await fake(() => ({ text: 'It computes the **area** of a circle.' }), { model: 'qwen-coder', latencyMs: 30 });
    const b = await fake(() => ({ text: 'Circle area: pi r squared.' }), { model: 'gpt-big' });
    const uri = pathToFileURL(join(root, 'src', 'geo.ts')).href;
    const { client } = await start(root, { backends: { onprem: { kind: 'vllm', url: a.url }, cloud: { kind: 'openai', url: `${b.url}/v1`, location: 'cloud', model: 'gpt-big' } }, routes: { inline: ['onprem'], action: ['onprem'], multiFile: ['cloud'] } });
    client.open(uri, 'typescript', GEO_SAVED);
    const range = { start: { line: 0, character: 0 }, end: { line: 2, character: 1 } };
    const res = (await client.request('workspace/executeCommand', { command: 'tandem.compare', arguments: [{ uri, range }] })) as any;
    expect(res.answers.map((x: any) => [x.backend, x.model, x.text])).toEqual([
      ['onprem', 'qwen-coder', 'It computes the **area** of a circle.'],
      ['cloud', 'gpt-big', 'Circle area: pi r squared.'],
    ]);
    expect(res.answers[0].latencyMs).toBeGreaterThanOrEqual(30);
    expect(res.answers[0].tokensIn).toBeGreaterThan(0);
    expect(res.markdown).toContain('# tandem compare: explain, src/geo.ts:1-3');
    expect(res.markdown).toContain('| backend | model | latency | tokens in / out |');
    expect(res.markdown).toContain('## onprem (qwen-coder)\n\nIt computes the **area** of a circle.');
    expect(res.markdown).toContain('## cloud (gpt-big)\n\nCircle area: pi r squared.');
    expect(chats(a)[0]!.body.messages[1].content).toBe(chats(b)[0]!.body.messages[1].content);

    // With an instruction: each proposal as a diff, nothing applied.
    const edit = (await client.request('workspace/executeCommand', { command: 'tandem.compare', arguments: [{ uri, range, instruction: 'use r ** 2', backends: ['cloud', 'onprem'] }] })) as any;
    expect(edit.answers.map((x: any) => x.backend)).toEqual(['cloud', 'onprem']);
    expect(edit.answers.every((x: any) => x.error === 'the edit does not apply: the answer holds no SEARCH/REPLACE block')).toBe(true);
    expect(client.serverRequests.some((r) => r.method === 'workspace/applyEdit')).toBe(false);
  });

  it('never asks a cloud backend about an onPremOnly file, and says why', async () => {
    const root = workspace({ 'secret/keys.ts': GEO_SAVED });
    const a = await fake(() => ({ text: 'x' }));
    const b = await fake(() => ({ text: 'y' }));
    const uri = pathToFileURL(join(root, 'secret', 'keys.ts')).href;
    const { client } = await start(root, { backends: { onprem: { kind: 'vllm', url: a.url }, cloud: { kind: 'openai', url: `${b.url}/v1`, location: 'cloud', model: 'gpt-big' } }, routes: { inline: ['onprem'], action: ['onprem'], multiFile: ['cloud'] }, privacy: { onPremOnly: ['secret/**'] } });
    client.open(uri, 'typescript', GEO_SAVED);
    const err = await client.request('workspace/executeCommand', { command: 'tandem.compare', arguments: [{ uri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, backends: ['onprem', 'cloud'] }] }).then(() => undefined, (e) => e);
    expect(err?.code).toBe(-32602);
    expect(err?.message).toContain('prompt holds secret/keys.ts (privacy.onPremOnly)');
    expect(chats(b)).toHaveLength(0);
  });
});

describe('tandem.explain opens the answer', () => {
  it('as a Markdown document via window/showDocument when the client supports it, unless open: false', async () => {
    const root = workspace({ 'src/geo.ts': GEO_SAVED });
    const f = await fake(() => ({ text: 'Area of a circle.' }));
    const uri = pathToFileURL(join(root, 'src', 'geo.ts')).href;
    const { client, home } = await start(root, { backends: { chat: { kind: 'vllm', url: f.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] } }, { capabilities: { ...CAPS, window: { workDoneProgress: true, showDocument: { support: true } } }, onRequest: (m) => (m === 'window/showDocument' ? { success: true } : null) });
    client.open(uri, 'typescript', GEO_SAVED);
    const range = { start: { line: 0, character: 0 }, end: { line: 2, character: 1 } };
    expect(await client.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri, range }] })).toEqual({ markdown: 'Area of a circle.' });
    const shown = client.serverRequests.filter((r) => r.method === 'window/showDocument');
    expect(shown).toHaveLength(1);
    // Named from the file's base name, a hash of its URI and the line: nothing of the arguments' text.
    const hash = createHash('sha256').update(uri).digest('hex').slice(0, 12);
    expect(shown[0]!.params.uri).toBe(pathToFileURL(join(home, 'state', 'tandem', 'answers', `geo.ts-${hash}-L1.md`)).href);
    expect(readFileSync(fileURLToPath(shown[0]!.params.uri), 'utf8')).toBe('Area of a circle.');
    await client.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri, range, open: false }] });
    expect(client.serverRequests.filter((r) => r.method === 'window/showDocument')).toHaveLength(1);
  });

  it('as a message where the client cannot show documents; an Explain action passes through codeAction/resolve unchanged', async () => {
    const root = workspace({ 'src/geo.ts': GEO_SAVED });
    const f = await fake(() => ({ text: 'Area of a circle.' }));
    const uri = pathToFileURL(join(root, 'src', 'geo.ts')).href;
    const { client } = await start(root, { backends: { chat: { kind: 'vllm', url: f.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] } });
    client.open(uri, 'typescript', GEO_SAVED);
    const actions = (await client.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, context: { diagnostics: [] } })) as any[];
    const explain = actions.find((a) => a.kind === 'source.tandem.explain');
    expect(await client.request('codeAction/resolve', explain)).toEqual(explain);
    await client.request('workspace/executeCommand', explain.command);
    const shown = await client.waitForNotification((n) => n.method === 'window/showMessage');
    expect(shown.params).toEqual({ type: 3, message: 'Area of a circle.' });
  });
});

describe('clients that cannot create files', () => {
  it('get the new test file as an insert into its URI alone, without CreateFile (eglot, Neovim open a buffer for it)', async () => {
    const root = workspace({ 'src/geo.ts': GEO_SAVED });
    const f = await fake(() => ({ text: "```ts\nimport { area } from './geo.js';\n```" }));
    const uri = pathToFileURL(join(root, 'src', 'geo.ts')).href;
    const { client } = await start(root, { backends: { chat: { kind: 'vllm', url: f.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] } }, { capabilities: { ...CAPS, workspace: { workspaceEdit: { documentChanges: true } } } });
    client.open(uri, 'typescript', GEO_SAVED);
    const actions = (await client.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, context: { diagnostics: [] } })) as any[];
    const resolved = (await client.request('codeAction/resolve', actions.find((a) => a.data?.id === 'generateTests'))) as any;
    expect(resolved.edit).toEqual({ documentChanges: [{ textDocument: { uri: pathToFileURL(join(root, 'src', 'geo.test.ts')).href, version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: "import { area } from './geo.js';\n" }] }] });
  });
});
