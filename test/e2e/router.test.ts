// The router end to end, watched on the wire: failover, health and status, privacy, audit and stats.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED, until } from '../wait.js';
import { breakerSurelyOpen, deadlinesExpired } from './servers.js';

const DOC = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const AT = { line: 1, character: 2 };
const j = (...p: string[]) => p.join('');
const GH = j('ghp_', 'Z'.repeat(36));

const fakes: FakeVllm[] = [];
let client: LspClient | undefined;

async function fake(text: string, opts: Parameters<typeof startFakeVllm>[0] = {}) {
  const f = await startFakeVllm({ respond: () => ({ text }), ...opts });
  fakes.push(f);
  return f;
}

async function start(init: unknown, rootUri: string | null = null) {
  const home = mkdtempSync(join(tmpdir(), 'tandem-router-'));
  client = new LspClient({ env: { XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '' } });
  await client.initialize({ initializationOptions: init, rootUri });
  return { client, state: join(home, 'state') };
}

afterEach(async () => {
  if (client) await client.stop();
  client = undefined;
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

const completions = (f: FakeVllm) => f.requests.filter((r) => r.path.endsWith('/completions'));

describe('router', () => {
  it('fails over within one request when the first backend refuses connections, and reports status', async () => {
    const dead = await fake('');
    const deadUrl = dead.url;
    await dead.close();
    const good = await fake('return a + b;');
    const { client } = await start({ backends: { primary: { kind: 'vllm', url: deadUrl }, backup: { kind: 'vllm', url: good.url } }, routes: { inline: ['primary', 'backup'] }, inline: INLINE_UNHURRIED });
    client.open('file:///w/a.ts', 'typescript', DOC);
    const res = await client.inline('file:///w/a.ts', AT).result;
    expect(res.items[0]?.insertText).toBe('return a + b;');
    const status = await client.waitForNotification((n) => n.method === 'tandem/status' && n.params.state === 'degraded');
    expect(status.params.message).toContain('primary');
    expect(status.params.backends).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'primary', healthy: false }), expect.objectContaining({ name: 'backup', healthy: true })]));
  });

  it('tandem/status carries the latency: the first probe\'s measurement once it is in, and a change of the average later', async () => {
    // The probe (GET /models of an OpenAI-compatible backend) is held until the first status is out,
    // so that status surely has no latency yet, as at every editor's start.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const f = await fake('return a + b;', { holdModels: () => held });
    const { client } = await start({ backends: { fim: { kind: 'openai', url: `${f.url}/v1`, location: 'onprem', hedgeMs: 'off' } }, routes: { inline: ['fim'], action: ['fim'], multiFile: ['fim'] }, inline: INLINE_UNHURRIED });
    const statuses = () => client.notifications.filter((n) => n.method === 'tandem/status');
    const first = await client.waitForNotification((n) => n.method === 'tandem/status');
    expect(first.params.backends).toEqual([{ name: 'fim', healthy: true, latencyMs: null }]);
    release();
    const probed = await client.waitForNotification((n) => n.method === 'tandem/status' && typeof n.params.backends[0]?.latencyMs === 'number');
    const probeMs: number = probed.params.backends[0].latencyMs;
    expect(probed.params.message).toBe(`inline via fim (${probeMs} ms)`);
    // Completions that each take at least 8 times the probe's latency (and 400 ms) pull the average
    // up by a fifth at the least with the first of them: a new status says so.
    f.set({ latencyMs: Math.max(400, 8 * probeMs) });
    const sent = statuses().length;
    client.open('file:///w/a.ts', 'typescript', DOC);
    await client.inline('file:///w/a.ts', AT).result;
    const slower = await client.waitForNotification((n) => n.method === 'tandem/status' && statuses().indexOf(n) >= sent);
    expect(slower.params.backends[0].latencyMs).toBeGreaterThan(probeMs);
  });

  it('a hanging backend costs one deadline, then the breaker sends keystrokes to the backup at once', async () => {
    const slow = await fake('', { respond: () => ({ hang: true }) });
    const good = await fake('return a + b;');
    // The deadline is eaten once; it must leave the backup, on a starved machine, time to answer.
    const spawned = performance.now();
    // Not hedged (hedge.test.ts covers that): the deadline and the breaker alone.
    const { client } = await start({ backends: { primary: { kind: 'vllm', url: slow.url, hedgeMs: 'off' }, backup: { kind: 'vllm', url: good.url } }, routes: { inline: ['primary', 'backup'] }, inline: { debounceMs: 0, deadlineMs: 3000 } });
    client.open('file:///w/a.ts', 'typescript', DOC);
    const opened = performance.now();
    const first = await client.inline('file:///w/a.ts', AT).result;
    // As the server tells it: the deadline ended the first request, and it cut the connection.
    expect(first.items).toEqual([]);
    expect(await deadlinesExpired(client)).toBe(1);
    const status = await client.waitForNotification((n) => n.method === 'tandem/status' && n.params.state === 'degraded');
    expect(status.params.message).toContain('did not answer within 3000 ms');
    await until(() => completions(slow).every((r) => r.closedAt !== null), 'the hanging request to be closed');
    for (let i = 0; i < 5; i++) {
      client.change('file:///w/a.ts', i + 2, [{ range: { start: { line: 1, character: 2 + i }, end: { line: 1, character: 2 + i } }, text: ' ' }]);
      const res = await client.inline('file:///w/a.ts', { line: 1, character: 3 + i }).result;
      expect(res.items[0]?.insertText).toBe('return a + b;');
    }
    // "At once": no later request waited for any deadline, and none went to the hanging backend.
    expect(await deadlinesExpired(client)).toBe(1);
    if (breakerSurelyOpen({ spawned, opened, done: performance.now() })) expect(completions(slow)).toHaveLength(1);
    else expect(completions(slow).length).toBeLessThanOrEqual(2);
  });

  it('air-gapped: the cloud backend sees not one request, probes included; on-prem serves', async () => {
    const cloud = await fake('from the cloud');
    const local = await fake('return a + b;');
    const { client } = await start({
      backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, model: 'Qwen/Qwen2.5-Coder-7B', apiKeyEnv: 'NOPE' }, fim: { kind: 'vllm', url: local.url } },
      routes: { inline: ['cloud', 'fim'], action: ['cloud', 'fim'], multiFile: ['cloud', 'fim'] },
      privacy: { airGapped: true },
      inline: INLINE_UNHURRIED,
    });
    client.open('file:///w/a.ts', 'typescript', DOC);
    expect((await client.inline('file:///w/a.ts', AT).result).items[0]?.insertText).toBe('return a + b;');
    // The start-up probe round goes to every backend at once: once the on-prem one has been
    // probed, the cloud one would have been too.
    await local.waitFor((r) => r.path === '/health');
    await client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] });
    expect(cloud.requests).toHaveLength(0);
  });

  it('onPremOnly files never reach the cloud; other files go there with their secrets redacted', async () => {
    const cloud = await fake('from the cloud');
    const local = await fake('return a + b;');
    const ws = mkdtempSync(join(tmpdir(), 'tandem-ws-'));
    const { client } = await start(
      {
        // Not hedged: on a starved machine a hedge could let `fim` answer what this test asks of the cloud.
        backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, model: 'Qwen/Qwen2.5-Coder-7B', hedgeMs: 'off' }, fim: { kind: 'vllm', url: local.url } },
        routes: { inline: ['cloud', 'fim'] },
        privacy: { onPremOnly: ['**/secrets/**'] },
        inline: INLINE_UNHURRIED,
        context: { enabled: false },
      },
      `file://${ws}`,
    );
    const secretDoc = `const key = "${GH}";\n` + DOC;
    client.open(`file://${ws}/secrets/keys.ts`, 'typescript', secretDoc);
    const r1 = await client.inline(`file://${ws}/secrets/keys.ts`, { line: 2, character: 2 }).result;
    expect(r1.items[0]?.insertText).toBe('return a + b;');
    expect(completions(cloud)).toHaveLength(0);
    client.open(`file://${ws}/src/app.ts`, 'typescript', secretDoc);
    const r2 = await client.inline(`file://${ws}/src/app.ts`, { line: 2, character: 2 }).result;
    expect(r2.items[0]?.insertText).toBe('from the cloud');
    const sent = JSON.stringify(completions(cloud).map((r) => r.body));
    expect(sent).not.toContain(GH);
    expect(sent).toContain('[REDACTED:github-token]');
    for (const r of cloud.requests) expect(r.rawBody).not.toContain('secrets/keys.ts');
  });

  it('writes the audit log without code, and tandem.stats reports counts, latency and spend', async () => {
    const local = await fake('return a + b;');
    const { client, state } = await start({ backends: { fim: { kind: 'vllm', url: local.url, pricePerMTokIn: 0 } }, inline: INLINE_UNHURRIED });
    client.open('file:///w/a.ts', 'typescript', DOC);
    const res = await client.inline('file:///w/a.ts', AT).result;
    await client.request('workspace/executeCommand', { command: 'tandem.accepted', arguments: res.items[0].command.arguments });
    const stats = await client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] });
    expect(stats).toMatchObject({ requests: 1, shown: 1, accepted: 1, byBackend: { fim: { shown: 1, accepted: 1 } }, spend: { usd: 0 }, status: { state: 'ok' } });
    expect(stats.latency.fim.samples).toBe(1);
    const auditPath = join(state, 'tandem', 'audit.jsonl');
    // Written before the answer went out: no waiting.
    const lines = readFileSync(auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ task: 'inline', backend: 'fim', location: 'onprem', outcome: 'ok', redactions: 0 });
    expect(lines.at(-1).sources[0]).toMatchObject({ path: expect.stringContaining('a.ts'), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(readFileSync(auditPath, 'utf8')).not.toContain('export function add');
  });
});
