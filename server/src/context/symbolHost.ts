// The main thread's side of the index's worker (symbolWorker.ts): one worker, requests by id,
// and a fallback to the main thread's sliced parse when the worker cannot start or dies.
import { Worker } from 'node:worker_threads';
import type { LanguageName } from '../syntax/languages.js';
import type { Logger } from '../util/logger.js';
import { BUSY, IDLE, STOP_ASKED, STOPPED, type DropSymbols, type SymbolReply, type SymbolRequest } from './symbolWorker.js';
import type { EditCheck, OffsetEdit } from '../syntax/editCheck.js';
import type { PackedSymbols } from './packed.js';

/**
 * How long the way out waits, at most, for the worker's unit of tree-sitter work to end: a 5 ms
 * step of a parse, one file's tag queries (stopped at 500 ms), an error count of at most 10,000
 * nodes. Tree-sitter's own limits are wall-clock ones, but a step overshoots its limit in error
 * recovery and the rest is CPU work, which a starved machine stretches: the wait is for the unit,
 * not for a share of the CPU, and this bound is only for a unit that never ends. Past it the
 * process ends by SIGKILL rather than let Node stop the thread inside tree-sitter (SIGABRT, and a
 * core dump where they are kept). While it waits, SIGTERM, SIGINT and SIGHUP end the process at
 * once: an editor that will not wait (VS Code kills its server 2 s after `exit`) is not ignored.
 */
const QUIESCE_MAX_MS = 60_000;

/** Signals whose JavaScript listeners cannot run while the way out waits (see QUIESCE_MAX_MS). */
const EXIT_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** After this many worker failures (start or crash), the index stays on the main thread. */
const MAX_FAILURES = 3;

/** The worker's young generation (V8 commits up to 3 semi-spaces of a third of this each). */
const WORKER_YOUNG_MB = 6;

type Fallback = () => Promise<PackedSymbols | undefined>;

/** A request the worker has not answered: what its answer settles, and what to do if the worker goes. */
interface Pending {
  /** A file of the index (dropped when the index is switched off), not a code action's check. */
  symbols: boolean;
  answer: (r: SymbolReply) => void;
  /** The worker died or was dropped (`disposed`: by this host, nothing should be done any more). */
  lost: (disposed: boolean) => void;
}

export class SymbolHost {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failures = 0;
  private disposed = false;
  /** Runs before Node stops the worker on any way out (exit, stdin closing, a signal's hook). */
  private readonly exitHook = (): void => {
    if (!this.busy) {
      this.quiesce();
      return;
    }
    // The process is ending (the audit's `exit` listener has run): the signals' default actions
    // are back, so one that comes during the wait ends the process where it stands, the worker
    // thread untouched. Their listeners could only run after the wait.
    for (const sig of EXIT_SIGNALS) process.removeAllListeners(sig);
    if (this.quiesce()) return;
    this.logger.error(`the index worker is still inside tree-sitter after ${Math.round(this.quiesceMaxMs / 1000)} s; ending the process with SIGKILL (stopping the thread there would abort it)`);
    process.kill(process.pid, 'SIGKILL');
  };
  private exitHookInstalled = false;
  /** The worker's IDLE/BUSY/STOPPED slot, shared with it (one per host, across restarts). */
  private readonly state = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    private readonly logger: Logger,
    private readonly script: URL = new URL('./symbolWorker.js', import.meta.url),
    /** The way out's longest wait for the worker's unit (QUIESCE_MAX_MS; shorter in tests). */
    private readonly quiesceMaxMs = QUIESCE_MAX_MS,
  ) {}

  /** A file's definitions, imports and exports, packed; undefined when its parse was given up. */
  symbols(lang: LanguageName, text: string, fallback: Fallback): Promise<PackedSymbols | undefined> {
    const w = this.ensure();
    if (!w) return fallback();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, {
        symbols: true,
        answer: (r) => resolve(r.symbols),
        lost: (disposed) => (disposed ? resolve(undefined) : void fallback().then(resolve, () => resolve(undefined))),
      });
      w.postMessage({ id, lang, text } satisfies SymbolRequest);
    });
  }

  /**
   * Whether `edits` add syntax errors to `text` (a code action's check), worked out in the worker:
   * null when there is nothing to check against, 'unavailable' when no worker runs or it went away
   * before answering (the caller then checks on its own thread).
   */
  check(lang: LanguageName, text: string, edits: readonly OffsetEdit[]): Promise<EditCheck | null | 'unavailable'> {
    const w = this.ensure();
    if (!w) return Promise.resolve('unavailable');
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { symbols: false, answer: (r) => resolve(r.check === undefined ? 'unavailable' : r.check), lost: () => resolve('unavailable') });
      w.postMessage({ id, lang, text, edits: edits.map((e) => ({ start: e.start, end: e.end, newText: e.newText })) } satisfies SymbolRequest);
    });
  }

  /** Whether files are read in the worker now (false after it failed too often). */
  get inWorker(): boolean {
    return !this.disposed && this.failures < MAX_FAILURES;
  }

  /** Whether the worker is inside tree-sitter now (loading it, parsing, reading tags, counting errors). */
  get busy(): boolean {
    const s = Atomics.load(this.state, 0);
    return s === BUSY || s === STOP_ASKED;
  }

  /**
   * The process is ending: waits (blocking, at most `quiesceMaxMs`) until the worker is out of
   * tree-sitter, and keeps it from going in again, because Node stops the worker when the process
   * exits (see symbolWorker.ts's IDLE/BUSY). False when the wait ran out with the worker still in.
   */
  quiesce(): boolean {
    const until = performance.now() + this.quiesceMaxMs;
    for (;;) {
      const was = Atomics.compareExchange(this.state, 0, IDLE, STOPPED);
      if (was === IDLE || was === STOPPED) return true;
      const left = until - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.state, 0, was, left);
    }
  }

  /**
   * The index was switched off: the files it asked for and the worker has not parsed yet are
   * dropped (their callers get nothing, as from a disposed host); code actions' checks go on. The
   * worker stays: starting one loads tree-sitter (0.4-1 s of CPU), and a worker dropped while it
   * loads finishes that first, so replacing it on every switch piled up loading workers.
   */
  dropSymbols(): void {
    for (const [id, p] of this.pending) {
      if (!p.symbols) continue;
      this.pending.delete(id);
      p.lost(true);
    }
    this.worker?.postMessage({ drop: 'symbols' } satisfies DropSymbols);
  }

  /**
   * Drops the worker without blocking: an idle one is stopped now (it goes into tree-sitter no
   * more once the slot says STOPPED); a busy one is asked to end itself after its unit of work,
   * because stopping a thread inside tree-sitter aborts the whole process. Resolves when its
   * thread has ended.
   */
  dispose(): Promise<void> {
    this.disposed = true;
    const w = this.worker;
    this.worker = undefined;
    const dropped = [...this.pending.values()];
    this.pending.clear();
    for (const p of dropped) p.lost(true);
    // Once no worker of this host runs, the way out has nothing to wait for here: a dropped host
    // must not stay behind as an `exit` listener.
    const unhook = () => process.off('exit', this.exitHook);
    if (!w) {
      unhook();
      return Promise.resolve();
    }
    const ended = new Promise<void>((resolve) => w.once('exit', () => (unhook(), resolve())));
    for (;;) {
      const was = Atomics.compareExchange(this.state, 0, IDLE, STOPPED);
      if (was === IDLE || was === STOPPED) {
        void w.terminate();
        break;
      }
      if (was === STOP_ASKED || Atomics.compareExchange(this.state, 0, BUSY, STOP_ASKED) === BUSY) break;
      // It went idle in between: try again.
    }
    return ended;
  }

  private ensure(): Worker | undefined {
    if (this.worker || this.disposed || this.failures >= MAX_FAILURES) return this.worker;
    // The new worker starts BUSY: loading the binding is tree-sitter work that a stop must not
    // interrupt either; the worker says IDLE once it is ready.
    Atomics.store(this.state, 0, BUSY);
    try {
      // Its heap holds little but the small wrappers of trees about to die: a small young
      // generation keeps what it commits (and so the process's RSS) low.
      const w = new Worker(this.script, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB }, workerData: { state: this.state.buffer } });
      if (!this.exitHookInstalled) {
        process.once('exit', this.exitHook);
        this.exitHookInstalled = true;
      }
      // The worker must not keep the process alive: the server's exit ends it.
      w.unref();
      w.on('message', (r: SymbolReply) => {
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (r.error) this.logger.debug(`index worker: ${r.error}`);
        p.answer(r);
      });
      w.on('error', (err) => this.failed(w, `index worker failed: ${err.message}`));
      w.on('exit', (code) => {
        if (!this.disposed && this.worker === w) this.failed(w, `index worker exited (status ${code})`);
      });
      this.worker = w;
      return w;
    } catch (err) {
      this.failures = MAX_FAILURES;
      this.logger.warn(`index worker cannot start (${err instanceof Error ? err.message : String(err)}); indexing on the main thread, in slices`);
      return undefined;
    }
  }

  /** The worker is gone: what it had not answered is done on the main thread; the next request starts a new one. */
  private failed(w: Worker, why: string): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    // It runs no tree-sitter any more (it did not start, or its thread ended): nothing to wait for at exit.
    Atomics.store(this.state, 0, IDLE);
    this.failures++;
    this.logger.warn(`${why}${this.failures >= MAX_FAILURES ? '; indexing on the main thread from now on' : '; starting a new one'}`);
    void w.terminate();
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) p.lost(false);
  }
}
