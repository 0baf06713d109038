// Similar code in other open and recently edited documents: Jaccard similarity of sliding windows.
import { wordsOf, WINDOW_LINES, type DocumentActivity } from '../activity.js';
import type { Candidate, ContextRequest, ContextSource } from '../types.js';

const MIN_JACCARD = 0.15;
const MAX_SNIPPETS = 3;

export class SimilarSource implements ContextSource {
  readonly name = 'similar';

  constructor(private readonly activity: DocumentActivity) {}

  gather(req: ContextRequest, deadline: number): Candidate[] {
    const first = Math.max(0, req.cursorLine - WINDOW_LINES + 1);
    const parts: string[] = [];
    for (let r = first; r <= req.cursorLine; r++) parts.push(req.lineAt(r) ?? '');
    const query = wordsOf(parts.join('\n'));
    if (query.size < 3) return [];
    const best: Candidate[] = [];
    for (const doc of this.activity.windows()) {
      if (doc.uri === req.uri) continue;
      if (performance.now() > deadline) break;
      let top = 0;
      let at = -1;
      doc.windows.forEach((w, i) => {
        let inter = 0;
        for (const t of query) if (w.words.has(t)) inter++;
        const j = inter / (query.size + w.words.size - inter);
        if (j > top) {
          top = j;
          at = i;
        }
      });
      if (at >= 0 && top >= MIN_JACCARD) {
        const w = doc.windows[at]!;
        best.push({ kind: 'similar', path: doc.path, runs: [{ start: w.start, text: w.text }], score: 0.15 + 0.5 * top, why: `similar lines (Jaccard ${top.toFixed(2)})` });
      }
    }
    return best.sort((a, b) => b.score - a.score).slice(0, MAX_SNIPPETS);
  }
}
