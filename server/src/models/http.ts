// A fetch over node:http(s) with keep-alive agents: less per-request work than the built-in fetch
// on the keystroke path, and the place where TLS trust (caFile) and proxies are applied.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  /** PEM text of extra certificate authorities, trusted in addition to the built-in ones. */
  ca?: string;
  /** Proxy for every request (a backend's `proxy`); without it the environment's proxy variables apply. */
  proxy?: string;
  /** Where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read (either case); default: none. */
  env?: NodeJS.ProcessEnv;
}

/** A proxy failed to open a tunnel; the message names the proxy without its credentials. */
export class ProxyError extends Error {
  readonly code = 'EPROXY';
  constructor(message: string) {
    super(message);
    this.name = 'ProxyError';
  }
}

function headerRecord(init: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  // The SDK hands over a Headers already: copying it into a new one first would only cost time.
  (init instanceof Headers ? init : new Headers(init)).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

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

export function nodeFetch(opts: HttpOptions = {}): Fetch {
  const ca = opts.ca ? [...tls.rootCertificates, opts.ca] : undefined;
  // One keep-alive pool per backend: the socket to the GPU server stays open between keystrokes.
  const agentOptions = { keepAlive: true, scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent({ ...agentOptions, ...(ca ? { ca } : {}) });
  const tunnels = new Map<string, TunnelAgent>();
  const forwarders = new Map<string, http.Agent>();

  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : new URL(input.url);
      const isHttps = url.protocol === 'https:';
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
      let proxy: URL | undefined;
      try {
        proxy = proxyFor(url, opts);
      } catch (err) {
        return reject(err);
      }
      const headers = headerRecord(init.headers);
      const method = init.method ?? 'GET';
      let req: http.ClientRequest;
      const onResponse = (res: http.IncomingMessage) => {
        // Pairs, not a Headers filled one by one: the Response builds its own Headers from them anyway.
        const out: [string, string][] = [];
        for (const k in res.headers) {
          const v = res.headers[k];
          if (v !== undefined) out.push([k, Array.isArray(v) ? v.join(', ') : v]);
        }
        const status = res.statusCode ?? 502;
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
        req = https.request(url, { method, headers, agent, signal }, onResponse);
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
            headers: { ...headers, host: url.host, ...proxyAuthorization(proxy) },
            agent,
            signal,
          },
          onResponse,
        );
      } else {
        req = (isHttps ? https : http).request(url, { method, headers, agent: isHttps ? httpsAgent : httpAgent, signal }, onResponse);
      }
      req.on('error', reject);
      const body = init.body;
      if (body === undefined || body === null) req.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
      else reject(new TypeError('nodeFetch: only string and byte bodies are supported'));
    });
}
