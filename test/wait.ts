// Waiting in tests for an event instead of sleeping a guessed time (a condition polled until it
// holds, under an overall bound that only a stuck test reaches, never a margin on speed), and the
// settings that take the server's own time limits out of the way of tests that are not about them.
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

/**
 * `inline` settings for a server whose completions a test expects: no debounce, and a deadline
 * only a stuck server reaches (the default 2 s is a goal for an idle machine, not for CI's).
 */
export const INLINE_UNHURRIED = { debounceMs: 0, deadlineMs: STUCK_MS };

/**
 * `context.sources` with the largest budget the schema allows: for tests of what context is
 * found. The defaults (3-10 ms) are goals a descheduled process misses on a busy machine.
 */
export const SOURCES_UNHURRIED = Object.fromEntries(['definitions', 'enclosing', 'similar', 'recentEdits'].map((name) => [name, { enabled: true, budgetMs: 1000 }]));
