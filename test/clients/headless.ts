// Start-up shared by the Neovim and Emacs tests: a headless editor runs a driver script against
// the built server, in a directory of its own that stands for the user's configuration, writes what
// it saw as JSON to <dir>/out.json and quits.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface HeadlessRun {
  /** The run's own directory: out.json, and the editor's (and tandem's) configuration and state directories. */
  dir: string;
  /**
   * The driver, relative to test/clients (`neovim/init.lua`, `emacs/eglot-test.el`), loaded
   * instead of any user configuration; without one Neovim starts as a user's would, from the
   * init.vim in `dir`.
   */
  script?: string;
  /** Where the editor starts; `dir` unless given. */
  cwd?: string;
  /** The driver's own variables (TANDEM_TEST_FILE, TANDEM_FAKE_URL, ...), over the ones set here. */
  env?: Record<string, string>;
}

/**
 * Runs a headless `editor` until it quits and returns the JSON its driver wrote, with what the
 * editor printed; throws with that output when it wrote none.
 */
export async function runHeadless(editor: 'nvim' | 'emacs', run: HeadlessRun): Promise<{ results: any; output: string }> {
  const { dir } = run;
  const out = join(dir, 'out.json');
  const env = {
    ...process.env,
    TANDEM_TEST_OUT: out,
    TANDEM_NODE: process.execPath,
    TANDEM_SERVER: join(ROOT, 'server/bin/tandem-lsp.js'),
    TANDEM_CONFIG: '',
    // Neither the user's editor nor tandem configuration may leak in.
    ...(editor === 'nvim'
      ? {
          // A bound for a scripted session that is stuck, not for a slow one.
          TANDEM_TEST_TIMEOUT_MS: '45000',
          TANDEM_NVIM_PLUGIN: join(ROOT, 'clients/neovim'),
          XDG_CONFIG_HOME: dir,
          XDG_DATA_HOME: dir,
          XDG_STATE_HOME: dir,
          XDG_CACHE_HOME: dir,
        }
      : { HOME: dir, XDG_CONFIG_HOME: dir, XDG_STATE_HOME: dir }),
    ...run.env,
  };
  const script = run.script && join(ROOT, 'test/clients', run.script);
  const args = editor === 'nvim' ? ['--headless', ...(script ? ['--clean', '-u', script] : [])] : ['--batch', '-q', ...(script ? ['-l', script] : [])];
  const proc = spawn(editor, args, { env, cwd: run.cwd ?? dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((res) => {
    // A bound for a run that is stuck, not for a slow one.
    const timer = setTimeout(() => proc.kill('SIGKILL'), 50_000);
    proc.on('exit', (c) => {
      clearTimeout(timer);
      res(c);
    });
  });
  try {
    return { results: JSON.parse(readFileSync(out, 'utf8')), output };
  } catch {
    throw new Error(`${editor} exited with ${code} and wrote no results; its output:\n${output}`);
  }
}
