// End to end: a workspace folder is indexed in the background and a completion's prompt holds a definition from another file.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { BIN, LspClient, STUCK_MS } from '../lsp-client.js';
import { INLINE_UNHURRIED, SOURCES_UNHURRIED, until } from '../wait.js';

let fake: FakeVllm;
let client: LspClient | undefined;
let home: string;
let root: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per open document: its version and line count, for the lines promptWhen adds. */
const docs = new Map<string, { version: number; lines: number }>();

function open(c: LspClient, uri: string, text: string): void {
  c.open(uri, 'typescript', text);
  docs.set(uri, { version: 1, lines: text.split('\n').length });
}

/**
 * Asks for completions until the prompt the fake received satisfies `ok` (background work on a
 * slow machine), and returns the last prompt; past a bound that only a stuck server reaches, the
 * caller's expectation fails on it. Each retry first adds a line at the end of the document, so
 * the completion cache does not answer it.
 */
async function promptWhen(c: LspClient, uri: string, position: { line: number; character: number }, ok: (prompt: string) => boolean): Promise<string> {
  const end = performance.now() + STUCK_MS;
  const doc = docs.get(uri)!;
  for (;;) {
    await c.inline(uri, position).result;
    const prompt: string = fake.completions().at(-1)!.body.prompt;
    if (ok(prompt) || performance.now() > end) return prompt;
    await sleep(150);
    const last = doc.lines - 1;
    c.change(uri, ++doc.version, [{ range: { start: { line: last, character: 0 }, end: { line: last, character: 0 } }, text: '\n' }]);
    doc.lines++;
  }
}

beforeEach(async () => {
  home = mkdtempSync(join(tmpdir(), 'tandem-ctx-home-'));
  root = mkdtempSync(join(tmpdir(), 'tandem-ctx-ws-'));
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src', 'orders.ts'), 'export interface Order {\n  id: string;\n  total: number;\n}\n\nexport function parseOrder(raw: string, strict = false): Order {\n  return { id: raw, total: strict ? 1 : 0 };\n}\n');
  for (let i = 0; i < 30; i++) writeFileSync(join(root, 'src', `filler${i}.ts`), `export function filler${i}(n: number): number {\n  return n + ${i};\n}\n`);
  writeFileSync(join(root, 'src', 'broken.ts'), 'export function half( {{{\n');
  writeFileSync(join(root, 'src', 'blob.ts'), Buffer.from([1, 0, 2, 0]));
  fake = await startFakeVllm({ respond: () => ({ text: 'parseOrder(raw);' }) });
});

afterEach(async () => {
  if (client) {
    const c = client;
    client = undefined;
    await c.stop();
    expect(c.protocolErrors).toEqual([]);
  }
  await fake.close();
});

async function start(capabilities: unknown) {
  client = new LspClient({ env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '', TANDEM_LOG: 'info' } });
  await client.initialize({
    initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: INLINE_UNHURRIED, context: { sources: SOURCES_UNHURRIED } },
    capabilities,
    workspaceFolders: [{ uri: pathToFileURL(root).href, name: 'shop' }],
  });
  return client;
}

describe('workspace context over stdio', () => {
  it('indexes the folder with progress, and the prompt holds the imported definition from another file', async () => {
    const c = await start({ textDocument: { inlineCompletion: {} }, window: { workDoneProgress: true } });
    await c.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end');
    const progress = c.notifications.filter((n) => n.method === '$/progress').map((n) => n.params.value);
    expect(progress[0]).toMatchObject({ kind: 'begin', title: 'tandem' });
    expect(c.serverRequests.some((r) => r.method === 'window/workDoneProgress/create')).toBe(true);

    const uri = pathToFileURL(join(root, 'src', 'main.ts')).href;
    c.open(uri, 'typescript', "import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = \n}\n");
    const res = await c.inline(uri, { line: 3, character: 16 }).result;
    expect(res.items[0].insertText).toBe('parseOrder(raw);');
    const prompt: string = fake.completions().at(-1)!.body.prompt;
    expect(prompt.startsWith('<|repo_name|>')).toBe(true);
    expect(prompt).toContain('<|file_sep|>src/orders.ts\n');
    expect(prompt).toContain('export function parseOrder(raw: string, strict = false): Order {');
    expect(prompt).toContain('<|file_sep|>src/main.ts\n<|fim_prefix|>import { parseOrder }');
  });

  it('follows edits to other files: a definition written in an open document reaches the next prompt', async () => {
    const c = await start({ textDocument: { inlineCompletion: {} }, workspace: { didChangeWatchedFiles: { dynamicRegistration: true } } });
    const helper = pathToFileURL(join(root, 'src', 'helper.ts')).href;
    open(c, helper, 'export function shipOrder(orderId: string, express: boolean): void {}\n');
    writeFileSync(join(root, 'src', 'late.ts'), 'export function lateArrival(when: Date): number {\n  return when.getTime();\n}\n');
    c.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(join(root, 'src', 'late.ts')).href, type: 1 }] });
    const uri = pathToFileURL(join(root, 'src', 'main.ts')).href;
    open(c, uri, "import { shipOrder } from './helper.js';\nimport { lateArrival } from './late.js';\n\nshipOrder(\n");
    // The index re-reads an open document once its edits settle (about a second).
    const prompt = await promptWhen(c, uri, { line: 3, character: 10 }, (p) => p.includes('shipOrder(orderId') && p.includes('lateArrival(when'));
    expect(c.serverRequests.some((r) => r.method === 'client/registerCapability' && JSON.stringify(r.params).includes('workspace/didChangeWatchedFiles'))).toBe(true);
    expect(prompt).toContain('export function shipOrder(orderId: string, express: boolean): void {}');
    expect(prompt).toContain('export function lateArrival(when: Date): number {');
  });

  it('closes the brackets a completion left open (syntax check of the merged result)', async () => {
    fake.set({ respond: () => ({ text: 'parseOrder(raw, [1, 2' }) });
    const c = await start({ textDocument: { inlineCompletion: {} } });
    const uri = pathToFileURL(join(root, 'src', 'main.ts')).href;
    c.open(uri, 'typescript', "import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = \n}\n");
    // The check reads the document's tree, whose first parse waits for an idle moment; wait until the
    // server reports it holds one (listing code actions waits for it only so long: not on a busy machine).
    await c.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 3, character: 16 }, end: { line: 3, character: 16 } }, context: { diagnostics: [] } });
    await until(async () => ((await c.request('workspace/executeCommand', { command: 'tandem.stats' })) as { process: { parses: { trees: number } } }).process.parses.trees >= 1 || undefined, 'the document parsed', STUCK_MS, 50);
    // The check has a 12 ms budget of wall time, which a loaded machine can spend waiting for a
    // core: then the completion comes unchecked. Each try appends a line at the end of the file
    // (another cache key, the checked block unchanged); a check that does not close the brackets
    // fails every try.
    const insertTexts: string[] = [];
    for (let version = 2; version < 12; version++) {
      const res = await c.inline(uri, { line: 3, character: 16 }).result;
      insertTexts.push(res.items[0].insertText);
      if (insertTexts.at(-1) === 'parseOrder(raw, [1, 2])') break;
      c.change(uri, version, [{ range: { start: { line: 5, character: 0 }, end: { line: 5, character: 0 } }, text: `// ${version}\n` }]);
    }
    expect(insertTexts.at(-1), insertTexts.join(' | ')).toBe('parseOrder(raw, [1, 2])');
  });

  it('tandem-lsp prompt --json lists every segment with its kind, path and tokens, and each source', () => {
    writeFileSync(join(root, 'src', 'main.ts'), "import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = \n}\n");
    const cfg = join(home, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ backends: { fim: { kind: 'vllm', url: fake.url, model: 'Qwen/Qwen2.5-Coder-7B' } }, context: { sources: SOURCES_UNHURRIED } }));
    const r = spawnSync(process.execPath, [BIN, 'prompt', join(root, 'src', 'main.ts') + ':4:17', '--workspace', root, '--config', cfg, '--json'], { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' } });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.segments[0]).toMatchObject({ kind: 'definition', path: 'src/orders.ts' });
    expect(out.segments.map((s: { kind: string }) => s.kind)).toEqual(expect.arrayContaining(['definition', 'path', 'prefix', 'suffix']));
    for (const s of out.segments) expect(s.tokens).toBeGreaterThan(0);
    expect(out.context.sources.map((s: { name: string }) => s.name)).toEqual(['definitions', 'enclosing', 'recentEdits', 'similar']);
    // The whole context stage's time, which holds every source's.
    expect(typeof out.contextMs).toBe('number');
    for (const s of out.context.sources) expect(out.contextMs).toBeGreaterThanOrEqual(s.ms - 0.01);
    // And the process's CPU time meanwhile, which a wait for a core does not count.
    expect(typeof out.contextCpuMs).toBe('number');
    expect(out.contextCpuMs).toBeGreaterThanOrEqual(0);
    expect(out.prompt).toContain('export function parseOrder(raw: string, strict = false): Order {');
    expect(fake.completions()).toHaveLength(0); // a dry run
  });

  it('indexes a workspace folder added later, and forgets one removed', async () => {
    client = new LspClient({ env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' } });
    const init = await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: INLINE_UNHURRIED, context: { sources: SOURCES_UNHURRIED } }, capabilities: { textDocument: { inlineCompletion: {} }, workspace: { workspaceFolders: true } } });
    expect(init.capabilities.workspace.workspaceFolders).toEqual({ supported: true, changeNotifications: true });
    const folder = { uri: pathToFileURL(root).href, name: 'shop' };
    client.notify('workspace/didChangeWorkspaceFolders', { event: { added: [folder], removed: [] } });
    const uri = pathToFileURL(join(root, 'src', 'main.ts')).href;
    const text = "import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = \n}\n";
    open(client, uri, text);
    expect(await promptWhen(client, uri, { line: 3, character: 16 }, (p) => p.includes('<|file_sep|>src/orders.ts\n'))).toContain('<|file_sep|>src/orders.ts\n');
    client.notify('workspace/didChangeWorkspaceFolders', { event: { added: [], removed: [folder] } });
    expect(await promptWhen(client, uri, { line: 3, character: 16 }, (p) => !p.includes('export function parseOrder'))).not.toContain('export function parseOrder');
  });

  it('context.enabled switched off by the editor drops the index; prompts hold the current file only', async () => {
    const c = await start({ textDocument: { inlineCompletion: {} } });
    const uri = pathToFileURL(join(root, 'src', 'main.ts')).href;
    open(c, uri, "import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = \n}\n");
    expect(await promptWhen(c, uri, { line: 3, character: 16 }, (p) => p.includes('<|file_sep|>src/orders.ts'))).toContain('<|file_sep|>src/orders.ts');
    c.notify('workspace/didChangeConfiguration', { settings: { tandem: { context: { enabled: false } } } });
    const currentFileOnly = /^<\|fim_prefix\|>\/\/ Path: src\/main\.ts\nimport \{/;
    expect(await promptWhen(c, uri, { line: 3, character: 16 }, (p) => currentFileOnly.test(p))).toMatch(currentFileOnly);
  });

  it('serves completions with no workspace folder at all', async () => {
    client = new LspClient({ env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' } });
    await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: INLINE_UNHURRIED, context: { sources: SOURCES_UNHURRIED } }, capabilities: { textDocument: { inlineCompletion: {} }, window: { workDoneProgress: true } } });
    const uri = 'file:///nowhere/main.ts';
    client.open(uri, 'typescript', 'const x = \n');
    const res = await client.inline(uri, { line: 0, character: 10 }).result;
    expect(res.items).toHaveLength(1);
    expect(client.serverRequests.some((r) => r.method === 'window/workDoneProgress/create')).toBe(false);
  });
});
