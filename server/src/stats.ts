// Counters of what was shown and accepted, per backend: the acceptance telemetry `tandem.accepted` feeds.
import { LRUCache } from 'lru-cache';
import type { LocalKind } from './pipeline/cache.js';

export interface StatsSnapshot {
  requests: number;
  shown: number;
  /** Shown completions answered without a backend request (the sum of `local`'s counts). */
  cacheHits: number;
  /**
   * Those by kind: the cache's exact place, typed through (typing, backspace, the editor's closers),
   * a speculative request's answer; their time as the server took it: p50 and p99 of the last
   * LOCAL_SAMPLES, and the slowest of all.
   */
  local: Record<LocalKind, number> & { p50Ms: number; p99Ms: number; maxMs: number };
  /** Inline requests that their deadline (inline.deadlineMs) ended with nothing to show. */
  deadlineExpired: number;
  accepted: number;
  partiallyAccepted: number;
  byBackend: Record<string, { shown: number; accepted: number; partiallyAccepted: number }>;
}

/** Local answers whose times the percentiles are of. */
const LOCAL_SAMPLES = 1000;

export class Stats {
  private readonly localMs: number[] = [];
  private localNext = 0;
  private readonly shownIds = new LRUCache<string, string>({ max: 2000 });
  private readonly data: StatsSnapshot = { requests: 0, shown: 0, cacheHits: 0, local: { cache: 0, typedThrough: 0, speculative: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 }, deadlineExpired: 0, accepted: 0, partiallyAccepted: 0, byBackend: {} };

  request(): void {
    this.data.requests++;
  }

  deadlineExpired(): void {
    this.data.deadlineExpired++;
  }

  /** `local`: how it was answered without a backend request, if it was; `ms`: the server's time for it. */
  shown(id: string, backend: string, local: LocalKind | undefined, ms: number): void {
    this.data.shown++;
    if (local) {
      this.data.cacheHits++;
      this.data.local[local]++;
      this.data.local.maxMs = Math.max(this.data.local.maxMs, ms);
      this.localMs[this.localNext] = ms;
      this.localNext = (this.localNext + 1) % LOCAL_SAMPLES;
    }
    this.shownIds.set(id, backend);
    this.perBackend(backend).shown++;
  }

  /** False for ids we never showed (or forgot): they are not counted. */
  accepted(id: string, partial: boolean): boolean {
    const backend = this.shownIds.get(id);
    if (backend === undefined) return false;
    const b = this.perBackend(backend);
    if (partial) {
      this.data.partiallyAccepted++;
      b.partiallyAccepted++;
    } else {
      this.data.accepted++;
      b.accepted++;
      this.shownIds.delete(id); // a full accept ends the item's life; partial ones may follow each other
    }
    return true;
  }

  snapshot(): StatsSnapshot {
    const out = structuredClone(this.data);
    const s = [...this.localMs].sort((a, b) => a - b);
    const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? 0;
    out.local.p50Ms = at(0.5);
    out.local.p99Ms = at(0.99);
    return out;
  }

  private perBackend(name: string) {
    return (this.data.byBackend[name] ??= { shown: 0, accepted: 0, partiallyAccepted: 0 });
  }
}
