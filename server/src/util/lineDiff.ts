// Line diffs for people to read (tandem.compare's proposals): Myers' algorithm with a bound on its work.

/** One line of a diff: kept (' '), only in the old text ('-'), only in the new one ('+'). */
export interface DiffLine {
  kind: ' ' | '-' | '+';
  text: string;
}

export interface LineDiff {
  lines: DiffLine[];
  /**
   * Steps the search took: diagonals visited plus lines matched along them. It stops once this
   * passes `maxWork`, so it is at most `maxWork` plus one diagonal's run of equal lines.
   */
  work: number;
  /** False when the search gave up at `maxWork`: the differing middle is shown as one block replaced. */
  exact: boolean;
}

/**
 * The search's work bound. A whole-file edit region can be a 2 MB document of 50,000 lines, and
 * a table of common subsequences over two of those is 2.5 billion cells; Myers' search costs
 * (N + M) * D for D differing lines, so its cost is small whenever the edit is (the usual case: a
 * few lines changed). This bound is a few milliseconds, and its trace of the search (one entry
 * per diagonal visited, kept to walk back) a few MB at most.
 */
export const MAX_DIFF_WORK = 1_000_000;

const KEEP = 0;
const DELETE = 1;
const INSERT = 2;

/**
 * The lines of `a` and `b` as kept, deleted and inserted: a shortest edit script when the search
 * finds one within `maxWork` steps, else the common first and last lines kept and everything
 * between them replaced as one block (still a correct diff, only not a minimal one).
 */
export function diffLines(a: readonly string[], b: readonly string[], maxWork = MAX_DIFF_WORK): LineDiff {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const lines: DiffLine[] = a.slice(0, head).map((text) => ({ kind: ' ', text }));
  const found = shortestScript(midA, midB, maxWork);
  if (found.script) {
    let i = 0;
    let j = 0;
    for (const op of found.script) {
      if (op === KEEP) {
        lines.push({ kind: ' ', text: midA[i++]! });
        j++;
      } else if (op === DELETE) lines.push({ kind: '-', text: midA[i++]! });
      else lines.push({ kind: '+', text: midB[j++]! });
    }
  } else {
    for (const text of midA) lines.push({ kind: '-', text });
    for (const text of midB) lines.push({ kind: '+', text });
  }
  for (const text of a.slice(a.length - tail)) lines.push({ kind: ' ', text });
  return { lines, work: found.work, exact: found.script !== undefined };
}

/**
 * Myers' O((N + M) D) search ("An O(ND) Difference Algorithm and Its Variations", 1986), forward,
 * keeping for each D the furthest point reached on each diagonal so that the path can be walked
 * back. Gives up (no script) once the work passes `maxWork`. Lines are compared as strings, not
 * interned first: interning costs a hash-map entry per line of both texts, more than the search
 * itself costs within its bound.
 */
function shortestScript(a: readonly string[], b: readonly string[], maxWork: number): { script?: Uint8Array; work: number } {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  /** trace[d][k + d]: how far diagonal k (x - y) reached with d differences. */
  const trace: Int32Array[] = [];
  let work = 0;
  for (let d = 0; d <= max; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      work++;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
        work++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        trace.push(v.slice(off - d, off + d + 1));
        return { script: walkBack(trace, n, m), work };
      }
      if (work > maxWork) return { work };
    }
    trace.push(v.slice(off - d, off + d + 1));
  }
  return { work }; // not reached: d = n + m always ends the search
}

/** The edit script of the path the search found, from its end back to (0, 0). */
function walkBack(trace: Int32Array[], n: number, m: number): Uint8Array {
  const out: number[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const prev = trace[d - 1]!;
    const at = (k: number) => prev[k + d - 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    // The snake after the step, then the step itself (an insertion down, a deletion right).
    while (x > (down ? prevX : prevX + 1) && y > (down ? prevY + 1 : prevY)) {
      out.push(KEEP);
      x--;
      y--;
    }
    out.push(down ? INSERT : DELETE);
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    out.push(KEEP);
    x--;
    y--;
  }
  return Uint8Array.from(out.reverse());
}

/** Lines of context around each change in a hunk, as `diff -u` shows. */
const CONTEXT = 3;

/**
 * Hunk lines shown at most: the diff is for a person comparing two proposals, and a whole 2 MB
 * file replaced is 100,000 lines nobody reads (and a few MB of Markdown to send).
 */
export const MAX_DIFF_LINES = 2000;

/**
 * A unified diff of two versions of a region whose first line is `firstLine` (0-based) in the
 * file: hunks of changed lines with three lines of context, `@@` line numbers in the file's; cut
 * short (said in a `\` line, as diff notes things) before it passes MAX_DIFF_LINES.
 */
export function unifiedDiff(path: string, before: string, after: string, firstLine: number): string {
  const { lines } = diffLines(before.replace(/\n$/, '').split('\n'), after.replace(/\n$/, '').split('\n'));
  const out = [`--- a/${path}`, `+++ b/${path}`];
  const changed = lines.flatMap((l, i) => (l.kind === ' ' ? [] : [i]));
  // Line numbers (0-based, in the region) of each diff line's old and new side.
  const oldAt: number[] = [];
  const newAt: number[] = [];
  for (let i = 0, o = 0, w = 0; i < lines.length; i++) {
    oldAt.push(o);
    newAt.push(w);
    if (lines[i]!.kind !== '+') o++;
    if (lines[i]!.kind !== '-') w++;
  }
  let shown = 0;
  for (let c = 0; c < changed.length; ) {
    const from = Math.max(0, changed[c]! - CONTEXT);
    let last = changed[c]!;
    // Changes closer than twice the context share one hunk.
    while (c + 1 < changed.length && changed[c + 1]! - last <= 2 * CONTEXT) last = changed[++c]!;
    c++;
    const to = Math.min(lines.length, last + CONTEXT + 1, from + MAX_DIFF_LINES - shown);
    const hunk = lines.slice(from, to);
    const oldCount = hunk.filter((l) => l.kind !== '+').length;
    const newCount = hunk.filter((l) => l.kind !== '-').length;
    // An empty side names the line before it, as diff -u does.
    const start = (at: number, count: number) => firstLine + at + (count === 0 ? 0 : 1);
    out.push(`@@ -${start(oldAt[from]!, oldCount)},${oldCount} +${start(newAt[from]!, newCount)},${newCount} @@`);
    for (const l of hunk) out.push(`${l.kind}${l.text}`);
    shown += hunk.length;
    if (shown >= MAX_DIFF_LINES && (to < lines.length || c < changed.length)) {
      out.push(`\\ cut short after ${MAX_DIFF_LINES} lines: the diff's last ${lines.length - to} lines (the region's from its line ${oldAt[to]! + 1}) are not shown`);
      break;
    }
  }
  return out.join('\n');
}
