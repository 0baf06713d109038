// Error bodies in every shape servers send, and vLLM's context-length messages.
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { contextLengthInfo, errorBodyMessage, toFailure } from '../../server/src/models/errors.js';
import { loadOpenai } from '../../server/src/models/sdk.js';
import { CancelledError, DeadlineError } from '../../server/src/util/abort.js';

describe('errorBodyMessage', () => {
  const rows: [string, unknown, string | undefined][] = [
    ['vLLM nested (current)', { error: { message: 'The model `x` does not exist.', type: 'NotFoundError', param: 'model', code: 404 } }, 'The model `x` does not exist.'],
    ['vLLM flat (older releases)', { object: 'error', message: 'suffix is not currently supported', type: 'BadRequestError', param: null, code: 400 }, 'suffix is not currently supported'],
    ['the error member the SDK hands over', { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' }, 'Rate limit reached'],
    ['nested inside a stream event', { error: { object: 'error', message: 'boom', type: 'InternalServerError', code: 500 } }, 'boom'],
    ['error as a plain string', { error: 'Unauthorized' }, 'Unauthorized'],
    ['FastAPI detail', { detail: 'Not Found' }, 'Not Found'],
    ['FastAPI validation detail (a list) is not a message', { detail: [{ loc: ['body', 'prompt'], msg: 'field required' }] }, undefined],
    ['a message that is not a string', { message: 42 }, undefined],
    ['an empty object', {}, undefined],
    ['null', null, undefined],
    ['a string body', 'Internal Server Error', undefined],
  ];
  it.each(rows)('%s', (_name, body, expected) => {
    expect(errorBodyMessage(body)).toBe(expected);
  });
});

describe('contextLengthInfo', () => {
  const rows: [string, string, { limit?: number; requested?: number } | undefined][] = [
    [
      'vLLM: requested tokens (messages + completion)',
      "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (2000 in the messages, 100 in the completion). Please reduce the length of the messages or completion.",
      { limit: 2048, requested: 2100 },
    ],
    [
      'vLLM: input tokens (newer releases)',
      "This model's maximum context length is 32768 tokens. However, your request has 33001 input tokens. Please reduce the length of the input messages.",
      { limit: 32768, requested: 33001 },
    ],
    [
      'vLLM: "and your request has" wording',
      "This model's maximum context length is 4096 tokens and your request has 5000 input tokens (4000 > 4096 - 128).",
      { limit: 4096, requested: 5000 },
    ],
    ['limit only', "This model's maximum context length is 8192 tokens.", { limit: 8192, requested: undefined }],
    ['OpenAI code', 'context_length_exceeded', { limit: undefined, requested: undefined }],
    ['Anthropic wording', 'prompt is too long: 210000 tokens > 200000 maximum', { limit: undefined, requested: undefined }],
    ['unrelated 400', 'suffix is not currently supported', undefined],
    ['unknown model', 'The model `m` does not exist.', undefined],
  ];
  it.each(rows)('%s', (_name, message, expected) => {
    expect(contextLengthInfo(message)).toEqual(expected);
  });
});

describe('toFailure', () => {
  // tandem imports the SDK on first use (models/sdk.ts); its errors are told apart once it is loaded,
  // as it always is when one of them can exist (these tests make them without a request).
  beforeAll(async () => {
    await loadOpenai();
  });

  const URL = 'http://gpu:8000/v1';
  // What the SDK throws: for an HTTP error it is handed the parsed body and keeps its `error`
  // member; for an error event inside a 200 stream it gets the event's `error` member, no status.
  const apiError = (status: number, body: unknown, headers?: Record<string, string>) => APIError.generate(status, { error: body } as object, undefined, new Headers(headers ?? {}));
  const streamError = (error: unknown) => new APIError(undefined, error as object, undefined, new Headers());

  const rows: [string, unknown, Record<string, unknown>][] = [
    ['400 context length', apiError(400, { message: "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (2000 in the messages, 100 in the completion). Please reduce the length of the messages or completion." }), { kind: 'context_length', status: 400, limit: 2048, requested: 2100 }],
    ['400 other', apiError(400, { message: 'suffix is not currently supported' }), { kind: 'bad_request', status: 400, message: `${URL} answered 400: suffix is not currently supported` }],
    ['401', apiError(401, { message: 'bad key' }), { kind: 'auth', status: 401 }],
    ['403', apiError(403, { message: 'no' }), { kind: 'auth', status: 403 }],
    ['404', apiError(404, { message: 'The model `m` does not exist.' }), { kind: 'not_found', status: 404 }],
    ['429 with retry-after', apiError(429, { message: 'slow down' }, { 'retry-after': '3' }), { kind: 'rate_limited', status: 429, retryAfterMs: 3000 }],
    ['500', apiError(500, { message: 'boom' }), { kind: 'server', status: 500, message: `${URL} answered 500: boom` }],
    ['503', apiError(503, { message: 'loading' }), { kind: 'server', status: 503 }],
    ['in-stream error (no status)', streamError({ object: 'error', message: 'CUDA out of memory', code: 500 }), { kind: 'stream', message: `${URL} reported an error in the stream: CUDA out of memory` }],
    ['in-stream context length', streamError({ message: "This model's maximum context length is 4096 tokens. However, your request has 5000 input tokens. Please reduce the length of the input messages." }), { kind: 'context_length', limit: 4096, requested: 5000 }],
    ['connection refused', new APIConnectionError({ cause: Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }) }), { kind: 'unreachable', message: `could not reach ${URL} (connection refused)` }],
    ['user abort', new APIUserAbortError(), { kind: 'cancelled' }],
    ['invalid JSON', new SyntaxError('Unexpected token <'), { kind: 'bad_response' }],
  ];
  it.each(rows)('%s', (_name, err, expected) => {
    expect(toFailure(err, URL)).toMatchObject(expected);
  });

  it('a deadline is a timeout, a cancellation is cancelled', () => {
    const deadline = new AbortController();
    deadline.abort(new DeadlineError(2000));
    expect(toFailure(new APIUserAbortError(), URL, deadline.signal)).toEqual({ kind: 'timeout', message: `${URL} did not answer within 2000 ms` });
    const cancelled = new AbortController();
    cancelled.abort(new CancelledError());
    expect(toFailure(new APIUserAbortError(), URL, cancelled.signal)).toEqual({ kind: 'cancelled', message: `request to ${URL} cancelled` });
  });
});
