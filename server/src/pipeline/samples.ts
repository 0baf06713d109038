// Several candidates for one prompt from one backend: one request with `n` where it takes it, else parallel samples.
import type { CompletionBackend, FimChoice, FimRequest, FimResult, Outcome } from '../models/types.js';
import { CancelledError } from '../util/abort.js';

/**
 * Alternatives are sampled at least this warm: at an inline request's usual 0.1 a code model gives
 * the same text several times over, and deduplication would leave one.
 */
export const ALTERNATIVES_TEMPERATURE = 0.4;

/**
 * Parallel samples still running when the first (the request's own answer) is done get as long
 * again as it took, at least this much: an extra sample that stalls must not hold the answer until
 * the deadline, and one a little slower than the first is still worth waiting for.
 */
export const SAMPLE_GRACE_MIN_MS = 150;

/**
 * `n` candidates for `req`'s prompt, as one result whose `choices` hold those that came (fewer
 * when the server gave fewer, or samples failed or were cut). A backend that takes `n` gets one
 * request at the alternatives' temperature; any other gets `n` requests at once: the first at the
 * request's own temperature (the model's likeliest answer, first among equals), the others warmer,
 * cut should they outlast the first by SAMPLE_GRACE_MIN_MS or its own time. The outcome fails only
 * when no sample succeeded.
 */
export async function sampleChoices(backend: CompletionBackend, req: FimRequest, n: number, signal: AbortSignal, now: () => number = () => performance.now()): Promise<Outcome<FimResult>> {
  const warm = Math.max(req.temperature, ALTERNATIVES_TEMPERATURE);
  if (n <= 1) return backend.complete(req, signal);
  if (backend.choices) return backend.complete({ ...req, n, temperature: warm }, signal);

  const start = now();
  const ctrls = Array.from({ length: n }, () => new AbortController());
  const onAbort = () => {
    for (const c of ctrls) c.abort(signal.reason);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  let grace: NodeJS.Timeout | undefined;
  const cutExtras = () => {
    for (const c of ctrls.slice(1)) if (!c.signal.aborted) c.abort(new CancelledError('an extra sample slower than the grace an alternatives request gives it'));
  };
  try {
    const outcomes = await Promise.all(
      ctrls.map(async (ctrl, i) => {
        const o = await backend.complete(i === 0 ? req : { ...req, temperature: warm }, ctrl.signal);
        // The first sample is the request's own answer: it is never cut, and the extras wait on it.
        if (i === 0 && o.ok) grace = setTimeout(cutExtras, Math.max(now() - start, SAMPLE_GRACE_MIN_MS));
        return o;
      }),
    );
    const ok = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    if (ok.length === 0) return outcomes[0]!;
    const choices: FimChoice[] = ok.map((v) => ({ text: v.text, finishReason: v.finishReason }));
    return { ok: true, value: { ...ok[0]!, choices } };
  } finally {
    if (grace) clearTimeout(grace);
    signal.removeEventListener('abort', onAbort);
  }
}
