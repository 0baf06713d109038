// Turns whatever a request threw (SDK errors, aborts, error bodies in either vLLM shape) into a BackendFailure.
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { CancelledError, DeadlineError } from '../util/abort.js';
import type { BackendFailure, FailureKind } from './types.js';

interface ErrorBody {
  message?: unknown;
  type?: unknown;
  code?: unknown;
}

/**
 * vLLM answers errors as `{"error":{message,type,code}}` (current) or flat
 * `{"object":"error",message,type,code}` (older releases); OpenAI-compatible servers use the first.
 * The SDK keeps only the `error` member of an HTTP error body, so openaiCompat nests flat bodies
 * before it reads them; stream events and other callers may still hand us either shape.
 */
export function errorBodyMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as ErrorBody & { error?: unknown; detail?: unknown };
  if (typeof b.message === 'string') return b.message;
  if (b.error && typeof b.error === 'object') return errorBodyMessage(b.error);
  if (typeof b.error === 'string') return b.error;
  if (typeof b.detail === 'string') return b.detail; // FastAPI's own 404/422 bodies
  return undefined;
}

const CONTEXT_PATTERNS = [
  /maximum context length is (\d+) tokens\. However, you requested (\d+) tokens/i,
  /maximum context length is (\d+) tokens(?: and your request has|\. However, your request has) (\d+) input tokens/i,
  /maximum context length is (\d+)/i,
  /context length|context_length_exceeded|too many tokens|prompt is too long/i,
];

export function contextLengthInfo(message: string): { limit?: number; requested?: number } | undefined {
  for (const re of CONTEXT_PATTERNS) {
    const m = re.exec(message);
    if (m) return { limit: m[1] ? Number(m[1]) : undefined, requested: m[2] ? Number(m[2]) : undefined };
  }
  return undefined;
}

function statusKind(status: number): FailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status >= 500) return 'server';
  return 'bad_request';
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const v = headers?.get('retry-after');
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function causeText(err: unknown): string {
  let cur: unknown = err;
  // fetch wraps the socket error: TypeError('fetch failed') -> cause {code: 'ECONNREFUSED'}
  for (let i = 0; i < 4 && cur; i++) {
    const c = cur as { code?: unknown; cause?: unknown };
    if (typeof c.code === 'string' && /^E[A-Z]+/.test(c.code)) return c.code === 'ECONNREFUSED' ? 'connection refused' : c.code;
    cur = c.cause;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Classifies a thrown error. `signal` tells a deadline from a cancellation. */
export function toFailure(err: unknown, url: string, signal?: AbortSignal): BackendFailure {
  if (signal?.aborted || err instanceof APIUserAbortError || (err instanceof Error && err.name === 'AbortError')) {
    const reason = signal?.reason;
    if (reason instanceof DeadlineError) return { kind: 'timeout', message: `${url} did not answer within ${reason.ms} ms` };
    if (reason instanceof CancelledError || signal?.aborted) return { kind: 'cancelled', message: `request to ${url} cancelled` };
    return { kind: 'cancelled', message: `request to ${url} cancelled` };
  }
  if (err instanceof APIConnectionTimeoutError) return { kind: 'timeout', message: `${url} did not answer in time` };
  if (err instanceof APIConnectionError) return { kind: 'unreachable', message: `could not reach ${url} (${causeText(err.cause ?? err)})` };
  if (err instanceof APIError) {
    const msg = errorBodyMessage(err.error) ?? err.message;
    if (err.status === undefined) {
      // An error object inside a 200 stream: the SDK raises it without a status.
      const ctx = contextLengthInfo(msg);
      if (ctx) return { kind: 'context_length', message: `${url}: ${msg}`, ...ctx };
      return { kind: 'stream', message: `${url} reported an error in the stream: ${msg}` };
    }
    const status = err.status;
    if (status === 400 || status === 413 || status === 422) {
      const ctx = contextLengthInfo(msg);
      if (ctx) return { kind: 'context_length', status, message: `${url}: ${msg}`, ...ctx };
    }
    return { kind: statusKind(status), status, message: `${url} answered ${status}: ${msg}`, retryAfterMs: retryAfterMs(err.headers) };
  }
  if (err instanceof SyntaxError) return { kind: 'bad_response', message: `${url} sent an answer that is not valid JSON: ${err.message}` };
  return { kind: 'stream', message: `request to ${url} failed: ${causeText(err)}` };
}
