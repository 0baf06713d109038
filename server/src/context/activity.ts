// What the user did lately: the regions edited and the text of open documents, in windows for similarity.
import type { Run } from './types.js';

export interface EditedRegion {
  uri: string;
  /** 0-based first and last line of the region, as of the edit. */
  line: number;
  endLine: number;
  at: number;
}

/** A stretch of lines of a document and the words in it. */
export interface Window extends Run {
  words: ReadonlySet<string>;
}

export interface DocWindows {
  uri: string;
  path: string;
  windows: Window[];
}

export interface ActivityDeps {
  /** Current text of an open document. */
  text: (uri: string) => string | undefined;
  relativePath: (uri: string) => string;
  /** True while an inline request is in flight: windowing waits. */
  busy?: () => boolean;
  now?: () => number;
  /** A document's text settled (its windows were just cut): cursor-independent work on it can run now. */
  settled?: (uri: string, text: string) => void;
}

export const WINDOW_LINES = 20;
const WINDOW_STRIDE = 10;
const MAX_EDITS = 32;
/** Edits this close (in lines) to an earlier one of the same document extend it. */
const MERGE_LINES = 3;
/** Open or recently edited documents whose windows are kept. */
const MAX_DOCS = 20;
const MAX_WINDOWS_PER_DOC = 1000;
/** Documents larger than this are not windowed: cutting one would hold the event loop too long. */
const MAX_DOC_CHARS = 300_000;
/**
 * A document's windows are cut once it has been left alone this long: the one being typed in is
 * the prefix and suffix already, and re-cutting it on every pause would cost the requests time.
 */
const SETTLE_MS = 1500;
const WORD = /[A-Za-z_][A-Za-z0-9_]+/g;

export function wordsOf(text: string): Set<string> {
  const out = new Set<string>();
  WORD.lastIndex = 0;
  for (let m = WORD.exec(text); m; m = WORD.exec(text)) out.add(m[0]);
  return out;
}

/**
 * Recent edits are recorded as they arrive (a few numbers per change); windows of a document
 * are cut in the background once its edits settle, never on a request's path.
 */
export class DocumentActivity {
  private readonly edits: EditedRegion[] = [];
  private readonly docs = new Map<string, DocWindows>();
  /** Documents to re-cut, with the time of their last change. */
  private readonly dirty = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: ActivityDeps) {
    this.now = deps.now ?? (() => performance.now());
  }

  /** A change replaced lines line..endLine (as of after the change). */
  edited(uri: string, line: number, endLine: number): void {
    const at = this.now();
    for (let i = this.edits.length - 1; i >= 0; i--) {
      const e = this.edits[i]!;
      if (e.uri === uri && line <= e.endLine + MERGE_LINES && endLine >= e.line - MERGE_LINES) {
        this.edits.splice(i, 1);
        this.edits.push({ uri, line: Math.min(line, e.line), endLine: Math.max(endLine, e.endLine), at });
        this.changed(uri);
        return;
      }
    }
    this.edits.push({ uri, line, endLine, at });
    if (this.edits.length > MAX_EDITS) this.edits.shift();
    this.changed(uri);
  }

  /** A document opened or changed: its windows are cut again once it settles. */
  changed(uri: string): void {
    this.dirty.set(uri, this.now());
    this.schedule(SETTLE_MS);
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref?.();
  }

  /** Cuts one settled document per tick, so a burst never holds the event loop for long. */
  private tick(): void {
    this.timer = undefined;
    if (this.dirty.size === 0) return;
    if (this.deps.busy?.()) return this.schedule(50);
    const now = this.now();
    for (const [uri, at] of this.dirty) {
      if (now - at < SETTLE_MS) continue;
      this.dirty.delete(uri);
      this.cut(uri);
      break;
    }
    if (this.dirty.size === 0) return;
    let next = SETTLE_MS;
    for (const at of this.dirty.values()) next = Math.min(next, Math.max(0, SETTLE_MS - (now - at)));
    this.schedule(next);
  }

  /** A closed document keeps its windows (a recently edited file) but its edits go. */
  closed(uri: string): void {
    for (let i = this.edits.length - 1; i >= 0; i--) if (this.edits[i]!.uri === uri) this.edits.splice(i, 1);
    this.dirty.delete(uri);
  }

  /** Most recent first. */
  recentEdits(): readonly EditedRegion[] {
    return [...this.edits].reverse();
  }

  windows(): Iterable<DocWindows> {
    return this.docs.values();
  }

  /** Cuts the windows of every changed document now (tests and benchmarks). */
  flush(): void {
    for (const uri of this.dirty.keys()) this.cut(uri);
    this.dirty.clear();
  }

  private cut(uri: string): void {
    const text = this.deps.text(uri);
    if (text === undefined) return;
    this.docs.delete(uri); // re-inserted last: the map's order is recency
    this.docs.set(uri, { uri, path: this.deps.relativePath(uri), windows: cutWindows(text) });
    while (this.docs.size > MAX_DOCS) this.docs.delete(this.docs.keys().next().value!);
    this.deps.settled?.(uri, text);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function cutWindows(text: string): Window[] {
  if (text.length > MAX_DOC_CHARS) return [];
  const lines = text.split('\n');
  const out: Window[] = [];
  for (let start = 0; start < lines.length && out.length < MAX_WINDOWS_PER_DOC; start += WINDOW_STRIDE) {
    const slice = lines.slice(start, start + WINDOW_LINES).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    const body = slice.join('\n');
    if (body.trim() === '') continue;
    out.push({ start, text: body, words: wordsOf(body) });
    if (start + WINDOW_LINES >= lines.length) break;
  }
  return out;
}
