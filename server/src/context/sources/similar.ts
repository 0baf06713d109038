// Similar code in other open and recently edited documents: Jaccard similarity of sliding windows.
import { wordsOf, WINDOW_LINES, type DocumentActivity } from '../activity.js';
import { wallClock, type Candidate, type ContextRequest, type ContextSource } from '../types.js';

const MIN_JACCARD = 0.15;
const MAX_SNIPPETS = 3;
/** Windows compared between two looks at the clock. */
const CHECK_EVERY = 64;

export class SimilarSource implements ContextSource {
  readonly name = 'similar';

  constructor(private readonly activity: DocumentActivity) {}

  gather(req: ContextRequest, deadline: number, now: () => number = wallClock): Candidate[] {
    const first = Math.max(0, req.cursorLine - WINDOW_LINES + 1);
    const parts: string[] = [];
    for (let r = first; r <= req.cursorLine; r++) parts.push(req.lineAt(r) ?? '');
    const query = wordsOf(parts.join('\n'));
    if (query.size < 3) return [];
    const best: Candidate[] = [];
    let late = false;
    for (const doc of this.activity.windows()) {
      if (doc.uri === req.uri) continue;
      if (late || now() > deadline) break;
      let top = 0;
      let at = -1;
      // A document's best window so far counts when time runs out in the middle of it.
      for (let i = 0; i < doc.windows.length; i++) {
        if (i % CHECK_EVERY === CHECK_EVERY - 1 && now() > deadline) {
          late = true;
          break;
        }
        const w = doc.windows[i]!;
        let inter = 0;
        for (const t of query) if (w.words.has(t)) inter++;
        const j = inter / (query.size + w.words.size - inter);
        if (j > top) {
          top = j;
          at = i;
        }
      }
      if (at >= 0 && top >= MIN_JACCARD) {
        const w = doc.windows[at]!;
        best.push({ kind: 'similar', path: doc.path, runs: [{ start: w.start, text: w.text }], score: 0.15 + 0.5 * top, why: `similar lines (Jaccard ${top.toFixed(2)})` });
      }
    }
    return best.sort((a, b) => b.score - a.score).slice(0, MAX_SNIPPETS);
  }
}
