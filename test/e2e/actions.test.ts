// Code actions and explain over stdio against the fake vLLM's chat endpoint: listing, resolve, applyEdit, version and syntax guards.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type Reply, type RecordedRequest } from '../fake/vllm.js';
import { LspClient, STUCK_MS } from '../lsp-client.js';
import { INLINE_UNHURRIED, until } from '../wait.js';

const URI = 'file:///w/src/geo.ts';
const DOC = ['export function area(r: number): number {', '  if (r < 0) {', '    return 0;', '  }', '  return 3.14 * r * r;', '}', ''].join('\n');
const IN_BODY = { start: { line: 4, character: 4 }, end: { line: 4, character: 4 } };
const RESOLVE_CAPS = { textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } }, window: { workDoneProgress: true } };

let fake: FakeVllm | undefined;
let client: LspClient | undefined;

afterEach(async () => {
  if (client) await client.stop();
  client = undefined;
  await fake?.close();
  fake = undefined;
});

const chats = () => fake!.requests.filter((r) => r.path === '/v1/chat/completions');
const block = (search: string[], replace: string[]) => ['<<<<<<< SEARCH', ...search, '=======', ...replace, '>>>>>>> REPLACE'].join('\n');

async function start(respond: (req: RecordedRequest) => Reply | Promise<Reply>, opts: { capabilities?: unknown; latencyMs?: number; tokenIntervalMs?: number; onRequest?: (method: string, params: any) => unknown; init?: (url: string) => unknown; env?: Record<string, string> } = {}) {
  fake = await startFakeVllm({ respond, latencyMs: opts.latencyMs ?? 0, tokenIntervalMs: opts.tokenIntervalMs ?? 0 });
  const home = mkdtempSync(join(tmpdir(), 'tandem-actions-'));
  client = new LspClient({ env: { XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '', ...opts.env }, ...(opts.onRequest ? { onRequest: opts.onRequest } : {}) });
  const init = await client.initialize({
    capabilities: opts.capabilities ?? RESOLVE_CAPS,
    rootUri: 'file:///w',
    initializationOptions: opts.init?.(fake.url) ?? { backends: { chat: { kind: 'vllm', url: fake.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] }, context: { enabled: false } },
  });
  client.open(URI, 'typescript', DOC);
  // The first parse waits for an idle moment; listing parses a document that has none yet, so
  // after it the tree is there (explain reads it) however busy the machine.
  await listed(client);
  return { client, init };
}

async function listed(c: LspClient, range = IN_BODY, diagnostics: unknown[] = []) {
  return (await c.request('textDocument/codeAction', { textDocument: { uri: URI }, range, context: { diagnostics } })) as any[];
}

const SIMPLIFIED = block(['  return 3.14 * r * r;'], ['  return Math.PI * r * r;']);
const EXPECTED_EDIT = { documentChanges: [{ textDocument: { uri: URI, version: 1 }, edits: [{ range: { start: { line: 4, character: 0 }, end: { line: 4, character: 22 } }, newText: '  return Math.PI * r * r;' }] }] };

describe('code actions', () => {
  it('advertises code actions and lists them without calling a model', async () => {
    const { client, init } = await start(() => ({ text: SIMPLIFIED }));
    expect(init.capabilities.codeActionProvider).toEqual({ resolveProvider: true, codeActionKinds: expect.arrayContaining(['refactor.rewrite.tandem.simplify', 'quickfix.tandem', 'source.tandem.explain']) });
    expect(init.capabilities.executeCommandProvider.commands).toEqual(expect.arrayContaining(['tandem.explain', 'tandem.applyAction']));
    const actions = await listed(client);
    expect(actions.map((a) => a.title)).toEqual(['Explain this function (tandem)', 'Add documentation comment (tandem)', 'Simplify this function (tandem)', 'Add error handling (tandem)', 'Generate tests for this function (tandem)']);
    expect(actions[4].kind).toBe('source.tandem.generateTests');
    const simplify = actions.find((a) => a.kind === 'refactor.rewrite.tandem.simplify');
    expect(simplify.data).toEqual({ id: 'simplify', uri: URI, version: 1, start: 7, end: DOC.length - 1 });
    expect(simplify.edit).toBeUndefined();
    expect(simplify.command).toBeUndefined();
    expect(actions[0].command).toEqual({ title: 'Explain this function (tandem)', command: 'tandem.explain', arguments: [{ uri: URI, range: { start: { line: 0, character: 7 }, end: { line: 5, character: 1 } } }] });
    const only = await client.request('textDocument/codeAction', { textDocument: { uri: URI }, range: IN_BODY, context: { diagnostics: [], only: ['quickfix'] } });
    expect(only).toEqual([]);
    expect(chats()).toHaveLength(0);
  });

  it('resolve: a good answer becomes an exact, versioned WorkspaceEdit; the prompt names language, path and scope', async () => {
    const { client } = await start(() => ({ text: SIMPLIFIED }));
    const simplify = (await listed(client)).find((a) => a.data?.id === 'simplify');
    const resolved = await client.request('codeAction/resolve', simplify);
    expect(resolved.edit).toEqual(EXPECTED_EDIT);
    expect(chats()).toHaveLength(1);
    const msgs = chats()[0]!.body.messages;
    expect(msgs[0].role).toBe('system');
    expect(msgs[0].content).toContain('<<<<<<< SEARCH');
    expect(msgs[1].content).toContain('Language: typescript\nFile: src/geo.ts');
    expect(msgs[1].content).toContain('```typescript\n' + DOC.trimEnd() + '\n```');
  });

  it('resolve: a sloppy answer (prose, fences, indentation drift) gives the same exact edit', async () => {
    const sloppy = ['Here you go — I replaced the magic number:', '', '```typescript', block(['if (r < 0) {', '  return 0;', '}'], ['if (r <= 0) {', '  return 0;', '}']), '```', '', 'Hope this helps!'].join('\n');
    const { client } = await start(() => ({ text: sloppy }));
    const simplify = (await listed(client)).find((a) => a.data?.id === 'simplify');
    const resolved = await client.request('codeAction/resolve', simplify);
    expect(resolved.edit).toEqual({ documentChanges: [{ textDocument: { uri: URI, version: 1 }, edits: [{ range: { start: { line: 1, character: 0 }, end: { line: 2, character: 0 } }, newText: '  if (r <= 0) {\n' }] }] });
  });

  it('a fix for a diagnostic carries its message to the model', async () => {
    const { client } = await start(() => ({ text: SIMPLIFIED }));
    const diag = { range: { start: { line: 4, character: 9 }, end: { line: 4, character: 13 } }, message: 'Use Math.PI instead of 3.14', source: 'lint', severity: 2 };
    const fix = (await listed(client, diag.range, [diag]))[0];
    expect(fix).toMatchObject({ kind: 'quickfix.tandem', title: 'Fix with tandem: Use Math.PI instead of 3.14', diagnostics: [diag] });
    const resolved = await client.request('codeAction/resolve', fix);
    expect(resolved.edit).toEqual(EXPECTED_EDIT);
    expect(chats()[0]!.body.messages[1].content).toContain('Diagnostic: Use Math.PI instead of 3.14');
  });

  it('syntax-breaking output is retried once with the error fed back, then rejected', async () => {
    const broken = block(['  return 3.14 * r * r;'], ['  return Math.PI * r * (r;']);
    const { client } = await start(() => ({ text: broken }));
    const simplify = (await listed(client)).find((a) => a.data?.id === 'simplify');
    const err = await client.request('codeAction/resolve', simplify).then(() => undefined, (e) => e);
    expect(err?.code).toBe(-32803);
    expect(err?.message).toMatch(/rejected: the edited file does not parse/);
    expect(chats()).toHaveLength(2);
    const retry = chats()[1]!.body.messages;
    expect(retry).toHaveLength(4);
    expect(retry[2]).toEqual({ role: 'assistant', content: broken });
    expect(retry[3].content).toMatch(/^That edit was rejected: the edited file does not parse/);
  });

  it('one broken answer, then a good one: the retry wins', async () => {
    let n = 0;
    const { client } = await start(() => ({ text: n++ === 0 ? block(['  return 3.14 * r * r'], ['  return {']) + '\n' + block(['nonexistent'], ['x']) : SIMPLIFIED }));
    const simplify = (await listed(client)).find((a) => a.data?.id === 'simplify');
    expect((await client.request('codeAction/resolve', simplify)).edit).toEqual(EXPECTED_EDIT);
    expect(chats()).toHaveLength(2);
    expect(chats()[1]!.body.messages[3].content).toContain('block 2: the SEARCH text was not found in the file');
  });

  it('a document edited while the model answers is refused, never given a stale edit', async () => {
    // The model answers only once the edit is in: the server handles messages in order, so once it
    // has answered a request sent after the edit, it has applied the edit.
    let release!: () => void;
    const edited = new Promise<void>((r) => (release = r));
    const { client } = await start(() => edited.then(() => ({ text: SIMPLIFIED })));
    const simplify = (await listed(client)).find((a) => a.data?.id === 'simplify');
    const pending = client.request('codeAction/resolve', simplify).then(() => undefined, (e) => e);
    await fake!.waitFor((r) => r.path === '/v1/chat/completions');
    client.change(URI, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '// moved\n' }]);
    await listed(client);
    release();
    const err = await pending;
    expect(err?.code).toBe(-32801);
    expect(err?.message).toContain('changed since the action was offered');
    // Resolving the old offer again is refused at once, without a model call.
    const again = await client.request('codeAction/resolve', simplify).then(() => undefined, (e) => e);
    expect(again?.code).toBe(-32801);
    expect(chats()).toHaveLength(1);
  });

  it('without resolve support: the action carries tandem.applyAction, which applies the edit via workspace/applyEdit', async () => {
    const { client } = await start(() => ({ text: SIMPLIFIED }), { capabilities: { textDocument: { inlineCompletion: {} } }, onRequest: (m) => (m === 'workspace/applyEdit' ? { applied: true } : null) });
    const simplify = (await listed(client)).find((a) => a.data?.id === 'simplify');
    expect(simplify.command).toEqual({ title: 'Simplify this function (tandem)', command: 'tandem.applyAction', arguments: [simplify.data] });
    expect(chats()).toHaveLength(0);
    const res = await client.request('workspace/executeCommand', { command: simplify.command.command, arguments: simplify.command.arguments });
    expect(res).toEqual({ applied: true });
    const apply = client.serverRequests.find((r) => r.method === 'workspace/applyEdit');
    expect(apply?.params.edit).toEqual(EXPECTED_EDIT);
  });
});

describe('each single-file action', () => {
  const UNTYPED_URI = 'file:///w/src/scale.ts';
  const UNTYPED = ['export function scale(xs, k) {', '  return xs.map((x) => x * k);', '}', ''].join('\n');
  const cases: [string, RegExp, string[], string[]][] = [
    ['document', /^Task: Add a documentation comment to this code, in the language's own documentation style \(JSDoc for TypeScript/, ['export function scale(xs, k) {'], ['/** Multiplies every number in `xs` by `k`. */', 'export function scale(xs, k) {']],
    ['errorHandling', /^Task: Add error handling to this code/, ['  return xs.map((x) => x * k);'], ["  if (!Array.isArray(xs)) throw new TypeError('xs must be an array');", '  return xs.map((x) => x * k);']],
    ['addTypes', /^Task: Add type annotations to the parameters and the return type/, ['export function scale(xs, k) {'], ['export function scale(xs: number[], k: number): number[] {']],
  ];
  for (const [id, task, search, replace] of cases) {
    it(`${id}: listed on the function, resolved to the exact edit, its task in the prompt`, async () => {
      const { client } = await start(() => ({ text: block(search, replace) }));
      client.open(UNTYPED_URI, 'typescript', UNTYPED);
      const actions = (await client.request('textDocument/codeAction', { textDocument: { uri: UNTYPED_URI }, range: { start: { line: 1, character: 4 }, end: { line: 1, character: 4 } }, context: { diagnostics: [] } })) as any[];
      const action = actions.find((a) => a.data?.id === id);
      expect(action?.kind).toBe(`refactor.rewrite.tandem.${id}`);
      const resolved = (await client.request('codeAction/resolve', action)) as any;
      const line = UNTYPED.split('\n').indexOf(search[0]!);
      const added = replace.length - search.length;
      const expected = added > 0 && replace.at(-1) === search[0] ? { range: { start: { line, character: 0 }, end: { line, character: 0 } }, newText: `${replace.slice(0, added).join('\n')}\n` } : { range: { start: { line, character: 0 }, end: { line, character: search[0]!.length } }, newText: replace.join('\n') };
      expect(resolved.edit).toEqual({ documentChanges: [{ textDocument: { uri: UNTYPED_URI, version: 1 }, edits: [expected] }] });
      expect(chats().at(-1)!.body.messages[1].content).toMatch(task);
    });
  }
});

describe('privacy', () => {
  it('an action on an onPremOnly file skips the cloud backend that comes first in routes.action', async () => {
    const cloud = await startFakeVllm({ respond: () => ({ text: 'from the cloud' }) });
    try {
      const { client } = await start(() => ({ text: SIMPLIFIED }), {
        init: (url) => ({
          backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, model: 'Qwen/Qwen2.5-Coder-7B', apiKeyEnv: 'NOPE' }, chat: { kind: 'vllm', url } },
          routes: { inline: ['chat'], action: ['cloud', 'chat'], multiFile: ['cloud', 'chat'] },
          privacy: { onPremOnly: ['src/geo.ts'] },
          context: { enabled: false },
        }),
      });
      const simplify = (await listed(client)).find((a) => a.data?.id === 'simplify');
      expect((await client.request('codeAction/resolve', simplify)).edit).toEqual(EXPECTED_EDIT);
      const explained = await client.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: URI, range: IN_BODY }] });
      expect(explained).toEqual({ markdown: SIMPLIFIED });
      expect(cloud.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(0);
      expect(chats()).toHaveLength(2);
    } finally {
      await cloud.close();
    }
  });
});

describe('tandem.explain', () => {
  it('returns Markdown and streams partial text through $/progress for a work-done token', async () => {
    const answer = 'This computes **the area** of a circle with radius `r`, returning 0 for negative radii.';
    const chunks = answer.match(/.{1,10}/g)!;
    const { client } = await start(() => ({ text: answer, chunks }));
    const progress = () => client.notifications.filter((n) => n.method === '$/progress' && n.params.token === 'explain-1').map((n) => n.params.value);
    const reports = () => progress().filter((v) => v.kind === 'report').map((v) => v.message as string);
    // Each piece streams once the client has seen the text before it, and a little later than the
    // server's pace of progress messages (one per 50 ms): then every piece is reported, in order,
    // however the machine schedules the processes.
    fake!.set({
      pace: async (i) => {
        const before = chunks.slice(0, i).join('');
        await until(() => reports().includes(before), `the progress report of "${before}"`);
        await new Promise((r) => setTimeout(r, 60));
      },
    });
    const res = await client.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: URI, range: { start: { line: 4, character: 2 }, end: { line: 4, character: 22 } } }], workDoneToken: 'explain-1' });
    expect(res).toEqual({ markdown: answer });
    expect(progress()[0]).toMatchObject({ kind: 'begin', title: 'tandem: explaining' });
    expect(progress().at(-1)).toEqual({ kind: 'end' });
    expect(reports()).toEqual(chunks.map((_, i) => chunks.slice(0, i + 1).join('')));
    const user = chats()[0]!.body.messages[1].content;
    expect(user).toContain('The code to explain:\n```typescript\nreturn 3.14 * r * r;\n```');
    expect(user).toContain('It sits inside:');
  });

  // Issue 13: the model lookup is shared by every request that waits for it; one that is cancelled
  // must stop only its own wait. The fake holds /v1/models until the test releases it.
  const cancelWhileExplaining: [string, (c: LspClient, first: number) => { result: Promise<any> } | undefined][] = [
    ['superseded by a newer inline request', (c) => c.inline(URI, IN_BODY.start)],
    ['cancelled with $/cancelRequest', (c, first) => void c.cancel(first)],
  ];
  it.each(cancelWhileExplaining)('an inline request %s during the model lookup leaves an explain waiting on it to finish', async (_n, cancel) => {
    const answer = 'Squares the radius and scales it by pi.';
    const { client } = await start(() => ({ text: answer }), {
      env: { TANDEM_LOG: 'debug' },
      init: (url) => ({ backends: { chat: { kind: 'vllm', url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] }, context: { enabled: false }, inline: INLINE_UNHURRIED }),
    });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    fake!.set({ holdModels: () => held });
    const first = client.inline(URI, IN_BODY.start);
    await fake!.waitFor((r) => r.path === '/v1/models');
    const explain = client.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: URI, range: { start: { line: 4, character: 2 }, end: { line: 4, character: 22 } } }] }).then((r) => r, (e) => e);
    // Nothing awaits between this line of the log and the explain's wait on the lookup.
    await client.waitForNotification((n) => n.method === 'window/logMessage' && /route action \(explain\) -> chat/.test(n.params.message));
    const second = cancel(client, first.id);
    // The cancelled request answers while the lookup is still held: it waited on its own signal only.
    const cancelled = await first.result.then((r) => r, (e) => e);
    if (cancelled instanceof Error) expect((cancelled as Error & { code: number }).code).toBe(-32800);
    else expect(cancelled.items).toEqual([]);
    release();
    expect(await explain).toEqual({ markdown: answer });
    if (second) expect(await second.result).toHaveProperty('items');
    expect(fake!.requests.filter((r) => r.path === '/v1/models')).toHaveLength(1);
  });

  it('answers an error when no backend serves', async () => {
    const { client } = await start(() => ({ status: 503, error: { message: 'overloaded' } }));
    const err = await client.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: URI, range: IN_BODY }] }).then(() => undefined, (e) => e);
    expect(err?.code).toBe(-32803);
  });
});

describe('tandem.edit', () => {
  it('a free instruction on a range: the prompt carries it, the edit goes out via workspace/applyEdit with the version', async () => {
    const { client } = await start(() => ({ text: SIMPLIFIED }), { onRequest: (m) => (m === 'workspace/applyEdit' ? { applied: true } : null) });
    const res = await client.request('workspace/executeCommand', { command: 'tandem.edit', arguments: [{ uri: URI, range: { start: { line: 4, character: 0 }, end: { line: 5, character: 0 } }, instruction: 'use Math.PI', scope: 'file' }] });
    expect(res).toEqual({ applied: true });
    expect(client.serverRequests.find((r) => r.method === 'workspace/applyEdit')?.params.edit).toEqual(EXPECTED_EDIT);
    const user = chats()[0]!.body.messages[1].content;
    expect(user).toMatch(/^Task: Edit this code as asked: use Math\.PI\n/);
    expect(user).toContain('```typescript\n  return 3.14 * r * r;\n```');
  });

  it('an editor answer to workspace/applyEdit without a boolean "applied", or an error, is "not applied" with why, never an internal error', async () => {
    const answers: (() => Promise<unknown>)[] = [async () => null, async () => ({ applied: 'yes' }), async () => Promise.reject(new Error('no edits today'))];
    let next = 0;
    const { client } = await start(() => ({ text: SIMPLIFIED }), { onRequest: (m) => (m === 'workspace/applyEdit' ? answers[next++]!() : null) });
    const edit = () => client.request('workspace/executeCommand', { command: 'tandem.edit', arguments: [{ uri: URI, range: { start: { line: 4, character: 0 }, end: { line: 5, character: 0 } }, instruction: 'use Math.PI' }] });
    expect(await edit()).toEqual({ applied: false, failureReason: 'the editor\'s answer to workspace/applyEdit is not {"applied": true | false} (got null)' });
    expect(await edit()).toEqual({ applied: false, failureReason: 'the editor\'s answer to workspace/applyEdit is not {"applied": true | false} (got {"applied":"yes"})' });
    expect(await edit()).toEqual({ applied: false, failureReason: expect.stringMatching(/^the editor answered workspace\/applyEdit with an error: .*no edits today/) });
    expect(next).toBe(3);
  });

  it('an empty instruction or an unknown scope is refused without a model call', async () => {
    const { client } = await start(() => ({ text: SIMPLIFIED }));
    const call = (arg: unknown) => client.request('workspace/executeCommand', { command: 'tandem.edit', arguments: [arg] }).then(() => undefined, (e) => e);
    expect((await call({ uri: URI, range: IN_BODY, instruction: ' ' }))?.code).toBe(-32602);
    expect((await call({ uri: URI, range: IN_BODY, instruction: 'x', scope: 'project' }))?.message).toContain('scope must be "file" or "workspace", not "project"');
    expect(chats()).toHaveLength(0);
  });
});

describe('cancellation', () => {
  it('$/cancelRequest on a resolve closes the model request', async () => {
    const { client } = await start(() => ({ hang: true }));
    const simplify = (await listed(client)).find((a) => a.data?.id === 'simplify');
    const { id, result } = client.send('codeAction/resolve', simplify);
    const req = await fake!.waitFor((r) => r.path === '/v1/chat/completions');
    client.cancel(id);
    const err = await result.then(() => undefined, (e) => e);
    expect(err?.code).toBe(-32800);
    await expect.poll(() => req.closedAt, { timeout: STUCK_MS }).not.toBeNull();
  });
});
