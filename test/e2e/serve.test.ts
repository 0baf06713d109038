// `tandem-lsp serve` over the wire: the token, the model list, /v1/completions (streamed and not),
// body limits, clients that leave mid-stream, concurrent clients, and OpenAI's error shape for
// every bad input. The official `openai` package is one of the clients.
import { mkdtempSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { startServeProcess, type ServeProcess } from '../serveProcess.js';
import { until } from '../wait.js';

let fake: FakeVllm;
let serve: ServeProcess;
let root: string;

const posts = () => fake.requests.filter((r) => r.method === 'POST');

beforeAll(async () => {
  fake = await startFakeVllm({ maxModelLen: 10_000_000, respond: (r) => ({ text: `answer to ${String(r.body?.prompt ?? '').slice(0, 12)}` }) });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-serve-ws-')));
  serve = await startServeProcess({ workspace: root, config: { backends: { local: { kind: 'vllm', url: fake.url } }, routes: { inline: ['local'], action: ['local'], multiFile: ['local'] } } });
});

afterAll(async () => {
  await serve?.stop();
  await fake?.close();
});

/** A raw HTTP exchange (for what the SDK would hide: headers, status, exact bytes). */
function raw(method: string, path: string, opts: { token?: string | null; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const u = new URL(serve.url);
  const token = opts.token === undefined ? serve.token : opts.token;
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path: `/v1${path}`, headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const client = () => new OpenAI({ baseURL: serve.url, apiKey: serve.token, maxRetries: 0 });

describe('tandem-lsp serve', () => {
  it('says its URL and the token file on stderr, never the token; the token file is 0600 and reused by the next start', async () => {
    expect(serve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(serve.tokenPath).toBe(join(serve.state, 'tandem', 'serve.token'));
    expect(statSync(serve.tokenPath).mode & 0o777).toBe(0o600);
    expect(serve.token).toMatch(/^tdm_[A-Za-z0-9_-]{43}$/);
    expect(serve.stderr()).not.toContain(serve.token);
    expect(serve.stdout()).toBe('');
    const again = await startServeProcess({ workspace: root, state: serve.state, config: { backends: { local: { kind: 'vllm', url: fake.url } } } });
    try {
      expect(again.token).toBe(serve.token);
      const r = await new OpenAI({ baseURL: again.url, apiKey: serve.token, maxRetries: 0 }).models.list();
      expect(r.data.map((m) => m.id)).toContain('tandem/auto');
    } finally {
      await again.stop();
    }
  });

  it('GET /v1/models lists tandem/auto and tandem/<backend> (through the openai package)', async () => {
    const models = await client().models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tandem/auto', 'tandem/local']);
    for (const m of models.data) expect(m).toMatchObject({ object: 'model', owned_by: 'tandem' });
  });

  it('401 without the token or with a wrong one, on every endpoint, in OpenAI\'s shape; nothing reaches the backend', async () => {
    const before = fake.requests.length;
    const body = JSON.stringify({ model: 'tandem/auto', prompt: 'x' });
    for (const token of [null, 'tdm_wrong', `${serve.token}x`, '']) {
      for (const [method, path] of [['GET', '/models'], ['POST', '/completions'], ['POST', '/chat/completions'], ['GET', '/nowhere']] as const) {
        const r = await raw(method, path, { token, ...(method === 'POST' ? { body } : {}) });
        expect(r.status, `${method} ${path} with ${token}`).toBe(401);
        const e = JSON.parse(r.text);
        expect(e).toEqual({ error: { message: expect.stringMatching(token ? /bearer token is wrong/ : /no bearer token|wrong/), type: 'authentication_error', param: null, code: 'invalid_api_key' } });
        expect(r.text).not.toContain(serve.token);
      }
    }
    // The SDK reports it as an AuthenticationError.
    await expect(new OpenAI({ baseURL: serve.url, apiKey: 'nope', maxRetries: 0 }).completions.create({ model: 'tandem/auto', prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect(fake.requests.length).toBe(before);
  });

  it('POST /v1/completions, not streamed: the prompt goes to the inline route as it is', async () => {
    const r = await client().completions.create({ model: 'tandem/auto', prompt: 'def fib(n):\n', max_tokens: 40, stop: ['\n\n'] });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0]!.text).toBe('answer to def fib(n):\n');
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    const sent = posts().at(-1)!;
    expect(sent.path).toBe('/v1/completions');
    expect(sent.body).toMatchObject({ prompt: 'def fib(n):\n', max_tokens: 40, stop: ['\n\n'] });
  });

  it('POST /v1/completions, streamed: OpenAI\'s framing byte for byte, the pieces in order, then [DONE]', async () => {
    fake.set({ respond: () => ({ text: 'abcdefgh', chunks: ['ab', 'cd', 'efgh'] }) });
    try {
      const r = await raw('POST', '/completions', { body: JSON.stringify({ model: 'tandem/local', prompt: 'p', stream: true, stream_options: { include_usage: true } }) });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      const events = r.text.split('\n\n');
      expect(events.at(-1)).toBe('');
      expect(events.at(-2)).toBe('data: [DONE]');
      const data = events.slice(0, -2).map((e) => {
        expect(e.startsWith('data: ')).toBe(true);
        return JSON.parse(e.slice(6));
      });
      expect(data.map((d) => d.choices[0]?.text ?? null)).toEqual(['ab', 'cd', 'efgh', '', null]);
      expect(data.map((d) => d.choices[0]?.finish_reason ?? null)).toEqual([null, null, null, 'stop', null]);
      for (const d of data) expect(d).toMatchObject({ id: data[0].id, object: 'text_completion', model: 'tandem/local' });
      expect(data.at(-1).usage.completion_tokens).toBeGreaterThan(0);
      // The same through the SDK's stream reader.
      let text = '';
      for await (const c of await client().completions.create({ model: 'tandem/auto', prompt: 'p', stream: true })) text += c.choices[0]?.text ?? '';
      expect(text).toBe('abcdefgh');
    } finally {
      fake.set({ respond: (r) => ({ text: `answer to ${String(r.body?.prompt ?? '').slice(0, 12)}` }) });
    }
  });

  it('a body of 10 MB is taken; one byte more is 413 that the client reads (the rest of its body dropped, nothing forwarded)', async () => {
    const limit = 10 * 1024 * 1024;
    const wrap = (fill: number) => JSON.stringify({ model: 'tandem/auto', max_tokens: 1, prompt: 'x'.repeat(fill) });
    const overhead = wrap(0).length;
    const ok = await raw('POST', '/completions', { body: wrap(limit - overhead) });
    expect(ok.status, ok.text).toBe(200);
    expect(posts().at(-1)!.body.prompt.length).toBe(limit - overhead);
    const before = fake.requests.length;
    const big = await raw('POST', '/completions', { body: wrap(limit - overhead + 1) });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.text).error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large', message: expect.stringContaining('--max-body-bytes') });
    // Without a Content-Length (chunked), counted as it comes.
    const chunked = await new Promise<number>((resolve, reject) => {
      const u = new URL(serve.url);
      const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/v1/completions', headers: { authorization: `Bearer ${serve.token}`, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      const piece = Buffer.alloc(1 << 20, 0x20);
      for (let i = 0; i <= 10; i++) req.write(piece);
      req.end();
    });
    expect(chunked).toBe(413);
    expect(fake.requests.length).toBe(before);
  });

  it('Expect: 100-continue (curl with a large body): the body is asked for only with the token and an allowed size', async () => {
    const ask = (token: string, length: number) =>
      new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
        const u = new URL(serve.url);
        const body = JSON.stringify({ model: 'tandem/auto', prompt: 'p', max_tokens: 1 }).padEnd(length, ' ');
        let continued = false;
        const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/v1/completions', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': length, expect: '100-continue' } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ continued, status: res.statusCode! }));
        });
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('error', reject);
      });
    expect(await ask(serve.token, 1000)).toEqual({ continued: true, status: 200 });
    const before = fake.requests.length;
    expect(await ask('tdm_wrong', 1000)).toEqual({ continued: false, status: 401 });
    expect(await ask(serve.token, 10 * 1024 * 1024 + 1)).toEqual({ continued: false, status: 413 });
    expect(fake.requests.length).toBe(before);
  });

  it('a client that disconnects mid-stream: the backend request is closed', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    fake.set({ respond: () => ({ text: 'one two three four', chunks: ['one ', 'two ', 'three ', 'four'] }), pace: (i) => (i >= 1 ? held : Promise.resolve()) });
    try {
      const ac = new AbortController();
      const stream = await client().completions.create({ model: 'tandem/auto', prompt: 'leave early', stream: true }, { signal: ac.signal });
      const first = await stream[Symbol.asyncIterator]().next();
      expect(first.value?.choices[0]?.text).toBe('one ');
      const sent = posts().at(-1)!;
      expect(sent.closedAt).toBeNull();
      ac.abort();
      // The server closes its request to the backend once its client has gone.
      await until(() => sent.closedAt !== null, 'the backend request to close');
      expect(sent.finished).toBe(false);
    } finally {
      release();
      fake.set({ pace: undefined, respond: (r) => ({ text: `answer to ${String(r.body?.prompt ?? '').slice(0, 12)}` }) });
    }
  });

  it('concurrent clients each get their own answer', async () => {
    fake.set({ respond: (r) => ({ text: `reply-${r.body.prompt}-end`, chunks: ['reply-', String(r.body.prompt), '-end'] }) });
    try {
      const n = 12;
      const answers = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          let text = '';
          for await (const c of await client().completions.create({ model: 'tandem/auto', prompt: `c${i}`, stream: true })) text += c.choices[0]?.text ?? '';
          return text;
        }),
      );
      expect(answers).toEqual(Array.from({ length: n }, (_, i) => `reply-c${i}-end`));
    } finally {
      fake.set({ respond: (r) => ({ text: `answer to ${String(r.body?.prompt ?? '').slice(0, 12)}` }) });
    }
  });

  describe('bad input: an OpenAI-shaped error naming what is wrong, nothing forwarded', () => {
    const cases: [name: string, path: string, body: string, status: number, param: string | null, message: RegExp][] = [
      ['body not JSON', '/chat/completions', '{"messages": [', 400, null, /not valid JSON/],
      ['body an array', '/chat/completions', '[]', 400, null, /must be a JSON object, not an array/],
      ['messages not a list', '/chat/completions', JSON.stringify({ model: 'tandem/auto', messages: 'hi' }), 400, 'messages', /^messages: expected a list of messages, got the string "hi"/],
      ['messages missing', '/chat/completions', JSON.stringify({ model: 'tandem/auto' }), 400, 'messages', /^messages: is missing/],
      ['messages empty', '/chat/completions', JSON.stringify({ messages: [] }), 400, 'messages', /at least one message/],
      ['a role that does not exist', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'robot', content: 'c' }] }), 400, 'messages[2].role', /^messages\[2\]\.role: "robot" is not one of system, developer, user, assistant, tool$/],
      ['a content of the wrong kind', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 7 }] }), 400, 'messages[0].content', /expected a string or a list of content parts, got number 7/],
      ['an image part', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }), 400, 'messages[0].content[0].type', /only text parts/],
      ['a tool message without its call id', '/chat/completions', JSON.stringify({ messages: [{ role: 'tool', content: '1' }] }), 400, 'messages[0].tool_call_id', /tool call this answers/],
      ['a tool call without arguments as a string', '/chat/completions', JSON.stringify({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: { a: 1 } } }] }] }), 400, 'messages[0].tool_calls[0].function.arguments', /JSON string/],
      ['an assistant message with neither content nor tool calls (the pipeline\'s own check)', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: null }] }), 400, 'messages[1].content', /^messages\[1\]\.content: expected a string/],
      ['tool calls on a user message (the pipeline\'s own check)', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }] }), 400, 'messages[0].tool_calls', /^messages\[0\]\.tool_calls: only an assistant message calls tools/],
      ['a tool of another type', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }], tools: [{ type: 'retrieval' }] }), 400, 'tools[0].type', /expected "function"/],
      ['a tool name with spaces', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }], tools: [{ type: 'function', function: { name: 'get weather' } }] }), 400, 'tools[0].function.name', /1 to 64 characters/],
      ['tool parameters that are no object schema', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] }), 400, 'tools[0].function.parameters.type', /expected "object"/],
      ['a tool_choice naming no tool', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }], tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }), 400, 'tool_choice.function.name', /"g" is not one of the tools/],
      ['a model that is not tandem\'s', '/chat/completions', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a' }] }), 404, 'model', /The model `gpt-4o` does not exist: tandem serves tandem\/auto and tandem\/local/],
      ['a pinned backend that is not configured', '/completions', JSON.stringify({ model: 'tandem/elsewhere', prompt: 'a' }), 404, 'model', /`tandem\/elsewhere` does not exist/],
      ['n > 1', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }], n: 3 }), 400, 'n', /one choice per request/],
      ['a temperature out of range', '/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }], temperature: 5 }), 400, 'temperature', /from 0 to 2/],
      ['max_tokens of 0', '/completions', JSON.stringify({ prompt: 'a', max_tokens: 0 }), 400, 'max_tokens', /at least 1/],
      ['stream not a boolean', '/completions', JSON.stringify({ prompt: 'a', stream: 'yes' }), 400, 'stream', /true or false/],
      ['a prompt of token ids', '/completions', JSON.stringify({ prompt: [1, 2, 3] }), 400, 'prompt', /one string/],
      ['a suffix', '/completions', JSON.stringify({ prompt: 'a', suffix: 'b' }), 400, 'suffix', /not supported/],
    ];
    for (const [name, path, body, status, param, message] of cases) {
      it(name, async () => {
        const before = posts().length;
        const r = await raw('POST', path, { body });
        expect(r.status).toBe(status);
        expect(r.headers['content-type']).toBe('application/json');
        const e = JSON.parse(r.text);
        expect(Object.keys(e)).toEqual(['error']);
        expect(Object.keys(e.error)).toEqual(['message', 'type', 'param', 'code']);
        expect(e.error.type).toBe('invalid_request_error');
        expect(e.error.param).toBe(param);
        expect(e.error.message).toMatch(message);
        expect(posts().length).toBe(before);
      });
    }

    it('the openai package raises them as its own errors, with the message', async () => {
      const err = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a' }] }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err.message).toContain('tandem/auto');
      expect(err.param).toBe('model');
    });

    it('an unknown path is 404 and a wrong method 405, both in the shape', async () => {
      const a = await raw('GET', '/embeddings');
      expect(a.status).toBe(404);
      expect(JSON.parse(a.text).error.code).toBe('unknown_url');
      const b = await raw('GET', '/chat/completions');
      expect(b.status).toBe(405);
      expect(JSON.parse(b.text).error.message).toMatch(/use POST/);
    });
  });

  it('a backend that is down: 503 naming it, in the shape', async () => {
    const down = await startServeProcess({ workspace: root, config: { backends: { local: { kind: 'vllm', url: 'http://127.0.0.1:9' } } } });
    try {
      const err = await new OpenAI({ baseURL: down.url, apiKey: down.token, maxRetries: 0 }).completions.create({ model: 'tandem/auto', prompt: 'x' }).catch((e) => e);
      expect(err.status).toBe(503);
      expect(err.message).toContain('127.0.0.1:9');
      expect(err.code).toBe('backend_unavailable');
    } finally {
      await down.stop();
    }
  });

  it('a change of the configuration file applies without a restart; an invalid one is reported and the last good one stays', async () => {
    const other = await startFakeVllm({ respond: () => ({ text: 'from the other' }) });
    const s = await startServeProcess({ workspace: root, config: { backends: { local: { kind: 'vllm', url: fake.url } } } });
    try {
      const c = new OpenAI({ baseURL: s.url, apiKey: s.token, maxRetries: 0 });
      expect((await c.models.list()).data.map((m) => m.id)).toEqual(['tandem/auto', 'tandem/local']);
      writeFileSync(s.configFile, JSON.stringify({ backends: { local: { kind: 'vllm', url: fake.url }, other: { kind: 'vllm', url: other.url } } }));
      await until(() => /configuration reloaded: backends local, other/.test(s.stderr()), 'the reload');
      expect((await c.models.list()).data.map((m) => m.id)).toEqual(['tandem/auto', 'tandem/local', 'tandem/other']);
      expect((await c.completions.create({ model: 'tandem/other', prompt: 'x' })).choices[0]!.text).toBe('from the other');
      writeFileSync(s.configFile, '{"backends": {"local": {"kind": "vllm", "url": 7}}}');
      await until(() => /configuration not reloaded, the last good one stays: .*backends\.local\.url/.test(s.stderr()), 'the refused reload');
      expect((await c.models.list()).data.map((m) => m.id)).toEqual(['tandem/auto', 'tandem/local', 'tandem/other']);
    } finally {
      await s.stop();
      await other.close();
    }
  });

  it('bad flags exit 2 with one sentence naming the flag', async () => {
    const { runCli } = await import('./servers.js');
    const r = await runCli(['serve', '--port', 'eighty'], { XDG_STATE_HOME: serve.state, TANDEM_CONFIG: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('tandem-lsp: --port eighty: expected a whole number from 0 to 65535\n');
    const busy = await runCli(['serve', '--port', new URL(serve.url).port], { XDG_STATE_HOME: serve.state, TANDEM_CONFIG: '' });
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/is in use/);
  });
});

