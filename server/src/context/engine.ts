// Runs the context sources for a request, each within its own time budget and all within their sum; what a late source found is kept.
import type { Logger } from '../util/logger.js';
import type { Candidate, ContextRequest, ContextSource } from './types.js';

export interface SourceBudget {
  enabled: boolean;
  budgetMs: number;
}

export interface SourceReport {
  name: string;
  ms: number;
  candidates: number;
  /** Past its budget: it stopped at its deadline, and what it had found by then is kept. */
  late: boolean;
  /** Not run: the sources before it had used up the sum of the budgets so far. */
  skipped?: boolean;
}

export interface Gathered {
  candidates: Candidate[];
  sources: SourceReport[];
  /** Time the whole gather took, sources and the engine's own work together. */
  ms: number;
}

export class ContextEngine {
  private readonly now: () => number;

  constructor(
    private readonly sources: readonly ContextSource[],
    now?: () => number,
    private readonly logger?: Logger,
  ) {
    this.now = now ?? (() => performance.now());
  }

  /**
   * Sources run one after the other (they are synchronous CPU work on a tree and maps, no I/O),
   * the most useful first. Each gets its own budget, cut short where the sources before it
   * overran so that the request never spends more than the sum of the budgets; a source checks its
   * deadline inside its loops and returns what it found by then, best first. That is kept: the
   * work is done, and dropping it would save no time. A source whose turn comes with no time left
   * is skipped.
   */
  gather(req: ContextRequest, budgets: (name: string) => SourceBudget | undefined): Gathered {
    const began = this.now();
    let allowed = began;
    const candidates: Candidate[] = [];
    const sources: SourceReport[] = [];
    for (const s of this.sources) {
      const b = budgets(s.name);
      if (!b || !b.enabled) continue;
      allowed += b.budgetMs;
      const start = this.now();
      const deadline = Math.min(start + b.budgetMs, allowed);
      if (deadline <= start) {
        sources.push({ name: s.name, ms: 0, candidates: 0, late: true, skipped: true });
        continue;
      }
      let got: Candidate[] = [];
      try {
        got = s.gather(req, deadline, this.now);
      } catch (err) {
        // A bug in a source (odd input, a broken tree) costs its candidates, not the completion.
        this.logger?.error(`context source ${s.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        got = [];
      }
      const ms = this.now() - start;
      sources.push({ name: s.name, ms: Math.round(ms * 100) / 100, candidates: got.length, late: ms > b.budgetMs });
      candidates.push(...got);
    }
    return { candidates, sources, ms: Math.round((this.now() - began) * 100) / 100 };
  }
}
