// The context window of a backend that the config does not give, learnt from its discovery before a
// big prompt is sent: one helper for the pipelines that route by it (actions, chat).
import type { BackendFailure, CompletionBackend } from '../models/types.js';

export type WindowCheck =
  | { kind: 'fits' }
  /** The prompt and its answer exceed the window; the route, which reads `windows`, passes over it now. */
  | { kind: 'too_small' }
  | { kind: 'aborted' }
  | { kind: 'failed'; failure: BackendFailure };

/**
 * Asks `backend` for its window (the backend caches its discovery after once) and records it in
 * `windows`, the map the router's `contextWindow` reads.
 */
export async function learnWindow(backend: CompletionBackend, windows: Map<string, number>, needed: number, signal: AbortSignal): Promise<WindowCheck> {
  const info = await backend.info(signal);
  if (info.ok) {
    windows.set(backend.name, info.value.contextWindow);
    return needed > info.value.contextWindow ? { kind: 'too_small' } : { kind: 'fits' };
  }
  return info.failure.kind === 'cancelled' || signal.aborted ? { kind: 'aborted' } : { kind: 'failed', failure: info.failure };
}
