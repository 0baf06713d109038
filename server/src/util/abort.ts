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

/**
 * Work that every caller asking while it runs shares (a model lookup): it runs under a signal of
 * its own, never under one caller's, so a caller that gives up (a superseded keystroke) stops only
 * its own wait and the others still get the answer. When the last waiter has gone the work is
 * stopped (nobody wants it, and a one-shot CLI command must not wait for it to end). An answer
 * that `keep` accepts stays until `forget()`; any other ends with its run, so the next caller
 * starts afresh.
 */
export class SharedWork<T> {
  private current: SharedRun<T> | undefined;

  constructor(
    private readonly start: (signal: AbortSignal) => Promise<T>,
    private readonly keep: (value: T) => boolean,
  ) {}

  /**
   * The shared answer, or `gaveUp(reason)` as soon as the caller's `signal` aborts (at once when
   * it already has).
   */
  join(signal: AbortSignal, gaveUp: (reason: unknown) => T): Promise<T> {
    if (signal.aborted) return Promise.resolve(gaveUp(signal.reason));
    const run = this.current ?? this.begin();
    run.waiters++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        resolve(gaveUp(signal.reason));
        if (--run.waiters > 0 || run.settled) return;
        // Dropped before it is stopped: a caller that comes next never joins a run that can only
        // end cancelled, and starts its own.
        if (this.current === run) this.current = undefined;
        run.ctrl.abort(new CancelledError('no caller waits for it any more'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      run.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /** Drops the kept answer (a run under way still answers its waiters, but no later caller). */
  forget(): void {
    this.current = undefined;
  }

  private begin(): SharedRun<T> {
    const ctrl = new AbortController();
    const run: SharedRun<T> = { ctrl, waiters: 0, settled: false, promise: this.start(ctrl.signal) };
    this.current = run;
    const settle = (kept: boolean) => {
      run.settled = true;
      if (!kept && this.current === run) this.current = undefined;
    };
    run.promise.then(
      (v) => settle(this.keep(v)),
      () => settle(false),
    );
    return run;
  }
}

interface SharedRun<T> {
  promise: Promise<T>;
  ctrl: AbortController;
  /** Callers waiting for it now. */
  waiters: number;
  settled: boolean;
}
