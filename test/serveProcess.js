// @ts-check
// Starting `tandem-lsp serve --port 0` as a user would, for the serve tests and bench/serve.js: a
// fresh state directory per process (so the token is its own), the URL read from its stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, BIN_ENV, BIN_NODE_FLAGS } from './lsp-client.js';

/**
 * @param {{ config: unknown, workspace: string, env?: Record<string, string>, args?: string[], state?: string }} opts
 *   `config`: written to a --config file; `state`: XDG_STATE_HOME (default a new temporary one).
 */
export async function startServeProcess(opts) {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-serve-'));
  const state = opts.state ?? join(dir, 'state');
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(opts.config));
  const child = spawn(process.execPath, [...BIN_NODE_FLAGS, BIN, 'serve', '--port', '0', '--config', configFile, '--workspace', opts.workspace, ...(opts.args ?? [])], {
    env: { ...process.env, ...BIN_ENV, XDG_CONFIG_HOME: join(dir, 'home'), XDG_STATE_HOME: state, TANDEM_CONFIG: '', TANDEM_LOG: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  /** @type {string} */
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(/** @type {string} */ (m[1]));
    });
    child.on('exit', (code) => reject(new Error(`tandem-lsp serve exited (${code}) before listening:\n${stderr}`)));
  });
  const tokenPath = /bearer token in (\S+?);/.exec(stderr)?.[1] ?? '';
  const token = readFileSync(tokenPath, 'utf8').trim();
  return {
    url,
    token,
    tokenPath,
    state,
    configFile,
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    /** Ends the process; resolves with its exit code or signal. */
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? child.signalCode);
        child.once('exit', (code, sig) => resolve(code ?? sig));
        child.kill('SIGTERM');
      });
    },
  };
}
