// @ts-check
// A scripted editor for end-to-end tests and the benchmark: one document mirrored with a cursor,
// edited as VS Code edits by default (brackets and quotes closed as they are typed, typing over a
// closer it put there, Enter indenting and splitting a pair onto three lines, backspace deleting
// an empty pair), each edit sent as the didChange an editor sends; and a typist that types towards
// a target text as a person would on such an editor.

/** @type {Record<string, string>} */
const PAIRS = { '(': ')', '[': ']', '{': '}', '"': '"', "'": "'", '`': '`' };
const CLOSERS = new Set([')', ']', '}', '"', "'", '`']);
const QUOTES = new Set(['"', "'", '`']);
/** VS Code's `autoCloseBefore` for TypeScript: a pair is closed only before one of these or at the end of a line. */
const CLOSE_BEFORE = ';:.,=}])> \n\t';

export class ScriptedEditor {
  /**
   * @param {{ change(uri: string, version: number, changes: any[]): void, inline(uri: string, position: {line: number, character: number}): {result: Promise<any>}, request(method: string, params: any): Promise<any> }} client
   * @param {string} uri @param {string} text @param {number} offset the cursor
   * @param {{ indent?: string, version?: number }} [opts] `version`: the version `text` was opened with
   */
  constructor(client, uri, text, offset, opts = {}) {
    this.client = client;
    this.uri = uri;
    this.text = text;
    this.offset = offset;
    this.indentUnit = opts.indent ?? '  ';
    this.version = opts.version ?? 1;
    /** Offsets of characters the editor put after the cursor on its own (closers, Enter's split line). @type {Set<number>} */
    this.auto = new Set();
  }

  /** @param {number} [offset] */
  position(offset = this.offset) {
    const before = this.text.slice(0, offset);
    const line = before.split('\n').length - 1;
    return { line, character: offset - (before.lastIndexOf('\n') + 1) };
  }

  /** @param {{line: number, character: number}} p */
  offsetAt(p) {
    let o = 0;
    for (let l = 0; l < p.line; l++) o = this.text.indexOf('\n', o) + 1;
    return o + p.character;
  }

  /**
   * Replaces [start, end) with `insert` as one didChange, the cursor then at `cursor`.
   * @param {number} start @param {number} end @param {string} insert @param {number} cursor
   */
  edit(start, end, insert, cursor) {
    const range = { start: this.position(start), end: this.position(end) };
    this.text = this.text.slice(0, start) + insert + this.text.slice(end);
    const delta = insert.length - (end - start);
    const auto = new Set();
    for (const a of this.auto) {
      if (a < start) auto.add(a);
      else if (a >= end) auto.add(a + delta);
    }
    this.auto = auto;
    this.offset = cursor;
    this.client.change(this.uri, ++this.version, [{ range, text: insert }]);
  }

  /**
   * One key, with the editor's habits: over a closer it put there, the key types over it; an
   * opening bracket or quote before nothing much gets its closer; Enter indents.
   * @param {string} ch @returns {'overtype' | 'pair' | 'insert' | 'enter'}
   */
  type(ch) {
    const o = this.offset;
    const next = this.text[o];
    if (ch === '\n') return this.enter();
    if (CLOSERS.has(ch) && next === ch && this.auto.has(o)) {
      // VS Code types over the closer it inserted: the character replaced by itself, the cursor past it.
      this.edit(o, o + 1, ch, o + 1);
      return 'overtype';
    }
    const closer = PAIRS[ch];
    const quoteOk = !QUOTES.has(ch) || (!/\w/.test(this.text[o - 1] ?? '') && !this.inString(ch));
    if (closer && (next === undefined || CLOSE_BEFORE.includes(next)) && quoteOk) {
      this.edit(o, o, ch + closer, o + 1);
      this.auto.add(o + 1);
      return 'pair';
    }
    this.edit(o, o, ch, o + 1);
    return 'insert';
  }

  /** Whether the cursor sits inside a `quote` string on its line (an odd count of them before it). @param {string} quote */
  inString(quote) {
    const line = this.text.slice(this.text.lastIndexOf('\n', this.offset - 1) + 1, this.offset);
    return (line.split(quote).length - 1) % 2 === 1;
  }

  /** Enter: the line's indentation, one level more after an opening bracket; between a pair, the closer on a line of its own. @returns {'enter'} */
  enter() {
    const o = this.offset;
    const lineStart = this.text.lastIndexOf('\n', o - 1) + 1;
    const indent = /^[ \t]*/.exec(this.text.slice(lineStart, o))?.[0] ?? '';
    const last = this.text.slice(lineStart, o).trimEnd().at(-1);
    const opens = last !== undefined && '([{'.includes(last);
    const inner = opens ? indent + this.indentUnit : indent;
    if (opens && this.text[o] === PAIRS[last]) {
      const tail = '\n' + indent;
      this.edit(o, o, '\n' + inner + tail, o + 1 + inner.length);
      // The new closing line is the editor's too: a typist goes past it rather than typing it.
      for (let i = 0; i < tail.length; i++) this.auto.add(this.offset + i);
    } else {
      this.edit(o, o, '\n' + inner, o + 1 + inner.length);
    }
    return 'enter';
  }

  /** Backspace: an empty pair the editor made goes as a whole. @returns {'backspace'} */
  backspace() {
    const o = this.offset;
    const prev = this.text[o - 1];
    if (prev !== undefined && PAIRS[prev] === this.text[o] && this.auto.has(o)) this.edit(o - 1, o + 1, '', o - 1);
    else this.edit(o - 1, o, '', o - 1);
    return 'backspace';
  }

  /** The Delete key. @returns {'delete'} */
  deleteForward() {
    this.edit(this.offset, this.offset + 1, '', this.offset);
    return 'delete';
  }

  /** The cursor moved (arrow keys, End): no edit. @param {number} n @returns {'move'} */
  move(n) {
    this.offset += n;
    return 'move';
  }

  /**
   * A suggest widget's item accepted: the word before the cursor (from `start`) replaced by `text`
   * in one edit, the cursor `back` characters before its end (inside `()` of a function's item).
   * @param {number} start @param {string} text @param {number} [back]
   */
  suggest(start, text, back = 0) {
    this.edit(start, this.offset, text, start + text.length - back);
  }

  /** The ghost text for the cursor, as the editor asks for it (automatic trigger). */
  inline() {
    return this.client.inline(this.uri, this.position()).result;
  }

  /**
   * An inline item accepted: its range replaced by its text in one edit, then its command run.
   * @param {{insertText: string, range: {start: any, end: any}, command?: {command: string, arguments?: any[]}}} item
   */
  async accept(item) {
    const start = this.offsetAt(item.range.start);
    const end = this.offsetAt(item.range.end);
    this.edit(start, end, item.insertText, start + item.insertText.length);
    if (item.command) await this.client.request('workspace/executeCommand', { command: item.command.command, arguments: item.command.arguments });
  }

  /**
   * Whether accepting `item` leaves the text before the cursor as `target` has it: what a user
   * reading the ghost text would take.
   * @param {{insertText: string, range: {start: any}}} item @param {string} target
   */
  fits(item, target) {
    return item.insertText !== '' && target.startsWith(this.text.slice(0, this.offsetAt(item.range.start)) + item.insertText);
  }
}

/**
 * One keystroke of a typist who wants the document to read `target`, on an editor with
 * `ScriptedEditor`'s habits: what it typed (or null once the text is the target). Text before the
 * cursor that is not the target's (the editor indented otherwise) is backspaced; a closer the editor
 * put there is typed over; at the editor's own closing line, the typist goes past it when the target
 * continues with it; a closer of the editor's that the target does not have on this line is deleted.
 * @param {ScriptedEditor} ed @param {string} target
 * @returns {'overtype' | 'pair' | 'insert' | 'enter' | 'backspace' | 'delete' | 'move' | null}
 */
export function keystroke(ed, target) {
  if (ed.text === target) return null;
  const o = ed.offset;
  if (!target.startsWith(ed.text.slice(0, o))) return ed.backspace();
  const c = target[o];
  const at = ed.text[o];
  if (at !== undefined && ed.auto.has(o)) {
    if (at === c && CLOSERS.has(c)) return ed.type(c);
    if (at === '\n') {
      // The editor's closing line: gone past when the target goes on with it, else Enter opens a line above it.
      let end = o + 1;
      while (ed.auto.has(end) && (ed.text[end] === ' ' || ed.text[end] === '\t')) end++;
      // (Its closer included: the target's next line may merely start with the same indentation.)
      if (target.startsWith(ed.text.slice(o, end + 1), o)) return ed.move(end - o);
    } else if (CLOSERS.has(at) && at !== c && !(c === '\n' && PAIRS[ed.text[o - 1] ?? ''] === at)) {
      // (Enter right after the opener splits the pair instead.)
      const lineEnd = target.indexOf('\n', o);
      if (!target.slice(o, lineEnd < 0 ? undefined : lineEnd).includes(at)) return ed.deleteForward();
    }
  }
  if (c === undefined) return ed.deleteForward();
  return ed.type(c);
}
