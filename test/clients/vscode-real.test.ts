// The VS Code extension in real VS Code: code-server (VS Code in a browser, test/clients/codeServer.mjs)
// with the built .vsix installed, driven by playwright-core in headless Chromium, against the fake
// vLLM. What a user sees is checked on the screen (ghost text, the status bar, menus, toasts), what
// lands in a file on disk, and the extension's output channel as VS Code writes it to its log.
// Skipped, saying why, only when code-server is not installed (.ci/run installs it).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import { codeServerMissing, codeServerSession, plain, STUCK, TEST_MS, type Page } from './codeServerSession.js';
// The chat models' and next edits' checks start their own code-server and Chromium. Imported here,
// their suites run in this file, one after another (never beside this one's; they are registered first, so they run first): two code-servers at once on CI's
// 2 cores starved the first one's ghost text past its wait.
import './vscode-chat-real.suite.js';
import './vscode-nextedit-real.suite.js';

const missing = codeServerMissing('test/clients/vscode-real.test.ts');

const DOC = 'def add(a, b):\n    \n';
/** Keystrokes that brought no request to the fake in this long are typed again (a nudge, not a verdict: a slow request is waited for). */
const RETYPE_MS = 10_000;
const GHOST = 'return a + b';
const DOCSTRING = '    """Return the sum of a and b."""';
const EXPLANATION = 'It adds `a` and `b` and returns the sum.';
const EDIT = ['<<<<<<< SEARCH', 'def add(a, b):', '=======', 'def add(a, b):', DOCSTRING, '>>>>>>> REPLACE'].join('\n');

describe.skipIf(missing)('VS Code (code-server) with the extension installed', () => {
  const s = codeServerSession({
    testFile: 'test/clients/vscode-real.test.ts',
    tmpPrefix: 'tandem-vscode-real-',
    fileName: 'calc.py',
    failureLogs: { 'tandem-channel.log': () => channelLog() },
  });
  const { userData, file, until, step, palette, goToLine, focusFile, savedWith } = s;
  let fake: FakeVllm;
  let page: Page;

  const completions = () => fake.requests.filter((r: RecordedRequest) => r.path === '/v1/completions');
  const machineSettings = (extra: Record<string, unknown>) => s.machineSettings({ 'tandem.backends': { fim: { kind: 'vllm', url: fake.url } }, ...extra });

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

  beforeAll(() =>
    step('start', async () => {
      if (missing) return;
      fake = s.own(await startFakeVllm({
        respond: (req) => {
          if (req.path === '/v1/completions') return { text: GHOST };
          return { text: /explain code/i.test(String(req.body?.messages?.[0]?.content)) ? EXPLANATION : EDIT };
        },
      }));
      // The user's own tandem config file: its values must hold wherever VS Code has only defaults
      // (its maxTokens 7 against the setting's default 128). No debounce; a deadline only a stuck
      // machine reaches.
      s.configure({
        tandemConfig: { inline: { maxTokens: 7, debounceMs: 0, deadlineMs: STUCK } },
        userSettings: { 'chat.disableAIFeatures': true, 'editor.inlineSuggest.enabled': true, 'files.autoSave': 'off' },
        machine: { 'tandem.backends': { fim: { kind: 'vllm', url: fake.url } } },
      });
      writeFileSync(file, DOC);
      page = await s.open({ shows: 'calc.py' });
    }), TEST_MS);

  afterAll(() => s.close(), STUCK);

  it('the status bar shows tandem\'s state and the backend\'s latency', () =>
    step('status bar', async () => {
      const item = page.locator('.statusbar-item', { hasText: /tandem/ });
      await item.filter({ hasText: /tandem fim \d+ ms/ }).waitFor({ timeout: STUCK });
      expect(await item.locator('.codicon-check').count()).toBe(1); // state ok
    }), TEST_MS);

  it('ghost text appears, Tab accepts it into the document, and the acceptance is counted; the user\'s config file holds where VS Code has defaults', () =>
    step('ghost text', async () => {
      await s.openFile();
      await goToLine(2);
      // Typing asks for ghost text, as it would for a user. Now and then VS Code asks nothing for
      // the first keystrokes in a file just opened (no request reaches the fake, the server idles):
      // then, as a user would, type again. Keystrokes whose request did reach the fake are waited on.
      const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
      let asked = -1;
      let typedAt = 0;
      await until('the ghost text to show', async () => {
        if (await ghost.first().isVisible()) return true;
        if (asked >= 0 && completions().length === asked && performance.now() - typedAt > RETYPE_MS) asked = -1;
        if (asked < 0) {
          asked = completions().length;
          typedAt = performance.now();
          await page.keyboard.type(' ');
          await page.keyboard.press('Backspace');
        }
        return false;
      });
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
