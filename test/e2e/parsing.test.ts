// Issue 13's freezes and memory over stdio: a pathological document's parse runs in slices while
// the server answers, a 1 MB one-line file is never parsed, and only a few documents keep trees.
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED, until } from '../wait.js';
import { startServer, stopChecked } from './servers.js';

const CAPS = { textDocument: { inlineCompletion: {}, codeAction: {} }, workspace: { workspaceFolders: true } };

let fake: FakeVllm | undefined;
let client: LspClient | undefined;

afterEach(async () => {
  const c = client;
  client = undefined;
  // Fails the test if the server wrote anything but well-formed frames to stdout.
  await stopChecked(c, fake ? [fake] : []);
  fake = undefined;
});

interface Parses { parses: number; slices: number; tooBig: number; tooSlow: number; queued: number; trees: number; treesDropped: number; collections: number }
interface Process { rssBytes: number; heapUsedBytes: number; parses: Parses }

async function start(): Promise<LspClient> {
  fake = await startFakeVllm({ respond: () => ({ text: 'done();' }) });
  const started = await startServer({ init: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: INLINE_UNHURRIED, context: { enabled: false } }, rootUri: 'file:///w', capabilities: CAPS, env: { TANDEM_LOG: 'debug' } });
  client = started.client;
  return client;
}

const stats = async (c: LspClient) => ((await c.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] })) as { process: Process }).process;
const end = (text: string) => {
  const lines = text.split('\n');
  return { line: lines.length - 1, character: lines[lines.length - 1]!.length };
};

describe('parsing never holds the server up', () => {
  it("a stray '((((' before 300 kB: the parse runs in slices while requests are answered, then gives up; completions go on", async () => {
    const c = await start();
    const uri = 'file:///w/bad.js';
    const text = '((((\n' + 'const q = "ab" + 1; '.repeat(15_000) + '\n';
    c.open(uri, 'javascript', text);
    c.change(uri, 2, [{ range: { start: end(text), end: end(text) }, text: 'x' }]);
    // Listing code actions starts the parse and waits a little for it; tandem.stats, sent right
    // after, is answered while that parse is still part-way (it was 6.2 s behind it before).
    const actions = c.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, context: { diagnostics: [] } });
    const during = await stats(c);
    expect(during.parses.queued).toBeGreaterThanOrEqual(1);
    expect(during.parses.tooSlow).toBe(0);
    expect(Array.isArray(await actions)).toBe(true);
    // It gives up at its budget: the document has no tree and completes from text windows.
    const after = await until(async () => {
      const p = await stats(c);
      return p.parses.tooSlow >= 1 ? p : undefined;
    }, 'the pathological parse to be given up');
    expect(after.parses.slices).toBeGreaterThan(1);
    expect(c.stderr).toMatch(/file:\/\/\/w\/bad\.js: no syntax tree \(parse too slow after \d+ ms\); completing from text windows/);
    const res = await c.inline(uri, { line: 1, character: text.split('\n')[1]!.length + 1 }).result;
    expect(res.items[0].insertText).toBe('done();');
  });

  it('a 1 MB one-line file with `${` typed mid-line is never parsed, and completes', async () => {
    const c = await start();
    const uri = 'file:///w/bundle.min.js';
    const line = 'var a=function(b){return b+1},c=[1,2,3].map(a);'.repeat(22_000);
    c.open(uri, 'javascript', line);
    const mid = { line: 0, character: Math.floor(line.length / 2) };
    c.change(uri, 2, [{ range: { start: mid, end: mid }, text: '`${' }]);
    const res = await c.inline(uri, { line: 0, character: mid.character + 3 }).result;
    expect(res.items[0].insertText).toBe('done();');
    const p = await until(async () => {
      const s = await stats(c);
      return s.parses.tooBig >= 1 ? s : undefined;
    }, 'the document to be found too big to parse');
    expect(p.parses.slices).toBe(0);
  });

  it('of many open documents only the ones used last keep a tree; dropped ones are collected once idle', async () => {
    const c = await start();
    // ~22 kB each: the 24 or more dropped ones are over the collector's 300,000 characters.
    const doc = (i: number) => Array.from({ length: 400 }, (_, k) => `export function f${i}_${k}(a: number): number {\n  return a * ${k};\n}\n`).join('');
    const uris = Array.from({ length: 40 }, (_, i) => `file:///w/src/m${i}.ts`);
    uris.forEach((u, i) => c.open(u, 'typescript', doc(i)));
    // Opening is not using: only as many as the room holds are parsed.
    const opened = await until(async () => {
      const s = await stats(c);
      return s.parses.queued === 0 && s.parses.parses > 0 ? s : undefined;
    }, 'the parses of the opened documents');
    expect(opened.parses.trees).toBeLessThanOrEqual(16);
    expect(opened.parses.parses).toBeLessThanOrEqual(16);
    // Using every one (code actions wait for a tree, so long: on a loaded machine the list comes
    // before it, and asking again uses it again) keeps at most 16, dropping the oldest.
    for (const u of uris) {
      const list = async () => ((await c.request('textDocument/codeAction', { textDocument: { uri: u }, range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, context: { diagnostics: [] } })) as { title: string }[]).map((a) => a.title);
      // With a tree, the function around the cursor is offered (without one, nothing is).
      await until(async () => (await list()).includes('Explain this function (tandem)'), `the function's actions in ${u}`, undefined, 50);
    }
    const used = await stats(c);
    expect(used.parses.trees).toBeLessThanOrEqual(16);
    expect(used.parses.treesDropped).toBeGreaterThanOrEqual(24);
    // Idle: one full collection gives the dropped trees' native memory back.
    // (Polled every 1.5 s: each tandem.stats is a message, and the server must see 1 s without one.)
    await until(async () => (await stats(c)).parses.collections >= 1, 'an idle-time collection', undefined, 1500);
  });
});

describe('the tandem-lsp command', () => {
  it('runs from its shebang with the young-generation cap, as an editor starts it from PATH', async () => {
    const { LspClient } = await import('../lsp-client.js');
    const c = new LspClient({ asCommand: true });
    client = c;
    await c.initialize({ initializationOptions: { context: { enabled: false } } });
    const p = await stats(c);
    expect((p as unknown as { nodeFlags: string[] }).nodeFlags).toContain('--max-semi-space-size=4');
  });
});
