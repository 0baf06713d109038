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
  /**
   * The process's CPU time meanwhile (user and system, every thread): on a busy machine `ms` also
   * counts the time the process waited for a core, which no budget check can take back. Only when
   * asked for (`gather`'s `cpu`): reading it is two system calls on the keystroke's path.
   */
  cpuMs?: number;
}

export class ContextEngine {
  private readonly now: () => number;

  private readonly cpu: () => number;

  constructor(
    private readonly sources: readonly ContextSource[],
    now?: () => number,
    private readonly logger?: Logger,
    cpu?: () => number,
  ) {
    this.now = now ?? (() => performance.now());
    this.cpu = cpu ?? processCpuMs;
  }

  /**
   * Sources run one after the other (they are synchronous CPU work on a tree and maps, no I/O),
   * the most useful first. Each gets its own budget, cut short where the sources before it
   * overran so that the request never spends more than the sum of the budgets; a source checks its
   * deadline inside its loops and returns what it found by then, best first. That is kept: the
   * work is done, and dropping it would save no time. A source whose turn comes with no time left
   * is skipped, except the first: a pause of the process before it (a collection, a busy machine)
   * must not cost the request all its context, and past its deadline a source does only its one
   * likeliest step (the callee being written), a few lookups.
   */
  gather(req: ContextRequest, budgets: (name: string) => SourceBudget | undefined, opts: { cpu?: boolean } = {}): Gathered {
    const began = this.now();
    const cpu = opts.cpu ?? true;
    const cpuBegan = cpu ? this.cpu() : 0;
    let allowed = began;
    const candidates: Candidate[] = [];
    const sources: SourceReport[] = [];
    for (const s of this.sources) {
      const b = budgets(s.name);
      if (!b || !b.enabled) continue;
      allowed += b.budgetMs;
      const start = this.now();
      const deadline = Math.min(start + b.budgetMs, allowed);
      if (deadline <= start && sources.length > 0) {
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
    const ms = Math.round((this.now() - began) * 100) / 100;
    return cpu ? { candidates, sources, ms, cpuMs: Math.round((this.cpu() - cpuBegan) * 100) / 100 } : { candidates, sources, ms };
  }
}

/** User and system CPU time of the process so far, in milliseconds. */
function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
