// Next edits over stdio as a stock Copilot next-edit client asks for them (copilot-lsp.nvim,
// sidekick.nvim, copilot.el): didOpen, didChange keystrokes, textDocument/copilotInlineEdit,
// textDocument/didShowInlineEdit, the item's command; against the fake vLLM serving a Zeta model.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { startServer, stopChecked } from './servers.js';

const URI = 'file:///work/geo/src/geo.ts';
const FILE = ['export function area(w: number, h: number) {', '  return w * h;', '}', '', 'export function report(w: number, h: number) {', '  console.log(area(w, h));', '}', ''].join('\n');
const TYPED = ', d: number';

let fake: FakeVllm | undefined;
let client: LspClient | undefined;
/** The running server's XDG_STATE_HOME: its audit log is state/tandem/audit.jsonl. */
let state = '';
const others: FakeVllm[] = [];

afterEach(async () => {
  const c = client;
  client = undefined;
  await stopChecked(c, [...(fake ? [fake] : []), ...others.splice(0)]);
  fake = undefined;
});

/** What Zeta would answer: the excerpt's region with the call site passing the new argument. */
function zetaAnswer(req: RecordedRequest): { text: string } {
  const prompt: string = req.body.prompt;
  const start = prompt.indexOf('<|editable_region_start|>\n') + '<|editable_region_start|>\n'.length;
  const region = prompt.slice(start, prompt.indexOf('\n<|editable_region_end|>'));
  return { text: `\`\`\`src/geo.ts\n<|editable_region_start|>\n${region.replace('area(w, h)', 'area(w, h, 1)')}\n<|editable_region_end|>\n\`\`\`` };
}

async function start(respond: (req: RecordedRequest) => unknown): Promise<LspClient> {
  fake = await startFakeVllm({ model: 'zed-industries/zeta', respond: respond as never });
  const started = await startServer({ init: { backends: { gpu: { kind: 'vllm', url: fake.url } }, context: { enabled: false } }, rootUri: 'file:///work/geo' });
  client = started.client;
  state = started.state;
  return client;
}

/** Types TYPED after `h: number` of `area`, one keystroke per didChange, as an editor sends them; returns the version reached. */
function typeParameter(c: LspClient): number {
  let version = 1;
  const col = 'export function area(w: number, h: number'.length;
  for (const [i, ch] of [...TYPED].entries()) c.change(URI, ++version, [{ range: { start: { line: 0, character: col + i }, end: { line: 0, character: col + i } }, text: ch }]);
  return version;
}

/**
 * A client's first next-edit request, as stock clients send one when a buffer is entered: the
 * server keeps the edit history from then on.
 */
const first = (c: LspClient, uri = URI) => c.request('textDocument/copilotInlineEdit', { textDocument: { uri, version: 1 }, position: { line: 0, character: 0 } });

const stats = async (c: LspClient) => ((await c.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] })) as { nextEdit: { requests: number; suggested: Record<string, number>; shown: Record<string, number>; accepted: Record<string, number>; dismissed: Record<string, number> } }).nextEdit;

describe('textDocument/copilotInlineEdit', () => {
  it('answers the edit the user makes next, away from the cursor, in Copilot\'s shape; show and accept are counted', async () => {
    const c = await start(zetaAnswer);
    c.open(URI, 'typescript', FILE);
    await first(c);
    const version = typeParameter(c);
    const position = { line: 0, character: 'export function area(w: number, h: number, d: number'.length };
    const result = (await c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version }, position })) as { edits: { text: string; range: unknown; textDocument: unknown; command: { command: string; arguments: unknown[] } }[] };
    expect(result.edits).toEqual([
      {
        text: ', 1',
        range: { start: { line: 5, character: 'console.log(area(w, h'.length + 2 }, end: { line: 5, character: 'console.log(area(w, h'.length + 2 } },
        textDocument: { uri: URI, version },
        command: { title: 'Accept next edit', command: 'tandem.nextEditAccepted', arguments: [{ id: expect.stringMatching(/^tandem-ne-/) }] },
      },
    ]);
    // The prompt held the user's edit, as one step, and the cursor where it was.
    expect(fake!.completions()[0]!.body.prompt).toContain('### User Edits:\n\n\n\n### User Excerpt:'); // the first request: no edits yet
    const prompt: string = fake!.completions()[1]!.body.prompt;
    expect(prompt).toContain('User edited "src/geo.ts":\n```diff\n@@ -1,4 +1,4 @@\n-export function area(w: number, h: number) {\n+export function area(w: number, h: number, d: number) {');
    expect(prompt.match(/User edited/g)).toHaveLength(1);
    expect(prompt).toContain('d: number<|user_cursor_is_here|>) {');
    c.notify('textDocument/didShowInlineEdit', { item: result.edits[0] });
    await c.request('workspace/executeCommand', result.edits[0]!.command);
    expect(await stats(c)).toEqual({ requests: 2, suggested: { 'zed-industries/zeta': 2 }, shown: { 'zed-industries/zeta': 1 }, accepted: { 'zed-industries/zeta': 1 }, dismissed: {} });
    // An accepted edit can no longer be dismissed; the first request's suggestion, shown, can.
    await c.request('workspace/executeCommand', { command: 'tandem.nextEditDismissed', arguments: result.edits[0]!.command.arguments });
    const earlier = { id: 'tandem-ne-1' };
    await c.request('workspace/executeCommand', { command: 'tandem.nextEditDismissed', arguments: [earlier] });
    await c.request('workspace/executeCommand', { command: 'tandem.nextEditDismissed', arguments: [earlier] });
    await expect(c.request('workspace/executeCommand', { command: 'tandem.nextEditDismissed', arguments: [] })).rejects.toThrow(/tandem.nextEditDismissed/);
    expect(await stats(c)).toMatchObject({ accepted: { 'zed-industries/zeta': 1 }, dismissed: { 'zed-industries/zeta': 1 } });
    // The request's audit record: task nextEdit, the file it held by path and hash, never its code.
    const audit = readFileSync(join(state, 'tandem', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { task: string; sources: { path: string }[] });
    const mine = audit.filter((a) => a.task === 'nextEdit');
    expect(mine).toHaveLength(2);
    expect(mine[0]!.sources.map((x) => x.path)).toContain('src/geo.ts');
    expect(JSON.stringify(audit)).not.toContain('return w * h');
  });

  it('drops the answer of a document changed while the model answered (the request\'s connection closed), and answers none for a stale version', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const c = await start(async (req) => {
      await held;
      return zetaAnswer(req);
    });
    c.open(URI, 'typescript', FILE);
    const version = typeParameter(c);
    const pending = c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version }, position: { line: 0, character: 10 } });
    const asked = await fake!.waitFor((r) => r.path === '/v1/completions');
    c.change(URI, version + 1, [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: ' ' }]);
    expect(await pending).toEqual({ edits: [] });
    release();
    await fake!.waitFor((r) => r.id === asked.id && r.closedAt !== null);
    // The client's version is behind the server's: nothing is asked, nothing answered.
    expect(await c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version }, position: { line: 0, character: 10 } })).toEqual({ edits: [] });
    expect(fake!.completions()).toHaveLength(1);
  });

  it('keeps one request in flight per document: a second one supersedes the first, whose connection closes', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const c = await start(async (req) => {
      if (req.id === fake!.completions()[0]?.id) await held;
      return zetaAnswer(req);
    });
    c.open(URI, 'typescript', FILE);
    const version = typeParameter(c);
    const ask = () => c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version }, position: { line: 0, character: 10 } }) as Promise<{ edits: { text: string }[] }>;
    const first = ask();
    const asked = await fake!.waitFor((r) => r.path === '/v1/completions');
    const second = ask();
    expect(await first).toEqual({ edits: [] });
    expect((await second).edits.map((e) => e.text)).toEqual([', 1']);
    release();
    expect((await fake!.waitFor((r) => r.id === asked.id && r.closedAt !== null)).finished).toBe(false);
  });

  it('fails over to the route\'s next backend when the first answers an error', async () => {
    const broken = await startFakeVllm({ model: 'zed-industries/zeta', respond: () => ({ status: 500, error: { message: 'boom' } }) });
    others.push(broken);
    fake = await startFakeVllm({ model: 'zed-industries/zeta', respond: zetaAnswer as never });
    client = (await startServer({ init: { backends: { a: { kind: 'vllm', url: broken.url }, b: { kind: 'vllm', url: fake.url } }, routes: { inline: ['a', 'b'], nextEdit: ['a', 'b'] }, context: { enabled: false } }, rootUri: 'file:///work/geo' })).client;
    client.open(URI, 'typescript', FILE);
    const version = typeParameter(client);
    const r = (await client.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version }, position: { line: 0, character: 10 } })) as { edits: { text: string }[] };
    expect(r.edits.map((e) => e.text)).toEqual([', 1']);
    expect(broken.completions()).toHaveLength(1);
    expect(fake.completions()).toHaveLength(1);
  });

  it('refuses malformed params with -32602 naming the field, and serves on', async () => {
    const c = await start(zetaAnswer);
    c.open(URI, 'typescript', FILE);
    await expect(c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI }, position: { line: 0, character: 0 } })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('textDocument/copilotInlineEdit: params.textDocument.version: expected the document version') });
    await expect(c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version: 1 }, position: { line: -1, character: 0 } })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('params.position.line') });
    await expect(c.request('textDocument/copilotInlineEdit', { textDocument: { uri: 'file:///nope.ts', version: 1 }, position: { line: 0, character: 0 } })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('unknown document file:///nope.ts') });
    const served = (await c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version: 1 }, position: { line: 0, character: 0 } })) as { edits: { text: string }[] };
    expect(served.edits.map((e) => e.text)).toEqual([', 1']);
  });
});

describe('next-edit formats and privacy over stdio', () => {
  it('asks a Sweep model with its window and reads its updated window back', async () => {
    fake = await startFakeVllm({
      model: 'sweepai/sweep-next-edit-1.5B',
      respond: ((req: RecordedRequest) => {
        const prompt: string = req.body.prompt;
        const current = prompt.slice(prompt.indexOf('<|file_sep|>current/src/geo.ts\n') + '<|file_sep|>current/src/geo.ts\n'.length, prompt.indexOf('<|file_sep|>updated/'));
        return { text: current.replace('area(w, h)', 'area(w, h, 1)') };
      }) as never,
    });
    client = (await startServer({ init: { backends: { gpu: { kind: 'vllm', url: fake.url } }, context: { enabled: false } }, rootUri: 'file:///work/geo' })).client;
    client.open(URI, 'typescript', FILE);
    await first(client);
    const version = typeParameter(client);
    const r = (await client.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version }, position: { line: 0, character: 20 } })) as { edits: { text: string; range: { start: { line: number } } }[] };
    expect(r.edits.map((e) => [e.text, e.range.start.line])).toEqual([[', 1', 5]]);
    const sent = fake.completions()[1]!.body;
    expect(sent.prompt.endsWith('<|file_sep|>updated/src/geo.ts\n')).toBe(true);
    expect(sent.prompt).toContain('<|file_sep|>src/geo.ts.diff\noriginal:\nexport function area(w: number, h: number) {');
    expect(sent.stop).toEqual(['<|file_sep|>', '<|endoftext|>']);
  });

  it('a cloud backend on routes.nextEdit gets an instruct prompt without a byte of an onPremOnly file the user edited', async () => {
    const ws = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-nextedit-')));
    mkdirSync(join(ws, 'secrets'));
    mkdirSync(join(ws, 'src'));
    const KEYS = 'export const signingKey = "do-not-send";\n';
    writeFileSync(join(ws, 'secrets', 'keys.ts'), KEYS);
    writeFileSync(join(ws, 'src', 'geo.ts'), FILE);
    const keysUri = pathToFileURL(join(ws, 'secrets', 'keys.ts')).href;
    const geoUri = pathToFileURL(join(ws, 'src', 'geo.ts')).href;
    fake = await startFakeVllm({
      model: 'Qwen/Qwen2.5-Coder-7B-Instruct',
      respond: ((req: RecordedRequest) => {
        const user: string = req.body.messages[1].content;
        const region = user.slice(user.indexOf('<|editable_region_start|>\n') + '<|editable_region_start|>\n'.length, user.indexOf('\n<|editable_region_end|>'));
        return { text: `<|editable_region_start|>\n${region.replace('<|cursor|>', '').replace('area(w, h)', 'area(w, h, 1)')}\n<|editable_region_end|>` };
      }) as never,
    });
    const init = { backends: { cloud: { kind: 'openai', url: `${fake.url}/v1`, location: 'cloud', model: 'Qwen/Qwen2.5-Coder-7B-Instruct' } }, routes: { inline: ['cloud'], nextEdit: ['cloud'] }, privacy: { onPremOnly: ['**/secrets/**'] }, context: { enabled: false } };
    client = (await startServer({ init, rootUri: pathToFileURL(ws).href })).client;
    client.open(keysUri, 'typescript', KEYS);
    client.open(geoUri, 'typescript', FILE);
    await first(client, geoUri);
    client.change(keysUri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '// rotated\n' }]);
    let version = 1;
    const col = 'export function area(w: number, h: number'.length;
    for (const [i, ch] of [...TYPED].entries()) client.change(geoUri, ++version, [{ range: { start: { line: 0, character: col + i }, end: { line: 0, character: col + i } }, text: ch }]);
    const r = (await client.request('textDocument/copilotInlineEdit', { textDocument: { uri: geoUri, version }, position: { line: 0, character: 20 } })) as { edits: { text: string }[] };
    expect(r.edits.map((e) => e.text)).toEqual([', 1']);
    const sent = JSON.stringify(fake.chats().at(-1)!.body);
    expect(sent).toContain('+export function area(w: number, h: number, d: number) {');
    expect(sent).not.toContain('do-not-send');
    expect(sent).not.toContain('rotated');
    expect(sent).not.toContain('secrets');
  });
});

/** A request that rewrites a Zeta region (the next-edit prompt), as against a FIM prompt for ghost text. */
const isZeta = (req: RecordedRequest) => req.path === '/v1/completions' && String(req.body?.prompt).includes('<|editable_region_start|>');

describe('next edits as LSP 3.18 inline completion items (inline.nextEdits)', () => {
  type Items = { items: { insertText: string; range: { start: { line: number; character: number }; end: { line: number; character: number } }; command: { command: string; arguments: unknown[] } }[] };
  const CURSOR = { line: 0, character: 'export function area(w: number, h: number, d: number'.length };
  const CALL = 'console.log(area(w, h'.length + 2;

  async function startWith(inline: Record<string, unknown>, respond: (req: RecordedRequest) => unknown, capabilities?: unknown): Promise<LspClient> {
    fake = await startFakeVllm({ model: 'zed-industries/zeta', respond: respond as never });
    client = (await startServer({ init: { backends: { gpu: { kind: 'vllm', url: fake.url } }, context: { enabled: false }, inline: { debounceMs: 0, ...inline } }, rootUri: 'file:///work/geo', ...(capabilities ? { capabilities } : {}) })).client;
    return client;
  }

  it('where ghost text has nothing, the next edit comes as an item replacing its range, asked only after the ghost-text answer; its command counts the acceptance', async () => {
    // The edits' history starts at didOpen: no copilotInlineEdit request comes first.
    const c = await startWith({ nextEdits: true }, (req) => (isZeta(req) ? zetaAnswer(req) : { text: '' }));
    c.open(URI, 'typescript', FILE);
    typeParameter(c);
    const r = (await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: CURSOR, context: { triggerKind: 2 } })) as Items;
    expect(r.items).toEqual([{ insertText: ', 1', range: { start: { line: 5, character: CALL }, end: { line: 5, character: CALL } }, command: { title: 'Accept next edit', command: 'tandem.nextEditAccepted', arguments: [{ id: expect.stringMatching(/^tandem-ne-/) }] } }]);
    // Ghost text first; the next edit only once that answer was empty; the prompt held the typed parameter.
    expect(fake!.completions().map(isZeta)).toEqual([false, true]);
    expect(fake!.completions()[1]!.body.prompt).toContain('+export function area(w: number, h: number, d: number) {');
    await c.request('workspace/executeCommand', r.items[0]!.command);
    expect(await stats(c)).toMatchObject({ requests: 1, suggested: { 'zed-industries/zeta': 1 }, accepted: { 'zed-industries/zeta': 1 } });
  });

  it('ghost text, when there is some, is answered alone and never waits for a next edit; off (the default), none is asked', async () => {
    const c = await startWith({ nextEdits: true }, (req) => (isZeta(req) ? zetaAnswer(req) : { text: ' // area' }));
    c.open(URI, 'typescript', FILE);
    typeParameter(c);
    const end = { line: 1, character: '  return w * h;'.length };
    const r = (await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: end, context: { triggerKind: 2 } })) as Items;
    expect(r.items.map((i) => i.insertText)).toEqual([' // area']);
    expect(fake!.completions().map(isZeta)).toEqual([false]);
    await stopChecked(client, [fake!]);
    const off = await startWith({}, (req) => (isZeta(req) ? zetaAnswer(req) : { text: '' }));
    off.open(URI, 'typescript', FILE);
    typeParameter(off);
    expect(await off.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: CURSOR, context: { triggerKind: 2 } })).toEqual({ items: [] });
    expect(fake!.completions().map(isZeta)).toEqual([false]);
  });

  it('several edits on one line become one item; an edit across lines is not offered (LSP 3.18 items replace within a line)', async () => {
    let answer = (region: string) => region.replace('area(w, h)', 'area(w + 0, h, 1)');
    const c = await startWith({ nextEdits: true }, (req) => {
      if (!isZeta(req)) return { text: '' };
      const prompt: string = req.body.prompt;
      const start = prompt.indexOf('<|editable_region_start|>\n') + '<|editable_region_start|>\n'.length;
      const region = prompt.slice(start, prompt.indexOf('\n<|editable_region_end|>'));
      return { text: `\`\`\`src/geo.ts\n<|editable_region_start|>\n${answer(region)}\n<|editable_region_end|>\n\`\`\`` };
    });
    c.open(URI, 'typescript', FILE);
    const version = typeParameter(c);
    const r = (await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: CURSOR, context: { triggerKind: 2 } })) as Items;
    const w = 'console.log(area(w'.length + 2;
    expect(r.items.map((i) => [i.insertText, i.range])).toEqual([[' + 0, h, 1', { start: { line: 5, character: w }, end: { line: 5, character: CALL } }]]);
    // Joining two lines: the range would end on the next line.
    answer = (region) => region.replace('area(w, h));\n}', 'area(w, h)); }');
    c.change(URI, version + 1, [{ range: { start: { line: 2, character: 1 }, end: { line: 2, character: 1 } }, text: ' ' }]);
    expect(await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: { line: 2, character: 2 }, context: { triggerKind: 2 } })).toEqual({ items: [] });
    // The same answer through Copilot's request: one edit, from the end of line 5 into line 6.
    const copilot = (await c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version: version + 1 }, position: { line: 2, character: 2 } })) as { edits: { text: string; range: { start: { line: number }; end: { line: number } } }[] };
    expect(copilot.edits.map((e) => [e.text, e.range.start.line, e.range.end.line])).toEqual([[' ', 5, 6]]);
    expect(fake!.completions().filter(isZeta)).toHaveLength(3);
  });

  it('the next keystroke cancels the request: its backend connection closes and the client gets no item', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const c = await startWith({ nextEdits: true }, async (req) => {
      if (!isZeta(req)) return { text: '' };
      await held;
      return zetaAnswer(req);
    });
    c.open(URI, 'typescript', FILE);
    const version = typeParameter(c);
    const pending = c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: CURSOR, context: { triggerKind: 2 } });
    const asked = await fake!.waitFor(isZeta);
    c.change(URI, version + 1, [{ range: { start: CURSOR, end: CURSOR }, text: ' ' }]);
    expect(await pending).toEqual({ items: [] });
    expect((await fake!.waitFor((r) => r.id === asked.id && r.closedAt !== null)).finished).toBe(false);
    release();
  });

  it('a client that shows next edits itself (experimental.tandem.nextEdits) gets no items, and copilotInlineEdit answers it only under inline.nextEdits', async () => {
    const caps = { textDocument: { inlineCompletion: {} }, experimental: { tandem: { nextEdits: true } } };
    const c = await startWith({ nextEdits: true }, (req) => (isZeta(req) ? zetaAnswer(req) : { text: '' }), caps);
    c.open(URI, 'typescript', FILE);
    const version = typeParameter(c);
    expect(await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: CURSOR, context: { triggerKind: 2 } })).toEqual({ items: [] });
    const r = (await c.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version }, position: CURSOR })) as { edits: { text: string }[] };
    expect(r.edits.map((e) => e.text)).toEqual([', 1']);
    expect(fake!.completions().map(isZeta)).toEqual([false, true]);
    await stopChecked(client, [fake!]);
    const off = await startWith({}, (req) => (isZeta(req) ? zetaAnswer(req) : { text: '' }), caps);
    off.open(URI, 'typescript', FILE);
    const v = typeParameter(off);
    expect(await off.request('textDocument/copilotInlineEdit', { textDocument: { uri: URI, version: v }, position: CURSOR })).toEqual({ edits: [] });
    expect(fake!.completions()).toEqual([]);
  });
});
