// The push SSE parser of the OpenAI-compatible path (models/sse.ts): a recorded stream cut at every
// byte, line endings of every kind, comments, multi-line data; and the backend reading raw bytes
// off a socket: events split across writes, [DONE], error events in a 200 stream, broken streams.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAICompatBackend } from '../../server/src/models/openaiCompat.js';
import { SseParser } from '../../server/src/models/sse.js';
import type { FimRequest } from '../../server/src/models/types.js';
import { CancelledError } from '../../server/src/util/abort.js';
import { silentLogger } from '../../server/src/util/logger.js';

type Ev = [event: string, data: string];

function parse(chunks: Uint8Array[]): Ev[] {
  const out: Ev[] = [];
  const p = new SseParser((event, data) => out.push([event, data]));
  for (const c of chunks) p.push(c);
  p.end();
  return out;
}

const enc = new TextEncoder();

// What vLLM 0.6 sent for a two-choice streamed completion (ids and timestamps shortened), with a
// keep-alive comment, a multi-byte character and an emoji in the text, and the final [DONE].
const RECORDED =
  'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-Coder-7B","choices":[{"index":0,"text":"ret","logprobs":{"token_logprobs":[-0.1]},"finish_reason":null}]}\n\n' +
  ': keep-alive\n\n' +
  'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-Coder-7B","choices":[{"index":1,"text":"π → 😀","logprobs":{"token_logprobs":[-0.2]},"finish_reason":null}]}\n\n' +
  'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-Coder-7B","choices":[{"index":0,"text":"urn 1;","logprobs":{"token_logprobs":[-0.3]},"finish_reason":"stop"}]}\n\n' +
  'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-Coder-7B","choices":[{"index":1,"text":"","logprobs":{"token_logprobs":[]},"finish_reason":"length"}]}\n\n' +
  'data: [DONE]\n\n';

describe('SseParser', () => {
  const whole = parse([enc.encode(RECORDED)]);

  it('reads a recorded vLLM stream: four JSON events and [DONE], the comment skipped', () => {
    expect(whole.map(([e]) => e)).toEqual(['', '', '', '', '']);
    expect(whole.at(-1)).toEqual(['', '[DONE]']);
    expect(JSON.parse(whole[1]![1]).choices[0].text).toBe('π → 😀');
  });

  it('gives the same events wherever the bytes are cut in two (inside a character too)', () => {
    const bytes = enc.encode(RECORDED);
    for (let i = 1; i < bytes.length; i++) {
      expect(parse([bytes.subarray(0, i), bytes.subarray(i)]), `cut at byte ${i}`).toEqual(whole);
    }
  });

  it('gives the same events one byte at a time, and in three pieces cut anywhere', () => {
    const bytes = enc.encode(RECORDED);
    expect(parse([...bytes].map((b) => Uint8Array.of(b)))).toEqual(whole);
    for (let i = 1; i < bytes.length; i += 7) {
      for (let j = i + 1; j < bytes.length; j += 13) {
        expect(parse([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]), `cut at ${i} and ${j}`).toEqual(whole);
      }
    }
  });

  it.each([
    ['CRLF', '\r\n'],
    ['lone CR', '\r'],
  ])('%s line endings, cut at every byte', (_n, eol) => {
    const text = RECORDED.replaceAll('\n', eol);
    const bytes = enc.encode(text);
    expect(parse([bytes])).toEqual(whole);
    for (let i = 1; i < bytes.length; i++) expect(parse([bytes.subarray(0, i), bytes.subarray(i)]), `cut at byte ${i}`).toEqual(whole);
  });

  const rows: [string, string, Ev[]][] = [
    ['multi-line data is joined with \\n', 'data: a\ndata: b\ndata:c\n\n', [['', 'a\nb\nc']]],
    ['only one space after the colon is framing', 'data:  two\n\n', [['', ' two']]],
    ['an empty data line counts', 'data\n\n', [['', '']]],
    ['named events', 'event: error\ndata: {"x":1}\n\nevent: thread.run\ndata: 2\n\n', [['error', '{"x":1}'], ['thread.run', '2']]],
    ['comments, id, retry and unknown fields are ignored', ':\n: ping\nid: 7\nretry: 10\nfoo: bar\ndata: z\n\n', [['', 'z']]],
    ['an event without data is not dispatched; its name does not leak into the next', 'event: ping\n\ndata: 1\n\n', [['', '1']]],
    ['blank lines between events dispatch nothing', '\n\n\ndata: 1\n\n\n\ndata: 2\n\n', [['', '1'], ['', '2']]],
    ['a last event without its blank line, and a last line without its newline', 'data: 1\n\ndata: {"stop":true}', [['', '1'], ['', '{"stop":true}']]],
    ['a byte-order mark before the first field is dropped', '\ufeffdata: 1\n\n', [['', '1']]],
    ['multi-line data with CRLF (a cut between \\r and \\n ends no line)', 'data: a\r\ndata: b\r\n\r\n', [['', 'a\nb']]],
    ['mixed endings in one stream', 'data: a\r\n\r\ndata: b\r\rdata: c\n\n', [['', 'a'], ['', 'b'], ['', 'c']]],
  ];
  it.each(rows)('%s', (_n, text, expected) => {
    const bytes = enc.encode(text);
    expect(parse([bytes])).toEqual(expected);
    for (let i = 1; i < bytes.length; i++) expect(parse([bytes.subarray(0, i), bytes.subarray(i)]), `cut at byte ${i}`).toEqual(expected);
  });
});

// --- The backend against a server that writes exactly the given bytes --------------------------

const MODEL = 'Qwen/Qwen2.5-Coder-7B';
const REQ: FimRequest = { prompt: 'def f():\n    ', stop: ['\n\n'], maxTokens: 16, temperature: 0.1 };
const never = () => new AbortController().signal;

interface RawServer {
  url: string;
  /** Completion requests seen, and whether each one's connection was closed by the client before the answer ended. */
  seen: { body: Record<string, unknown>; closedEarly: boolean }[];
  close(): Promise<void>;
}

let server: RawServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * A server that answers /v1/models with one model and every completion with `status`, `headers`
 * and the pieces of `body`, each written after the client has had time to read the one before.
 */
async function rawServer(pieces: (string | Uint8Array)[], status = 200, headers: Record<string, string> = { 'content-type': 'text/event-stream' }, holdOpen = false): Promise<RawServer> {
  const seen: RawServer['seen'] = [];
  const srv = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', async () => {
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', max_model_len: 4096 }] }));
        return;
      }
      const rec = { body: JSON.parse(raw) as Record<string, unknown>, closedEarly: false };
      seen.push(rec);
      let ended = false;
      res.on('close', () => {
        if (!ended) rec.closedEarly = true;
      });
      res.writeHead(status, headers);
      for (const p of pieces) {
        if (res.destroyed) return;
        res.write(p);
        await new Promise((r) => setTimeout(r, 2));
      }
      if (holdOpen) return;
      ended = true;
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

function backend(url: string): OpenAICompatBackend {
  return new OpenAICompatBackend({ name: 'fim', kind: 'vllm', url, location: 'onprem' }, { logger: silentLogger(), env: {} });
}

const ev = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const piece = (index: number, text: string, finish: string | null = null) => ev({ choices: [{ index, text, finish_reason: finish }] });

describe('the OpenAI-compatible stream over the wire', () => {
  it('events split across writes, a comment, CRLF and a multi-byte character cut in two: the text whole', async () => {
    const text = piece(0, 'return ') + ': keep-alive\r\n\r\n' + piece(0, 'π;', 'stop').replaceAll('\n', '\r\n') + 'data: [DONE]\r\n\r\n';
    const bytes = enc.encode(text);
    const pi = text.indexOf('π');
    const cut = enc.encode(text.slice(0, pi)).length + 1; // inside π's two bytes
    server = await rawServer([bytes.subarray(0, 9), bytes.subarray(9, cut), bytes.subarray(cut, cut + 3), bytes.subarray(cut + 3)]);
    expect(await backend(server.url).complete(REQ, never())).toEqual({ ok: true, value: { text: 'return π;', finishReason: 'stop', stoppedEarly: false, model: MODEL } });
    expect(server.seen[0]!.closedEarly).toBe(false);
  });

  it('whatever follows [DONE] is ignored', async () => {
    server = await rawServer([piece(0, 'a', 'stop'), 'data: [DONE]\n\n', 'data: {not json\n\n', piece(0, 'b')]);
    expect(await backend(server.url).complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'a' } });
  });

  it('a stream that ends without [DONE] or a last blank line still gives what it sent', async () => {
    server = await rawServer([piece(0, 'x'), `data: ${JSON.stringify({ choices: [{ index: 0, text: 'y', finish_reason: 'length' }] })}`]);
    expect(await backend(server.url).complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'xy', finishReason: 'length' } });
  });

  const errors: [string, unknown, Record<string, unknown>][] = [
    ['nested error object', { error: { object: 'error', message: 'CUDA error: out of memory', type: 'InternalServerError', code: 500 } }, { kind: 'stream', message: 'URL reported an error in the stream: CUDA error: out of memory' }],
    ['flat (older vLLM)', { object: 'error', message: 'engine died', type: 'InternalServerError', code: 500 }, { kind: 'stream', message: 'URL reported an error in the stream: engine died' }],
    ['error as a string', { error: 'overloaded' }, { kind: 'stream', message: 'URL reported an error in the stream: overloaded' }],
    ['error object without a message', { error: { code: 503 } }, { kind: 'stream', message: 'URL reported an error in the stream: {"code":503}' }],
    [
      'context length',
      { error: { message: "This model's maximum context length is 4096 tokens. However, your request has 5000 input tokens. Please reduce the length of the input messages." } },
      { kind: 'context_length', limit: 4096, requested: 5000 },
    ],
  ];
  it.each(errors)('an error event inside a 200 stream (%s): its failure, never the partial text, connection closed', async (_n, payload, expected) => {
    server = await rawServer([piece(0, 'return '), ev(payload), piece(0, 'more')], 200, undefined, true);
    const r = await backend(server.url).complete(REQ, never());
    const failure = Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, typeof v === 'string' ? v.replace('URL', `${server!.url}/v1`) : v]));
    expect(r).toMatchObject({ ok: false, failure });
    await waitFor(() => server!.seen[0]!.closedEarly);
  });

  it('an event that is not JSON → bad_response naming the line', async () => {
    server = await rawServer([piece(0, 'a'), 'data: {"choices":[{"text":\n\n'], 200, undefined, true);
    const r = await backend(server.url).complete(REQ, never());
    expect(r).toMatchObject({ ok: false, failure: { kind: 'bad_response', message: expect.stringContaining(`${server.url}/v1 sent a malformed stream line "{\\"choices\\":[{\\"text\\":"`) } });
  });

  it('a 200 answer with no event in it → bad_response naming the content type', async () => {
    server = await rawServer(['{"choices":[{"text":"x"}]}'], 200, { 'content-type': 'application/json' });
    expect(await backend(server.url).complete(REQ, never())).toEqual({ ok: false, failure: { kind: 'bad_response', message: `${server.url}/v1 answered 200 without an event stream (content-type application/json)` } });
  });

  it.each([
    ['plain text', 'text/plain', 'Bad Gateway', 502, 'server', 'Bad Gateway'],
    ['an error string', 'application/json', '{"error":"Unauthorized"}', 401, 'auth', 'Unauthorized'],
    ['FastAPI detail', 'application/json', '{"detail":"Not Found"}', 404, 'not_found', 'Not Found'],
  ])('an HTTP error with %s → its kind and message', async (_n, type, body, status, kind, msg) => {
    server = await rawServer([body], status, { 'content-type': type });
    expect(await backend(server.url).complete(REQ, never())).toMatchObject({ ok: false, failure: { kind, status, message: `${server.url}/v1 answered ${status}: ${msg}` } });
  });

  it('a chat: deltas split across writes, tool calls, usage after the last choice', async () => {
    const chunks = [
      ev({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] }),
      ev({ choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: null }] }),
      ev({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"q":' } }] }, finish_reason: null }] }),
      ev({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, finish_reason: 'tool_calls' }] }),
      ev({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } }),
      'data: [DONE]\n\n',
    ].join('');
    const bytes = enc.encode(chunks);
    server = await rawServer([bytes.subarray(0, 40), bytes.subarray(40, 41), bytes.subarray(41, 200), bytes.subarray(200)]);
    const deltas: string[] = [];
    const r = await backend(server.url).chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 8, temperature: 0, onDelta: (d) => deltas.push(d) }, never());
    expect(r).toEqual({ ok: true, value: { text: 'Hello', toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"q":1}' } }], finishReason: 'tool_calls', model: MODEL, usage: { promptTokens: 5, completionTokens: 3 } } });
    expect(deltas).toEqual(['Hel', 'lo']);
    expect(server.seen[0]!.body).toMatchObject({ model: MODEL, stream: true, stream_options: { include_usage: true }, max_tokens: 8 });
  });

  it('a cancel while the stream is open → cancelled, and the server sees the connection close', async () => {
    server = await rawServer([piece(0, 'a')], 200, undefined, true);
    const ctrl = new AbortController();
    const pending = backend(server.url).complete(REQ, ctrl.signal);
    await waitFor(() => server!.seen.length === 1);
    ctrl.abort(new CancelledError());
    expect(await pending).toEqual({ ok: false, failure: { kind: 'cancelled', message: `request to ${server.url}/v1 cancelled` } });
    await waitFor(() => server!.seen[0]!.closedEarly);
  });
});

/** Polls `cond` on the event loop's turns (no clock: the condition comes from socket events). */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
}
