// Completion cache: exact hits, and typed-through hits when the user types what is on screen.
import { LRUCache } from 'lru-cache';

/** How much of the text around the cursor identifies a completion's place. */
const PREFIX_KEY_CHARS = 2048;
const SUFFIX_KEY_CHARS = 512;
/** Recent completions per document that typing may walk through. */
const RECENT_PER_DOC = 16;

/** A string that shares no memory with the one it was sliced from (a flat copy of its characters). */
export function detached(s: string): string {
  return (' ' + s).slice(1);
}

interface Entry {
  uri: string;
  prefixLen: number;
  prefixTail: string;
  suffixHead: string;
  text: string;
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
   * The completion for this place, if known: either stored for exactly this prefix and suffix,
   * or a stored one whose start the user has since typed (then the rest of it is returned).
   * `text` is the whole document and `offset` the cursor.
   */
  get(uri: string, text: string, offset: number): string | undefined {
    const prefixTail = text.slice(Math.max(0, offset - PREFIX_KEY_CHARS), offset);
    const suffixHead = text.slice(offset, offset + SUFFIX_KEY_CHARS);
    const hit = this.exact.get(CompletionCache.key(uri, offset, prefixTail, suffixHead));
    if (hit) return hit.text;
    for (const e of this.recent.get(uri) ?? []) {
      const typedLen = offset - e.prefixLen;
      if (typedLen <= 0 || typedLen >= e.text.length || e.suffixHead !== suffixHead) continue;
      if (!e.text.startsWith(text.slice(e.prefixLen, offset))) continue;
      if (text.slice(Math.max(0, e.prefixLen - PREFIX_KEY_CHARS), e.prefixLen) !== e.prefixTail) continue;
      return e.text.slice(typedLen);
    }
    return undefined;
  }

  set(uri: string, text: string, offset: number, completion: string): void {
    const e: Entry = {
      uri,
      prefixLen: offset,
      // Copies, not slices: V8 makes a slice of 13 characters or more share the document's string,
      // so each entry would keep a whole version of the document alive (the fuzzer's 1.7 GB).
      prefixTail: detached(text.slice(Math.max(0, offset - PREFIX_KEY_CHARS), offset)),
      suffixHead: detached(text.slice(offset, offset + SUFFIX_KEY_CHARS)),
      text: completion,
    };
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
