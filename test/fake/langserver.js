#!/usr/bin/env node
// @ts-check
/**
 * A stand-in for a language's own server (pyright, gopls) in the editor tests, so tandem is shown
 * to work beside one in the same buffer: an LSP server over stdio that answers `initialize`,
 * `textDocument/hover` ("fake hover: <word at the position>"), `textDocument/codeAction` (one
 * action of its own, resolved lazily), `codeAction/resolve` and `workspace/executeCommand` for
 * its own items only (others get an error, as a real server answers what it does not know), and
 * `shutdown`/`exit`. Like gopls, it declares code-action resolve and a command of its own, so a
 * client that sends tandem's items to every server shows up as errors here.
 *
 * Every message it receives is appended as one JSON line ({method, id?, params}) to the file
 * named by $FAKE_LSP_LOG, so a test can see what reached which server.
 */
import { appendFileSync } from 'node:fs';

const LOG = process.env.FAKE_LSP_LOG;
/** @type {Map<string, string>} open documents' text by URI */
const documents = new Map();

/** @param {object} msg */
function send(msg) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
  process.stdout.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
}

const OWN_ACTION = { title: 'Organize imports (fake)', kind: 'source.organizeImports', data: { fake: true } };

/** @param {string} method @param {any} params @returns {{result?: unknown, error?: {code: number, message: string}}} */
function answer(method, params) {
  switch (method) {
    case 'initialize':
      return {
        result: {
          capabilities: {
            textDocumentSync: 1,
            hoverProvider: true,
            codeActionProvider: { resolveProvider: true },
            executeCommandProvider: { commands: ['fake.organize'] },
          },
          serverInfo: { name: 'fake-langserver', version: '1.0.0' },
        },
      };
    case 'textDocument/hover': {
      const text = documents.get(params.textDocument.uri) ?? '';
      const line = text.split('\n')[params.position.line] ?? '';
      const at = params.position.character;
      const word = (/[\w$]*$/.exec(line.slice(0, at))?.[0] ?? '') + (/^[\w$]*/.exec(line.slice(at))?.[0] ?? '');
      return { result: { contents: { kind: 'markdown', value: `fake hover: ${word}` } } };
    }
    case 'textDocument/codeAction':
      return { result: [OWN_ACTION] };
    case 'codeAction/resolve':
      if (params?.data?.fake === true) return { result: { ...OWN_ACTION, command: { title: 'Organize', command: 'fake.organize' } } };
      return { error: { code: -32602, message: `fake-langserver: not one of my code actions: ${params?.title}` } };
    case 'workspace/executeCommand':
      if (params?.command === 'fake.organize') return { result: null };
      return { error: { code: -32602, message: `fake-langserver: unknown command ${params?.command}` } };
    case 'shutdown':
      return { result: null };
    default:
      return { error: { code: -32601, message: `fake-langserver: unhandled method ${method}` } };
  }
}

/** @param {any} msg */
function onMessage(msg) {
  if (LOG) appendFileSync(LOG, JSON.stringify({ method: msg.method ?? null, id: msg.id, params: msg.params }) + '\n');
  if (!msg.method) return; // a response to a request of ours (we send none)
  if (msg.method === 'exit') process.exit(0);
  if (msg.method === 'textDocument/didOpen') documents.set(msg.params.textDocument.uri, msg.params.textDocument.text);
  if (msg.method === 'textDocument/didChange') {
    const full = msg.params.contentChanges.at(-1);
    if (full && !full.range) documents.set(msg.params.textDocument.uri, full.text);
  }
  if (msg.id === undefined) return;
  send({ id: msg.id, ...answer(msg.method, msg.params) });
}

let buffer = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const head = buffer.indexOf('\r\n\r\n');
    if (head < 0) return;
    const length = Number(/Content-Length: *(\d+)/i.exec(buffer.subarray(0, head).toString('ascii'))?.[1]);
    if (!Number.isInteger(length)) throw new Error('fake-langserver: a frame without Content-Length');
    if (buffer.length < head + 4 + length) return;
    const body = buffer.subarray(head + 4, head + 4 + length).toString('utf8');
    buffer = buffer.subarray(head + 4 + length);
    onMessage(JSON.parse(body));
  }
});
process.stdin.on('end', () => process.exit(0));
