// Similar code in other open and recently edited documents: Jaccard similarity of sliding windows.
import { wordsOf, WINDOW_LINES, type DocumentActivity } from '../activity.js';
import { wallClock, type Candidate, type ContextRequest, type ContextSource } from '../types.js';

const MIN_JACCARD = 0.15;
const MAX_SNIPPETS = 3;
/** Windows compared between two looks at the clock. */
const CHECK_EVERY = 64;
/**
 * The query's characters at most, before and after the cursor: on a minified file the cursor's
 * line is megabytes long, and scanning it all for words took 15 ms of every request.
 */
const QUERY_BEFORE = 2400;
const QUERY_AFTER = 400;

/** The last WINDOW_LINES lines up to the cursor's line end, clipped to the characters near the cursor. */
export function queryText(text: string, offset: number): string {
  const lo = Math.max(0, offset - QUERY_BEFORE);
  let start = lo;
  let lines = 0;
  for (let i = offset - 1; i >= lo; i--) {
    if (text.charCodeAt(i) === 10 && ++lines === WINDOW_LINES) {
      start = i + 1;
      break;
    }
  }
  const hi = Math.min(text.length, offset + QUERY_AFTER);
  const nl = text.indexOf('\n', offset);
  const end = nl < 0 || nl > hi ? hi : nl;
  return text.slice(start, end);
}

export class SimilarSource implements ContextSource {
  readonly name = 'similar';

  constructor(private readonly activity: DocumentActivity) {}

  gather(req: ContextRequest, deadline: number, now: () => number = wallClock): Candidate[] {
    const query = wordsOf(queryText(req.text, req.offset));
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
