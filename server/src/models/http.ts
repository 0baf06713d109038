// A fetch over node:http(s) with keep-alive agents: less per-request work than the built-in fetch
// on the keystroke path, and the place where TLS trust (caFile) and proxies are applied.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { urlToHttpOptions } from 'node:url';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  /** PEM text of extra certificate authorities, trusted in addition to the built-in ones. */
  ca?: string;
  /** Proxy for every request (a backend's `proxy`); without it the environment's proxy variables apply. */
  proxy?: string;
  /** Where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read (either case), once per URL, at its first request; default: none. */
  env?: NodeJS.ProcessEnv;
  /**
   * A successful `text/event-stream` answer comes back as a {@link StreamResponse} (cast to
   * Response) instead of a real one. Only for openaiCompat.ts, which reads no more of a response
   * than that object has (status, headers, the body as an async iterable); everything else
   * (errors, JSON) stays a Response.
   */
  lightStreams?: boolean;
}

/** A proxy failed to open a tunnel; the message names the proxy without its credentials. */
export class ProxyError extends Error {
  readonly code = 'EPROXY';
  constructor(message: string) {
    super(message);
    this.name = 'ProxyError';
  }
}

/**
 * The request's headers as node:http's flat list (name, value, name, value, …), in the order a
 * Headers iterates them (sorted, lower-case names), which is also the order they went out in when
 * set one by one. `special` says whether one of them is a header node:http writes itself.
 */
function headerList(init: RequestInit['headers']): { list: string[]; special: boolean } {
  const list: string[] = [];
  let special = false;
  // The SDK hands over a Headers already: copying it into a new one first would only cost time.
  (init instanceof Headers ? init : new Headers(init)).forEach((v, k) => {
    list.push(k, v);
    if (SELF_WRITTEN.has(k)) special = true;
  });
  return { list, special };
}

function headerRecord(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

/** Headers node:http adds, or treats specially, when it writes a request head from set headers. */
const SELF_WRITTEN = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'expect', 'trailer', 'te', 'upgrade', 'keep-alive', 'proxy-connection']);

/** Methods node:http sends without a Content-Length (its useChunkedEncodingByDefault is false for them). */
const NO_LENGTH_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/** What a request URL decides, worked out once per URL and fetch (the proxy setting and the environment are read then). */
interface Target {
  url: URL;
  isHttps: boolean;
  proxy: URL | undefined;
  /** node:http's options for the URL, as http.request(url, …) derives them. */
  options: http.RequestOptions;
  /**
   * The Host header as node:http writes it (`url.host`: brackets around IPv6, no default port), when
   * the head may be handed over as a flat list; undefined with credentials in the URL (node:http
   * adds an Authorization header for them) or through a proxy.
   */
  host: string | undefined;
}

/** Distinct URLs kept per fetch; more (an unusual client) start the table afresh. */
const TARGETS_MAX = 64;

function envVar(env: NodeJS.ProcessEnv | undefined, name: string): string | undefined {
  // The lower-case spelling wins, as in curl and Go; empty means unset.
  return env?.[name.toLowerCase()] || env?.[name.toUpperCase()] || undefined;
}

function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
}

/**
 * Whether NO_PROXY exempts `target`, with curl's rules: entries split on commas or spaces; `*`
 * matches everything; a name matches itself and its subdomains (`example.com`, `.example.com` and
 * `*.example.com` all cover `api.example.com`); `host:port` only that port; an IP matches itself
 * and a CIDR block (`10.0.0.0/8`, `fd00::/8`) the addresses in it; IPv6 may be bracketed.
 */
export function bypassesProxy(target: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || defaultPort(target.protocol);
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: string | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1]!;
      entryPort = bracketed[2];
    } else if (/^[^:]+:\d+$/.test(entry)) {
      const i = entry.lastIndexOf(':');
      entryPort = entry.slice(i + 1);
      entry = entry.slice(0, i);
    }
    if (entryPort && entryPort !== port) continue;
    if (entry.includes('/')) {
      if (inCidr(host, entry)) return true;
      continue;
    }
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.')) entry = entry.slice(1);
    if (host === entry) return true;
    if (!net.isIP(host) && host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

function inCidr(host: string, cidr: string): boolean {
  const type = net.isIP(host);
  const [base, bits] = cidr.split('/');
  if (!type || !base || net.isIP(base) !== type || bits === undefined || !/^\d+$/.test(bits)) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(base, Number(bits), type === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
  return list.check(host, type === 4 ? 'ipv4' : 'ipv6');
}

/** The proxy a request to `target` goes through, if any. */
export function proxyFor(target: URL, opts: HttpOptions): URL | undefined {
  const configured = opts.proxy ?? envVar(opts.env, target.protocol === 'https:' ? 'https_proxy' : 'http_proxy');
  if (!configured) return undefined;
  // As in curl, NO_PROXY applies to a configured proxy as well as to the environment's.
  if (bypassesProxy(target, envVar(opts.env, 'no_proxy'))) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(configured) ? configured : `http://${configured}`);
  } catch {
    // Not echoed: a proxy setting may hold a password.
    throw new ProxyError(opts.proxy ? 'the backend\'s proxy setting is not a URL' : 'the HTTPS_PROXY or HTTP_PROXY setting is not a URL');
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') throw new ProxyError(`proxy ${proxy.protocol}// is not supported (use an http:// or https:// proxy)`);
  return proxy;
}

/** The proxy as it may appear in a message: no user name, no password. */
export function proxyLabel(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username && !proxy.password) return {};
  const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(cred).toString('base64')}` };
}

/**
 * An https agent whose sockets are tunnels: CONNECT host:port through the proxy, then TLS with the
 * target inside. Keep-alive pooling works as for a direct agent, one tunnel per pooled socket.
 */
class TunnelAgent extends https.Agent {
  constructor(private readonly proxy: URL, private readonly ca: string[] | undefined, options: https.AgentOptions) {
    super(options);
  }

  override createConnection(opts: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    // The agent hands over its TLS options (ca, servername) merged into the request's.
    const options = opts as tls.ConnectionOptions & http.ClientRequestArgs;
    const host = options.host ?? 'localhost';
    const port = Number(options.port ?? 443);
    const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    const proxy = this.proxy;
    const req = (proxy.protocol === 'https:' ? https : http).request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || defaultPort(proxy.protocol),
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyAuthorization(proxy) },
      agent: false,
      ...(proxy.protocol === 'https:' && this.ca ? { ca: this.ca } : {}),
    });
    let settled = false;
    const done = (err: Error | null, socket?: Duplex) => {
      if (settled) return;
      settled = true;
      callback?.(err, socket as Duplex);
    };
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        done(new ProxyError(`proxy ${proxyLabel(proxy)} refused CONNECT to ${authority} (${res.statusCode} ${res.statusMessage ?? ''})`.trim()));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      const secure = tls.connect({
        socket,
        servername: net.isIP(host) ? undefined : host,
        ...(options.ca ? { ca: options.ca } : {}),
        ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
      });
      done(null, secure);
    });
    req.once('error', (err) => done(Object.assign(new ProxyError(`could not reach proxy ${proxyLabel(proxy)}: ${(err as NodeJS.ErrnoException).code ?? err.message}`), { cause: err })));
    req.end();
    return undefined;
  }
}

/** What a body's web stream may hold unread before the response is paused (Node's default for streams). */
const BODY_HIGH_WATER_MARK = 16 * 1024;

/**
 * The response body as the web stream a Response carries. Readable.toWeb does the same with more
 * machinery per response (end-of-stream tracking, a queuing strategy object, a copy of every
 * chunk); on the keystroke path that showed in profiles. Same outcomes: the chunks in order, the
 * response's own error (a reset, an abort: 'aborted' ECONNRESET) errors the stream, a close before
 * the end errors it with an AbortError as toWeb does, and cancelling the stream destroys the
 * response (and with it the socket, which the backend sees close).
 */
function webBody(res: http.IncomingMessage): ReadableStream<Uint8Array> {
  let settled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        res.pause();
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 1) <= 0) res.pause();
        });
        res.once('end', () => {
          if (settled) return;
          settled = true;
          controller.close();
        });
        res.on('error', (err) => {
          if (settled) return;
          settled = true;
          controller.error(err);
        });
        res.once('close', () => {
          if (settled) return;
          settled = true;
          const premature = Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
          controller.error(Object.assign(new Error('The operation was aborted', { cause: premature }), { name: 'AbortError', code: 'ABORT_ERR' }));
        });
      },
      pull() {
        res.resume();
      },
      cancel(reason) {
        settled = true;
        res.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: BODY_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
  );
}

/**
 * The response body as an async iterator over the chunks, for a {@link StreamResponse}: the same
 * outcomes as {@link webBody} without building a web stream (which showed in profiles of the
 * keystroke path). The bytes in order, each read taking all that has arrived as one chunk; the response's own error (a reset, an abort) is thrown
 * and drops what was still queued, as a web stream's error does; a close before the end throws
 * the AbortError webBody gives; leaving early (`return`, which a `for await` loop calls when it
 * leaves before the end) destroys the response and with it the socket.
 */
class BodyIterator implements AsyncIterableIterator<Uint8Array> {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failed = false;
  private error: unknown;
  private waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (err: unknown) => void } | undefined;
  /** A waiter's wake-up is queued as a microtask: the other chunks of the same socket read join its piece. */
  private waking = false;

  constructor(private readonly res: http.IncomingMessage) {
    res.on('data', (chunk: Buffer) => {
      if (this.ended || this.failed) return;
      this.queue.push(chunk);
      this.queued += chunk.byteLength;
      if (this.waiter) this.wake();
      else if (this.queued >= BODY_HIGH_WATER_MARK) res.pause();
    });
    res.once('end', () => {
      if (this.ended || this.failed) return;
      this.ended = true;
      if (this.waiter) this.wake();
    });
    res.on('error', (err) => this.fail(err));
    res.once('close', () => {
      if (this.ended || this.failed) return;
      const premature = Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      this.fail(Object.assign(new Error('The operation was aborted', { cause: premature }), { name: 'AbortError', code: 'ABORT_ERR' }));
    });
  }

  /**
   * Hands the waiter what has arrived once the current socket read is done: node:http emits one
   * chunk per chunked-encoding frame, and a server streaming tokens writes a frame per event, so
   * a read of many events would otherwise cost a promise round trip (and a parser call) each.
   */
  private wake(): void {
    if (this.waking) return;
    this.waking = true;
    queueMicrotask(() => {
      this.waking = false;
      const w = this.waiter;
      if (!w || this.failed) return; // failed: fail() has rejected it
      if (this.queue.length > 0) {
        this.waiter = undefined;
        w.resolve({ value: this.take(), done: false });
      } else if (this.ended) {
        this.waiter = undefined;
        w.resolve({ value: undefined, done: true });
      }
    });
  }

  /** Everything queued, as one chunk. */
  private take(): Buffer {
    const out = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queued);
    this.queue.length = 0;
    this.queued = 0;
    if (this.res.isPaused()) this.res.resume();
    return out;
  }

  private fail(err: unknown): void {
    if (this.ended || this.failed) return;
    this.failed = true;
    this.error = err;
    this.queue.length = 0;
    this.queued = 0;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.take(), done: false });
    if (this.failed) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    if (!this.ended && !this.failed) {
      this.ended = true;
      this.queue.length = 0;
      this.res.destroy();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** The response's headers as a Headers reads them (get, has, entries), straight from node:http's record. */
class NodeHeaders {
  constructor(private readonly raw: http.IncomingHttpHeaders) {}

  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  *entries(): IterableIterator<[string, string]> {
    for (const k in this.raw) {
      const v = this.get(k);
      if (v !== null) yield [k, v];
    }
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  forEach(fn: (value: string, key: string) => void): void {
    for (const [k, v] of this.entries()) fn(v, k);
  }
}

/**
 * A successful event stream as openaiCompat.ts reads it (status, ok, headers.get, an
 * async-iterable body), without a Response, its Headers and a web stream per request. text() and
 * json() read what is left of the body. Errors never take this shape: they stay real Responses.
 */
export class StreamResponse {
  readonly ok = true;
  readonly url = '';
  readonly redirected = false;
  readonly type = 'default';
  readonly statusText: string;
  readonly headers: NodeHeaders;
  readonly body: BodyIterator;
  private used = false;

  constructor(res: http.IncomingMessage, readonly status: number) {
    this.statusText = res.statusMessage ?? '';
    this.headers = new NodeHeaders(res.headers);
    this.body = new BodyIterator(res);
  }

  get bodyUsed(): boolean {
    return this.used;
  }

  async text(): Promise<string> {
    if (this.used) throw new TypeError('Body is unusable: Body has already been read');
    this.used = true;
    const chunks: Buffer[] = [];
    for await (const chunk of this.body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

/**
 * What node:http's own `signal` option does (the request destroyed with an AbortError whose cause
 * is the reason, in any phase), without the end-of-stream tracking that option sets up for every
 * request; the listener goes when the request closes (its response ended, or it was destroyed).
 */
function abortOn(signal: AbortSignal, req: http.ClientRequest): void {
  const onAbort = () => {
    req.destroy(Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' }));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  req.once('close', () => signal.removeEventListener('abort', onAbort));
}

export function nodeFetch(opts: HttpOptions = {}): Fetch {
  const ca = opts.ca ? [...tls.rootCertificates, opts.ca] : undefined;
  // One keep-alive pool per backend: the socket to the GPU server stays open between keystrokes.
  const agentOptions = { keepAlive: true, scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent({ ...agentOptions, ...(ca ? { ca } : {}) });
  const tunnels = new Map<string, TunnelAgent>();
  const forwarders = new Map<string, http.Agent>();

  const targets = new Map<string, Target>();
  const targetFor = (href: string): Target => {
    let target = targets.get(href);
    if (target) return target;
    const url = new URL(href);
    // A proxy setting that is not a URL throws here, every time: nothing is kept for it.
    const proxy = proxyFor(url, opts);
    target = { url, isHttps: url.protocol === 'https:', proxy, options: urlToHttpOptions(url), host: proxy || url.username || url.password ? undefined : url.host };
    if (targets.size >= TARGETS_MAX) targets.clear();
    targets.set(href, target);
    return target;
  };

  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
      let target: Target;
      try {
        target = targetFor(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      } catch (err) {
        return reject(err);
      }
      const { url, isHttps, proxy } = target;
      const { list, special } = headerList(init.headers);
      const method = init.method ?? 'GET';
      const body = init.body;
      if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) return reject(new TypeError('nodeFetch: only string and byte bodies are supported'));
      let req: http.ClientRequest;
      const onResponse = (res: http.IncomingMessage) => {
        const status = res.statusCode ?? 502;
        if (opts.lightStreams && status >= 200 && status < 300 && status !== 204 && method !== 'HEAD' && (res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          resolve(new StreamResponse(res, status) as unknown as Response);
          return;
        }
        // Pairs, not a Headers filled one by one: the Response builds its own Headers from them anyway.
        const out: [string, string][] = [];
        for (const k in res.headers) {
          const v = res.headers[k];
          if (v !== undefined) out.push([k, Array.isArray(v) ? v.join(', ') : v]);
        }
        // A Response may not carry a body with these statuses.
        const body = status === 204 || status === 304 || method === 'HEAD' ? null : webBody(res);
        if (!body) res.resume();
        resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: out }));
      };
      if (proxy && isHttps) {
        const key = proxy.href;
        let agent = tunnels.get(key);
        if (!agent) {
          agent = new TunnelAgent(proxy, ca, { ...agentOptions, ...(ca ? { ca } : {}) });
          tunnels.set(key, agent);
        }
        req = https.request(url, { method, headers: headerRecord(list), agent }, onResponse);
      } else if (proxy) {
        // Plain http through a proxy: the request line carries the absolute URI.
        const key = proxy.href;
        let agent = forwarders.get(key);
        if (!agent) {
          agent = proxy.protocol === 'https:' ? new https.Agent({ ...agentOptions, ...(ca ? { ca } : {}) }) : new http.Agent(agentOptions);
          forwarders.set(key, agent);
        }
        req = (proxy.protocol === 'https:' ? https : http).request(
          {
            host: proxy.hostname.replace(/^\[|\]$/g, ''),
            port: proxy.port || defaultPort(proxy.protocol),
            method,
            path: url.href,
            headers: { ...headerRecord(list), host: url.host, ...proxyAuthorization(proxy) },
            agent,
          },
          onResponse,
        );
      } else {
        const agent = isHttps ? httpsAgent : httpAgent;
        const hasBody = body !== undefined && body !== null;
        const sendsLength = !NO_LENGTH_METHODS.has(method.toUpperCase());
        if (target.host !== undefined && !special && (sendsLength || !hasBody)) {
          // The head as one flat list, which node:http writes as it is instead of setting the
          // headers one by one: Host, Connection and Content-Length come last, spelled and ordered
          // as node:http adds them itself (a keep-alive agent; POST and the like always say their
          // length, GET and the like without a body none). The wire bytes are the same (test).
          list.push('Host', target.host, 'Connection', 'keep-alive');
          if (sendsLength) list.push('Content-Length', String(!hasBody ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
          req = (isHttps ? https : http).request({ ...target.options, method, headers: list as unknown as http.OutgoingHttpHeaders, agent }, onResponse);
        } else {
          req = (isHttps ? https : http).request(url, { method, headers: headerRecord(list), agent }, onResponse);
        }
      }
      if (signal) abortOn(signal, req);
      req.on('error', reject);
      if (body === undefined || body === null) req.end();
      else req.end(body);
    });
}
