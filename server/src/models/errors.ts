// Turns whatever a request threw or a server answered (SDK errors, aborts, every server's error
// bodies and in-stream error events, broken streams) into a BackendFailure.
import { CancelledError, DeadlineError } from '../util/abort.js';
import { loadedOpenai } from './sdk.js';
import { MalformedStreamError } from './streams.js';
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

type ContextInfo = { limit?: number; requested?: number };
const num = (s: string | undefined) => (s ? Number(s) : undefined);

/** Context-length messages, most specific first: vLLM/OpenAI, TGI's validation, then bare wordings. */
const CONTEXT_PATTERNS: [RegExp, (m: RegExpExecArray) => ContextInfo][] = [
  [/maximum context length is (\d+) tokens\. However, you requested (\d+) tokens/i, (m) => ({ limit: num(m[1]), requested: num(m[2]) })],
  [/maximum context length is (\d+) tokens(?: and your request has|\. However, your request has) (\d+) input tokens/i, (m) => ({ limit: num(m[1]), requested: num(m[2]) })],
  [/maximum context length is (\d+)/i, (m) => ({ limit: num(m[1]), requested: undefined })],
  // TGI: "`inputs` tokens + `max_new_tokens` must be <= 8192. Given: 8100 `inputs` tokens and 128 `max_new_tokens`"
  [/`max_new_tokens` must be <= (\d+)\. Given: (\d+) `inputs` tokens and (\d+) `max_new_tokens`/, (m) => ({ limit: num(m[1]), requested: Number(m[2]) + Number(m[3]) })],
  // TGI: "`inputs` must have less than 7680 tokens. Given: 8000"
  [/`inputs` must have less than (\d+) tokens\. Given: (\d+)/, (m) => ({ limit: num(m[1]), requested: num(m[2]) })],
  // llama.cpp ("exceeds the available context size"), Ollama ("exceeds the context length"), OpenAI, Anthropic.
  [/context length|context size|context window|context_length_exceeded|too many tokens|prompt is too long/i, () => ({ limit: undefined, requested: undefined })],
];

export function contextLengthInfo(message: string): ContextInfo | undefined {
  for (const [re, read] of CONTEXT_PATTERNS) {
    const m = re.exec(message);
    if (m) return read(m);
  }
  return undefined;
}

/**
 * Context-length facts from an error body or stream event: llama.cpp says it with a type
 * (`exceed_context_size_error`) and numbers (`n_ctx`, `n_prompt_tokens`), the rest in words.
 */
export function contextFromBody(body: unknown, message: string): ContextInfo | undefined {
  const e = errorObject(body);
  if (e && (e.type === 'exceed_context_size_error' || typeof e.n_ctx === 'number')) {
    return { limit: typeof e.n_ctx === 'number' ? e.n_ctx : undefined, requested: typeof e.n_prompt_tokens === 'number' ? e.n_prompt_tokens : undefined };
  }
  return contextLengthInfo(message);
}

/** The object that carries an error's fields: `{error:{…}}`, or the body itself when flat. */
function errorObject(body: unknown): Record<string, unknown> | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  if (b.error && typeof b.error === 'object') return b.error as Record<string, unknown>;
  return b;
}

/** TGI's `error_type`, llama.cpp's `error.type`, OpenAI's `error.type`. */
function errorType(body: unknown): string | undefined {
  const e = errorObject(body);
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : undefined;
  const t = b?.error_type ?? e?.type;
  return typeof t === 'string' ? t : undefined;
}

function statusKind(status: number): FailureKind {
  if (status === 429) return 'rate_limited';
  // TGI answers 424 when generation itself failed (CUDA errors, a dead shard): the server's fault.
  if (status === 424) return 'server';
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
    const c = cur as { code?: unknown; cause?: unknown; message?: unknown };
    if (c.code === 'EPROXY' && typeof c.message === 'string') return c.message;
    if (typeof c.code === 'string' && /^E[A-Z]+/.test(c.code)) return c.code === 'ECONNREFUSED' ? 'connection refused' : c.code;
    // TLS verification: "self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)" says what caFile is for.
    if (typeof c.code === 'string' && /CERT|SIGNATURE|ALTNAME|ISSUER/.test(c.code) && typeof c.message === 'string') return `${c.message} (${c.code})`;
    cur = c.cause;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Classifies a thrown error. `signal` tells a deadline from a cancellation. */
export function toFailure(err: unknown, url: string, signal?: AbortSignal): BackendFailure {
  // The SDK's error classes, when it is loaded (models/sdk.ts): unloaded, nothing can be one of them.
  const sdk = loadedOpenai();
  if (signal?.aborted || (sdk && err instanceof sdk.APIUserAbortError) || (err instanceof Error && err.name === 'AbortError')) {
    const reason = signal?.reason;
    if (reason instanceof DeadlineError) return { kind: 'timeout', message: `${url} did not answer within ${reason.ms} ms` };
    if (reason instanceof CancelledError || signal?.aborted) return { kind: 'cancelled', message: `request to ${url} cancelled` };
    return { kind: 'cancelled', message: `request to ${url} cancelled` };
  }
  if (sdk && err instanceof sdk.APIConnectionTimeoutError) return { kind: 'timeout', message: `${url} did not answer in time` };
  if (sdk && err instanceof sdk.APIConnectionError) return { kind: 'unreachable', message: `could not reach ${url} (${causeText(err.cause ?? err)})` };
  if (sdk && err instanceof sdk.APIError) {
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
  if (err instanceof MalformedStreamError) return { kind: 'bad_response', message: `${url} sent a ${err.message}` };
  if (err instanceof SyntaxError) return { kind: 'bad_response', message: `${url} sent an answer that is not valid JSON: ${err.message}` };
  return { kind: 'stream', message: `request to ${url} failed: ${causeText(err)}` };
}

/**
 * A request that failed before any answer arrived (refused, reset, DNS, TLS, proxy): the backend
 * is unreachable, unless the caller's signal ended it.
 */
export function connectFailure(err: unknown, url: string, signal?: AbortSignal): BackendFailure {
  if (signal?.aborted || (err instanceof Error && err.name === 'AbortError')) return toFailure(err, url, signal);
  return { kind: 'unreachable', message: `could not reach ${url} (${causeText(err)})` };
}

/**
 * An HTTP error answer in any server's shape: vLLM/OpenAI `{"error":{message,type,code}}` and flat,
 * TGI `{"error":"…","error_type":"…"}`, Ollama `{"error":"…"}`, llama.cpp
 * `{"error":{code,message,type}}`, FastAPI `{"detail":"…"}`, or plain text.
 */
export function httpFailure(url: string, status: number, bodyText: string, headers?: Headers): BackendFailure {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  const text = bodyText.trim();
  const msg = errorBodyMessage(body) ?? (text ? (text.length > 300 ? `${text.slice(0, 300)}…` : text) : `HTTP ${status}`);
  if (status === 400 || status === 413 || status === 422) {
    const ctx = contextFromBody(body, msg);
    if (ctx) return { kind: 'context_length', status, message: `${url}: ${msg}`, ...ctx };
  }
  const failure: BackendFailure = { kind: statusKind(status), status, message: `${url} answered ${status}: ${msg}` };
  const retry = retryAfterMs(headers);
  if (retry !== undefined) failure.retryAfterMs = retry;
  return failure;
}

/**
 * An error event inside a 200 stream (TGI's `data:{"error":…,"error_type":…}`, llama.cpp's
 * `{"error":{code,…}}`, an Ollama NDJSON `{"error":"…"}` line). TGI reports even validation and
 * overload this way, so those keep their meaning: a bad request is not retried, an overloaded
 * server is rate limited.
 */
export function streamErrorFailure(url: string, payload: unknown): BackendFailure {
  const msg = errorBodyMessage(payload) ?? (typeof payload === 'string' && payload ? payload : 'unknown error');
  const ctx = contextFromBody(payload, msg);
  if (ctx) return { kind: 'context_length', message: `${url}: ${msg}`, ...ctx };
  const type = errorType(payload);
  if (type === 'overloaded') return { kind: 'rate_limited', message: `${url} is overloaded: ${msg}` };
  if (type === 'validation') return { kind: 'bad_request', message: `${url} rejected the request: ${msg}` };
  const code = errorObject(payload)?.code;
  if (typeof code === 'number' && code >= 400 && code < 500) return { kind: statusKind(code), message: `${url} rejected the request: ${msg}` };
  return { kind: 'stream', message: `${url} reported an error in the stream: ${msg}` };
}

/**
 * An error event inside a 200 stream from an OpenAI-compatible server, read as the openai package
 * read it: an event with a truthy `error` member (`{"error":{message,…}}`), or older vLLM's flat
 * `{"object":"error",message,…}`. Its message says whether it is a context-length error; anything
 * else is a `stream` failure. Undefined for an ordinary event.
 */
export function openAIStreamFailure(payload: unknown, url: string): BackendFailure | undefined {
  if (!payload || typeof payload !== 'object') return undefined;
  const p = payload as { error?: unknown; object?: unknown };
  if (!p.error && p.object !== 'error') return undefined;
  const msg = errorBodyMessage(payload) ?? (p.error && typeof p.error === 'object' ? JSON.stringify(p.error).slice(0, 300) : 'unknown error');
  const ctx = contextLengthInfo(msg);
  if (ctx) return { kind: 'context_length', message: `${url}: ${msg}`, ...ctx };
  return { kind: 'stream', message: `${url} reported an error in the stream: ${msg}` };
}
