// Next edits' edit history: steps coalesced by place and pause, bounded, dropped on close; viewed ranges.
import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { EditHistory, MAX_DOC_CHARS, MAX_HISTORY_CHARS, MAX_STEPS_PER_DOC, MAX_STEP_LINES, STEP_PAUSE_MS, stepChange, stepDiff } from '../../server/src/nextEdit/history.js';

/** A document fed to the history as the server feeds it: one change at a time, the clock in the test's hand. */
function setup() {
  let t = 1000;
  const history = new EditHistory({ now: () => t, relativePath: (uri) => uri.replace('file:///ws/', '') });
  const docs = new Map<string, TextDocument>();
  const open = (uri: string, text: string) => docs.set(uri, TextDocument.create(uri, 'typescript', 1, text));
  /** Replaces `from..to` (offsets) with `text`. */
  const edit = (uri: string, from: number, to: number, text: string) => {
    const doc = docs.get(uri)!;
    const before = doc.getText();
    const start = doc.positionAt(from);
    const end = doc.positionAt(to);
    TextDocument.update(doc, [{ range: { start, end }, text }], doc.version + 1);
    const nl = text.split('\n').length - 1;
    history.changed(uri, before, start.line, start.line + nl, nl - (end.line - start.line), () => doc.getText());
  };
  /** Types `text` one character at a time at `offset`, `gap` ms apart. */
  const type = (uri: string, offset: number, text: string, gap = 50) => {
    for (const [i, ch] of [...text].entries()) {
      t += gap;
      edit(uri, offset + i, offset + i, ch);
    }
  };
  return { history, open, edit, type, docs, tick: (ms: number) => (t += ms), now: () => t };
}

const A = 'file:///ws/src/a.ts';
const B = 'file:///ws/src/b.ts';

describe('EditHistory', () => {
  it('coalesces a word typed into one step, and reports it as a unified diff in the file\'s line numbers', () => {
    const s = setup();
    s.open(A, 'function f() {\n  return 1;\n}\n');
    s.type(A, '  return 1'.length + 15, ' + count');
    const steps = s.history.recent();
    expect(steps).toHaveLength(1);
    expect(stepChange(steps[0]!)).toEqual({ line: 1, removed: ['  return 1;'], added: ['  return 1 + count;'] });
    expect(stepDiff(steps[0]!)).toBe(['--- a/src/a.ts', '+++ b/src/a.ts', '@@ -1,3 +1,3 @@', ' function f() {', '-  return 1;', '+  return 1 + count;', ' }'].join('\n'));
    expect(steps[0]!.at).toBe(s.now());
  });

  it('starts a new step after a pause and after an edit elsewhere in the file, oldest first', () => {
    const s = setup();
    s.open(A, Array.from({ length: 30 }, (_, i) => `line${i}`).join('\n'));
    s.type(A, 'line0'.length, 'a');
    s.tick(STEP_PAUSE_MS + 1);
    s.type(A, 'line0a'.length, 'b'); // same place, after a pause: a second step
    const far = s.docs.get(A)!.offsetAt({ line: 20, character: 6 });
    s.type(A, far, 'c'); // no pause, but 20 lines away: a third
    const steps = s.history.recent().map(stepChange);
    expect(steps).toEqual([
      { line: 0, removed: ['line0'], added: ['line0a'] },
      { line: 0, removed: ['line0a'], added: ['line0ab'] },
      { line: 20, removed: ['line20'], added: ['line20c'] },
    ]);
  });

  it('keeps a step together across Enter and the lines typed after it', () => {
    const s = setup();
    s.open(A, 'a\nb\n');
    s.type(A, 1, '\nxy\nz');
    const steps = s.history.recent().map(stepChange);
    expect(steps).toEqual([{ line: 1, removed: [], added: ['xy', 'z'] }]);
  });

  it('drops a document\'s steps and viewed ranges when it closes, and keeps the others\'', () => {
    const s = setup();
    s.open(A, 'one\n');
    s.open(B, 'two\n');
    s.type(A, 3, '!');
    s.type(B, 3, '?');
    s.history.viewed(A, 0, 1);
    s.history.viewed(B, 0, 1);
    s.history.closed(A);
    expect(s.history.recent().map((x) => x.uri)).toEqual([B]);
    expect(s.history.viewedElsewhere(B)).toEqual([]);
    expect(s.history.viewedElsewhere('file:///ws/c.ts').map((v) => v.path)).toEqual(['src/b.ts']);
  });

  it('bounds the steps per document, the size of a step and the characters kept in all', () => {
    const s = setup();
    s.open(A, 'x\n'.repeat(200));
    for (let i = 0; i < MAX_STEPS_PER_DOC + 5; i++) {
      s.tick(STEP_PAUSE_MS + 1);
      s.type(A, 0, 'y');
    }
    expect(s.history.recent().length).toBe(MAX_STEPS_PER_DOC + 1); // the kept ones and the open one
    s.open(B, '');
    s.tick(STEP_PAUSE_MS + 1);
    s.edit(B, 0, 0, 'z\n'.repeat(500));
    const big = s.history.recent().find((x) => x.uri === B)!;
    expect(big.after.length).toBe(MAX_STEP_LINES);
    // Many large steps: the oldest go once the characters pass the bound.
    for (let i = 0; i < 40; i++) {
      s.tick(STEP_PAUSE_MS + 1);
      s.edit(B, 0, 0, `${'w'.repeat(3000)}\n`.repeat(3));
    }
    const kept = s.history.recent().reduce((n, x) => n + [...x.before, ...x.after].join('\n').length, 0);
    expect(kept).toBeLessThan(MAX_HISTORY_CHARS + 2 * MAX_STEP_LINES * 3001);
    expect(s.history.recent().length).toBeLessThan(20);
  });

  it('says the last step of a document, open or closed, and nothing for an edit undone within its step', () => {
    const s = setup();
    s.open(A, 'let a = 1;\n');
    s.type(A, 9, '0');
    expect(stepChange(s.history.last(A)!)).toEqual({ line: 0, removed: ['let a = 1;'], added: ['let a = 10;'] });
    s.edit(A, 9, 10, ''); // backspace: the step nets to nothing
    expect(s.history.last(A)).toBeUndefined();
    expect(s.history.last(B)).toBeUndefined();
  });

  it('records viewed ranges around a request\'s line, merged when they overlap, most recent first, bounded', () => {
    const s = setup();
    s.history.viewed(A, 50, 100);
    s.history.viewed(A, 52, 100);
    s.history.viewed(B, 3, 10);
    const v = s.history.viewedElsewhere('file:///ws/other.ts');
    expect(v.map((x) => [x.path, x.start, x.end])).toEqual([
      ['src/b.ts', 0, 9],
      ['src/a.ts', 44, 60],
    ]);
    for (let i = 0; i < 20; i++) s.history.viewed(`file:///ws/f${i}.ts`, 0, 5);
    expect(s.history.viewedElsewhere(A).length).toBe(8);
  });
});

/** One document's history whose reads of the text now are counted; `change` replaces the whole text on line 0, after `ms`. */
function countingReads() {
  let t = 0;
  let reads = 0;
  const history = new EditHistory({ now: () => t, relativePath: (u) => u });
  let text = 'a\n';
  const change = (next: string, ms = 0) => {
    const before = text;
    text = next;
    t += ms;
    history.changed('u', before, 0, 0, 0, () => {
      reads++;
      return text;
    });
  };
  return { history, change, reads: () => reads, tick: (ms: number) => (t += ms) };
}

describe('EditHistory: settled steps', () => {
  it('closes a step once its pause has passed, reading the text once, and a later change starts a new one', () => {
    const { history, change, reads, tick } = countingReads();
    change('ab\n');
    tick(STEP_PAUSE_MS + 1);
    expect(history.recent().map(stepChange)).toEqual([{ line: 0, removed: ['a'], added: ['ab'] }]);
    const after = reads();
    history.recent();
    history.recent();
    expect(reads()).toBe(after); // closed: not diffed again
    change('abc\n');
    expect(history.recent().map(stepChange)).toEqual([
      { line: 0, removed: ['a'], added: ['ab'] },
      { line: 0, removed: ['ab'], added: ['abc'] },
    ]);
  });
});

describe('EditHistory: the open step', () => {
  it('is diffed once until the next change: a request reads it for its prompt and again with the answer', () => {
    const { history, change, reads } = countingReads();
    change('ab\n', 50);
    expect(history.last('u')).toMatchObject({ before: ['a'], after: ['ab'] });
    expect(history.recent().map(stepChange)).toEqual([{ line: 0, removed: ['a'], added: ['ab'] }]);
    expect(reads()).toBe(1);
    change('abc\n', 50); // joins the step: diffed afresh
    expect(history.last('u')).toMatchObject({ before: ['a'], after: ['abc'] });
    expect(reads()).toBe(2);
    change('ab\n', 50);
    change('a\n', 50); // typed and taken back: the step nets to nothing
    expect(history.last('u')).toBeUndefined();
    expect(history.recent()).toEqual([]);
    expect(reads()).toBe(3);
  });
});

describe('EditHistory: a step from the characters that differ', () => {
  /** The step as whole texts' lines give it: equal head and tail lines cut, three lines of context kept. */
  function naive(a0: string, b0: string) {
    const lines = (t: string) => {
      const l = t.split('\n');
      if (l.length > 1 && l[l.length - 1] === '') l.pop();
      return l;
    };
    const a = lines(a0);
    const b = lines(b0);
    let head = 0;
    while (head < a.length && head < b.length && a[head] === b[head]) head++;
    let tail = 0;
    while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
    return { line: head, removed: a.slice(head, a.length - tail), added: b.slice(head, b.length - tail) };
  }

  it('gives the lines a whole-text line diff gives, on 400 seeded random edits', () => {
    let seed = 7;
    const r = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const words = ['a', 'b', 'x = 1;', '', '}', '  return a;', '\n'];
    const pick = (n: number) => Array.from({ length: n }, () => words[Math.floor(r() * words.length)]!).join(r() < 0.5 ? '\n' : '');
    for (let c = 0; c < 400; c++) {
      const a = pick(Math.floor(r() * 40)) + (r() < 0.5 ? '\n' : '');
      const from = Math.floor(r() * (a.length + 1));
      const to = Math.min(a.length, from + Math.floor(r() * 12));
      const b = a.slice(0, from) + pick(Math.floor(r() * 4)) + a.slice(to);
      const history = new EditHistory({ now: () => 0, relativePath: (u) => u });
      history.changed('u', a, 0, 0, 0, () => b);
      const step = history.recent()[0];
      const want = naive(a, b);
      if (want.removed.length === 0 && want.added.length === 0) {
        expect(step === undefined || (stepChange(step).removed.length === 0 && stepChange(step).added.length === 0), JSON.stringify({ a, b })).toBe(true);
        continue;
      }
      expect(step, JSON.stringify({ a, b })).toBeDefined();
      const got = stepChange(step!);
      if (want.removed.length <= MAX_STEP_LINES && want.added.length <= MAX_STEP_LINES) expect(got, JSON.stringify({ a, b })).toEqual(want);
    }
  });
});

describe('EditHistory: big documents', () => {
  it('keeps no history of a document over MAX_DOC_CHARS, and finds a one-character step in a large one by its lines', () => {
    const history = new EditHistory({ now: () => 0, relativePath: (u) => u });
    const huge = 'x'.repeat(MAX_DOC_CHARS + 1);
    history.changed('big', huge, 0, 0, 0, () => `${huge}y`);
    expect(history.recent()).toEqual([]);
    const large = Array.from({ length: 20_000 }, (_, i) => `line ${i}`).join('\n');
    const edited = large.replace('line 12345', 'line 12345!');
    history.changed('large', large, 12345, 12345, 0, () => edited);
    const step = history.recent()[0]!;
    expect(stepChange(step)).toEqual({ line: 12345, removed: ['line 12345'], added: ['line 12345!'] });
    expect(step.before).toEqual(['line 12342', 'line 12343', 'line 12344', 'line 12345', 'line 12346', 'line 12347', 'line 12348']);
  });
});
