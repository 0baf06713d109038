// tandem's models in real VS Code's chat API: code-server (test/clients/codeServer.mjs) with the
// built .vsix installed, and beside it a small probe extension that uses the language-model API as
// any extension (or Copilot Chat) does: `vscode.lm.selectChatModels({vendor: 'tandem'})`, then
// `sendRequest` and its stream. The probe writes what it sees to a file the test reads. Against the
// fake vLLM, through the real server: the model list and its names, a streamed answer (the fake
// holds the rest of its answer until the probe has received the first piece), tokens counted by
// the server, a cancelled request that closes the backend's connection, tool calls both ways, and
// a list that follows a settings change. The chat view itself is looked at too: what it needs is
// stated in clients/vscode/README.md. Skipped, saying why, only when code-server is not installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import { codeServerMissing, codeServerSession, EXT, STUCK, TEST_MS, type Page } from './codeServerSession.js';

const missing = codeServerMissing('test/clients/vscode-chat-real.suite.ts');

const ANSWER = ['Hello', ' from', ' the', ' GPU', ' pool.'];
const SLOW_PROMPT = 'please take your time';

/** The probe: a command per action, each writing JSON lines to `<workspace>/.probe.jsonl`. */
const PROBE_PACKAGE = {
  name: 'tandem-chat-probe',
  displayName: 'tandem chat probe',
  description: 'Uses tandem models through vscode.lm, for the tests',
  publisher: 'tandemtest',
  version: '0.0.1',
  license: 'MIT',
  engines: { vscode: '^1.104.0' },
  main: './extension.js',
  activationEvents: ['onStartupFinished'],
  contributes: {
    commands: [
      { command: 'tandemProbe.ask', title: 'tandem probe: Stream an Answer' },
      { command: 'tandemProbe.askSlow', title: 'tandem probe: Cancel an Answer' },
      { command: 'tandemProbe.tools', title: 'tandem probe: Use a Tool' },
    ],
  },
};
const PROBE_JS = `
const vscode = require('vscode');
const fs = require('fs');
const path = require('path');
function log(o) {
  const f = path.join(vscode.workspace.workspaceFolders[0].uri.fsPath, '.probe.jsonl');
  fs.appendFileSync(f, JSON.stringify(o) + '\\n');
}
async function models() {
  const ms = await vscode.lm.selectChatModels({ vendor: 'tandem' });
  log({ event: 'models', models: ms.map((m) => ({ id: m.id, name: m.name, vendor: m.vendor, family: m.family, maxInputTokens: m.maxInputTokens })) });
  return ms;
}
async function ask(prompt, cancelAfterFirst) {
  try {
    const ms = await models();
    const m = ms.find((x) => x.id === 'tandem/auto');
    if (!m) return log({ event: 'error', message: 'no tandem/auto model' });
    log({ event: 'tokens', tokens: await m.countTokens('one two three four five six seven eight') });
    const cts = new vscode.CancellationTokenSource();
    const res = await m.sendRequest([vscode.LanguageModelChatMessage.User(prompt)], { justification: 'tandem test' }, cts.token);
    for await (const part of res.stream) {
      if (part instanceof vscode.LanguageModelTextPart) log({ event: 'text', value: part.value });
      else log({ event: 'part', part });
      if (cancelAfterFirst) { log({ event: 'cancelling' }); cts.cancel(); }
    }
    log({ event: 'done' });
  } catch (err) {
    log({ event: 'error', message: String(err && err.message || err), name: err && err.name });
  }
}
const TOOL = { name: 'read_file', description: 'Read a file of the workspace', inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } };
async function tools() {
  try {
    const m = (await models()).find((x) => x.id === 'tandem/auto');
    const cts = new vscode.CancellationTokenSource();
    const ask = vscode.LanguageModelChatMessage.User('What is in calc.py? Use the tool.');
    const first = await m.sendRequest([ask], { justification: 'tandem test', tools: [TOOL], toolMode: vscode.LanguageModelChatToolMode.Auto }, cts.token);
    const calls = [];
    for await (const part of first.stream) {
      if (part instanceof vscode.LanguageModelToolCallPart) {
        calls.push(part);
        log({ event: 'toolCall', callId: part.callId, name: part.name, input: part.input });
      } else if (part instanceof vscode.LanguageModelTextPart) log({ event: 'toolText', value: part.value });
    }
    const c = calls[0];
    const result = new vscode.LanguageModelToolResultPart(c.callId, [new vscode.LanguageModelTextPart('def add(a, b): return a + b')]);
    const second = await m.sendRequest([ask, vscode.LanguageModelChatMessage.Assistant([c]), vscode.LanguageModelChatMessage.User([result])], { justification: 'tandem test', tools: [TOOL] }, cts.token);
    for await (const part of second.stream) {
      if (part instanceof vscode.LanguageModelTextPart) log({ event: 'toolAnswer', value: part.value });
    }
    log({ event: 'toolsDone' });
  } catch (err) {
    log({ event: 'error', message: String(err && err.message || err), name: err && err.name });
  }
}
exports.activate = (context) => {
  log({ event: 'activated' });
  context.subscriptions.push(
    vscode.lm.onDidChangeChatModels(() => void models()),
    vscode.commands.registerCommand('tandemProbe.ask', () => ask('Say hello.', false)),
    vscode.commands.registerCommand('tandemProbe.askSlow', () => ask('${SLOW_PROMPT}', true)),
    vscode.commands.registerCommand('tandemProbe.tools', () => tools()),
  );
};
`;

interface ProbeEvent {
  event: string;
  callId?: string;
  input?: unknown;
  models?: { id: string; name: string; vendor: string; family: string; maxInputTokens: number }[];
  value?: string;
  tokens?: number;
  message?: string;
  name?: string;
}

describe.skipIf(missing)('VS Code (code-server): tandem models through the language model API', () => {
  const s = codeServerSession({
    testFile: 'test/clients/vscode-chat-real.suite.ts',
    tmpPrefix: 'tandem-vscode-chat-',
    stuckDetail: () => `the probe saw: ${JSON.stringify(probe())}`,
  });
  const { dir, workspace, until, step, palette } = s;
  const probeOut = join(workspace, '.probe.jsonl');
  let fake: FakeVllm;
  let page: Page;
  let watch: ReturnType<typeof setInterval> | undefined;

  const chats = () => fake.requests.filter((r: RecordedRequest) => r.path === '/v1/chat/completions');
  const probe = (): ProbeEvent[] => (existsSync(probeOut) ? readFileSync(probeOut, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent) : []);
  const machineSettings = (backends: Record<string, unknown>) => s.machineSettings({ 'tandem.backends': backends });

  /** VS Code asks once whether the probe may use tandem's models: the user allows it. */
  async function allowAccess(): Promise<void> {
    const allow = page.locator('.monaco-dialog-box .monaco-button', { hasText: /^Allow/ });
    if ((await allow.count()) > 0) await allow.first().click();
  }

  beforeAll(() =>
    step('start', async () => {
      if (missing) return;
      let firstSeen: () => void = () => undefined;
      const shown = new Promise<void>((r) => (firstSeen = r));
      fake = s.own(await startFakeVllm({
        respond: (req) => {
          if (req.path !== '/v1/chat/completions') return { text: '' };
          const last = JSON.stringify(req.body?.messages?.at(-1)?.content ?? '');
          if (last.includes(SLOW_PROMPT)) return { hang: true, after: 'Thinking' };
          if (req.body?.messages?.at(-1)?.role === 'tool') return { text: 'It defines add.' };
          if (last.includes('Use the tool.')) return { toolCalls: [{ name: 'read_file', arguments: '{"path": "calc.py"}', chunks: ['{"path"', ': "calc.py"}'] }] };
          return { text: ANSWER.join(''), chunks: ANSWER };
        },
        // The second piece waits until the probe has the first one: the answer is streamed.
        pace: async (i) => {
          if (i === 1) await shown;
        },
      }));
      watch = setInterval(() => {
        if (probe().some((e) => e.event === 'text' && e.value === ANSWER[0])) firstSeen();
      }, 50);
      s.configure({ tandemConfig: { inline: { enabled: false } }, machine: { 'tandem.backends': { gpu: { kind: 'vllm', url: fake.url } } } });
      writeFileSync(join(workspace, 'notes.md'), '# notes\n');

      const probeDir = join(dir, 'probe');
      mkdirSync(probeDir, { recursive: true });
      writeFileSync(join(probeDir, 'package.json'), JSON.stringify(PROBE_PACKAGE, null, 2));
      writeFileSync(join(probeDir, 'extension.js'), PROBE_JS);
      writeFileSync(join(probeDir, 'README.md'), 'Test probe for tandem.\n');
      const probeVsix = join(dir, 'probe.vsix');
      const vsce = spawnSync(process.execPath, [join(EXT, 'node_modules/@vscode/vsce/vsce'), 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--out', probeVsix], { cwd: probeDir, encoding: 'utf8', timeout: STUCK });
      if (vsce.status !== 0) throw new Error(`vsce package (probe) failed: ${vsce.stderr}${vsce.stdout}`);

      page = await s.open({ moreVsix: [probeVsix], shows: 'notes.md' });
      // Its commands are in the Command Palette once the probe has started.
      await until('the probe extension to start', () => probe().some((e) => e.event === 'activated'));
    }), TEST_MS);

  afterAll(async () => {
    clearInterval(watch);
    await s.close();
  }, STUCK);

  it('lists tandem\'s models as "tandem · NAME (on-prem)" with the window the server discovered, and streams an answer from the fake backend', () =>
    step('ask', async () => {
      const start = probe().length;
      await palette('tandem probe: Stream an Answer');
      await allowAccess();
      await until('the answer to finish', async () => {
        await allowAccess();
        return probe().slice(start).some((e) => e.event === 'done' || e.event === 'error');
      });
      const events = probe().slice(start);
      expect(events.filter((e) => e.event === 'error')).toEqual([]);
      const listed = events.find((e) => e.event === 'models')!.models!;
      expect(listed.map((m) => m.name)).toEqual(['tandem · auto (on-prem)', 'tandem · gpu (Qwen/Qwen2.5-Coder-7B) (on-prem)']);
      expect(listed.map((m) => m.id)).toEqual(['tandem/auto', 'tandem/gpu']);
      expect(listed.every((m) => m.vendor === 'tandem')).toBe(true);
      // The fake's 32768-token window, less what the model may answer (4096).
      expect(listed[1]!.maxInputTokens).toBe(32768 - 4096);
      expect(events.find((e) => e.event === 'tokens')!.tokens).toBeGreaterThan(0);
      // Each piece as the backend sent it, in order; the second only after the first had arrived.
      expect(events.filter((e) => e.event === 'text').map((e) => e.value).join('')).toBe(ANSWER.join(''));
      expect(events.filter((e) => e.event === 'text')[0]!.value).toBe(ANSWER[0]);
      const sent = chats().at(-1)!;
      expect(sent.body.stream).toBe(true);
      expect(JSON.stringify(sent.body.messages)).toContain('Say hello.');
    }), TEST_MS);

  it('a cancelled request closes the backend\'s connection', () =>
    step('cancel', async () => {
      const before = chats().length;
      const start = probe().length;
      await palette('tandem probe: Cancel an Answer');
      await allowAccess();
      const req = await until('the slow request to reach the fake', () => chats().length > before && chats().at(-1));
      await until('the backend connection to close', () => req.closedAt !== null);
      await until('the probe to end', () => probe().slice(start).some((e) => e.event === 'done' || e.event === 'error'));
      const events = probe().slice(start);
      expect(events.some((e) => e.event === 'cancelling')).toBe(true);
      // VS Code ends the stream with its cancellation error, nothing else.
      expect(events.filter((e) => e.event === 'error').map((e) => e.name)).toEqual(['Canceled']);
    }), TEST_MS);

  it('tool calls go both ways: the model\'s call reaches the extension whole, and its result goes back to the backend', () =>
    step('tools', async () => {
      const before = chats().length;
      const start = probe().length;
      await palette('tandem probe: Use a Tool');
      await until('the tool round trip to finish', () => probe().slice(start).some((e) => e.event === 'toolsDone' || e.event === 'error'));
      const events = probe().slice(start);
      expect(events.filter((e) => e.event === 'error')).toEqual([]);
      const call = events.find((e) => e.event === 'toolCall')!;
      expect(call).toMatchObject({ name: 'read_file', input: { path: 'calc.py' } });
      const [first, second] = chats().slice(before);
      expect(first!.body.tools).toEqual([{ type: 'function', function: { name: 'read_file', description: 'Read a file of the workspace', parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } } }]);
      expect(second!.body.messages.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ id: call.callId, type: 'function', function: { name: 'read_file' } }] });
      expect(JSON.parse(second!.body.messages.at(-2).tool_calls[0].function.arguments)).toEqual({ path: 'calc.py' });
      expect(second!.body.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: call.callId, content: 'def add(a, b): return a + b' });
      expect(events.filter((e) => e.event === 'toolAnswer').map((e) => e.value).join('')).toBe('It defines add.');
    }), TEST_MS);

  it('the model list follows a settings change (tandem/chatModelsChanged)', () =>
    step('models changed', async () => {
      machineSettings({ gpu: { kind: 'vllm', url: fake.url }, big: { kind: 'vllm', url: fake.url, location: 'cloud' } });
      await until('the probe to see the cloud model', () => probe().some((e) => e.event === 'models' && e.models!.some((m) => m.name === 'tandem · big (Qwen/Qwen2.5-Coder-7B) (cloud)')));
    }), TEST_MS);

  // What a user meets in the chat view of this build (VS Code 1.139 with its built-in Copilot Chat):
  // tandem's models are in the model picker, but sending asks for a GitHub sign-in first and
  // nothing reaches tandem (clients/vscode/README.md says so). A build that lets the prompt
  // through fails here: then this test should check the answer instead.
  it('the chat view offers tandem\'s models in its picker, and asks for a GitHub sign-in before it sends anything', () =>
    step('chat view', async () => {
      const before = chats().length;
      const inputPart = page.locator('.interactive-input-part');
      if ((await inputPart.count()) === 0) await page.keyboard.press('Control+Alt+I');
      await inputPart.first().waitFor({ timeout: STUCK });
      await inputPart.first().getByText(/tandem · /).first().waitFor({ timeout: STUCK });
      await inputPart.first().locator('.monaco-editor').first().click();
      await page.keyboard.type('Say hello from the chat view.');
      await page.keyboard.press('Enter');
      await page.getByText('Sign in to use GitHub Copilot').first().waitFor({ timeout: STUCK });
      expect(chats().length).toBe(before);
      await page.keyboard.press('Escape');
    }), TEST_MS);
});
