// Reading a request's JSON body, bounded: past the limit the answer is 413 and nothing is kept.
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

export { DEFAULT_MAX_BODY_BYTES } from './defaults.js';

function tooLarge(limit: number, size: string): ApiError {
  return new ApiError(413, `request body of ${size} is larger than the limit of ${limit} bytes (tandem-lsp serve --max-body-bytes)`, 'invalid_request_error', null, 'request_too_large');
}

/**
 * The body as a JSON object. Rejects with an ApiError: 413 past `limit` (at once when
 * Content-Length says so, without reading a byte of it), 400 for a body that is not JSON or not
 * an object. `signal`: the client went away.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit, `${declared} bytes`));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (d: Buffer) => {
      if (failed) return;
      size += d.length;
      if (size > limit) {
        failed = true;
        parts.length = 0;
        req.pause();
        reject(tooLarge(limit, `more than ${limit} bytes`));
        return;
      }
      parts.push(d);
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(parts).toString('utf8');
      if (text.trim() === '') return reject(new ApiError(400, 'the request has no body: expected a JSON object', 'invalid_request_error', null, 'invalid_json'));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        return reject(new ApiError(400, `the body is not valid JSON: ${(err as Error).message}`, 'invalid_request_error', null, 'invalid_json'));
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return reject(new ApiError(400, `the body must be a JSON object, not ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`, 'invalid_request_error', null, 'invalid_json'));
      resolve(body as Record<string, unknown>);
    });
  });
}
