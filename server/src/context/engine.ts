// Runs the context sources for a request, each within its own time budget; a late source is dropped.
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
  /** Past its budget: its candidates were dropped for this request. */
  late: boolean;
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
   * Sources run one after the other (they are synchronous CPU work on a tree and maps, no I/O);
   * each stops its loops at its deadline, and one that still overran is dropped whole, so a slow
   * source never delays a completion by more than its budget.
   */
  gather(req: ContextRequest, budgets: (name: string) => SourceBudget | undefined): Gathered {
    const began = this.now();
    const candidates: Candidate[] = [];
    const sources: SourceReport[] = [];
    for (const s of this.sources) {
      const b = budgets(s.name);
      if (!b || !b.enabled) continue;
      const start = this.now();
      let got: Candidate[] = [];
      try {
        got = s.gather(req, start + b.budgetMs);
      } catch (err) {
        // A bug in a source (odd input, a broken tree) costs its candidates, not the completion.
        this.logger?.error(`context source ${s.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        got = [];
      }
      const ms = this.now() - start;
      const late = ms > b.budgetMs;
      sources.push({ name: s.name, ms: Math.round(ms * 100) / 100, candidates: got.length, late });
      if (!late) candidates.push(...got);
    }
    return { candidates, sources, ms: Math.round((this.now() - began) * 100) / 100 };
  }
}
