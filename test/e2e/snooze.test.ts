// Ghost text switched off for a while (tandem.snooze) or for a language (inline.languages), over
// stdio against the fake vLLM: while off, inline requests answer an empty list and the backend is
// asked nothing; the status says until when. Expiry is judged by the until-time the server reports.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED, until } from '../wait.js';
import { failure, stopChecked } from './servers.js';

const TS = 'file:///work/demo/src/main.ts';
const MD = 'file:///work/demo/README.md';
const PY = 'file:///work/demo/app.py';
const DOC = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const AT = { line: 1, character: 2 };

let fake: FakeVllm;
let client: LspClient | undefined;

beforeEach(async () => {
  fake = await startFakeVllm({ respond: () => ({ text: 'return a + b;' }) });
});

afterEach(async () => {
  const c = client;
  client = undefined;
  await stopChecked(c, [fake]);
});

const init = (inline: Record<string, unknown> = {}) => ({ backends: { fim: { kind: 'vllm', url: fake.url } }, context: { enabled: false }, inline: { ...INLINE_UNHURRIED, ...inline } });

let commands: string[] = [];

async function start(opts: { inline?: Record<string, unknown>; rootUri?: string } = {}): Promise<LspClient> {
  const home = mkdtempSync(join(tmpdir(), 'tandem-e2e-'));
  client = new LspClient({ env: { XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '' } });
  const result = (await client.initialize({ initializationOptions: init(opts.inline), rootUri: opts.rootUri ?? null })) as { capabilities: { executeCommandProvider: { commands: string[] } } };
  commands = result.capabilities.executeCommandProvider.commands;
  return client;
}

const snooze = (c: LspClient, args?: unknown[]) => c.request('workspace/executeCommand', { command: 'tandem.snooze', ...(args ? { arguments: args } : {}) }) as Promise<{ snoozedUntil: string | null }>;
const inlineItems = async (c: LspClient, uri: string) => ((await c.inline(uri, AT).result) as { items: { insertText: string }[] }).items.map((i) => i.insertText);
const statusOf = async (c: LspClient) => ((await c.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] })) as { status: { message: string; snoozedUntil?: string } }).status;

describe('tandem.snooze', () => {
  it('while snoozed, inline requests answer empty and the backend sees none; the status says until when; 0 resumes', async () => {
    const c = await start();
    expect(commands).toContain('tandem.snooze');
    c.open(TS, 'typescript', DOC);

    const before = Date.now();
    const { snoozedUntil } = await snooze(c, [30]);
    const after = Date.now();
    const end = Date.parse(snoozedUntil!);
    expect(end).toBeGreaterThanOrEqual(before + 30 * 60_000);
    expect(end).toBeLessThanOrEqual(after + 30 * 60_000);
    const note = await c.waitForNotification((n) => n.method === 'tandem/status' && n.params.snoozedUntil === snoozedUntil);
    expect(note.params.message).toMatch(/; inline completions snoozed until \d\d:\d\d$|; inline completions snoozed until \d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(note.params.state).toBe('ok'); // the backends' health is not the user's pause
    expect((await statusOf(c)).snoozedUntil).toBe(snoozedUntil);

    expect(await inlineItems(c, TS)).toEqual([]);
    expect(await inlineItems(c, TS)).toEqual([]);
    expect(fake.completions()).toHaveLength(0);

    expect(await snooze(c, [0])).toEqual({ snoozedUntil: null });
    const noteIndex = c.notifications.indexOf(note);
    await c.waitForNotification((n) => n.method === 'tandem/status' && c.notifications.indexOf(n) > noteIndex && n.params.snoozedUntil === undefined);
    expect((await statusOf(c)).snoozedUntil).toBeUndefined();
    expect(await inlineItems(c, TS)).toEqual(['return a + b;']);
    expect(fake.completions()).toHaveLength(1);

    // No argument resumes too; a second snooze moves the end.
    await snooze(c, [5]);
    const later = await snooze(c, [60]);
    expect(Date.parse(later.snoozedUntil!)).toBeGreaterThan(end);
    expect(await snooze(c)).toEqual({ snoozedUntil: null });
  });

  it('ends by itself at the time it reported: the status says so, and requests are served again', async () => {
    const c = await start();
    c.open(TS, 'typescript', DOC);
    const { snoozedUntil } = await snooze(c, [0.01]); // 600 ms
    const end = Date.parse(snoozedUntil!);
    const note = await c.waitForNotification((n) => n.method === 'tandem/status' && n.params.snoozedUntil === snoozedUntil);
    // Past the end the server reported, by the same clock: no margin on anyone's speed.
    await until(() => Date.now() >= end, 'the reported end of the snooze');
    const noteIndex = c.notifications.indexOf(note);
    const ended = await c.waitForNotification((n) => n.method === 'tandem/status' && c.notifications.indexOf(n) > noteIndex && n.params.snoozedUntil === undefined);
    expect(ended.params.message).not.toContain('snoozed');
    expect(await inlineItems(c, TS)).toEqual(['return a + b;']);
    expect(fake.completions()).toHaveLength(1);
  });

  it('a wrong argument is -32602 naming it, and changes nothing', async () => {
    const c = await start();
    const rows: [unknown, string][] = [
      [['ten'], 'tandem.snooze: arguments[0]: expected a number of minutes from 0 to 10080 (got "ten")'],
      [[-5], 'tandem.snooze: arguments[0]: expected a number of minutes from 0 to 10080 (got -5)'],
      [[1e9], 'tandem.snooze: arguments[0]: expected a number of minutes from 0 to 10080 (got 1000000000)'],
      [{ minutes: 5 }, 'tandem.snooze: arguments must be a list'],
    ];
    for (const [args, message] of rows) {
      const e = await failure(c.request('workspace/executeCommand', { command: 'tandem.snooze', arguments: args }));
      expect(e?.code).toBe(-32602);
      expect(e?.message.startsWith(message)).toBe(true);
    }
    expect((await statusOf(c)).snoozedUntil).toBeUndefined();
  });
});

describe('inline.languages', () => {
  it('a language switched off answers empty without a backend request; the others are served; a change applies at once', async () => {
    const c = await start({ inline: { languages: { markdown: false } } });
    c.open(MD, 'markdown', '# Notes\n  \n');
    c.open(TS, 'typescript', DOC);
    expect(await inlineItems(c, MD)).toEqual([]);
    expect(fake.completions()).toHaveLength(0);
    expect(await inlineItems(c, TS)).toEqual(['return a + b;']);
    expect(fake.completions()).toHaveLength(1);

    // "*" switches off what is not named; the change comes from the editor's settings.
    c.notify('workspace/didChangeConfiguration', { settings: { tandem: { inline: { languages: { '*': false, python: true } } } } });
    await c.waitForNotification((n) => n.method === 'window/logMessage' && String(n.params.message).includes('configuration loaded (didChangeConfiguration)'));
    c.open(PY, 'python', 'def add(a, b):\n  \n');
    expect(await inlineItems(c, TS)).toEqual([]);
    expect(fake.completions()).toHaveLength(1);
    expect(await inlineItems(c, PY)).toEqual(['return a + b;']);
    expect(fake.completions()).toHaveLength(2);
  });

  it("a workspace's tandem.json switches a language off", async () => {
    const root = mkdtempSync(join(tmpdir(), 'tandem-languages-'));
    writeFileSync(join(root, 'tandem.json'), JSON.stringify({ inline: { languages: { typescript: false } } }));
    writeFileSync(join(root, 'main.ts'), DOC);
    const uri = pathToFileURL(join(root, 'main.ts')).href;
    const c = await start({ rootUri: pathToFileURL(root).href });
    c.open(uri, 'typescript', DOC);
    c.open(PY, 'python', 'def add(a, b):\n  \n');
    expect(await inlineItems(c, uri)).toEqual([]);
    expect(await inlineItems(c, PY)).toEqual(['return a + b;']);
    expect(fake.completions()).toHaveLength(1);
  });
});
