// Which backend serves a task: the first of its route that privacy allows. A pure function.
import picomatch from 'picomatch';
import type { Config, TaskClass } from '../config/schema.js';

export interface RouteChoice {
  backend: string | undefined;
  /** Why this backend (or why none), for `prompt --json`, `doctor` and the logs. */
  reason: string;
}

/** Workspace-relative paths whose text the prompt holds. */
export function chooseBackend(config: Config, task: TaskClass, sourcePaths: string[], isHealthy: (name: string) => boolean = () => true): RouteChoice {
  const route = config.routes[task];
  const skipped: string[] = [];
  const isProtected = config.privacy.onPremOnly.length > 0 ? picomatch(config.privacy.onPremOnly, { dot: true }) : undefined;
  const protectedPath = isProtected ? sourcePaths.find((p) => isProtected(p)) : undefined;
  for (const name of route) {
    const b = config.backends[name]!;
    if (b.location === 'cloud' && config.privacy.airGapped) {
      skipped.push(`${name}: cloud, air-gapped`);
      continue;
    }
    if (b.location === 'cloud' && protectedPath !== undefined) {
      skipped.push(`${name}: cloud, prompt holds ${protectedPath} (privacy.onPremOnly)`);
      continue;
    }
    if (!isHealthy(name)) {
      skipped.push(`${name}: unhealthy`);
      continue;
    }
    const pos = route.indexOf(name);
    const why = pos === 0 ? `first backend of routes.${task}` : `fallback ${pos + 1} of routes.${task}`;
    return { backend: name, reason: skipped.length ? `${why} (skipped ${skipped.join('; ')})` : why };
  }
  return { backend: undefined, reason: `no backend of routes.${task} may serve: ${skipped.join('; ')}` };
}
