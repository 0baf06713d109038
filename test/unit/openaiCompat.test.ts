// The vLLM/OpenAI backend against the loopback fake vLLM: discovery, the wire request, headers, failures.
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../server/src/config/schema.js';
import { OpenAICompatBackend } from '../../server/src/models/openaiCompat.js';
import type { FimRequest } from '../../server/src/models/types.js';
import { CancelledError, DeadlineError } from '../../server/src/util/abort.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { startFakeVllm, type FakeVllm, type Reply } from '../fake/vllm.js';

const MODEL = 'Qwen/Qwen2.5-Coder-7B';
let fake: FakeVllm;

// A fresh fake per test: options such as `models` cannot be unset once set.
beforeEach(async () => {
  fake = await startFakeVllm({ model: MODEL, maxModelLen: 16384 });
});
afterEach(async () => {
  await fake.close();
});

function backend(over: Partial<Backend> = {}, env: NodeJS.ProcessEnv = {}): OpenAICompatBackend {
  const cfg: Backend = { name: 'fim', kind: 'vllm', url: fake.url, location: 'onprem', ...over };
  return new OpenAICompatBackend(cfg, { logger: silentLogger(), env });
}

const never = () => new AbortController().signal;
const REQ: FimRequest = { prompt: '<|fim_prefix|>def f():\n    <|fim_suffix|>\n<|fim_middle|>', stop: ['<|endoftext|>', '<|fim_prefix|>', '\n\n\n', '<|file_sep|>', '<|im_end|>'], maxTokens: 64, temperature: 0.1 };
const modelCalls = () => fake.requests.filter((r) => r.path === '/v1/models').length;

describe('model discovery', () => {
  it('reads id and max_model_len from /v1/models, once', async () => {
    const b = backend();
    expect(await b.info(never())).toEqual({ ok: true, value: { id: MODEL, contextWindow: 16384, contextSource: 'server' } });
    expect(await b.info(never())).toEqual({ ok: true, value: { id: MODEL, contextWindow: 16384, contextSource: 'server' } });
    await b.complete(REQ, never());
    expect(modelCalls()).toBe(1);
  });

  it('concurrent first requests share one discovery', async () => {
    const b = backend();
    await Promise.all([b.info(never()), b.info(never()), b.complete(REQ, never())]);
    expect(modelCalls()).toBe(1);
  });

  it('a failed discovery is tried again on the next request', async () => {
    const b = backend();
    fake.set({ models: { status: 503, body: { error: { message: 'loading model', type: 'ServiceUnavailableError', param: null, code: 503 } } } });
    const first = await b.info(never());
    expect(first).toMatchObject({ ok: false, failure: { kind: 'server', status: 503 } });
    fake.set({ models: { status: 200, body: { object: 'list', data: [{ id: MODEL, object: 'model', max_model_len: 16384 }] } } });
    expect(await b.info(never())).toMatchObject({ ok: true, value: { id: MODEL } });
    expect(modelCalls()).toBe(2);
  });

  it('a server failure during completion forgets the model (the server may have restarted with another)', async () => {
    const b = backend();
    await b.info(never());
    fake.set({ respond: () => ({ status: 500, error: { message: 'engine dead' } }) });
    expect(await b.complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'server' } });
    fake.set({ model: 'Qwen/Qwen2.5-Coder-1.5B', respond: () => ({ text: 'x' }) });
    expect(await b.info(never())).toMatchObject({ ok: true, value: { id: 'Qwen/Qwen2.5-Coder-1.5B' } });
    expect(modelCalls()).toBe(2);
  });

  /** Holds /v1/models until `release()`; `arrived` resolves when the fake has the request. */
  function holdModels() {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    fake.set({ holdModels: () => held });
    return { release, arrived: () => fake.waitFor((r) => r.path === '/v1/models') };
  }
  const found = { ok: true, value: { id: MODEL, contextWindow: 16384, contextSource: 'server' } };

  it('a caller that gives up stops only its own wait: the others still get the shared lookup', async () => {
    const hold = holdModels();
    const b = backend();
    const a = new AbortController();
    const first = b.info(a.signal);
    const second = b.info(never());
    await hold.arrived();
    a.abort(new CancelledError('superseded by a newer request'));
    // A's answer comes while the lookup is still held: it waits on nothing but its own signal.
    expect(await first).toEqual({ ok: false, failure: { kind: 'cancelled', message: `request to ${fake.url}/v1 cancelled` } });
    hold.release();
    expect(await second).toEqual(found);
    expect(modelCalls()).toBe(1);
    // The lookup's connection was never cut by A's cancel.
    expect(fake.requests.find((r) => r.path === '/v1/models')).toMatchObject({ closedAt: null, finished: true });
  });

  it("a caller's own deadline ends its wait as a timeout; with no one left waiting the lookup stops", async () => {
    const hold = holdModels();
    const b = backend();
    const a = new AbortController();
    const first = b.info(a.signal);
    const lookup = await hold.arrived();
    a.abort(new DeadlineError(25));
    expect(await first).toMatchObject({ ok: false, failure: { kind: 'timeout' } });
    // Nobody wants the answer any more: the connection closes, and the next caller starts afresh.
    await fake.waitFor((r) => r.id === lookup.id && r.closedAt !== null);
    hold.release();
    expect(await b.info(never())).toEqual(found);
    expect(modelCalls()).toBe(2);
  });

  it('a completion cancelled during the lookup leaves a concurrent chat to finish', async () => {
    const hold = holdModels();
    fake.set({ respond: () => ({ text: 'fine' }) });
    const b = backend();
    const a = new AbortController();
    const inline = b.complete(REQ, a.signal);
    const explain = b.chat({ messages: [{ role: 'user', content: 'explain' }], maxTokens: 16, temperature: 0 }, never());
    await hold.arrived();
    a.abort(new CancelledError('superseded by a newer request'));
    expect(await inline).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    hold.release();
    expect(await explain).toMatchObject({ ok: true, value: { text: 'fine', model: MODEL } });
    expect(modelCalls()).toBe(1);
    expect(fake.completions()).toHaveLength(0);
  });

  it('a caller already cancelled gets cancelled without starting a lookup', async () => {
    const a = new AbortController();
    a.abort(new CancelledError());
    expect(await backend().info(a.signal)).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    expect(modelCalls()).toBe(0);
  });

  const configured: [string, Partial<Backend>, Record<string, unknown>][] = [
    ['maxContextTokens from config wins over the server', { maxContextTokens: 4096 }, { id: MODEL, contextWindow: 4096, contextSource: 'config' }],
    ['a configured model that the server lists', { model: MODEL }, { id: MODEL, contextWindow: 16384, contextSource: 'server' }],
  ];
  it.each(configured)('%s', async (_n, over, expected) => {
    expect(await backend(over).info(never())).toEqual({ ok: true, value: expected });
  });

  it('a server that lists no model is an error naming the setting', async () => {
    fake.set({ models: { status: 200, body: { object: 'list', data: [] } } });
    expect(await backend().info(never())).toEqual({ ok: false, failure: { kind: 'bad_response', message: `${fake.url}/v1/models lists no model; set backends.fim.model` } });
  });
});

describe('the completion request', () => {
  it('streams the text and reports the model', async () => {
    fake.set({ respond: () => ({ text: 'return 42\n', chunks: ['ret', 'urn', ' 4', '2\n'] }) });
    const r = await backend().complete(REQ, never());
    expect(r).toEqual({ ok: true, value: { text: 'return 42\n', finishReason: 'stop', stoppedEarly: false, model: MODEL } });
  });

  it('sends prompt, model, stop, max_tokens, temperature and stream; never suffix', async () => {
    await backend().complete(REQ, never());
    const [rec] = fake.completions();
    expect(rec!.body).toMatchObject({ model: MODEL, prompt: REQ.prompt, stop: REQ.stop, max_tokens: 64, temperature: 0.1, stream: true });
    expect('suffix' in rec!.body).toBe(false);
    expect(rec!.rawBody).not.toMatch(/"suffix"\s*:/);
  });

  it('an openai-kind backend sends at most 4 stop strings (the API limit)', async () => {
    await backend({ kind: 'openai', url: `${fake.url}/v1`, location: 'cloud' }).complete(REQ, never());
    expect(fake.completions()[0]!.body.stop).toEqual(REQ.stop.slice(0, 4));
  });

  it('enough() ends the stream early and the server sees the client go', async () => {
    fake.set({ respond: () => ({ text: 'a\nb\nc\nd\ne\nf\n', chunks: ['a\n', 'b\n', 'c\n', 'd\n', 'e\n', 'f\n'] }), tokenIntervalMs: 30 });
    const r = await backend().complete({ ...REQ, enough: (t) => t.includes('b\n') }, never());
    expect(r).toMatchObject({ ok: true, value: { text: 'a\nb\n', stoppedEarly: true } });
    const rec = await fake.waitFor((q) => q.path === '/v1/completions' && q.closedAt !== null);
    expect(rec.finished).toBe(false);
  });

  it('n: one request, every choice by index with its mean token log probability', async () => {
    const texts = ['return a;', 'return b + 1;', 'return c;'];
    fake.set({ respond: (_r, i) => ({ text: texts[i]!, logprob: -0.25 * (i + 1) }) });
    const r = await backend().complete({ ...REQ, n: 3 }, never());
    expect(fake.completions()).toHaveLength(1);
    expect(fake.completions()[0]!.body).toMatchObject({ n: 3, logprobs: 0 });
    expect(r).toEqual({
      ok: true,
      value: {
        text: 'return a;',
        finishReason: 'stop',
        stoppedEarly: false,
        model: MODEL,
        choices: [
          { text: 'return a;', finishReason: 'stop', logprob: -0.25 },
          { text: 'return b + 1;', finishReason: 'stop', logprob: -0.5 },
          { text: 'return c;', finishReason: 'stop', logprob: -0.75 },
        ],
      },
    });
    // One choice asks for neither n nor logprobs: the request is as it always was.
    await backend().complete(REQ, never());
    expect(fake.completions()[1]!.body).not.toHaveProperty('n');
    expect(fake.completions()[1]!.body).not.toHaveProperty('logprobs');
  });

  it('n: a server that gives fewer choices (or ignores n) gives what it gave', async () => {
    fake.set({ respond: (_r, i) => ({ text: `v${i}` }), maxChoices: 2 });
    let r = await backend().complete({ ...REQ, n: 3 }, never());
    expect(r.ok && r.value.choices?.map((c) => c.text)).toEqual(['v0', 'v1']);
    fake.set({ maxChoices: 1 });
    r = await backend().complete({ ...REQ, n: 3 }, never());
    expect(r.ok && r.value.choices?.map((c) => c.text)).toEqual(['v0']);
  });

  it('n: enough() per choice; the stream ends once every choice has had enough', async () => {
    const texts = ['a\nb\nc\nd\n', 'x\ny\nz\nw\n'];
    fake.set({ respond: (_r, i) => ({ text: texts[i]!, chunks: texts[i]!.split(/(?<=\n)/) }), tokenIntervalMs: 30 });
    const r = await backend().complete({ ...REQ, n: 2, enough: (t) => t.split('\n').length > 2 }, never());
    expect(r).toMatchObject({ ok: true, value: { stoppedEarly: true, choices: [{ text: 'a\nb\n' }, { text: 'x\ny\n' }] } });
    const rec = await fake.waitFor((q) => q.path === '/v1/completions' && q.closedAt !== null);
    expect(rec.finished).toBe(false);
  });
});

describe('headers', () => {
  const saved = process.env.OPENAI_API_KEY;
  beforeAll(() => {
    // The SDK reads OPENAI_API_KEY by default: it must not leak to a backend without apiKeyEnv.
    process.env.OPENAI_API_KEY = 'sk-from-the-process-env';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = saved;
  });

  const rows: [string, Partial<Backend>, NodeJS.ProcessEnv, string | undefined][] = [
    ['no apiKeyEnv: no Authorization header', {}, { OPENAI_API_KEY: 'sk-leak' }, undefined],
    ['apiKeyEnv unset in the environment: no header', { apiKeyEnv: 'TANDEM_KEY' }, { OPENAI_API_KEY: 'sk-leak' }, undefined],
    ['apiKeyEnv set: Bearer header', { apiKeyEnv: 'TANDEM_KEY' }, { TANDEM_KEY: 'sk-tandem-123' }, 'Bearer sk-tandem-123'],
    ['cloud backend with apiKeyEnv', { kind: 'openai', location: 'cloud', apiKeyEnv: 'OPENAI_API_KEY' }, { OPENAI_API_KEY: 'sk-cloud-456' }, 'Bearer sk-cloud-456'],
  ];
  it.each(rows)('%s', async (_n, over, env, expected) => {
    const url = over.kind === 'openai' ? `${fake.url}/v1` : fake.url;
    fake.set({ respond: () => ({ text: 'x' }) });
    await backend({ url, ...over }, env).complete(REQ, never());
    for (const rec of fake.requests) {
      expect(rec.headers.authorization).toBe(expected);
      expect(JSON.stringify(rec.headers)).not.toContain('sk-leak');
      expect(JSON.stringify(rec.headers)).not.toContain('sk-from-the-process-env');
      expect(rec.headers['openai-organization']).toBeUndefined();
      expect(rec.headers['openai-project']).toBeUndefined();
    }
    expect(fake.requests.length).toBe(2);
  });

  it('x-tandem-user goes to on-prem backends only', async () => {
    await backend().complete(REQ, never());
    expect(fake.requests.map((r) => r.headers['x-tandem-user'])).toEqual([userInfo().username, userInfo().username]);
    fake.reset();
    await backend({ kind: 'openai', url: `${fake.url}/v1`, location: 'cloud' }).complete(REQ, never());
    expect(fake.requests.map((r) => r.headers['x-tandem-user'])).toEqual([undefined, undefined]);
  });

  it('configured headers are sent', async () => {
    await backend({ headers: { 'x-team': 'compilers' } }).complete(REQ, never());
    expect(fake.completions()[0]!.headers['x-team']).toBe('compilers');
  });
});

describe('failures', () => {
  const http: [number, 'nested' | 'flat', string][] = [
    [400, 'nested', 'bad_request'],
    [400, 'flat', 'bad_request'],
    [500, 'nested', 'server'],
    [500, 'flat', 'server'],
    [503, 'nested', 'server'],
    [503, 'flat', 'server'],
    [404, 'flat', 'not_found'],
    [429, 'nested', 'rate_limited'],
  ];
  it.each(http)('HTTP %d (%s body) → %s, with the server message', async (status, shape, kind) => {
    fake.set({ respond: (): Reply => ({ status, shape, error: { message: `trouble ${status}` } }) });
    const r = await backend().complete(REQ, never());
    expect(r).toEqual({ ok: false, failure: { kind, status, message: `${fake.url}/v1 answered ${status}: trouble ${status}`, retryAfterMs: undefined } });
  });

  it("FastAPI's own 404 body (a wrong URL) keeps its detail", async () => {
    const b = backend({ kind: 'openai', url: `${fake.url}/wrong`, location: 'cloud' });
    expect(await b.info(never())).toEqual({ ok: false, failure: { kind: 'not_found', status: 404, message: `${fake.url}/wrong answered 404: Not Found`, retryAfterMs: undefined } });
  });

  it('retry-after of a 429 is kept', async () => {
    fake.set({ respond: (): Reply => ({ status: 429, error: { message: 'busy' }, headers: { 'retry-after': '2' } }) });
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'rate_limited', retryAfterMs: 2000 } });
  });

  it.each(['nested', 'flat'] as const)('an error inside the stream (%s) → stream failure with its message', async (shape) => {
    fake.set({ respond: (): Reply => ({ streamError: { message: 'CUDA error: an illegal memory access', code: 500 }, after: 'return ', shape }) });
    const r = await backend().complete(REQ, never());
    expect(r).toEqual({ ok: false, failure: { kind: 'stream', message: `${fake.url}/v1 reported an error in the stream: CUDA error: an illegal memory access` } });
  });

  it("vLLM's own context-length check → context_length with limit and requested", async () => {
    fake.set({ maxModelLen: 100 });
    const prompt = 'x'.repeat(400); // 100 tokens by the fake's count, + 64 to generate
    const r = await backend().complete({ ...REQ, prompt }, never());
    expect(r).toMatchObject({ ok: false, failure: { kind: 'context_length', status: 400, limit: 100, requested: 164 } });
  });

  it.each(['nested', 'flat'] as const)('a context-length error in the %s shape', async (shape) => {
    const message = "This model's maximum context length is 32768 tokens. However, your request has 33001 input tokens. Please reduce the length of the input messages.";
    fake.set({ respond: (): Reply => ({ status: 400, shape, error: { message } }) });
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'context_length', limit: 32768, requested: 33001 } });
  });

  it('a context-length error inside the stream', async () => {
    const message = "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (2000 in the messages, 100 in the completion). Please reduce the length of the messages or completion.";
    fake.set({ respond: (): Reply => ({ streamError: { message }, shape: 'flat' }) });
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'context_length', limit: 2048, requested: 2100 } });
  });

  it('connection refused → unreachable, naming the URL', async () => {
    const port = await freePort();
    const b = backend({ url: `http://127.0.0.1:${port}` });
    const failure = { kind: 'unreachable', message: `could not reach http://127.0.0.1:${port}/v1 (connection refused)` };
    expect(await b.info(never())).toEqual({ ok: false, failure });
    expect(await b.complete(REQ, never())).toEqual({ ok: false, failure });
  });

  it('abort → cancelled, and the server sees the client close the connection', async () => {
    fake.set({ respond: (): Reply => ({ hang: true }) });
    const b = backend();
    await b.info(never());
    const ctrl = new AbortController();
    const pending = b.complete(REQ, ctrl.signal);
    await fake.waitFor((r) => r.path === '/v1/completions');
    ctrl.abort(new CancelledError('superseded by a newer request'));
    expect(await pending).toEqual({ ok: false, failure: { kind: 'cancelled', message: `request to ${fake.url}/v1 cancelled` } });
    const rec = await fake.waitFor((r) => r.path === '/v1/completions' && r.closedAt !== null);
    expect(rec.closedAt).toBeGreaterThanOrEqual(rec.receivedAt);
  });

  it('abort in the middle of a stream → cancelled', async () => {
    fake.set({ respond: (): Reply => ({ text: 'a'.repeat(40), chunks: Array.from({ length: 40 }, () => 'a') }), tokenIntervalMs: 20 });
    const ctrl = new AbortController();
    const pending = backend().complete(REQ, ctrl.signal);
    await fake.waitFor((r) => r.path === '/v1/completions');
    setTimeout(() => ctrl.abort(new CancelledError()), 50);
    expect(await pending).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    await fake.waitFor((r) => r.path === '/v1/completions' && r.closedAt !== null);
  });

  it('a connection reset in the middle of a stream → a stream failure, never the partial text', async () => {
    // Pieces 20 ms apart: the answer has surely begun when the connection drops.
    fake.set({ respond: (): Reply => ({ destroy: true, after: 'return a' }), tokenIntervalMs: 20 });
    const out = await backend().complete(REQ, never());
    expect(out).toEqual({ ok: false, failure: { kind: 'stream', message: `request to ${fake.url}/v1 failed: ECONNRESET` } });
  });

  it('timeoutMs bounds the silence before the first token and between two: a drip → timeout, connection closed', async () => {
    const b = backend({ timeoutMs: 60 });
    await b.info(never());
    // The headers at once, the first token held until the client has gone.
    let gone!: () => void;
    const closed = new Promise<void>((r) => (gone = r));
    fake.set({ respond: (): Reply => ({ text: 'return a', dripMs: 0 }), pace: () => closed });
    const first = b.complete(REQ, never());
    const req = await fake.waitFor((r) => r.path === '/v1/completions');
    expect(await first).toEqual({ ok: false, failure: { kind: 'timeout', message: `${fake.url}/v1 did not answer within 60 ms` } });
    await fake.waitFor((r) => r.id === req.id && r.closedAt !== null);
    gone();
    // A first piece at once, then silence until the client has gone.
    let gone2!: () => void;
    const closed2 = new Promise<void>((r) => (gone2 = r));
    fake.set({ respond: (): Reply => ({ text: 'return a + b;' }), pace: () => closed2 });
    const second = b.complete(REQ, never());
    const req2 = await fake.waitFor((r) => r.path === '/v1/completions' && r.id > req.id);
    expect(await second).toMatchObject({ ok: false, failure: { kind: 'timeout' } });
    await fake.waitFor((r) => r.id === req2.id && r.closedAt !== null);
    gone2();
  });

  it('a passed deadline → timeout', async () => {
    fake.set({ respond: (): Reply => ({ hang: true }) });
    const b = backend();
    await b.info(never());
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(new DeadlineError(50)), 50);
    expect(await b.complete(REQ, ctrl.signal)).toEqual({ ok: false, failure: { kind: 'timeout', message: `${fake.url}/v1 did not answer within 50 ms` } });
  });
});

/** A port nothing listens on: bind one, then let it go. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
