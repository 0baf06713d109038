// @ts-check
// Self time per function in a V8 .cpuprofile (node --cpu-prof), highest first; optionally only
// the samples inside windows of the monotonic clock (µs, as bench/fuzz.js --list-over writes them).
//   node bench/profileSum.js FILE.cpuprofile [--top 40] [--window FROM_US:TO_US]... [--over FILE.json [--min-ms MS]] [--inclusive]
// --over takes the windows from a fuzz-over-SEED.json (answers at least --min-ms slow, default 0).
// `--by file` sums per script instead of per function; `--inclusive` ranks by total time (the
// function on the stack, anywhere) and shows self time beside it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { realpathSync } from 'node:fs';

/**
 * @typedef {{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }} Profile
 */

/**
 * Self time (ms) per key over the samples whose timestamps fall in one of `windows` (all when none).
 * With `inclusive`, a key's time is that of the samples with it anywhere on the stack.
 * @param {Profile} profile @param {[number, number][]} windows @param {'function' | 'file'} by @param {boolean} [inclusive]
 * @returns {{ total: number, rows: [string, number][] }}
 */
export function selfTimes(profile, windows, by = 'function', inclusive = false) {
  /** @type {Map<number, number>} */
  const parentOf = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  /** @type {Map<number, string>} */
  const keyOf = new Map();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const file = f.url.replace(/^file:\/\//, '').replace(/^.*\/(server\/out|node_modules)\//, '$1/');
    keyOf.set(n.id, by === 'file' ? file || `(${f.functionName || 'native'})` : `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`);
  }
  /** @type {Map<string, number>} */
  const sum = new Map();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    // A sample stands for the time until the next one.
    const span = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (windows.length > 0 && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    const leaf = /** @type {number} */ (profile.samples[i]);
    if (inclusive) {
      const keys = new Set();
      for (let id = /** @type {number | undefined} */ (leaf); id !== undefined; id = parentOf.get(id)) keys.add(keyOf.get(id) ?? '?');
      for (const key of keys) sum.set(key, (sum.get(key) ?? 0) + span);
    } else {
      const key = keyOf.get(leaf) ?? '?';
      sum.set(key, (sum.get(key) ?? 0) + span);
    }
    total += span;
  }
  return { total, rows: [...sum].sort((a, b) => b[1] - a[1]) };
}

function main() {
  const argv = process.argv.slice(2);
  const file = argv.shift();
  if (!file) throw new Error('usage: node bench/profileSum.js FILE.cpuprofile [--top N] [--window FROM_US:TO_US]... [--over fuzz-over-SEED.json [--min-ms MS]] [--by file]');
  let top = 40;
  /** @type {[number, number][]} */
  const windows = [];
  /** @type {string | undefined} */
  let over;
  let minMs = 0;
  /** @type {'function' | 'file'} */
  let by = 'function';
  let inclusive = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i] ?? '';
    if (a === '--top') top = Number(v);
    else if (a === '--window' && /^\d+:\d+$/.test(v)) windows.push(/** @type {[number, number]} */ (v.split(':').map(Number)));
    else if (a === '--over') over = v;
    else if (a === '--min-ms') minMs = Number(v);
    else if (a === '--by' && (v === 'file' || v === 'function')) by = v;
    else if (a === '--inclusive') (inclusive = true), i--;
    else throw new Error(`profileSum: unknown argument ${a} ${v}`);
  }
  if (over) {
    for (const t of JSON.parse(readFileSync(over, 'utf8'))) if (t.ms >= minMs && t.fromUs && t.toUs) windows.push([t.fromUs, t.toUs]);
    if (windows.length === 0) throw new Error(`${over}: no answers of at least ${minMs} ms with times`);
  }
  /** @type {Profile} */
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const { total, rows } = selfTimes(profile, windows, by, inclusive);
  const span = windows.length ? `${windows.length} windows` : `${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`;
  process.stdout.write(`${file}: ${total.toFixed(0)} ms of samples in ${span} (profile ${profile.startTime}-${profile.endTime} µs)\n`);
  for (const [key, ms] of rows.slice(0, top)) process.stdout.write(`${ms.toFixed(1).padStart(9)} ms ${((100 * ms) / (total || 1)).toFixed(1).padStart(5)} %  ${key}\n`);
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) main();
