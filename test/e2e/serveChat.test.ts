// POST /v1/chat/completions through `tandem-lsp serve` on the chat pipeline: streamed (OpenAI's
// framing byte for byte) and not, tools passed through, a client leaving mid-stream, concurrent
// clients, and privacy on the wire: a recording fake cloud gets nothing of an onPremOnly file and no
// planted secret, and a request privacy forbids everywhere is refused with nothing sent.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import { SECRETS } from '../plantedSecrets.js';
import { startServeProcess, type ServeProcess } from '../serveProcess.js';
import { until } from '../wait.js';

const MARK = 'protectedMarker7f3a';
/** The protected file: its lines are long enough to be recognised when pasted. */
const KEYS = [`export function helper(n: number): number {`, `  const ${MARK}_scaled = n * 31 + 0x5bd1;`, `  return ${MARK}_scaled ^ (n << 7);`, '}', ''].join('\n');
/** Not protected, but holding a secret of every kind. */
const APP = ['export function settings() {', ...SECRETS.map(([, line]) => `  ${line.replace(/\n/g, '\n  ')}`), '}', ''].join('\n');

function workspace(files: Record<string, string>): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-serve-chat-')));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

const chats = (f: FakeVllm) => f.requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions');
const lastUser = (r: RecordedRequest) => JSON.stringify(r.body.messages);

describe('chat through tandem-lsp serve', () => {
  let fake: FakeVllm;
  let serve: ServeProcess;
  let root: string;
  const client = () => new OpenAI({ baseURL: serve.url, apiKey: serve.token, maxRetries: 0 });
  const echo = (r: RecordedRequest) => ({ text: `echo: ${String(r.body.messages.at(-1)?.content ?? '')}` });

  beforeAll(async () => {
    fake = await startFakeVllm({ respond: echo });
    root = workspace({ 'src/a.ts': 'export const a = 1;\n' });
    serve = await startServeProcess({ workspace: root, config: { backends: { local: { kind: 'vllm', url: fake.url } }, context: { enabled: false } } });
  });
  afterAll(async () => {
    await serve?.stop();
    await fake?.close();
  });

  it('not streamed: the answer, its finish reason and usage; the messages reach the backend as sent', async () => {
    const r = await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }] });
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('tandem/auto');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'echo: Say hello.' });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
    expect(chats(fake).at(-1)!.body.messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }]);
    // OpenAI's newer `developer` role is a system message for the backend.
    await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'developer', content: 'Be terse.' }, { role: 'user', content: 'Hi.' }] });
    expect(chats(fake).at(-1)!.body.messages).toEqual([{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi.' }]);
  });

  it('a chat\'s `stop` and `top_p` reach the backend as given; a bad one is a 400 naming it, nothing sent', async () => {
    await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: 'Count.' }], stop: ['\n\n', 'END'], top_p: 0.9 });
    expect(chats(fake).at(-1)!.body).toMatchObject({ stop: ['\n\n', 'END'], top_p: 0.9 });
    await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: 'Once.' }], stop: 'END' });
    expect(chats(fake).at(-1)!.body.stop).toEqual(['END']);
    expect(chats(fake).at(-1)!.body).not.toHaveProperty('top_p');
    const before = chats(fake).length;
    const bad = await fetch(`${serve.url}/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${serve.token}`, "content-type": "application/json" }, body: JSON.stringify({ model: "tandem/auto", messages: [{ role: "user", content: "x" }], top_p: 7, stop: [1] }) });
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as { error: { param: string; message: string } };
    expect(err.error.param).toBe('top_p');
    expect(err.error.message).toMatch(/^top_p: /);
    expect(chats(fake)).toHaveLength(before);
  });

  it('streamed: OpenAI\'s framing byte for byte (role chunk, pieces in order, finish, usage, [DONE])', async () => {
    fake.set({ respond: () => ({ text: 'Hello from the fake model.', chunks: ['Hello', ' from', ' the fake', ' model.'] }) });
    try {
      const u = new URL(serve.url);
      const body = JSON.stringify({ model: 'tandem/local', messages: [{ role: 'user', content: [{ type: 'text', text: 'Say ' }, { type: 'text', text: 'hello.' }] }], stream: true, stream_options: { include_usage: true } });
      const res = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' } }, (r) => {
          let text = '';
          r.on('data', (d) => (text += d));
          r.on('end', () => resolve({ status: r.statusCode!, type: String(r.headers['content-type']), text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(res.status).toBe(200);
      expect(res.type).toBe('text/event-stream; charset=utf-8');
      expect(res.text.endsWith('\n\ndata: [DONE]\n\n')).toBe(true);
      const events = res.text.slice(0, -'data: [DONE]\n\n'.length).split('\n\n').slice(0, -1);
      const data = events.map((e) => {
        expect(e).toMatch(/^data: \{/);
        expect(e).not.toContain('\n');
        return JSON.parse(e.slice('data: '.length));
      });
      const id = data[0].id;
      expect(id).toMatch(/^chatcmpl-/);
      for (const d of data) {
        expect(Object.keys(d)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
        expect(d).toMatchObject({ id, object: 'chat.completion.chunk', model: 'tandem/local' });
      }
      expect(data.map((d) => d.choices[0]?.delta ?? null)).toEqual([{ role: 'assistant', content: '', refusal: null }, { content: 'Hello' }, { content: ' from' }, { content: ' the fake' }, { content: ' model.' }, {}, null]);
      expect(data.map((d) => d.choices[0]?.finish_reason ?? null)).toEqual([null, null, null, null, null, 'stop', null]);
      expect(data.slice(0, -1).map((d) => d.usage)).toEqual(Array(6).fill(null));
      expect(data.at(-1).choices).toEqual([]);
      expect(data.at(-1).usage.completion_tokens).toBeGreaterThan(0);
      // Content parts were joined into one message for the backend.
      expect(chats(fake).at(-1)!.body.messages).toEqual([{ role: 'user', content: 'Say hello.' }]);
      // The SDK's own stream reader takes it.
      let text = '';
      for await (const c of await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: 'hi' }], stream: true })) text += c.choices[0]?.delta?.content ?? '';
      expect(text).toBe('Hello from the fake model.');
    } finally {
      fake.set({ respond: echo });
    }
  });

  it('tools, tool_choice and a conversation with tool calls and tool results reach the backend unchanged', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    await client().chat.completions.create({
      model: 'tandem/auto',
      tools,
      tool_choice: 'auto',
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 3}' },
      ],
    });
    const sent = chats(fake).at(-1)!.body;
    expect(sent.tools).toEqual(tools);
    expect(sent.tool_choice).toBe('auto');
    expect(sent.messages[1]).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] });
    expect(sent.messages[2]).toMatchObject({ role: 'tool', tool_call_id: 'call_1', content: '{"temp": 3}' });
  });

  it('tool calls come back in OpenAI\'s shape: streamed as tool_calls deltas by index, and whole when not streamed', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    fake.set({ respond: () => ({ toolCalls: [{ id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}', chunks: ['{"city"', ':"Oslo"}'] }, { id: 'call_b', name: 'get_weather', arguments: '{"city":"Rome"}' }] }) });
    try {
      const whole = await client().chat.completions.create({ model: 'tandem/auto', tools, messages: [{ role: 'user', content: 'Weather in Oslo and Rome?' }] });
      expect(whole.choices[0]!.finish_reason).toBe('tool_calls');
      expect(whole.choices[0]!.message.content).toBeNull();
      expect(whole.choices[0]!.message.tool_calls).toEqual([
        { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        { id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
      ]);
      const deltas: any[] = [];
      let finish: string | null = null;
      for await (const c of await client().chat.completions.create({ model: 'tandem/auto', tools, stream: true, messages: [{ role: 'user', content: 'Weather in Oslo and Rome?' }] })) {
        for (const d of c.choices[0]?.delta?.tool_calls ?? []) deltas.push(d);
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      expect(finish).toBe('tool_calls');
      // Reassembled by index as a client does it, the calls are the same.
      const calls: { id?: string; name: string; args: string }[] = [];
      for (const d of deltas) {
        const c = (calls[d.index] ??= { name: '', args: '' });
        if (d.id) c.id = d.id;
        c.name += d.function?.name ?? '';
        c.args += d.function?.arguments ?? '';
      }
      expect(calls).toEqual([{ id: 'call_a', name: 'get_weather', args: '{"city":"Oslo"}' }, { id: 'call_b', name: 'get_weather', args: '{"city":"Rome"}' }]);
      expect(deltas.filter((d) => d.id).map((d) => [d.index, d.id, d.type])).toEqual([[0, 'call_a', 'function'], [1, 'call_b', 'function']]);
    } finally {
      fake.set({ respond: echo });
    }
  });

  it('a backend that answers a tool call malformed: an OpenAI-shaped error naming it (JSON, or an error event once streaming began)', async () => {
    fake.set({ respond: () => ({ toolCalls: [{ id: 'call_x', name: 'get_weather', arguments: '{"city": "Os' }] }) });
    try {
      const err = await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'get_weather' } }] }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(502);
      expect(err.code).toBe('backend_bad_response');
      expect(err.message).toMatch(/get_weather|arguments|JSON/);
      const streamed = await (async () => {
        for await (const _ of await client().chat.completions.create({ model: 'tandem/auto', stream: true, messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'get_weather' } }] })) void _;
      })().catch((e) => e);
      expect(streamed).toBeInstanceOf(OpenAI.APIError);
      expect(streamed.message).toMatch(/get_weather|arguments|JSON/);
    } finally {
      fake.set({ respond: echo });
    }
  });

  it('tandem\'s own `references`: the file\'s text is added; one outside the workspace, missing, or malformed is a 400 naming it, nothing sent', async () => {
    const ref = pathToFileURL(join(root, 'src/a.ts')).href;
    await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: 'What is a?' }], references: [{ uri: ref }] } as never);
    const sent = JSON.stringify(chats(fake).at(-1)!.body.messages);
    expect(sent).toContain('src/a.ts');
    expect(sent).toContain('export const a = 1;');
    const before = chats(fake).length;
    const outside = pathToFileURL(join(tmpdir(), 'elsewhere.ts')).href;
    for (const [refs, param, message] of [
      [[{ uri: outside }], 'references[0].uri', /outside the workspace folders/],
      [[{ uri: pathToFileURL(join(root, 'src/missing.ts')).href }], 'references[0].uri', /cannot read .*missing\.ts: ENOENT/],
      ['src/a.ts', 'references', /expected a list/],
    ] as const) {
      const err = await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: 'x' }], references: refs } as never).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.param).toBe(param);
      expect(err.message).toMatch(message);
    }
    expect(chats(fake).length).toBe(before);
  });

  it('a client that disconnects mid-stream: the backend request is closed', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    fake.set({ respond: () => ({ text: 'one two three', chunks: ['one ', 'two ', 'three'] }), pace: (i) => (i >= 1 ? held : Promise.resolve()) });
    try {
      const ac = new AbortController();
      const stream = await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: 'leave early' }], stream: true }, { signal: ac.signal });
      const it = stream[Symbol.asyncIterator]();
      let first = '';
      while (!first) first = (await it.next()).value?.choices[0]?.delta?.content ?? '';
      expect(first).toBe('one ');
      const sent = chats(fake).at(-1)!;
      expect(lastUser(sent)).toContain('leave early');
      ac.abort();
      await until(() => sent.closedAt !== null, 'the backend request to close');
      expect(sent.finished).toBe(false);
    } finally {
      release();
      fake.set({ pace: undefined, respond: echo });
    }
  });

  it('concurrent clients, streamed and not, each get their own answer', async () => {
    const n = 10;
    const answers = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        if (i % 2) return (await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: `q${i}` }] })).choices[0]!.message.content;
        let text = '';
        for await (const c of await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: `q${i}` }], stream: true })) text += c.choices[0]?.delta?.content ?? '';
        return text;
      }),
    );
    expect(answers).toEqual(Array.from({ length: n }, (_, i) => `echo: q${i}`));
  });

  it('the pipeline\'s own checks come back in the shape: a reference-free bad model is 404, a backend error is named', async () => {
    const err = await client().chat.completions.create({ model: 'tandem/nope', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.param).toBe('model');
    fake.set({ respond: () => ({ status: 500, error: { message: 'CUDA out of memory' } }) });
    try {
      const e2 = await client().chat.completions.create({ model: 'tandem/local', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
      expect(e2.status).toBe(502);
      expect(e2.message).toContain('CUDA out of memory');
      expect(e2.message).toContain(fake.url);
    } finally {
      fake.set({ respond: echo });
    }
  });
});

describe('privacy through tandem-lsp serve', () => {
  let cloud: FakeVllm;
  let local: FakeVllm;
  let serve: ServeProcess;
  const client = () => new OpenAI({ baseURL: serve.url, apiKey: serve.token, maxRetries: 0 });

  beforeAll(async () => {
    cloud = await startFakeVllm({ model: 'big', respond: () => ({ text: 'from the cloud' }) });
    local = await startFakeVllm({ respond: () => ({ text: 'from on-prem' }) });
    const root = workspace({ 'secrets/keys.ts': KEYS, 'src/app.ts': APP, 'src/plain.ts': 'export const plain = 1;\n' });
    serve = await startServeProcess({
      workspace: root,
      config: {
        backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'big' }, local: { kind: 'vllm', url: local.url } },
        routes: { inline: ['cloud', 'local'], action: ['cloud', 'local'], multiFile: ['cloud', 'local'], chat: ['cloud', 'local'] },
        privacy: { onPremOnly: ['secrets/**'] },
        context: { enabled: false },
      },
    });
  });
  afterAll(async () => {
    await serve?.stop();
    await cloud?.close();
    await local?.close();
  });

  const cloudPosts = () => cloud.requests.filter((r) => r.method === 'POST');

  it('an ordinary question goes to the cloud (first of routes.chat), its planted secrets redacted', async () => {
    const r = await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: `Why is this slow?\n\n${APP}` }] });
    expect(r.choices[0]!.message.content).toBe('from the cloud');
    const sent = cloudPosts().at(-1)!;
    expect(sent.rawBody).toContain('Why is this slow?');
    for (const [rule, , secret] of SECRETS) expect(sent.rawBody, rule).not.toContain(secret);
  });

  it('pasted lines of an onPremOnly file, or its path: on-prem answers, the cloud gets nothing', async () => {
    const before = cloudPosts().length;
    const pasted = await client().chat.completions.create({ model: 'tandem/auto', messages: [{ role: 'user', content: `What does this do?\n\n${KEYS}` }] });
    expect(pasted.choices[0]!.message.content).toBe('from on-prem');
    let streamed = '';
    for await (const c of await client().chat.completions.create({ model: 'tandem/auto', stream: true, messages: [{ role: 'user', content: 'Explain secrets/keys.ts please' }] })) streamed += c.choices[0]?.delta?.content ?? '';
    expect(streamed).toBe('from on-prem');
    const completion = await client().completions.create({ model: 'tandem/auto', prompt: `// from secrets/keys.ts\n${KEYS}` });
    expect(completion.choices[0]!.text).toBe('from on-prem');
    expect(cloudPosts().length).toBe(before);
    for (const r of cloud.requests) expect(r.rawBody).not.toContain(MARK);
    expect(local.requests.filter((r) => r.rawBody.includes(MARK)).length).toBe(2);
  });

  it('the cloud pinned for a request privacy forbids there: 403 with the file and the rule, nothing sent anywhere', async () => {
    const beforeCloud = cloud.requests.length;
    const beforeLocal = local.requests.filter((r) => r.method === 'POST').length;
    for (const stream of [false, true]) {
      const err = await (async () => {
        const r = await client().chat.completions.create({ model: 'tandem/cloud', stream, messages: [{ role: 'user', content: `Refactor:\n${KEYS}` }] } as never);
        if (stream) for await (const _ of r as unknown as AsyncIterable<unknown>) void _;
      })().catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(err.code).toBe('privacy_denied');
      expect(err.message).toContain('secrets/keys.ts');
      expect(err.message).toMatch(/nothing was sent/);
    }
    const c = await client().completions.create({ model: 'tandem/cloud', prompt: KEYS }).catch((e) => e);
    expect(c).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(c.message).toContain('secrets/keys.ts');
    expect(cloud.requests.length).toBe(beforeCloud);
    expect(local.requests.filter((r) => r.method === 'POST').length).toBe(beforeLocal);
  });

  it('every request is in the audit log: chat with origin serve, completions as serve-completion, each with its sources; no text', async () => {
    const lines = readFileSync(join(serve.state, 'tandem', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const chat = lines.filter((r) => r.task === 'chat');
    expect(chat.length).toBeGreaterThanOrEqual(3);
    for (const r of chat) expect(r.origin).toBe('serve');
    expect(chat.some((r) => r.backend === 'cloud' && r.outcome === 'ok')).toBe(true);
    expect(chat.some((r) => r.backend === 'local' && r.outcome === 'ok' && r.sources.some((x: { path: string }) => x.path === 'secrets/keys.ts'))).toBe(true);
    expect(lines.some((r) => r.task === 'serve-completion' && r.backend === 'local')).toBe(true);
    const text = readFileSync(join(serve.state, 'tandem', 'audit.jsonl'), 'utf8');
    expect(text).not.toContain(MARK);
    for (const [, , secret] of SECRETS) expect(text).not.toContain(secret);
  });
});
