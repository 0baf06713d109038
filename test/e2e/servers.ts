// Starting the built server for end-to-end tests: a fresh home per server, so no user config, audit
// log or spend ledger of the developer's (or of another test) is read or written.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { BIN, LspClient } from '../lsp-client.js';
import { FIRST_OPEN_MS } from '../../server/src/router/health.js';
import { PROBE_EVERY_MS } from '../../server/src/router/status.js';

export interface Started {
  client: LspClient;
  /** XDG_CONFIG_HOME of this server. */
  home: string;
  /** XDG_STATE_HOME of this server: the audit log is at state/tandem/audit.jsonl. */
  state: string;
}

export interface StartOptions {
  init: unknown;
  rootUri?: string | null;
  capabilities?: unknown;
  env?: Record<string, string | undefined>;
  onRequest?: (method: string, params: any) => unknown;
}

export async function startServer(opts: StartOptions): Promise<Started> {
  const home = mkdtempSync(join(tmpdir(), 'tandem-e2e-'));
  const state = join(home, 'state');
  const client = new LspClient({ env: { XDG_CONFIG_HOME: home, XDG_STATE_HOME: state, TANDEM_CONFIG: '', ...opts.env }, ...(opts.onRequest ? { onRequest: opts.onRequest } : {}) });
  await client.initialize({ initializationOptions: opts.init, rootUri: opts.rootUri ?? null, ...(opts.capabilities ? { capabilities: opts.capabilities } : {}) });
  return { client, home, state };
}

/** Stops a test's server, failing the test if any frame it wrote was not well-formed LSP, and closes its fakes. */
export async function stopChecked(client: LspClient | undefined, fakes: { close(): Promise<void> }[]): Promise<void> {
  if (client) expect(await client.stop().then(() => client.protocolErrors)).toEqual([]);
  await Promise.all(fakes.splice(0).map((f) => f.close()));
}

/**
 * Whether a breaker was surely still open when a request that ended at `done` was routed, from
 * times on the test's clock: the server was spawned after `spawned` and the breaker opened after
 * `opened`. Only if neither wait of health.ts can have run out (one trial request after
 * FIRST_OPEN_MS, a probe of unhealthy backends every PROBE_EVERY_MS) must the backend have got
 * nothing; a machine starved beyond that may rightly have let one trial through.
 */
export function breakerSurelyOpen(t: { spawned: number; opened: number; done: number }): boolean {
  return t.done - t.opened < FIRST_OPEN_MS && t.done - t.spawned < PROBE_EVERY_MS;
}

/** `tandem.stats`' count of inline requests that their deadline ended (inline.deadlineMs). */
export async function deadlinesExpired(client: LspClient): Promise<number> {
  return ((await client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] })) as { deadlineExpired: number }).deadlineExpired;
}

/** Code action capabilities of an editor that resolves actions lazily and shows work-done progress. */
export const RESOLVE_CAPS = { textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } }, window: { workDoneProgress: true } };

/** The SEARCH/REPLACE block format the action pipeline asks models for. */
export const block = (search: string[], replace: string[]) => ['<<<<<<< SEARCH', ...search, '=======', ...replace, '>>>>>>> REPLACE'].join('\n');

/** The LSP error of a request, or undefined when it answered. */
export const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: { code?: number; message: string }) => e);

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tandem-lsp ARGS` to its end; `env` adds to (or, with undefined, removes from) the test's environment. */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
