// Errors of `tandem-lsp serve` in OpenAI's shape: {"error":{"message","type","param","code"}}.
import type { ServerResponse } from 'node:http';
import type { BackendFailure } from '../models/types.js';

/** OpenAI's error types, by the HTTP status they go with. */
export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' | 'rate_limit_error' | 'server_error' | 'timeout_error';

/** One error answer: its status and the body's four members. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A request whose field `param` is wrong: 400, the message naming the field. */
export function badParam(param: string, message: string, code: string | null = 'invalid_value'): ApiError {
  return new ApiError(400, `${param}: ${message}`, 'invalid_request_error', param, code);
}

/**
 * A backend's or the pipeline's failure as the answer to the client. `denied` (privacy forbids
 * every backend the request could go to; nothing was sent) is 403; a backend that is down, slow or
 * wrong is 502/503/504, with its one sentence (which names its URL, never a key).
 */
export function fromFailure(f: BackendFailure, param: string | null = null): ApiError {
  switch (f.kind) {
    case 'denied':
      return new ApiError(403, f.message, 'permission_error', param, 'privacy_denied');
    case 'bad_request':
      // The pipeline's own checks (a model that is not tandem's, a reference outside the workspace) name the field.
      if (f.param === 'model') return new ApiError(404, f.message, 'invalid_request_error', 'model', 'model_not_found');
      return new ApiError(400, f.message, 'invalid_request_error', f.param ?? param, 'invalid_value');
    case 'context_length':
      return new ApiError(400, f.message, 'invalid_request_error', 'messages', 'context_length_exceeded');
    case 'rate_limited':
      return new ApiError(429, f.message, 'rate_limit_error', null, 'backend_rate_limited');
    case 'timeout':
    case 'slow':
      return new ApiError(504, f.message, 'timeout_error', null, 'backend_timeout');
    case 'unreachable':
      return new ApiError(503, f.message, 'server_error', null, 'backend_unavailable');
    case 'not_found':
      return new ApiError(502, f.message, 'server_error', null, 'backend_not_found');
    case 'auth':
      return new ApiError(502, f.message, 'server_error', null, 'backend_auth');
    default:
      return new ApiError(502, f.message, 'server_error', null, `backend_${f.kind}`);
  }
}

/** Bytes of an unwanted body read and dropped before the connection is cut instead. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/**
 * Writes an error answer. `bodyUnread`: the request's body was not read (401, 404, 413): what is
 * left of it is read and dropped, up to DISCARD_LIMIT, so that a client still sending it gets to
 * read the answer (closing the connection at once would reset it mid-upload, and the client would
 * see a broken pipe instead of the 413); past the limit the connection is cut.
 */
export function sendError(res: ServerResponse, err: ApiError, bodyUnread = false): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(err.body());
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
  if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="tandem"';
  res.writeHead(err.status, headers);
  res.end(text);
  if (bodyUnread && res.req && !res.req.complete) {
    const req = res.req;
    let dropped = 0;
    req.on('data', (d: Buffer) => {
      dropped += d.length;
      if (dropped > DISCARD_LIMIT) req.socket.destroy();
    });
    req.resume();
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
