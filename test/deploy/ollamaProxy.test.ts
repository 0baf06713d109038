// deploy/ollama/nginx.conf in real nginx in front of the loopback fake Ollama: tokens, the
// endpoints tandem uses and nothing else, streaming, the token kept from Ollama, and tandem-lsp
// through it with its key from apiKeyEnv and the proxy's CA as caFile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeOllama, DEFAULT_MODEL, type FakeOllama } from '../fake/ollama.js';
import { BIN } from '../lsp-client.js';
import { STUCK_MS, until } from '../wait.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CONF = join(REPO, 'deploy/ollama/nginx.conf');

function findNginx(): string | null {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']) {
    try {
      accessSync(join(d, 'nginx'), constants.X_OK);
      return join(d, 'nginx');
    } catch {
      /* next */
    }
  }
  return null;
}
const NGINX = findNginx();
if (!NGINX) console.warn('test/deploy/ollamaProxy.test.ts: SKIPPED: no nginx binary found (Debian: apt-get install -y nginx)');

const TOKEN = randomBytes(32).toString('hex');
let dir: string;
let port: number;
let ca: string;
let caPath: string;
let fake: FakeOllama;
let nginx: ChildProcess | null = null;
let output = '';

/** The committed file with only what a test run must change, each edit matching exactly as often as stated. */
function forTest(conf: string, p: { dir: string; port: number; cert: string; key: string; tokens: string; upstream: string }): string {
  const edits: [string, string, number][] = [
    ['listen 443 ssl;', `listen 127.0.0.1:${p.port} ssl;`, 1],
    ['/etc/nginx/tls/ollama.crt', p.cert, 1],
    ['/etc/nginx/tls/ollama.key', p.key, 1],
    ['/etc/nginx/tandem/tokens.map', p.tokens, 1],
    ['pid /run/nginx.pid;', `pid ${join(p.dir, 'nginx.pid')};`, 1],
    ['/var/log/nginx/tandem-ollama-error.log', join(p.dir, 'error.log'), 1],
    ['/var/log/nginx/tandem-ollama-audit.json', join(p.dir, 'audit.json'), 1],
    ['server ollama:11434;', `server ${p.upstream};`, 1],
    ['http {\n', 'http {\n' + ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${join(p.dir, `${t}_temp`)};\n`).join(''), 1],
  ];
  let out = conf;
  for (const [from, to, times] of edits) {
    const found = out.split(from).length - 1;
    if (found !== times) throw new Error(`deploy/ollama/nginx.conf: expected ${times} x ${JSON.stringify(from)}, found ${found}: update forTest`);
    out = out.split(from).join(to);
  }
  return out;
}

function call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({ host: '127.0.0.1', port, method, path, ca, agent: false, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(data ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'home'), XDG_STATE_HOME: join(dir, 'state'), TANDEM_CONFIG: '', TANDEM_LOG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!NGINX)('deploy/ollama/nginx.conf in real nginx', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-ollama-proxy-'));
    chmodSync(dir, 0o755);
    const cert = join(dir, 'ollama.crt');
    const key = join(dir, 'ollama.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    ca = readFileSync(cert, 'utf8');
    caPath = cert;
    const tokens = join(dir, 'tokens.map');
    writeFileSync(tokens, `"Bearer ${TOKEN}" alice;\n`);
    fake = await startFakeOllama({ respond: () => ({ text: 'return n' }) });
    port = await freePort();
    const confPath = join(dir, 'nginx.conf');
    writeFileSync(confPath, forTest(readFileSync(CONF, 'utf8'), { dir, port, cert, key, tokens, upstream: `127.0.0.1:${fake.port}` }));
    nginx = spawn(NGINX!, ['-p', `${dir}/`, '-c', confPath, '-e', 'stderr', '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stdout!.on('data', (d) => (output += d));
    nginx.stderr!.on('data', (d) => (output += d));
    await until(
      () =>
        new Promise<boolean>((resolve) => {
          if (nginx!.exitCode !== null) throw new Error(`nginx exited (${nginx!.exitCode}):\n${output}`);
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      `nginx listening on 127.0.0.1:${port}`,
      STUCK_MS,
    );
  });

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
    }
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('without a known token: 401 in Ollama\'s error shape, and Ollama sees nothing', async () => {
    const before = fake.requests.length;
    for (const token of [undefined, randomBytes(32).toString('hex')]) {
      const a = await call('GET', '/api/tags', token);
      expect(a.status).toBe(401);
      expect(JSON.parse(a.body).error).toMatch(/bearer token .*apiKeyEnv/);
    }
    expect(fake.requests.length).toBe(before);
  });

  it('with a token: the endpoints tandem uses, without the token; model management refused', async () => {
    const tags = await call('GET', '/api/tags', TOKEN);
    expect(tags.status).toBe(200);
    expect(JSON.parse(tags.body).models[0].name).toBe(DEFAULT_MODEL);
    const seen = fake.requests.at(-1)!;
    expect(seen.path).toBe('/api/tags');
    expect(seen.headers.authorization).toBeUndefined();
    const gen = await call('POST', '/api/generate', TOKEN, { model: DEFAULT_MODEL, prompt: 'def f():', stream: true });
    expect(gen.status).toBe(200);
    expect(gen.body.trim().split('\n').map((l) => JSON.parse(l)).at(-1).done).toBe(true);
    const before = fake.requests.length;
    for (const [method, path] of [['POST', '/api/pull'], ['DELETE', '/api/delete'], ['POST', '/api/create'], ['GET', '/']] as const) {
      const r = await call(method, path, TOKEN, method === 'GET' ? undefined : { model: 'x' });
      expect([path, r.status]).toEqual([path, 403]);
      expect(JSON.parse(r.body).error).toContain('only /api/generate');
    }
    expect(fake.requests.length).toBe(before);
  });

  it('tandem-lsp doctor and complete through it, with apiKeyEnv and caFile; without the key, doctor names the variable', async () => {
    const src = join(dir, 'f.py');
    writeFileSync(src, 'def f(n):\n    \n');
    const cfg = join(dir, 'proxy-backend.json');
    writeFileSync(cfg, JSON.stringify({ backends: { shared: { kind: 'ollama', url: `https://127.0.0.1:${port}`, apiKeyEnv: 'TANDEM_OLLAMA_TOKEN', caFile: caPath } } }));
    const doctor = await cli(['doctor', '--config', cfg], { TANDEM_OLLAMA_TOKEN: TOKEN });
    expect(doctor.stdout).toMatch(/shared\s+ollama\s+onprem https:\/\/127\.0\.0\.1:\d+\s+reachable\s+model qwen2\.5-coder:1\.5b-base/);
    expect(doctor.code).toBe(0);
    const c = await cli(['complete', `${src}:2:5`, '--config', cfg], { TANDEM_OLLAMA_TOKEN: TOKEN });
    expect([c.code, c.stdout, c.stderr]).toEqual([0, 'return n\n', '']);
    const noKey = await cli(['doctor', '--config', cfg], { TANDEM_OLLAMA_TOKEN: '' });
    expect(noKey.code).toBe(1);
    expect(noKey.stdout).toContain('TANDEM_OLLAMA_TOKEN (backends.shared.apiKeyEnv) is not set');
  });
});
