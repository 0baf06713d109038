// End to end: trigger kinds over stdio. Invoked requests skip the debounce and list alternatives;
// automatic ones show one; the suggest widget's selected item is completed and cached.
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeLlamaCpp } from '../fake/llamacpp.js';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED, STUCK_MS, until } from '../wait.js';
import { startServer, stopChecked } from './servers.js';

const URI = 'file:///work/demo/src/main.ts';
const DOC = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const CURSOR = { line: 1, character: 2 };
const INVOKED = { triggerKind: 1 };

let client: LspClient | undefined;
const fakes: { close(): Promise<void> }[] = [];

afterEach(async () => {
  const c = client;
  client = undefined;
  await stopChecked(c, fakes);
});

async function vllm(respond: (r: RecordedRequest, choice: number) => { text: string; logprob?: number } | Promise<{ text: string; logprob?: number }>, extra: { maxChoices?: number } = {}): Promise<FakeVllm> {
  const fake = await startFakeVllm({ respond, ...extra });
  fakes.push(fake);
  return fake;
}

async function start(url: string, inline: Record<string, unknown> = {}, over: Record<string, unknown> = {}): Promise<LspClient> {
  ({ client } = await startServer({
    init: { backends: { fim: { kind: 'vllm', url } }, inline: { ...INLINE_UNHURRIED, ...inline }, context: { enabled: false }, ...over },
    env: { TANDEM_LOG: 'debug' },
  }));
  return client!;
}

const stats = (c: LspClient): Promise<any> => c.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] });
const texts = (list: { items: { insertText: string }[] }) => list.items.map((i) => i.insertText);

describe('trigger kinds', () => {
  it('an invoked request after typing skips the debounce: it reaches the backend while every keystroke\'s request still waits', async () => {
    const fake = await vllm((_r, i) => ({ text: ['return a + b;', 'return b + a;', 'return a - b;'][i]! }));
    // A fixed debounce no test outlives: an automatic request reaches the backend only if superseded never.
    const c = await start(fake.url, { debounceMs: STUCK_MS * 3 });
    c.open(URI, 'typescript', DOC);
    let line = '  ';
    const typed: Promise<unknown>[] = [];
    for (const [v, ch] of [...'ret'].entries()) {
      c.change(URI, v + 2, [{ range: { start: { line: 1, character: line.length }, end: { line: 1, character: line.length } }, text: ch }]);
      line += ch;
      typed.push(c.inline(URI, { line: 1, character: line.length }).result.catch((e) => e));
    }
    const invoked = await c.inline(URI, { line: 1, character: line.length }, INVOKED).result;
    expect(texts(invoked)).toHaveLength(3);
    // The keystrokes' requests were superseded in their debounce: none reached the backend.
    expect(fake.completions()).toHaveLength(1);
    expect(fake.completions()[0]!.body).toMatchObject({ n: 3 });
    // Each was superseded by the next: nothing to show.
    for (const r of await Promise.all(typed)) expect(r).toEqual({ items: [] });
    // As the server counts it: three waits begun, one request that skipped the wait.
    expect((await stats(c)).debounce).toMatchObject({ waited: 3, skipped: 1 });
  });

  it('an invoked request for the place an automatic one waits on takes the plan made during that wait; another place plans afresh', async () => {
    const fake = await vllm((_r, i) => ({ text: ['1;', '2;', '3;'][i] ?? '4;' }));
    // A fixed wait: the automatic request is planned halfway through it.
    const c = await start(fake.url, { debounceMs: 400 });
    c.open(URI, 'typescript', DOC);
    // The model lookup done first: a plan made ahead waits for it with the automatic request's
    // signal, and when that request is superseded in the meantime the plan is made afresh.
    expect(texts(await c.inline(URI, CURSOR, INVOKED).result)).toHaveLength(3);
    c.change(URI, 2, [{ range: { start: CURSOR, end: CURSOR }, text: 'r' }]);
    const auto = c.inline(URI, { line: 1, character: 3 }).result;
    await until(async () => (await stats(c)).debounce.plannedAhead === 1, 'the automatic request to be planned ahead');
    const invoked = await c.inline(URI, { line: 1, character: 3 }, INVOKED).result;
    expect(texts(invoked)).toHaveLength(3);
    // The automatic request was superseded by the invoked one, or (a slow machine) its wait ended
    // first and it took the plan too.
    const autoShown = (await auto).items.length > 0;
    expect((await stats(c)).debounce).toMatchObject({ plannedAhead: 1, plansReused: autoShown ? 2 : 1 });
    expect(fake.completions().at(-1)!.body.prompt).toContain('  r');
    // The document changed: the plan made for the text before is not this place's.
    c.change(URI, 3, [{ range: { start: { line: 1, character: 3 }, end: { line: 1, character: 3 } }, text: 'e' }]);
    expect(texts(await c.inline(URI, { line: 1, character: 4 }, INVOKED).result)).toHaveLength(3);
    expect((await stats(c)).debounce).toMatchObject({ plannedAhead: 1, plansReused: autoShown ? 2 : 1 });
    expect(fake.completions().at(-1)!.body.prompt).toContain('  re');
  });

  it('invoked: distinct candidates, best first by count then log probability, at the alternatives\' temperature; automatic: one', async () => {
    const invoked = [
      { text: 'return a;', logprob: -0.9 },
      { text: 'return b;', logprob: -0.1 },
      { text: 'return c;', logprob: -0.5 },
    ];
    const fake = await vllm((r, i) => (r.body.n ? invoked[i]! : { text: 'return a + b;' }));
    const c = await start(fake.url);
    c.open(URI, 'typescript', DOC);
    const auto = await c.inline(URI, CURSOR).result;
    expect(texts(auto)).toEqual(['return a + b;']);
    expect(fake.completions()[0]!.body).not.toHaveProperty('n');
    expect(fake.completions()[0]!.body.temperature).toBe(0.1);

    const list = await c.inline(URI, CURSOR, INVOKED).result;
    expect(texts(list)).toEqual(['return b;', 'return c;', 'return a;']);
    expect(fake.completions()).toHaveLength(2); // the cache (one candidate) did not answer the invoked request
    expect(fake.completions()[1]!.body).toMatchObject({ n: 3, logprobs: 0, temperature: 0.4 });
    for (const item of list.items) {
      expect(item.range).toEqual({ start: CURSOR, end: CURSOR });
      expect(item.command.command).toBe('tandem.accepted');
    }
    // The best of them is what the cache keeps: an automatic request here now asks no backend.
    expect(texts(await c.inline(URI, CURSOR).result)).toEqual(['return b;']);
    expect(fake.completions()).toHaveLength(2);

    // Choices that postprocess to the same text are one item, and the text more of them came to wins.
    fake.set({ respond: (_r, i) => [{ text: 'return x;', logprob: -0.1 }, { text: 'return y;   ', logprob: -2 }, { text: 'return y;', logprob: -2 }][i]! });
    expect(texts(await c.inline(URI, CURSOR, INVOKED).result)).toEqual(['return y;', 'return x;']);
  });

  it('inline.alternatives sets how many', async () => {
    const fake = await vllm((_r, i) => ({ text: `return ${'abcde'[i]};` }));
    const c = await start(fake.url, { alternatives: 5 });
    c.open(URI, 'typescript', DOC);
    expect(texts(await c.inline(URI, CURSOR, INVOKED).result)).toEqual(['return a;', 'return b;', 'return c;', 'return d;', 'return e;']);
    expect(fake.completions()[0]!.body.n).toBe(5);
  });

  it('inline.alternatives 1: an invoked request asks for one, and the cache may answer it', async () => {
    const fake = await vllm((_r, i) => ({ text: `return ${'abc'[i]};` }));
    const c = await start(fake.url, { alternatives: 1 });
    c.open(URI, 'typescript', DOC);
    expect(texts(await c.inline(URI, CURSOR).result)).toEqual(['return a;']);
    expect(texts(await c.inline(URI, CURSOR, INVOKED).result)).toEqual(['return a;']);
    expect(fake.completions()).toHaveLength(1);
    expect(fake.completions()[0]!.body).not.toHaveProperty('n');
  });

  it('a backend that gives fewer choices than asked, or ignores n, lists what it gave', async () => {
    const fake = await vllm((_r, i) => ({ text: `return ${'xyz'[i]};` }), { maxChoices: 2 });
    const c = await start(fake.url);
    c.open(URI, 'typescript', DOC);
    expect(texts(await c.inline(URI, CURSOR, INVOKED).result)).toEqual(['return x;', 'return y;']);
    fake.set({ maxChoices: 1 });
    expect(texts(await c.inline(URI, CURSOR, INVOKED).result)).toEqual(['return x;']);
  });

  it('candidates that all postprocess to nothing give an empty list, and the log says why', async () => {
    const fake = await vllm((_r, i) => ({ text: ['   ', '\n\n', '\t'][i]! }));
    const c = await start(fake.url);
    c.open(URI, 'typescript', DOC);
    expect((await c.inline(URI, CURSOR, INVOKED).result).items).toEqual([]);
    expect(fake.completions()).toHaveLength(1);
    await until(() => c.stderr.includes('nothing worth showing after postprocessing'), 'the reason in the log');
  });

  it('an invoked request whose document changed while the backend answered is dropped, never shown', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const fake = await vllm(async (_r, i) => {
      if (i === 0) await held;
      return { text: `return ${'abc'[i]};` };
    });
    const c = await start(fake.url);
    c.open(URI, 'typescript', DOC);
    const pending = c.inline(URI, CURSOR, INVOKED).result;
    await fake.waitFor((r) => r.path === '/v1/completions');
    c.change(URI, 2, [{ range: { start: CURSOR, end: CURSOR }, text: 'r' }]);
    // The change is in the server once a request after it is answered (messages are handled in order).
    await stats(c);
    release();
    expect((await pending).items).toEqual([]);
    await until(() => c.stderr.includes('changed while the request was in flight'), 'the reason in the log');
    expect((await stats(c)).shown).toBe(0);
  });

  it('textDocument/completion lists the alternatives as items, best first; a re-request of an incomplete list asks for one', async () => {
    const fake = await vllm((r, i) => (r.body.n ? [{ text: 'urn a;', logprob: -1 }, { text: 'urn b;', logprob: -0.2 }, { text: 'urn a;\n  // done', logprob: -3 }][i]! : { text: 'urn 0;' }));
    ({ client } = await startServer({ init: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: INLINE_UNHURRIED, context: { enabled: false } }, capabilities: { textDocument: { completion: {} } } }));
    const c = client!;
    c.open(URI, 'typescript', DOC.replace('  \n}', '  ret\n}'));
    const list = await c.request('textDocument/completion', { textDocument: { uri: URI }, position: { line: 1, character: 5 }, context: { triggerKind: 1 } });
    expect(list.items.map((i: any) => i.textEdit.newText)).toEqual(['return b;', 'return a;', 'return a;\n  // done']);
    expect(list.items.map((i: any) => i.sortText)).toEqual(['0000', '0001', '0002']);
    expect(list.items.map((i: any) => i.preselect ?? false)).toEqual([true, false, false]);
    // Two candidates share their first line: their labels still differ.
    expect(new Set(list.items.map((i: any) => i.label)).size).toBe(3);
    expect(fake.completions()[0]!.body.n).toBe(3);
    c.change(URI, 2, [{ range: { start: { line: 1, character: 5 }, end: { line: 1, character: 5 } }, text: 'u' }]);
    const again = await c.request('textDocument/completion', { textDocument: { uri: URI }, position: { line: 1, character: 6 }, context: { triggerKind: 3 } });
    // Typed through the best candidate: the cache answers, one item.
    expect(again.items.map((i: any) => i.textEdit.newText)).toEqual(['return b;']);
    expect(fake.completions()).toHaveLength(1);
  });

  it('a backend without n gets parallel samples: the first at inline.temperature, the others warmer; equal ones merge', async () => {
    let warm = 0;
    const fake = await startFakeLlamaCpp({ respond: (r) => ({ text: r.body.temperature === 0.1 || warm++ > 0 ? 'return a + b;' : 'return b + a;' }) });
    fakes.push(fake);
    const c = await start(fake.url, {}, { backends: { fim: { kind: 'llamacpp', url: fake.url } } });
    c.open(URI, 'typescript', DOC);
    const list = texts(await c.inline(URI, CURSOR, INVOKED).result);
    expect(fake.completions().map((r) => r.body.temperature).sort()).toEqual([0.1, 0.4, 0.4]);
    // The first sample's answer leads (two of three came to it); the equal one is merged into it.
    // An extra sample slower than the grace the server gives it may be missing; none is repeated.
    expect(list[0]).toBe('return a + b;');
    expect(new Set(list).size).toBe(list.length);
    for (const t of list) expect(['return a + b;', 'return b + a;']).toContain(t);
  });

  it('a parallel sample that stalls is cut once the others are in: its connection closes and the list holds the rest', async () => {
    let n = 0;
    const fake = await startFakeLlamaCpp({ respond: (r) => (r.body.temperature === 0.1 ? { text: 'return a + b;' } : n++ === 0 ? { hang: true } : { text: 'return b + a;' }) });
    fakes.push(fake);
    const c = await start(fake.url, {}, { backends: { fim: { kind: 'llamacpp', url: fake.url } } });
    c.open(URI, 'typescript', DOC);
    const list = texts(await c.inline(URI, CURSOR, INVOKED).result);
    expect(list[0]).toBe('return a + b;');
    for (const t of list) expect(['return a + b;', 'return b + a;']).toContain(t);
    await fake.waitFor((r) => r.closedAt !== null);
    // Not the deadline: the server cut it (inline.deadlineMs is one only a stuck server reaches).
    expect((await stats(c)).deadlineExpired).toBe(0);
  });
});

describe('selectedCompletionInfo', () => {
  const SEL_DOC = ['export function up(s: string): string {', '  return s.to', '}', ''].join('\n');
  const AT = { line: 1, character: 13 };
  const SELECTED = { range: { start: { line: 1, character: 11 }, end: AT }, text: 'toUpperCase' };
  /** Completes `s.toUpperCase` with `();`, any other line with a comment: the answer says which text it was for. */
  const respond = (r: RecordedRequest) => {
    const before = String(r.body.prompt).split('<|fim_suffix|>')[0]!;
    return { text: before.endsWith('return s.toUpperCase') ? '();' : ' // other' };
  };

  it('completes the text with the selected item put over its range; the item replaces that range and starts with its text; the cache keys on it', async () => {
    const fake = await vllm(respond);
    const c = await start(fake.url);
    c.open(URI, 'typescript', SEL_DOC);
    const list = await c.inline(URI, AT, { selectedCompletionInfo: SELECTED }).result;
    expect(list.items).toHaveLength(1);
    expect(list.items[0].insertText).toBe('toUpperCase();');
    expect(list.items[0].range).toEqual(SELECTED.range);
    expect(fake.completions()[0]!.body.prompt).toContain('  return s.toUpperCase<|fim_suffix|>');
    // Asked again with the same item: from the cache.
    expect(texts(await c.inline(URI, AT, { selectedCompletionInfo: SELECTED }).result)).toEqual(['toUpperCase();']);
    expect(fake.completions()).toHaveLength(1);
    // Without the item, or with another one, it is another text: asked anew.
    expect(texts(await c.inline(URI, AT).result)).toEqual([' // other']);
    const other = { ...SELECTED, text: 'toLowerCase' };
    expect(texts(await c.inline(URI, AT, { selectedCompletionInfo: other }).result)).toEqual(['toLowerCase // other']);
    expect(fake.completions()).toHaveLength(3);
    // The user accepts the item in the widget: the text is now what the cache was keyed on.
    c.change(URI, 2, [{ range: SELECTED.range, text: 'toUpperCase' }]);
    expect(texts(await c.inline(URI, { line: 1, character: 22 }).result)).toEqual(['();']);
    expect(fake.completions()).toHaveLength(3);
  });

  it('an invoked request with a selected item lists alternatives that all start with its text', async () => {
    const fake = await vllm((_r, i) => ({ text: ['();', '().trim();', '() + "!";'][i]! }));
    const c = await start(fake.url);
    c.open(URI, 'typescript', SEL_DOC);
    const list = await c.inline(URI, AT, { triggerKind: 1, selectedCompletionInfo: SELECTED }).result;
    expect(texts(list)).toEqual(['toUpperCase();', 'toUpperCase().trim();', 'toUpperCase() + "!";']);
    for (const item of list.items) expect(item.range).toEqual(SELECTED.range);
  });

  it('an invoked request with a selected item, answered by typing through over a closer the editor put after the cursor: the item\'s range grows by it (replace > 0)', async () => {
    // One candidate: an invoked request then reads the cache, as an automatic one does.
    const fake = await vllm(() => ({ text: 'wrap(s.toUpperCase());' }));
    const c = await start(fake.url, { alternatives: 1 });
    const doc = ['export function up(s: string): string {', '  return ', '}', ''].join('\n');
    c.open(URI, 'typescript', doc);
    expect(texts(await c.inline(URI, { line: 1, character: 9 }).result)).toEqual(['wrap(s.toUpperCase());']);
    // The user types `wrap(`, the editor closes it, the user types `s.to` inside: `  return wrap(s.to|)`.
    c.change(URI, 2, [{ range: { start: { line: 1, character: 9 }, end: { line: 1, character: 9 } }, text: 'wrap()' }]);
    c.change(URI, 3, [{ range: { start: { line: 1, character: 14 }, end: { line: 1, character: 14 } }, text: 's.to' }]);
    const at = { line: 1, character: 18 };
    // The suggest widget offers `toUpperCase` for `to`; the user asks (invoked).
    const selected = { range: { start: { line: 1, character: 16 }, end: at }, text: 'toUpperCase' };
    const list = await c.inline(URI, at, { triggerKind: 1, selectedCompletionInfo: selected }).result;
    // The rest of the completion after `wrap(s.toUpperCase` is `());`, which holds the editor's `)`:
    // the item covers the selected range and that `)`, and starts with the item's text.
    expect(list.items).toHaveLength(1);
    expect(list.items[0].insertText).toBe('toUpperCase());');
    expect(list.items[0].range).toEqual({ start: { line: 1, character: 16 }, end: { line: 1, character: 19 } });
    // Accepting it leaves the line the completion meant, with one `)` too many nowhere.
    const line = '  return wrap(s.to)';
    const accepted = line.slice(0, list.items[0].range.start.character) + list.items[0].insertText + line.slice(list.items[0].range.end.character);
    expect(accepted).toBe('  return wrap(s.toUpperCase());');
    // From the cache, typed through: no second backend request.
    expect(fake.completions()).toHaveLength(1);
    expect((await stats(c)).local).toMatchObject({ typedThrough: 1 });
  });

  it('a range off the cursor\'s line, past its end or not around the cursor is -32602 naming the field; the server serves on', async () => {
    const fake = await vllm(respond);
    const c = await start(fake.url);
    c.open(URI, 'typescript', SEL_DOC);
    const bad = [
      { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 4 } }, text: 'x' },
      { range: { start: { line: 1, character: 11 }, end: { line: 1, character: 40 } }, text: 'toUpperCase' },
      { range: { start: { line: 1, character: 2 }, end: { line: 1, character: 8 } }, text: 'return' },
      { range: { start: { line: 1, character: 13 }, end: { line: 1, character: 11 } }, text: 'to' },
    ];
    for (const selectedCompletionInfo of bad) {
      const err = await c.inline(URI, AT, { selectedCompletionInfo }).result.then(() => undefined, (e) => e);
      expect(err?.code).toBe(-32602);
      expect(err.message).toContain('textDocument/inlineCompletion: params.context.selectedCompletionInfo.range:');
    }
    const shape = await c.inline(URI, AT, { selectedCompletionInfo: { range: SELECTED.range, text: 5 } }).result.then(() => undefined, (e) => e);
    expect(shape?.code).toBe(-32602);
    expect(shape.message).toContain('params.context.selectedCompletionInfo.text');
    const noRange = await c.inline(URI, AT, { selectedCompletionInfo: { range: { start: { line: 1 } }, text: 'to' } }).result.then(() => undefined, (e) => e);
    expect(noRange.message).toContain('params.context.selectedCompletionInfo.range.start.character');
    expect(fake.completions()).toHaveLength(0);
    expect(texts(await c.inline(URI, AT, { selectedCompletionInfo: SELECTED }).result)).toEqual(['toUpperCase();']);
  });
});
