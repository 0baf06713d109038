// The TGI backend against the loopback fake TGI: discovery, the wire request, streaming, chat, probe, cancellation, failures, headers.
import { userInfo } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../server/src/config/schema.js';
import { TgiBackend } from '../../server/src/models/tgi.js';
import type { FimRequest } from '../../server/src/models/types.js';
import { CancelledError, DeadlineError } from '../../server/src/util/abort.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { startFakeTgi, type FakeTgi, type Reply } from '../fake/tgi.js';
import { freePort, never } from './backendKit.js';

const MODEL = 'Qwen/Qwen2.5-Coder-7B';
let fake: FakeTgi;

beforeEach(async () => {
  fake = await startFakeTgi({ model: MODEL, maxInputTokens: 7680, maxTotalTokens: 8192 });
});
afterEach(async () => {
  await fake.close();
});

function backend(over: Partial<Backend> = {}, env: NodeJS.ProcessEnv = {}): TgiBackend {
  return new TgiBackend({ name: 'legacy', kind: 'tgi', url: fake.url, location: 'onprem', ...over }, { logger: silentLogger(), env });
}

const STOPS = ['<|endoftext|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|file_sep|>', '\n\n\n'];
const REQ: FimRequest = { prompt: '<|fim_prefix|>def f():\n    <|fim_suffix|>\n<|fim_middle|>', stop: STOPS, maxTokens: 64, temperature: 0.1 };
const infoCalls = () => fake.requests.filter((r) => r.path === '/info').length;

describe('model discovery', () => {
  it('reads model_id and the smaller of max_input_tokens and max_total_tokens from /info, once', async () => {
    const b = backend();
    const expected = { ok: true, value: { id: MODEL, contextWindow: 7680, contextSource: 'server' } };
    expect(await b.info(never())).toEqual(expected);
    expect(await b.info(never())).toEqual(expected);
    await b.complete(REQ, never());
    expect(infoCalls()).toBe(1);
  });

  const configured: [string, Partial<Backend>, Record<string, unknown>][] = [
    ['maxContextTokens from config wins', { maxContextTokens: 2048 }, { id: MODEL, contextWindow: 2048, contextSource: 'config' }],
    ['a configured model names the result', { model: 'my-fim' }, { id: 'my-fim', contextWindow: 7680, contextSource: 'server' }],
  ];
  it.each(configured)('%s', async (_n, over, expected) => {
    expect(await backend(over).info(never())).toEqual({ ok: true, value: expected });
  });

  it('a caller that gives up stops only its own wait: the others still get the shared /info', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    fake.set({ holdInfo: () => held });
    const b = backend();
    const a = new AbortController();
    const first = b.complete(REQ, a.signal);
    const second = b.info(never());
    await fake.waitFor((r) => r.path === '/info');
    a.abort(new CancelledError('superseded by a newer request'));
    expect(await first).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    release();
    expect(await second).toEqual({ ok: true, value: { id: MODEL, contextWindow: 7680, contextSource: 'server' } });
    expect(infoCalls()).toBe(1);
    expect(fake.requests.find((r) => r.path === '/info')).toMatchObject({ closedAt: null, finished: true });
  });

  it('a failed discovery is tried again', async () => {
    const port = await freePort();
    const b = new TgiBackend({ name: 'legacy', kind: 'tgi', url: `http://127.0.0.1:${port}`, location: 'onprem' }, { logger: silentLogger(), env: {} });
    expect(await b.info(never())).toMatchObject({ ok: false, failure: { kind: 'unreachable' } });
    expect(await backend().info(never())).toMatchObject({ ok: true });
  });
});

describe('FIM over /generate_stream', () => {
  it('sends our rendered prompt as inputs, never suffix, with at most max_stop_sequences stops', async () => {
    fake.set({ respond: () => ({ text: 'return 42\n' }) });
    const r = await backend().complete(REQ, never());
    expect(r).toEqual({ ok: true, value: { text: 'return 42\n', finishReason: 'stop', stoppedEarly: false, model: MODEL } });
    const rec = fake.completions()[0]!;
    expect(rec.body).toEqual({
      inputs: REQ.prompt,
      parameters: { max_new_tokens: 64, temperature: 0.1, do_sample: true, stop: STOPS.slice(0, 4), details: false, return_full_text: false },
    });
    expect('suffix' in rec.body || 'suffix' in rec.body.parameters).toBe(false);
    expect(rec.headers['content-type']).toBe('application/json');
  });

  it('temperature 0 is greedy decoding (do_sample false), which TGI accepts', async () => {
    fake.set({ respond: () => ({ text: 'x = 1' }) });
    expect(await backend().complete({ ...REQ, temperature: 0 }, never())).toMatchObject({ ok: true, value: { text: 'x = 1' } });
    expect(fake.completions()[0]!.body.parameters).toMatchObject({ do_sample: false });
    expect(fake.completions()[0]!.body.parameters.temperature).toBeUndefined();
  });

  it('cuts the stop sequence TGI leaves in the text, and any stop it was not sent', async () => {
    fake.set({ respond: () => ({ text: 'a = 1\n\n\nb = 2', chunks: ['a = 1', '\n\n\n', 'b = 2'] }) });
    expect(await backend().complete({ ...REQ, stop: ['\n\n\n'] }, never())).toMatchObject({ ok: true, value: { text: 'a = 1', finishReason: 'stop' } });
    // The sixth stop string is not sent (max_stop_sequences is 4) but still ends the text here.
    fake.set({ respond: () => ({ text: 'a = 1\n\n\nb = 2' }) });
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'a = 1' } });
  });

  it('a completion cut at max_new_tokens reports length', async () => {
    fake.set({ respond: () => ({ text: 'x'.repeat(400) }) });
    expect(await backend().complete({ ...REQ, maxTokens: 3 }, never())).toEqual({ ok: true, value: { text: 'x'.repeat(12), finishReason: 'length', stoppedEarly: false, model: MODEL } });
  });

  it('`enough` ends the stream early and the server sees the connection close', async () => {
    fake.set({ respond: (): Reply => ({ text: 'a\nb\nc\nd\ne\nf\n', chunks: ['a\n', 'b\n', 'c\n', 'd\n', 'e\n', 'f\n'] }), tokenIntervalMs: 20 });
    const r = await backend().complete({ ...REQ, enough: (t) => t.split('\n').length > 2 }, never());
    expect(r).toMatchObject({ ok: true, value: { text: 'a\nb\n', stoppedEarly: true } });
    const rec = await fake.waitFor((q) => q.path === '/generate_stream' && q.closedAt !== null);
    expect(rec.finished).toBe(false);
  });

  it('a slow drip of tokens is read to the end', async () => {
    // The whole answer takes longer than timeoutMs, each gap far less: timeoutMs bounds the silence
    // between pieces, not the answer (and a busy machine cannot stretch a 150 ms gap to 2 s).
    const text = 'abcdefghijklmnop';
    fake.set({ respond: () => ({ text, chunks: [...text] }), tokenIntervalMs: 150 });
    expect(await backend({ timeoutMs: 2000 }).complete(REQ, never())).toMatchObject({ ok: true, value: { text } });
  });
});

describe('chat over /v1/chat/completions', () => {
  it('streams deltas, asks for the served model as "tgi", reports usage', async () => {
    fake.set({ respond: () => ({ text: 'It adds one.' }) });
    const deltas: string[] = [];
    const r = await backend().chat({ messages: [{ role: 'user', content: 'explain x+1' }], maxTokens: 100, temperature: 0.2, onDelta: (d) => deltas.push(d) }, never());
    expect(r).toEqual({ ok: true, value: { text: 'It adds one.', finishReason: 'stop', model: MODEL, usage: { promptTokens: 3, completionTokens: 3 } } });
    expect(deltas.join('')).toBe('It adds one.');
    expect(deltas.length).toBeGreaterThan(1);
    const rec = fake.requests.find((q) => q.path === '/v1/chat/completions')!;
    expect(rec.body).toMatchObject({ model: 'tgi', max_tokens: 100, temperature: 0.2, stream: true, stream_options: { include_usage: true } });
  });

  it('an error inside the chat stream is a failure, not a short answer', async () => {
    fake.set({ respond: (): Reply => ({ streamError: { message: 'Request failed during generation: out of memory', type: 'generation' }, after: 'It ' }) });
    expect(await backend().chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 10, temperature: 0 }, never())).toEqual({
      ok: false,
      failure: { kind: 'stream', message: `${fake.url} reported an error in the stream: Request failed during generation: out of memory` },
    });
  });
});

describe('probe', () => {
  it('GET /health: ok with a latency, 503 when unhealthy', async () => {
    const b = backend();
    const ok = await b.probe(never());
    expect(ok.ok && ok.value.latencyMs >= 0).toBe(true);
    fake.set({ healthy: false });
    expect(await b.probe(never())).toEqual({ ok: false, failure: { kind: 'server', status: 503, message: `${fake.url} answered 503: unhealthy` } });
    expect(fake.requests.filter((r) => r.path === '/health')).toHaveLength(2);
  });
});

describe('cancellation', () => {
  it('abort → cancelled, and the server sees the client close the connection', async () => {
    fake.set({ respond: (): Reply => ({ hang: true }) });
    const b = backend();
    await b.info(never());
    const ctrl = new AbortController();
    const pending = b.complete(REQ, ctrl.signal);
    await fake.waitFor((r) => r.path === '/generate_stream');
    ctrl.abort(new CancelledError('superseded by a newer request'));
    expect(await pending).toEqual({ ok: false, failure: { kind: 'cancelled', message: `request to ${fake.url} cancelled` } });
    const rec = await fake.waitFor((r) => r.path === '/generate_stream' && r.closedAt !== null);
    expect(rec.closedAt).toBeGreaterThanOrEqual(rec.receivedAt);
  });

  it('abort in the middle of a stream → cancelled, connection closed', async () => {
    fake.set({ respond: (): Reply => ({ text: 'a'.repeat(80), chunks: Array.from({ length: 80 }, () => 'a') }), tokenIntervalMs: 10 });
    const ctrl = new AbortController();
    const pending = backend().complete(REQ, ctrl.signal);
    await fake.waitFor((r) => r.path === '/generate_stream');
    setTimeout(() => ctrl.abort(new CancelledError()), 60);
    expect(await pending).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    await fake.waitFor((r) => r.path === '/generate_stream' && r.closedAt !== null);
  });

  it("the caller's deadline → timeout", async () => {
    fake.set({ respond: (): Reply => ({ hang: true }) });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(new DeadlineError(50)), 50);
    expect(await backend().complete(REQ, ctrl.signal)).toEqual({ ok: false, failure: { kind: 'timeout', message: `${fake.url} did not answer within 50 ms` } });
  });

  it('a stream that stalls longer than timeoutMs → timeout, connection closed', async () => {
    fake.set({ respond: (): Reply => ({ hang: true, after: 'ret' }) });
    const r = await backend({ timeoutMs: 80 }).complete(REQ, never());
    expect(r).toEqual({ ok: false, failure: { kind: 'timeout', message: `${fake.url} did not answer within 80 ms` } });
    await fake.waitFor((q) => q.path === '/generate_stream' && q.closedAt !== null);
  });
});

describe('failures', () => {
  const rows: [string, Reply, Record<string, unknown>][] = [
    ['429 overloaded with Retry-After', { status: 429, error: { message: 'Model is overloaded', type: 'overloaded' }, headers: { 'retry-after': '2' } }, { kind: 'rate_limited', status: 429, retryAfterMs: 2000 }],
    ['424 generation error', { status: 424, error: { message: 'Request failed during generation: CUDA error', type: 'generation' } }, { kind: 'server', status: 424, message: `${'URL'} answered 424: Request failed during generation: CUDA error` }],
    ['500 incomplete generation', { status: 500, error: { message: 'Incomplete generation', type: 'incomplete_generation' } }, { kind: 'server', status: 500 }],
    ['503', { status: 503, error: { message: 'unhealthy', type: 'healthcheck' } }, { kind: 'server', status: 503 }],
    ['422 validation', { status: 422, error: { message: 'Input validation error: `top_p` must be > 0.0 and < 1.0', type: 'validation' } }, { kind: 'bad_request', status: 422 }],
    ['404', { status: 404, error: { message: 'not found' } }, { kind: 'not_found', status: 404 }],
    ['error event inside the 200 stream', { streamError: { message: 'Request failed during generation: Unexpected <class RuntimeError>', type: 'generation' }, after: 'ret' }, { kind: 'stream', message: `URL reported an error in the stream: Request failed during generation: Unexpected <class RuntimeError>` }],
    ['overloaded inside the stream', { streamError: { message: 'Model is overloaded', type: 'overloaded' } }, { kind: 'rate_limited', message: 'URL is overloaded: Model is overloaded' }],
    ['a malformed stream line', { malformed: '{"index":2,"token":{"id":', after: 'ret' }, { kind: 'bad_response' }],
    ['socket destroyed before the headers', { destroy: true }, { kind: 'unreachable' }],
    ['socket destroyed in the middle of the stream', { destroy: true, after: 'return 4' }, { kind: 'stream' }],
    ['a stream that ends without its final event', { end: true, after: 'return 4' }, { kind: 'stream', message: 'the stream from URL ended before its final event' }],
  ];
  it.each(rows)('%s', async (_n, reply, expected) => {
    fake.set({ respond: () => reply });
    const r = await backend().complete(REQ, never());
    const want = JSON.parse(JSON.stringify(expected).replaceAll('URL', fake.url));
    expect(r).toMatchObject({ ok: false, failure: want });
  });

  it("TGI's own context checks (in the stream) → context_length with the limit and the tokens counted", async () => {
    const r = await backend().complete({ ...REQ, prompt: 'x'.repeat(4 * 8100), maxTokens: 64 }, never());
    expect(r).toMatchObject({ ok: false, failure: { kind: 'context_length', limit: 7680, requested: 8100 } });
    fake.set({ maxInputTokens: 9000 });
    const r2 = await backend().complete({ ...REQ, prompt: 'x'.repeat(4 * 8150), maxTokens: 64 }, never());
    expect(r2).toMatchObject({ ok: false, failure: { kind: 'context_length', limit: 8192, requested: 8214 } });
  });

  it('connection refused → unreachable, naming the URL', async () => {
    const port = await freePort();
    const b = backend({ url: `http://127.0.0.1:${port}` });
    const failure = { kind: 'unreachable', message: `could not reach http://127.0.0.1:${port} (connection refused)` };
    expect(await b.info(never())).toEqual({ ok: false, failure });
    expect(await b.complete(REQ, never())).toEqual({ ok: false, failure });
    expect(await b.probe(never())).toEqual({ ok: false, failure });
  });

  it('a server failure forgets the model: the next request discovers again', async () => {
    const b = backend();
    await b.info(never());
    fake.set({ respond: (): Reply => ({ status: 500, error: { message: 'Incomplete generation' } }) });
    await b.complete(REQ, never());
    fake.set({ model: 'bigcode/starcoder2-7b', respond: () => ({ text: 'x' }) });
    expect(await b.info(never())).toMatchObject({ ok: true, value: { id: 'bigcode/starcoder2-7b' } });
    expect(infoCalls()).toBe(2);
  });
});

describe('headers', () => {
  it('no apiKeyEnv: no Authorization header (even with OPENAI_API_KEY in the environment)', async () => {
    await backend({}, { OPENAI_API_KEY: 'sk-leak' }).complete(REQ, never());
    for (const rec of fake.requests) expect(rec.headers.authorization).toBeUndefined();
    expect(fake.requests).toHaveLength(2);
  });

  it('apiKeyEnv set: Bearer on every request; TGI --api-key then lets it through', async () => {
    fake.set({ apiKey: 'hf-secret-1', respond: () => ({ text: 'ok' }) });
    expect(await backend({ apiKeyEnv: 'TGI_KEY' }, { TGI_KEY: 'hf-secret-1' }).complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'ok' } });
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual(['Bearer hf-secret-1', 'Bearer hf-secret-1']);
  });

  it("a missing key against TGI's --api-key → auth", async () => {
    fake.set({ apiKey: 'hf-secret-1' });
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'auth', status: 401, message: `${fake.url} answered 401: HTTP 401` } });
  });

  it('configured headers and x-tandem-user (on-prem only)', async () => {
    await backend({ headers: { 'X-Team': 'compilers' } }).complete(REQ, never());
    expect(fake.completions()[0]!.headers['x-team']).toBe('compilers');
    expect(fake.completions()[0]!.headers['x-tandem-user']).toBe(userInfo().username);
    fake.reset();
    await backend({ location: 'cloud' }).complete(REQ, never());
    expect(fake.completions()[0]!.headers['x-tandem-user']).toBeUndefined();
  });
});
