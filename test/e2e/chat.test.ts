// Chat over stdio (tandem/chat, tandem/chatModels, tandem/countTokens) against the fakes: streaming,
// tool calls both ways, cancel, failover, privacy (a recording fake cloud), bad input.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest, type Reply } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { SECRETS } from '../plantedSecrets.js';
import { failure, startServer, stopChecked, type Started } from './servers.js';
import { STUCK_MS } from '../lsp-client.js';
import { SOURCES_UNHURRIED, until } from '../wait.js';

const fakes: { close(): Promise<void> }[] = [];
let client: LspClient | undefined;

afterEach(async () => {
  await stopChecked(client, fakes);
  client = undefined;
});

function workspace(files: Record<string, string>): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-chat-')));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

async function vllm(respond: (req: RecordedRequest) => Reply | Promise<Reply>, opts: Parameters<typeof startFakeVllm>[0] = {}): Promise<FakeVllm> {
  const f = await startFakeVllm({ respond, ...opts });
  fakes.push(f);
  return f;
}

async function start(init: unknown, root?: string, env?: Record<string, string>): Promise<Started> {
  const s = await startServer({ init, rootUri: root ? pathToFileURL(root).href : null, ...(env ? { env } : {}) });
  client = s.client;
  return s;
}

const chats = (f: FakeVllm) => f.requests.filter((r) => r.path === '/v1/chat/completions');
/** The $/progress values sent for one partial result token, in order. */
const progress = (c: LspClient, token: string) => c.notifications.filter((n) => n.method === '$/progress' && n.params?.token === token).map((n) => n.params.value);

describe('tandem/chat', () => {
  it('streams the answer as $/progress partial results, in order, and answers the whole result', async () => {
    const f = await vllm(() => ({ text: 'Hello from the fake model.', chunks: ['Hello', ' from', ' the fake', ' model.'] }));
    const { state } = await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } });
    const r = await client!.request('tandem/chat', { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }], partialResultToken: 'p1' });
    // Audited as every request is: task chat, through the LSP door (written before the answer left).
    const audit = readFileSync(join(state, 'tandem', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(audit).toMatchObject([{ task: 'chat', origin: 'lsp', backend: 'local', outcome: 'ok' }]);
    expect(r).toMatchObject({ text: 'Hello from the fake model.', finishReason: 'stop', backend: 'local', location: 'onprem', model: 'Qwen/Qwen2.5-Coder-7B' });
    expect(r.usage.promptTokens).toBeGreaterThan(0);
    expect(progress(client!, 'p1').map((v: { text?: string }) => v.text)).toEqual(['Hello', ' from', ' the fake', ' model.']);
    const sent = chats(f)[0]!.body;
    expect(sent.messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }]);
    expect(sent.stream).toBe(true);
    expect(sent.tools).toBeUndefined();
  });

  it('passes tools and tool calls through unchanged, both ways: streamed pieces in order, the calls assembled', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    let round = 0;
    const f = await vllm(() => (round++ === 0 ? { toolCalls: [{ name: 'get_weather', arguments: '{"city": "Paris"}', id: 'chatcmpl-tool-abc123', chunks: ['{"city"', ': "Par', 'is"}'] }] } : { text: 'It is sunny in Paris.' }));
    await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } });
    const user = { role: 'user', content: 'Weather in Paris?' };
    const first = await client!.request('tandem/chat', { messages: [user], tools, toolChoice: 'auto', partialResultToken: 't1' });
    expect(first).toMatchObject({ text: '', finishReason: 'tool_calls', toolCalls: [{ id: 'chatcmpl-tool-abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] });
    // The pieces as the server streamed them: the call's start (id, type, name), then its arguments.
    expect(progress(client!, 't1').flatMap((v: { toolCalls?: unknown[] }) => v.toolCalls ?? [])).toEqual([
      { index: 0, id: 'chatcmpl-tool-abc123', type: 'function', function: { name: 'get_weather' } },
      { index: 0, function: { arguments: '{"city"' } },
      { index: 0, function: { arguments: ': "Par' } },
      { index: 0, function: { arguments: 'is"}' } },
    ]);
    expect(chats(f)[0]!.body.tools).toEqual(tools);
    expect(chats(f)[0]!.body.tool_choice).toBe('auto');
    // The client runs the tool and sends the call and its result back.
    const second = await client!.request('tandem/chat', { messages: [user, { role: 'assistant', content: null, toolCalls: first.toolCalls }, { role: 'tool', toolCallId: 'chatcmpl-tool-abc123', content: '{"sky": "clear"}' }], tools });
    expect(second).toMatchObject({ text: 'It is sunny in Paris.', finishReason: 'stop' });
    expect(chats(f)[1]!.body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'chatcmpl-tool-abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', content: '{"sky": "clear"}', tool_call_id: 'chatcmpl-tool-abc123' },
    ]);
  });

  it('a malformed tool call from the backend is a bad_response failure naming what is wrong', async () => {
    const f = await vllm(() => ({ toolCalls: [{ name: 'get_weather', arguments: '{"city": Paris' }] }));
    await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } });
    const e = await failure(client!.request('tandem/chat', { messages: [{ role: 'user', content: 'Weather?' }], tools: [{ type: 'function', function: { name: 'get_weather' } }] }));
    expect(e).toMatchObject({ code: -32803, data: { kind: 'bad_response' } });
    expect(e!.message).toContain('tool call 0 (get_weather) has arguments that are not valid JSON: {"city": Paris');
    const noName = await vllm(() => ({ toolCalls: [{ arguments: '{}' }] }));
    await client!.stop();
    await start({ backends: { local: { kind: 'vllm', url: noName.url } }, context: { enabled: false } });
    const e2 = await failure(client!.request('tandem/chat', { messages: [{ role: 'user', content: 'Weather?' }] }));
    expect(e2!.message).toContain('tool call 0 has no function name');
  });

  it('$/cancelRequest aborts the backend request: the fake sees its connection closed mid-stream', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const f = await vllm(() => ({ text: 'one two three four', chunks: ['one', ' two', ' three', ' four'] }), { pace: (i) => (i >= 2 ? held : Promise.resolve()) });
    await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } });
    const { id, result } = client!.send('tandem/chat', { messages: [{ role: 'user', content: 'count' }], partialResultToken: 'c1' });
    await client!.waitForNotification((n) => n.method === '$/progress' && n.params?.token === 'c1' && n.params.value.text === ' two');
    client!.cancel(id);
    const e = await failure(result);
    expect(e).toMatchObject({ code: -32800 });
    const rec = await f.waitFor((r) => r.path === '/v1/chat/completions' && r.closedAt !== null);
    expect(rec.finished).toBe(false);
    release();
  });

  it('fails over to the route\'s next backend when the first is down, before anything streamed', async () => {
    const down = await vllm(() => ({ text: 'never' }));
    const downUrl = down.url;
    await down.close();
    const up = await vllm(() => ({ text: 'from the second' }));
    await start({ backends: { first: { kind: 'vllm', url: downUrl }, second: { kind: 'vllm', url: up.url } }, routes: { chat: ['first', 'second'] }, context: { enabled: false } });
    const r = await client!.request('tandem/chat', { messages: [{ role: 'user', content: 'hi' }] });
    expect(r).toMatchObject({ text: 'from the second', backend: 'second' });
    // Pinned: no failover, the pinned backend's failure is the answer.
    const e = await failure(client!.request('tandem/chat', { messages: [{ role: 'user', content: 'hi' }], model: 'tandem/first' }));
    expect(e).toMatchObject({ code: -32803, data: { kind: 'unreachable' } });
    expect(e!.message).toContain('first');
  });

  it('definitions: true adds the definitions the referenced code uses, from the context stage', async () => {
    const root = workspace({
      'src/orders.ts': 'export interface Order {\n  id: string;\n  total: number;\n}\n\nexport function parseOrder(raw: string, strict = false): Order {\n  return { id: raw, total: strict ? 1 : 0 };\n}\n',
      'src/main.ts': "import { parseOrder } from './orders.js';\n\nexport function run(raw: string) {\n  const order = parseOrder(raw);\n  return order.total;\n}\n",
    });
    const f = await vllm(() => ({ text: 'ok' }));
    const s = await startServer({ init: { backends: { local: { kind: 'vllm', url: f.url } }, context: { sources: SOURCES_UNHURRIED } }, rootUri: pathToFileURL(root).href, capabilities: { window: { workDoneProgress: true } } });
    client = s.client;
    await client.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end');
    const uri = pathToFileURL(join(root, 'src/main.ts')).href;
    client.open(uri, 'typescript', readFileSync(join(root, 'src/main.ts'), 'utf8'));
    const range = { start: { line: 3, character: 16 }, end: { line: 4, character: 0 } };
    // The document's tables are made once it has settled: ask until the definition is there.
    const last = await until(async () => {
      await client!.request('tandem/chat', { messages: [{ role: 'user', content: 'What does this line do?' }], references: [{ uri, range }], definitions: true });
      const content: string = chats(f).at(-1)!.body.messages.at(-1).content;
      return content.includes('export function parseOrder(raw: string, strict = false): Order {') ? content : undefined;
    }, 'the definition in the chat prompt', STUCK_MS, 100);
    expect(last).toContain('src/main.ts (line 4)\n```typescript\nparseOrder(raw);\n```');
    expect(last).toContain('src/orders.ts');
    expect(last.endsWith('What does this line do?')).toBe(true);
  });

  it('a prompt larger than every window the servers report is context_length, nothing sent', async () => {
    const f = await vllm(() => ({ text: 'x' }), { maxModelLen: 4096 });
    await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } });
    const e = await failure(client!.request('tandem/chat', { messages: [{ role: 'user', content: 'word '.repeat(6000) }], maxTokens: 512 }));
    expect(e).toMatchObject({ code: -32803, data: { kind: 'context_length' } });
    expect(e!.message).toContain('exceeds its context window of 4096');
    expect(chats(f)).toEqual([]);
  });

  it('routes.chat defaults to the action route\'s list', async () => {
    const a = await vllm(() => ({ text: 'from a' }));
    const b = await vllm(() => ({ text: 'from b' }));
    await start({ backends: { a: { kind: 'vllm', url: a.url }, b: { kind: 'vllm', url: b.url } }, routes: { action: ['b', 'a'] }, context: { enabled: false } });
    expect(await client!.request('tandem/chat', { messages: [{ role: 'user', content: 'hi' }] })).toMatchObject({ backend: 'b', text: 'from b' });
    expect(chats(a)).toHaveLength(0);
  });
});

describe('tandem/chatModels and tandem/countTokens', () => {
  it('lists tandem/auto and each backend with the context window its server reports; counts with the server\'s /tokenize', async () => {
    const f = await vllm(() => ({ text: '' }), { maxModelLen: 16384 });
    await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } });
    const { models } = await client!.request('tandem/chatModels', {});
    expect(models).toEqual([
      { id: 'tandem/auto', name: 'auto', location: 'onprem', maxInputTokens: 12288, maxOutputTokens: 4096, toolCalling: true, healthy: true },
      { id: 'tandem/local', name: 'local (Qwen/Qwen2.5-Coder-7B)', backend: 'local', location: 'onprem', maxInputTokens: 12288, maxOutputTokens: 4096, toolCalling: true, healthy: true },
    ]);
    const text = 'function add(a, b) { return a + b; }';
    const r = await client!.request('tandem/countTokens', { model: 'tandem/local', text });
    const asked = f.requests.filter((q) => q.path === '/tokenize');
    expect(asked).toHaveLength(1);
    expect(asked[0]!.body).toEqual({ model: 'Qwen/Qwen2.5-Coder-7B', prompt: text, add_special_tokens: false });
    // The fake's tokenizer: one token per 4 characters.
    expect(r).toEqual({ tokens: Math.ceil(text.length / 4) });
    expect(await failure(client!.request('tandem/countTokens', { model: 'gpt-4', text }))).toMatchObject({ code: -32602, message: expect.stringContaining('tandem/countTokens: params.model: "gpt-4" is not one of tandem\'s models (tandem/auto, tandem/local)') });
    expect(await failure(client!.request('tandem/countTokens', { model: 'tandem/auto' }))).toMatchObject({ code: -32602, message: expect.stringContaining('tandem/countTokens: params.text') });
  });

  it('sends tandem/chatModelsChanged when the configuration changes the list (an editor turns the air gap on)', async () => {
    const f = await vllm(() => ({ text: '' }));
    await start({ backends: { local: { kind: 'vllm', url: f.url }, cloud: { kind: 'openai', url: `${f.url}/v1`, model: 'Qwen/Qwen2.5-Coder-7B' } }, context: { enabled: false } });
    expect((await client!.request('tandem/chatModels', {})).models.map((m: { id: string }) => m.id)).toEqual(['tandem/auto', 'tandem/local', 'tandem/cloud']);
    expect(client!.notifications.filter((n) => n.method === 'tandem/chatModelsChanged')).toEqual([]);
    // An editor's push may tighten privacy (it could come from a repository's settings).
    client!.notify('workspace/didChangeConfiguration', { settings: { tandem: { privacy: { airGapped: true } } } });
    await client!.waitForNotification((n) => n.method === 'tandem/chatModelsChanged');
    expect((await client!.request('tandem/chatModels', {})).models.map((m: { id: string }) => m.id)).toEqual(['tandem/auto', 'tandem/local']);
  });

  it('sends tandem/chatModelsChanged when a backend\'s health changes the list', async () => {
    const down = await vllm(() => ({ text: 'never' }));
    const downUrl = down.url;
    await down.close();
    const up = await vllm(() => ({ text: 'from the second' }));
    await start({ backends: { first: { kind: 'vllm', url: downUrl }, second: { kind: 'vllm', url: up.url } }, routes: { chat: ['first', 'second'] }, context: { enabled: false } });
    await client!.request('tandem/chat', { messages: [{ role: 'user', content: 'hi' }] });
    await client!.waitForNotification((n) => n.method === 'tandem/chatModelsChanged');
    const { models } = await client!.request('tandem/chatModels', null);
    expect(models.map((m: { id: string; healthy: boolean }) => [m.id, m.healthy])).toEqual([['tandem/auto', true], ['tandem/first', false], ['tandem/second', true]]);
  });
});

describe('privacy of chat (a recording fake cloud first on the chat route)', () => {
  const MARK = 'protectedMarker9c2e';
  const KEYS = ['export function rotateSigningKeys(store: KeyStore): void {', `  const ${MARK} = store.current().fingerprint();`, `  store.replace(${MARK}, deriveNextKey(${MARK}));`, '}', ''].join('\n');
  const FILES = { 'secrets/keys.ts': KEYS, 'src/app.ts': 'export const app = 1;\n' };

  async function setup(extra: Record<string, unknown> = {}) {
    const root = workspace(FILES);
    const cloud = await vllm(() => ({ text: 'cloud answer' }));
    const local = await vllm(() => ({ text: 'local answer' }));
    await start({ backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, model: 'Qwen/Qwen2.5-Coder-7B' }, local: { kind: 'vllm', url: local.url } }, routes: { chat: ['cloud', 'local'] }, privacy: { onPremOnly: ['secrets/**'] }, context: { enabled: false }, ...extra }, root);
    return { root, cloud, local };
  }
  const nothingOf = (f: FakeVllm, what: string) => expect(f.requests.filter((r) => r.rawBody.includes(what))).toEqual([]);

  it('a referenced onPremOnly file goes on-prem; the cloud receives nothing of it', async () => {
    const { root, cloud, local } = await setup();
    const r = await client!.request('tandem/chat', { messages: [{ role: 'user', content: 'What does this do?' }], references: [{ uri: pathToFileURL(join(root, 'secrets/keys.ts')).href }] });
    expect(r).toMatchObject({ backend: 'local', location: 'onprem', text: 'local answer' });
    expect(chats(local)[0]!.rawBody).toContain(MARK);
    expect(chats(local)[0]!.body.messages.at(-1).content).toContain('secrets/keys.ts');
    expect(chats(cloud)).toEqual([]);
    nothingOf(cloud, MARK);
    // A file that is not protected may go to the cloud, with its path.
    const ok = await client!.request('tandem/chat', { messages: [{ role: 'user', content: 'And this?' }], references: [{ uri: pathToFileURL(join(root, 'src/app.ts')).href, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 12 } } }] });
    expect(ok).toMatchObject({ backend: 'cloud', location: 'cloud' });
    expect(chats(cloud)[0]!.body.messages.at(-1).content).toContain('src/app.ts (line 1)');
    expect(chats(cloud)[0]!.body.messages.at(-1).content).toContain('export const');
  });

  it('a path named in the text, and pasted lines of the file, keep the request on-prem', async () => {
    const { cloud, local } = await setup();
    const named = await client!.request('tandem/chat', { messages: [{ role: 'user', content: 'Is there a bug in secrets/keys.ts?' }] });
    expect(named).toMatchObject({ backend: 'local' });
    // Pasted, re-indented, inside a longer question (as Continue and Aider paste code).
    const pasted = KEYS.split('\n').map((l) => `    ${l.trim()}`).join('\n');
    const r = await client!.request('tandem/chat', { messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: `Review this:\n\n${pasted}\n\nThanks.` }] });
    expect(r).toMatchObject({ backend: 'local' });
    expect(chats(local)).toHaveLength(2);
    expect(chats(cloud)).toEqual([]);
    nothingOf(cloud, MARK);
    nothingOf(cloud, 'secrets/keys.ts');
    // Pinned to the cloud: refused, never re-routed, nothing sent.
    const e = await failure(client!.request('tandem/chat', { model: 'tandem/cloud', messages: [{ role: 'user', content: `Review:\n${pasted}` }] }));
    expect(e).toMatchObject({ code: -32803, data: { kind: 'denied' } });
    expect(e!.message).toContain('nothing was sent');
    expect(cloud.requests.filter((q) => q.method === 'POST')).toEqual([]);
  });

  it('planted secrets in the messages (tool calls\' arguments and tools\' answers too) reach the cloud redacted', async () => {
    const GH_TOKEN = SECRETS.find(([rule]) => rule === 'github-token')![1];
    const { cloud } = await setup();
    const text = ['Why does this config fail?', ...SECRETS.map(([, line]) => line)].join('\n');
    const r = await client!.request('tandem/chat', { messages: [{ role: 'user', content: text }, { role: 'assistant', content: null, toolCalls: [{ id: 'c1', type: 'function', function: { name: 'read', arguments: JSON.stringify({ line: GH_TOKEN }) } }] }, { role: 'tool', toolCallId: 'c1', content: SECRETS.map(([, line]) => line).join('\n') }] });
    expect(r).toMatchObject({ backend: 'cloud' });
    const sent = chats(cloud)[0]!.rawBody;
    for (const [rule, , secret] of SECRETS) expect(sent.includes(secret), `${rule}: ${secret}`).toBe(false);
    expect(sent).not.toContain(GH_TOKEN.split(' ')[1]);
  });

  it('air-gapped: the cloud backend is neither listed nor asked, not even pinned', async () => {
    const { cloud } = await setup({ privacy: { onPremOnly: [], airGapped: true } });
    const { models } = await client!.request('tandem/chatModels', {});
    expect(models.map((m: { id: string }) => m.id)).toEqual(['tandem/auto', 'tandem/local']);
    expect(await client!.request('tandem/chat', { messages: [{ role: 'user', content: 'hi' }] })).toMatchObject({ backend: 'local' });
    const e = await failure(client!.request('tandem/chat', { model: 'tandem/cloud', messages: [{ role: 'user', content: 'hi' }] }));
    expect(e).toMatchObject({ code: -32803, data: { kind: 'denied' } });
    expect(cloud.requests).toEqual([]);
  });
});

describe('bad input: -32602 naming the field, nothing sent', () => {
  it.each([
    ['messages not a list', { messages: 'hi' }, 'tandem/chat: params.messages: expected a list of messages (got "hi")'],
    ['a role that does not exist', { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'robot', content: 'c' }] }, 'tandem/chat: params.messages[2].role: "robot" is not one of system, user, assistant, tool'],
    ['a tool message without its call id', { messages: [{ role: 'tool', content: 'x' }] }, 'tandem/chat: params.messages[0].toolCallId: expected the id of the tool call this answers'],
    ['a tool schema that is not an object schema', { messages: [{ role: 'user', content: 'a' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] }, 'tandem/chat: params.tools[0].function.parameters.type: expected "object"'],
    ['a tool name with spaces', { messages: [{ role: 'user', content: 'a' }], tools: [{ type: 'function', function: { name: 'get weather' } }] }, 'tandem/chat: params.tools[0].function.name: expected 1 to 64 letters, digits, _ or -'],
    ['a toolChoice naming no tool', { messages: [{ role: 'user', content: 'a' }], toolChoice: { type: 'function', function: { name: 'nope' } } }, 'tandem/chat: params.toolChoice.function.name: "nope" is not one of the request\'s tools'],
    ['a model that is not tandem\'s', { messages: [{ role: 'user', content: 'a' }], model: 'gpt-4o' }, 'tandem/chat: params.model: "gpt-4o" is not one of tandem\'s models (tandem/auto, tandem/local)'],
    ['a temperature out of range', { messages: [{ role: 'user', content: 'a' }], temperature: 7 }, 'tandem/chat: params.temperature: expected a number from 0 to 2'],
  ])('%s', async (_what, params, message) => {
    const f = await vllm(() => ({ text: 'x' }));
    await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } });
    const e = await failure(client!.request('tandem/chat', params));
    expect(e).toMatchObject({ code: -32602 });
    expect(e!.message).toContain(message);
    expect(chats(f)).toEqual([]);
  });

  it('references outside the workspace or unreadable', async () => {
    const root = workspace({ 'src/a.ts': 'export const a = 1;\n' });
    const outside = workspace({ 'x.ts': 'export const x = 1;\n' });
    const f = await vllm(() => ({ text: 'x' }));
    await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } }, root);
    const ask = (uri: string) => failure(client!.request('tandem/chat', { messages: [{ role: 'user', content: 'a' }], references: [{ uri: pathToFileURL(join(root, 'src/a.ts')).href }, { uri }] }));
    const e1 = await ask(pathToFileURL(join(outside, 'x.ts')).href);
    expect(e1).toMatchObject({ code: -32602 });
    expect(e1!.message).toContain(`tandem/chat: params.references[1].uri: ${join(outside, 'x.ts')} is outside the workspace folders`);
    const e2 = await ask(pathToFileURL(join(root, 'src/missing.ts')).href);
    expect(e2!.message).toContain(`tandem/chat: params.references[1].uri: cannot read ${join(root, 'src/missing.ts')}: ENOENT`);
    const e3 = await ask('untitled:Untitled-1');
    expect(e3!.message).toContain('tandem/chat: params.references[1].uri: "untitled:Untitled-1" is not a file: URI');
    expect(chats(f)).toEqual([]);
  });
});
