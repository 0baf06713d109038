// One code-server session for the real-VS-Code suites (vscode-real.test.ts and the suites it
// imports): a temporary folder with VS Code's user data, a workspace and a config home; the .vsix of
// this checkout (and any other extension a suite brings) installed; code-server started on a free
// port with no gallery; headless Chromium on the workspace; and at the end all of it stopped and the
// folder removed unless a check failed. The suites keep their own fakes, files and checks; the
// helpers here are the ones they drive VS Code with the same way.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeServer } from './codeServer.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const EXT = join(ROOT, 'clients/vscode');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** How long a UI state may take to come on a loaded 2-core machine before the test counts as stuck. */
export const STUCK = 120_000;
export const TEST_MS = 6 * STUCK;

export type Page = import('playwright-core').Page;
type Browser = import('playwright-core').Browser;

const cs: { node?: string; entry?: string; missing?: string } = codeServer();

/** Whether code-server is missing; if so, says so once for `testFile`, whose suite is then skipped. */
export function codeServerMissing(testFile: string): boolean {
  if (cs.missing) console.warn(`${testFile}: SKIPPED: ${cs.missing}`);
  return cs.missing !== undefined;
}

/** Screen text as the DOM holds it (VS Code renders spaces in code as no-break spaces). */
export const plain = (s: string) => s.replace(/\u00a0/g, ' ');

/** The user settings every suite starts from: nothing VS Code would show or fetch on its own. */
const BASE_USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
};

export interface SessionOptions {
  /** The suite's file, named in messages. */
  testFile: string;
  /** Prefix of the temporary folder. */
  tmpPrefix: string;
  /** The workspace file the editor helpers (focusFile, savedWith, openFile) work on. */
  fileName?: string;
  /** More to say when a wait gets stuck (what a probe saw). */
  stuckDetail?: () => string;
  /** More files to write into the kept folder when a check fails: name → contents. */
  failureLogs?: Record<string, () => string>;
}

export interface CodeServerSession {
  readonly dir: string;
  readonly userData: string;
  readonly workspace: string;
  /** `<workspace>/<fileName>`. */
  readonly file: string;
  /** Chromium's page, once `open` has run. */
  readonly page: Page;
  /** Writes the user's tandem config file (`$XDG_CONFIG_HOME/tandem/config.json`), the base user settings with `userSettings` over them, and `machine` as the machine settings. */
  configure(o: { tandemConfig: unknown; userSettings?: Record<string, unknown>; machine: Record<string, unknown> }): void;
  /**
   * The remote (machine) settings: code-server is a remote window, so machine-scoped settings
   * (tandem.backends) are read from these, not from the browser-side user settings.
   */
  machineSettings(settings: Record<string, unknown>): void;
  /** Takes `fake` (the suite's fake backend) to close with the rest; returns it. */
  own<T extends { close(): Promise<void> }>(fake: T): T;
  /** Installs this checkout's .vsix and `moreVsix`, starts code-server and opens the workspace in Chromium; returns the page once the Explorer lists `shows`. */
  open(o: { moreVsix?: string[]; shows: string }): Promise<Page>;
  /** Closes Chromium, stops code-server (with the extension host and the tandem server it started) and what `own` took, removes the folder unless a check failed. */
  close(): Promise<void>;
  /** Polls for a condition: a file, a log line, a request, or text on the screen that playwright cannot wait for alone. */
  until<T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>): Promise<T>;
  /** Runs one check; on failure saves a screenshot and the logs, and says where. */
  step(name: string, fn: () => Promise<void>): Promise<void>;
  /** Runs a command from the Command Palette by its title. */
  palette(title: string): Promise<void>;
  /** Puts the cursor at a 1-based line and column of the focused editor (Go to Line); with no column, at the end of the line. */
  goToLine(line: number, column?: number): Promise<void>;
  /** Opens the file with Quick Open and waits until its editor has the keyboard's focus. */
  openFile(): Promise<void>;
  /** Brings the file's editor to the front with the keyboard's focus. */
  focusFile(): Promise<void>;
  /** Saves the file and waits until the file on disk holds `text`. */
  savedWith(text: string): Promise<string>;
}

export function codeServerSession(opts: SessionOptions): CodeServerSession {
  const dir = mkdtempSync(join(tmpdir(), opts.tmpPrefix));
  const userData = join(dir, 'user-data');
  const workspace = join(dir, 'workspace');
  const home = join(dir, 'home');
  const shots = join(dir, 'screenshots');
  const fileName = opts.fileName ?? '';
  const file = join(workspace, fileName);
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let browser: Browser | undefined;
  let page: Page | undefined;
  const owned: { close(): Promise<void> }[] = [];
  /** Kept for a look when a check failed; removed otherwise (the .vsix and VS Code's state, ~110 MB). */
  let failed = false;

  const s: CodeServerSession = {
    dir,
    userData,
    workspace,
    file,
    get page(): Page {
      if (!page) throw new Error(`${opts.testFile}: no page: code-server was not opened`);
      return page;
    },

    configure({ tandemConfig, userSettings, machine }) {
      mkdirSync(workspace, { recursive: true });
      mkdirSync(join(home, 'tandem'), { recursive: true });
      writeFileSync(join(home, 'tandem/config.json'), JSON.stringify(tandemConfig));
      mkdirSync(join(userData, 'User'), { recursive: true });
      mkdirSync(join(userData, 'Machine'), { recursive: true });
      s.machineSettings(machine);
      writeFileSync(join(userData, 'User/settings.json'), JSON.stringify({ ...BASE_USER_SETTINGS, ...userSettings }));
    },

    machineSettings(settings) {
      writeFileSync(join(userData, 'Machine/settings.json'), JSON.stringify(settings, null, 2));
    },

    own(fake) {
      owned.push(fake);
      return fake;
    },

    async open({ moreVsix = [], shows }) {
      let pw: typeof import('playwright-core');
      try {
        pw = createRequire(join(EXT, 'package.json'))('playwright-core');
      } catch (err) {
        throw new Error(`playwright-core is not installed: run \`npm ci --prefix clients/vscode\` (${String(err)})`);
      }
      // The .vsix of this checkout, in a folder of its own (test/clients/vscode.test.ts packages too).
      const packaged = spawnSync(process.execPath, [join(EXT, 'scripts/package.mjs'), '--out-dir', join(dir, 'vsix')], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24, timeout: 2 * STUCK });
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
      for (const v of [vsix, ...moreVsix]) {
        const installed = spawnSync(cs.node!, [cs.entry!, ...common, '--install-extension', v], { env, encoding: 'utf8', timeout: STUCK });
        if (!/successfully installed/.test(installed.stdout)) throw new Error(`code-server --install-extension ${v} failed: ${installed.stdout}${installed.stderr}`);
      }

      const started = spawn(cs.node!, [cs.entry!, ...common, '--auth', 'none', '--bind-addr', '127.0.0.1:0', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', workspace], { env, detached: true });
      server = started;
      const url = await new Promise<string>((resolveUrl, reject) => {
        const seen = (d: Buffer) => {
          serverOutput += d.toString();
          const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serverOutput);
          if (m) resolveUrl(m[1]!);
        };
        started.stdout!.on('data', seen);
        started.stderr!.on('data', seen);
        started.on('exit', (code) => reject(new Error(`code-server exited (${code}) before listening:\n${serverOutput}`)));
      });

      browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`, { timeout: STUCK });
      await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: STUCK });
      // The Explorer lists the folder once the remote side is connected.
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: shows }).waitFor({ timeout: STUCK });
      return page;
    },

    async close() {
      await browser?.close();
      if (server?.pid && server.exitCode === null) {
        // code-server, its extension host and the tandem server it started: one process group.
        const exited = new Promise((r) => server!.once('exit', r));
        process.kill(-server.pid, 'SIGTERM');
        await exited;
      }
      for (const o of owned) await o.close();
      if (!failed && !process.env.TANDEM_KEEP) rmSync(dir, { recursive: true, force: true });
    },

    async until(what, probe) {
      const end = performance.now() + STUCK;
      for (;;) {
        const v = await probe();
        if (v) return v;
        if (performance.now() > end) throw new Error(`still waiting after ${STUCK} ms for ${what}${opts.stuckDetail ? `; ${opts.stuckDetail()}` : ''}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },

    async step(name, fn) {
      try {
        await fn();
      } catch (err) {
        failed = true;
        mkdirSync(shots, { recursive: true });
        const shot = join(shots, `${name.replace(/[^\w-]+/g, '_')}.png`);
        await page?.screenshot({ path: shot }).catch(() => undefined);
        const logs: Record<string, () => string> = { 'code-server.log': () => serverOutput, ...opts.failureLogs };
        console.error(`${opts.testFile}: "${name}" failed; screenshot ${shot}; ${Object.keys(logs).join(', ')} in ${dir}`);
        for (const [log, contents] of Object.entries(logs)) writeFileSync(join(dir, log), contents());
        throw err;
      }
    },

    async palette(title) {
      const p = s.page;
      await p.keyboard.press('F1');
      const input = p.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: STUCK });
      await input.fill(`>${title}`);
      await p.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: STUCK });
      await p.keyboard.press('Enter');
      await p.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: STUCK });
    },

    async goToLine(line, column) {
      const p = s.page;
      await p.keyboard.press('Control+G');
      const input = p.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: STUCK });
      await input.fill(column === undefined ? `:${line}` : `:${line}:${column}`);
      await p.keyboard.press('Enter');
      await p.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: STUCK });
      if (column === undefined) await p.keyboard.press('End');
    },

    async openFile() {
      const p = s.page;
      await p.keyboard.press('Control+P');
      await p.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: STUCK });
      await p.keyboard.type(fileName);
      await p.locator('.quick-input-widget .monaco-list-row', { hasText: fileName }).first().waitFor({ timeout: STUCK });
      await p.keyboard.press('Enter');
      await p.locator('.tabs-container .tab.active', { hasText: fileName }).waitFor({ timeout: STUCK });
      await p.locator('.monaco-editor.focused').waitFor({ timeout: STUCK });
    },

    async focusFile() {
      await s.page.locator('.tabs-container .tab', { hasText: fileName }).click();
      await s.page.locator('.monaco-editor.focused').waitFor({ timeout: STUCK });
    },

    async savedWith(text) {
      await s.focusFile();
      await s.page.keyboard.press('Control+S');
      return s.until(`${file} to contain ${JSON.stringify(text)}`, () => {
        const now = readFileSync(file, 'utf8');
        return now.includes(text) && now;
      });
    },
  };
  return s;
}
