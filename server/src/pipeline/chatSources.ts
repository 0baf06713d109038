// Which workspace files a chat message holds text from when it does not say so: files it names by
// path, and protected (onPremOnly) files whose lines it holds (pasted code, as Continue and Aider
// paste it). Both only add sources for the privacy gate; nothing here decides where a request goes.
import { createHash } from 'node:crypto';
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
/** Tokens of a message checked as paths, per request. */
const MAX_PATH_CANDIDATES = 2_000;

/** A line without its white space, when it is long enough to tell a file by. */
function normalized(line: string): string | undefined {
  const s = line.replace(/\s+/g, '');
  return s.length >= MIN_FINGERPRINT_CHARS ? s : undefined;
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('base64').slice(0, 22);
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
  for (const m of text.matchAll(/[\w.@~+\-/\\%]+/g)) {
    let token = m[0].replace(/[.\\]+$/, '');
    if (token.length < 3 || token.length > 1024 || !/[/\\.]/.test(token)) continue;
    if (token.startsWith('//') && m.index !== undefined && text.slice(Math.max(0, m.index - 5), m.index) === 'file:') {
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
  private built: Promise<Map<string, string>> | undefined;
  private key = '';

  constructor(private readonly deps: ProtectedLinesDeps) {}

  invalidate(): void {
    this.built = undefined;
  }

  /** The table, built or building. */
  table(): Promise<Map<string, string>> {
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
    const wanted = new Map<string, true>();
    for (const t of texts) for (const line of t.split('\n')) {
      const n = normalized(line);
      if (n !== undefined) wanted.set(hash(n), true);
    }
    if (wanted.size === 0) return hits;
    // Open protected documents: their text now, unsaved edits included.
    for (const doc of open) {
      if (!doc.uri.startsWith('file:')) continue;
      const rel = this.deps.relativePath(doc.uri);
      if (!this.deps.isProtected(rel)) continue;
      for (const line of doc.text.getText().split('\n')) {
        const n = normalized(line);
        if (n !== undefined && wanted.has(hash(n))) {
          hits.add(rel);
          break;
        }
      }
    }
    const table = await abortable(this.table(), signal);
    for (const h of wanted.keys()) {
      const path = table.get(h);
      if (path !== undefined) hits.add(path);
    }
    return hits;
  }

  private async build(): Promise<Map<string, string>> {
    const table = new Map<string, string>();
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
          for (const line of text.split('\n')) {
            const n = normalized(line);
            if (n !== undefined) {
              const h = hash(n);
              if (!table.has(h)) table.set(h, rel);
            }
          }
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
