// Waiting in tests for an event instead of sleeping a guessed time: a condition polled until it
// holds, under an overall bound that only a stuck test reaches (never a margin on speed).
import { STUCK_MS } from './lsp-client.js';

export { STUCK_MS };

/**
 * Resolves with the first truthy value `probe` returns, polling every `everyMs`; rejects naming
 * `what` after `timeoutMs`.
 */
export async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = STUCK_MS, everyMs = 10): Promise<NonNullable<T>> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (performance.now() > end) throw new Error(`still waiting after ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
