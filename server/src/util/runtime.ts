// The process's own figures for `tandem.stats`: memory as the OS sees it, and the event loop's delay.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface RuntimeSnapshot {
  /** Resident set size: native memory (tree-sitter trees) counts here, not in the heap. */
  rssBytes: number;
  heapUsedBytes: number;
  /** Present only when TANDEM_LOOP_MONITOR_MS is set (a timer every that many ms measures it). */
  eventLoop?: { resolutionMs: number; samples: number; p50Ms: number; p99Ms: number; maxMs: number };
}

/**
 * The event-loop monitor is off by default: it wakes the process every few milliseconds, which a
 * laptop on battery should not pay for. Benchmarks and soak runs switch it on with
 * TANDEM_LOOP_MONITOR_MS (a resolution in ms, 1..1000) and read it with `tandem.stats ["reset"]`
 * between phases.
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
    const out: RuntimeSnapshot = { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed };
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
