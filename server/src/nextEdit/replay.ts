// Edit steps from a diff: the hunks of a `git diff -U0` replayed one by one into an EditHistory, as
// if the user had made them in file order. For `tandem-lsp prompt --task nextEdit` (the working
// tree's uncommitted changes as the edits a one-shot command has no editor to record) and for the
// replay benchmark (bench/nextEdit.js: a commit's hunks).
import { STEP_PAUSE_MS, type EditHistory } from './history.js';

/** One hunk of a zero-context unified diff: old lines `oldStart..oldStart+removed.length` (0-based) became `added`. */
export interface DiffHunk {
  /** 0-based line of the old text where the removed lines start (where the lines go, when none are removed). */
  oldStart: number;
  removed: string[];
  added: string[];
}

/**
 * The hunks of each file of a `git diff --unified=0` (or `git show`) output, keyed by the new
 * side's path (`+++ b/PATH`); files deleted (`+++ /dev/null`) are left out. A diff with context
 * lines is read all the same, its context lines skipped (they are in neither list).
 */
export function parseUnifiedDiff(diff: string): Map<string, DiffHunk[]> {
  const out = new Map<string, DiffHunk[]>();
  let hunks: DiffHunk[] | undefined;
  let cur: DiffHunk | undefined;
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++ ')) {
      const path = line.startsWith('+++ b/') ? line.slice(6) : undefined;
      hunks = path === undefined ? undefined : [];
      if (path !== undefined) out.set(path, hunks!);
      cur = undefined;
      continue;
    }
    if (!hunks) continue;
    const m = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@/.exec(line);
    if (m) {
      const oldCount = m[2] === undefined ? 1 : Number(m[2]);
      // An empty old side names the line after which the new lines go.
      cur = { oldStart: oldCount === 0 ? Number(m[1]) : Number(m[1]) - 1, removed: [], added: [] };
      hunks.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith('-') && !line.startsWith('--- ')) cur.removed.push(line.slice(1));
    else if (line.startsWith('+')) cur.added.push(line.slice(1));
  }
  return out;
}

/** The text before the hunks: `now` (the new side) with each hunk's added lines put back to its removed ones. */
export function textBefore(now: string, hunks: readonly DiffHunk[]): string {
  let lines = now.split('\n');
  // The new side's line of each hunk: its old line moved by what the hunks above added or removed.
  let shift = 0;
  const at = hunks.map((h) => {
    const start = h.oldStart + shift;
    shift += h.added.length - h.removed.length;
    return start;
  });
  for (let i = hunks.length - 1; i >= 0; i--) {
    const h = hunks[i]!;
    lines = [...lines.slice(0, at[i]), ...h.removed, ...lines.slice(at[i]! + h.added.length)];
  }
  return lines.join('\n');
}

/** One replayed hunk: the text before and after it, and the lines it covers in the text after (0-based, inclusive). */
export interface ReplayedStep {
  before: string;
  after: string;
  line: number;
  endLine: number;
  lineDelta: number;
}

/**
 * Applies the hunks to `old` in file order, each one a step of its own in `history` (the clock is
 * moved past the step pause before each, through `advance`); yields each step as it is applied.
 */
export function* replayHunks(history: EditHistory, uri: string, old: string, hunks: readonly DiffHunk[], advance: (ms: number) => void): Generator<ReplayedStep> {
  let lines = old.split('\n');
  let shift = 0;
  for (const h of hunks) {
    const start = h.oldStart + shift;
    const before = lines.join('\n');
    lines = [...lines.slice(0, start), ...h.added, ...lines.slice(start + h.removed.length)];
    shift += h.added.length - h.removed.length;
    const after = lines.join('\n');
    advance(STEP_PAUSE_MS + 1);
    const step = { before, after, line: start, endLine: start + Math.max(0, h.added.length - 1), lineDelta: h.added.length - h.removed.length };
    history.changed(uri, before, step.line, step.endLine, step.lineDelta, () => after);
    yield step;
  }
}
