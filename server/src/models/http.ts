// A fetch for the openai SDK over node:http(s) with keep-alive agents: less per-request work than
// the built-in fetch on the keystroke path, and the place where TLS trust (caFile) is set.
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  /** PEM text of extra certificate authorities. */
  ca?: string;
}

function headerRecord(init: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

export function nodeFetch(opts: HttpOptions = {}): Fetch {
  // One keep-alive pool per backend: the socket to the GPU server stays open between keystrokes.
  const httpAgent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  const httpsAgent = new https.Agent({ keepAlive: true, scheduling: 'lifo', ...(opts.ca ? { ca: opts.ca } : {}) });
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : new URL(input.url);
      const isHttps = url.protocol === 'https:';
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
      const req = (isHttps ? https : http).request(
        url,
        { method: init.method ?? 'GET', headers: headerRecord(init.headers), agent: isHttps ? httpsAgent : httpAgent, signal },
        (res) => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 502;
          // A Response may not carry a body with these statuses.
          const body = status === 204 || status === 304 || init.method === 'HEAD' ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          if (!body) res.resume();
          resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers }));
        },
      );
      req.on('error', reject);
      const body = init.body;
      if (body === undefined || body === null) req.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
      else reject(new TypeError('nodeFetch: only string and byte bodies are supported'));
    });
}
