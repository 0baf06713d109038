// End to end over stdio: ghost text that survives what editors do on their own (pairs closed
// after the cursor, Enter between braces, suggest items, backspace), and the speculative request
// after an accepted completion. Requests are counted at the fake; nothing is timed.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { keystroke, ScriptedEditor } from '../editor.js';
import { startFakeVllm, type FakeVllm, type RecordedRequest, type Reply } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED, until } from '../wait.js';
import { startServer, stopChecked } from './servers.js';

const fakes: FakeVllm[] = [];
let client: LspClient | undefined;

afterEach(async () => {
  await stopChecked(client, fakes);
  client = undefined;
});

/** The prompt's text before the cursor (the FIM prefix). */
function before(req: RecordedRequest): string {
  const p: string = req.body?.prompt ?? '';
  const end = p.indexOf('<|fim_suffix|>');
  return end < 0 ? p : p.slice(0, end);
}

/** A fake model that answers by the text before the cursor: the first rule whose end it has. */
async function model(rules: [string, string][], opts: { hold?: (req: RecordedRequest) => Promise<void> | undefined } = {}): Promise<FakeVllm> {
  const fake = await startFakeVllm({
    respond: async (req): Promise<Reply> => {
      await opts.hold?.(req);
      const b = before(req);
      return { text: rules.find(([end]) => b.endsWith(end))?.[1] ?? '' };
    },
  });
  fakes.push(fake);
  return fake;
}

async function start(fake: FakeVllm, inline: object = {}) {
  ({ client } = await startServer({ init: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: { ...INLINE_UNHURRIED, ...inline }, context: { enabled: false } } }));
  return client;
}

/** A server on `fake` with `doc` open as src/NAME.ts, edited by a scripted editor whose cursor is at `offset`. */
async function editing(fake: FakeVllm, name: string, doc: string, offset: number) {
  const c = await start(fake);
  const uri = `file:///work/src/${name}.ts`;
  c.open(uri, 'typescript', doc);
  return { c, ed: new ScriptedEditor(c, uri, doc, offset) };
}

const stats = (c: LspClient) => c.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }) as Promise<any>;

describe('typing through on an editor with its own habits', () => {
  // A body typed on an editor that closes (, [, { and quotes, splits braces on Enter and indents.
  const DOC = 'export function render(items: Item[], out: string[]): void {\n  \n}\n';
  const P = DOC.indexOf('  \n') + 2;
  const BODY = [
    'const seen = new Map<string, number>();',
    '  for (const item of items) {',
    '    if (item.tags.includes("skip")) {',
    '      continue;',
    '    }',
    '    out.push(format(item, [item.kind, "x"]));',
    '  }',
  ].join('\n');

  it('a shown multi-line completion typed key by key, the editor closing pairs: one backend request, every answer right', async () => {
    const target = DOC.slice(0, P) + BODY + DOC.slice(P);
    const fake = await model([['{\n  ', BODY]]);
    const { c, ed } = await editing(fake, 'render', DOC, P);
    expect((await ed.inline()).items[0].insertText).toBe(BODY);
    let keys = 0;
    let overClosers = 0;
    let shown = 0;
    for (let k = keystroke(ed, target); k !== null; k = keystroke(ed, target)) {
      keys++;
      if (k === 'move') continue;
      const { items } = await ed.inline();
      // The last key completes it: the completion is done, and the backend may be asked anew.
      if (ed.text === target) break;
      expect(fake.completions()).toHaveLength(1);
      if (items.length === 0) {
        // Only before the closing line the editor put below: the completion goes on past it.
        expect(ed.auto.has(ed.offset) && ed.text[ed.offset] === '\n', `no ghost text at ${JSON.stringify(ed.text.slice(0, ed.offset).slice(-30))}`).toBe(true);
        continue;
      }
      expect(items).toHaveLength(1);
      // Accepting it would write what the completion wrote, the editor's closers included.
      expect(ed.fits(items[0], target)).toBe(true);
      shown++;
      if (items[0].range.end.character > items[0].range.start.character) overClosers++;
    }
    expect(ed.text).toBe(target);
    expect(keys).toBeGreaterThan(150);
    expect(fake.completions().length).toBeLessThanOrEqual(2);
    // Some ghost text went over the editor's closers; the server counted every one as typed through.
    expect(overClosers).toBeGreaterThan(0);
    expect((await stats(c)).local.typedThrough).toBeGreaterThanOrEqual(shown);
  });

  it('an auto-closed `(`: the rest is shown over the editor\'s `)`, for ghost text and for a completion item', async () => {
    const fake = await model([['{\n  ', 'log(a, [1, "x"]);']]);
    ({ client } = await startServer({ init: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: INLINE_UNHURRIED, context: { enabled: false } }, capabilities: {} }));
    const c = client;
    const uri = 'file:///work/src/f.ts';
    const doc = 'function f(a) {\n  \n}\n';
    c.open(uri, 'typescript', doc);
    // A client without ghost text gets completion items (textDocument/completion).
    const first = (await c.request('textDocument/completion', { textDocument: { uri }, position: { line: 1, character: 2 } })) as any;
    expect(first.items[0].textEdit.newText).toBe('log(a, [1, "x"]);');
    c.change(uri, 2, [{ range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, text: 'log()' }]);
    const item = (await c.request('textDocument/completion', { textDocument: { uri }, position: { line: 1, character: 6 } })) as any;
    expect(item.items[0].textEdit).toEqual({ range: { start: { line: 1, character: 6 }, end: { line: 1, character: 7 } }, newText: 'a, [1, "x"]);' });
    expect(fake.completions()).toHaveLength(1);
  });

  it('a suggest item accepted at once, with or without its parentheses, and backspace over what was typed: from the cache', async () => {
    const doc = 'function g(value: number) {\n  \n}\n';
    const P = doc.indexOf('  \n') + 2;
    const fake = await model([['{\n  ', 'console.log(value);']]);
    const { c, ed } = await editing(fake, 'g', doc, P);
    expect((await ed.inline()).items[0].insertText).toBe('console.log(value);');
    const shown = async () => (await ed.inline()).items.map((i: any) => [i.insertText, i.range.end.character - i.range.start.character]);
    ed.type('c');
    ed.type('o');
    expect(await shown()).toEqual([['nsole.log(value);', 0]]);
    ed.suggest(P, 'console');
    expect(await shown()).toEqual([['.log(value);', 0]]);
    ed.type('.');
    ed.suggest(P + 'console.'.length, 'log()', 1);
    expect(await shown()).toEqual([['value);', 1]]);
    // Backspace twice: `(` and `g` go, the item's `)` stays after the cursor.
    ed.backspace();
    ed.backspace();
    expect(ed.text.slice(P, ed.offset + 1)).toBe('console.lo)');
    expect(await shown()).toEqual([['g(value);', 1]]);
    expect(fake.completions()).toHaveLength(1);
    expect((await stats(c)).local).toMatchObject({ cache: 0, typedThrough: 4, speculative: 0 });
  });

  it('backspace over text typed before the completion\'s place shows that text again, then the completion', async () => {
    const doc = 'function add(a, b) {\n  ret\n}\n';
    const fake = await model([['  ret', 'urn a + b;']]);
    const { ed } = await editing(fake, 'h', doc, doc.indexOf('ret') + 3);
    expect((await ed.inline()).items[0].insertText).toBe('urn a + b;');
    ed.backspace();
    expect((await ed.inline()).items[0].insertText).toBe('turn a + b;');
    ed.backspace();
    expect((await ed.inline()).items[0].insertText).toBe('eturn a + b;');
    ed.type('e');
    expect((await ed.inline()).items[0].insertText).toBe('turn a + b;');
    expect(fake.completions()).toHaveLength(1);
  });
});

describe('speculative next completion', () => {
  const DOC = 'function add(a: number, b: number): number {\n  \n}\n';
  const P = DOC.indexOf('  \n') + 2;
  const RULES: [string, string][] = [
    ['{\n  ', 'const total = a + b;'],
    ['const total = a + b;', '\n  return total;'],
    ['const total = a + b;x', ' * 2;'],
  ];
  const isSpeculative = (r: RecordedRequest) => before(r).endsWith('const total = a + b;');

  async function shownAndAccepted(c: LspClient, uri = 'file:///work/src/add.ts', doc = DOC) {
    c.open(uri, 'typescript', doc);
    const ed = new ScriptedEditor(c, uri, doc, doc.indexOf('  \n') + 2);
    const [item] = (await ed.inline()).items;
    expect(item.insertText).toBe('const total = a + b;');
    await ed.accept(item);
    return ed;
  }

  it('accepted: the completion after it is asked at once, and shown without a new backend request', async () => {
    const fake = await model(RULES);
    const c = await start(fake);
    const ed = await shownAndAccepted(c);
    await until(async () => (await stats(c)).speculative.stored === 1, 'the speculative answer');
    expect(fake.completions().filter(isSpeculative)).toHaveLength(1);
    const { items } = await ed.inline();
    expect(items[0].insertText).toBe('\n  return total;');
    expect(fake.completions()).toHaveLength(2);
    const s = await stats(c);
    expect(s.local.speculative).toBe(1);
    expect(s.speculative).toMatchObject({ started: 1, stored: 1, cancelled: 0, discarded: 0 });
    // Accepted in turn: nothing follows it in this model's mind, asked once more in the background.
    await ed.accept(items[0]);
    await until(async () => (await stats(c)).speculative.started === 2, 'the second speculative request');
  });

  it('the editor asks while it runs: its request waits for it instead of asking the backend again', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const fake = await model(RULES, { hold: (req) => (isSpeculative(req) ? held : undefined) });
    const c = await start(fake);
    const ed = await shownAndAccepted(c);
    await fake.waitFor(isSpeculative);
    const pending = ed.inline();
    await until(async () => (await stats(c)).speculative.joined === 1, 'the editor request joining');
    release();
    expect((await pending).items[0].insertText).toBe('\n  return total;');
    expect(fake.completions()).toHaveLength(2);
  });

  it('typed something else meanwhile: the speculative request is closed, its answer never shown', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const fake = await model(RULES, { hold: (req) => (isSpeculative(req) ? held : undefined) });
    const c = await start(fake);
    const ed = await shownAndAccepted(c);
    const spec = await fake.waitFor(isSpeculative);
    ed.type('x');
    await fake.waitFor((r) => r.id === spec.id && r.closedAt !== null);
    release();
    const { items } = await ed.inline();
    expect(items.map((i: any) => i.insertText)).toEqual([' * 2;']);
    expect(fake.completions()).toHaveLength(3);
    const s = await stats(c);
    expect(s.speculative).toMatchObject({ started: 1, stored: 0, cancelled: 1 });
    expect(s.local.speculative).toBe(0);
    // Backspace: what was shown after `x` comes again (with the `x`); the speculative answer was never kept.
    ed.backspace();
    expect((await ed.inline()).items.map((i: any) => i.insertText)).toEqual(['x * 2;']);
    expect(fake.completions()).toHaveLength(3);
  });

  it('a client that sends the acceptance in pieces: tandem.accepted starts it', async () => {
    const fake = await model(RULES);
    const c = await start(fake);
    const uri = 'file:///work/src/add.ts';
    c.open(uri, 'typescript', DOC);
    const [item] = (await c.inline(uri, { line: 1, character: 2 }).result).items;
    // Two changes in one notification (as a client that inserts line by line may send).
    c.change(uri, 2, [
      { range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, text: 'const total' },
      { range: { start: { line: 1, character: 13 }, end: { line: 1, character: 13 } }, text: ' = a + b;' },
    ]);
    // Messages are handled in order: the change has been seen, and started nothing.
    expect((await stats(c)).speculative.started).toBe(0);
    await c.request('workspace/executeCommand', { command: item.command.command, arguments: item.command.arguments });
    expect((await stats(c)).speculative.started).toBe(1);
    await fake.waitFor(isSpeculative);
    // A partial acceptance starts nothing.
    await c.request('workspace/executeCommand', { command: 'tandem.accepted', arguments: [{ ...item.command.arguments[0], partial: true }] });
    expect((await stats(c)).speculative.started).toBe(1);
  });

  it('inline.speculative false: an acceptance asks nothing in the background', async () => {
    const fake = await model(RULES);
    const c = await start(fake, { speculative: false });
    const ed = await shownAndAccepted(c);
    expect((await stats(c)).speculative.started).toBe(0);
    expect((await ed.inline()).items[0].insertText).toBe('\n  return total;');
    expect(fake.completions()).toHaveLength(2);
    expect((await stats(c)).local.speculative).toBe(0);
  });

  it('routed and gated as any inline request: for an onPremOnly file it goes on-prem, for another to the cloud first', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tandem-spec-'));
    mkdirSync(join(root, 'secret'));
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'secret', 'add.ts'), DOC);
    writeFileSync(join(root, 'src', 'add.ts'), DOC);
    const cloud = await model(RULES);
    const local = await model(RULES);
    ({ client } = await startServer({
      init: {
        backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'Qwen/Qwen2.5-Coder-7B' }, local: { kind: 'vllm', url: local.url } },
        routes: { inline: ['cloud', 'local'] },
        privacy: { onPremOnly: ['secret/**'] },
        inline: INLINE_UNHURRIED,
        context: { enabled: false },
      },
      rootUri: pathToFileURL(root).href,
    }));
    const c = client;
    await shownAndAccepted(c, pathToFileURL(join(root, 'secret', 'add.ts')).href);
    await until(async () => (await stats(c)).speculative.stored === 1, 'the speculative answer (secret)');
    expect(local.completions().filter(isSpeculative)).toHaveLength(1);
    expect(cloud.completions()).toHaveLength(0);
    await shownAndAccepted(c, pathToFileURL(join(root, 'src', 'add.ts')).href);
    await until(async () => (await stats(c)).speculative.stored === 2, 'the speculative answer (src)');
    expect(cloud.completions().filter(isSpeculative)).toHaveLength(1);
    expect(local.completions().filter(isSpeculative)).toHaveLength(1);
  });
});
