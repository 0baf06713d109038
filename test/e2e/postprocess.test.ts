// Postprocessing seen from the editor, over stdio against the fake vLLM: ghost text comes in the
// document's indentation whatever the model's, a model's loop is cut to its first round, and a
// copy of a neighbouring line is not shown.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED } from '../wait.js';
import { startServer, stopChecked } from './servers.js';

let fake: FakeVllm;
let client: LspClient | undefined;
/** What the fake model answers next. */
let answer = '';

beforeEach(async () => {
  fake = await startFakeVllm({ respond: () => ({ text: answer }) });
});

afterEach(async () => {
  const c = client;
  client = undefined;
  await stopChecked(c, [fake]);
});

async function start(): Promise<LspClient> {
  const started = await startServer({ init: { backends: { fim: { kind: 'vllm', url: fake.url } }, context: { enabled: false }, inline: INLINE_UNHURRIED } });
  client = started.client;
  return client;
}

/** The ghost text shown for `doc` (├ marks the cursor) when the model answers `raw`. */
async function shown(c: LspClient, uri: string, languageId: string, doc: string, raw: string): Promise<string[]> {
  const at = doc.indexOf('├');
  const text = doc.slice(0, at) + doc.slice(at + 1);
  const before = text.slice(0, at).split('\n');
  c.open(uri, languageId, text);
  answer = raw;
  const result = (await c.inline(uri, { line: before.length - 1, character: before[before.length - 1]!.length }).result) as { items: { insertText: string }[] };
  return result.items.map((i) => i.insertText);
}

const GO = ['package main', '', 'func sum(xs []int) int {', '\ttotal := 0', '\tfor _, x := range xs {├', '\t}', '\treturn total', '}', ''].join('\n');

describe('postprocessing over stdio', () => {
  it('a tab-indented Go file gets its multi-line completion in tabs from a model answering with 4 spaces', async () => {
    const c = await start();
    const items = await shown(c, 'file:///work/demo/sum.go', 'go', GO, '\n        if x > 0 {\n            total += x\n        }\n    }\n    return total\n}\n');
    expect(items).toEqual(['\n\t\tif x > 0 {\n\t\t\ttotal += x\n\t\t}']);
    expect(fake.completions()).toHaveLength(1);
  });

  it('a model that loops over a block shows its first round; a copy of the line above shows nothing', async () => {
    const c = await start();
    const loop = await shown(c, 'file:///work/demo/rows.ts', 'typescript', 'function read(rows: string[]) {\n  let i = 0;\n  ├\n}\n', 'const row = next();\n  rows.push(row);\n  const row = next();\n  rows.push(row);\n  const row = next();');
    expect(loop).toEqual(['const row = next();\n  rows.push(row);']);
    const copy = await shown(c, 'file:///work/demo/log.ts', 'typescript', 'function f() {\n  log("start");\n  ├\n}\n', 'log("start");');
    expect(copy).toEqual([]);
    expect(fake.completions()).toHaveLength(2);
  });

  it('the editor\'s pushed editor.insertSpaces/tabSize indent a file that shows no indentation; a bad value is named', async () => {
    const c = await start();
    c.notify('workspace/didChangeConfiguration', { settings: { editor: { tabSize: 'wide', insertSpaces: false } } });
    const warning = await c.waitForNotification((n) => n.method === 'window/logMessage' && String(n.params.message).includes('settings.editor.tabSize'));
    expect(warning.params.message).toContain('ignored workspace/didChangeConfiguration settings.editor.tabSize: expected an integer from 1 to 16');
    expect(warning.params.type).toBe(2);
    const items = await shown(c, 'file:///work/demo/new.ts', 'typescript', 'function f() {├', '\n    return 1;\n}');
    expect(items).toEqual(['\n\treturn 1;\n}']);

    // Spaces, 2 wide: the same answer in the editor's new style.
    c.notify('workspace/didChangeConfiguration', { settings: { editor: { tabSize: 2, insertSpaces: true } } });
    const again = await shown(c, 'file:///work/demo/other.ts', 'typescript', 'function g() {├', '\n    return 1;\n}');
    expect(again).toEqual(['\n  return 1;\n}']);
  });
});
