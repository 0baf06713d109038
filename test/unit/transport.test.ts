// Trust and proxies on the wire: caFile against a real TLS fake (certificate made by openssl now),
// CONNECT tunnels and absolute-URI forwarding through a loopback proxy, NO_PROXY rules.
import { writeFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../server/src/config/schema.js';
import { bypassesProxy, nodeFetch, proxyFor } from '../../server/src/models/http.js';
import { TgiBackend } from '../../server/src/models/tgi.js';
import { backendTransport } from '../../server/src/models/transport.js';
import type { FimRequest } from '../../server/src/models/types.js';
import { CancelledError } from '../../server/src/util/abort.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { startFakeTgi, type FakeTgi } from '../fake/tgi.js';
import { never, selfSignedCert, startProxy, type Cert, type Proxy } from './backendKit.js';

const REQ: FimRequest = { prompt: 'def f():\n    ', stop: ['\n\n'], maxTokens: 16, temperature: 0.1 };

describe('NO_PROXY', () => {
  const rows: [string, string, boolean][] = [
    ['https://api.example.com/v1', 'example.com', true],
    ['https://api.example.com/v1', '.example.com', true],
    ['https://api.example.com/v1', '*.example.com', true],
    ['https://example.com/v1', '.example.com', true],
    ['https://notexample.com/v1', 'example.com', false],
    ['https://api.example.com/v1', 'example.com:443', true],
    ['https://api.example.com:8443/v1', 'example.com:443', false],
    ['http://gpu-1:8000', 'gpu-1:8000', true],
    ['http://gpu-1:8000', 'gpu-1', true],
    ['http://10.1.2.3:8000', '10.0.0.0/8', true],
    ['http://11.1.2.3:8000', '10.0.0.0/8', false],
    ['http://10.1.2.3:8000', '10.1.2.3', true],
    ['http://[::1]:8000', '::1', true],
    ['http://[::1]:8000', '[::1]:8000', true],
    ['http://[fd00::5]:8000', 'fd00::/8', true],
    ['https://anything.test', '*', true],
    ['https://api.example.com', ' foo.com ,  bar.com example.com', true],
    ['https://api.example.com', '', false],
    ['http://127.0.0.1:1234', 'localhost', false],
  ];
  it.each(rows)('%s with NO_PROXY=%j → bypass %s', (url, noProxy, expected) => {
    expect(bypassesProxy(new URL(url), noProxy)).toBe(expected);
  });

  it('proxyFor: the configured proxy wins, lower-case variables win, NO_PROXY applies to both', () => {
    const env = { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2', HTTP_PROXY: 'http://plain:3', NO_PROXY: 'internal.corp' };
    expect(proxyFor(new URL('https://api.openai.com/v1'), { env })?.href).toBe('http://lower:2/');
    expect(proxyFor(new URL('http://gpu:8000'), { env })?.href).toBe('http://plain:3/');
    expect(proxyFor(new URL('https://api.openai.com/v1'), { env, proxy: 'http://cfg:4' })?.href).toBe('http://cfg:4/');
    expect(proxyFor(new URL('https://llm.internal.corp/v1'), { env, proxy: 'http://cfg:4' })).toBeUndefined();
    expect(proxyFor(new URL('https://api.openai.com/v1'), { env: {} })).toBeUndefined();
    // A bare host:port is taken as an http proxy, as curl does.
    expect(proxyFor(new URL('https://x.test'), { env: { HTTPS_PROXY: 'squid:3128' } })?.href).toBe('http://squid:3128/');
  });
});

let cert: Cert;
beforeAll(() => {
  cert = selfSignedCert();
});
afterAll(() => cert.cleanup());

describe('caFile', () => {
  let fake: FakeTgi;
  beforeEach(async () => {
    fake = await startFakeTgi({ tls: { key: cert.key, cert: cert.cert }, respond: () => ({ text: 'secure' }) });
  });
  afterEach(async () => {
    await fake.close();
  });

  const backend = (over: Partial<Backend> = {}, env: NodeJS.ProcessEnv = {}) => new TgiBackend({ name: 'tls', kind: 'tgi', url: fake.url, location: 'onprem', ...over }, { logger: silentLogger(), env });

  it('with the CA in caFile the TLS server is trusted', async () => {
    expect(fake.url.startsWith('https://127.0.0.1:')).toBe(true);
    expect(await backend({ caFile: cert.certPath }).complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'secure' } });
  });

  it('without it the certificate is refused, and the failure says why', async () => {
    const r = await backend().complete(REQ, never());
    expect(r).toMatchObject({ ok: false, failure: { kind: 'unreachable' } });
    expect(!r.ok && r.failure.message).toMatch(/^could not reach https:\/\/127\.0\.0\.1:\d+ \(self[- ]signed certificate.*\)$/);
    expect(fake.requests).toHaveLength(0);
  });

  it('a missing caFile names backends.NAME.caFile and the path, and nothing is sent', async () => {
    const path = join(cert.dir, 'nope.pem');
    const failure = { kind: 'unreachable', message: `backends.tls.caFile: cannot read ${path} (no such file), so ${fake.url} is not contacted` };
    const b = backend({ caFile: path });
    expect(await b.info(never())).toEqual({ ok: false, failure });
    expect(await b.complete(REQ, never())).toEqual({ ok: false, failure });
    expect(await b.probe(never())).toEqual({ ok: false, failure });
    expect(await b.chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 4, temperature: 0 }, never())).toEqual({ ok: false, failure });
    expect(fake.requests).toHaveLength(0);
  });

  it('a caFile that holds no certificate is refused the same way', () => {
    const path = join(cert.dir, 'not-a-cert.pem');
    writeFileSync(path, 'hello');
    expect(backendTransport({ name: 'tls', url: 'https://x', caFile: path }, {})).toEqual({
      ok: false,
      failure: { kind: 'unreachable', message: `backends.tls.caFile: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----), so https://x is not contacted` },
    });
  });
});

describe('proxy', () => {
  let fake: FakeTgi;
  let tlsFake: FakeTgi;
  let proxy: Proxy;
  beforeEach(async () => {
    fake = await startFakeTgi({ respond: () => ({ text: 'via proxy' }) });
    tlsFake = await startFakeTgi({ tls: { key: cert.key, cert: cert.cert }, respond: () => ({ text: 'tunnelled' }) });
    proxy = await startProxy();
  });
  afterEach(async () => {
    await Promise.all([fake.close(), tlsFake.close(), proxy.close()]);
  });

  const backend = (url: string, over: Partial<Backend> = {}, env: NodeJS.ProcessEnv = {}) => new TgiBackend({ name: 'p', kind: 'tgi', url, location: 'onprem', ...over }, { logger: silentLogger(), env });

  it('https targets go through a CONNECT tunnel (HTTPS_PROXY), TLS end to end', async () => {
    const b = backend(tlsFake.url, { caFile: cert.certPath }, { HTTPS_PROXY: proxy.url });
    expect(await b.complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'tunnelled' } });
    expect(await b.complete(REQ, never())).toMatchObject({ ok: true });
    // Keep-alive: /info and two completions share one tunnel.
    expect(proxy.connects).toEqual([`127.0.0.1:${tlsFake.port}`]);
    expect(tlsFake.requests.map((r) => r.path)).toEqual(['/info', '/generate_stream', '/generate_stream']);
  });

  it('http targets are forwarded with absolute URIs (HTTP_PROXY)', async () => {
    const b = backend(fake.url, {}, { HTTP_PROXY: proxy.url });
    expect(await b.complete(REQ, never())).toMatchObject({ ok: true, value: { text: 'via proxy' } });
    expect(proxy.forwards).toEqual([`${fake.url}/info`, `${fake.url}/generate_stream`]);
    expect(proxy.connects).toEqual([]);
  });

  it("the backend's own proxy setting, with credentials sent as Proxy-Authorization", async () => {
    const withAuth = proxy.url.replace('http://', 'http://me:s%40cret@');
    const b = backend(tlsFake.url, { caFile: cert.certPath, proxy: withAuth });
    expect(await b.complete(REQ, never())).toMatchObject({ ok: true });
    expect(proxy.auths[0]).toBe(`Basic ${Buffer.from('me:s@cret').toString('base64')}`);
  });

  it('NO_PROXY sends matching hosts direct', async () => {
    const b = backend(fake.url, {}, { HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' });
    expect(await b.complete(REQ, never())).toMatchObject({ ok: true });
    expect(proxy.forwards).toEqual([]);
    expect(fake.requests).toHaveLength(2);
  });

  it('a cancelled request through the tunnel closes the connection at the server', async () => {
    tlsFake.set({ respond: () => ({ hang: true }) });
    const b = backend(tlsFake.url, { caFile: cert.certPath }, { HTTPS_PROXY: proxy.url });
    const ctrl = new AbortController();
    const pending = b.complete(REQ, ctrl.signal);
    await tlsFake.waitFor((r) => r.path === '/generate_stream');
    ctrl.abort(new CancelledError());
    expect(await pending).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    await tlsFake.waitFor((r) => r.path === '/generate_stream' && r.closedAt !== null);
  });

  it('a proxy that refuses the tunnel → unreachable, naming the proxy but not its password', async () => {
    proxy.refuse = 403;
    const withAuth = proxy.url.replace('http://', 'http://me:hunter22@');
    const r = await backend(tlsFake.url, { caFile: cert.certPath, proxy: withAuth }).complete(REQ, never());
    expect(r).toEqual({ ok: false, failure: { kind: 'unreachable', message: `could not reach ${tlsFake.url} (proxy ${proxy.url} refused CONNECT to 127.0.0.1:${tlsFake.port} (403 Refused))` } });
    expect(JSON.stringify(r)).not.toContain('hunter22');
  });

  it('nodeFetch alone: a plain https request through the tunnel', async () => {
    const f = nodeFetch({ ca: cert.cert, env: { https_proxy: proxy.url } });
    const res = await f(`${tlsFake.url}/info`);
    expect(res.status).toBe(200);
    expect((await res.json()).model_id).toBe('Qwen/Qwen2.5-Coder-7B');
  });
});

describe('lightStreams (the fetch handed to the openai package)', () => {
  let server: Server;
  let base: string;
  let closed: Promise<void>;
  let onClose: () => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      res.on('close', () => onClose());
      if (req.url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'r1', 'set-cookie': ['a=1', 'b=2'] });
        res.write('data: 1\n\n');
        setTimeout(() => res.end('data: [DONE]\n\n'), 10);
      } else if (req.url === '/burst') {
        // A frame per event, all written at once: as vLLM streams a finished answer.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < 100; i++) res.write(`data: ${i}\n\n`);
        res.end('data: [DONE]\n\n');
      } else if (req.url === '/slow') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n'); // and nothing more until the client leaves
      } else if (req.url === '/json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"a":1}');
      } else {
        res.writeHead(500, { 'content-type': 'text/event-stream' });
        res.end('data: {"error":{"message":"boom"}}\n\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    closed = new Promise<void>((resolve) => (onClose = resolve));
  });

  const f = nodeFetch({ lightStreams: true });

  it('a successful event stream: status, headers and the body as the SDK reads them', async () => {
    const res = await f(`${base}/sse`, { method: 'POST', body: '{}' });
    expect(res).not.toBeInstanceOf(Response);
    expect([res.ok, res.status, res.headers.get('Content-Type'), res.headers.get('x-request-id'), res.headers.get('set-cookie')]).toEqual([true, 200, 'text/event-stream', 'r1', 'a=1, b=2']);
    expect([...res.headers.entries()]).toContainEqual(['x-request-id', 'r1']);
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += Buffer.from(chunk).toString();
    expect(text).toBe('data: 1\n\ndata: [DONE]\n\n');
  });

  it('a burst of frames is read in a few pieces, whole and in order', async () => {
    const res = await f(`${base}/burst`);
    const pieces: string[] = [];
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) pieces.push(Buffer.from(chunk).toString());
    expect(pieces.join('')).toBe(Array.from({ length: 100 }, (_, i) => `data: ${i}\n\n`).join('') + 'data: [DONE]\n\n');
    // node:http hands over a chunk per chunked-encoding frame (101 here); each read takes all that arrived.
    expect(pieces.length).toBeLessThan(101);
  });

  it('text() reads the whole stream, as a Response would', async () => {
    expect(await (await f(`${base}/sse`)).text()).toBe('data: 1\n\ndata: [DONE]\n\n');
  });

  it('leaving the body early closes the connection at the server', async () => {
    const res = await f(`${base}/slow`);
    const it = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    expect(Buffer.from((await it.next()).value as Uint8Array).toString()).toBe('data: 1\n\n');
    await it.return!();
    await closed;
  });

  it('aborting the signal in the middle of the stream fails the body and closes the connection', async () => {
    const ctrl = new AbortController();
    const res = await f(`${base}/slow`, { signal: ctrl.signal });
    const it = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    await it.next();
    const next = it.next();
    ctrl.abort(new CancelledError());
    await expect(next).rejects.toMatchObject({ code: 'ECONNRESET' });
    await closed;
  });

  it('JSON answers and errors stay real Responses', async () => {
    const json = await f(`${base}/json`);
    expect(json).toBeInstanceOf(Response);
    expect(await json.json()).toEqual({ a: 1 });
    const err = await f(`${base}/error`);
    expect(err).toBeInstanceOf(Response);
    expect([err.ok, err.status]).toEqual([false, 500]);
  });

  it('without the option an event stream is a real Response', async () => {
    const res = await nodeFetch()(`${base}/sse`);
    expect(res).toBeInstanceOf(Response);
    expect(await res.text()).toBe('data: 1\n\ndata: [DONE]\n\n');
  });
});

describe('the request head on the wire', () => {
  // A raw socket server records every request's bytes, head and body: nodeFetch's head (a flat
  // list on the common path) must be byte for byte what node:http writes from headers set one by
  // one, as nodeFetch sent them before.
  let server: ReturnType<typeof createNetServer>;
  let base: string;
  const seen: Buffer[] = [];
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    server = createNetServer((socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      let buf = Buffer.alloc(0);
      socket.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.subarray(0, end).toString('latin1');
          const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + len) return;
          seen.push(Buffer.from(buf.subarray(0, end + 4 + len)));
          buf = buf.subarray(end + 4 + len);
          socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    // nodeFetch's keep-alive sockets would hold the server open.
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** The bytes node:http writes with the headers set one by one (nodeFetch's way before the flat list). */
  async function reference(url: string, method: string, headers: Headers, body?: string | Uint8Array): Promise<Buffer> {
    const record: Record<string, string> = {};
    headers.forEach((v, k) => (record[k] = v));
    const agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
    const n = seen.length;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(new URL(url), { method, headers: record, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      if (body === undefined) req.end();
      else req.end(body);
    });
    agent.destroy();
    return seen[n]!;
  }

  async function ours(url: string, method: string, headers: Headers, body?: string | Uint8Array): Promise<Buffer> {
    const n = seen.length;
    const res = await nodeFetch({ lightStreams: true })(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    await res.text();
    return seen[n]!;
  }

  // What the openai package hands over: a Headers, its names lower-cased and sorted on iteration.
  const sdk = () =>
    new Headers({
      Accept: 'application/json',
      'Content-Type': 'application/json',
      'User-Agent': 'OpenAI/JS 6.49.0',
      'X-Stainless-Retry-Count': '0',
      'X-Stainless-Timeout': '30',
      'X-Stainless-Lang': 'js',
      'X-Stainless-Package-Version': '6.49.0',
      'X-Stainless-OS': 'Linux',
      'X-Stainless-Arch': 'x64',
      'X-Stainless-Runtime': 'node',
      'X-Stainless-Runtime-Version': 'v20.20.2',
      Authorization: 'Bearer sk-test',
      'x-tandem-user': 'dev',
    });

  const cases: [string, string, string, (Headers | (() => Headers)), (string | Uint8Array)?][] = [
    ['POST with a JSON body', '/v1/completions', 'POST', sdk, JSON.stringify({ model: 'm', prompt: 'def f():\n    ', stream: true })],
    ['POST with text beyond ASCII (length in bytes)', '/v1/completions', 'POST', sdk, JSON.stringify({ prompt: 'é → 😀 ü' })],
    ['POST with a byte body', '/v1/x', 'POST', sdk, new Uint8Array([1, 2, 3, 250])],
    ['POST without a body', '/v1/x', 'POST', sdk],
    ['GET without a body (a probe)', '/health', 'GET', () => new Headers({ 'x-tandem-user': 'dev', 'x-extra': 'a b' })],
    ['GET with a query string', '/v1/models?api-version=2024-10-21', 'GET', sdk],
    ['DELETE without a body', '/v1/x', 'DELETE', sdk],
    ['a configured header node:http writes itself (the object path)', '/v1/x', 'POST', () => new Headers({ connection: 'close', 'x-a': '1' }), '{}'],
  ];

  for (const [name, path, method, headers, body] of cases) {
    it(name, async () => {
      const h = () => (typeof headers === 'function' ? headers() : headers);
      const want = await reference(`${base}${path}`, method, h(), body);
      const got = await ours(`${base}${path}`, method, h(), body);
      expect(got.toString('latin1')).toBe(want.toString('latin1'));
    });
  }

  it('credentials in the URL go as node:http sends them (Basic), through the object path', async () => {
    const url = base.replace('http://', 'http://u%20s:p%40ss@') + '/v1/x';
    const h = () => new Headers({ 'content-type': 'application/json', 'x-tandem-user': 'dev' });
    const want = await reference(url, 'POST', h(), '{}');
    const got = await ours(url, 'POST', h(), '{}');
    expect(got.toString('latin1')).toBe(want.toString('latin1'));
    expect(got.toString('latin1')).toMatch(/\r\nAuthorization: Basic /);
  });

  it('the same URL again (its options kept) sends the same head', async () => {
    const f = nodeFetch();
    const n = seen.length;
    for (let i = 0; i < 2; i++) await (await f(`${base}/v1/completions`, { method: 'POST', headers: sdk(), body: '{"a":1}' })).text();
    expect(seen[n + 1]!.toString('latin1')).toBe(seen[n]!.toString('latin1'));
    expect(seen[n]!.toString('latin1')).toMatch(/\r\nHost: 127\.0\.0\.1:\d+\r\nConnection: keep-alive\r\nContent-Length: 7\r\n\r\n\{"a":1\}$/);
  });
});
