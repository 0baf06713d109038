// Chat's plain parts: the request check, tool-call assembly, the sources found in message text (named
// paths, the protected-line fingerprint), and each backend kind's tokenizer and tool calls against its fake.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../server/src/config/schema.js';
import { LlamaCppBackend } from '../../server/src/models/llamacpp.js';
import { OllamaBackend, ollamaMessages } from '../../server/src/models/ollama.js';
import { OpenAICompatBackend } from '../../server/src/models/openaiCompat.js';
import { openAIMessages, ToolCallAssembler } from '../../server/src/models/streams.js';
import { TgiBackend } from '../../server/src/models/tgi.js';
import type { ChatMessage, ToolCallDelta } from '../../server/src/models/types.js';
import { AuditLog } from '../../server/src/privacy/audit.js';
import { PrivacyGate } from '../../server/src/privacy/gate.js';
import { openAIChatRequest, parseChatRequest } from '../../server/src/pipeline/chat.js';
import { namedPaths, ProtectedLines } from '../../server/src/pipeline/chatSources.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { startFakeLlamaCpp } from '../fake/llamacpp.js';
import { startFakeOllama } from '../fake/ollama.js';
import { startFakeTgi } from '../fake/tgi.js';
import { startFakeVllm } from '../fake/vllm.js';
import { never } from './backendKit.js';

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
});

function tree(files: Record<string, string>): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-chat-unit-')));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

describe('parseChatRequest', () => {
  const user = { role: 'user', content: 'hi' };
  const fails = (raw: unknown) => {
    const r = parseChatRequest(raw, 'lsp');
    if (r.ok) throw new Error('expected a failure');
    expect(r.failure.kind).toBe('bad_request');
    return `${r.failure.param}|${r.failure.message}`;
  };

  it('takes OpenAI-style messages, tool calls and tools; content parts become one string', () => {
    const r = parseChatRequest(
      {
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'Be ' }, { type: 'text', text: 'brief.' }] },
          user,
          { role: 'assistant', content: null, toolCalls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', toolCallId: 'c1', content: 'ok', name: 'f' },
        ],
        model: 'tandem/auto',
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } } }],
        toolChoice: { type: 'function', function: { name: 'f' } },
        references: [{ uri: 'file:///w/a.ts', range: { start: { line: 1, character: 0 }, end: { line: 2, character: 0 } } }],
        definitions: true,
        maxTokens: 100,
        temperature: 0,
      },
      'serve',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(r.value.messages[2]).toEqual({ role: 'assistant', content: null, toolCalls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] });
    expect(r.value.messages[3]).toEqual({ role: 'tool', content: 'ok', toolCallId: 'c1', name: 'f' });
    expect(r.value).toMatchObject({ origin: 'serve', model: 'tandem/auto', definitions: true, maxTokens: 100, temperature: 0 });
  });

  it.each([
    [null, 'params|params: expected an object with "messages" (got null)'],
    [{ messages: {} }, 'messages|messages: expected a list of messages (got {})'],
    [{ messages: [] }, 'messages|messages: expected at least one message'],
    [{ messages: [user, 'x'] }, 'messages[1]|messages[1]: expected {"role": ..., "content": ...} (got "x")'],
    [{ messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role|messages[0].role: "robot" is not one of system, user, assistant, tool'],
    [{ messages: [{ role: 'user', content: 5 }] }, 'messages[0].content|messages[0].content: expected a string or null (got 5)'],
    [{ messages: [{ role: 'user', content: null }] }, 'messages[0].content|messages[0].content: expected a string (only an assistant message that calls tools may have none)'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0]|messages[0].content[0]: expected a text part {"type": "text", "text": ...} (got {"type":"image_url","image_url":{"url":"x"}})'],
    [{ messages: [{ role: 'user', content: 'x', toolCalls: [] }] }, 'messages[0].toolCalls|messages[0].toolCalls: only an assistant message calls tools (this one is user)'],
    [{ messages: [{ role: 'assistant', content: null, toolCalls: [{ id: 'a', function: { name: 'f', arguments: {} } }] }] }, 'messages[0].toolCalls[0].function.arguments|messages[0].toolCalls[0].function.arguments: expected the arguments as a JSON string (got {})'],
    [{ messages: [{ role: 'user', content: 'x', toolCallId: 'a' }] }, 'messages[0].toolCallId|messages[0].toolCallId: only a tool message answers a tool call (this one is user)'],
    [{ messages: [user], model: 3 }, 'model|model: expected "tandem/auto" or "tandem/<backend>" (got 3)'],
    [{ messages: [user], tools: {} }, 'tools|tools: expected a list of function tools (got {})'],
    [{ messages: [user], tools: [{ type: 'retrieval' }] }, 'tools[0].type|tools[0].type: expected "function" (got "retrieval")'],
    [{ messages: [user], tools: [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'f' } }] }, 'tools[1].function.name|tools[1].function.name: "f" is named twice'],
    [{ messages: [user], tools: [{ type: 'function', function: { name: 'f', parameters: [] } }] }, 'tools[0].function.parameters|tools[0].function.parameters: expected a JSON Schema object (got [])'],
    [{ messages: [user], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: 3 } } } }] }, 'tools[0].function.parameters.properties.a|tools[0].function.parameters.properties.a: expected a JSON Schema (got 3)'],
    [{ messages: [user], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', required: 'a' } } }] }, 'tools[0].function.parameters.required|tools[0].function.parameters.required: expected a list of property names (got "a")'],
    [{ messages: [user], toolChoice: 'always' }, 'toolChoice|toolChoice: expected "none", "auto", "required" or {"type": "function", "function": {"name": ...}} (got "always")'],
    [{ messages: [user], references: [{ uri: '' }] }, 'references[0].uri|references[0].uri: expected a file URI (got "")'],
    [{ messages: [user], references: [{ uri: 'file:///a', range: { start: { line: 2, character: 0 }, end: { line: 1, character: 0 } } }] }, 'references[0].range|references[0].range: its end is before its start'],
    [{ messages: [user], references: [{ uri: 'file:///a', range: { start: { line: -1, character: 0 }, end: { line: 1, character: 0 } } }] }, 'references[0].range.start.line|references[0].range.start.line: expected a non-negative integer (got -1)'],
    [{ messages: [user], definitions: 'yes' }, 'definitions|definitions: expected true or false (got "yes")'],
    [{ messages: [user], maxTokens: 0 }, 'maxTokens|maxTokens: expected an integer from 1 to 1000000 (got 0)'],
  ])('%j', (raw, expected) => {
    expect(fails(raw)).toBe(expected);
  });
});

describe('openAIChatRequest (the serve door)', () => {
  it('reads OpenAI\'s spelling', () => {
    const r = openAIChatRequest({
      model: 'tandem/auto',
      stream: true,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c', content: 'r' },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
      tool_choice: 'auto',
      max_completion_tokens: 50,
      temperature: 0.5,
    });
    expect(r).toEqual({
      ok: true,
      value: {
        origin: 'serve',
        model: 'tandem/auto',
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: null, toolCalls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', content: 'r', toolCallId: 'c' },
        ],
        tools: [{ type: 'function', function: { name: 'f' } }],
        toolChoice: 'auto',
        maxTokens: 50,
        temperature: 0.5,
      },
    });
  });
  it.each([
    [{ messages: [{ role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }] }, 'messages[0].tool_calls[0].id', 'messages[0].tool_calls[0].id: expected the call\'s id (got nothing)'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id', 'messages[0].tool_call_id: expected the id of the tool call this answers (got nothing)'],
    [{ messages: [{ role: 'user', content: 'x' }], tool_choice: 'sometimes' }, 'tool_choice', 'tool_choice: expected "none", "auto", "required" or {"type": "function", "function": {"name": ...}} (got "sometimes")'],
    [{ messages: [{ role: 'user', content: 'x' }], max_completion_tokens: -1 }, 'max_completion_tokens', 'max_completion_tokens: expected an integer from 1 to 1000000 (got -1)'],
    [{ messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }, 'max_tokens', 'max_tokens: expected an integer from 1 to 1000000 (got 0)'],
  ])('%j', (body, param, message) => {
    expect(openAIChatRequest(body)).toEqual({ ok: false, failure: { kind: 'bad_request', param, message } });
  });
});

describe('ToolCallAssembler', () => {
  it('puts OpenAI-style pieces together by index, passes the pieces on normalized', () => {
    const a = new ToolCallAssembler();
    const seen: ToolCallDelta[] = [];
    for (const d of [
      [{ id: 'call_a', type: 'function', index: 0, function: { name: 'f' } }],
      [{ index: 0, function: { arguments: '{"x":' } }],
      [{ id: 'call_b', type: 'function', index: 1, function: { name: 'g', arguments: '' } }],
      [{ index: 0, function: { arguments: ' 1}' } }, { index: 1, function: { arguments: '{}' } }],
    ]) seen.push(...(a.add(d) ?? []));
    expect(seen).toEqual([
      { index: 0, id: 'call_a', type: 'function', function: { name: 'f' } },
      { index: 0, function: { arguments: '{"x":' } },
      { index: 1, id: 'call_b', type: 'function', function: { name: 'g' } },
      { index: 0, function: { arguments: ' 1}' } },
      { index: 1, function: { arguments: '{}' } },
    ]);
    expect(a.finish()).toEqual({ ok: true, calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"x": 1}' } }, { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } }] });
  });

  it('reads TGI\'s shape (one object, not a list; the name repeated; an empty id) and gives the call an id', () => {
    const a = new ToolCallAssembler();
    a.add({ index: 0, id: '', type: 'function', function: { name: 'get_weather', arguments: '{"city"' } });
    a.add({ index: 0, id: '', type: 'function', function: { name: 'get_weather', arguments: ': "Oslo"}' } });
    expect(a.finish()).toEqual({ ok: true, calls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo"}' } }] });
  });

  it('Ollama\'s whole calls, arguments as an object', () => {
    const a = new ToolCallAssembler();
    expect(a.addWhole([{ id: 'call_x', function: { index: 0, name: 'f', arguments: { a: 1 } } }])).toEqual([{ index: 0, id: 'call_x', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }]);
    expect(a.finish()).toEqual({ ok: true, calls: [{ id: 'call_x', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] });
  });

  it.each([
    [[[{ index: 0, function: { name: 'f', arguments: '{"a": ' } }]], 'tool call 0 (f) has arguments that are not valid JSON: {"a": '],
    [[[{ index: 0, function: { name: 'f', arguments: '[1]' } }]], 'tool call 0 (f) has arguments that are not a JSON object: [1]'],
    [[[{ index: 0, function: { arguments: '{}' } }]], 'tool call 0 has no function name'],
    [[[{ index: 2, function: { name: 'f' } }]], 'tool call 2 started before tool call 0'],
    [[[{ index: 'x', function: { name: 'f' } }]], 'a tool call piece has index "x", not a small non-negative integer'],
    [[[{ index: 0, function: { name: 'f', arguments: { a: 1 } } }]], 'tool call 0\'s arguments are an object, not a JSON string'],
    [[[{ index: 0, type: 'code', function: { name: 'f' } }]], 'tool call 0 has type "code", not "function"'],
    [[['oops']], 'a tool call piece is "oops", not an object'],
  ])('malformed: %j', (chunks, problem) => {
    const a = new ToolCallAssembler();
    for (const c of chunks) a.add(c);
    expect(a.finish()).toEqual({ ok: false, problem });
  });
});

describe('wire messages', () => {
  const messages: ChatMessage[] = [
    { role: 'user', content: 'w?' },
    { role: 'assistant', content: null, toolCalls: [{ id: 'c1', type: 'function', function: { name: 'get', arguments: '{"q":"x"}' } }] },
    { role: 'tool', content: 'sunny', toolCallId: 'c1' },
  ];
  it('OpenAI: tool_calls and tool_call_id', () => {
    expect(openAIMessages(messages)).toEqual([
      { role: 'user', content: 'w?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get', arguments: '{"q":"x"}' } }] },
      { role: 'tool', content: 'sunny', tool_call_id: 'c1' },
    ]);
  });
  it('Ollama: arguments as an object, the tool\'s answer named by the call it answers', () => {
    expect(ollamaMessages(messages)).toEqual([
      { role: 'user', content: 'w?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get', arguments: { q: 'x' } } }] },
      { role: 'tool', content: 'sunny', tool_name: 'get' },
    ]);
  });
});

describe('namedPaths', () => {
  it('finds workspace files the text names, in any spelling, and nothing outside the folders', () => {
    const root = tree({ 'secrets/keys.ts': 'k', 'src/app.ts': 'a', 'README.md': 'r' });
    const outside = tree({ 'x.ts': 'x' });
    const rel = (abs: string) => abs.slice(root.length + 1);
    const found = (text: string) => namedPaths(text, [root], rel).sort();
    expect(found('Look at secrets/keys.ts.')).toEqual(['secrets/keys.ts']);
    expect(found('see ./src/app.ts:12 and `README.md`')).toEqual(['README.md', 'src/app.ts']);
    expect(found(`open ${join(root, 'secrets/keys.ts')} please`)).toEqual(['secrets/keys.ts']);
    expect(found(`the file ${pathToFileURL(join(root, 'src/app.ts')).href}`)).toEqual(['src/app.ts']);
    expect(found(`${join(outside, 'x.ts')} and src/missing.ts and ../x.ts`)).toEqual([]);
    expect(namedPaths('secrets/keys.ts', [], rel)).toEqual([]);
  });
});

describe('ProtectedLines', () => {
  const KEYS = ['export function rotateSigningKeys(store: KeyStore): void {', '  store.replace(store.current(), deriveNextKey(store));', '}', ''].join('\n');
  function lines(root: string, globs: string[] = ['secrets/**']) {
    let rules = globs;
    const p = new ProtectedLines({
      roots: () => [root],
      relativePath: (abs) => (abs.startsWith('file:') ? new URL(abs).pathname : abs).slice(root.length + 1),
      isProtected: (rel) => rules.some((g) => rel.startsWith(g.replace('/**', '/'))),
      rulesKey: () => rules.join(','),
    });
    return { p, setRules: (g: string[]) => (rules = g) };
  }

  it('recognizes a pasted line of a protected file, re-indented, and nothing from short or unprotected lines', async () => {
    const root = tree({ 'secrets/keys.ts': KEYS, 'src/app.ts': 'export const somethingRatherLongAndUnprotected = 1;\n' });
    const { p } = lines(root);
    expect(await p.find(['Why does\n\t\tstore.replace(store.current(),   deriveNextKey(store));\nfail?'], [], never())).toEqual(new Set(['secrets/keys.ts']));
    expect(await p.find(['}\nexport const somethingRatherLongAndUnprotected = 1;'], [], never())).toEqual(new Set());
  });

  it('reads an open protected document\'s unsaved text, and starts over after invalidate() or a change of the rules', async () => {
    const root = tree({ 'secrets/keys.ts': KEYS, 'vault/new.ts': '' });
    const { p, setRules } = lines(root);
    const doc = { uri: pathToFileURL(join(root, 'secrets/keys.ts')).href, languageId: 'typescript', text: TextDocument.create('x', 'typescript', 2, 'const unsavedProtectedLineOfCode = computeIt();\n'), binary: false, tree: undefined };
    expect(await p.find(['const unsavedProtectedLineOfCode = computeIt();'], [doc], never())).toEqual(new Set(['secrets/keys.ts']));
    const pasted = 'export const addedAfterTheFirstBuild = vaultValue();';
    writeFileSync(join(root, 'secrets/later.ts'), `${pasted}\n`);
    expect(await p.find([pasted], [], never())).toEqual(new Set());
    p.invalidate();
    expect(await p.find([pasted], [], never())).toEqual(new Set(['secrets/later.ts']));
    writeFileSync(join(root, 'vault/new.ts'), `${pasted}\n`);
    setRules(['vault/**']);
    expect(await p.find([pasted], [], never())).toEqual(new Set(['vault/new.ts']));
  });
});

const cfg = (kind: Backend['kind'], url: string): Backend => ({ name: kind, kind, url, location: 'onprem' });
const deps = { logger: silentLogger(), env: {} };

describe('token counts and tool calls per backend kind, against the fakes', () => {

  it('vLLM: POST /tokenize at the server root', async () => {
    const f = await startFakeVllm();
    closers.push(f);
    const b = new OpenAICompatBackend(cfg('vllm', f.url), deps);
    expect(await b.countTokens('twelve chars', never())).toEqual({ ok: true, value: 3 });
    expect(f.requests.at(-1)).toMatchObject({ path: '/tokenize', body: { prompt: 'twelve chars', add_special_tokens: false } });
  });

  it('an OpenAI-compatible cloud API has no tokenizer endpoint: not_found, nothing sent', async () => {
    const f = await startFakeVllm();
    closers.push(f);
    const b = new OpenAICompatBackend({ ...cfg('openai', `${f.url}/v1`), model: 'm' }, deps);
    expect(await b.countTokens('x', never())).toMatchObject({ ok: false, failure: { kind: 'not_found' } });
    expect(f.requests).toEqual([]);
  });

  it('TGI: POST /tokenize {inputs}, one entry per token', async () => {
    const f = await startFakeTgi();
    closers.push(f);
    const b = new TgiBackend(cfg('tgi', f.url), deps);
    expect(await b.countTokens('a'.repeat(17), never())).toEqual({ ok: true, value: 5 });
    expect(f.requests.at(-1)).toMatchObject({ path: '/tokenize', body: { inputs: 'a'.repeat(17) } });
  });

  it('llama.cpp: POST /tokenize {content}', async () => {
    const f = await startFakeLlamaCpp();
    closers.push(f);
    const b = new LlamaCppBackend(cfg('llamacpp', f.url), deps);
    expect(await b.countTokens('a'.repeat(8), never())).toEqual({ ok: true, value: 2 });
    expect(f.requests.at(-1)).toMatchObject({ path: '/tokenize', body: { content: 'a'.repeat(8), add_special: false } });
  });

  it('TGI: its one tool call (index 0, empty id, name then null, arguments from "{"), assembled with an id and finish reason tool_calls', async () => {
    const f = await startFakeTgi({ respond: () => ({ toolCalls: [{ name: 'get_weather', arguments: '{"city": "Oslo", "unit": "c"}' }] }) });
    closers.push(f);
    const b = new TgiBackend(cfg('tgi', f.url), deps);
    const pieces: ToolCallDelta[] = [];
    const r = await b.chat({ messages: [{ role: 'user', content: 'q' }], tools: [{ type: 'function', function: { name: 'get_weather' } }], maxTokens: 50, temperature: 0, onToolCallDelta: (d) => pieces.push(...d) }, never());
    expect(r).toMatchObject({ ok: true, value: { finishReason: 'tool_calls', toolCalls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo", "unit": "c"}' } }] } });
    expect(pieces[0]).toEqual({ index: 0, function: { name: 'get_weather', arguments: '{' } });
    expect(f.requests.at(-1)!.body).toMatchObject({ model: 'tgi', tools: [{ type: 'function', function: { name: 'get_weather' } }] });
  });

  it('llama.cpp: tool calls streamed as diffs come back assembled, through the OpenAI-style chat of httpBackend', async () => {
    const f = await startFakeLlamaCpp({ respond: () => ({ toolCalls: [{ id: 'abc', name: 'lookup', arguments: '{"symbol": "parseOrder"}' }, { id: 'def', name: 'open', arguments: '{}' }] }) });
    closers.push(f);
    const b = new LlamaCppBackend(cfg('llamacpp', f.url), deps);
    const pieces: ToolCallDelta[] = [];
    const r = await b.chat({ messages: [{ role: 'user', content: 'q' }], tools: [{ type: 'function', function: { name: 'lookup' } }], toolChoice: 'required', maxTokens: 10, temperature: 0, onToolCallDelta: (d) => pieces.push(...d) }, never());
    expect(r).toMatchObject({ ok: true, value: { finishReason: 'tool_calls', toolCalls: [{ id: 'abc', function: { name: 'lookup', arguments: '{"symbol": "parseOrder"}' } }, { id: 'def', function: { name: 'open', arguments: '{}' } }] } });
    expect(pieces.map((p) => p.function?.arguments ?? '').join('')).toBe('{"symbol": "parseOrder"}{}');
    expect(f.requests.at(-1)!.body).toMatchObject({ tools: [{ type: 'function', function: { name: 'lookup' } }], tool_choice: 'required' });
    f.set({ respond: () => ({ toolCalls: [{ name: 'lookup', arguments: '{"symbol": ' }] }) });
    expect(await b.chat({ messages: [{ role: 'user', content: 'q' }], maxTokens: 10, temperature: 0 }, never())).toMatchObject({ ok: false, failure: { kind: 'bad_response', message: expect.stringContaining('answered a malformed tool call: tool call 0 (lookup) has arguments that are not valid JSON') } });
  });

  it('Ollama: prompt_eval_count of a raw one-token generation; tool calls whole, finish reason tool_calls', async () => {
    const f = await startFakeOllama({ capabilities: ['completion', 'tools'], respond: (r) => (r.path === '/api/chat' ? { toolCalls: [{ id: 'call_1', name: 'get', arguments: { q: 'x' } }] } : { text: 'x' }) });
    closers.push(f);
    const b = new OllamaBackend(cfg('ollama', f.url), deps);
    expect(await b.countTokens('a'.repeat(40), never())).toEqual({ ok: true, value: 10 });
    expect(f.requests.at(-1)).toMatchObject({ path: '/api/generate', body: { prompt: 'a'.repeat(40), raw: true, stream: false, options: { num_predict: 1 } } });
    expect((await b.info(never())) as unknown).toMatchObject({ ok: true, value: { tools: true } });
    const pieces: ToolCallDelta[] = [];
    const r = await b.chat({ messages: [{ role: 'user', content: 'q' }], tools: [{ type: 'function', function: { name: 'get' } }], maxTokens: 10, temperature: 0, onToolCallDelta: (d) => pieces.push(...d) }, never());
    expect(r).toMatchObject({ ok: true, value: { finishReason: 'tool_calls', toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"q":"x"}' } }] } });
    expect(pieces).toEqual([{ index: 0, id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"q":"x"}' } }]);
    expect(f.requests.at(-1)!.body.tools).toEqual([{ type: 'function', function: { name: 'get' } }]);
  });
});

describe('the gate and token counting', () => {
  it('an on-prem backend counts (audited as countTokens, not billed); a cloud one is never sent the text', async () => {
    const f = await startFakeVllm();
    closers.push(f);
    const dir = mkdtempSync(join(tmpdir(), 'tandem-chat-audit-'));
    const audit = new AuditLog({ path: join(dir, 'audit.jsonl'), maxBytes: 1e6, keep: 1 });
    const billed: number[] = [];
    const gated = (location: 'onprem' | 'cloud') => new PrivacyGate(new OpenAICompatBackend({ ...cfg('vllm', f.url), location }, deps), { policy: () => ({ airGapped: false, onPremOnly: [] }), audit, onUsage: (i) => billed.push(i) });
    expect(await gated('onprem').countTokens!('abcdefgh', never())).toEqual({ ok: true, value: 2 });
    expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).toContain('"task":"countTokens"');
    expect(billed).toEqual([]);
    const before = f.requests.length;
    expect(await gated('cloud').countTokens!('abcdefgh', never())).toMatchObject({ ok: false, failure: { kind: 'denied' } });
    expect(f.requests.length).toBe(before);
  });
});
