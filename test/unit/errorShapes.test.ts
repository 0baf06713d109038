// Every server's error shapes, in HTTP bodies and inside 200 streams, mapped to one BackendFailure kind each.
import { describe, expect, it, vi } from 'vitest';
import { connectFailure, contextLengthInfo, httpFailure, streamErrorFailure, toFailure } from '../../server/src/models/errors.js';
import { ProxyError } from '../../server/src/models/http.js';
import { MalformedStreamError } from '../../server/src/models/streams.js';
import { CancelledError, DeadlineError } from '../../server/src/util/abort.js';

const URL = 'http://gpu:8080';

describe('httpFailure', () => {
  const rows: [string, number, string, Record<string, string> | undefined, Record<string, unknown>][] = [
    ['TGI 422 validation', 422, '{"error":"Input validation error: `top_p` must be > 0.0 and < 1.0","error_type":"validation"}', undefined, { kind: 'bad_request', status: 422, message: `${URL} answered 422: Input validation error: \`top_p\` must be > 0.0 and < 1.0` }],
    ['TGI 422 context (max_total_tokens)', 422, '{"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192. Given: 8100 `inputs` tokens and 128 `max_new_tokens`","error_type":"validation"}', undefined, { kind: 'context_length', limit: 8192, requested: 8228 }],
    ['TGI 422 suffix', 422, '{"error":"Suffix is not supported and can be achieved by preprocessing the prompt.","error_type":"suffix not supported"}', undefined, { kind: 'bad_request' }],
    ['TGI 424 generation', 424, '{"error":"Request failed during generation: CUDA OOM","error_type":"generation"}', undefined, { kind: 'server', status: 424 }],
    ['TGI 429 overloaded', 429, '{"error":"Model is overloaded","error_type":"overloaded"}', { 'retry-after': '1' }, { kind: 'rate_limited', retryAfterMs: 1000 }],
    ['TGI bare 401', 401, '', undefined, { kind: 'auth', message: `${URL} answered 401: HTTP 401` }],
    ['axum plain-text 422', 422, 'Failed to deserialize the JSON body into the target type: missing field `inputs`', undefined, { kind: 'bad_request', message: `${URL} answered 422: Failed to deserialize the JSON body into the target type: missing field \`inputs\`` }],
    ['Ollama 404 model', 404, '{"error":"model \\"x\\" not found, try pulling it first"}', undefined, { kind: 'not_found', message: `${URL} answered 404: model "x" not found, try pulling it first` }],
    ['Ollama 400', 400, '{"error":"\\"m\\" does not support insert"}', undefined, { kind: 'bad_request' }],
    ['Ollama 500', 500, '{"error":"llama runner process has terminated: signal: killed"}', undefined, { kind: 'server' }],
    ['llama.cpp 400 context', 400, '{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}', undefined, { kind: 'context_length', limit: 4096, requested: 5000 }],
    ['llama.cpp 503 loading', 503, '{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}', undefined, { kind: 'server', message: `${URL} answered 503: Loading model` }],
    ['llama.cpp 501 no FIM', 501, '{"error":{"code":501,"message":"Infill is not supported by this model: prefix token is missing","type":"not_supported_error"}}', undefined, { kind: 'server', status: 501 }],
    ['llama.cpp 401', 401, '{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}', undefined, { kind: 'auth' }],
    ['Azure 429 with an HTTP date', 429, '{"error":{"code":"429","message":"Rate limit"}}', { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }, { kind: 'rate_limited' }],
    ['an HTML page from a gateway', 502, '<html><body>Bad Gateway</body></html>', undefined, { kind: 'server', message: `${URL} answered 502: <html><body>Bad Gateway</body></html>` }],
  ];
  it.each(rows)('%s', (_n, status, body, headers, expected) => {
    expect(httpFailure(URL, status, body, headers ? new Headers(headers) : undefined)).toMatchObject(expected);
  });

  it('a Retry-After in seconds or as a date becomes milliseconds', () => {
    expect(httpFailure(URL, 429, '', new Headers({ 'retry-after': '3' })).retryAfterMs).toBe(3000);
    // The clock is given (a whole second, as HTTP dates have): the wait is exact on any machine.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.UTC(2025, 9, 1, 9, 0, 0));
      const at = new Date(Date.UTC(2025, 9, 1, 9, 0, 10)).toUTCString();
      expect(httpFailure(URL, 429, '', new Headers({ 'retry-after': at })).retryAfterMs).toBe(10_000);
      expect(httpFailure(URL, 429, '', new Headers({ 'retry-after': new Date(Date.UTC(2025, 9, 1, 8, 59, 0)).toUTCString() })).retryAfterMs).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('streamErrorFailure', () => {
  const rows: [string, unknown, Record<string, unknown>][] = [
    ['TGI generation', { error: 'Request failed during generation: CUDA error', error_type: 'generation' }, { kind: 'stream', message: `${URL} reported an error in the stream: Request failed during generation: CUDA error` }],
    ['TGI overloaded', { error: 'Model is overloaded', error_type: 'overloaded' }, { kind: 'rate_limited' }],
    ['TGI validation', { error: 'Input validation error: `temperature` must be strictly positive', error_type: 'validation' }, { kind: 'bad_request' }],
    ['TGI input length', { error: 'Input validation error: `inputs` must have less than 7680 tokens. Given: 9000', error_type: 'validation' }, { kind: 'context_length', limit: 7680, requested: 9000 }],
    ['TGI incomplete', { error: 'Incomplete generation', error_type: 'incomplete_generation' }, { kind: 'stream' }],
    ['Ollama line', { error: 'an error was encountered while running the model: unexpected EOF' }, { kind: 'stream' }],
    ['llama.cpp 500', { error: { code: 500, message: 'decode failed', type: 'server_error' } }, { kind: 'stream' }],
    ['llama.cpp 400', { error: { code: 400, message: 'bad grammar', type: 'invalid_request_error' } }, { kind: 'bad_request' }],
    ['llama.cpp legacy error: line', { code: 500, message: 'slot unavailable', type: 'server_error' }, { kind: 'stream', message: `${URL} reported an error in the stream: slot unavailable` }],
    ['llama.cpp context', { error: { code: 400, message: 'the request exceeds the available context size, try increasing it', type: 'exceed_context_size_error', n_prompt_tokens: 9000, n_ctx: 8192 } }, { kind: 'context_length', limit: 8192, requested: 9000 }],
  ];
  it.each(rows)('%s', (_n, payload, expected) => {
    expect(streamErrorFailure(URL, payload)).toMatchObject(expected);
  });
});

describe('contextLengthInfo for the new servers', () => {
  it('reads TGI, llama.cpp and Ollama wordings', () => {
    expect(contextLengthInfo('Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`')).toEqual({ limit: 4096, requested: 4200 });
    expect(contextLengthInfo('`inputs` must have less than 2048 tokens. Given: 2100')).toEqual({ limit: 2048, requested: 2100 });
    expect(contextLengthInfo('the request exceeds the available context size, try increasing it')).toEqual({ limit: undefined, requested: undefined });
    expect(contextLengthInfo('the input length exceeds the context length')).toEqual({ limit: undefined, requested: undefined });
    expect(contextLengthInfo('Model is overloaded')).toBeUndefined();
  });
});

describe('transport failures', () => {
  it('refused, reset, TLS and proxy errors before an answer → unreachable', () => {
    expect(connectFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), URL)).toEqual({ kind: 'unreachable', message: `could not reach ${URL} (connection refused)` });
    expect(connectFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), URL)).toEqual({ kind: 'unreachable', message: `could not reach ${URL} (ECONNRESET)` });
    expect(connectFailure(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), URL)).toEqual({ kind: 'unreachable', message: `could not reach ${URL} (self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT))` });
    expect(connectFailure(new ProxyError('proxy http://p:3128 refused CONNECT to x:443 (407 Proxy Authentication Required)'), URL).message).toBe(`could not reach ${URL} (proxy http://p:3128 refused CONNECT to x:443 (407 Proxy Authentication Required))`);
  });

  it('an aborted connection attempt is a cancellation or a timeout, not unreachable', () => {
    const c = new AbortController();
    c.abort(new CancelledError());
    expect(connectFailure(new DOMException('aborted', 'AbortError'), URL, c.signal)).toEqual({ kind: 'cancelled', message: `request to ${URL} cancelled` });
    const d = new AbortController();
    d.abort(new DeadlineError(300));
    expect(connectFailure(new DOMException('aborted', 'AbortError'), URL, d.signal)).toEqual({ kind: 'timeout', message: `${URL} did not answer within 300 ms` });
  });

  it('a malformed stream line → bad_response naming the line; a broken stream → stream', () => {
    expect(toFailure(new MalformedStreamError('{"tok', 'Unexpected end of JSON input'), URL)).toEqual({ kind: 'bad_response', message: `${URL} sent a malformed stream line "{\\"tok": Unexpected end of JSON input` });
    expect(toFailure(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), URL)).toEqual({ kind: 'stream', message: `request to ${URL} failed: ECONNRESET` });
  });
});
