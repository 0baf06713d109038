// clients/vscode: its settings equal the server's schema (where-code-goes keys user-level only), the
// settings it forwards keep the user's values apart from a repository's (checked against the real
// server), it type-checks against @types/vscode, and `npm run package:vscode` builds a .vsix whose
// bundled server really completes (native tree-sitter addon included). VS Code itself runs in
// vscode-real.test.ts.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { settingsFromSchema, untrustedWorkspaces, USER_ONLY_SECTIONS } from '../../clients/vscode/scripts/settings.mjs';
import { compareArgs, editArgs, explainArgs, isCommandOnly, previewText, snoozeArgs, snoozeChoices, statsMarkdown, statusBarText } from '../../clients/vscode/src/commands.js';
import { declareNextEdits, declareScopedSettings, scopedSection, userSettings, type Inspected } from '../../clients/vscode/src/configuration.js';
import { isServerLogLine, StderrReader } from '../../clients/vscode/src/serverLog.js';
import { ChatStream, countText, modelInformation, modelsOf, pickerName, requestOptions, ROLE, TOOL_MODE, toolInput, toTandemMessages } from '../../clients/vscode/src/chatModel.js';
import { LspClient, STUCK_MS } from '../lsp-client.js';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXT = join(ROOT, 'clients/vscode');
const pkg = JSON.parse(readFileSync(join(EXT, 'package.json'), 'utf8'));
const installed = existsSync(join(EXT, 'node_modules/@vscode/vsce'));
// In CI a missing install is a failure, not a skip.
if (!installed && process.env.CI !== 'true') console.warn('test/clients/vscode.test.ts: build checks SKIPPED: run `npm ci --prefix clients/vscode` first');

describe('VS Code extension manifest', () => {
  it('contributes exactly the server schema as tandem.* settings (regenerate: npm run settings --prefix clients/vscode)', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'server/tandem.schema.json'), 'utf8'));
    expect(pkg.contributes.configuration.properties).toEqual(settingsFromSchema(schema));
    expect(Object.keys(pkg.contributes.configuration.properties)).toContain('tandem.inline.maxTokens');
  });

  it('keeps the keys that decide where code goes out of workspace settings: machine scope, and restricted in untrusted workspaces', () => {
    const settings: Record<string, { scope?: string }> = pkg.contributes.configuration.properties;
    const userOnly = Object.keys(settings).filter((k) => USER_ONLY_SECTIONS.includes(k.split('.')[1]!));
    expect(userOnly).toEqual(expect.arrayContaining(['tandem.backends', 'tandem.routes.inline', 'tandem.privacy.airGapped', 'tandem.privacy.onPremOnly', 'tandem.audit.enabled', 'tandem.audit.path', 'tandem.budget.dailyUsd']));
    for (const key of userOnly) expect(settings[key]!.scope, key).toBe('machine');
    for (const key of Object.keys(settings).filter((k) => !userOnly.includes(k))) expect(settings[key]!.scope, key).toBeUndefined();
    expect(pkg.capabilities.untrustedWorkspaces).toEqual(untrustedWorkspaces(settings));
    expect(pkg.capabilities.untrustedWorkspaces.supported).toBe('limited');
    expect(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations).toEqual(userOnly);
  });

  it('has its own commands, apart from the server commands vscode-languageclient registers', () => {
    const ids = pkg.contributes.commands.map((c: { command: string }) => c.command);
    expect(ids).toEqual(expect.arrayContaining(['tandem.explainSelection', 'tandem.editSelection', 'tandem.editWorkspace', 'tandem.compareBackends', 'tandem.showStats', 'tandem.showStatus', 'tandem.snoozeInline']));
    for (const serverCommand of ['tandem.explain', 'tandem.edit', 'tandem.compare', 'tandem.stats', 'tandem.accepted', 'tandem.snooze', 'tandem.nextEditAccepted', 'tandem.nextEditDismissed']) expect(ids).not.toContain(serverCommand);
    // Tab and Escape reach the next edit only while one is shown and no ghost text or suggest widget claims them.
    const keys = pkg.contributes.keybindings.map((k: { command: string; key: string; when: string }) => [k.command, k.key, k.when]);
    expect(keys).toEqual([
      ['tandem.acceptNextEdit', 'tab', expect.stringMatching(/^editorTextFocus && tandem\.nextEditVisible && !inlineSuggestionVisible && !suggestWidgetVisible/)],
      ['tandem.dismissNextEdit', 'escape', expect.stringMatching(/^editorTextFocus && tandem\.nextEditVisible && !inlineSuggestionVisible && !suggestWidgetVisible/)],
    ]);
  });

  it('pins exact dependency versions', () => {
    for (const v of Object.values({ ...pkg.dependencies, ...pkg.devDependencies })) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.devDependencies['@vscode/vsce']).toBe('3.9.2');
  });
});

// The arguments the extension's commands send, against the real server as VS Code declares itself
// (resolve support, window/showDocument): accepted, answered, and nothing opened twice.
describe('VS Code command arguments against the server', () => {
  const URI = 'file:///w/calc.py';
  const DOC = 'def add(a, b):\n    return a + b\n';
  const LINE = { start: { line: 1, character: 0 }, end: { line: 1, character: 16 } };
  const EXPLANATION = '`add` returns the sum.';
  const EDIT = ['<<<<<<< SEARCH', '    return a + b', '=======', '    return sum((a, b))', '>>>>>>> REPLACE'].join('\n');
  let fake: FakeVllm;
  let client: LspClient;

  beforeAll(async () => {
    fake = await startFakeVllm({ respond: (req) => ({ text: /explain code/i.test(String(req.body?.messages?.[0]?.content)) ? EXPLANATION : EDIT }) });
    const home = mkdtempSync(join(tmpdir(), 'tandem-vscode-args-'));
    client = new LspClient({ env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' }, onRequest: (method) => (method === 'workspace/applyEdit' ? { applied: true } : method === 'window/showDocument' ? { success: true } : null) });
    await client.initialize({
      rootUri: 'file:///w',
      capabilities: { textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } }, window: { showDocument: { support: true }, workDoneProgress: true }, workspace: { applyEdit: true } },
      initializationOptions: { backends: { chat: { kind: 'vllm', url: fake.url } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] }, context: { enabled: false } },
    });
    client.open(URI, 'python', DOC);
    // The first parse waits for an idle moment; listing parses a document that has none yet.
    await client.request('textDocument/codeAction', { textDocument: { uri: URI }, range: LINE, context: { diagnostics: [] } });
  });

  afterAll(async () => {
    await client?.stop();
    await fake?.close();
  });

  const exec = (command: string, args: unknown[]) => client.request('workspace/executeCommand', { command, arguments: args });

  it('Explain sends open: false; the server answers the Markdown and opens no document itself', async () => {
    expect(explainArgs({ uri: URI, range: LINE })).toEqual([{ uri: URI, range: LINE, open: false }]);
    expect(await exec('tandem.explain', explainArgs({ uri: URI, range: LINE }))).toEqual({ markdown: EXPLANATION });
    expect(client.serverRequests.filter((r) => r.method === 'window/showDocument')).toEqual([]);
  });

  it('Edit with Instruction sends scope "file"; the server applies the edit through workspace/applyEdit', async () => {
    expect(await exec('tandem.edit', editArgs({ uri: URI, range: LINE }, 'use sum', 'file'))).toEqual({ applied: true });
    const apply = client.serverRequests.find((r) => r.method === 'workspace/applyEdit');
    expect(apply?.params.edit.documentChanges[0].edits).toEqual([{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 16 } }, newText: '    return sum((a, b))' }]);
    expect(editArgs({ uri: URI, range: LINE }, 'x', 'workspace')).toEqual([{ uri: URI, range: LINE, instruction: 'x', scope: 'workspace' }]);
  });

  it('Compare sends the instruction only when one was typed', () => {
    expect(compareArgs({ uri: URI, range: LINE }, '')).toEqual([{ uri: URI, range: LINE }]);
    expect(compareArgs({ uri: URI, range: LINE }, 'add types')).toEqual([{ uri: URI, range: LINE, instruction: 'add types' }]);
  });

  it('Show Stats renders the server\'s answer as Markdown', async () => {
    const md = statsMarkdown(await exec('tandem.stats', []));
    expect(md).toMatch(/^# tandem stats\n\nrequests \d+, shown \d+ \(from cache \d+\), accepted \d+, partly accepted \d+\n/);
    expect(md).toMatch(/\| chat \| \d+ \| \d+ \| \d+ \| \d+ \| \d+ \|/); // the two chat calls above have latencies
    expect(md).toMatch(/^status: (ok|degraded|offline)/m);
    expect(md).toMatch(/^next edits: requests \d+, suggested \d+, shown \d+, accepted \d+, dismissed \d+$/m);
    const counted = statsMarkdown({ nextEdit: { requests: 3, suggested: { zeta: 2, sweep: 1 }, shown: { zeta: 2 }, accepted: { zeta: 1 }, dismissed: { sweep: 1 } } });
    expect(counted).toContain('next edits: requests 3, suggested 3, shown 2, accepted 1, dismissed 1\n');
    expect(counted).toContain('| sweep | 1 | 0 | 0 | 1 |\n| zeta | 2 | 2 | 1 | 0 |');
  });

  it('next edits: the client declares that it shows them itself; their text shows on one line, cut when long', () => {
    const caps: { experimental?: unknown } = {};
    declareScopedSettings(caps);
    declareNextEdits(caps);
    expect(caps.experimental).toEqual({ tandem: { scopedSettings: true, nextEdits: true } });
    expect(previewText(', 1')).toBe(', 1');
    expect(previewText('a\n  b\r\nc')).toBe('a⏎  b⏎c');
    const long = previewText('x'.repeat(500));
    expect([long.length, long.endsWith('…')]).toEqual([120, true]);
  });

  it('Snooze Inline Completions sends the minutes picked; the status bar says snoozed until the server says it ended', async () => {
    expect(snoozeChoices(undefined).map((c) => c.minutes)).toEqual([5, 15, 30, 60, 240]);
    const snoozed = (await exec('tandem.snooze', snoozeArgs(snoozeChoices(undefined)[2]!.minutes))) as { snoozedUntil: string };
    const note = await client.waitForNotification((n) => n.method === 'tandem/status' && n.params.snoozedUntil === snoozed.snoozedUntil);
    expect(statusBarText(note.params)).toBe('$(clock) tandem snoozed');
    expect(snoozeChoices(note.params.snoozedUntil)[0]).toEqual({ label: 'Resume now', minutes: 0 });
    expect(await exec('tandem.snooze', snoozeArgs(0))).toEqual({ snoozedUntil: null });
    const i = client.notifications.indexOf(note);
    const resumed = await client.waitForNotification((n) => n.method === 'tandem/status' && client.notifications.indexOf(n) > i);
    expect(statusBarText(resumed.params)).toMatch(/^\$\((check|warning|error)\) tandem/);
  });

  it('the output channel: stderr read as the extension reads it gives every server line once at its own level; window/logMessage copies are recognised and left out', () => {
    const reader = new StderrReader();
    const shown = client.stderr.split('\n').map((l) => reader.line(l)).filter((l) => l !== undefined);
    const messages = client.notifications.filter((n) => n.method === 'window/logMessage').map((n) => n.params.message as string);
    expect(messages.length).toBeGreaterThan(0);
    for (const m of messages) expect(isServerLogLine(m), m).toBe(true);
    // What window/logMessage carried (from initialize on) is on stderr too, with the level it had there.
    const levelOf: Record<number, string> = { 1: 'error', 2: 'warn', 3: 'info', 4: 'debug', 5: 'debug' };
    const fromStderr = shown.map((l) => `${l.level} ${l.text}`);
    for (const n of client.notifications.filter((x) => x.method === 'window/logMessage')) {
      const [, level, text] = /^\[(\w+)\] (.*)$/s.exec(n.params.message)!;
      expect(fromStderr).toContain(`${level} ${text}`);
      if (n.params.type <= 3) expect(levelOf[n.params.type]).toBe(level);
    }
    expect(shown.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('the output channel: a stack trace continues its line\'s level, Node\'s warnings are warnings, anything else on stderr is an error', () => {
    const r = new StderrReader();
    expect(r.line('[warn] backend: fim: could not reach http://gpu:8000/v1')).toEqual({ level: 'warn', text: 'backend: fim: could not reach http://gpu:8000/v1' });
    expect(r.line('    at Backend.call (backend.js:1:1)')).toEqual({ level: 'warn', text: '    at Backend.call (backend.js:1:1)' });
    expect(r.line('')).toBeUndefined();
    expect(r.line('(node:123) ExperimentalWarning: WASI is an experimental feature')).toEqual({ level: 'warn', text: '(node:123) ExperimentalWarning: WASI is an experimental feature' });
    expect(r.line('/ext/server/out/cli/main.js:12')?.level).toBe('error');
    expect(r.line('TypeError: x is not a function')?.level).toBe('error');
    expect(r.line('    at main (main.js:3:4)')?.level).toBe('error');
    expect(isServerLogLine('Sending notification workspace/didChangeConfiguration failed')).toBe(false);
    expect(isServerLogLine('[error] server: didChangeConfiguration failed: Error: x\n    at y')).toBe(true);
  });

  it('the Explain code action is kept from codeAction/resolve; edit actions are resolved', async () => {
    const actions = (await client.request('textDocument/codeAction', { textDocument: { uri: URI }, range: { start: { line: 1, character: 6 }, end: { line: 1, character: 6 } }, context: { diagnostics: [] } })) as any[];
    const explain = actions.find((a) => a.kind === 'source.tandem.explain');
    expect(isCommandOnly(explain, 'tandem.explain')).toBe(true);
    expect(actions.filter((a) => a !== explain).every((a) => !isCommandOnly(a, 'tandem.explain'))).toBe(true);
  });
});

// What the extension forwards, built from VS Code's `inspect()` records the way src/extension.ts
// does, then answered to the real server's workspace/configuration pull: a repository's
// .vscode/settings.json must not redirect code, while the same value in the user's settings does.
// The chat model provider's translations (clients/vscode/src/chatModel.ts), and the requests they
// make checked against the real server: accepted, and the tool calls and results passed on to the
// backend as OpenAI's. VS Code's parts are plain objects of the same shape here (the classes live in
// the `vscode` module); vscode-chat-real.suite.ts runs the provider inside real VS Code.
describe('VS Code chat model provider', () => {
  const text = (value: string) => ({ value });
  const call = (callId: string, name: string, input: object) => ({ callId, name, input });
  const result = (callId: string, content: unknown[]) => ({ callId, content, isError: false });

  it('names models "tandem · NAME (on-prem)" / "(cloud)" with the server\'s window and tool calling', () => {
    const rows = modelsOf({ models: [
      { id: 'tandem/auto', name: 'auto', location: 'onprem', maxInputTokens: 28672, maxOutputTokens: 4096, toolCalling: true, healthy: true },
      { id: 'tandem/big', name: 'big (gpt-x)', backend: 'big', location: 'cloud', maxInputTokens: 100000, maxOutputTokens: 4096, toolCalling: false, healthy: false },
      { id: 'broken' },
    ] });
    expect(rows.map((m) => modelInformation(m))).toEqual([
      expect.objectContaining({ id: 'tandem/auto', name: 'tandem · auto (on-prem)', maxInputTokens: 28672, maxOutputTokens: 4096, capabilities: { toolCalling: true, imageInput: false }, detail: 'on-prem' }),
      expect.objectContaining({ id: 'tandem/big', name: 'tandem · big (gpt-x) (cloud)', maxInputTokens: 100000, capabilities: { toolCalling: false, imageInput: false }, detail: 'unhealthy' }),
    ]);
    expect(pickerName({ name: 'gpu', location: 'onprem' })).toBe('tandem · gpu (on-prem)');
    expect(modelsOf(null)).toEqual([]);
  });

  it('turns VS Code\'s messages into tandem\'s: tool calls on the assistant\'s turn, tool results as tool messages right after it', () => {
    const messages = toTandemMessages([
      { role: ROLE.System, content: [text('Be brief.')] },
      { role: ROLE.User, content: [text('What is in '), text('calc.py?')] },
      { role: ROLE.Assistant, content: [text('Let me look.'), call('c1', 'read_file', { path: 'calc.py' })] },
      { role: ROLE.User, content: [result('c1', [text('def add(a, b): ...'), { mimeType: 'application/json', data: new TextEncoder().encode('{"lines":1}') }]), text('Thanks')] },
      { role: ROLE.Assistant, content: [call('c2', 'noop', {})] },
      { role: ROLE.User, content: [result('c2', [{ mimeType: 'image/png', data: new Uint8Array([1, 2]) }])] },
    ]);
    expect(messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is in calc.py?' },
      { role: 'assistant', content: 'Let me look.', toolCalls: [{ id: 'c1', type: 'function', function: { name: 'read_file', arguments: '{"path":"calc.py"}' } }] },
      { role: 'tool', toolCallId: 'c1', content: 'def add(a, b): ...{"lines":1}' },
      { role: 'user', content: 'Thanks' },
      { role: 'assistant', content: null, toolCalls: [{ id: 'c2', type: 'function', function: { name: 'noop', arguments: '{}' } }] },
      { role: 'tool', toolCallId: 'c2', content: '' },
    ]);
    expect(() => toTandemMessages([{ role: 7, content: [] }])).toThrow(/message 0 has role 7/);
  });

  it('passes tools, the required tool mode and model options on', () => {
    const tools = [{ name: 'read_file', description: 'Read a file', inputSchema: { type: 'object', properties: { path: { type: 'string' } } } }, { name: 'noop' }];
    expect(requestOptions({ tools, toolMode: TOOL_MODE.Auto, modelOptions: { temperature: 0.2, maxTokens: 100 } })).toEqual({
      tools: [
        { type: 'function', function: { name: 'read_file', description: 'Read a file', parameters: tools[0]!.inputSchema } },
        { type: 'function', function: { name: 'noop', parameters: { type: 'object', properties: {} } } },
      ],
      temperature: 0.2,
      maxTokens: 100,
    });
    expect(requestOptions({ tools: [tools[1]!], toolMode: TOOL_MODE.Required })).toMatchObject({ toolChoice: { type: 'function', function: { name: 'noop' } } });
    expect(requestOptions({ tools, toolMode: TOOL_MODE.Required })).toMatchObject({ toolChoice: 'required' });
    expect(requestOptions({})).toEqual({});
  });

  it('shows text as it streams, the rest a server sent only in its result, and hands over whole tool calls', () => {
    const shown: string[] = [];
    const s = new ChatStream((t) => shown.push(t));
    s.delta({ text: 'Hel' });
    s.delta({ toolCalls: [{ index: 0, id: 'c1', function: { name: 'read_file', arguments: '{"pa' } }] });
    s.delta({ text: 'lo' });
    const calls = s.finish({ text: 'Hello, world', toolCalls: [{ id: 'c1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a.py"}' } }], finishReason: 'tool_calls', backend: 'gpu', model: 'm', location: 'onprem' });
    expect(shown).toEqual(['Hel', 'lo', ', world']);
    expect(calls).toEqual([{ callId: 'c1', name: 'read_file', input: { path: 'a.py' } }]);
    expect(() => toolInput({ id: 'c9', function: { name: 'f', arguments: '{oops' } })).toThrow(/call of tool "f" \(c9\) has arguments that are not JSON/);
    expect(countText({ content: [text('ab'), call('c', 'f', { x: 1 })] })).toBe('abf{"x":1}');
  });

  it('the real server accepts those requests and hands the tool calls and results to the backend as OpenAI\'s', async () => {
    const fake = await startFakeVllm({
      respond: (req) =>
        String(req.body?.messages?.at(-1)?.content).includes('Call it.') ? { toolCalls: [{ name: 'read_file', arguments: '{"path": "calc.py"}', chunks: ['{"pa', 'th": "calc.py"}'] }] } : { text: 'Done.', chunks: ['Do', 'ne.'] },
    });
    const home = mkdtempSync(join(tmpdir(), 'tandem-vscode-chat-'));
    const client = new LspClient({ env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '' } });
    try {
      await client.initialize({ rootUri: 'file:///w', capabilities: {}, initializationOptions: { backends: { gpu: { kind: 'vllm', url: fake.url } }, context: { enabled: false } } });
      const models = modelsOf(await client.request('tandem/chatModels', {}));
      expect(models.map((m) => modelInformation(m).name)).toEqual(['tandem · auto (on-prem)', 'tandem · gpu (Qwen/Qwen2.5-Coder-7B) (on-prem)']);
      const messages = toTandemMessages([
        { role: ROLE.User, content: [text('What is in calc.py?')] },
        { role: ROLE.Assistant, content: [call('c1', 'read_file', { path: 'calc.py' })] },
        { role: ROLE.User, content: [result('c1', [text('def add(a, b): ...')])] },
      ]);
      const options = requestOptions({ tools: [{ name: 'read_file', description: 'Read a file', inputSchema: { type: 'object', properties: { path: { type: 'string' } } } }], toolMode: TOOL_MODE.Auto });
      const answer = await client.request('tandem/chat', { messages, model: 'tandem/auto', ...options, partialResultToken: 'p1' });
      expect(answer).toMatchObject({ text: 'Done.', backend: 'gpu', location: 'onprem' });
      const pieces = client.notifications.filter((n) => n.method === '$/progress' && n.params.token === 'p1').map((n) => n.params.value.text);
      expect(pieces.join('')).toBe('Done.');
      const sent = fake.requests.find((r) => r.path === '/v1/chat/completions')!.body;
      expect(sent.tools).toEqual([{ type: 'function', function: { name: 'read_file', description: 'Read a file', parameters: { type: 'object', properties: { path: { type: 'string' } } } } }]);
      expect(sent.messages.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'read_file', arguments: '{"path":"calc.py"}' } }] });
      expect(sent.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'c1', content: 'def add(a, b): ...' });
      // The other way: the backend's streamed tool call comes back whole, as VS Code gets it.
      const called = (await client.request('tandem/chat', { messages: toTandemMessages([{ role: ROLE.User, content: [text('Call it.')] }]), ...options, partialResultToken: 'p2' })) as Parameters<ChatStream['finish']>[0];
      const stream = new ChatStream(() => undefined);
      for (const n of client.notifications.filter((x) => x.method === '$/progress' && x.params.token === 'p2')) stream.delta(n.params.value);
      expect(stream.finish(called)).toEqual([{ callId: expect.any(String), name: 'read_file', input: { path: 'calc.py' } }]);
      const counted = (await client.request('tandem/countTokens', { model: 'tandem/gpu', text: countText('one two three four') })) as { tokens: number };
      expect(counted.tokens).toBeGreaterThan(0);
    } finally {
      await client.stop();
      await fake.close();
    }
  }, 60_000);
});

describe('VS Code settings forwarding against the server', () => {
  const KEYS = Object.keys(pkg.contributes.configuration.properties);
  const URI = 'file:///w/calc.py';
  const DOC = 'def add(a, b):\n    \n';
  const CURSOR = { line: 1, character: 4 };
  let home: FakeVllm;
  let foreign: FakeVllm;
  const clients: LspClient[] = [];

  beforeAll(async () => {
    home = await startFakeVllm({ respond: () => ({ text: 'return a + b' }) });
    foreign = await startFakeVllm({ respond: () => ({ text: 'return a + b' }) });
  });
  afterAll(async () => {
    for (const c of clients) await c.stop();
    await home?.close();
    await foreign?.close();
  });

  /** `inspect` over a table of VS Code records, as settings.json files would give them. */
  const inspectOf = (records: Record<string, Inspected>) => (key: string) => records[key];

  /**
   * The server as vscode-languageclient drives it: initializationOptions = user values, the
   * scopedSettings capability, and the pull answered with scopedSection. Resolves once the server
   * reports the pulled configuration loaded.
   */
  async function serverWith(records: Record<string, Inspected>): Promise<LspClient> {
    const inspect = inspectOf(records);
    const capabilities: Record<string, any> = { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } }, textDocument: { inlineCompletion: {} } };
    declareScopedSettings(capabilities);
    const client = new LspClient({
      env: { XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'tandem-vscode-scope-')), TANDEM_CONFIG: '' },
      onRequest: (method, params) => (method === 'workspace/configuration' ? params.items.map((item: { section?: string }) => (item.section === 'tandem' ? scopedSection(KEYS, inspect) : null)) : null),
    });
    clients.push(client);
    await client.initialize({ rootUri: 'file:///w', capabilities, initializationOptions: userSettings(KEYS, inspect) });
    await client.waitForNotification((n) => n.method === 'window/logMessage' && /configuration loaded \(initialized\)/.test(String(n.params.message))).catch((err: Error) => {
      const shown = client.notifications.filter((n) => n.method === 'window/showMessage').map((n) => n.params.message);
      throw new Error(`${err.message}; the server showed ${JSON.stringify(shown)} (a server without experimental.tandem.scopedSettings rejects the {user, workspace} answer)`);
    });
    expect(client.serverRequests.filter((r) => r.method === 'workspace/configuration')).toHaveLength(1);
    return client;
  }

  it('declares scopedSettings beside other experimental capabilities', () => {
    const caps: { experimental?: unknown } = { experimental: { other: 1 } };
    declareScopedSettings(caps);
    expect(caps.experimental).toEqual({ other: 1, tandem: { scopedSettings: true } });
  });

  it('puts a workspace value only under `workspace`, a user value under `user` and in initializationOptions, defaults nowhere', () => {
    const records: Record<string, Inspected> = {
      'tandem.backends': { globalValue: { fim: { kind: 'vllm', url: home.url } }, workspaceValue: { fim: { kind: 'vllm', url: foreign.url } } },
      'tandem.routes.inline': { workspaceFolderValue: ['evil'], workspaceValue: ['fim'] },
      'tandem.inline.maxTokens': { workspaceValue: 5 },
      'tandem.inline.debounceMs': { globalValue: 0 },
      'tandem.inline.enabled': {}, // only a default: not sent
    };
    expect(scopedSection(KEYS, inspectOf(records))).toEqual({
      user: { backends: { fim: { kind: 'vllm', url: home.url } }, inline: { debounceMs: 0 } },
      workspace: { backends: { fim: { kind: 'vllm', url: foreign.url } }, routes: { inline: ['evil'] }, inline: { maxTokens: 5 } },
    });
    expect(userSettings(KEYS, inspectOf(records))).toEqual({ backends: { fim: { kind: 'vllm', url: home.url } }, inline: { debounceMs: 0 } });
  });

  // Needs the server side of the trust boundary (issue #12): the scoped answer's `workspace` part
  // may only tighten where code goes.
  it('a repository .vscode/settings.json tandem.backends sends zero requests to its server; its other keys apply', async () => {
    const client = await serverWith({
      'tandem.backends': { globalValue: { fim: { kind: 'vllm', url: home.url } }, workspaceValue: { fim: { kind: 'vllm', url: foreign.url } } },
      'tandem.inline.debounceMs': { globalValue: 0 },
      'tandem.inline.deadlineMs': { globalValue: STUCK_MS },
      'tandem.inline.maxTokens': { workspaceValue: 5 },
    });
    client.open(URI, 'python', DOC);
    const res = await client.inline(URI, CURSOR).result;
    expect(res.items[0]?.insertText).toBe('return a + b');
    expect(foreign.requests).toEqual([]);
    expect(home.completions()).toHaveLength(1);
    expect(home.completions()[0]!.body.max_tokens).toBe(5); // the pulled workspace part was in force
    const warnings = client.notifications.filter((n) => n.method === 'window/showMessage' && n.params.type === 2).map((n) => String(n.params.message));
    expect(warnings.some((m) => m.includes('backends'))).toBe(true);
  }, 60_000);

  it('the same tandem.backends in the user settings does take effect', async () => {
    home.reset();
    foreign.reset();
    const client = await serverWith({
      'tandem.backends': { globalValue: { fim: { kind: 'vllm', url: foreign.url } } },
      'tandem.inline.debounceMs': { globalValue: 0 },
      'tandem.inline.deadlineMs': { globalValue: STUCK_MS },
    });
    client.open(URI, 'python', DOC);
    const res = await client.inline(URI, CURSOR).result;
    expect(res.items[0]?.insertText).toBe('return a + b');
    expect(foreign.completions()).toHaveLength(1);
    expect(home.requests).toEqual([]);
  }, 60_000);
});

describe.skipIf(!installed && process.env.CI !== 'true')('VS Code extension build', () => {
  let fake: FakeVllm;
  let vsix: string;
  let unpacked: string;

  beforeAll(async () => {
    if (!installed) throw new Error('clients/vscode has no node_modules; CI must run `npm ci --prefix clients/vscode`');
    fake = await startFakeVllm({ respond: () => ({ text: 'return a + b' }) });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('type-checks against @types/vscode', async () => {
    await run(process.execPath, [join(EXT, 'node_modules/typescript/bin/tsc'), '-p', join(EXT, 'tsconfig.json'), '--noEmit'], { cwd: EXT });
  }, 120_000);

  it('packages a .vsix for this platform with the server and its prebuilt tree-sitter addon', async () => {
    const target = `${process.platform}-${process.arch}`;
    const { stdout } = await run(process.execPath, [join(EXT, 'scripts/package.mjs'), '--target', target], { cwd: ROOT, maxBuffer: 1 << 24 });
    vsix = stdout.trim().split('\n').pop()!;
    expect(vsix).toBe(join(EXT, 'dist', `tandem-vscode-${target}-${pkg.version}.vsix`));
    unpacked = mkdtempSync(join(tmpdir(), 'tandem-vsix-'));
    const names = await unzip(vsix, unpacked);
    expect(names).toEqual(expect.arrayContaining([
      'extension/package.json',
      'extension/dist/extension.js',
      'extension/server/bin/tandem-lsp.js',
      'extension/server/out/cli/main.js',
      `extension/server/node_modules/tree-sitter/prebuilds/${target}/tree-sitter.node`,
      `extension/server/node_modules/tree-sitter-python/prebuilds/${target}/tree-sitter-python.node`,
    ]));
    // Sources, the extension's own node_modules and other platforms' addons stay out.
    expect(names.filter((n) => n.startsWith('extension/src/') || n.startsWith('extension/node_modules/') || /\.map$/.test(n))).toEqual([]);
    expect(names.filter((n) => /\/prebuilds\//.test(n) && !n.includes(`/prebuilds/${target}/`))).toEqual([]);
    // tree-sitter compiled at install time goes in too: upstream's linux prebuild needs a newer libstdc++.
    if (existsSync(join(ROOT, 'node_modules/tree-sitter/build/Release/tree_sitter_runtime_binding.node'))) {
      expect(names).toContain('extension/server/node_modules/tree-sitter/build/Release/tree_sitter_runtime_binding.node');
    }
    expect(names.filter((n) => n.includes('/build/') && !n.endsWith('.node'))).toEqual([]);
    const manifest = readFileSync(join(unpacked, 'extension.vsixmanifest'), 'utf8');
    expect(manifest).toContain(`TargetPlatform="${target}"`);
  }, 120_000);

  it('the packaged server starts from the .vsix alone and completes a Python file', async () => {
    const server = join(unpacked, 'extension/server/bin/tandem-lsp.js');
    const { stdout: version } = await run(process.execPath, [server, '--version']);
    expect(version.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const dir = mkdtempSync(join(tmpdir(), 'tandem-vsix-run-'));
    writeFileSync(join(dir, 'calc.py'), 'def add(a, b):\n    \n');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ backends: { fim: { kind: 'vllm', url: fake.url } } }));
    const env = { ...process.env, XDG_CONFIG_HOME: dir, TANDEM_CONFIG: '', NODE_PATH: '' };
    const { stdout } = await run(process.execPath, [server, 'complete', `${join(dir, 'calc.py')}:2:5`, '--config', join(dir, 'config.json'), '--json'], { cwd: dir, env });
    expect(JSON.parse(stdout)).toMatchObject({ text: 'return a + b', backend: 'fim' });
  });
});

/** Extracts a zip with yauzl (a dependency of vsce); returns the entry names. */
async function unzip(file: string, into: string): Promise<string[]> {
  const require = createRequire(join(EXT, 'package.json'));
  const yauzl = require('yauzl');
  const zip = await promisify(yauzl.open)(file, { lazyEntries: true });
  const names: string[] = [];
  await new Promise<void>((resolveAll, reject) => {
    zip.on('error', reject);
    zip.on('end', resolveAll);
    zip.on('entry', (entry: { fileName: string }) => {
      names.push(entry.fileName);
      if (entry.fileName.endsWith('/')) return zip.readEntry();
      zip.openReadStream(entry, (err: Error | null, stream: NodeJS.ReadableStream) => {
        if (err) return reject(err);
        const target = join(into, entry.fileName);
        mkdirSync(dirname(target), { recursive: true });
        pipeline(stream, createWriteStream(target)).then(() => zip.readEntry(), reject);
      });
    });
    zip.readEntry();
  });
  return names;
}
