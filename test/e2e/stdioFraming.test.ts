// End to end: a bad frame on the built server's stdin is named on stderr and skipped; the next request is answered.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LspClient } from '../lsp-client.js';
import { until } from '../wait.js';

let home: string;
let client: LspClient | undefined;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'tandem-framing-'));
});

afterEach(async () => {
  const c = client;
  client = undefined;
  if (c && c.child.exitCode === null) c.child.kill();
});

function start(): LspClient {
  // The default log level of --stdio (info): a bad frame must show without asking for debug.
  client = new LspClient({ env: { XDG_CONFIG_HOME: home, TANDEM_CONFIG: '', TANDEM_LOG: undefined } });
  return client;
}

/** No backend is reachable there; nothing in these tests asks one for anything. */
const OFFLINE = { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9' } } };

const bad: [string, string, RegExp][] = [
  ['missing Content-Length', 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{"jsonrpc":"2.0","method":"x"}', /no Content-Length header/],
  ['a negative Content-Length', 'Content-Length: -12\r\n\r\n{"jsonrpc":"2.0","method":"x"}', /Content-Length "-12" is not a byte count/],
  ['a non-numeric Content-Length', 'Content-Length: twelve\r\n\r\n{"jsonrpc":"2.0","method":"x"}', /Content-Length "twelve" is not a byte count/],
  ['a Content-Length too small', 'Content-Length: 7\r\n\r\n{"jsonrpc":"2.0","method":"x"}', /body of 7 bytes is not valid JSON/],
  ['a Content-Length too large', 'Content-Length: 5000000\r\n\r\n{"jsonrpc":"2.0","method":"x"}', /body of 5000000 bytes holds another frame's header/],
  ['a huge Content-Length', 'Content-Length: 1099511627776\r\n\r\n{"jsonrpc":"2.0","method":"x"}', /Content-Length "1099511627776" is above the 67108864-byte limit/],
  ['garbage with no header separator', 'this is not a header\r\n', /header line "this is not a header" has no ':'/],
  ['a body that is not JSON', 'Content-Length: 11\r\n\r\n{"id": 1,,}', /body of 11 bytes is not valid JSON/],
];

describe('stdin framing (--stdio)', () => {
  for (const [name, garbage, why] of bad) {
    it(`${name}: named on stderr, skipped, and the next initialize answered; stdout only frames`, async () => {
      const c = start();
      c.child.stdin.write(garbage);
      const init = await c.initialize({ initializationOptions: OFFLINE });
      expect(init.capabilities.inlineCompletionProvider).toBe(true);
      await until(() => /bad LSP frame/.test(c.stderr), 'the bad frame reported on stderr');
      const reports = c.stderr.split('\n').filter((l) => l.includes('bad LSP frame'));
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatch(why);
      // It points at the header, or at the body when the header was usable.
      const at = /too small|too large|not JSON/.test(name) ? garbage.indexOf('\r\n\r\n') + 4 : 0;
      expect(reports[0]).toContain(`[error] stdin: bad LSP frame at byte ${at} of the input: `);
      // Still in step: a later request is answered too (shutdown), and the exit is clean.
      expect(await c.stop()).toBe(0);
      expect(c.protocolErrors).toEqual([]);
    });
  }

  it('a valid frame with odd header case, blanks and a Content-Type is read without a report', async () => {
    const c = start();
    // Every frame this client sends, initialize and shutdown included, uses these headers.
    c.write = (msg: unknown) => {
      const body = Buffer.from(JSON.stringify(msg), 'utf8');
      c.child.stdin.write(`content-LENGTH:   ${body.length}  \r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n`);
      c.child.stdin.write(body);
    };
    const init = await c.initialize({ initializationOptions: OFFLINE });
    expect(init.capabilities.inlineCompletionProvider).toBe(true);
    expect(await c.stop()).toBe(0);
    expect(c.stderr).not.toContain('bad LSP frame');
    expect(c.protocolErrors).toEqual([]);
  });

  it('stdin closing without shutdown still ends the server, with status 1', async () => {
    const c = start();
    await c.initialize({ initializationOptions: OFFLINE });
    c.child.stdin.end();
    expect(await c.exited).toBe(1);
  });

  it('a request whose id is an object, an array, a boolean or null, or whose method is no string, is answered -32600 (JSON-RPC 2.0), and the server goes on', async () => {
    const c = start();
    const answers: unknown[] = [];
    const dispatch = c.dispatch.bind(c);
    c.dispatch = (msg: { id?: unknown; method?: unknown }) => (msg.method === undefined && (msg.id === null || msg.id === 9) ? void answers.push(msg) : dispatch(msg));
    await c.initialize({ initializationOptions: OFFLINE });
    for (const id of [{}, [], true, null]) c.write({ jsonrpc: '2.0', id, method: 'workspace/executeCommand', params: { command: 'tandem.stats', arguments: [] } });
    c.write({ jsonrpc: '2.0', id: 9, method: 42 });
    await until(() => answers.length === 5, 'five answers');
    expect(answers).toEqual([
      ...['an object', 'an array', 'a boolean', 'null'].map((kind) => ({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Invalid Request: the id of a request must be a number or a string, not ${kind}` } })),
      { jsonrpc: '2.0', id: 9, error: { code: -32600, message: 'Invalid Request: the method must be a string, not a number' } },
    ]);
    // Still answering: a real request after them, and a clean exit.
    expect((await c.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] })).process).toBeDefined();
    expect(c.stderr).toContain('[error] stdin: answered an invalid request with -32600: the id of a request must be a number or a string, not an object');
    expect(await c.stop()).toBe(0);
    expect(c.protocolErrors).toEqual([]);
  });
});
