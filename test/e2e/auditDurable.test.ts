// Every request that reached a backend is in the audit log (and priced spend in the ledger), however
// the process ends: SIGKILLed the moment its answer is out, signalled, or told to exit mid-request.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { BIN, type LspClient } from '../lsp-client.js';
import { startServer } from './servers.js';

const CODE = 'def fib(n):\n    if n < 2:\n        return n\n    \n';
const ANSWER = 'Returns the `n`th Fibonacci number.';
/** Large enough that no request ends by its deadline while a test holds it. */
const NO_DEADLINE = 600_000;

const fakes: FakeVllm[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function fake(respond: () => object): Promise<FakeVllm> {
  const f = await startFakeVllm({ respond: respond as never });
  fakes.push(f);
  return f;
}

/** A workspace with fib.py, a config naming one backend, and empty user config and state folders. */
function workspace(backend: object): { dir: string; config: string; state: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-durable-'));
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, 'fib.py'), CODE);
  const config = join(dir, 'tandem-config.json');
  writeFileSync(config, JSON.stringify({ backends: { model: { ...backend, timeoutMs: NO_DEADLINE } }, inline: { deadlineMs: NO_DEADLINE } }));
  const state = join(dir, 'state');
  return { dir, config, state, env: { XDG_CONFIG_HOME: join(dir, 'home'), XDG_STATE_HOME: state, TANDEM_CONFIG: '', TANDEM_LOG: '' } };
}

const auditLines = (state: string) => {
  const p = join(state, 'tandem', 'audit.jsonl');
  return existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
};
const modelRequests = (f: FakeVllm) => f.requests.filter((r) => r.method === 'POST' && (r.path.endsWith('/completions')));
const spendLines = (state: string) => {
  const dir = join(state, 'tandem', 'spend');
  return existsSync(dir) ? readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))) : [];
};

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tandem-lsp ARGS`; `until(stdout)` true sends `sig` at once (SIGKILL: nothing of the
 * process runs after the answer is out); `whenSent` sends it once the fake holds a request.
 */
function cli(args: string[], env: Record<string, string>, stop: { sig: NodeJS.Signals; until?: (stdout: string) => boolean; whenSent?: FakeVllm }): Promise<Ended> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const send = () => {
      if (!sent) child.kill(stop.sig);
      sent = true;
    };
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stop.until?.(stdout)) send();
    });
    child.stderr.on('data', (d) => (stderr += d));
    if (stop.whenSent) void stop.whenSent.waitFor((r) => r.path.endsWith('/completions'), NO_DEADLINE).then(send);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const BACKENDS = {
  'on-prem vLLM': (url: string) => ({ kind: 'vllm', url }),
  'cloud openai-kind, priced': (url: string) => ({ kind: 'openai', url: `${url}/v1`, location: 'cloud', model: 'Qwen/Qwen2.5-Coder-7B', pricePerMTokIn: 3, pricePerMTokOut: 15 }),
};

describe('the CLI, SIGKILLed the moment its answer is printed', () => {
  for (const [name, backend] of Object.entries(BACKENDS)) {
    it(`complete and explain, ${name}: one record per backend request, spend for a priced one`, async () => {
      const f = await fake(() => ({ text: 'return fib(n - 1) + fib(n - 2)\n' }));
      const w = workspace(backend(f.url));
      const completed = await cli(['complete', join(w.dir, 'fib.py') + ':4:5', '--config', w.config], w.env, { sig: 'SIGKILL', until: (out) => out === 'return fib(n - 1) + fib(n - 2)\n' });
      f.set({ respond: () => ({ text: ANSWER }) });
      const explained = await cli(['explain', join(w.dir, 'fib.py') + ':2-3', '--config', w.config], w.env, { sig: 'SIGKILL', until: (out) => out === ANSWER + '\n' });
      // Killed, or (on a busy machine) already at its end when the kill came: either way, done.
      for (const r of [completed, explained]) expect(r.signal === 'SIGKILL' || r.code === 0, `${r.code} ${r.signal} ${r.stderr}`).toBe(true);

      const lines = auditLines(w.state);
      expect(modelRequests(f)).toHaveLength(2);
      expect(lines.map((l) => [l.task, l.backend, l.outcome])).toEqual([['inline', 'model', 'ok'], ['explain', 'model', 'ok']]);
      expect(lines.every((l) => l.sources.some((s: { path: string }) => s.path === 'fib.py'))).toBe(true);
      const spend = spendLines(w.state);
      if (name.startsWith('cloud')) {
        expect(lines[0].location).toBe('cloud');
        expect(spend.map((s) => s.backend)).toEqual(['model', 'model']);
        expect(spend.every((s) => s.usd > 0)).toBe(true);
      } else expect(spend).toEqual([]);
    });
  }
});

describe('the CLI, ended while the backend is answering', () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig}: the request is written as interrupted and the process dies of ${sig}`, async () => {
      const f = await fake(() => ({ hang: true }));
      const w = workspace(BACKENDS['cloud openai-kind, priced'](f.url));
      const r = await cli(['explain', join(w.dir, 'fib.py') + ':2-3', '--config', w.config], w.env, { sig, whenSent: f });
      expect(r, r.stderr).toMatchObject({ code: null, signal: sig });
      expect(auditLines(w.state)).toMatchObject([{ task: 'explain', backend: 'model', location: 'cloud', outcome: 'interrupted', sources: [{ path: 'fib.py' }] }]);
    });
  }
});

describe('the stdio server', () => {
  const URI = (dir: string) => pathToFileURL(join(dir, 'fib.py')).href;

  async function server(f: FakeVllm): Promise<{ client: LspClient; state: string; uri: string }> {
    const w = workspace({});
    const started = await startServer({
      init: { backends: { model: { kind: 'vllm', url: f.url, timeoutMs: NO_DEADLINE } }, inline: { debounceMs: 0, deadlineMs: NO_DEADLINE } },
      rootUri: pathToFileURL(w.dir).href,
    });
    started.client.open(URI(w.dir), 'python', CODE);
    return { client: started.client, state: started.state, uri: URI(w.dir) };
  }

  it('SIGKILLed the moment each answer arrives: one record per backend request', async () => {
    const f = await fake(() => ({ text: 'return fib(n - 1) + fib(n - 2)\n' }));
    // An inline completion, then an explain: each time the server is killed as its answer arrives.
    const first = await server(f);
    const items = await first.client.inline(first.uri, { line: 3, character: 4 }).result.then((r) => {
      first.client.child.kill('SIGKILL');
      return r;
    });
    expect(JSON.stringify(items)).toContain('fib(n - 1)');
    await first.client.exited;
    expect(auditLines(first.state).map((l) => [l.task, l.outcome])).toEqual([['inline', 'ok']]);
    expect(modelRequests(f)).toHaveLength(1);

    f.reset();
    f.set({ respond: () => ({ text: ANSWER }) });
    const second = await server(f);
    const explained = await second.client
      .request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: second.uri, range: { start: { line: 1, character: 0 }, end: { line: 2, character: 16 } } }] })
      .then((r) => {
        second.client.child.kill('SIGKILL');
        return r;
      });
    expect(explained).toEqual({ markdown: ANSWER });
    await second.client.exited;
    expect(auditLines(second.state).map((l) => [l.task, l.outcome])).toEqual([['explain', 'ok']]);
    expect(modelRequests(f)).toHaveLength(1);
  });

  const endings: Record<string, (c: LspClient) => void> = {
    SIGTERM: (c) => c.child.kill('SIGTERM'),
    SIGINT: (c) => c.child.kill('SIGINT'),
    'the exit notification': (c) => c.notify('exit'),
    'stdin closing': (c) => c.child.stdin.end(),
  };
  for (const [how, end] of Object.entries(endings)) {
    it(`ended by ${how} mid-request: the request is written as interrupted`, async () => {
      const f = await fake(() => ({ hang: true }));
      const { client, state, uri } = await server(f);
      void client.inline(uri, { line: 3, character: 4 }).result.catch(() => undefined);
      await f.waitFor((r) => r.path === '/v1/completions', NO_DEADLINE);
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => client.child.on('exit', (code, signal) => resolve([code, signal])));
      end(client);
      const [code, signal] = await exited;
      // Signals end it with the same signal; exit without shutdown and a closed stdin with 1 (LSP).
      if (how.startsWith('SIG')) expect(signal).toBe(how);
      else expect(code).toBe(1);
      expect(auditLines(state)).toMatchObject([{ task: 'inline', backend: 'model', outcome: 'interrupted', sources: expect.arrayContaining([expect.objectContaining({ path: 'fib.py' })]) }]);
    });
  }
});
