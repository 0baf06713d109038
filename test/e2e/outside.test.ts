// Writes and reads outside where they belong (security findings 1 and 2), over stdio against recording fakes:
// command arguments cannot steer a file write, and symbolic links that lead out of the workspace are not followed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type Reply } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED } from '../wait.js';
import { failure, RESOLVE_CAPS, startServer, stopChecked } from './servers.js';

const fakes: FakeVllm[] = [];
let client: LspClient | undefined;

afterEach(async () => {
  const c = client;
  client = undefined;
  await stopChecked(c, fakes);
});

/** Text that only the file outside the workspace holds. */
const FAR = 'outsideTarget9d41';
const TARGET = [`export function area(r: number): number {`, `  const ${FAR} = 3.14;`, `  return ${FAR} * r * r;`, '}', '', 'export const unit = area(1);', ''].join('\n');
const APP = ["import { area } from './ext.js';", '', 'export function ring(a: number, b: number): number {', '  return area(a) - area(b);', '}', ''].join('\n');
const CAPS = { ...RESOLVE_CAPS, window: { workDoneProgress: true, showDocument: { support: true } }, workspace: { workspaceEdit: { documentChanges: true, resourceOperations: ['create'] } } };

/** A workspace and, beside it, a directory it must never reach. */
function layout(files: Record<string, string>, links: Record<string, string>): { root: string; elsewhere: string } {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-outside-')));
  const root = join(base, 'repo');
  const elsewhere = join(base, 'elsewhere');
  mkdirSync(root);
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'target.ts'), TARGET);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  for (const [rel, target] of Object.entries(links)) symlinkSync(target.replace('$elsewhere', elsewhere), join(root, rel));
  return { root, elsewhere };
}

/** A recording cloud backend first on every route, an on-prem one after it; both answer `respond`. */
async function start(root: string | null, respond: () => Reply) {
  const cloud = await startFakeVllm({ model: 'big', respond });
  const local = await startFakeVllm({ respond });
  fakes.push(cloud, local);
  const started = await startServer({
    init: {
      backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'big' }, local: { kind: 'vllm', url: local.url } },
      routes: { inline: ['cloud', 'local'], action: ['cloud', 'local'], multiFile: ['cloud', 'local'] },
      inline: INLINE_UNHURRIED,
    },
    rootUri: root ? pathToFileURL(root).href : null,
    capabilities: CAPS,
    onRequest: (m) => (m === 'window/showDocument' ? { success: true } : m === 'workspace/applyEdit' ? { applied: true } : null),
  });
  client = started.client;
  if (root) await client.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end');
  return { c: client, cloud, local, state: started.state };
}

const posts = (...fs: FakeVllm[]) => fs.flatMap((f) => f.requests.filter((r) => r.method === 'POST'));
const exec = (c: LspClient, command: string, args: unknown) => failure(c.request('workspace/executeCommand', { command, arguments: args }));

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('command arguments cannot steer a write (security finding 1)', () => {
  it('tandem.explain with a path in range.start.line is refused with -32602 before any model call, and nothing is written anywhere', async () => {
    const { root } = layout({ 'src/app.ts': APP }, {});
    // The directory exists, so a server that built the answer's path from the argument could write there.
    const planted = join(realpathSync(mkdtempSync(join(tmpdir(), 'tandem-planted-'))), 'any', 'dir');
    mkdirSync(planted, { recursive: true });
    const { c, cloud, local, state } = await start(root, () => ({ text: 'Owned.' }));
    const uri = pathToFileURL(join(root, 'src', 'app.ts')).href;
    c.open(uri, 'typescript', APP);
    const at = { line: 0, character: 0 };
    const traversal = `/../../../../../../../..${planted}/planted`;
    const err = await exec(c, 'tandem.explain', [{ uri, range: { start: { line: traversal, character: 0 }, end: at } }]);
    expect(err?.code).toBe(-32602);
    expect(err?.message).toContain('tandem.explain: arguments[0].range.start.line: expected a non-negative integer (got "/../');
    expect(posts(cloud, local)).toEqual([]);
    expect(filesUnder(dirname(planted))).toEqual([]);
    expect(filesUnder(state)).toEqual([]);
    // A well-formed explain writes its answer under the state directory's answers/, named by the server.
    expect(await c.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri, range: { start: at, end: { line: 4, character: 1 } } }] })).toEqual({ markdown: 'Owned.' });
    await expect.poll(() => c.serverRequests.some((r) => r.method === 'window/showDocument')).toBe(true);
    const written = filesUnder(state).filter((f) => !f.endsWith('.jsonl') && !f.endsWith('spend.json'));
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(new RegExp(`^${join(state, 'tandem', 'answers').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/app\\.ts-[0-9a-f]{12}-L1\\.md$`));
  });

  it('every command and every action datum is checked for shape: -32602 naming the argument, no model call', async () => {
    const { root } = layout({ 'src/app.ts': APP }, {});
    const { c, cloud, local } = await start(root, () => ({ text: 'x' }));
    const uri = pathToFileURL(join(root, 'src', 'app.ts')).href;
    c.open(uri, 'typescript', APP);
    const range = { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } };
    const cases: [string, unknown, string][] = [
      ['tandem.explain', [{ uri, range: { start: { line: 0, character: -1 }, end: range.end } }], 'arguments[0].range.start.character: expected a non-negative integer (got -1)'],
      ['tandem.explain', [{ uri, range, open: 'no' }], 'arguments[0].open: expected true or false'],
      ['tandem.explain', { uri, range }, 'arguments must be a list'],
      ['tandem.edit', [{ uri, range: { start: range.start }, instruction: 'x' }], 'arguments[0].range.end: expected a position'],
      ['tandem.edit', [{ uri, range, instruction: 'x', scope: 'project' }], 'scope must be "file" or "workspace", not "project"'],
      ['tandem.edit', [{ uri: 7, range, instruction: 'x' }], 'arguments[0].uri: expected a document URI (got 7)'],
      ['tandem.compare', [{ uri, range, backends: ['cloud', 'cloud'] }], 'arguments[0].backends: backends must name two different backends'],
      ['tandem.compare', [{ uri, range, instruction: 3 }], 'arguments[0].instruction: instruction must be a string'],
      ['tandem.applyAction', [{ id: '../../x', uri, version: 1, start: 0, end: 5 }], 'arguments[0].id: expected one of: edit, explain, document'],
      ['tandem.applyAction', [{ id: 'simplify', uri, version: 1, start: '0', end: 5 }], 'arguments[0].start: expected a non-negative integer (got "0")'],
      ['tandem.accepted', [{ id: 42 }], 'arguments[0].id: expected the completion id (got 42)'],
      ['tandem.stats', [{ x: 1 }], 'tandem.stats takes no arguments'],
    ];
    for (const [command, args, message] of cases) {
      const err = await exec(c, command, args);
      expect(err?.code, `${command} ${JSON.stringify(args)}`).toBe(-32602);
      expect(err?.message).toContain(message);
    }
    const bad = await failure(c.request('codeAction/resolve', { title: 'x', data: { id: 'simplify', uri, version: 1.5, start: 0, end: 5 } }));
    expect(bad?.code).toBe(-32602);
    expect(bad?.message).toContain('data.version: expected an integer (got 1.5)');
    expect(posts(cloud, local)).toEqual([]);
  });
});

describe('symbolic links that lead out of the workspace (security finding 2)', () => {
  it('a linked file outside is never context nor part of a multi-file prompt, for any backend, and never gets an edit', async () => {
    const { root, elsewhere } = layout({ 'src/app.ts': APP }, { 'src/ext.ts': '$elsewhere/target.ts' });
    // The model (which has not seen it) tries to edit the outside file through its in-workspace spelling.
    const { c, cloud, local } = await start(root, () => ({ text: ['src/ext.ts', '<<<<<<< SEARCH', 'export function area(r: number): number {', '=======', 'export function area(r: number): number { return 0;', '>>>>>>> REPLACE'].join('\n') }));
    const uri = pathToFileURL(join(root, 'src', 'app.ts')).href;
    c.open(uri, 'typescript', APP);
    const at = { line: 3, character: 10 };
    await c.inline(uri, at).result;
    await exec(c, 'tandem.explain', [{ uri, range: { start: at, end: at }, open: false }]);
    const whole = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    const edit = await exec(c, 'tandem.edit', [{ uri, range: whole, instruction: 'inline area', scope: 'workspace' }]);
    expect(edit?.code).toBe(-32803);
    expect(edit?.message).toContain('names src/ext.ts, which is not one of the files given (src/app.ts)');
    // Asked about the definition's other callers, the file outside is not one of them.
    const actions = (await c.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 2, character: 18 }, end: { line: 2, character: 18 } }, context: { diagnostics: [] } })) as any[];
    await failure(c.request('codeAction/resolve', actions.find((a) => a.data?.id === 'updateCallSites')));
    const sent = posts(cloud, local);
    expect(sent.length).toBeGreaterThan(3);
    for (const r of sent) {
      expect(r.rawBody).not.toContain(FAR);
      expect(r.rawBody).not.toContain('export const unit');
    }
    expect(c.serverRequests.filter((r) => r.method === 'workspace/applyEdit')).toEqual([]);
    expect(readFileSync(join(elsewhere, 'target.ts'), 'utf8')).toBe(TARGET);
  });

  it('generateTests refuses a tests/ directory that is a link leading out, before asking any model, and creates nothing there', async () => {
    const { root, elsewhere } = layout({ 'app/orders.py': 'def total(items):\n    return sum(i.price for i in items)\n' }, { tests: '$elsewhere' });
    const { c, cloud, local } = await start(root, () => ({ text: '```python\nfrom app.orders import total\n\ndef test_total():\n    assert total([]) == 0\n```' }));
    const uri = pathToFileURL(join(root, 'app', 'orders.py')).href;
    c.open(uri, 'python', readFileSync(join(root, 'app', 'orders.py'), 'utf8'));
    const actions = (await c.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 1, character: 4 }, end: { line: 1, character: 4 } }, context: { diagnostics: [] } })) as any[];
    const err = await failure(c.request('codeAction/resolve', actions.find((a) => a.data?.id === 'generateTests')));
    expect(err?.code).toBe(-32803);
    expect(err?.message).toContain(`tests/test_orders.py would be created at ${join(elsewhere, 'test_orders.py')}, outside the workspace folder ${root}`);
    expect(posts(cloud, local)).toEqual([]);
    expect(readdirSync(elsewhere)).toEqual(['target.ts']);
  });
});
