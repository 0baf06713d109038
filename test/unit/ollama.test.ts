// The Ollama backend against the loopback fake Ollama: discovery, suffix or raw, num_ctx, streaming, chat, probe, cancellation, failures, headers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../server/src/config/schema.js';
import { OllamaBackend } from '../../server/src/models/ollama.js';
import type { FimRequest } from '../../server/src/models/types.js';
import { CancelledError, DeadlineError } from '../../server/src/util/abort.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { startFakeOllama, type FakeOllama, type Reply } from '../fake/ollama.js';
import { freePort, never } from './backendKit.js';

const MODEL = 'qwen2.5-coder:1.5b-base';
let fake: FakeOllama;

beforeEach(async () => {
  fake = await startFakeOllama({ model: MODEL });
});
afterEach(async () => {
  await fake.close();
});

function backend(over: Partial<Backend> = {}, env: NodeJS.ProcessEnv = {}): OllamaBackend {
  return new OllamaBackend({ name: 'laptop', kind: 'ollama', url: fake.url, location: 'onprem', ...over }, { logger: silentLogger(), env });
}

const PARTS = { prefix: '# path: src/f.py\ndef f():\n    ', suffix: '\n\nprint(f())\n', snippets: [{ path: 'src/util.py', text: 'def g(): pass\n' }] };
const REQ: FimRequest = { prompt: '<|fim_prefix|># path: src/f.py\ndef f():\n    <|fim_suffix|>\n\nprint(f())\n<|fim_middle|>', parts: PARTS, stop: ['<|endoftext|>', '\n\n\n'], maxTokens: 64, temperature: 0.1 };

describe('model discovery', () => {
  it('takes the first model of /api/tags, its capabilities and the Modelfile num_ctx from /api/show, once', async () => {
    const b = backend();
    const expected = { ok: true, value: { id: MODEL, contextWindow: 4096, contextSource: 'server', tools: false } };
    expect(await b.info(never())).toEqual(expected);
    await b.complete(REQ, never());
    expect(await b.info(never())).toEqual(expected);
    expect(fake.requests.filter((r) => r.path === '/api/show').map((r) => r.body)).toEqual([{ model: MODEL }]);
    expect(fake.requests.filter((r) => r.path === '/api/tags')).toHaveLength(1);
  });

  it("without num_ctx in the Modelfile, the model's trained context length", async () => {
    fake.set({ numCtx: null });
    expect(await backend().info(never())).toEqual({ ok: true, value: { id: MODEL, contextWindow: 32768, contextSource: 'server', tools: false } });
  });

  it('a configured model skips /api/tags; maxContextTokens from config wins', async () => {
    fake.set({ model: 'tandem-fim:latest' });
    expect(await backend({ model: 'tandem-fim', maxContextTokens: 2048 }).info(never())).toEqual({ ok: true, value: { id: 'tandem-fim', contextWindow: 2048, contextSource: 'config', tools: false } });
    expect(fake.requests.map((r) => r.path)).toEqual(['/api/show']);
  });

  it('a configured model the server lacks → not_found with its message', async () => {
    expect(await backend({ model: 'codellama:7b' }).info(never())).toEqual({ ok: false, failure: { kind: 'not_found', status: 404, message: `${fake.url} answered 404: model 'codellama:7b' not found` } });
  });
});

describe('FIM over /api/generate', () => {
  it('with the insert capability: prefix and suffix for the model template, num_ctx of the loaded model; no keep_alive unless configured', async () => {
    fake.set({ respond: () => ({ text: 'return 1' }) });
    expect(await backend().complete(REQ, never())).toEqual({ ok: true, value: { text: 'return 1', finishReason: 'stop', stoppedEarly: false, model: MODEL } });
    // No keep_alive: the server's OLLAMA_KEEP_ALIVE (deploy/ollama: 24h) decides.
    expect(fake.completions()[0]!.body).toEqual({
      model: MODEL,
      prompt: PARTS.prefix,
      suffix: PARTS.suffix,
      stream: true,
      options: { num_predict: 64, temperature: 0.1, stop: REQ.stop, num_ctx: 4096 },
    });
    await backend({ keepAlive: '24h' }).complete(REQ, never());
    await backend({ keepAlive: -1 }).chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 5, temperature: 0 }, never());
    expect(fake.completions()[1]!.body.keep_alive).toBe('24h');
    expect(fake.requests.find((q) => q.path === '/api/chat')!.body.keep_alive).toBe(-1);
  });

  it('without it (or without the parts): our rendered prompt, raw', async () => {
    fake.set({ capabilities: ['completion'], respond: () => ({ text: 'x' }) });
    await backend().complete(REQ, never());
    fake.set({ capabilities: ['completion', 'insert'] });
    await backend().complete({ ...REQ, parts: undefined }, never());
    for (const rec of fake.completions()) {
      expect(rec.body).toMatchObject({ model: MODEL, prompt: REQ.prompt, raw: true, stream: true });
      expect(rec.body.keep_alive).toBeUndefined();
      expect(rec.body.suffix).toBeUndefined();
    }
  });

  it('num_ctx grows in powers of two when the prompt needs more, so Ollama never cuts it', async () => {
    fake.set({ respond: () => ({ text: 'x' }) });
    const big = 'y'.repeat(3 * 6000);
    await backend({ maxContextTokens: 16384 }).complete({ ...REQ, parts: { ...PARTS, prefix: big } }, never());
    const rec = fake.completions()[0]!;
    expect(rec.body.options.num_ctx).toBe(8192);
    expect(rec.truncated).toBe(false);
    // Capped at the window.
    await backend().complete({ ...REQ, parts: { ...PARTS, prefix: big } }, never());
    expect(fake.completions()[1]!.body.options.num_ctx).toBe(4096);
  });

  it('without a Modelfile num_ctx, small prompts ask for 4096', async () => {
    fake.set({ numCtx: null, respond: () => ({ text: 'x' }) });
    await backend().complete(REQ, never());
    expect(fake.completions()[0]!.body.options.num_ctx).toBe(4096);
  });

  it('done_reason length is reported', async () => {
    fake.set({ respond: () => ({ text: 'z'.repeat(100) }) });
    expect(await backend().complete({ ...REQ, maxTokens: 2 }, never())).toEqual({ ok: true, value: { text: 'zzzzzzzz', finishReason: 'length', stoppedEarly: false, model: MODEL } });
  });

  it('`enough` ends the stream early and the server sees the connection close', async () => {
    fake.set({ respond: (): Reply => ({ text: 'a\nb\nc\nd\ne\n', chunks: ['a\n', 'b\n', 'c\n', 'd\n', 'e\n'] }), tokenIntervalMs: 20 });
    expect(await backend().complete({ ...REQ, enough: (t) => t.includes('b\n') }, never())).toMatchObject({ ok: true, value: { text: 'a\nb\n', stoppedEarly: true, finishReason: null } });
    await fake.waitFor((r) => r.path === '/api/generate' && r.closedAt !== null);
  });
});

describe('chat over /api/chat', () => {
  it('streams message deltas, with usage from the counts', async () => {
    fake.set({ respond: () => ({ text: 'It returns one.' }) });
    const deltas: string[] = [];
    const r = await backend().chat({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'explain f' }], maxTokens: 50, temperature: 0.2, onDelta: (d) => deltas.push(d) }, never());
    expect(r).toEqual({ ok: true, value: { text: 'It returns one.', finishReason: 'stop', model: MODEL, usage: { promptTokens: 5, completionTokens: 4 } } });
    expect(deltas.join('')).toBe('It returns one.');
    const rec = fake.requests.find((q) => q.path === '/api/chat')!;
    expect(rec.body).toEqual({ model: MODEL, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'explain f' }], stream: true, options: { num_predict: 50, temperature: 0.2, num_ctx: 4096 } });
  });

  it('an error line in the chat stream → stream failure', async () => {
    fake.set({ respond: (): Reply => ({ streamError: { message: 'model runner crashed' }, after: 'It ' }) });
    expect(await backend().chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 10, temperature: 0 }, never())).toEqual({ ok: false, failure: { kind: 'stream', message: `${fake.url} reported an error in the stream: model runner crashed` } });
  });
});

describe('probe', () => {
  it('GET /api/version, no model touched', async () => {
    const r = await backend().probe(never());
    expect(r.ok).toBe(true);
    expect(fake.requests.map((q) => q.path)).toEqual(['/api/version']);
  });
});

describe('cancellation', () => {
  it('abort → cancelled, and the server sees the client close the connection', async () => {
    fake.set({ respond: (): Reply => ({ hang: true }) });
    const b = backend();
    await b.info(never());
    const ctrl = new AbortController();
    const pending = b.complete(REQ, ctrl.signal);
    await fake.waitFor((r) => r.path === '/api/generate');
    ctrl.abort(new CancelledError());
    expect(await pending).toEqual({ ok: false, failure: { kind: 'cancelled', message: `request to ${fake.url} cancelled` } });
    await fake.waitFor((r) => r.path === '/api/generate' && r.closedAt !== null);
  });

  it('abort of a chat in the middle of its stream', async () => {
    fake.set({ respond: (): Reply => ({ text: 'w'.repeat(200) }), tokenIntervalMs: 10 });
    const ctrl = new AbortController();
    const pending = backend().chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 100, temperature: 0 }, ctrl.signal);
    await fake.waitFor((r) => r.path === '/api/chat');
    setTimeout(() => ctrl.abort(new CancelledError()), 50);
    expect(await pending).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    await fake.waitFor((r) => r.path === '/api/chat' && r.closedAt !== null);
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
    ['500', { status: 500, error: { message: 'llama runner process has terminated: exit status 2' } }, { kind: 'server', status: 500, message: 'URL answered 500: llama runner process has terminated: exit status 2' }],
    ['503', { status: 503, error: { message: 'server busy, please try again.  maximum pending requests exceeded' } }, { kind: 'server', status: 503 }],
    ['429 with Retry-After', { status: 429, error: { message: 'too many requests' }, headers: { 'retry-after': '5' } }, { kind: 'rate_limited', retryAfterMs: 5000 }],
    ['400', { status: 400, error: { message: 'invalid options: num_thread' } }, { kind: 'bad_request', status: 400 }],
    ['400 context length', { status: 400, error: { message: 'the input length exceeds the context length' } }, { kind: 'context_length', status: 400 }],
    ['an error line inside the 200 stream', { streamError: { message: 'an error was encountered while running the model: unexpected EOF' }, after: 'ret' }, { kind: 'stream', message: 'URL reported an error in the stream: an error was encountered while running the model: unexpected EOF' }],
    ['a malformed NDJSON line', { malformed: '{"model":"m","response":"x"', after: 'ret' }, { kind: 'bad_response' }],
    ['socket destroyed before the headers', { destroy: true }, { kind: 'unreachable' }],
    ['socket destroyed in the middle of the stream', { destroy: true, after: 'return' }, { kind: 'stream' }],
    ['a stream without its done line', { end: true, after: 'return' }, { kind: 'stream', message: 'the stream from URL ended before its final ("done": true) line' }],
  ];
  it.each(rows)('%s', async (_n, reply, expected) => {
    fake.set({ respond: () => reply });
    const want = JSON.parse(JSON.stringify(expected).replaceAll('URL', fake.url));
    expect(await backend().complete(REQ, never())).toMatchObject({ ok: false, failure: want });
  });

  it('a model deleted since discovery → not_found, then discovered again', async () => {
    const b = backend();
    await b.info(never());
    fake.set({ model: 'other:latest' });
    expect(await b.complete(REQ, never())).toMatchObject({ ok: false, failure: { kind: 'not_found', message: `${fake.url} answered 404: model "${MODEL}" not found, try pulling it first` } });
    expect(await b.info(never())).toMatchObject({ ok: true, value: { id: 'other:latest' } });
  });

  it('connection refused → unreachable', async () => {
    const port = await freePort();
    const b = backend({ url: `http://127.0.0.1:${port}` });
    expect(await b.complete(REQ, never())).toEqual({ ok: false, failure: { kind: 'unreachable', message: `could not reach http://127.0.0.1:${port} (connection refused)` } });
    expect(await b.probe(never())).toMatchObject({ ok: false, failure: { kind: 'unreachable' } });
  });

  it('/api/tags with no model → a message naming the setting', async () => {
    fake.set({ model: '' });
    expect(await backend().info(never())).toEqual({ ok: false, failure: { kind: 'bad_response', message: `${fake.url}/api/tags lists no model; pull one or set backends.laptop.model` } });
  });
});

describe('headers', () => {
  it('Bearer only with apiKeyEnv (an authenticating proxy in front of Ollama); extra headers always', async () => {
    await backend({ headers: { 'X-Team': 'web' } }, { OPENAI_API_KEY: 'sk-leak' }).complete(REQ, never());
    for (const r of fake.requests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers['x-team']).toBe('web');
    }
    fake.reset();
    await backend({ apiKeyEnv: 'OLLAMA_GATEWAY_TOKEN' }, { OLLAMA_GATEWAY_TOKEN: 'gw-123456789' }).complete(REQ, never());
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual(['Bearer gw-123456789', 'Bearer gw-123456789', 'Bearer gw-123456789']);
  });
});
