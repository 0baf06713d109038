// Malformed parameters over stdio: every request is answered -32602 naming the field, every notification is ignored with one warning, and the server serves on.
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED, until } from '../wait.js';
import { failure, startServer, stopChecked } from './servers.js';

const URI = 'file:///w/src/geo.ts';
const DOC = ['export function area(r: number): number {', '  ', '}', ''].join('\n');
const CURSOR = { line: 1, character: 2 };
const RANGE = { start: CURSOR, end: CURSOR };
const CAPS = { textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } }, workspace: { workspaceFolders: true } };

let fake: FakeVllm | undefined;
let client: LspClient | undefined;

afterEach(async () => {
  const c = client;
  client = undefined;
  // Fails the test if the server wrote anything but well-formed frames to stdout.
  await stopChecked(c, fake ? [fake] : []);
  fake = undefined;
});

async function start(): Promise<LspClient> {
  fake = await startFakeVllm({ respond: () => ({ text: 'return r;' }) });
  const started = await startServer({ init: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: INLINE_UNHURRIED, context: { enabled: false } }, rootUri: 'file:///w', capabilities: CAPS, env: { TANDEM_LOG: 'debug' } });
  client = started.client;
  client.open(URI, 'typescript', DOC);
  return client;
}

const at = (position: unknown) => ({ textDocument: { uri: URI }, position, context: { triggerKind: 2 } });
const action = (context: unknown, range: unknown = RANGE) => ({ textDocument: { uri: URI }, range, context });
const data = { id: 'simplify', uri: URI, version: 1, start: 0, end: 10 };

// [method, params, what the message must say]
const REQUESTS: [string, unknown, string][] = [
  ['textDocument/inlineCompletion', null, 'textDocument/inlineCompletion: params: expected {"textDocument"'],
  ['textDocument/inlineCompletion', { position: CURSOR }, 'textDocument/inlineCompletion: params.textDocument: expected {"uri": ...} (got nothing)'],
  ['textDocument/inlineCompletion', { textDocument: { uri: 5 }, position: CURSOR }, 'params.textDocument.uri: expected a document URI (got 5)'],
  ['textDocument/inlineCompletion', at({ line: 'x', character: 0 }), 'params.position.line: expected a non-negative integer (got "x")'],
  ['textDocument/inlineCompletion', at({ line: -1, character: 0 }), 'params.position.line: expected a non-negative integer (got -1)'],
  ['textDocument/inlineCompletion', at({ line: 1, character: 1.5 }), 'params.position.character: expected a non-negative integer (got 1.5)'],
  ['textDocument/inlineCompletion', at(null), 'params.position: expected a position'],
  ['textDocument/inlineCompletion', { ...at(CURSOR), context: { triggerKind: 'a' } }, 'params.context.triggerKind: expected 1 (invoked) or 2 (automatic) (got "a")'],
  ['textDocument/completion', null, 'textDocument/completion: params: expected'],
  ['textDocument/completion', { textDocument: { uri: URI }, position: { line: 1.5, character: 0 } }, 'textDocument/completion: params.position.line: expected a non-negative integer (got 1.5)'],
  ['textDocument/codeAction', null, 'textDocument/codeAction: params: expected {"textDocument"'],
  ['textDocument/codeAction', { range: RANGE, context: { diagnostics: [] } }, 'textDocument/codeAction: params.textDocument: expected {"uri": ...} (got nothing)'],
  ['textDocument/codeAction', { textDocument: { uri: 5 }, range: RANGE, context: { diagnostics: [] } }, 'params.textDocument.uri: expected a document URI (got 5)'],
  ['textDocument/codeAction', action({ diagnostics: [] }, { start: { line: 'x', character: 0 }, end: CURSOR }), 'params.range.start.line: expected a non-negative integer (got "x")'],
  ['textDocument/codeAction', action({ diagnostics: [] }, { start: CURSOR, end: { line: -1, character: 0 } }), 'params.range.end.line: expected a non-negative integer (got -1)'],
  ['textDocument/codeAction', action({ diagnostics: [{ range: RANGE, message: 5 }] }), 'textDocument/codeAction: params.context.diagnostics[0].message: expected the message as a string (got 5)'],
  ['textDocument/codeAction', action({ diagnostics: [{ range: null, message: 'x' }] }), 'params.context.diagnostics[0].range: expected a range'],
  ['textDocument/codeAction', action({ diagnostics: 'x' }), 'params.context.diagnostics: expected a list of diagnostics (got "x")'],
  ['textDocument/codeAction', action({ diagnostics: [], only: 'quickfix' }), 'params.context.only: expected a list of code action kinds'],
  ['codeAction/resolve', null, 'codeAction/resolve: params: expected a code action'],
  ['codeAction/resolve', { title: 'Simplify', data: 5 }, 'codeAction/resolve: params.data: expected action data'],
  ['codeAction/resolve', { title: 'Simplify', data: { ...data, version: 'x' } }, 'codeAction/resolve: params.data.version: expected an integer (got "x")'],
  ['codeAction/resolve', { title: 'Simplify', data: { ...data, start: -1 } }, 'codeAction/resolve: params.data.start: expected a non-negative integer (got -1)'],
  ['workspace/executeCommand', null, 'workspace/executeCommand: params: expected {"command"'],
  ['workspace/executeCommand', { command: 5 }, 'workspace/executeCommand: params.command: expected a command name (got 5)'],
  ['workspace/executeCommand', { command: 'tandem.explain', arguments: 'x' }, 'tandem.explain: arguments must be a list'],
];

describe('malformed parameters', () => {
  it('each request is answered -32602 naming the field, and the server serves on', async () => {
    const client = await start();
    for (const [method, params, says] of REQUESTS) {
      const err = await failure(client.request(method, params));
      expect(err, `${method} ${JSON.stringify(params)}`).toMatchObject({ code: -32602 });
      expect(err!.message, `${method} ${JSON.stringify(params)}`).toContain(says);
    }
    // Parameters by position, or none at all, are not what any of these methods take.
    expect(await failure(client.request('textDocument/codeAction', [1, 2]))).toMatchObject({ code: -32602 });
    for (const method of ['textDocument/inlineCompletion', 'textDocument/codeAction', 'codeAction/resolve', 'workspace/executeCommand']) {
      expect(await failure(client.request(method, undefined)), method).toMatchObject({ code: -32602 });
    }
    // Nothing above reached a handler as an exception.
    expect(client.stderr).not.toMatch(/\[error\]/);
    // Well-formed requests still work.
    const res = await client.inline(URI, CURSOR).result;
    expect(res.items[0].insertText).toBe('return r;');
    const actions = (await client.request('textDocument/codeAction', action({ diagnostics: [{ range: RANGE, message: { kind: 'markdown', value: 'bad' } }] }))) as { title: string }[];
    expect(actions.length).toBeGreaterThan(0);
    // What clients leave out or send as null where the server has a default is not refused.
    expect(await failure(client.request('textDocument/codeAction', { textDocument: { uri: URI }, range: RANGE, context: null }))).toBeUndefined();
    expect(await failure(client.request('textDocument/inlineCompletion', { ...at(CURSOR), context: null }))).toBeUndefined();
    // tandem.edit's scope is optional (it was refused as missing): whatever the model answers, the arguments pass.
    const edit = await failure(client.request('workspace/executeCommand', { command: 'tandem.edit', arguments: [{ uri: URI, range: RANGE, instruction: 'add a guard' }] }));
    expect(edit?.code).not.toBe(-32602);
    expect(client.child.exitCode).toBeNull();
  });

  it('a malformed notification is ignored with one warning naming the field, never its value', async () => {
    const client = await start();
    const notes: [string, unknown, string][] = [
      ['textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: { text: 'SECRET_CODE_1' } }, 'textDocument/didChange: params.contentChanges: expected a list of changes'],
      ['textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [{ range: null, text: 'SECRET_CODE_2' }] }, 'textDocument/didChange: params.contentChanges[0].range: expected a range'],
      ['textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [{ range: { start: { line: 'x', character: 0 }, end: CURSOR }, text: 'SECRET_CODE_3' }] }, 'textDocument/didChange: params.contentChanges[0].range.start.line: expected a non-negative integer'],
      ['textDocument/didOpen', null, 'textDocument/didOpen: params: expected {"textDocument": ...}'],
      ['textDocument/didOpen', { textDocument: { uri: 'file:///w/src/b.ts', languageId: 'typescript', version: 'x', text: 'SECRET_CODE_4' } }, 'textDocument/didOpen: params.textDocument.version: expected an integer'],
      ['textDocument/didClose', {}, 'textDocument/didClose: params.textDocument: expected {"uri": ...}'],
      ['textDocument/didSave', { textDocument: { uri: 5 } }, 'textDocument/didSave: params.textDocument.uri: expected a document URI'],
      ['workspace/didChangeWatchedFiles', { changes: [{ uri: URI, type: 9 }] }, 'workspace/didChangeWatchedFiles: params.changes[0].type: expected 1, 2 or 3'],
      ['workspace/didChangeConfiguration', null, 'workspace/didChangeConfiguration: params: expected {"settings": ...}'],
      ['workspace/didChangeWorkspaceFolders', { event: null }, 'workspace/didChangeWorkspaceFolders: params.event: expected {"added": [...], "removed": [...]}'],
      ['textDocument/didChange', undefined, 'textDocument/didChange: params: expected {"textDocument": ..., "contentChanges": [...]}'],
    ];
    for (const [method, params] of notes) client.notify(method, params);
    // Parameters by position: the first one is checked, and fails as didOpen's null did, so is not said again.
    client.notify('textDocument/didOpen', [1, 2]);
    // The same fault again is not said again at warn level.
    client.notify(notes[0]![0], notes[0]![1]);
    const warnings = () => client.stderr.split('\n').filter((l) => l.startsWith('[warn]') && l.includes('ignored'));
    await until(() => warnings().length >= notes.length, 'a warning per malformed notification');
    // The document is as it was opened: none of the malformed changes applied, and the server serves on.
    const res = await client.inline(URI, CURSOR).result;
    expect(res.items[0].insertText).toBe('return r;');
    expect(fake!.completions()[0]!.body.prompt).toContain('export function area(r: number): number {\n  ');
    const w = warnings();
    expect(w, client.stderr).toHaveLength(notes.length);
    notes.forEach(([, , says], i) => expect(w[i]).toContain(says));
    expect(client.stderr).not.toContain('SECRET_CODE');
    expect(client.stderr).not.toMatch(/\[error\]/);
  });
});
