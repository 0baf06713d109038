// End to end: the built `tandem-lsp --stdio` against the loopback fake vLLM, as an editor drives it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED, until } from '../wait.js';
import { breakerSurelyOpen, deadlinesExpired } from './servers.js';

const URI = 'file:///work/demo/src/main.ts';
const DOC = ['import { readFile } from "node:fs";', '', 'export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const CURSOR = { line: 3, character: 2 };

let fake: FakeVllm;
let client: LspClient | undefined;
let home: string;

function config(extra: Record<string, unknown> = {}) {
  return { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: INLINE_UNHURRIED, ...extra };
}

async function start(opts: { init?: unknown; capabilities?: unknown; env?: Record<string, string> } = {}) {
  client = new LspClient({ env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '', TANDEM_LOG: 'debug', ...(opts.env ?? {}) } });
  const init = await client.initialize({ initializationOptions: opts.init ?? config(), capabilities: opts.capabilities });
  return { client, init };
}

beforeEach(async () => {
  home = mkdtempSync(join(tmpdir(), 'tandem-e2e-'));
  fake = await startFakeVllm({ respond: () => ({ text: 'return a + b;' }) });
});

afterEach(async () => {
  if (client) {
    const c = client;
    client = undefined;
    await c.stop();
    expect(c.protocolErrors).toEqual([]);
  }
  await fake.close();
});

describe('tandem-lsp --stdio', () => {
  it('advertises the contract capabilities and completes from vLLM', async () => {
    const { client, init } = await start();
    expect(init.capabilities.inlineCompletionProvider).toBe(true);
    expect(init.capabilities.textDocumentSync.change).toBe(2);
    expect(init.capabilities.completionProvider).toBeUndefined(); // the client has ghost text
    expect(init.capabilities.executeCommandProvider.commands).toContain('tandem.accepted');
    expect(init.serverInfo.name).toBe('tandem');

    client.open(URI, 'typescript', DOC);
    const res = await client.inline(URI, CURSOR).result;
    expect(res.items).toHaveLength(1);
    expect(res.items[0].insertText).toBe('return a + b;');
    expect(res.items[0].range).toEqual({ start: CURSOR, end: CURSOR });
    expect(res.items[0].command.command).toBe('tandem.accepted');
    await client.request('workspace/executeCommand', { command: 'tandem.accepted', arguments: res.items[0].command.arguments });

    const [req] = fake.completions();
    expect(req!.body.stream).toBe(true);
    expect(req!.body).not.toHaveProperty('suffix');
    expect(req!.body.prompt).toMatch(/^<\|fim_prefix\|>\/\/ Path: .*main\.ts\nimport \{ readFile \}/);
    expect(req!.body.prompt).toContain('<|fim_suffix|>\n}\n<|fim_middle|>');
    expect(req!.body.max_tokens).toBe(128);
    expect(req!.body.temperature).toBeLessThanOrEqual(0.2);
    expect(req!.body.stop).toContain('<|endoftext|>');
    expect(req!.headers.authorization).toBeUndefined();
  });

  it('offers textDocument/completion to clients without inline completion', async () => {
    const { client, init } = await start({ capabilities: { textDocument: { completion: {} } } });
    expect(init.capabilities.completionProvider).toBeDefined();
    client.open(URI, 'typescript', DOC.replace('  \n}', '  ret\n}'));
    // The model continues after "ret"; the item's edit starts at the word so client filtering keeps it.
    fake.set({ respond: () => ({ text: 'urn a + b;' }) });
    const list = await client.request('textDocument/completion', { textDocument: { uri: URI }, position: { line: 3, character: 5 } });
    expect(list.isIncomplete).toBe(true);
    expect(list.items).toHaveLength(1);
    const item = list.items[0];
    expect(item.textEdit.newText).toBe('return a + b;');
    expect(item.filterText).toBe('return a + b;');
    expect(item.command.command).toBe('tandem.accepted');
    expect(item.textEdit.range).toEqual({ start: { line: 3, character: 2 }, end: { line: 3, character: 5 } });
  });

  it('$/cancelRequest closes the connection to the backend', async () => {
    fake.set({ respond: () => ({ hang: true }) });
    // The deadline is one only a stuck server reaches: nothing but the cancellation can close the request.
    const { client } = await start();
    client.open(URI, 'typescript', DOC);
    const { id, result } = client.inline(URI, CURSOR);
    const req = await fake.waitFor((r) => r.path === '/v1/completions');
    const cancelledAt = performance.now();
    client.cancel(id);
    await fake.waitFor((r) => r.id === req.id && r.closedAt !== null);
    expect(req.closedAt!).toBeGreaterThanOrEqual(cancelledAt);
    const outcome = await result.then((r) => r, (e) => e);
    // Either an empty list or a RequestCancelled error (-32800) is a correct answer.
    if (outcome instanceof Error) expect((outcome as Error & { code: number }).code).toBe(-32800);
    else expect(outcome.items).toEqual([]);
    expect(await deadlinesExpired(client)).toBe(0);
  });

  // How few requests reach the backend while typing is a speed goal, measured by bench/run.js
  // (the storm's "≤ 3"); the debounce's arithmetic is tested with given times (debounce.test.ts).
  // Here, what holds however fast the machine: no answer for stale text, the last one answered.
  it('a keystroke storm never answers for stale text, and answers the final text', async () => {
    // The fake echoes the cursor's line as it saw it, so every answer says which text it was for.
    const echo = (prompt: string) => {
      const before = prompt.slice(0, prompt.indexOf('<|fim_suffix|>'));
      return ` /*${before.slice(before.lastIndexOf('\n') + 1).trim()}*/`;
    };
    fake.set({ latencyMs: 40, respond: (r) => ({ text: echo(r.body.prompt) }) });
    const { client } = await start({ init: config({ inline: { ...INLINE_UNHURRIED, debounceMs: 'adaptive' } }) });
    client.open(URI, 'typescript', 'export function add(a: number, b: number): number {\n  \n}\n');
    const typed = 'const total';
    const pending: { id: number; result: Promise<any>; line: string }[] = [];
    let version = 1;
    let line = '';
    for (let i = 0; i < 100; i++) {
      // Type "const total", then alternate typing "x" and deleting it.
      const add = i < typed.length || (i - typed.length) % 2 === 0;
      const col = 2 + line.length;
      if (add) {
        const ch = i < typed.length ? typed[i]! : 'x';
        client.change(URI, ++version, [{ range: { start: { line: 1, character: col }, end: { line: 1, character: col } }, text: ch }]);
        line += ch;
      } else {
        client.change(URI, ++version, [{ range: { start: { line: 1, character: col - 1 }, end: { line: 1, character: col } }, text: '' }]);
        line = line.slice(0, -1);
      }
      const prev = pending[pending.length - 1];
      if (prev) client.cancel(prev.id);
      pending.push({ ...client.inline(URI, { line: 1, character: 2 + line.length }), line });
      await new Promise((r) => setTimeout(r, 25));
    }
    const results = await Promise.all(pending.map((p) => p.result.then((r) => r, () => ({ items: [] }))));
    results.forEach((r, i) => {
      for (const item of r.items) expect(item.insertText).toBe(` /*${pending[i]!.line}*/`);
    });
    expect(results[results.length - 1].items[0]?.insertText).toBe(` /*${line}*/`);
    // Every request the backend saw was for text that was typed, in typing order.
    const seen = fake.completions().map((r) => echo(r.body.prompt));
    const typedLines = pending.map((p) => ` /*${p.line}*/`);
    let at = 0;
    for (const s of seen) {
      at = typedLines.indexOf(s, at);
      expect(at, `backend request for ${s}`).toBeGreaterThanOrEqual(0);
    }
  });

  it('typing the shown completion is answered from the cache with no request', async () => {
    const { client } = await start();
    client.open(URI, 'typescript', DOC);
    const first = await client.inline(URI, CURSOR).result;
    expect(first.items[0].insertText).toBe('return a + b;');
    const before = fake.completions().length;
    client.change(URI, 2, [{ range: { start: CURSOR, end: CURSOR }, text: 'ret' }]);
    const second = await client.inline(URI, { line: 3, character: 5 }).result;
    expect(second.items[0].insertText).toBe('urn a + b;');
    client.change(URI, 3, [{ range: { start: { line: 3, character: 5 }, end: { line: 3, character: 5 } }, text: 'urn a' }]);
    const third = await client.inline(URI, { line: 3, character: 10 }).result;
    expect(third.items[0].insertText).toBe(' + b;');
    expect(fake.completions().length).toBe(before);
  });

  it('a dead backend gives empty results without waiting for the deadline, logged once', async () => {
    const dead = await startFakeVllm();
    const deadUrl = dead.url;
    await dead.close();
    const { client } = await start({ init: { backends: { fim: { kind: 'vllm', url: deadUrl } }, inline: INLINE_UNHURRIED } });
    client.open(URI, 'typescript', DOC);
    for (let i = 0; i < 4; i++) {
      const res = await client.inline(URI, CURSOR).result;
      expect(res.items).toEqual([]);
    }
    // As the server tells it: the refused connection ended each request, never the deadline.
    expect(await deadlinesExpired(client)).toBe(0);
    const warnings = client.stderr.split('\n').filter((l) => l.startsWith('[warn]') && l.includes('could not reach'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(deadUrl);
  });

  it('a hanging backend is cut at the inline deadline', async () => {
    fake.set({ respond: () => ({ hang: true }) });
    // Long enough that the request is surely out to the backend, on a starved machine, before it passes.
    const { client } = await start({ init: config({ inline: { debounceMs: 0, deadlineMs: 3000 } }) });
    client.open(URI, 'typescript', DOC);
    const res = await client.inline(URI, CURSOR).result;
    expect(res.items).toEqual([]);
    // As the server tells it: its deadline, of the configured length, ended the request, and the
    // connection was closed so that vLLM stops generating.
    expect(await deadlinesExpired(client)).toBe(1);
    await until(() => client.stderr.includes('did not answer within 3000 ms'), 'the timeout in the log');
    await fake.waitFor((r) => r.path === '/v1/completions' && r.closedAt !== null);
  });

  it('errors inside a 200 stream and HTTP errors in both shapes give empty results, then the breaker opens', async () => {
    const spawned = performance.now();
    const { client } = await start();
    client.open(URI, 'typescript', DOC);
    let opened = spawned;
    const replies = [
      { streamError: { message: 'engine died', code: 500 }, after: 'ret' },
      { streamError: { message: 'engine died', code: 500 }, shape: 'flat' as const },
      { status: 500, error: { message: 'boom' } },
    ];
    for (const [i, reply] of replies.entries()) {
      fake.set({ respond: () => reply });
      opened = performance.now();
      const res = await client.inline(URI, { line: 3, character: 2 + i }).result;
      expect(res.items).toEqual([]);
      client.change(URI, i + 2, [{ range: { start: { line: 3, character: 2 + i }, end: { line: 3, character: 2 + i } }, text: ' ' }]);
    }
    // Three failures in a row: the breaker is open and the backend is left alone for a while.
    const before = fake.completions().length;
    fake.set({ respond: () => ({ text: 'return a + b;' }) });
    const skipped = await client.inline(URI, { line: 3, character: 5 }).result;
    expect(skipped.items).toEqual([]);
    // Every failure was the backend's own, none a deadline.
    expect(await deadlinesExpired(client)).toBe(0);
    if (breakerSurelyOpen({ spawned, opened, done: performance.now() })) expect(fake.completions().length).toBe(before);
    // A machine starved past the breaker's wait: its one trial request got the good answer.
    else expect(fake.completions().length).toBeLessThanOrEqual(before + 1);
  });

  it('an HTTP error in the flat vLLM shape is reported with its message', async () => {
    fake.set({ respond: () => ({ status: 503, error: { message: 'engine is overloaded' }, shape: 'flat' as const }) });
    const { client } = await start();
    client.open(URI, 'typescript', DOC);
    expect((await client.inline(URI, CURSOR).result).items).toEqual([]);
    await until(() => client.stderr.includes('answered 503: engine is overloaded'), 'the 503 in the log');
  });

  it('shrinks the prompt once on a context-length 400 and still completes', async () => {
    fake.set({ maxModelLen: 700 });
    const big = Array.from({ length: 400 }, (_, i) => `const v${i} = ${i};`).join('\n') + '\nexport function f() {\n  \n}\n';
    const { client } = await start({ init: config({ inline: { ...INLINE_UNHURRIED, maxTokens: 64 } }) });
    client.open(URI, 'typescript', big);
    const res = await client.inline(URI, { line: 401, character: 2 }).result;
    expect(res.items[0]?.insertText).toBe('return a + b;');
    const reqs = fake.completions();
    expect(reqs.length).toBeGreaterThanOrEqual(1);
    expect(reqs.length).toBeLessThanOrEqual(2);
  });

  it('a bad configuration update is reported with its key and the last good one stays', async () => {
    // --config is user-level: it may set a backend, and a reload re-reads it.
    const file = join(home, 'flag.json');
    writeFileSync(file, JSON.stringify(config()));
    client = new LspClient({ args: ['--config', file], env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' } });
    await client.initialize({});
    client.open(URI, 'typescript', DOC);
    writeFileSync(file, JSON.stringify(config({ backends: { fim: { kind: 'vllm', url: 'not a url' } } })));
    client.notify('workspace/didChangeConfiguration', { settings: null });
    const msg = await client.waitForNotification((n) => n.method === 'window/showMessage' && n.params.type === 1);
    expect(msg.params.message).toContain(`${file}: backends.fim.url: expected a URL`);
    const res = await client.inline(URI, CURSOR).result;
    expect(res.items[0].insertText).toBe('return a + b;');
    // A good update applies without restart.
    const other = await startFakeVllm({ respond: () => ({ text: 'return b + a;' }) });
    try {
      writeFileSync(file, JSON.stringify(config({ backends: { fim: { kind: 'vllm', url: other.url } } })));
      client.notify('workspace/didChangeConfiguration', { settings: null });
      await client.waitForNotification((n) => n.method === 'window/logMessage' && n.params.message.includes('configuration loaded (didChangeConfiguration)'));
      client.change(URI, 2, [{ range: { start: CURSOR, end: CURSOR }, text: ' ' }]);
      const res2 = await client.inline(URI, { line: 3, character: 3 }).result;
      expect(res2.items[0].insertText).toBe('return b + a;');
    } finally {
      await other.close();
    }
  });

  it('pulls the tandem section with workspace/configuration; the user scope of a vouching client sets the backend', async () => {
    const other = await startFakeVllm({ respond: () => ({ text: 'pulled();' }) });
    try {
      client = new LspClient({
        env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' },
        onRequest: (method, params) => (method === 'workspace/configuration' ? params.items.map(() => ({ user: { backends: { fim: { kind: 'vllm', url: other.url } } }, workspace: { inline: INLINE_UNHURRIED } })) : null),
      });
      await client.initialize({ capabilities: { workspace: { configuration: true }, textDocument: { inlineCompletion: {} }, experimental: { tandem: { scopedSettings: true } } } });
      await client.waitForNotification((n) => n.method === 'window/logMessage' && n.params.message.includes('configuration loaded (initialized)'));
      client.open(URI, 'typescript', DOC);
      const res = await client.inline(URI, CURSOR).result;
      expect(res.items[0].insertText).toBe('pulled();');
      expect(client.notifications.filter((n) => n.method === 'window/showMessage')).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('a workspace tandem.json cannot redirect code to another server', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'tandem-ws-'));
    writeFileSync(join(ws, 'tandem.json'), JSON.stringify({ backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:1' } }, inline: { maxTokens: 5 } }));
    client = new LspClient({ env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' } });
    await client.initialize({ rootUri: `file://${ws}`, initializationOptions: config() });
    const warn = await client.waitForNotification((n) => n.method === 'window/showMessage' && n.params.type === 2);
    expect(warn.params.message).toContain('tandem.json: backends: ignored');
    const uri = `file://${ws}/a.ts`;
    client.open(uri, 'typescript', DOC);
    const res = await client.inline(uri, CURSOR).result;
    expect(res.items[0].insertText).toBe('return a + b;');
    expect(fake.completions()[0]!.body.max_tokens).toBe(128);
  });

  it('bad positions, unknown documents, CRLF, non-BMP text and binary content keep the server up', async () => {
    const { client } = await start();
    await expect(client.inline('file:///nope.ts', CURSOR).result).rejects.toThrow(/unknown document file:\/\/\/nope\.ts/);
    client.open(URI, 'typescript', DOC);
    await expect(client.inline(URI, { line: -1, character: 0 }).result).rejects.toThrow(/params\.position\.line: expected a non-negative integer \(got -1\)/);
    // Past the end of a line / the document: clamped like LSP says.
    const past = await client.inline(URI, { line: 3, character: 999 }).result;
    expect(past.items[0].range.start).toEqual({ line: 3, character: 2 });
    const far = await client.inline(URI, { line: 999, character: 0 }).result;
    expect(far.items[0]?.range.start ?? { line: 5, character: 0 }).toEqual({ line: 5, character: 0 });
    // CRLF and a surrogate pair before the cursor: positions are UTF-16 code units.
    const crlf = 'const s = "😀";\r\nfunction f() {\r\n  const x = \r\n}\r\n';
    const u2 = 'file:///work/demo/src/crlf.ts';
    client.open(u2, 'typescript', crlf);
    client.change(u2, 2, [{ range: { start: { line: 0, character: 13 }, end: { line: 0, character: 13 } }, text: '😀' }]);
    const r2 = await client.inline(u2, { line: 2, character: 12 }).result;
    expect(r2.items[0].range.start).toEqual({ line: 2, character: 12 });
    const prompt = fake.completions().at(-1)!.body.prompt as string;
    expect(prompt).toContain('const s = "😀😀";\r\nfunction f() {\r\n  const x = <|fim_suffix|>\r\n}');
    // Binary content: no request at all.
    const n = fake.completions().length;
    client.open('file:///work/demo/blob.ts', 'typescript', 'abc\u0000def');
    const r3 = await client.inline('file:///work/demo/blob.ts', { line: 0, character: 3 }).result;
    expect(r3.items).toEqual([]);
    expect(fake.completions().length).toBe(n);
    // A several-MB document still completes from text windows.
    const huge = 'let x = 1;\n'.repeat(400_000) + 'function g() {\n  \n}\n';
    client.open('file:///work/demo/huge.ts', 'typescript', huge);
    const r4 = await client.inline('file:///work/demo/huge.ts', { line: 400_001, character: 2 }).result;
    expect(r4.items[0].insertText).toBe('return a + b;');
    expect(fake.completions().at(-1)!.body.prompt.length).toBeLessThan(20_000);
  });

  it('sends the key from apiKeyEnv as a Bearer header and never logs it', async () => {
    const secret = 'sk-test-0123456789abcdef0123456789abcdef';
    // A server that echoes the key in its error message: the log must still not carry it.
    fake.set({ respond: () => ({ status: 401, error: { message: `invalid api key ${secret}` } }) });
    const { client } = await start({
      init: { backends: { fim: { kind: 'vllm', url: fake.url, apiKeyEnv: 'TANDEM_TEST_KEY' } }, inline: INLINE_UNHURRIED },
      env: { TANDEM_TEST_KEY: secret, TANDEM_LOG: 'trace' },
    });
    client.open(URI, 'typescript', DOC);
    const res = await client.inline(URI, CURSOR).result;
    expect(res.items).toEqual([]);
    expect(fake.completions()[0]!.headers.authorization).toBe(`Bearer ${secret}`);
    // Log lines travel on their own channels (stderr, window/logMessage): wait for them to arrive.
    await client.waitForNotification((n) => n.method === 'window/logMessage' && String(n.params.message).includes('answered 401'));
    await until(() => client.stderr.includes('answered 401'), 'the 401 in the log');
    const logs = client.notifications.filter((n) => n.method === 'window/logMessage').map((n) => n.params.message as string);
    expect(logs.some((l) => l.includes('answered 401') && l.includes('<redacted>'))).toBe(true);
    expect(client.stderr).toContain('answered 401');
    expect(client.stderr).not.toContain(secret);
    for (const l of logs) expect(l).not.toContain(secret);
  });

  it('accepts the --clientProcessId flag that vscode-languageclient adds', async () => {
    client = new LspClient({ args: ['--clientProcessId', String(process.pid)], env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' } });
    const init = await client.initialize({ initializationOptions: config() });
    expect(init.capabilities.inlineCompletionProvider).toBe(true);
  });

  it('exits 0 after shutdown and exit', async () => {
    const { client: c } = await start();
    client = undefined;
    expect(await c.stop()).toBe(0);
    expect(c.protocolErrors).toEqual([]);
  });
});
