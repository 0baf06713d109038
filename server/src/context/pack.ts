// Ranking and packing: the best candidates that fit the context budget, whole, de-duplicated, in a stable order.
import { languageOf } from '../syntax/languages.js';
import type { Candidate, SnippetKind } from './types.js';

export interface PackedFile {
  path: string;
  /** The file's chosen lines in order, gaps marked by an elision comment line. */
  text: string;
}

export interface PackedSegment {
  kind: SnippetKind;
  path: string;
  /** Characters this candidate added (its new lines, a file header, elision lines). */
  chars: number;
  why: string;
}

export interface Packed {
  /** Sorted by path: the same snippets give the same bytes, so vLLM's prefix cache hits. */
  files: PackedFile[];
  segments: PackedSegment[];
  /** Characters of the rendered files, headers and line prefixes included. */
  chars: number;
  /**
   * Characters the packing counted against the budget: `chars` plus room it reserved that the
   * rendering did not need (an elision line per run, a line break after the last line). A second
   * pass over `chosen` with this budget fits all of them again.
   */
  cost: number;
  /** The candidates that went in, in the order they were taken. */
  chosen: Candidate[];
}

export interface PackOptions {
  /** The room, in characters (the prompt stage converts its token budget). */
  budgetChars: number;
  /** Lines already in the prompt (the current file's prefix and suffix windows): never repeated. */
  excluded?: (path: string, line: number) => boolean;
  /** Characters each file costs besides its lines (path header, separators). */
  fileOverheadChars: (path: string) => number;
  /** Characters added to every line (a comment marker in the comment layout). */
  linePrefixChars: number;
}

/** The elision line between two runs of one file, in that file's comment syntax. */
export function gapLine(path: string): string {
  return `${languageOf('', path)?.lineComment ?? commentFor(path)} ...`;
}

function commentFor(path: string): string {
  return /\.(py|rb|sh|ya?ml|toml|r|pl)$/i.test(path) ? '#' : '//';
}

/**
 * Greedy by score: a candidate goes in whole if its new lines fit what is left, else it is
 * skipped and smaller ones are tried. Lines already chosen or already in the prompt cost nothing
 * and are not repeated, so overlapping candidates (a method and its class) share their lines.
 */
export function pack(candidates: readonly Candidate[], opts: PackOptions): Packed {
  const order = [...candidates].sort((a, b) => b.score - a.score || cmp(a.path, b.path) || (a.runs[0]?.start ?? 0) - (b.runs[0]?.start ?? 0));
  const chosen = new Map<string, Map<number, string>>();
  const segments: (PackedSegment & { line: number })[] = [];
  const taken: Candidate[] = [];
  const budgetChars = opts.budgetChars;
  let usedChars = 0;
  for (const c of order) {
    const lines = chosen.get(c.path);
    const fresh: [number, string][] = [];
    for (const run of c.runs) {
      const texts = run.text.split('\n');
      texts.forEach((t, i) => {
        const row = run.start + i;
        if (lines?.has(row) || opts.excluded?.(c.path, row)) return;
        fresh.push([row, t]);
      });
    }
    if (fresh.length === 0 || fresh.every(([, t]) => t.trim() === '')) continue;
    let cost = lines ? 0 : opts.fileOverheadChars(c.path);
    for (const [, t] of fresh) cost += t.length + 1 + opts.linePrefixChars;
    cost += c.runs.length * (gapLine(c.path).length + 1); // elision lines, at most one per run
    if (usedChars + cost > budgetChars) continue;
    usedChars += cost;
    const target = lines ?? new Map<number, string>();
    if (!lines) chosen.set(c.path, target);
    for (const [row, t] of fresh) target.set(row, t);
    segments.push({ kind: c.kind, path: c.path, chars: cost, why: c.why, line: fresh[0]![0] });
    taken.push(c);
  }
  const files: PackedFile[] = [];
  let chars = 0;
  for (const path of [...chosen.keys()].sort(cmp)) {
    const rows = [...chosen.get(path)!].sort((a, b) => a[0] - b[0]);
    const out: string[] = [];
    let prev = -2;
    for (const [row, t] of rows) {
      if (prev >= 0 && row !== prev + 1) out.push(gapLine(path));
      out.push(t);
      prev = row;
    }
    const text = out.join('\n');
    files.push({ path, text });
    chars += text.length + opts.fileOverheadChars(path) + out.length * opts.linePrefixChars;
  }
  // Listed in the order the prompt shows them: by path, then by line.
  segments.sort((x, y) => cmp(x.path, y.path) || x.line - y.line);
  return { files, segments: segments.map(({ line: _line, ...sg }) => sg), chars, cost: usedChars, chosen: taken };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
