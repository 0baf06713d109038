// The llama.cpp backend against the loopback fake llama-server: discovery, /infill with snippets, streaming, chat, probe, cancellation, failures, headers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../server/src/config/schema.js';
import { LlamaCppBackend } from '../../server/src/models/llamacpp.js';
import type { FimRequest } from '../../server/src/models/types.js';
import { CancelledError, DeadlineError } from '../../server/src/util/abort.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { startFakeLlamaCpp, type FakeLlamaCpp, type Reply } from '../fake/llamacpp.js';
import { freePort, never } from './backendKit.js';

const FILE = 'qwen2.5-coder-1.5b-q8_0.gguf';
let fake: FakeLlamaCpp;

beforeEach(async () => {
  fake = await startFakeLlamaCpp({ nCtx: 8192 });
});
afterEach(async () => {
  await fake.close();
});

function backend(over: Partial<Backend> = {}, env: NodeJS.ProcessEnv = {}): LlamaCppBackend {
  return new LlamaCppBackend({ name: 'cpu', kind: 'llamacpp', url: fake.url, location: 'onprem', ...over }, { logger: silentLogger(), env });
}

const PARTS = { prefix: '// path: src/a.ts\nfunction add(a: number, b: number) {\n  ', suffix: '\n}\n', snippets: [{ path: 'src/math.ts', text: 'export const sum = (xs: number[]) => xs.reduce(add, 0);\n' }, { path: 'src/b.ts', text: 'add(1, 2);\n' }] };
const REQ: FimRequest = { prompt: '<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>', parts: PARTS, stop: ['<|endoftext|>', '\n\n\n'], maxTokens: 48, temperature: 0.1 };

describe('model discovery', () => {
  it('reads n_ctx from /props default_generation_settings and names the model by its file, once', async () => {
    const b = backend();
    const expected = { ok: true, value: { id: FILE, contextWindow: 8192, contextSource: 'server' } };
    expect(await b.info(never())).toEqual(expected);
    await b.complete(REQ, never());
    expect(await b.info(never())).toEqual(expected);
    expect(fake.requests.filter((r) => r.path === '/props')).toHaveLength(1);
  });

  it('a top-level n_ctx (older /props), an alias, a configured model and maxContextTokens', async () => {
    fake.set({ propsShape: 'flat', nCtx: 2048 });
    expect(await backend().info(never())).toEqual({ ok: true, value: { id: FILE, contextWindow: 2048, contextSource: 'server' } });
    fake.set({ propsShape: 'nested', alias: 'coder' });
    expect(await backend().info(never())).toEqual({ ok: true, value: { id: 'coder', contextWindow: 2048, contextSource: 'server' } });
    expect(await backend({ model: 'mine', maxContextTokens: 1024 }).info(never())).toEqual({ ok: true, value: { id: 'mine', contextWindow: 1024, contextSource: 'config' } });
  });

  it('a model still loading → server failure, and discovery is tried again', async () => {
    fake.set({ loading: true });
    const b = backend();
    expect(await b.info(never())).toEqual({ ok: false, failure: { kind: 'server', status: 503, message: `${fake.url} answered 503: Loading model` } });
    fake.set({ loading: false });
    expect(await b.info(never())).toMatchObject({ ok: true });
  });
});

describe('FIM over /infill', () => {
  it('sends prefix, suffix and the snippets as input_extra; the server places the FIM tokens', async () => {
    fake.set({ respond: () => ({ text: 'return a + b;' }) });
    expect(await backend().complete(REQ, never())).toEqual({ ok: true, value: { text: 'return a + b;', finishReason: 'stop', stoppedEarly: false, model: FILE } });
    expect(fake.completions()[0]!.path).toBe('/infill');
    expect(fake.completions()[0]!.body).toEqual({
      input_prefix: PARTS.prefix,
      input_suffix: PARTS.suffix,
      input_extra: [
        { filename: 'src/math.ts', text: PARTS.snippets[0]!.text },
        { filename: 'src/b.ts', text: PARTS.snippets[1]!.text },
      ],
      prompt: '',
      n_predict: 48,
      temperature: 0.1,
      stop: REQ.stop,
      stream: true,
      cache_prompt: true,
    });
  });

  it('without the parts, our rendered prompt goes to /completion', async () => {
    fake.set({ respond: () => ({ text: 'x' }) });
    await backend().complete({ ...REQ, parts: undefined }, never());
    expect(fake.completions()[0]!.path).toBe('/completion');
    expect(fake.completions()[0]!.body).toEqual({ prompt: REQ.prompt, n_predict: 48, temperature: 0.1, stop: REQ.stop, stream: true, cache_prompt: true });
  });

  it('stop_type limit is length; a stop word is stop and is not in the text', async () => {
    fake.set({ respond: () => ({ text: 'q'.repeat(100) }) });
    expect(await backend().complete({ ...REQ, maxTokens: 2 }, never())).toMatchObject({ ok: true, value: { text: 'qqqqqqqq', finishReason: 'length' } });
    fake.set({ respond: () => ({ text: 'a;\n\n\nb;' }) });
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'a;', finishReason: 'stop' } });
  });

  it('`enough` ends the stream early and the server sees the connection close', async () => {
    fake.set({ respond: (): Reply => ({ text: 'a\nb\nc\nd\n', chunks: ['a\n', 'b\n', 'c\n', 'd\n'] }), tokenIntervalMs: 20 });
    expect(await backend().complete({ ...REQ, enough: (t) => t.startsWith('a\n') }, never())).toMatchObject({ ok: true, value: { text: 'a\n', stoppedEarly: true } });
    await fake.waitFor((r) => r.path === '/infill' && r.closedAt !== null);
  });
});

describe('chat over /v1/chat/completions', () => {
  it('streams deltas (the opening null content is skipped), with usage', async () => {
    fake.set({ respond: () => ({ text: 'Adds a and b.' }) });
    const deltas: string[] = [];
    const r = await backend().chat({ messages: [{ role: 'user', content: 'explain add' }], maxTokens: 64, temperature: 0.3, onDelta: (d) => deltas.push(d) }, never());
    expect(r).toEqual({ ok: true, value: { text: 'Adds a and b.', finishReason: 'stop', model: FILE, usage: { promptTokens: 3, completionTokens: 4 } } });
    expect(deltas.join('')).toBe('Adds a and b.');
    expect(fake.requests.find((q) => q.path === '/v1/chat/completions')!.body).toMatchObject({ model: FILE, max_tokens: 64, temperature: 0.3, stream: true });
  });

  it('a chat answer cut off before [DONE] or a finish reason is a failure', async () => {
    fake.set({ respond: (): Reply => ({ end: true, after: 'Adds' }) });
    expect(await backend().chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 8, temperature: 0 }, never())).toEqual({ ok: false, failure: { kind: 'stream', message: `the stream from ${fake.url} ended before the answer was complete` } });
  });
});

describe('probe', () => {
  it('GET /health: ok, or the 503 of a model still loading', async () => {
    expect((await backend().probe(never())).ok).toBe(true);
    fake.set({ loading: true });
    expect(await backend().probe(never())).toEqual({ ok: false, failure: { kind: 'server', status: 503, message: `${fake.url} answered 503: Loading model` } });
  });
});

describe('cancellation', () => {
  it('abort → cancelled, and the server sees the client close the connection', async () => {
    fake.set({ respond: (): Reply => ({ hang: true }) });
    const b = backend();
    await b.info(never());
    const ctrl = new AbortController();
    const pending = b.complete(REQ, ctrl.signal);
    await fake.waitFor((r) => r.path === '/infill');
    ctrl.abort(new CancelledError());
    expect(await pending).toEqual({ ok: false, failure: { kind: 'cancelled', message: `request to ${fake.url} cancelled` } });
    await fake.waitFor((r) => r.path === '/infill' && r.closedAt !== null);
  });

  it('a chat aborted in the middle of its stream', async () => {
    fake.set({ respond: (): Reply => ({ text: 'v'.repeat(200) }), tokenIntervalMs: 10 });
    const ctrl = new AbortController();
    const pending = backend().chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 100, temperature: 0 }, ctrl.signal);
    await fake.waitFor((r) => r.path === '/v1/chat/completions');
    setTimeout(() => ctrl.abort(new CancelledError()), 50);
    expect(await pending).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    await fake.waitFor((r) => r.path === '/v1/chat/completions' && r.closedAt !== null);
  });

  it("the caller's deadline → timeout; a stalled stream → timeout after timeoutMs", async () => {
    fake.set({ respond: (): Reply => ({ hang: true }) });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(new DeadlineError(40)), 40);
    expect(await backend().complete(REQ, ctrl.signal)).toEqual({ ok: false, failure: { kind: 'timeout', message: `${fake.url} did not answer within 40 ms` } });
    fake.set({ respond: (): Reply => ({ hang: true, after: 'ret' }) });
    expect(await backend({ timeoutMs: 60 }).complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'timeout' } });
  });
});

describe('failures', () => {
  const rows: [string, Reply, Record<string, unknown>][] = [
    ['500', { status: 500, error: { message: 'failed to decode' } }, { kind: 'server', status: 500, message: 'URL answered 500: failed to decode' }],
    ['503 no free slot', { status: 503, error: { message: 'no slot available' } }, { kind: 'server', status: 503 }],
    ['429 with Retry-After', { status: 429, error: { message: 'busy', type: 'rate_limit_error' }, headers: { 'retry-after': '1' } }, { kind: 'rate_limited', retryAfterMs: 1000 }],
    ['400', { status: 400, error: { message: 'invalid grammar' } }, { kind: 'bad_request', status: 400 }],
    ['an error event inside the 200 stream', { streamError: { message: 'llama_decode failed', code: 500 }, after: 'ret' }, { kind: 'stream', message: 'URL reported an error in the stream: llama_decode failed' }],
    ['a 4xx error event inside the stream', { streamError: { message: 'bad sampler', code: 400, type: 'invalid_request_error' } }, { kind: 'bad_request', message: 'URL rejected the request: bad sampler' }],
    ['a malformed stream line', { malformed: '{"content":"x",', after: 'ret' }, { kind: 'bad_response' }],
    ['socket destroyed before the headers', { destroy: true }, { kind: 'unreachable' }],
    ['socket destroyed in the middle of the stream', { destroy: true, after: 'return' }, { kind: 'stream' }],
    ['a stream without its stop chunk', { end: true, after: 'return' }, { kind: 'stream', message: 'the stream from URL ended before its final ("stop": true) event' }],
  ];
  it.each(rows)('%s', async (_n, reply, expected) => {
    fake.set({ respond: () => reply });
    const want = JSON.parse(JSON.stringify(expected).replaceAll('URL', fake.url));
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: false, failure: want });
  });

  it("llama.cpp's legacy `error:` line inside the stream → stream failure", async () => {
    fake.set({ errorFraming: 'legacy', respond: (): Reply => ({ streamError: { message: 'slot unavailable', code: 500 }, after: 'ret' }) });
    expect(await backend().complete(REQ, never())).toEqual({ ok: false, failure: { kind: 'stream', message: `${fake.url} reported an error in the stream: slot unavailable` } });
  });

  it('the context-size check → context_length with n_ctx and the prompt tokens', async () => {
    fake.set({ nCtx: 512 });
    const r = await backend().complete({ ...REQ, parts: { ...PARTS, prefix: 'z'.repeat(4000) } }, never());
    expect(r).toMatchObject({ ok: false, failure: { kind: 'context_length', status: 400, limit: 512 } });
    expect(!r.ok && r.failure.requested).toBeGreaterThan(1000);
  });

  it('a model without FIM tokens → /infill answers 501 (server), naming the cause', async () => {
    fake.set({ fim: false });
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'server', status: 501, message: expect.stringContaining('Infill is not supported by this model') } });
  });

  it('connection refused → unreachable', async () => {
    const port = await freePort();
    expect(await backend({ url: `http://127.0.0.1:${port}` }).probe(never())).toEqual({ ok: false, failure: { kind: 'unreachable', message: `could not reach http://127.0.0.1:${port} (connection refused)` } });
  });
});

describe('headers', () => {
  it('--api-key: a missing key → auth; apiKeyEnv sends it as Bearer', async () => {
    fake.set({ apiKey: 'local-key-123', respond: () => ({ text: 'ok' }) });
    expect(await backend({}, { OPENAI_API_KEY: 'sk-leak' }).complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'auth', status: 401, message: `${fake.url} answered 401: Invalid API Key` } });
    expect(fake.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
    fake.reset();
    expect(await backend({ apiKeyEnv: 'LLAMA_KEY', headers: { 'X-Team': 'infra' } }, { LLAMA_KEY: 'local-key-123' }).complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'ok' } });
    for (const r of fake.requests) {
      expect(r.headers.authorization).toBe('Bearer local-key-123');
      expect(r.headers['x-team']).toBe('infra');
    }
  });
});
