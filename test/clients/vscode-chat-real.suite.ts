// tandem's models in real VS Code's chat API: code-server (test/clients/codeServer.mjs) with the
// built .vsix installed, and beside it a small probe extension that uses the language-model API as
// any extension (or Copilot Chat) does: `vscode.lm.selectChatModels({vendor: 'tandem'})`, then
// `sendRequest` and its stream. The probe writes what it sees to a file the test reads. Against the
// fake vLLM, through the real server: the model list and its names, a streamed answer (the fake
// holds the rest of its answer until the probe has received the first piece), tokens counted by
// the server, a cancelled request that closes the backend's connection, tool calls both ways, and
// a list that follows a settings change. The chat view itself is looked at too: what it needs is
// stated in clients/vscode/README.md. Skipped, saying why, only when code-server is not installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import { codeServer } from './codeServer.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXT = join(ROOT, 'clients/vscode');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** How long a state may take to come on a loaded 2-core machine before the test counts as stuck. */
const STUCK = 120_000;
const TEST_MS = 6 * STUCK;

const cs: { node?: string; entry?: string; missing?: string } = codeServer();
if (cs.missing) console.warn(`test/clients/vscode-chat-real.suite.ts: SKIPPED: ${cs.missing}`);

type Page = import('playwright-core').Page;
type Browser = import('playwright-core').Browser;

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

describe.skipIf(cs.missing !== undefined)('VS Code (code-server): tandem models through the language model API', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-vscode-chat-'));
  const userData = join(dir, 'user-data');
  const workspace = join(dir, 'workspace');
  const shots = join(dir, 'screenshots');
  const probeOut = join(workspace, '.probe.jsonl');
  let fake: FakeVllm;
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let browser: Browser | undefined;
  let page: Page;
  let failed = false;
  let watch: ReturnType<typeof setInterval> | undefined;

  const chats = () => fake.requests.filter((r: RecordedRequest) => r.path === '/v1/chat/completions');
  const probe = (): ProbeEvent[] => (existsSync(probeOut) ? readFileSync(probeOut, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent) : []);
  const machineSettings = (backends: Record<string, unknown>) =>
    writeFileSync(join(userData, 'Machine/settings.json'), JSON.stringify({ 'tandem.backends': backends }, null, 2));

  async function until<T>(what: string, check: () => T | undefined | false | null | Promise<T | undefined | false | null>): Promise<T> {
    const end = performance.now() + STUCK;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (performance.now() > end) throw new Error(`still waiting after ${STUCK} ms for ${what}; the probe saw: ${JSON.stringify(probe())}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function step(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      failed = true;
      mkdirSync(shots, { recursive: true });
      const shot = join(shots, `${name.replace(/[^\w-]+/g, '_')}.png`);
      await page?.screenshot({ path: shot }).catch(() => undefined);
      console.error(`test/clients/vscode-chat-real.suite.ts: "${name}" failed; screenshot ${shot}; code-server's output in ${dir}`);
      writeFileSync(join(dir, 'code-server.log'), serverOutput);
      throw err;
    }
  }

  async function palette(title: string): Promise<void> {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: STUCK });
    await input.fill(`>${title}`);
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: STUCK });
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: STUCK });
  }

  /** VS Code asks once whether the probe may use tandem's models: the user allows it. */
  async function allowAccess(): Promise<void> {
    const allow = page.locator('.monaco-dialog-box .monaco-button', { hasText: /^Allow/ });
    if ((await allow.count()) > 0) await allow.first().click();
  }

  beforeAll(() =>
    step('start', async () => {
      if (cs.missing) return;
      let pw: typeof import('playwright-core');
      try {
        pw = createRequire(join(EXT, 'package.json'))('playwright-core');
      } catch (err) {
        throw new Error(`playwright-core is not installed: run \`npm ci --prefix clients/vscode\` (${String(err)})`);
      }
      let firstSeen: () => void = () => undefined;
      const shown = new Promise<void>((r) => (firstSeen = r));
      fake = await startFakeVllm({
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
      });
      watch = setInterval(() => {
        if (probe().some((e) => e.event === 'text' && e.value === ANSWER[0])) firstSeen();
      }, 50);
      mkdirSync(workspace, { recursive: true });
      writeFileSync(join(workspace, 'notes.md'), '# notes\n');
      const home = join(dir, 'home');
      mkdirSync(join(home, 'tandem'), { recursive: true });
      writeFileSync(join(home, 'tandem/config.json'), JSON.stringify({ inline: { enabled: false } }));
      mkdirSync(join(userData, 'User'), { recursive: true });
      mkdirSync(join(userData, 'Machine'), { recursive: true });
      machineSettings({ gpu: { kind: 'vllm', url: fake.url } });
      writeFileSync(
        join(userData, 'User/settings.json'),
        JSON.stringify({
          'workbench.startupEditor': 'none',
          'workbench.tips.enabled': false,
          'security.workspace.trust.enabled': false,
          'telemetry.telemetryLevel': 'off',
          'extensions.autoUpdate': false,
          'extensions.autoCheckUpdates': false,
        }),
      );

      const vsixDir = join(dir, 'vsix');
      const packaged = spawnSync(process.execPath, [join(EXT, 'scripts/package.mjs'), '--out-dir', vsixDir], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24, timeout: 2 * STUCK });
      if (packaged.status !== 0) throw new Error(`package.mjs failed: ${packaged.stderr}${packaged.stdout}`);
      const vsix = packaged.stdout.trim().split('\n').pop()!;
      const probeDir = join(dir, 'probe');
      mkdirSync(probeDir, { recursive: true });
      writeFileSync(join(probeDir, 'package.json'), JSON.stringify(PROBE_PACKAGE, null, 2));
      writeFileSync(join(probeDir, 'extension.js'), PROBE_JS);
      writeFileSync(join(probeDir, 'README.md'), 'Test probe for tandem.\n');
      const probeVsix = join(dir, 'probe.vsix');
      const vsce = spawnSync(process.execPath, [join(EXT, 'node_modules/@vscode/vsce/vsce'), 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--out', probeVsix], { cwd: probeDir, encoding: 'utf8', timeout: STUCK });
      if (vsce.status !== 0) throw new Error(`vsce package (probe) failed: ${vsce.stderr}${vsce.stdout}`);

      const env = {
        ...process.env,
        XDG_CONFIG_HOME: home,
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_STATE_HOME: join(dir, 'state'),
        TANDEM_CONFIG: '',
        EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: 'http://127.0.0.1:9/gallery', itemUrl: 'http://127.0.0.1:9/item' }),
      };
      const common = ['--user-data-dir', userData, '--extensions-dir', join(dir, 'extensions'), '--config', join(dir, 'code-server.yaml')];
      for (const v of [vsix, probeVsix]) {
        const installed = spawnSync(cs.node!, [cs.entry!, ...common, '--install-extension', v], { env, encoding: 'utf8', timeout: STUCK });
        if (!/successfully installed/.test(installed.stdout)) throw new Error(`code-server --install-extension ${v} failed: ${installed.stdout}${installed.stderr}`);
      }
      server = spawn(cs.node!, [cs.entry!, ...common, '--auth', 'none', '--bind-addr', '127.0.0.1:0', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', workspace], { env, detached: true });
      const url = await new Promise<string>((resolveUrl, reject) => {
        const seen = (d: Buffer) => {
          serverOutput += d.toString();
          const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serverOutput);
          if (m) resolveUrl(m[1]!);
        };
        server!.stdout!.on('data', seen);
        server!.stderr!.on('data', seen);
        server!.on('exit', (code) => reject(new Error(`code-server exited (${code}) before listening:\n${serverOutput}`)));
      });
      browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`, { timeout: STUCK });
      await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: STUCK });
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'notes.md' }).waitFor({ timeout: STUCK });
      // Its commands are in the Command Palette once the probe has started.
      await until('the probe extension to start', () => probe().some((e) => e.event === 'activated'));
    }), TEST_MS);

  afterAll(async () => {
    clearInterval(watch);
    await browser?.close();
    if (server?.pid && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    await fake?.close();
    if (!failed && !process.env.TANDEM_KEEP) rmSync(dir, { recursive: true, force: true });
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
