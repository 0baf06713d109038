// Hedged inline requests end to end over stdio against fake vLLMs that drip and stall: who is
// asked, who answers, which connection the fakes see closed, what privacy and the breaker allow,
// and what tandem.stats and the debug log report. No stopwatch: orderings, counts and the
// server's own account.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HEDGE_INITIAL_MS } from '../../server/src/router/hedge.js';
import { startFakeVllm, type FakeVllm, type FakeVllmOptions, type RecordedRequest } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED, until } from '../wait.js';
import { breakerSurelyOpen, startServer, stopChecked } from './servers.js';

const DOC = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const ANSWER = 'return a + b;';

const fakes: FakeVllm[] = [];
let client: LspClient | undefined;

afterEach(async () => {
  await stopChecked(client, fakes);
  client = undefined;
});

async function fake(opts: FakeVllmOptions): Promise<FakeVllm> {
  const f = await startFakeVllm(opts);
  fakes.push(f);
  return f;
}

const healthy = () => fake({ respond: () => ({ text: ANSWER }) });
const completions = (f: FakeVllm) => f.completions();
/** A fake's pace that holds every token until the client has closed that request's connection. */
const untilClosed = (f: () => FakeVllm) => (_i: number, rec: RecordedRequest) => f().waitFor((r) => r.id === rec.id && r.closedAt !== null).then(() => undefined);

async function stats(c: LspClient): Promise<any> {
  return c.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] });
}

/** Inline request number `i` on DOC: a keystroke first (after the first), so the cache cannot answer. */
async function ask(c: LspClient, uri: string, i: number): Promise<string | undefined> {
  if (i > 0) c.change(uri, i + 1, [{ range: { start: { line: 1, character: 1 + i }, end: { line: 1, character: 1 + i } }, text: ' ' }]);
  const res = await c.inline(uri, { line: 1, character: 2 + i }).result;
  return res.items[0]?.insertText;
}

async function start(init: Record<string, unknown>, rootUri: string | null = null) {
  const started = await startServer({ init: { inline: INLINE_UNHURRIED, context: { enabled: false }, log: { level: 'debug' }, ...init }, rootUri });
  client = started.client;
  return started.client;
}

describe('hedged inline requests', () => {
  it('issue 15: the first backend drips a token every 2 s (timeoutMs 1500); the second answers, the drip is closed', async () => {
    const slow = await fake({ respond: () => ({ text: 'return a - b;', dripMs: 2000 }) });
    const good = await healthy();
    const c = await start({ backends: { slow: { kind: 'vllm', url: slow.url, timeoutMs: 1500 }, good: { kind: 'vllm', url: good.url } }, routes: { inline: ['slow', 'good'] } });
    c.open('file:///w/a.ts', 'typescript', DOC);
    expect(await ask(c, 'file:///w/a.ts', 0)).toBe(ANSWER);
    // Asked in this order, and the dripping request's connection closed: its server stops generating.
    const [s] = completions(slow);
    const [g] = completions(good);
    expect(s!.receivedAt).toBeLessThanOrEqual(g!.receivedAt);
    await until(() => completions(slow)[0]!.closedAt !== null, 'the dripping request to be closed');
    expect(completions(slow)[0]!.finished).toBe(false);
    expect(g!.finished).toBe(true);
    // The server's account: one hedge, won by `good`, after the initial delay (no first token of
    // `slow` known yet); no deadline ended anything.
    const st = await stats(c);
    expect(st.hedge).toMatchObject({ started: 1, won: { good: 1 } });
    expect(st.hedge.delayMs.slow).toBe(HEDGE_INITIAL_MS);
    expect(st.deadlineExpired).toBe(0);
    expect(st.byBackend).toEqual({ good: expect.objectContaining({ shown: 1 }) });
    expect(c.stderr).toContain(`hedge: slow sent no first token for ${HEDGE_INITIAL_MS} ms; asking good too`);
    expect(c.stderr).toMatch(/hedge: good won after \d+ ms; slow aborted, no token/);
  });

  it('stalls (no headers; headers, then nothing; a few tokens, then nothing) are hedged; three lost hedges open the breaker', async () => {
    const modes = [{ hang: true } as const, { hang: true, after: '' } as const, { hang: true, after: 'return a' } as const];
    const slow = await fake({ respond: () => modes[Math.min(completions(slow).length, modes.length) - 1]! });
    const good = await healthy();
    const spawned = performance.now();
    const c = await start({ backends: { slow: { kind: 'vllm', url: slow.url }, good: { kind: 'vllm', url: good.url } }, routes: { inline: ['slow', 'good'] } });
    c.open('file:///w/a.ts', 'typescript', DOC);
    let opened = spawned;
    for (let i = 0; i < modes.length; i++) {
      opened = performance.now();
      expect(await ask(c, 'file:///w/a.ts', i), `request ${i}`).toBe(ANSWER);
      await until(() => completions(slow)[i]?.closedAt != null, `stalled request ${i} to be closed`);
      // One hedge per request, each asked after the stalled request, each answered in full.
      expect(completions(good)[i]!.receivedAt).toBeGreaterThanOrEqual(completions(slow)[i]!.receivedAt);
      expect((await stats(c)).hedge).toMatchObject({ started: i + 1, won: { good: i + 1 } });
    }
    expect(c.stderr).toContain('slow aborted, no token');
    expect(c.stderr).toContain('slow aborted after 2 pieces'); // the mid-answer stall: "return a" came in two pieces
    // Three slow strikes in a row: the breaker is open, and the status says why.
    const status = await c.waitForNotification((n) => n.method === 'tandem/status' && n.params.state === 'degraded');
    expect(status.params.message).toMatch(/slow: sent no (first|further) token for \d+ ms; good answered first/);
    expect(status.params.backends).toContainEqual(expect.objectContaining({ name: 'slow', healthy: false }));
    // The next request goes to `good` directly: nothing to hedge, nothing sent to `slow`.
    expect(await ask(c, 'file:///w/a.ts', modes.length)).toBe(ANSWER);
    const done = performance.now();
    const st = await stats(c);
    if (breakerSurelyOpen({ spawned, opened, done })) {
      expect(completions(slow)).toHaveLength(modes.length);
      expect(st.hedge.started).toBe(modes.length);
    }
    expect(st.deadlineExpired).toBe(0);
    expect(st.byBackend.good.shown).toBe(modes.length + 1);
  });

  it('a token held past timeoutMs, before the first or between two, is a timeout: the breaker opens and the route fails over', async () => {
    // Not hedged (hedgeMs "off"): timeoutMs alone judges the drip. `late` holds its first token,
    // `stalls` its second, each until the client has gone.
    const late: FakeVllm = await fake({ respond: () => ({ text: 'return 1;', dripMs: 0 }), pace: untilClosed(() => late) });
    const stalls: FakeVllm = await fake({ respond: () => ({ text: 'return 2 + 2;' }), pace: untilClosed(() => stalls) });
    const good = await healthy();
    const c = await start({
      backends: {
        late: { kind: 'vllm', url: late.url, timeoutMs: 200, hedgeMs: 'off' },
        stalls: { kind: 'vllm', url: stalls.url, timeoutMs: 200, hedgeMs: 'off' },
        good: { kind: 'vllm', url: good.url },
      },
      routes: { inline: ['late', 'stalls', 'good'] },
    });
    c.open('file:///w/a.ts', 'typescript', DOC);
    expect(await ask(c, 'file:///w/a.ts', 0)).toBe(ANSWER);
    expect(completions(late)).toHaveLength(1);
    expect(completions(stalls)).toHaveLength(1);
    expect(completions(late)[0]!.closedAt).not.toBeNull();
    expect(completions(stalls)[0]!.closedAt).not.toBeNull();
    // One after the other, each asked once the one before had failed.
    expect(completions(stalls)[0]!.receivedAt).toBeGreaterThanOrEqual(completions(late)[0]!.receivedAt);
    expect(completions(good)[0]!.receivedAt).toBeGreaterThanOrEqual(completions(stalls)[0]!.receivedAt);
    const status = await c.waitForNotification((n) => n.method === 'tandem/status' && n.params.backends.filter((b: { healthy: boolean }) => !b.healthy).length === 2);
    expect(status.params.message).toContain('late: ');
    expect(status.params.message).toContain('stalls: ');
    expect(status.params.message.match(/did not answer within 200 ms/g)).toHaveLength(2);
    const st = await stats(c);
    expect(st.hedge.started).toBe(0);
    expect(st.deadlineExpired).toBe(0);
  });

  it('privacy applies to the hedge as to failover: an onPremOnly file is never hedged to the cloud; another file is', async () => {
    const slow = await fake({ respond: () => ({ hang: true }) });
    const cloud = await fake({ respond: () => ({ text: 'from the cloud' }) });
    const local = await healthy();
    const ws = mkdtempSync(join(tmpdir(), 'tandem-hedge-ws-'));
    const c = await start(
      {
        backends: { slow: { kind: 'vllm', url: slow.url }, cloud: { kind: 'openai', url: `${cloud.url}/v1`, model: 'Qwen/Qwen2.5-Coder-7B' }, local: { kind: 'vllm', url: local.url } },
        routes: { inline: ['slow', 'cloud', 'local'] },
        privacy: { onPremOnly: ['**/secrets/**'] },
      },
      `file://${ws}`,
    );
    c.open(`file://${ws}/secrets/keys.ts`, 'typescript', DOC);
    expect(await ask(c, `file://${ws}/secrets/keys.ts`, 0)).toBe(ANSWER);
    expect(completions(cloud)).toHaveLength(0);
    expect(c.stderr).toContain('asking local too');
    // The same route for a file the cloud may see: the hedge goes to the cloud, the next backend.
    c.open(`file://${ws}/src/app.ts`, 'typescript', DOC);
    const res = await c.inline(`file://${ws}/src/app.ts`, { line: 1, character: 2 }).result;
    expect(res.items[0]?.insertText).toBe('from the cloud');
    expect(completions(cloud)).toHaveLength(1);
    expect(completions(local)).toHaveLength(1);
    for (const r of cloud.requests) expect(r.rawBody).not.toContain('secrets/keys.ts');
    expect((await stats(c)).hedge).toMatchObject({ started: 2, won: { local: 1, cloud: 1 } });
  });

  it('air-gapped: the cloud backend next in the route sees not one request; the on-prem one after it is the hedge', async () => {
    const slow = await fake({ respond: () => ({ hang: true, after: '' }) });
    const cloud = await fake({ respond: () => ({ text: 'from the cloud' }) });
    const local = await healthy();
    const c = await start({
      backends: { slow: { kind: 'vllm', url: slow.url }, cloud: { kind: 'openai', url: `${cloud.url}/v1`, model: 'Qwen/Qwen2.5-Coder-7B' }, local: { kind: 'vllm', url: local.url } },
      routes: { inline: ['slow', 'cloud', 'local'] },
      privacy: { airGapped: true },
    });
    c.open('file:///w/a.ts', 'typescript', DOC);
    expect(await ask(c, 'file:///w/a.ts', 0)).toBe(ANSWER);
    await until(() => completions(slow)[0]?.closedAt != null, 'the stalled request to be closed');
    // The start-up probes have reached the on-prem backends: the cloud one would have been probed too.
    await local.waitFor((r) => r.path === '/health');
    await stats(c);
    expect(cloud.requests).toHaveLength(0);
    expect((await stats(c)).hedge).toMatchObject({ started: 1, won: { local: 1 } });
  });

  it('hedgeMs "off": a stalled first backend eats the deadline, the second is never asked', async () => {
    const slow = await fake({ respond: () => ({ hang: true }) });
    const good = await healthy();
    const c = await start({
      backends: { slow: { kind: 'vllm', url: slow.url, hedgeMs: 'off' }, good: { kind: 'vllm', url: good.url } },
      routes: { inline: ['slow', 'good'] },
      inline: { debounceMs: 0, deadlineMs: 1000 },
    });
    c.open('file:///w/a.ts', 'typescript', DOC);
    expect(await ask(c, 'file:///w/a.ts', 0)).toBeUndefined();
    const st = await stats(c);
    expect(st.deadlineExpired).toBe(1);
    expect(st.hedge).toEqual({ started: 0, won: {}, delayMs: { good: HEDGE_INITIAL_MS } });
    expect(completions(good)).toHaveLength(0);
    await until(() => completions(slow)[0]?.closedAt != null, 'the stalled request to be closed at the deadline');
  });
});
