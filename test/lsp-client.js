// @ts-check
// A strict LSP client over stdio for end-to-end tests and the benchmark: spawns the built
// `tandem-lsp --stdio`, frames JSON-RPC itself, and fails loudly if stdout ever carries a
// byte that is not part of a well-formed `Content-Length` frame.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'server', 'bin', 'tandem-lsp.js');
/** The bin's `#!/usr/bin/env -S NAME=value ... node --flag ...` line: its environment and node flags. */
const SHEBANG = readFileSync(BIN, 'utf8').split('\n', 1)[0].replace(/^#!\/usr\/bin\/env -S /, '').split(' ').filter(Boolean);
export const BIN_NODE_FLAGS = SHEBANG.slice(SHEBANG.indexOf('node') + 1);
export const BIN_ENV = Object.fromEntries(SHEBANG.slice(0, SHEBANG.indexOf('node')).map((kv) => kv.split('=', 2)));

/**
 * How long a wait on an event may last before it is called stuck: long enough for a loaded 2-core
 * machine (CI), so that it never acts as a margin on speed; below the test runner's own timeout.
 */
export const STUCK_MS = 20_000;

/**
 * `asCommand`: run the bin as an executable (its shebang picks node and its flags), as `tandem-lsp` runs from PATH.
 * @typedef {{ args?: string[], nodeArgs?: string[], asCommand?: boolean, bin?: string, env?: Record<string, string | undefined>, cwd?: string,
 *   onRequest?: (method: string, params: any) => any }} StartOptions
 */

export class LspClient {
  /** @param {StartOptions} [opts] */
  constructor(opts = {}) {
    // Node's flags as the bin's shebang gives them (an editor running `tandem-lsp`), unless a test sets its own.
    // `bin`: another copy's server (the install test's clone), else this checkout's.
    const bin = opts.bin ?? BIN;
    const [cmd, argv] = opts.asCommand ? [bin, []] : [process.execPath, [...(opts.nodeArgs ?? BIN_NODE_FLAGS), bin]];
    this.child = spawn(cmd, [...argv, '--stdio', ...(opts.args ?? [])], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...(opts.asCommand || opts.nodeArgs ? {} : BIN_ENV), ...(opts.env ?? {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    /** @type {Map<number, {resolve: (v: any) => void, reject: (e: any) => void, method: string}>} */
    this.pending = new Map();
    /** @type {{method: string, params: any}[]} */
    this.notifications = [];
    /** @type {{method: string, params: any}[]} */
    this.serverRequests = [];
    /** @type {((n: {method: string, params: any}) => void)[]} */
    this.waiters = [];
    this.nextId = 1;
    this.stderr = '';
    this.protocolErrors = /** @type {string[]} */ ([]);
    this.onRequest = opts.onRequest ?? (() => null);
    this.buffer = Buffer.alloc(0);
    /** @type {Promise<number | null>} */
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdout.on('data', (d) => this.onData(d));
  }

  /** @param {Buffer} chunk */
  onData(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) {
        const head = this.buffer.toString('latin1', 0, Math.min(16, this.buffer.length));
        if (!'Content-Length: '.startsWith(head) && !head.startsWith('Content-')) {
          this.protocolErrors.push(`stray bytes on stdout: ${JSON.stringify(this.buffer.toString('utf8').slice(0, 80))}`);
          this.buffer = Buffer.alloc(0);
        }
        return;
      }
      const header = this.buffer.subarray(0, headerEnd).toString('latin1');
      const m = /^Content-Length: (\d+)(\r\nContent-Type: [^\r\n]+)?$/i.exec(header);
      if (!m) {
        this.protocolErrors.push(`bad frame header on stdout: ${JSON.stringify(header.slice(0, 80))}`);
        this.buffer = this.buffer.subarray(headerEnd + 4);
        continue;
      }
      const len = Number(m[1]);
      if (this.buffer.length < headerEnd + 4 + len) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + len).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + len);
      let msg;
      try {
        msg = JSON.parse(body);
      } catch {
        this.protocolErrors.push(`frame body is not JSON: ${body.slice(0, 80)}`);
        continue;
      }
      this.dispatch(msg);
    }
  }

  /** @param {any} msg */
  dispatch(msg) {
    if (msg.id !== undefined && msg.method === undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code, data: msg.error.data }));
      else p.resolve(msg.result);
    } else if (msg.id !== undefined) {
      this.serverRequests.push({ method: msg.method, params: msg.params });
      Promise.resolve(this.onRequest(msg.method, msg.params)).then(
        (result) => this.write({ jsonrpc: '2.0', id: msg.id, result: result ?? null }),
        (err) => this.write({ jsonrpc: '2.0', id: msg.id, error: { code: -32603, message: String(err) } }),
      );
    } else {
      const n = { method: msg.method, params: msg.params };
      this.notifications.push(n);
      for (const w of this.waiters.splice(0)) w(n);
    }
  }

  /** @param {any} msg */
  write(msg) {
    const body = Buffer.from(JSON.stringify(msg), 'utf8');
    this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin.write(body);
  }

  /**
   * Sends a request; returns its id and the promise of its result.
   * @param {string} method @param {any} params
   * @returns {{id: number, result: Promise<any>}}
   */
  send(method, params) {
    const id = this.nextId++;
    const result = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
    this.write({ jsonrpc: '2.0', id, method, params });
    return { id, result };
  }

  /** @param {string} method @param {any} params */
  request(method, params) {
    return this.send(method, params).result;
  }

  /** @param {string} method @param {any} [params] */
  notify(method, params) {
    this.write({ jsonrpc: '2.0', method, params });
  }

  /** @param {number} id */
  cancel(id) {
    this.notify('$/cancelRequest', { id });
  }

  /**
   * Resolves with the first notification (past or future) that matches.
   * @param {(n: {method: string, params: any}) => boolean} pred @param {number} [timeoutMs]
   */
  waitForNotification(pred, timeoutMs = STUCK_MS) {
    const found = this.notifications.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching notification within ${timeoutMs} ms; got ${JSON.stringify(this.notifications.map((n) => n.method))}`)), timeoutMs);
      const check = (/** @type {{method: string, params: any}} */ n) => {
        if (pred(n)) {
          clearTimeout(t);
          resolve(n);
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /**
   * initialize + initialized.
   * @param {{ capabilities?: any, initializationOptions?: any, rootUri?: string | null, workspaceFolders?: any }} [opts]
   */
  async initialize(opts = {}) {
    const result = await this.request('initialize', {
      processId: process.pid,
      rootUri: opts.rootUri ?? null,
      workspaceFolders: opts.workspaceFolders ?? null,
      capabilities: opts.capabilities ?? { textDocument: { inlineCompletion: {} } },
      initializationOptions: opts.initializationOptions,
    });
    this.notify('initialized', {});
    return result;
  }

  /** @param {string} uri @param {string} languageId @param {string} text @param {number} [version] */
  open(uri, languageId, text, version = 1) {
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  /** @param {string} uri @param {number} version @param {any[]} changes */
  change(uri, version, changes) {
    this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: changes });
  }

  /**
   * An automatic request (triggerKind 2) unless `context` says otherwise (`{triggerKind: 1}`: the
   * user asked; `selectedCompletionInfo`: the suggest widget's item).
   * @param {string} uri @param {{line: number, character: number}} position @param {any} [context]
   */
  inline(uri, position, context) {
    return this.send('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 2, ...context } });
  }

  /** shutdown + exit; resolves with the exit code. */
  async stop() {
    if (this.child.exitCode !== null) return this.child.exitCode;
    try {
      // Bounds for a server that hangs, not for a slow one: a slow one must still exit 0.
      await Promise.race([this.request('shutdown', null), new Promise((r) => setTimeout(r, STUCK_MS / 2))]);
      this.notify('exit');
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STUCK_MS / 2);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
