// The VS Code extension in real VS Code: code-server (VS Code in a browser, test/clients/codeServer.mjs)
// with the built .vsix installed, driven by playwright-core in headless Chromium, against the fake
// vLLM. What a user sees is checked on the screen (ghost text, the status bar, menus, toasts), what
// lands in a file on disk, and the extension's output channel as VS Code writes it to its log.
// Skipped, saying why, only when code-server is not installed (.ci/run installs it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import { codeServer } from './codeServer.mjs';
// The chat models' and next edits' checks start their own code-server and Chromium. Imported here,
// their suites run in this file after (never beside) this one's: two code-servers at once on CI's
// 2 cores starved the first one's ghost text past its wait.
import './vscode-chat-real.suite.js';
import './vscode-nextedit-real.suite.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXT = join(ROOT, 'clients/vscode');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** How long a UI state may take to come on a loaded 2-core machine before the test counts as stuck. */
const STUCK = 120_000;
const TEST_MS = 6 * STUCK;

const cs: { node?: string; entry?: string; missing?: string } = codeServer();
if (cs.missing) console.warn(`test/clients/vscode-real.test.ts: SKIPPED: ${cs.missing}`);

type Page = import('playwright-core').Page;
type Browser = import('playwright-core').Browser;

const DOC = 'def add(a, b):\n    \n';
const GHOST = 'return a + b';
const DOCSTRING = '    """Return the sum of a and b."""';
const EXPLANATION = 'It adds `a` and `b` and returns the sum.';
const EDIT = ['<<<<<<< SEARCH', 'def add(a, b):', '=======', 'def add(a, b):', DOCSTRING, '>>>>>>> REPLACE'].join('\n');

/** Screen text as the DOM holds it (VS Code renders spaces in code as no-break spaces). */
const plain = (s: string) => s.replace(/\u00a0/g, ' ');

describe.skipIf(cs.missing !== undefined)('VS Code (code-server) with the extension installed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-vscode-real-'));
  const userData = join(dir, 'user-data');
  const workspace = join(dir, 'workspace');
  const shots = join(dir, 'screenshots');
  const file = join(workspace, 'calc.py');
  let fake: FakeVllm;
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let browser: Browser | undefined;
  let page: Page;
  /** Kept for a look when a check failed; removed otherwise (the .vsix and VS Code's state, ~110 MB). */
  let failed = false;

  const completions = () => fake.requests.filter((r: RecordedRequest) => r.path === '/v1/completions');
  const machineSettings = (extra: Record<string, unknown>) =>
    // code-server is a remote window: machine-scoped settings (tandem.backends) are read from the
    // remote settings, which it keeps here, not from the browser-side user settings.
    writeFileSync(join(userData, 'Machine/settings.json'), JSON.stringify({ 'tandem.backends': { fim: { kind: 'vllm', url: fake.url } }, ...extra }, null, 2));

  /** The extension's output channel as VS Code writes it (LogOutputChannel: one file per channel). */
  function channelLog(): string {
    const logs = join(userData, 'logs');
    if (!existsSync(logs)) return '';
    return readdirSync(logs)
      .sort()
      .flatMap((session) => {
        const f = join(logs, session, 'exthost1/tandem.tandem-vscode/tandem.log');
        return existsSync(f) ? [readFileSync(f, 'utf8')] : [];
      })
      .join('');
  }

  /** Polls for a condition: a file, a log line, a request, or text on the screen that playwright cannot wait for alone. */
  async function until<T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>): Promise<T> {
    const end = performance.now() + STUCK;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (performance.now() > end) throw new Error(`still waiting after ${STUCK} ms for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Runs one check; on failure saves a screenshot and says where. */
  async function step(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      failed = true;
      mkdirSync(shots, { recursive: true });
      const shot = join(shots, `${name.replace(/[^\w-]+/g, '_')}.png`);
      await page?.screenshot({ path: shot }).catch(() => undefined);
      console.error(`test/clients/vscode-real.test.ts: "${name}" failed; screenshot ${shot}; code-server's output and the channel log are in ${dir}`);
      writeFileSync(join(dir, 'code-server.log'), serverOutput);
      writeFileSync(join(dir, 'tandem-channel.log'), channelLog());
      throw err;
    }
  }

  /** Runs a command from the Command Palette by its title. */
  async function palette(title: string): Promise<void> {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: STUCK });
    await input.fill(`>${title}`);
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: STUCK });
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: STUCK });
  }

  /** Puts the cursor at the end of a 1-based line of the editor that has focus (Go to Line). */
  async function goToLine(line: number, column?: number): Promise<void> {
    await page.keyboard.press('Control+G');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: STUCK });
    await input.fill(column === undefined ? `:${line}` : `:${line}:${column}`);
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: STUCK });
    if (column === undefined) await page.keyboard.press('End');
  }

  /** Brings calc.py's editor to the front with the keyboard's focus. */
  async function focusFile(): Promise<void> {
    await page.locator('.tabs-container .tab', { hasText: 'calc.py' }).click();
    await page.locator('.monaco-editor.focused').waitFor({ timeout: STUCK });
  }

  /** Saves calc.py and waits until the file on disk holds `text`. */
  async function savedWith(text: string): Promise<string> {
    await focusFile();
    await page.keyboard.press('Control+S');
    return until(`${file} to contain ${JSON.stringify(text)}`, () => {
      const now = readFileSync(file, 'utf8');
      return now.includes(text) && now;
    });
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
      const { chromium } = pw;
      fake = await startFakeVllm({
        respond: (req) => {
          if (req.path === '/v1/completions') return { text: GHOST };
          return { text: /explain code/i.test(String(req.body?.messages?.[0]?.content)) ? EXPLANATION : EDIT };
        },
      });
      mkdirSync(workspace, { recursive: true });
      writeFileSync(file, DOC);
      // The user's own tandem config file: its values must hold wherever VS Code has only defaults
      // (its maxTokens 7 against the setting's default 128). No debounce; a deadline only a stuck
      // machine reaches.
      const home = join(dir, 'home');
      mkdirSync(join(home, 'tandem'), { recursive: true });
      writeFileSync(join(home, 'tandem/config.json'), JSON.stringify({ inline: { maxTokens: 7, debounceMs: 0, deadlineMs: STUCK } }));
      mkdirSync(join(userData, 'User'), { recursive: true });
      mkdirSync(join(userData, 'Machine'), { recursive: true });
      machineSettings({});
      writeFileSync(
        join(userData, 'User/settings.json'),
        JSON.stringify({
          'workbench.startupEditor': 'none',
          'workbench.tips.enabled': false,
          'security.workspace.trust.enabled': false,
          'telemetry.telemetryLevel': 'off',
          'chat.disableAIFeatures': true,
          'extensions.autoUpdate': false,
          'extensions.autoCheckUpdates': false,
          'editor.inlineSuggest.enabled': true,
          'files.autoSave': 'off',
        }),
      );

      // The .vsix of this checkout, in a folder of its own (test/clients/vscode.test.ts packages too).
      const vsixDir = join(dir, 'vsix');
      const packaged = spawnSync(process.execPath, [join(EXT, 'scripts/package.mjs'), '--out-dir', vsixDir], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24, timeout: 2 * STUCK });
      if (packaged.status !== 0) throw new Error(`package.mjs failed: ${packaged.stderr}${packaged.stdout}`);
      const vsix = packaged.stdout.trim().split('\n').pop()!;
      const env = {
        ...process.env,
        XDG_CONFIG_HOME: home,
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_STATE_HOME: join(dir, 'state'),
        TANDEM_CONFIG: '',
        // No extension gallery: nothing is looked up outside this machine.
        EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: 'http://127.0.0.1:9/gallery', itemUrl: 'http://127.0.0.1:9/item' }),
      };
      const common = ['--user-data-dir', userData, '--extensions-dir', join(dir, 'extensions'), '--config', join(dir, 'code-server.yaml')];
      const installed = spawnSync(cs.node!, [cs.entry!, ...common, '--install-extension', vsix], { env, encoding: 'utf8', timeout: STUCK });
      if (!/successfully installed/.test(installed.stdout)) throw new Error(`code-server --install-extension ${vsix} failed: ${installed.stdout}${installed.stderr}`);

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

      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: STUCK });
      // The Explorer lists the folder once the remote side is connected.
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'calc.py' }).waitFor({ timeout: STUCK });
    }), TEST_MS);

  afterAll(async () => {
    await browser?.close();
    if (server?.pid && server.exitCode === null) {
      // code-server, its extension host and the tandem server it started: one process group.
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    await fake?.close();
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }, STUCK);

  it('the status bar shows tandem\'s state and the backend\'s latency', () =>
    step('status bar', async () => {
      const item = page.locator('.statusbar-item', { hasText: /tandem/ });
      await item.filter({ hasText: /tandem fim \d+ ms/ }).waitFor({ timeout: STUCK });
      expect(await item.locator('.codicon-check').count()).toBe(1); // state ok
    }), TEST_MS);

  it('ghost text appears, Tab accepts it into the document, and the acceptance is counted; the user\'s config file holds where VS Code has defaults', () =>
    step('ghost text', async () => {
      await page.keyboard.press('Control+P');
      await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: STUCK });
      await page.keyboard.type('calc.py');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'calc.py' }).first().waitFor({ timeout: STUCK });
      await page.keyboard.press('Enter');
      await page.locator('.tabs-container .tab.active', { hasText: 'calc.py' }).waitFor({ timeout: STUCK });
      await page.locator('.monaco-editor.focused').waitFor({ timeout: STUCK });
      await goToLine(2);
      // Typing asks for ghost text, as it would for a user.
      await page.keyboard.type(' ');
      await page.keyboard.press('Backspace');
      const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
      await ghost.first().waitFor({ timeout: STUCK });
      await until('the ghost text to read the completion', async () => plain((await ghost.allTextContents()).join('')).includes(GHOST));
      await page.keyboard.press('Tab');
      await savedWith(`    ${GHOST}\n`);
      // VS Code's defaults were not sent: the config file's maxTokens went to the model.
      expect(completions().length).toBeGreaterThan(0);
      expect(completions().every((r) => r.body.max_tokens === 7)).toBe(true);
      // Accepting ran the item's tandem.accepted command: Show Stats counts it.
      await palette('tandem: Show Stats');
      await until('the stats to count one acceptance', async () => /accepted 1\b/.test(plain((await page.locator('.view-lines').allTextContents()).join('\n'))));
    }), TEST_MS);

  it('a code action from the light bulb applies its edit; Explain is not offered there', () =>
    step('code action', async () => {
      await focusFile();
      await goToLine(1, 5);
      // The light bulb shows once the server has listed actions for the cursor; its menu is Ctrl+.'s.
      const bulb = page.locator('.monaco-editor.focused').locator('.lightBulbWidget, .lightbulb-glyph').first();
      await bulb.waitFor({ state: 'visible', timeout: STUCK });
      await bulb.click();
      const menu = page.locator('.action-widget');
      await menu.getByText('Add documentation comment (tandem)').waitFor({ timeout: STUCK });
      // source.* kinds are listed under Source Action… only (README).
      expect(await menu.getByText(/Explain this/).count()).toBe(0);
      await menu.getByText('Add documentation comment (tandem)').click();
      await savedWith(`def add(a, b):\n${DOCSTRING}\n`);
    }), TEST_MS);

  it('Explain from Source Action… opens its answer as a read-only document that closes without asking to save', () =>
    step('explain', async () => {
      await focusFile();
      await goToLine(1, 5);
      await palette('Source Action...');
      const menu = page.locator('.action-widget');
      await menu.getByText(/Explain this .* \(tandem\)/).first().waitFor({ timeout: STUCK });
      await menu.getByText(/Explain this .* \(tandem\)/).first().click();
      const answer = page.locator('.view-lines').filter({ hasText: /It\s+adds\s+`a`/ });
      await answer.waitFor({ timeout: STUCK });
      // An untitled document would be dirty and ask to be saved on closing.
      expect(await page.locator('.tabs-container .tab.dirty').allTextContents()).toEqual([]);
      await answer.click();
      await page.keyboard.press('Control+W');
      const dialog = page.locator('.monaco-dialog-box');
      await until('the answer to close, or a dialog', async () => (await answer.count()) === 0 || (await dialog.count()) > 0);
      expect(await dialog.allTextContents()).toEqual([]);
    }), TEST_MS);

  it('a settings change takes effect with no error toast, and the output channel shows each server line once and no [error]', () =>
    step('settings change', async () => {
      const reloads = () => channelLog().split('\n').filter((l) => l.includes('configuration loaded (didChangeConfiguration)')).length;
      const before = reloads();
      machineSettings({ 'tandem.inline.maxTokens': 9 });
      await until('the server to reload its configuration', () => reloads() > before);
      await focusFile();
      await goToLine(3);
      const asked = completions().length;
      await page.keyboard.press('Enter'); // a new, indented line asks for ghost text
      await until('a completion request after the change', () => completions().length > asked);
      expect(completions().slice(asked).every((r) => r.body.max_tokens === 9)).toBe(true);
      // tandem's messages start "tandem:"; an error toast of anyone's would say something broke.
      const toasts = await page.locator('.notification-toast').allTextContents();
      expect(toasts.filter((t) => /tandem/i.test(t)), toasts.join(' | ')).toEqual([]);
      expect(await page.locator('.notification-toast .codicon-error').count(), toasts.join(' | ')).toBe(0);
      const log = channelLog();
      expect(log.split('\n').filter((l) => /\[error\]/.test(l))).toEqual([]);
      // Once each: the stderr copy and window/logMessage's are one line.
      expect(log.split('\n').filter((l) => l.includes('configuration loaded (initialize)'))).toHaveLength(1);
      expect(log).not.toMatch(/\[info\] \[info\]/);
    }), TEST_MS);
});
