// Which workspace files a chat message holds text from when it does not say so: files it names by
// path, and protected (onPremOnly) files whose lines it holds (pasted code, as Continue and Aider
// paste it). Both only add sources for the privacy gate; nothing here decides where a request goes.
import { statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import type { DocView } from '../documents.js';

/** A line counts for the fingerprint from this many non-space characters: shorter ones (`}`, `return x;`) are everywhere. */
export const MIN_FINGERPRINT_CHARS = 24;
/** Bounds of the walk that builds the fingerprint. */
const MAX_WALK_ENTRIES = 200_000;
const MAX_PROTECTED_FILES = 20_000;
const MAX_FILE_BYTES = 4_000_000;
/** Distinct path-like tokens checked on disk per request (a stat each); past them a named path without its text is not seen (its pasted lines still are, by the fingerprint). */
const MAX_PATH_CANDIDATES = 5_000;

/**
 * A line's key: a 53-bit hash (two FNV-1a lanes) of its characters other than white space, or
 * undefined when it has fewer than MIN_FINGERPRINT_CHARS of them. One pass, no copy: a 10 MB paste
 * is keyed in tens of milliseconds. A collision could only keep a request on-prem.
 */
function lineKey(text: string, start: number, end: number): number | undefined {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    // Space, tab, CR, vertical tab, form feed, NBSP: indentation and line ends do not count.
    if (c === 32 || c === 9 || c === 13 || c === 11 || c === 12 || c === 160) continue;
    n++;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  if (n < MIN_FINGERPRINT_CHARS) return undefined;
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/** Calls `fn` with the key of every long-enough line of `text`. */
function eachLineKey(text: string, fn: (key: number) => void): void {
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end - start >= MIN_FINGERPRINT_CHARS) {
      const k = lineKey(text, start, end);
      if (k !== undefined) fn(k);
    }
    start = end + 1;
  }
}

/**
 * Workspace files the text names by path: `src/keys.ts`, `./src/keys.ts`, an absolute path, a
 * `file://` URI; relative ones are tried against every workspace folder. Only existing files inside
 * a folder count; the paths come back workspace-relative (`relativePath`).
 */
export function namedPaths(text: string, roots: readonly string[], relativePath: (abs: string) => string): string[] {
  if (roots.length === 0) return [];
  const out = new Set<string>();
  const seen = new Set<string>();
  // Runs of path characters that hold a separator or a dot and a letter or digit (a path or a
  // file name), found in one pass over the text.
  for (const [at, raw] of pathRuns(text)) {
    let token = raw.replace(/[.\\]+$/, '');
    if (token.length < 3 || token.length > 1024) continue;
    if (token.startsWith('//') && text.slice(Math.max(0, at - 5), at) === 'file:') {
      try {
        token = decodeURIComponent(token.slice(2));
      } catch {
        continue;
      }
    }
    if (seen.has(token)) continue;
    seen.add(token);
    if (seen.size > MAX_PATH_CANDIDATES) break;
    const candidates = isAbsolute(token) ? [token] : roots.map((r) => join(r, token));
    for (const abs of candidates) {
      if (!roots.some((r) => {
        const rel = relative(r, abs);
        return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
      })) continue;
      try {
        if (!statSync(abs).isFile()) continue;
      } catch {
        continue;
      }
      out.add(relativePath(abs));
    }
  }
  return [...out];
}

/** Letters, digits and `_ . @ ~ + - / \\ %`: what a path written in prose is made of. */
function pathChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 64 || c === 126 || c === 43 || c === 45 || c === 47 || c === 92 || c === 37;
}

/** [offset, text] of every run of path characters holding `/`, `\\` or `.` and a letter or digit. */
function* pathRuns(text: string): Generator<[number, string]> {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!pathChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    let sep = false;
    let word = false;
    for (; j < n; j++) {
      const c = text.charCodeAt(j);
      if (!pathChar(c)) break;
      if (c === 47 || c === 46 || c === 92) sep = true;
      else if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) word = true;
    }
    if (sep && word) yield [i, text.slice(i, j)];
    i = j;
  }
}

export interface ProtectedLinesDeps {
  roots: () => readonly string[];
  relativePath: (abs: string) => string;
  /** Whether a workspace-relative path is protected by privacy.onPremOnly. */
  isProtected: (rel: string) => boolean;
  /** Changes when the rules change (the fingerprint is then built again). */
  rulesKey: () => string;
  warn?: (message: string) => void;
}

/**
 * The lines of every protected file in the workspace folders, hashed (`line hash -> path`). Built
 * when a request first needs it (a chat that could go to a cloud backend), off the request's path
 * for every later one: the walk reads asynchronously and is kept until `invalidate()` (a file event,
 * new folders) or the rules change. A request that arrives while it is built waits for it: sending
 * before it is known would fail open.
 */
export class ProtectedLines {
  private built: Promise<Map<number, string>> | undefined;
  private key = '';

  constructor(private readonly deps: ProtectedLinesDeps) {}

  invalidate(): void {
    this.built = undefined;
  }

  /** The table, built or building. */
  table(): Promise<Map<number, string>> {
    const key = `${this.deps.rulesKey()}\0${this.deps.roots().join('\0')}`;
    if (!this.built || key !== this.key) {
      this.key = key;
      this.built = this.build();
    }
    return this.built;
  }

  /** Workspace-relative paths of the protected files (on disk, or open with unsaved text) whose lines `texts` hold. */
  async find(texts: readonly string[], open: Iterable<DocView>, signal: AbortSignal): Promise<Set<string>> {
    const hits = new Set<string>();
    const wanted = new Set<number>();
    for (const t of texts) eachLineKey(t, (k) => wanted.add(k));
    if (wanted.size === 0) return hits;
    // Open protected documents: their text now, unsaved edits included.
    for (const doc of open) {
      if (!doc.uri.startsWith('file:')) continue;
      const rel = this.deps.relativePath(doc.uri);
      if (!this.deps.isProtected(rel)) continue;
      let held = false;
      eachLineKey(doc.text.getText(), (k) => {
        held ||= wanted.has(k);
      });
      if (held) hits.add(rel);
    }
    const table = await abortable(this.table(), signal);
    for (const h of wanted) {
      const path = table.get(h);
      if (path !== undefined) hits.add(path);
    }
    return hits;
  }

  private async build(): Promise<Map<number, string>> {
    const table = new Map<number, string>();
    let entries = 0;
    let files = 0;
    const stack = [...this.deps.roots()];
    const seenDirs = new Set<string>();
    while (stack.length > 0) {
      const dir = stack.pop()!;
      if (seenDirs.has(dir)) continue;
      seenDirs.add(dir);
      let list;
      try {
        list = await readdir(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of list) {
        if (++entries > MAX_WALK_ENTRIES) {
          this.deps.warn?.(`the fingerprint of protected files stopped after ${MAX_WALK_ENTRIES} entries of the workspace folders; pasted text of files past them is not recognized`);
          return table;
        }
        const abs = join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name !== '.git') stack.push(abs);
          continue;
        }
        if (!e.isFile()) continue; // links: their target is walked where it lies in the folders
        const rel = this.deps.relativePath(abs);
        if (!this.deps.isProtected(rel)) continue;
        if (++files > MAX_PROTECTED_FILES) {
          this.deps.warn?.(`more than ${MAX_PROTECTED_FILES} protected files: pasted text of the others is not recognized`);
          return table;
        }
        try {
          if ((await stat(abs)).size > MAX_FILE_BYTES) continue;
          const text = await readFile(abs, 'utf8');
          eachLineKey(text, (k) => {
            if (!table.has(k)) table.set(k, rel);
          });
        } catch {
          // Gone or unreadable: nothing to recognize.
        }
      }
    }
    return table;
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
