// The regions the user edited most recently, in any open document, a few lines around each.
import type { DocumentActivity } from '../activity.js';
import { wallClock, type Candidate, type ContextRequest, type ContextSource, type Run } from '../types.js';

const MAX_REGIONS = 6;
const CONTEXT_LINES = 2;
const MAX_LINES = 14;

export interface OpenText {
  lineAt(row: number): string | undefined;
  lineCount: number;
  path: string;
}

export class RecentEditsSource implements ContextSource {
  readonly name = 'recentEdits';

  constructor(
    private readonly activity: DocumentActivity,
    private readonly open: (uri: string) => OpenText | undefined,
  ) {}

  gather(req: ContextRequest, deadline: number, now: () => number = wallClock): Candidate[] {
    const out: Candidate[] = [];
    let i = 0;
    for (const e of this.activity.recentEdits()) {
      if (out.length >= MAX_REGIONS || now() > deadline) break;
      // The edit under the cursor is the prefix and suffix already.
      if (e.uri === req.uri && req.cursorLine >= e.line - CONTEXT_LINES && req.cursorLine <= e.endLine + CONTEXT_LINES) continue;
      const doc = e.uri === req.uri ? { lineAt: req.lineAt, lineCount: req.lineCount, path: req.relPath } : this.open(e.uri);
      if (!doc) continue;
      const from = Math.max(0, e.line - CONTEXT_LINES);
      const to = Math.min(doc.lineCount - 1, e.endLine + CONTEXT_LINES, from + MAX_LINES - 1);
      const lines: string[] = [];
      for (let r = from; r <= to; r++) lines.push(doc.lineAt(r) ?? '');
      if (lines.join('').trim() === '') continue;
      const run: Run = { start: from, text: lines.join('\n') };
      out.push({ kind: 'recentEdit', path: doc.path, runs: [run], score: 0.42 - 0.04 * i++, why: 'edited recently' });
    }
    return out;
  }
}
