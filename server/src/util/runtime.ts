// The process's own figures for `tandem.stats`: memory as the OS sees it, and the event loop's delay.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface RuntimeSnapshot {
  /** Resident set size: native memory (tree-sitter trees) counts here, not in the heap. */
  rssBytes: number;
  heapUsedBytes: number;
  /** The V8 heap as committed (used plus free pages it keeps), and memory V8 tracks outside it (buffers). */
  heapTotalBytes: number;
  externalBytes: number;
  /** Node's own flags (the bin's shebang sets a young-generation cap): what memory figures depend on. */
  nodeFlags: string[];
  /** Present only when TANDEM_LOOP_MONITOR_MS is set (a timer every that many ms measures it). */
  eventLoop?: { resolutionMs: number; samples: number; p50Ms: number; p99Ms: number; maxMs: number };
}

/**
 * The event-loop monitor is off by default: it wakes the process every few milliseconds, which a
 * laptop on battery should not pay for. Benchmarks and soak runs switch it on with
 * TANDEM_LOOP_MONITOR_MS (a resolution in ms, 1..1000); each `tandem.stats` reports the delay
 * since the previous one and starts a new period.
 */
export class RuntimeMonitor {
  private readonly loop: IntervalHistogram | undefined;
  private readonly resolutionMs: number;

  constructor(env: NodeJS.ProcessEnv) {
    const ms = Number(env.TANDEM_LOOP_MONITOR_MS);
    this.resolutionMs = Number.isInteger(ms) && ms >= 1 && ms <= 1000 ? ms : 0;
    if (this.resolutionMs > 0) {
      this.loop = monitorEventLoopDelay({ resolution: this.resolutionMs });
      this.loop.enable();
    }
  }

  snapshot(): RuntimeSnapshot {
    const mem = process.memoryUsage();
    const out: RuntimeSnapshot = { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, externalBytes: mem.external, nodeFlags: process.execArgv };
    const h = this.loop;
    if (h) {
      // The histogram's delays include the resolution's own wait; what we report is the excess.
      const ms = (ns: number) => Math.max(0, ns / 1e6 - this.resolutionMs);
      out.eventLoop = { resolutionMs: this.resolutionMs, samples: h.count, p50Ms: h.count ? ms(h.percentile(50)) : 0, p99Ms: h.count ? ms(h.percentile(99)) : 0, maxMs: h.count ? ms(h.max) : 0 };
    }
    return out;
  }

  /** Starts a new measurement period for the event-loop figures. */
  reset(): void {
    this.loop?.reset();
  }

  dispose(): void {
    this.loop?.disable();
  }
}

/** A full collection, when the runtime lets us ask for one (V8's gc extension), else undefined. */
export function fullGc(): (() => void) | undefined {
  try {
    // Node has no API to ask for a collection; this flag, set before the first call, exposes
    // V8's own `gc()` in a new context. Without it, dropped trees wait for V8's next major GC.
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `gc` as a compacting collection: a plain full collection frees the dead objects but keeps
 * the old generation's pages committed (measured: 89 MB committed for 47 MB live after a burst of
 * requests), and RSS with them; compacting moves the live objects together and gives the emptied
 * pages back. Only for the idle-time collection: V8's own collections keep their usual policy.
 */
function compacting(gc: () => void): void {
  try {
    setFlagsFromString('--compact-on-every-full-gc');
    gc();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

export interface CollectorOptions {
  /** Dropped native memory (in characters of parsed text) that calls for a collection. */
  thresholdChars?: number;
  /** Heap growth since the last collection that calls for one once the server is idle. */
  heapGrowthBytes?: number;
  /** No message for this long counts as idle. */
  idleMs?: number;
  /** True while a latency-critical request is in flight: the collection waits. */
  busy?: () => boolean;
  now?: () => number;
  heapUsed?: () => number;
  gc?: () => void;
}

/**
 * Gives memory back while the user is not typing. A syntax tree's memory is freed when V8
 * collects its small JS wrapper, and V8 does not know what the wrapper holds (about 30 bytes per
 * character of the text, outside the heap), so dropped trees pile up until the next major
 * collection, which a server with a quiet heap may not run for a long time; and freed native
 * memory is reused but not given back to the OS, so RSS stays at the highest pile. Likewise a
 * burst of messages (hundreds of documents opened) leaves garbage in the old generation that V8
 * collects late. So after the server has been idle for `idleMs` (no message, no inline request
 * in flight), one full collection runs when trees worth `thresholdChars` were dropped or the heap
 * grew `heapGrowthBytes` since the last one. Its pause (tens of ms) falls where nobody waits,
 * and an idle server arms no timer at all.
 */
export class IdleCollector {
  private droppedChars = 0;
  private lastActivity: number;
  private timer: NodeJS.Timeout | undefined;
  private heapAfterLast: number;
  private readonly gc: (() => void) | undefined;
  private readonly now: () => number;
  private readonly heapUsed: () => number;
  collections = 0;

  constructor(private readonly opts: CollectorOptions = {}) {
    this.gc = 'gc' in opts ? opts.gc : fullGc();
    this.now = opts.now ?? (() => performance.now());
    this.heapUsed = opts.heapUsed ?? (() => process.memoryUsage().heapUsed);
    this.lastActivity = this.now();
    this.heapAfterLast = this.heapUsed();
  }

  /** A message arrived, or background work (indexing) ended: a check follows once the server is idle. */
  activity(): void {
    this.lastActivity = this.now();
    this.arm();
  }

  /** A syntax tree for `chars` characters of text was dropped. */
  dropped(chars: number): void {
    this.droppedChars += chars;
    this.arm();
  }

  private arm(): void {
    if (this.timer || !this.gc) return;
    this.timer = setTimeout(() => this.check(), this.opts.idleMs ?? 1000);
    this.timer.unref?.();
  }

  private check(): void {
    this.timer = undefined;
    const idleMs = this.opts.idleMs ?? 1000;
    const quietFor = this.now() - this.lastActivity;
    if (quietFor < idleMs || this.opts.busy?.()) {
      this.timer = setTimeout(() => this.check(), Math.max(10, idleMs - quietFor));
      this.timer.unref?.();
      return;
    }
    const grown = this.heapUsed() - this.heapAfterLast;
    if (this.droppedChars < (this.opts.thresholdChars ?? 300_000) && grown < (this.opts.heapGrowthBytes ?? 16 * 1024 * 1024)) return;
    this.droppedChars = 0;
    this.collections++;
    compacting(this.gc!);
    this.heapAfterLast = this.heapUsed();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

