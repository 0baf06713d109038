// Speculative next completion: an accepted completion told from the edit that inserted it, the
// background request it starts, and that request's end when the document moves on.
import { describe, expect, it } from 'vitest';
import { DocumentStore, type Doc } from '../../server/src/documents.js';
import type { InlineOutcome } from '../../server/src/pipeline/inline.js';
import { isAcceptance, Speculation, type ShownCompletion, type TextEdit } from '../../server/src/pipeline/speculate.js';
import { ChunkedText } from '../../server/src/textStore.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { pool, splitCursor } from './fixtures.js';

describe('isAcceptance', () => {
  // `log(├)`: shown `a, b` + over the editor's `)`: `a, b)`.
  const before = 'x = log()\n';
  const shown: ShownCompletion = { id: 't1', version: 1, offset: 8, replaced: ')', text: 'a, b)' };
  const rows: [string, TextEdit, boolean][] = [
    ['the item applied as given: its range replaced by its text', { start: 8, end: 9, text: 'a, b)' }, true],
    ['the same trimmed of the `)` both share (Neovim sends a diff)', { start: 8, end: 8, text: 'a, b' }, true],
    ['widened at the front (the `(` before the cursor sent again)', { start: 7, end: 8, text: '(a, b' }, true],
    ['a part of it only', { start: 8, end: 8, text: 'a' }, false],
    ['other text of the same length', { start: 8, end: 8, text: 'a, c' }, false],
    ['the text somewhere else', { start: 0, end: 0, text: 'a, b' }, false],
  ];
  it.each(rows)('%s', (_name, edit, expected) => {
    expect(isAcceptance(shown, before, edit)).toBe(expected);
    // As the server gives it: a snapshot of a chunked text, read at the edit only.
    const snap = new ChunkedText('u', 'typescript', 1, `${'y\n'.repeat(9000)}${before}`).snapshot();
    const far = 'y\n'.repeat(9000).length;
    const moved: ShownCompletion = { ...shown, offset: shown.offset + far };
    const farEdit: TextEdit = { ...edit, start: edit.start + far, end: edit.end + far };
    const chunked = new ChunkedText('u', 'typescript', 1, '');
    chunked.update([{ text: `${'y\n'.repeat(9000)}${before}` }], 2);
    chunked.update([{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '' }], 3);
    const unjoined = chunked.snapshot();
    expect(isAcceptance(moved, snap, farEdit)).toBe(expected);
    expect(isAcceptance(moved, unjoined, farEdit)).toBe(expected);
    expect(unjoined.joins).toBe(0);
  });

  it('an insertion a diff places one character later (the text after the cursor starts like the completion ends)', () => {
    // `foo├bx` + `b` reads `foobbx`: a diff may keep `foob` and insert `b` after it.
    const c: ShownCompletion = { id: 't2', version: 1, offset: 3, replaced: '', text: 'b' };
    expect(isAcceptance(c, 'foobx', { start: 4, end: 4, text: 'b' })).toBe(true);
    expect(isAcceptance(c, 'foobx', { start: 3, end: 3, text: 'b' })).toBe(true);
    expect(isAcceptance(c, 'foobx', { start: 5, end: 5, text: 'b' })).toBe(false);
  });
});

/** A speculation whose requests are held until the test answers them. */
function harness(opts: { enabled?: boolean; answered?: boolean } = {}) {
  const asked: { doc: Doc; offset: number; signal: AbortSignal; answer: (o: InlineOutcome) => void }[] = [];
  const stored: { uri: string; text: string; offset: number; completion: string }[] = [];
  const spec = new Speculation({
    enabled: () => opts.enabled ?? true,
    answered: () => opts.answered ?? false,
    request: (doc, offset, signal) =>
      new Promise<InlineOutcome>((resolve) => {
        asked.push({ doc, offset, signal, answer: resolve });
        signal.addEventListener('abort', () => resolve({ kind: 'cancelled' }), { once: true });
      }),
    // The text as a string: the speculation hands a snapshot of the chunks.
    store: (uri, text, offset, completion) => stored.push({ uri, text: text.slice(0, text.length), offset, completion }),
    logger: silentLogger(),
  });
  const store = new DocumentStore(pool);
  const { text, offset } = splitCursor('function f() {\n  ├\n}\n');
  const doc = store.open('file:///work/s.ts', 'plaintext', 1, text);
  const pos = doc.text.positionAt(offset);
  /** Applies one edit as the server does: the text before, the edit in its offsets. */
  const edit = (start: number, end: number, insert: string) => {
    const before = { version: doc.text.version, text: doc.text.getText() };
    store.change(doc.uri, doc.text.version + 1, [{ range: { start: doc.text.positionAt(start), end: doc.text.positionAt(end) }, text: insert }]);
    spec.changed(doc, before, { start, end, text: insert });
  };
  const completion = (text: string): InlineOutcome => ({ kind: 'completion', text, replace: 0, id: 'tandem-9', backend: 'fim', model: 'm', latencyMs: 5, cached: false });
  return { spec, asked, stored, doc, offset, pos, edit, completion };
}

describe('Speculation', () => {
  it('the shown text inserted starts a request for the place after it; its answer is stored for that text', async () => {
    const h = harness();
    h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
    h.edit(h.offset, h.offset, 'return 1;');
    expect(h.asked.map((a) => a.offset)).toEqual([h.offset + 'return 1;'.length]);
    const joined = h.spec.join(h.doc.uri, h.doc.text.version, h.offset + 9);
    expect(joined).toBeDefined();
    expect(h.spec.join(h.doc.uri, h.doc.text.version, h.offset)).toBeUndefined();
    h.asked[0]!.answer(h.completion('\n  return 2;'));
    await joined;
    expect(h.stored).toEqual([{ uri: h.doc.uri, text: h.doc.text.getText(), offset: h.offset + 9, completion: '\n  return 2;' }]);
    expect(h.spec.counts).toMatchObject({ started: 1, stored: 1, joined: 1, cancelled: 0, discarded: 0 });
  });

  it('an empty answer still serves the editor\'s request for that place, until the document changes', async () => {
    const h = harness();
    h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
    h.edit(h.offset, h.offset, 'return 1;');
    h.asked[0]!.answer({ kind: 'empty', reason: 'nothing worth showing', latencyMs: 3 });
    await new Promise((r) => setImmediate(r));
    expect(await h.spec.join(h.doc.uri, h.doc.text.version, h.offset + 9)).toMatchObject({ kind: 'empty' });
    expect(h.spec.counts).toMatchObject({ started: 1, empty: 1, joined: 1, cancelled: 0 });
    h.edit(h.offset + 9, h.offset + 9, ' ');
    expect(h.spec.join(h.doc.uri, h.doc.text.version, h.offset + 10)).toBeUndefined();
    expect(h.spec.counts.cancelled).toBe(0);
  });

  it('typing something else cancels it: its signal aborts, nothing is stored', async () => {
    const h = harness();
    h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
    h.edit(h.offset, h.offset, 'return 1;');
    const [req] = h.asked;
    h.edit(h.offset + 9, h.offset + 9, 'x');
    expect(req!.signal.aborted).toBe(true);
    await h.spec.join(h.doc.uri, 2, h.offset + 9);
    await new Promise((r) => setImmediate(r));
    expect(h.stored).toEqual([]);
    expect(h.spec.counts).toMatchObject({ started: 1, cancelled: 1, stored: 0 });
  });

  it('an answer that comes for a document changed meanwhile is discarded', async () => {
    const h = harness();
    h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
    h.edit(h.offset, h.offset, 'return 1;');
    const [req] = h.asked;
    const done = h.spec.join(h.doc.uri, h.doc.text.version, h.offset + 9)!;
    // The change reaches the document, and the answer comes before the speculation hears of it.
    h.doc.text.update([{ range: { start: h.pos, end: h.pos }, text: 'y' }], h.doc.text.version + 1);
    req!.answer(h.completion('\n  return 2;'));
    await done;
    expect(h.stored).toEqual([]);
    expect(h.spec.counts).toMatchObject({ started: 1, discarded: 1, stored: 0 });
  });

  it('an edit that is not the shown text starts nothing; nor does a partial one', () => {
    const h = harness();
    h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
    h.edit(h.offset, h.offset, 'return');
    h.edit(h.offset + 6, h.offset + 6, ' 1;');
    expect(h.asked).toEqual([]);
  });

  it('tandem.accepted right after an edit that was not recognised (sent in pieces) starts it; a second time does not', () => {
    const h = harness();
    h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
    // One notification with two changes: no single edit to compare.
    const before = { version: h.doc.text.version, text: h.doc.text.getText() };
    const p = h.doc.text.positionAt(h.offset);
    h.doc.text.update([{ range: { start: p, end: p }, text: 'return' }, { range: { start: { line: p.line, character: p.character + 6 }, end: { line: p.line, character: p.character + 6 } }, text: ' 1;' }], 2);
    h.spec.changed(h.doc, before, undefined);
    expect(h.asked).toEqual([]);
    h.spec.accepted('tandem-7', () => h.doc); // another completion's id
    expect(h.asked).toEqual([]);
    h.spec.accepted('tandem-1', () => h.doc);
    h.spec.accepted('tandem-1', () => h.doc);
    expect(h.asked.map((a) => a.offset)).toEqual([h.offset + 9]);
  });

  it('tandem.accepted without the text in place (never inserted, or typed over since) starts nothing', () => {
    const h = harness();
    h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
    h.edit(h.offset, h.offset, 'retx');
    h.spec.accepted('tandem-1', () => h.doc);
    expect(h.asked).toEqual([]);
  });

  it('off (inline.speculative false), or the place already answered: no request', () => {
    for (const opts of [{ enabled: false }, { answered: true }]) {
      const h = harness(opts);
      h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
      h.edit(h.offset, h.offset, 'return 1;');
      expect(h.asked).toEqual([]);
      expect(h.spec.counts.started).toBe(0);
    }
  });

  it('closing the document cancels it', () => {
    const h = harness();
    h.spec.shown(h.doc.uri, { id: 'tandem-1', version: 1, offset: h.offset, replaced: '', text: 'return 1;' });
    h.edit(h.offset, h.offset, 'return 1;');
    h.spec.closed(h.doc.uri);
    expect(h.asked[0]!.signal.aborted).toBe(true);
  });
});
