// Helpers the backend tests share: signals, ports, a self-signed certificate made with openssl at
// test time, a TLS terminator in front of any fake, a recording CONNECT proxy, captured logs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { LogHub, type Logger } from '../../server/src/util/logger.js';

/** A signal that never aborts. */
export const never = (): AbortSignal => new AbortController().signal;

/** A port nothing listens on: bind one, then let it go. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface Cert {
  dir: string;
  key: string;
  cert: string;
  certPath: string;
  cleanup(): void;
}

/** A throw-away self-signed certificate for 127.0.0.1, localhost and `names`, made by openssl. */
export function selfSignedCert(names: string[] = []): Cert {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=tandem test', '-addext', `subjectAltName=IP:127.0.0.1,DNS:localhost${names.map((n) => `,DNS:${n}`).join('')}`], { stdio: 'ignore' });
  return { dir, key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Terminator {
  url: string;
  close(): Promise<void>;
}

/** HTTPS on loopback in front of a plain-HTTP fake: TLS ends here, bytes go on unchanged. */
export async function startTlsTerminator(targetPort: number, cert: Cert): Promise<Terminator> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: cert.key, cert: cert.cert }, (client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Proxy {
  url: string;
  /** `host:port` of every CONNECT, in order. */
  connects: string[];
  /** Absolute URIs of every plain-HTTP request forwarded. */
  forwards: string[];
  /** Proxy-Authorization headers seen. */
  auths: (string | undefined)[];
  /** Answer CONNECT with this status instead of tunnelling (e.g. 403). */
  refuse?: number;
  /** Where a CONNECT to `host:port` really goes (a public name onto a loopback fake); default: there. */
  route?: (authority: string) => string;
  close(): Promise<void>;
}

/** A loopback forward proxy: CONNECT tunnels for https targets, absolute-URI forwarding for http. */
export async function startProxy(): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const state: Proxy = { url: '', connects: [], forwards: [], auths: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    state.forwards.push(req.url ?? '');
    state.auths.push(req.headers['proxy-authorization']);
    const target = new URL(req.url ?? '/');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: target.pathname + target.search, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  });
  server.on('connect', (req, client, head) => {
    state.connects.push(req.url ?? '');
    state.auths.push(req.headers['proxy-authorization']);
    if (state.refuse) {
      client.end(`HTTP/1.1 ${state.refuse} Refused\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const [host, port] = (state.route ? state.route(req.url ?? '') : (req.url ?? '')).split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(client as net.Socket).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/** A logger whose every line (all levels) is kept, to check what was logged. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const hub = new LogHub('trace');
  const lines: string[] = [];
  hub.addSink({ write: (_level, line) => lines.push(line) });
  return { logger: hub.logger('test'), lines };
}

export interface Rewriter {
  url: string;
  /** What arrived, before rewriting. */
  seen: { method: string; path: string; query: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/**
 * A loopback gateway that records each request and forwards it to `target` under another path
 * (an Azure-style `/openai/deployments/D/chat/completions` onto the fake vLLM's `/v1/...`).
 * Closing the client's connection closes the forwarded one, so the fake still sees cancellations.
 */
export async function startRewriter(target: string, rewrite: (path: string) => string): Promise<Rewriter> {
  const seen: Rewriter['seen'] = [];
  const server = http.createServer((req, res) => {
    const [path, query = ''] = (req.url ?? '/').split('?');
    seen.push({ method: req.method ?? 'GET', path: path!, query, headers: req.headers });
    const to = new URL(rewrite(path!), target);
    const up = http.request(to, { method: req.method, headers: { ...req.headers, host: to.host } }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
