// @ts-check
// Preloaded into the server under test by benchmarks only (`node --expose-gc --import
// bench/heapProbe.js`, never by the shipped bin): on SIGUSR2 it runs two full collections, prints
// the heap's live size to stderr, and, when TANDEM_PROBE_SNAPSHOTS names a directory, writes a heap
// snapshot there. Tells garbage V8 has not collected yet apart from what the server keeps.
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

const gc = /** @type {(() => void) | undefined} */ (/** @type {any} */ (globalThis).gc);
const dir = process.env.TANDEM_PROBE_SNAPSHOTS;
let n = 0;

process.on('SIGUSR2', () => {
  const k = ++n;
  const before = process.memoryUsage();
  const t = performance.now();
  // Two: the first collection's finalizers and weak callbacks free more for the second.
  gc?.();
  gc?.();
  const gcMs = performance.now() - t;
  const after = process.memoryUsage();
  const snapshot = dir ? writeHeapSnapshot(join(dir, `probe-${k}.heapsnapshot`)) : undefined;
  const line = { k, gc: Boolean(gc), gcMs, heapUsedBefore: before.heapUsed, heapUsedAfter: after.heapUsed, heapTotalAfter: after.heapTotal, rssAfter: after.rss, externalAfter: after.external, snapshot };
  process.stderr.write(`[probe] ${JSON.stringify(line)}\n`);
});
