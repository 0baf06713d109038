// No API key in any output (issue #4): cloud backends get a distinctive key through apiKeyEnv, and
// answer with what a careless server or proxy does: 401/403/429/500 bodies and in-stream errors that
// echo the Authorization header back. Everything tandem writes is captured (server stderr at trace,
// window/logMessage, showMessage, tandem/status, $/progress, every LSP error and result, the audit
// log, the CLI's stdout and stderr) and no piece of the key may appear in it. The fakes must have
// received the key, or the test proves nothing.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeTgi, type FakeTgi } from '../fake/tgi.js';
import { startFakeVllm, DEFAULT_MODEL, type FakeVllm, type RecordedRequest, type Reply } from '../fake/vllm.js';
import { INLINE_UNHURRIED } from '../wait.js';
import { block, failure, RESOLVE_CAPS, runCli, startServer } from './servers.js';

const KEY_ENV = 'TANDEM_E2E_CLOUD_KEY';
const KEY = `sk-tandem-e2e-${randomBytes(20).toString('hex')}`;
/** Any 12 characters of the key's random part give it away (a truncated or partly masked echo too). */
const PIECES = Array.from({ length: KEY.length - 14 - 11 }, (_, i) => KEY.slice(14 + i, 14 + i + 12));

const DOC = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const URI = 'file:///w/src/add.ts';

const echo = (req: { headers: Record<string, unknown> }) => String(req.headers.authorization ?? '(no Authorization header)');

/** The servers that echo the key back, by what they answer. */
const ECHOES: Record<string, (req: RecordedRequest) => Reply> = {
  c401: (r) => ({ status: 401, error: { message: `Incorrect API key provided: ${echo(r)}`, type: 'invalid_request_error', code: 'invalid_api_key' } }),
  c403: (r) => ({ status: 403, error: { message: `Forbidden: ${echo(r)} may not use this model`, type: 'permission_error' } }),
  c429: (r) => ({ status: 429, error: { message: `Rate limit reached for ${echo(r)}` }, headers: { 'retry-after': '30' } }),
  cStream: (r) => ({ streamError: { message: `upstream refused the request with ${echo(r)}`, type: 'InternalServerError', code: 500 }, after: 'It ' }),
  c500: (r) => ({ status: 500, error: { message: `proxy error: header "Authorization: ${echo(r)}" was refused upstream` } }),
};

const fakes: Record<string, FakeVllm> = {};
let tgi: FakeTgi;
let local: FakeVllm;
/** /v1/models refuses the key and echoes it: doctor reports this backend unreachable, with the server's words. */
let models: FakeVllm;
let dir: string;

const cloud = (url: string, extra: object = {}) => ({ kind: 'openai', url: `${url}/v1`, location: 'cloud', model: DEFAULT_MODEL, apiKeyEnv: KEY_ENV, ...extra });

function backends() {
  return {
    tgiCloud: { kind: 'tgi', url: tgi.url, location: 'cloud', apiKeyEnv: KEY_ENV },
    ...Object.fromEntries(Object.entries(fakes).map(([name, f]) => [name, cloud(f.url)])),
    local: { kind: 'vllm', url: local.url },
  };
}

/** The inline route falls over from two failing cloud backends to the local one; every action backend fails. */
const ROUTES = { inline: ['tgiCloud', 'c401', 'local'], action: ['c429', 'c403', 'cStream', 'c500'], multiFile: ['local'] };

beforeAll(async () => {
  for (const [name, respond] of Object.entries(ECHOES)) fakes[name] = await startFakeVllm({ respond });
  // TGI's --api-key: a request without `Bearer <key>` gets a bare 401, so a key that was not sent fails the test.
  tgi = await startFakeTgi({ apiKey: KEY, respond: (r) => ({ status: 500, error: { message: `shard failed for ${echo(r)}` } }) });
  local = await startFakeVllm({ respond: (r) => (r.path === '/v1/completions' ? { text: 'return a + b;' } : { text: block(['x'], ['y']) }) });
  models = await startFakeVllm({ models: { status: 401, body: { error: { message: `Incorrect API key provided: Bearer ${KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } } } });
  dir = mkdtempSync(join(tmpdir(), 'tandem-secrets-'));
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, 'add.ts'), DOC);
});

afterAll(async () => {
  await Promise.all([...Object.values(fakes), tgi, local, models].map((f) => f?.close()));
});

/** No channel holds the key, its Bearer form or any 12 characters of it; a failure shows where and in what. */
function expectNoKey(channels: Record<string, string>) {
  const found: Record<string, string> = {};
  for (const [name, text] of Object.entries(channels)) {
    const at = Math.max(...PIECES.map((p) => text.indexOf(p)));
    if (at >= 0) found[name] = text.slice(Math.max(0, at - 80), at + 20);
  }
  expect(found).toEqual({});
}

/** Every file under `root`, read: the audit log and its rotations, the spend ledger. */
function filesUnder(root: string): string {
  if (!existsSync(root)) return '';
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

function expectKeySent() {
  for (const f of [...Object.values(fakes), tgi]) {
    const generations = f.requests.filter((r) => r.method === 'POST');
    expect(generations.length).toBeGreaterThan(0);
    for (const r of generations) expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
  }
  for (const r of local.requests) expect(r.headers.authorization).toBeUndefined();
}

describe('no API key in any output', () => {
  it('over LSP: logs at trace, notifications, errors, results and the audit log', async () => {
    const { client, state } = await startServer({
      capabilities: RESOLVE_CAPS,
      rootUri: 'file:///w',
      env: { [KEY_ENV]: KEY, TANDEM_LOG: 'trace' },
      init: { backends: backends(), routes: ROUTES, inline: INLINE_UNHURRIED, context: { enabled: false }, log: { level: 'trace' } },
    });
    const said: unknown[] = [];
    try {
      client.open(URI, 'typescript', DOC);
      // Inline falls over TGI's 500 and the 401 to the local backend.
      said.push(await client.inline(URI, { line: 1, character: 2 }).result);
      expect(said[0]).toMatchObject({ items: [{ insertText: 'return a + b;' }] });
      // Every action backend fails: the errors name them and say why, in the servers' words.
      for (let i = 0; i < 3; i++) {
        const err = await failure(client.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: URI, range: { start: { line: 0, character: 0 }, end: { line: 2, character: 1 } } }], workDoneToken: `e${i}` }));
        expect(err?.code).toBe(-32803);
        said.push(err?.message);
      }
      // Listing parses a document that has no tree yet: no wait for the first parse.
      const actions = (await client.request('textDocument/codeAction', { textDocument: { uri: URI }, range: { start: { line: 0, character: 20 }, end: { line: 0, character: 20 } }, context: { diagnostics: [] } })) as any[];
      const edit = actions.find((a) => a.data);
      expect(edit).toBeDefined();
      said.push((await failure(client.request('codeAction/resolve', edit)))?.message);
      said.push(await client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }));
      await client.waitForNotification((n) => n.method === 'tandem/status' && n.params.state === 'degraded');
    } finally {
      await client.stop();
    }
    expectKeySent();
    const channels = { stderr: client.stderr, notifications: JSON.stringify(client.notifications), 'LSP results and errors': JSON.stringify(said), 'audit log and state': filesUnder(state) };
    // The failures were there to be written: the servers' echoes were read, logged and reported.
    expect(channels.stderr).toContain('answered 401');
    expect(channels.notifications).toContain('answered 429');
    expect(channels['LSP results and errors']).toContain('c500');
    expect(channels['audit log and state']).toContain('"backend":"c401"');
    expectNoKey(channels);
  });

  it('from the command line: doctor, complete and explain at trace', async () => {
    const home = join(dir, 'home');
    const state = join(dir, 'state');
    const env = { [KEY_ENV]: KEY, TANDEM_LOG: 'trace', XDG_CONFIG_HOME: home, XDG_STATE_HOME: state, TANDEM_CONFIG: '' };
    const config = (routes: object) => {
      const f = join(dir, `config-${randomBytes(4).toString('hex')}.json`);
      writeFileSync(f, JSON.stringify({ backends: { ...backends(), listless: { ...cloud(models.url), model: undefined } }, routes, context: { enabled: false } }));
      return f;
    };
    const file = join(dir, 'add.ts');
    const runs = await Promise.all([
      runCli(['doctor', '--config', config(ROUTES)], env),
      runCli(['complete', `${file}:2:3`, '--config', config(ROUTES), '--json'], env),
      // No fallback: the error sentence quotes the failing server.
      runCli(['complete', `${file}:2:3`, '--config', config({ ...ROUTES, inline: ['c500'] })], env),
      runCli(['explain', `${file}:1-3`, '--config', config(ROUTES)], env),
    ]);
    const [doctor, completed, failed, explained] = runs;
    expect(doctor!.stdout).toMatch(/listless .* unreachable: .*answered 401/);
    expect(JSON.parse(completed!.stdout)).toMatchObject({ text: 'return a + b;', backend: 'local' });
    expect(failed!.code).toBe(3);
    expect(failed!.stderr).toContain('answered 500');
    expect(explained!.code).toBe(3);
    expectKeySent();
    expect(models.requests.some((r) => r.path === '/v1/models' && r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
    expectNoKey({ ...Object.fromEntries(runs.flatMap((r, i) => [[`run ${i} stdout`, r.stdout], [`run ${i} stderr`, r.stderr]])), 'audit log and state': filesUnder(state) });
  });
});
