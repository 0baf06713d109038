// Cancellation helpers: every I/O function takes an AbortSignal; these combine and await them.

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class DeadlineError extends Error {
  constructor(readonly ms: number) {
    super(`deadline of ${ms} ms passed`);
    this.name = 'DeadlineError';
  }
}

export class CancelledError extends Error {
  constructor(reason = 'cancelled') {
    super(reason);
    this.name = 'CancelledError';
  }
}

/** A signal that aborts with a DeadlineError after `ms` (timer unref'd so it never holds the process). */
export function deadlineSignal(ms: number): AbortSignal {
  return scopedSignal([], ms).signal;
}

/**
 * One signal for a request: aborts when any of `signals` does, or after `deadlineMs`. `dispose()`
 * drops the timer and the listeners on the outer signals, so long-lived signals collect nothing
 * from the requests that came and went.
 */
export function scopedSignal(signals: (AbortSignal | undefined)[], deadlineMs?: number): { signal: AbortSignal; dispose(): void } {
  const ctrl = new AbortController();
  const subs: [AbortSignal, () => void][] = [];
  let timer: NodeJS.Timeout | undefined;
  const dispose = () => {
    if (timer) clearTimeout(timer);
    for (const [s, fn] of subs) s.removeEventListener('abort', fn);
    subs.length = 0;
  };
  const abort = (reason: unknown) => {
    ctrl.abort(reason);
    dispose();
  };
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      abort(s.reason);
      break;
    }
    const fn = () => abort(s.reason);
    s.addEventListener('abort', fn, { once: true });
    subs.push([s, fn]);
  }
  if (deadlineMs !== undefined && !ctrl.signal.aborted) {
    timer = setTimeout(() => abort(new DeadlineError(deadlineMs)), deadlineMs);
    timer.unref?.();
  }
  return { signal: ctrl.signal, dispose };
}
