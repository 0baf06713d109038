// A big document completes from a window of its text around the cursor, read from the chunks
// (pipeline/inline.ts, windowAbove): the same requests on the same document, once over the
// threshold (the window) and once under it (the whole text), must send the same prompts, answer
// the same items over the same ranges, hit the cache alike, and give the context sources the same
// rows; and the windowed one must never join the document's text.
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../server/src/config/load.js';
import type { Config } from '../../server/src/config/schema.js';
import { ContextEngine } from '../../server/src/context/engine.js';
import type { Candidate, ContextRequest, ContextSource } from '../../server/src/context/types.js';
import { DocumentStore, type Doc } from '../../server/src/documents.js';
import { onCompletion, onInlineCompletion } from '../../server/src/features/inlineCompletion.js';
import { BackendRegistry } from '../../server/src/models/registry.js';
import { InlinePipeline, windowSpan } from '../../server/src/pipeline/inline.js';
import { Stats } from '../../server/src/stats.js';
import type { LanguageName } from '../../server/src/syntax/languages.js';
import { ParseService } from '../../server/src/syntax/tree.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { Workspace } from '../../server/src/workspace.js';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';

const fakes: FakeVllm[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

/**
 * About 200 K characters of code-like lines: CR LF on every 7th line (offsets and lines must both
 * translate), an emoji now and then (surrogate pairs), lines of varied length.
 */
function bigText(): string {
  const lines: string[] = [];
  for (let i = 0; lines.join('').length < 200_000; i++) {
    const pad = ' '.repeat((i * 7) % 13);
    const tail = i % 11 === 0 ? ' // ✨ note' : i % 5 === 0 ? ` + items[${i}].price * ${i % 9}` : '';
    lines.push(`${pad}let value${i} = compute(${i}, "item${i % 17}")${tail};${i % 7 === 0 ? '\r\n' : '\n'}`);
  }
  return lines.join('');
}

/** Records what the context stage was given, and offers snippets by rows of the current file (far above the cursor, and inside the prompt's windows). */
class Probe implements ContextSource {
  readonly name = 'recentEdits';
  seen: { cursorLine: number; lineCount: number; near: string; rows: (string | undefined)[] }[] = [];
  gather(req: ContextRequest): Candidate[] {
    const rows = [req.cursorLine - 3000, req.cursorLine - 1, req.cursorLine, req.cursorLine + 1, req.lineCount - 1, req.lineCount];
    this.seen.push({ cursorLine: req.cursorLine, lineCount: req.lineCount, near: req.text.slice(req.offset - 300, req.offset + 300), rows: rows.map((r) => req.lineAt(r)) });
    const run = (start: number) => ({ start, text: [start, start + 1].map((r) => req.lineAt(r) ?? '').join('\n') });
    return [
      { kind: 'recentEdit', path: req.relPath, runs: [run(req.cursorLine - 3000)], score: 0.9, why: 'far above' },
      // Inside the prompt's prefix window: the prompt leaves it out (rows are the document's).
      { kind: 'recentEdit', path: req.relPath, runs: [run(req.cursorLine - 5)], score: 0.95, why: 'in the window' },
      { kind: 'similar', path: 'other.ts', runs: [{ start: 0, text: req.text.slice(req.offset - 60, req.offset) }], score: 0.5, why: 'near text' },
    ];
  }
}

interface Run {
  prompts: string[];
  answers: unknown[];
  seen: Probe['seen'];
  joins: number;
}

const ANSWER = 'total += item.price;\nreturn total;';

async function session(windowAbove: number, text: string, cursor: number, steps: (h: Harness) => Promise<unknown[]>, opts: { languageId?: string; answer?: string; parses?: { n: number } } = {}): Promise<Run> {
  const fake = await startFakeVllm({ respond: () => ({ text: opts.answer ?? ANSWER }) });
  fakes.push(fake);
  const r = resolveConfig([
    {
      origin: 'test',
      trust: 'user',
      data: {
        backends: { fim: { kind: 'vllm', url: fake.url } },
        inline: { debounceMs: 0, speculative: false, maxPromptTokens: 2048 },
        context: { enabled: true, maxTokens: 400, sources: { recentEdits: { enabled: true, budgetMs: 1000 }, definitions: { enabled: false, budgetMs: 1 }, enclosing: { enabled: false, budgetMs: 1 }, similar: { enabled: false, budgetMs: 1 } } },
        audit: { enabled: false },
      },
    },
  ]);
  if (!r.ok) throw new Error(r.error);
  const config: Config = r.config;
  const backends = new BackendRegistry(silentLogger(), { audit: false });
  backends.update(config);
  const probe = new Probe();
  const workspace = new Workspace(['/work']);
  const parses = opts.parses;
  const pool = new ParseService();
  const parse = parses ? (lang: LanguageName, t: string, maxMs: number) => (parses.n++, pool.parseNow(lang, t, { maxMs: Math.max(maxMs, 60_000) })) : undefined;
  const pipeline = new InlinePipeline({ config: () => config, backends, workspace, logger: silentLogger(), context: new ContextEngine([probe]), windowAbove, ...(parse ? { parse } : {}) });
  const store = new DocumentStore(pool);
  const languageId = opts.languageId ?? 'lua';
  const doc = store.open(`file:///work/big.${languageId === 'javascript' ? 'js' : 'lua'}`, languageId, 1, text);
  // No time bound a loaded machine could run past: the document needs its tree.
  doc.tree?.parseNow(60_000);
  const h = new Harness(pipeline, store, doc, doc.text.positionAt(cursor));
  // Opening keeps the text it was given; the first edit drops it, and the requests come after one.
  h.type(' ');
  const joinsBefore = doc.text.joins;
  const answers = await steps(h);
  return { prompts: fake.completions().map((q) => q.body.prompt as string), answers, seen: probe.seen, joins: doc.text.joins - joinsBefore };
}

class Harness {
  private version = 1;
  readonly deps;
  constructor(
    readonly pipeline: InlinePipeline,
    readonly store: DocumentStore,
    readonly doc: Doc,
    public position: { line: number; character: number },
  ) {
    this.deps = { documents: store, pipeline, stats: new Stats(), logger: silentLogger() };
  }

  /** Types `s` (no line ends) at the cursor, which moves past it. */
  type(s: string): void {
    this.store.change(this.doc.uri, ++this.version, [{ range: { start: this.position, end: this.position }, text: s }]);
    this.position = { line: this.position.line, character: this.position.character + s.length };
  }

  async inline(extra: Record<string, unknown> = {}): Promise<unknown> {
    const list = await onInlineCompletion(this.deps, { textDocument: { uri: this.doc.uri }, position: this.position, context: { triggerKind: 2 }, ...extra });
    // The cache stores an answer in an immediate after it.
    await new Promise((resolve) => setImmediate(resolve));
    return list;
  }
}

/** Every step the inline path takes on a big document: a request, typing through its answer, a repeat, backspace, a selected suggest item, textDocument/completion. */
async function steps(h: Harness): Promise<unknown[]> {
  const out: unknown[] = [];
  out.push(await h.inline());
  h.type('total');
  out.push(await h.inline());
  out.push(await h.inline());
  h.type(' x');
  out.push(await h.inline());
  const line = h.position.line;
  const c = h.position.character;
  out.push(await h.inline({ context: { triggerKind: 2, selectedCompletionInfo: { range: { start: { line, character: c - 1 }, end: { line, character: c } }, text: 'xs.length' } } }));
  out.push(await h.inline({ context: { triggerKind: 1 } }));
  out.push(await onCompletion(h.deps, { textDocument: { uri: h.doc.uri }, position: h.position, context: { triggerKind: 1 } }));
  return out;
}

describe('a big document completes from a window of its text', () => {
  const text = bigText();
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);

  it.each([
    ['mid-file, at a line end', () => text.indexOf('\n', text.length >> 1) - (text[text.indexOf('\n', text.length >> 1) - 1] === '\r' ? 1 : 0)],
    ['near the start', () => lineStarts[40]! + 5],
    ['near the end', () => lineStarts[lineStarts.length - 30]! + 3],
  ])('%s: the same prompts, items, cache hits and context rows as the whole text, and no join', async (_, at) => {
    const cursor = at();
    // A language without a grammar: the window has no tree, and the whole text then has none either.
    const whole = await session(text.length + 10, text, cursor, steps);
    const window = await session(text.length - 10, text, cursor, steps);
    // The prompts are the model's only input: byte for byte the same (sent for the misses only).
    expect(window.prompts).toEqual(whole.prompts);
    expect(window.answers).toEqual(whole.answers);
    expect(window.seen).toEqual(whole.seen);
    // The typed-through and repeated requests were cache hits on both paths (no prompt sent for them).
    const first = (whole.answers[0] as { items: { insertText: string }[] }).items[0]!.insertText;
    expect(first.startsWith('total')).toBe(true);
    expect(whole.answers[1]).toMatchObject({ items: [{ insertText: first.slice('total'.length) }] });
    const items = (a: unknown) => (a as { items: { insertText: string; range: unknown }[] }).items.map((i) => [i.insertText, i.range]);
    expect(items(whole.answers[2])).toEqual(items(whole.answers[1]));
    // Sent: the first request, after ' x', with the selected item, invoked; textDocument/completion
    // then takes the invoked answer from the cache.
    expect(whole.prompts).toHaveLength(4);
    expect((whole.answers[6] as { items: unknown[] }).items.length).toBeGreaterThan(0);
    // The whole-text path joins the text; the window never does.
    expect(whole.joins).toBeGreaterThan(0);
    expect(window.joins).toBe(0);
  });

  it('the window starts on a line that is a multiple of 16 and reaches past the prompt on both sides', async () => {
    const store = new DocumentStore(new ParseService());
    const doc = store.open('file:///work/w.lua', 'lua', 1, text);
    const cursor = text.length >> 1;
    const side = 20_000;
    const span = windowSpan(doc.text, cursor, side);
    expect(span.line % 16).toBe(0);
    expect(span.start).toBe(lineStarts[span.line]);
    const cursorLineStart = lineStarts[doc.text.positionAt(cursor).line]!;
    expect(cursorLineStart - span.start).toBeGreaterThanOrEqual(side);
    expect(span.end - cursor).toBeGreaterThanOrEqual(side);
    expect(lineStarts).toContain(span.end);
    // One line longer than the window allows: cut inside it, never inside a CR LF or a surrogate pair.
    const long = `a\n${'x😀'.repeat(100_000)}\r\nb\n`;
    const d2 = store.open('file:///work/long.lua', 'lua', 1, long);
    const s2 = windowSpan(d2.text, 100_001, 1000);
    expect(s2.start).toBeGreaterThan(2);
    expect(s2.end).toBeLessThan(long.length - 4);
    for (const i of [s2.start, s2.end]) expect(long.charCodeAt(i)).not.toBe(0xde00);
  });

  it('with a syntax tree: the same items (the syntax check cuts its block from the chunks by the tree), a prompt without the file head, no join', async () => {
    const lines = ["import { sum } from './sum.js';", ''];
    for (let i = 0; lines.length < 6000; i++) lines.push(`function f${i}(x) {`, `  return x + ${i};`, '}');
    const head = lines.join('\n') + '\nfunction g(items) {\n  let total = 0;\n  ';
    const js = head + '\n}\n' + lines.slice(2).join('\n') + '\n';
    // Opens a block it does not close.
    const answer = 'for (const item of items) {\n    total += sum(item);';
    const one = async (h: Harness) => [await h.inline()];
    const parses = { whole: { n: 0 }, window: { n: 0 } };
    const whole = await session(js.length + 10, js, head.length, one, { languageId: 'javascript', answer, parses: parses.whole });
    const window = await session(js.length - 10, js, head.length, one, { languageId: 'javascript', answer, parses: parses.window });
    expect(window.answers).toEqual(whole.answers);
    expect(whole.answers[0]).toMatchObject({ items: [{ insertText: expect.stringContaining('total += sum(item);') }] });
    expect(parses.window.n).toBeGreaterThan(0);
    expect(parses.window.n).toBe(parses.whole.n);
    // The whole text's prompt has the file's import above its window; the window's has none.
    expect(whole.prompts[0]).toContain("import { sum } from './sum.js';");
    expect(window.prompts[0]).not.toContain('import { sum }');
    expect(window.prompts[0]!.slice(-3000)).toBe(whole.prompts[0]!.slice(-3000));
    expect(window.joins).toBe(0);
  });
});
