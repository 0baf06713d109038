// Which backend serves a task: the first of its route that privacy, health, size and budget allow. A pure function.
import type { Config, TaskClass } from '../config/schema.js';
import { PathPolicy } from '../privacy/paths.js';

export interface RouteChoice {
  backend: string | undefined;
  /** Why this backend (or why none), for `prompt --json`, `doctor` and the logs. */
  reason: string;
  /** The route's other allowed backends, in order: where failover goes next. */
  fallbacks: string[];
}

export interface RouteInputs {
  /** May this backend take a request now (circuit breaker, cooldown)? Default: yes. */
  isHealthy?: (name: string) => boolean;
  /** Estimated prompt tokens; a backend whose context window is smaller is skipped. */
  promptTokens?: number;
  /** Known context window of a backend (configured or discovered). */
  contextWindow?: (name: string) => number | undefined;
  /** True once the daily cloud budget is spent: cloud backends are skipped. */
  budgetExhausted?: boolean;
  /** Where the source files really are (the gates' own policy); without it, paths are matched as written. */
  paths?: PathPolicy;
}

/**
 * `sourcePaths`: workspace-relative paths of every file whose text the prompt holds (absolute
 * for files outside every folder). The same
 * rules are enforced again by the privacy gate before any byte leaves; routing applies them
 * first so that a protected prompt goes straight to an on-prem backend instead of failing.
 */
export function chooseBackend(config: Config, task: TaskClass, sourcePaths: string[], inputs: RouteInputs | ((name: string) => boolean) = {}): RouteChoice {
  const opts: RouteInputs = typeof inputs === 'function' ? { isHealthy: inputs } : inputs;
  const route = config.routes[task];
  const skipped: string[] = [];
  const allowed: string[] = [];
  const hit = (opts.paths ?? new PathPolicy({ roots: () => [] })).cloudRefusal(sourcePaths, config.privacy);
  for (const name of route) {
    const b = config.backends[name]!;
    if (b.location === 'cloud' && config.privacy.airGapped) {
      skipped.push(`${name}: cloud, air-gapped`);
      continue;
    }
    if (b.location === 'cloud' && hit) {
      skipped.push(`${name}: cloud, prompt holds ${hit.path} (${hit.short})`);
      continue;
    }
    if (b.location === 'cloud' && opts.budgetExhausted) {
      skipped.push(`${name}: cloud, daily budget spent (budget.dailyUsd)`);
      continue;
    }
    const window = opts.contextWindow?.(name);
    if (opts.promptTokens !== undefined && window !== undefined && opts.promptTokens > window) {
      skipped.push(`${name}: prompt of ~${opts.promptTokens} tokens exceeds its context window of ${window}`);
      continue;
    }
    if (opts.isHealthy && !opts.isHealthy(name)) {
      skipped.push(`${name}: unhealthy`);
      continue;
    }
    allowed.push(name);
  }
  const chosen = allowed[0];
  if (chosen === undefined) return { backend: undefined, reason: `no backend of routes.${task} may serve: ${skipped.join('; ')}`, fallbacks: [] };
  const pos = route.indexOf(chosen);
  const why = pos === 0 ? `first backend of routes.${task}` : `fallback ${pos + 1} of routes.${task}`;
  return { backend: chosen, reason: skipped.length ? `${why} (skipped ${skipped.join('; ')})` : why, fallbacks: allowed.slice(1) };
}
