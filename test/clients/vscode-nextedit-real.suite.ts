// Next-edit suggestions in real VS Code: code-server (test/clients/codeServer.mjs) with the built
// .vsix installed, driven by playwright-core in headless Chromium, against the fake vLLM serving a
// Zeta model through the real server. The user adds a parameter; once the edit settles the
// extension asks textDocument/copilotInlineEdit, and the call site's edit shows in the editor (its
// new text drawn beside the place it goes); Tab applies it (the file on disk), the next one shows,
// Escape dismisses it; Show Stats counts one shown-and-accepted and one dismissed. Imported by
// vscode-real.test.ts so that only one code-server runs at a time. Skipped, saying why, only when
// code-server is not installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
/** How long a UI state may take to come on a loaded 2-core machine before the test counts as stuck. */
const STUCK = 120_000;
const TEST_MS = 6 * STUCK;

const cs: { node?: string; entry?: string; missing?: string } = codeServer();
if (cs.missing) console.warn(`test/clients/vscode-nextedit-real.suite.ts: SKIPPED: ${cs.missing}`);

type Page = import('playwright-core').Page;
type Browser = import('playwright-core').Browser;

const DOC = ['def area(w, h):', '    return w * h', '', '', 'print(area(2, 3))', 'print(area(4, 5))', ''].join('\n');
const REGION_START = '<|editable_region_start|>\n';
const REGION_END = '\n<|editable_region_end|>';

/** Screen text as the DOM holds it (VS Code renders spaces in code as no-break spaces). */
const plain = (s: string) => s.replace(/\u00a0/g, ' ');

/**
 * What Zeta would answer once `area` has a third parameter: the region with the first call that
 * passes two arguments passing a third; the region as it is when every call passes three. Ghost
 * text (a FIM prompt) gets nothing.
 */
function respond(req: RecordedRequest): { text: string } {
  const prompt = String(req.body?.prompt ?? '');
  if (!prompt.includes(REGION_START)) return { text: '' };
  const region = prompt.slice(prompt.indexOf(REGION_START) + REGION_START.length, prompt.indexOf(REGION_END));
  const next = region.replace('<|user_cursor_is_here|>', '').includes('def area(w, h, d)') ? region.replace(/area\((\d+), (\d+)\)/, 'area($1, $2, 1)') : region;
  return { text: `\`\`\`calc.py\n${REGION_START}${next}${REGION_END}\n\`\`\`` };
}

describe.skipIf(cs.missing !== undefined)('VS Code (code-server): next-edit suggestions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-vscode-nextedit-'));
  const userData = join(dir, 'user-data');
  const workspace = join(dir, 'workspace');
  const shots = join(dir, 'screenshots');
  const file = join(workspace, 'calc.py');
  let fake: FakeVllm;
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let browser: Browser | undefined;
  let page: Page;
  let failed = false;

  const nextEditRequests = () => fake.requests.filter((r: RecordedRequest) => r.path === '/v1/completions' && String(r.body?.prompt).includes(REGION_START));

  async function until<T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>): Promise<T> {
    const end = performance.now() + STUCK;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (performance.now() > end) throw new Error(`still waiting after ${STUCK} ms for ${what}`);
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
      console.error(`test/clients/vscode-nextedit-real.suite.ts: "${name}" failed; screenshot ${shot}; code-server's output in ${dir}`);
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

  async function goToLine(line: number, column: number): Promise<void> {
    await page.keyboard.press('Control+G');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: STUCK });
    await input.fill(`:${line}:${column}`);
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: STUCK });
  }

  /**
   * The next edit's new text as calc.py's editor draws it: decoration text is CSS content of an
   * element of the line (a ::before or ::after), not text in the DOM; one string per element.
   */
  const drawnTexts = () =>
    page.evaluate(() => {
      const out: string[] = [];
      const editor = [...document.querySelectorAll('.monaco-editor')].find((e) => e.querySelector('.view-lines'));
      for (const el of editor?.querySelectorAll('.view-lines span') ?? []) {
        for (const pseudo of ['::before', '::after']) {
          const c = getComputedStyle(el, pseudo).content;
          if (c && c !== 'none' && c !== 'normal') out.push(c);
        }
      }
      return out;
    });

  async function focusFile(): Promise<void> {
    await page.locator('.tabs-container .tab', { hasText: 'calc.py' }).click();
    await page.locator('.monaco-editor.focused').waitFor({ timeout: STUCK });
  }

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
      fake = await startFakeVllm({ model: 'zed-industries/zeta', respond: respond as never });
      mkdirSync(workspace, { recursive: true });
      writeFileSync(file, DOC);
      const home = join(dir, 'home');
      mkdirSync(join(home, 'tandem'), { recursive: true });
      writeFileSync(join(home, 'tandem/config.json'), JSON.stringify({ inline: { debounceMs: 0 }, context: { enabled: false } }));
      mkdirSync(join(userData, 'User'), { recursive: true });
      mkdirSync(join(userData, 'Machine'), { recursive: true });
      writeFileSync(join(userData, 'Machine/settings.json'), JSON.stringify({ 'tandem.backends': { gpu: { kind: 'vllm', url: fake.url } }, 'tandem.inline.nextEdits': true }, null, 2));
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
          // The suggest widget would open on `d` (a word of the file) and take Tab, as it should.
          'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
          'files.autoSave': 'off',
        }),
      );
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
      browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`, { timeout: STUCK });
      await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: STUCK });
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'calc.py' }).waitFor({ timeout: STUCK });
      // The server runs once the status bar shows the backend.
      await page.locator('.statusbar-item', { hasText: /tandem gpu \d+ ms/ }).waitFor({ timeout: STUCK });
    }), TEST_MS);

  afterAll(async () => {
    await browser?.close();
    if (server?.pid && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    await fake?.close();
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }, STUCK);

  it('after the user adds a parameter, the call\'s edit shows; Tab applies it, the next one shows, Escape dismisses it; the stats count both', () =>
    step('next edit', async () => {
      await page.keyboard.press('Control+P');
      await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: STUCK });
      await page.keyboard.type('calc.py');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'calc.py' }).first().waitFor({ timeout: STUCK });
      await page.keyboard.press('Enter');
      await page.locator('.tabs-container .tab.active', { hasText: 'calc.py' }).waitFor({ timeout: STUCK });
      await page.locator('.monaco-editor.focused').waitFor({ timeout: STUCK });
      // After `h` of `def area(w, h`: the user adds a parameter.
      await goToLine(1, 'def area(w, h'.length + 1);
      await page.keyboard.type(', d');
      // The first call's edit is drawn in the editor; the document is not changed by showing it.
      await until('the next edit ", 1" drawn in the editor', async () => (await drawnTexts()).some((c) => plain(c).includes(', 1')));
      const asked = nextEditRequests();
      expect(asked.length).toBeGreaterThan(0);
      // The prompt held the user's edit.
      expect(String(asked.at(-1)!.body.prompt)).toContain('+def area(w, h, d):');
      await page.keyboard.press('Tab');
      await savedWith('print(area(2, 3, 1))\nprint(area(4, 5))\n');
      expect(readFileSync(file, 'utf8').startsWith('def area(w, h, d):\n')).toBe(true);
      // The edit just applied asks for the one after it: the second call; Escape refuses it.
      await focusFile();
      await until('the second call\'s edit drawn', async () => nextEditRequests().length > asked.length && (await drawnTexts()).some((c) => plain(c).includes(', 1')));
      await page.keyboard.press('Escape');
      await until('the refused edit to go from the screen', async () => !(await drawnTexts()).some((c) => plain(c).includes(', 1')));
      await savedWith('print(area(2, 3, 1))\nprint(area(4, 5))\n');
      await palette('tandem: Show Stats');
      await until('the stats to count one accepted and one dismissed next edit', async () => {
        const text = plain((await page.locator('.view-lines').allTextContents()).join('\n'));
        return /next edits: requests \d+, suggested \d+, shown 2, accepted 1, dismissed 1\b/.test(text);
      });
    }), TEST_MS);
});
