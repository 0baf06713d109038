// deploy/gateway/nginx.conf in real nginx, in front of loopback fake vLLM pools: tokens, rate
// limits, streaming, aborts passed upstream, the audit log, and tandem-lsp through the gateway.
// Loopback only: nginx listens on 127.0.0.1 and its upstreams are 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startFakeVllm, type FakeVllm, type Reply } from '../fake/vllm.js';
import { STUCK_MS, until } from '../wait.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const COMMITTED_CONF = join(REPO, 'deploy/gateway/nginx.conf');
const CLI_BUILT = join(REPO, 'server/out/cli/main.js');
const CHAT_MODEL = 'Qwen/Qwen2.5-Coder-32B-Instruct';

/** The nginx binary: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH). */
function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const d of dirs) {
    const p = join(d, 'nginx');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

const NGINX = findNginx();
if (!NGINX) console.warn('test/deploy/gateway.test.ts: SKIPPED: no nginx binary found (Debian: apt-get install -y nginx)');

interface TestPaths {
  dir: string;
  port: number;
  cert: string;
  key: string;
  tokens: string;
  auditLog: string;
  errorLog: string;
  fim: string;
  chat: string;
}

/**
 * The committed nginx.conf with the only changes a test run needs, each of which must match
 * exactly as often as stated (so the committed file cannot drift away from what is tested):
 * listen address, certificate, token file, pid/log/temp paths, upstream addresses.
 */
function gatewayConfigForTest(conf: string, p: TestPaths): string {
  const edits: [string | RegExp, string, number][] = [
    ['listen 443 ssl;', `listen 127.0.0.1:${p.port} ssl;`, 1],
    ['/etc/nginx/tls/gateway.crt', p.cert, 1],
    ['/etc/nginx/tls/gateway.key', p.key, 1],
    ['/etc/nginx/tandem/tokens.map', p.tokens, 1],
    ['pid /run/nginx.pid;', `pid ${join(p.dir, 'nginx.pid')};`, 1],
    ['/var/log/nginx/tandem-error.log', p.errorLog, 1],
    ['/var/log/nginx/tandem-audit.json', p.auditLog, 1],
    [/\bvllm-fim-\d:8000\b/g, p.fim, 4],
    ['vllm-chat:8000', p.chat, 1],
    // nginx creates its compiled-in temp folders (/var/lib/nginx/...) at start: keep them here.
    [
      /^http \{\n/m,
      'http {\n' +
        ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${join(p.dir, `${t}_temp`)};\n`).join(''),
      1,
    ],
  ];
  let out = conf;
  for (const [from, to, times] of edits) {
    const re = typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : new RegExp(from.source, from.flags.includes('g') ? from.flags : from.flags + 'g');
    const found = out.match(re)?.length ?? 0;
    if (found !== times) throw new Error(`deploy/gateway/nginx.conf: expected ${times} x ${String(from)}, found ${found}: update gatewayConfigForTest`);
    out = out.replace(re, to);
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const hexToken = () => randomBytes(32).toString('hex');
const TOKENS = { alice: hexToken(), limited: hexToken(), cli: hexToken() };

let nginx: ChildProcess | null = null;
let nginxOutput = '';
let paths: TestPaths;
let ca: string;
let fim: FakeVllm;
let chat: FakeVllm;

function call(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; agent?: https.Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      {
        host: '127.0.0.1',
        port: paths.port,
        method,
        path,
        ca,
        agent: opts.agent ?? false,
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const completion = (extra: Record<string, unknown> = {}) => ({
  model: 'Qwen/Qwen2.5-Coder-7B',
  prompt: '<|fim_prefix|>def area(r):\n    <|fim_suffix|>\n<|fim_middle|>',
  max_tokens: 32,
  ...extra,
});

async function waitForListener(port: number, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited (${proc.exitCode}):\n${nginxOutput}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > end) throw new Error(`nginx did not listen on 127.0.0.1:${port}:\n${nginxOutput}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const auditLines = (): any[] =>
  readFileSync(paths.auditLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe.skipIf(!NGINX)('deploy/gateway/nginx.conf in real nginx', () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-gateway-'));
    // When the test runs as root, nginx workers run as the config's `user` and must reach the
    // temp folders nginx creates (and chowns) in here.
    chmodSync(dir, 0o755);
    const cert = join(dir, 'gateway.crt');
    const key = join(dir, 'gateway.key');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'pipe' });
    ca = readFileSync(cert, 'utf8');

    fim = await startFakeVllm();
    chat = await startFakeVllm({ model: CHAT_MODEL });
    const tokens = join(dir, 'tokens.map');
    writeFileSync(tokens, Object.entries(TOKENS).map(([id, t]) => `"Bearer ${t}" ${id};\n`).join(''));

    paths = {
      dir, cert, key, tokens,
      port: await freePort(),
      auditLog: join(dir, 'audit.json'),
      errorLog: join(dir, 'error.log'),
      fim: `127.0.0.1:${fim.port}`,
      chat: `127.0.0.1:${chat.port}`,
    };
    const confPath = join(dir, 'nginx.conf');
    writeFileSync(confPath, gatewayConfigForTest(readFileSync(COMMITTED_CONF, 'utf8'), paths));

    nginx = spawn(NGINX!, ['-p', `${dir}/`, '-c', confPath, '-e', 'stderr', '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stdout!.on('data', (d) => (nginxOutput += d));
    nginx.stderr!.on('data', (d) => (nginxOutput += d));
    await waitForListener(paths.port, nginx, STUCK_MS);
  });

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
    }
    await fim?.close();
    await chat?.close();
    if (paths?.dir) rmSync(paths.dir, { recursive: true, force: true });
  });

  it('without a known token: 401 with a JSON error, and no engine sees the request', async () => {
    fim.reset();
    for (const token of [undefined, hexToken()]) {
      const a = await call('POST', '/fim/v1/completions', { token, body: completion() });
      expect(a.status).toBe(401);
      expect(a.headers['www-authenticate']).toBe('Bearer realm="tandem"');
      expect(JSON.parse(a.body).error.message).toMatch(/bearer token/);
    }
    expect(fim.requests).toHaveLength(0);
  });

  it('with a token: the completion, from /v1/completions of the FIM pool, without the token', async () => {
    fim.reset();
    fim.set({ respond: () => ({ text: 'return 3.14159 * r * r' }) });
    const a = await call('POST', '/fim/v1/completions', { token: TOKENS.alice, body: completion(), headers: { 'x-tandem-user': 'alice-os' } });
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body).choices[0].text).toBe('return 3.14159 * r * r');
    const seen = fim.completions()[0]!;
    expect(seen.path).toBe('/v1/completions');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-tandem-user']).toBe('alice-os');
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('routes /chat/v1/ to the chat pool, /fim/health to the FIM pool, and nothing else', async () => {
    fim.reset();
    chat.reset();
    const models = await call('GET', '/chat/v1/models', { token: TOKENS.alice });
    expect(models.status).toBe(200);
    expect(JSON.parse(models.body).data[0].id).toBe(CHAT_MODEL);
    expect(chat.requests.map((r) => r.path)).toEqual(['/v1/models']);
    expect((await call('GET', '/fim/health', { token: TOKENS.alice })).status).toBe(200);
    expect(fim.requests.map((r) => r.path)).toEqual(['/health']);
    for (const path of ['/metrics', '/fim/metrics', '/v1/completions', '/fim/tokenize']) {
      expect((await call('GET', path, { token: TOKENS.alice })).status, path).toBe(404);
    }
    expect(fim.requests).toHaveLength(1);
    expect(chat.requests).toHaveLength(1);
  });

  it('over the rate limit of a token: 429 with Retry-After; other tokens are not affected', async () => {
    fim.set({ respond: () => ({ text: 'x' }) });
    // 150 at once over 10 kept-alive connections (no TLS handshake each). The first 21 pass (1 +
    // a burst of 20); the bucket refills at 10/s, so however slowly they arrive, at most 10 more
    // per second of the whole exchange pass, and the rest are refused.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 10, ca });
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 150 }, () => call('POST', '/fim/v1/completions', { token: TOKENS.limited, body: completion(), agent })));
    const seconds = (performance.now() - started) / 1000;
    agent.destroy();
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const passed = statuses.filter((s) => s === 200).length;
    expect(passed).toBeGreaterThanOrEqual(21);
    expect(passed).toBeLessThanOrEqual(21 + 1 + Math.floor(10 * seconds));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length, `all 150 passed in ${seconds.toFixed(1)} s`).toBeGreaterThanOrEqual(1);
    expect(limited[0]!.headers['retry-after']).toBe('1');
    expect(JSON.parse(limited[0]!.body).error.type).toBe('rate_limit_error');
    expect((await call('POST', '/fim/v1/completions', { token: TOKENS.alice, body: completion() })).status).toBe(200);
  });

  it('streams: SSE chunks reach the client one by one, as the engine writes them', async () => {
    const pieces = ['return ', '3.14159 ', '* r ', '* r'];
    const arrivals: string[] = [];
    /** Pieces the engine held back because the client had not received the one before. */
    const heldUp: number[] = [];
    // The engine writes each piece only once the client has received the one before it: a
    // buffering proxy, which delivers them together at the end, never lets the stream go on.
    const pace = async (i: number) => {
      const through = await until(() => arrivals.length >= i, `piece ${i} to reach the client through nginx`, STUCK_MS / 4).then(() => true, () => false);
      if (!through) heldUp.push(i);
    };
    fim.set({ respond: () => ({ text: pieces.join(''), chunks: pieces }), pace });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: paths.port, method: 'POST', path: '/fim/v1/completions', ca, agent: false,
            headers: { authorization: `Bearer ${TOKENS.alice}`, 'content-type': 'application/json' } },
          (res) => {
            expect(res.statusCode).toBe(200);
            expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
            let buf = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => {
              buf += d;
              let end: number;
              while ((end = buf.indexOf('\n\n')) >= 0) {
                const event = buf.slice(0, end);
                buf = buf.slice(end + 2);
                const data = event.replace(/^data: /, '');
                if (data === '[DONE]') continue;
                const text = JSON.parse(data).choices[0].text as string;
                if (text) arrivals.push(text);
              }
            });
            res.on('end', resolve);
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(completion({ stream: true })));
      });
      expect(arrivals).toEqual(pieces);
      expect(heldUp, 'pieces the engine wrote but the client had not received (buffered by the proxy)').toEqual([]);
    } finally {
      fim.set({ pace: undefined });
    }
  });

  it('a client that goes away closes the engine connection, streaming or still waiting', async () => {
    const cases: { name: string; reply: Reply; closeAfterFirstChunk: boolean }[] = [
      { name: 'streaming', reply: { text: 'y'.repeat(400), chunks: Array.from({ length: 100 }, () => 'yyyy') }, closeAfterFirstChunk: true },
      { name: 'waiting for the first token', reply: { hang: true }, closeAfterFirstChunk: false },
    ];
    fim.set({ tokenIntervalMs: 100 });
    try {
      for (const c of cases) {
        fim.reset();
        fim.set({ respond: () => c.reply });
        const req = https.request({ host: '127.0.0.1', port: paths.port, method: 'POST', path: '/fim/v1/completions', ca, agent: false,
          headers: { authorization: `Bearer ${TOKENS.alice}`, 'content-type': 'application/json', 'x-tandem-user': `abort-${c.name}` } });
        req.on('error', () => {});
        if (c.closeAfterFirstChunk) req.on('response', (res) => res.once('data', () => req.destroy()));
        req.end(JSON.stringify(completion({ stream: true, max_tokens: 1000 })));
        const atEngine = await fim.waitFor((r) => r.path === '/v1/completions');
        if (!c.closeAfterFirstChunk) setTimeout(() => req.destroy(), 200);
        const closed = await fim.waitFor((r) => r.id === atEngine.id && r.closedAt !== null);
        expect(closed.finished, c.name).toBe(false);
      }
      // The audit log marks both as not completed; 499 where no answer had started. nginx writes
      // a line once it is done with the request.
      const aborted = await until(() => {
        const lines = auditLines().filter((l) => String(l.user).startsWith('abort-'));
        return lines.length === 2 && lines;
      }, 'the audit lines of both aborted requests');
      expect(aborted.map((l) => [l.status, l.completed])).toEqual([[200, ''], [499, '']]);
    } finally {
      fim.set({ tokenIntervalMs: 0 });
    }
  });

  it('writes a JSON audit log without tokens or prompts', () => {
    const raw = readFileSync(paths.auditLog, 'utf8');
    for (const t of Object.values(TOKENS)) expect(raw).not.toContain(t);
    expect(raw).not.toContain('def area');
    const lines = auditLines();
    expect(lines.some((l) => l.status === 401 && l.client === '')).toBe(true);
    const ok = lines.find((l) => l.status === 200 && l.user === 'alice-os');
    expect(ok).toMatchObject({ client: 'alice', method: 'POST', path: '/fim/v1/completions', completed: 'OK', upstream: paths.fim, upstream_status: '200' });
    expect(typeof ok.duration_s).toBe('number');
    expect(lines.some((l) => l.status === 429 && l.client === 'limited')).toBe(true);
  });

  // Needs the lead's CLI: server/bin/tandem-lsp.js imports the compiled server/out/cli/main.js
  // (`npm run build`, which `npm test` runs first). Skipped, visibly, until that exists.
  it.skipIf(!existsSync(CLI_BUILT))('tandem-lsp complete works through the gateway, with its key from apiKeyEnv', async () => {
    fim.reset();
    fim.set({ respond: () => ({ text: 'return a + b' }) });
    const src = join(paths.dir, 'add.py');
    writeFileSync(src, 'def add(a, b):\n    \n');
    const cfg = join(paths.dir, 'tandem.config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        backends: { fim: { kind: 'vllm', url: `https://127.0.0.1:${paths.port}/fim`, location: 'onprem', apiKeyEnv: 'TANDEM_GATEWAY_TOKEN' } },
        routes: { inline: ['fim'], action: ['fim'], multiFile: ['fim'] },
      }),
    );
    const env: NodeJS.ProcessEnv = { ...process.env, TANDEM_GATEWAY_TOKEN: TOKENS.cli, NODE_EXTRA_CA_CERTS: paths.cert, XDG_CONFIG_HOME: join(paths.dir, 'xdg') };
    delete env.TANDEM_CONFIG;
    const proc = spawn(process.execPath, ['server/bin/tandem-lsp.js', 'complete', `${src}:2:5`, '--config', cfg], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(stdout).toContain('return a + b');
    // It went through the gateway as token "cli", and the engine never saw the token.
    const seen = fim.completions().at(-1)!;
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-tandem-user']).toBe(userInfo().username);
    await until(() => auditLines().some((l) => l.client === 'cli' && l.path === '/fim/v1/completions' && l.status === 200), 'the audit line of the CLI request');
  });
});
