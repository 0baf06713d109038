// POST /v1/completions: the prompt, as the client wrote it, on the `inline` route (`tandem/auto`) or
// on one pinned backend, through the registry's gated backends (privacy, redaction, audit, budget).
import type { Config } from '../config/schema.js';
import type { BackendRegistry } from '../models/registry.js';
import type { BackendFailure, Outcome, SourceRef } from '../models/types.js';
import { chooseBackend } from '../router/route.js';
import type { Logger } from '../util/logger.js';
import type { CompletionBody } from './validate.js';

export interface CompletionResult {
  text: string;
  finishReason: string | null;
  backend: string;
  model: string;
  location: 'onprem' | 'cloud';
}

export interface CompletionDeps {
  config: () => Config;
  backends: BackendRegistry;
  /**
   * The files whose text a prompt holds (paths written in it, pasted lines of protected files),
   * for the router and the gate; without it a prompt declares none (on-prem rules still apply).
   */
  sourcesOf?: (text: string, signal: AbortSignal) => Promise<SourceRef[]>;
  logger: Logger;
  now?: () => number;
}

/**
 * Runs one completion. `pinned`: the backend `tandem/<name>` names (privacy still applies: a
 * cloud backend the prompt may not reach is refused, never swapped for another). `onText` gets
 * each new piece as it streams; once a piece went out, a failure is not retried elsewhere.
 */
export async function runCompletion(deps: CompletionDeps, body: CompletionBody, pinned: string | undefined, signal: AbortSignal, onText?: (delta: string) => void): Promise<Outcome<CompletionResult>> {
  const config = deps.config();
  const now = deps.now ?? (() => performance.now());
  const sources = deps.sourcesOf ? await deps.sourcesOf(body.prompt, signal) : [];
  if (signal.aborted) return cancelled();
  const paths = sources.map((s) => s.path);
  const routed: Config = pinned ? { ...config, routes: { ...config.routes, inline: [pinned] } } : config;
  // What privacy alone allows: when nothing, the request is refused and nothing is sent.
  const allowed = chooseBackend(routed, 'inline', paths, { paths: deps.backends.paths });
  if (!allowed.backend) return { ok: false, failure: { kind: 'denied', message: `${allowed.reason.replace(/^no backend of routes\.inline may serve/, pinned ? `backend "${pinned}" may not serve this prompt` : 'no backend of routes.inline may serve this prompt')}; nothing was sent` } };
  const health = deps.backends.health;
  const tried = new Set<string>();
  let last: { failure: BackendFailure; backend: string } | undefined;
  let streamed = false;
  for (;;) {
    if (signal.aborted) return cancelled();
    const route = chooseBackend(routed, 'inline', paths, {
      paths: deps.backends.paths,
      isHealthy: (n) => !tried.has(n) && (pinned !== undefined || health.isHealthy(n)),
      budgetExhausted: deps.backends.spend.exhausted(config.budget.dailyUsd),
    });
    const backend = route.backend ? deps.backends.get(route.backend) : undefined;
    if (!backend) {
      if (last) return { ok: false, failure: { ...last.failure, message: `${last.backend}: ${last.failure.message}` } };
      return { ok: false, failure: { kind: 'unreachable', message: route.reason } };
    }
    tried.add(backend.name);
    if (!pinned && !health.available(backend.name)) continue;
    let soFar = '';
    const sent = now();
    const r = await backend.complete(
      {
        prompt: body.prompt,
        sources,
        task: 'serve-completion',
        stop: body.stop,
        maxTokens: body.maxTokens,
        temperature: body.temperature ?? config.inline.temperature,
        ...(onText
          ? {
              enough: (text: string) => {
                if (text.length > soFar.length && text.startsWith(soFar)) {
                  const delta = text.slice(soFar.length);
                  soFar = text;
                  streamed = true;
                  onText(delta);
                }
                return false;
              },
            }
          : {}),
      },
      signal,
    );
    deps.backends.report(backend.name, r.ok ? undefined : r.failure, r.ok ? Math.round(now() - sent) : undefined);
    if (r.ok) {
      // A backend that cuts its own stop strings afterwards: what was not streamed yet goes now.
      if (onText && r.value.text.length > soFar.length && r.value.text.startsWith(soFar)) onText(r.value.text.slice(soFar.length));
      return { ok: true, value: { text: r.value.text, finishReason: r.value.finishReason, backend: backend.name, model: r.value.model, location: backend.location } };
    }
    if (r.failure.kind === 'cancelled' || signal.aborted) return cancelled();
    last = { failure: r.failure, backend: backend.name };
    if (streamed || pinned || r.failure.kind === 'denied') return { ok: false, failure: r.failure };
  }
}

function cancelled(): Outcome<never> {
  return { ok: false, failure: { kind: 'cancelled', message: 'the client went away' } };
}
