// Completion cache: exact hits, and what stays of a shown completion while the user types it, the
// editor closes brackets after the cursor, a suggest item is accepted or the user backspaces.
import { LRUCache } from 'lru-cache';
import type { TextReader } from '../textStore.js';

/** How much of the text around the cursor identifies a completion's place. */
const PREFIX_KEY_CHARS = 2048;
const SUFFIX_KEY_CHARS = 512;
/** Recent completions per document that typing may walk through. */
const RECENT_PER_DOC = 16;
/** Most characters backspaced from before a completion's place that it may still be shown with. */
const MAX_BACKSPACED = 128;
/**
 * Most characters an editor puts after the cursor on its own (closing brackets and quotes, the
 * indented closing line of Enter between braces) that a completion may absorb.
 */
const MAX_EDITOR_CHARS = 48;
const EDITOR_CHAR = /[)\]}>"'`\s]/;

/** A string that shares no memory with the one it was sliced from (a flat copy of its characters). */
export function detached(s: string): string {
  return (' ' + s).slice(1);
}

/**
 * Where a cached answer comes from: the very place it was made for (`cache`), a place the user's
 * and the editor's edits since lead to (`typedThrough`), or the place a speculative request made it
 * for, right after an accepted completion (`speculative`).
 */
export type LocalKind = 'cache' | 'typedThrough' | 'speculative';

/** One item to show: `text` inserted at the cursor over the next `replace` characters (the editor's closers it types over). */
export interface CachedItem {
  text: string;
  replace: number;
}

export interface CacheHit {
  kind: LocalKind;
  /**
   * In the order they were stored (best first). Empty: the completion being typed still fits but
   * has nothing to add at the cursor (it goes on past the closing line the editor put below).
   */
  items: CachedItem[];
}

interface Entry {
  uri: string;
  prefixLen: number;
  prefixTail: string;
  suffixHead: string;
  texts: string[];
  speculative: boolean;
  /** Made for the text with a suggest-widget item put in (never the document's): no backspacing leads back to it. */
  selected: boolean;
}

/**
 * Holds at most `size` completions in all: the typed-through lists only point at entries of the
 * LRU, and an entry leaves its document's list when the LRU lets it go. (Lists of their own kept
 * evicted entries, a few KB each, for every document ever completed in, closed ones too.)
 */
export class CompletionCache {
  private readonly exact: LRUCache<string, Entry>;
  private readonly recent = new Map<string, Entry[]>();

  constructor(size: number) {
    this.exact = new LRUCache({ max: size, dispose: (e) => this.unlist(e) });
  }

  /** What the cache holds: entries, entries on typed-through lists, documents with a list. */
  get counts(): { entries: number; listed: number; documents: number } {
    let listed = 0;
    for (const list of this.recent.values()) listed += list.length;
    return { entries: this.exact.size, listed, documents: this.recent.size };
  }

  private unlist(e: Entry): void {
    const list = this.recent.get(e.uri);
    const i = list ? list.indexOf(e) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.recent.delete(e.uri);
  }

  private static key(uri: string, prefixLen: number, prefixTail: string, suffixHead: string): string {
    return `${uri}\u0000${prefixLen}\u0000${prefixTail}\u0000${suffixHead}`;
  }

  /**
   * What to show at this place, if a stored completion still fits: stored for exactly this prefix
   * and suffix; or one whose start the user has since typed (the rest of it), or whose place the
   * user backspaced to from just after (the deleted text, then it); in both cases with whatever
   * the editor put after the cursor on its own absorbed (see `fit`). Each stored alternative that
   * fits is an item. `text` is the whole document (a string, or read from a big one's chunks)
   * and `offset` the cursor.
   */
  get(uri: string, text: TextReader, offset: number): CacheHit | undefined {
    const prefixTail = text.slice(Math.max(0, offset - PREFIX_KEY_CHARS), offset);
    const suffixHead = text.slice(offset, offset + SUFFIX_KEY_CHARS);
    const hit = this.exact.get(CompletionCache.key(uri, offset, prefixTail, suffixHead));
    if (hit) return { kind: hit.speculative ? 'speculative' : 'cache', items: hit.texts.map((t) => ({ text: t, replace: 0 })) };
    for (const e of this.recent.get(uri) ?? []) {
      const items = this.walk(e, text, offset);
      if (items) return { kind: 'typedThrough', items };
    }
    return undefined;
  }

  /**
   * The items of `e` that the document now at `offset` is on the way to, cheapest checks first:
   * undefined when it is on the way to none; empty when it is, but none has text to add here.
   */
  private walk(e: Entry, text: TextReader, offset: number): CachedItem[] | undefined {
    const start = e.prefixLen - e.prefixTail.length;
    if (offset >= e.prefixLen) {
      // Typed since: each text the typing is a start of, less that start.
      const typedLen = offset - e.prefixLen;
      if (!e.texts.some((t) => t.length > typedLen)) return undefined;
      const typed = text.slice(e.prefixLen, offset);
      const rests = e.texts.filter((t) => t.length > typedLen && t.startsWith(typed)).map((t) => t.slice(typedLen));
      if (rests.length === 0) return undefined;
      const editor = editorText(text, offset, e.suffixHead);
      if (editor === undefined || !startsAt(text, e.prefixTail, start)) return undefined;
      const fits = rests.map((r) => fit(r, editor)).filter((i): i is CachedItem => i !== undefined);
      if (fits.length === 0) return undefined;
      // Those with something to add; none when each fits with nothing to add at the cursor.
      return fits.filter((i) => i.text !== '');
    }
    // Backspaced from just after the place: the deleted text is shown again, then the completion.
    // The text after the cursor must be exactly as it was (a cursor merely moved left is no deletion).
    const deleted = e.prefixLen - offset;
    if (e.selected || deleted > MAX_BACKSPACED || offset < start) return undefined;
    if (editorText(text, offset, e.suffixHead) !== '') return undefined;
    if (!e.prefixTail.startsWith(text.slice(start, offset))) return undefined;
    const retype = e.prefixTail.slice(e.prefixTail.length - deleted);
    return e.texts.map((t) => ({ text: retype + t, replace: 0 }));
  }

  /**
   * Stores the completions (best first) made for this place; `speculative`: by a request for the
   * place an accepted completion leads to, not by one the editor made; `selected`: for `text` with
   * the suggest widget's selected item put in, which the user may never type.
   */
  set(uri: string, text: TextReader, offset: number, completions: string | readonly string[], speculative = false, selected = false): void {
    const e: Entry = {
      uri,
      prefixLen: offset,
      // Copies, not slices: V8 makes a slice of 13 characters or more share the document's string,
      // so each entry would keep a whole version of the document alive (the fuzzer's 1.7 GB).
      prefixTail: detached(text.slice(Math.max(0, offset - PREFIX_KEY_CHARS), offset)),
      suffixHead: detached(text.slice(offset, offset + SUFFIX_KEY_CHARS)),
      texts: typeof completions === 'string' ? [completions] : [...completions],
      speculative,
      selected,
    };
    if (e.texts.length === 0) return;
    this.exact.set(CompletionCache.key(uri, offset, e.prefixTail, e.suffixHead), e);
    // After the LRU's set: replacing an entry for the same place has taken the old one off its list.
    const list = this.recent.get(uri) ?? [];
    list.unshift(e);
    if (list.length > RECENT_PER_DOC) list.length = RECENT_PER_DOC;
    this.recent.set(uri, list);
  }

  forget(uri: string): void {
    this.recent.delete(uri);
  }
}

/** As String.startsWith(s, at), for any TextReader. */
function startsAt(text: TextReader, s: string, at: number): boolean {
  const p = Math.max(0, Math.min(at, text.length));
  return p + s.length <= text.length && text.slice(p, p + s.length) === s;
}

/**
 * What the editor put between the cursor and the text that followed the stored place (closing
 * brackets and quotes, Enter's indented closing line): '' when that text follows the cursor
 * directly, undefined when it does not follow at all within a few such characters.
 */
function editorText(text: TextReader, offset: number, suffixHead: string): string | undefined {
  for (let x = 0; x <= MAX_EDITOR_CHARS; x++) {
    const at = offset + x;
    // The stored suffix is the next SUFFIX_KEY_CHARS characters, or all of them to the end.
    if (startsAt(text, suffixHead, at) && (suffixHead.length === SUFFIX_KEY_CHARS || at + suffixHead.length === text.length)) return text.slice(offset, at);
    if (at >= text.length || !EDITOR_CHAR.test(text.slice(at, at + 1))) return undefined;
  }
  return undefined;
}

/**
 * The item that shows the rest `rest` of a completion when the editor has put `editor` after the
 * cursor, such that accepting it leaves the text the completion would have; undefined when the
 * rest does not hold the editor's text; text '' when it fits but has nothing to add at the cursor.
 * The editor's text is what it put on the cursor's line (closers) and the lines it added below
 * (Enter between a pair moves the closer to a line of its own). Each such line must come in the
 * rest, in order, and what is shown stops where the first does (the completion goes on past it,
 * once the user gets there). Then the closers: the rest is shown less its end when it ends with
 * them (an insertion); else over them when its first line holds them in order (ghost text that
 * types over the closers, as an editor shows it); else up to where they come in it.
 */
export function fit(rest: string, editor: string): CachedItem | undefined {
  // Nothing left, or nothing the editor does not already hold: the completion is done.
  if (rest === '' || rest === editor) return undefined;
  if (editor === '') return { text: rest, replace: 0 };
  if (rest.endsWith(editor)) return { text: rest.slice(0, rest.length - editor.length), replace: 0 };
  const nl = editor.indexOf('\n');
  const closers = nl < 0 ? editor : editor.slice(0, nl);
  let body = rest;
  if (nl >= 0) {
    let from = 0;
    let first = -1;
    for (const line of editor.slice(nl + 1).split('\n').map((l) => '\n' + l)) {
      const k = rest.indexOf(line, from);
      if (k < 0) return undefined;
      if (first < 0) first = k;
      from = k + line.length;
    }
    body = rest.slice(0, first);
  }
  if (closers === '' || body === closers) return { text: closers === '' ? body : '', replace: 0 };
  if (body.endsWith(closers)) return { text: body.slice(0, body.length - closers.length), replace: 0 };
  if (inOrder(closers, firstLine(body))) return { text: body, replace: closers.length };
  const k = body.indexOf(closers);
  return k >= 0 ? { text: body.slice(0, k), replace: 0 } : undefined;
}

function firstLine(s: string): string {
  const nl = s.indexOf('\n');
  return nl < 0 ? s : s.slice(0, nl);
}

/** Whether every character of `needle` occurs in `hay`, in order. */
function inOrder(needle: string, hay: string): boolean {
  let j = 0;
  for (let i = 0; i < hay.length && j < needle.length; i++) if (hay[i] === needle[j]) j++;
  return j === needle.length;
}
