// @ts-check
// `npm run bench:soak [-- --minutes N]`: steady use of one server for N minutes (default 30) and
// what its memory does (issue 13, target: RSS growth <= 10 MB over 30 minutes). About 50 open
// files of real code; typing at a typing cadence, an inline completion after each pause, code
// actions now and then, files opened and closed, configuration pushed, a few requests cancelled.
// `--probe`: the server also runs bench/heapProbe.js, which reports the heap's live size after
// forced full collections at the end of warm-up and at the end (they disturb the RSS figures a
// little, so it is not the default); `--snapshots DIR` adds a heap snapshot at each into DIR, for
// bench/heapDiff.js.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startFakeVllm } from '../test/fake/vllm.js';
import { arg, cutDocuments, probe, fmtMB, fmtMs, machine, MB, NODE_MODULES, pathUri, pct, random, realSources, sleep, slope, startServer, stats, tempDir, runBench, writeReport } from './harness.js';

const MINUTES = Number(arg('minutes', '30'));
const OPEN_FILES = Number(arg('files', '50'));
const SEED = Number(arg('seed', '1'));
const REPO = arg('repo');
const SNAPSHOTS = arg('snapshots');
const PROBE = process.argv.includes('--probe') || SNAPSHOTS !== undefined;
const SAMPLE_MS = 15_000;
const WARM_UP_SHARE = 0.2;
const TARGET_MB_PER_30_MIN = 10;
if (!(MINUTES > 0) || !(OPEN_FILES > 1)) throw new Error('--minutes must be above 0 and --files above 1');

/** What the editor holds of one open document, kept in step with the edits it sends. */
class LocalDoc {
  /** @param {string} uri @param {string} languageId @param {string} text */
  constructor(uri, languageId, text) {
    this.uri = uri;
    this.languageId = languageId;
    this.lines = text.split('\n');
    this.version = 1;
  }

  get text() {
    return this.lines.join('\n');
  }

  /** Inserts `text` at (line, ch); returns the LSP change. @param {number} line @param {number} ch @param {string} text */
  insert(line, ch, text) {
    const cur = this.lines[line] ?? '';
    const parts = text.split('\n');
    const lastIdx = parts.length - 1;
    parts[0] = cur.slice(0, ch) + parts[0];
    parts[lastIdx] = `${parts[lastIdx]}${cur.slice(ch)}`;
    this.lines.splice(line, 1, ...parts);
    this.version++;
    return { range: { start: { line, character: ch }, end: { line, character: ch } }, text };
  }

  /** Removes the range; returns the LSP change. @param {number} sl @param {number} sc @param {number} el @param {number} ec */
  remove(sl, sc, el, ec) {
    const joined = (this.lines[sl] ?? '').slice(0, sc) + (this.lines[el] ?? '').slice(ec);
    this.lines.splice(sl, el - sl + 1, joined);
    this.version++;
    return { range: { start: { line: sl, character: sc }, end: { line: el, character: ec } }, text: '' };
  }
}

async function main() {
  const m = machine();
  const rng = random(SEED);
  const sources = realSources(REPO ? resolve(REPO) : NODE_MODULES);
  // Twice as many documents as are open at once, so that opening and closing brings new ones in.
  const cut = cutDocuments(sources, OPEN_FILES * 2, 1000);
  const ws = tempDir('tandem-bench-soak-');
  mkdirSync(join(ws.dir, 'src'));
  const all = cut.docs.map((d, i) => {
    const path = join(ws.dir, 'src', `doc-${String(i).padStart(3, '0')}${d.ext}`);
    writeFileSync(path, d.text);
    return new LocalDoc(pathUri(path), d.languageId, d.text);
  });
  const fake = await startFakeVllm({ latencyMs: 40, respond: (req) => ({ text: ` value${req.id % 97};` }) });
  if (SNAPSHOTS) mkdirSync(resolve(SNAPSHOTS), { recursive: true });
  const server = await startServer({ backendUrl: fake.url, workspace: ws.dir, loopMonitorMs: 5, probe: PROBE, ...(SNAPSHOTS ? { env: { TANDEM_PROBE_SNAPSHOTS: resolve(SNAPSHOTS) } } : {}) });
  const { client } = server;
  await client.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end', 300_000);

  /** @type {Map<string, LocalDoc>} */
  const open = new Map();
  for (const d of all.slice(0, OPEN_FILES)) {
    client.open(d.uri, d.languageId, d.text, d.version);
    open.set(d.uri, d);
  }
  const counts = { keys: 0, inline: 0, inlineWithItems: 0, cancelSent: 0, cancelled: 0, actions: 0, opens: 0, closes: 0, pushes: 0, errors: 0, requestsDone: 0 };
  /** @type {Record<string, number[]>} */
  const times = { inline: [], codeAction: [], stats: [] };
  /** @type {{ tMin: number, rss: number, heap: number, heapTotal: number, vmRss: number, requests: number, serverRequests: number, loopP99: number, loopMax: number, collections: number }[]} */
  const samples = [];
  /** Forced-collection figures (with --probe): at the end of warm-up and at the end. @type {{ tMin: number, at: Awaited<ReturnType<typeof probe>> }[]} */
  const probes = [];
  let current = /** @type {LocalDoc} */ (all[0]);
  let cursor = { line: 0, character: 0 };

  const t0 = performance.now();
  const end = t0 + MINUTES * 60_000;
  const running = () => performance.now() < end;
  /** A wait that ends with the run. @param {number} ms */
  const nap = (ms) => sleep(Math.max(0, Math.min(ms, end - performance.now())));
  /** A request, timed and counted; an error answer is counted, not thrown. @param {keyof typeof times} kind @param {Promise<any>} p */
  const timed = async (kind, p) => {
    const t = performance.now();
    try {
      const r = await p;
      (times[kind] ??= []).push(performance.now() - t);
      counts.requestsDone++;
      return r;
    } catch (err) {
      if (/** @type {any} */ (err).code === -32800) counts.cancelled++;
      else counts.errors++;
      counts.requestsDone++;
      return undefined;
    }
  };

  const sample = async () => {
    const s = await stats(client);
    times.stats.push(s.ms);
    counts.requestsDone++;
    const loop = s.stats.process.eventLoop;
    const proc = /** @type {{ heapTotalBytes?: number, parses?: { collections?: number } }} */ (s.stats.process);
    samples.push({ tMin: (performance.now() - t0) / 60_000, rss: s.stats.process.rssBytes, heap: s.stats.process.heapUsedBytes, heapTotal: proc.heapTotalBytes ?? NaN, vmRss: s.proc?.vmRssBytes ?? NaN, requests: counts.requestsDone, serverRequests: s.stats.requests, loopP99: loop?.p99Ms ?? NaN, loopMax: loop?.maxMs ?? NaN, collections: proc.parses?.collections ?? NaN });
    // The fake and the client keep every record: dropped here so that the benchmark's own memory stays flat.
    fake.reset();
    client.notifications.length = 0;
    const tMin = (performance.now() - t0) / 60_000;
    if (PROBE && probes.length === 0 && tMin >= MINUTES * WARM_UP_SHARE) probes.push({ tMin, at: await probe(client) });
  };

  const typist = async () => {
    while (running()) {
      if (rng.next() < 0.15 || !open.has(current.uri)) current = rng.pick([...open.values()]);
      const d = current;
      // A new line below a line of code, indented like it; then a line like the file's own, typed.
      let line = rng.int(0, d.lines.length - 1);
      while (line < d.lines.length - 1 && (d.lines[line] ?? '').trim().length === 0) line++;
      const indent = /^\s*/.exec(d.lines[line] ?? '')?.[0] ?? '';
      client.change(d.uri, d.version + 1, [d.insert(line, (d.lines[line] ?? '').length, `\n${indent}`)]);
      const row = line + 1;
      const candidates = d.lines.map((l) => l.trim()).filter((l) => l.length >= 10 && l.length <= 60);
      const snippet = candidates.length ? rng.pick(candidates) : 'const total = items.length;';
      let col = indent.length;
      cursor = { line: row, character: col };
      let burst = rng.int(4, 12);
      for (const ch of snippet) {
        if (!running()) break;
        client.change(d.uri, d.version + 1, [d.insert(row, col, ch)]);
        col++;
        counts.keys++;
        cursor = { line: row, character: col };
        await sleep(rng.int(60, 160));
        if (--burst > 0) continue;
        burst = rng.int(4, 12);
        await sleep(rng.int(300, 800)); // a pause: the editor asks for ghost text
        const req = client.inline(d.uri, cursor);
        counts.inline++;
        if (rng.next() < 0.08) {
          await sleep(rng.int(10, 60));
          client.cancel(req.id);
          counts.cancelSent++;
        }
        const r = await timed('inline', req.result);
        if (r?.items?.length) counts.inlineWithItems++;
      }
      // Most typed lines are taken back (undo), so the documents keep their size over a long run.
      if (rng.next() < 0.7 && open.has(d.uri)) client.change(d.uri, d.version + 1, [d.remove(row - 1, (d.lines[row - 1] ?? '').length, row, (d.lines[row] ?? '').length)]);
      await nap(rng.int(200, 1500));
    }
  };

  const actions = async () => {
    while (running()) {
      await nap(rng.int(3000, 8000));
      if (!running() || !open.has(current.uri)) continue;
      const range = { start: cursor, end: cursor };
      counts.actions++;
      await timed('codeAction', client.request('textDocument/codeAction', { textDocument: { uri: current.uri }, range, context: { diagnostics: [] } }));
    }
  };

  const openClose = async () => {
    while (running()) {
      await nap(rng.int(15_000, 30_000));
      if (!running()) break;
      const closable = [...open.values()].filter((d) => d !== current);
      const gone = rng.pick(closable);
      client.notify('textDocument/didClose', { textDocument: { uri: gone.uri } });
      open.delete(gone.uri);
      counts.closes++;
      const next = rng.pick(all.filter((d) => !open.has(d.uri)));
      next.version = 1;
      client.open(next.uri, next.languageId, next.text, next.version);
      open.set(next.uri, next);
      counts.opens++;
    }
  };

  const pushes = async () => {
    while (running()) {
      await nap(rng.int(45_000, 90_000));
      if (!running()) break;
      counts.pushes++;
      const odd = counts.pushes % 2 === 1;
      client.notify('workspace/didChangeConfiguration', { settings: { tandem: { inline: { maxLines: odd ? 8 : 16 }, context: { maxTokens: odd ? 1536 : 2048 } } } });
    }
  };

  const sampler = async () => {
    await sample(); // t = 0; also starts the first event-loop period
    for (let k = 1; running(); k++) {
      await nap(t0 + k * SAMPLE_MS - performance.now());
      if (running()) await sample();
    }
  };

  await Promise.all([typist(), actions(), openClose(), pushes(), sampler()]);
  await sample(); // the end
  if (PROBE) probes.push({ tMin: (performance.now() - t0) / 60_000, at: await probe(client) });
  const runMin = (performance.now() - t0) / 60_000;
  const errors = server.errorLines();
  const reloads = client.stderr.split('\n').filter((l) => l.includes('configuration loaded (didChangeConfiguration)')).length;
  await server.close();
  await fake.close();
  ws.remove();

  const warm = /** @type {typeof samples[number]} */ (samples.find((s) => s.tMin >= runMin * WARM_UP_SHARE) ?? samples.at(-1));
  const last = /** @type {typeof samples[number]} */ (samples.at(-1));
  const post = samples.filter((s) => s.tMin >= warm.tMin);
  const growthMB = (last.rss - warm.rss) / MB;
  const reqs = last.requests - warm.requests;
  const perK = reqs > 0 ? growthMB / (reqs / 1000) : NaN;
  const slope30 = slope(post.map((s) => s.tMin), post.map((s) => s.rss / MB)) * 30;
  const heapSlope30 = slope(post.map((s) => s.tMin), post.map((s) => s.heap / MB)) * 30;
  const loops = samples.slice(1).map((s) => s.loopP99).filter(Number.isFinite);
  const loopWorst = Math.max(...loops);
  const loopMax = Math.max(...samples.slice(1).map((s) => s.loopMax).filter(Number.isFinite));
  const growthMet = growthMB <= TARGET_MB_PER_30_MIN;
  const slopeMet = slope30 <= TARGET_MB_PER_30_MIN;
  const met = growthMet && slopeMet;
  const row = (/** @type {string} */ what, /** @type {number[]} */ xs) => `| ${what} | ${xs.length} | ${fmtMs(pct(xs, 50))} | ${fmtMs(pct(xs, 99))} | ${fmtMs(Math.max(...xs))} | ${xs.filter((x) => x > 2000).length} |`;
  const md = [
    `# Soak: ${MINUTES} minute${MINUTES === 1 ? '' : 's'} of steady use`,
    '',
    m.line(),
    '',
    `${OPEN_FILES} open files of 1,000 lines of real code (${cut.languages}; ${all.length} in a temporary workspace folder, indexed), seed ${SEED}. Typing at 60–160 ms a key on a new line (70 % of typed lines then taken back), an inline completion (fake vLLM, 40 ms) after each pause, 8 % of them cancelled; code actions listed every 3–8 s; a file closed and another opened every 15–30 s; configuration pushed every 45–90 s. \`tandem.stats\` (TANDEM_LOOP_MONITOR_MS=5) every ${SAMPLE_MS / 1000} s. Warm-up: the first ${WARM_UP_SHARE * 100} % of the run.`,
    '',
    '| figure | value |',
    '|---|---|',
    `| run | ${runMin.toFixed(1)} min, ${samples.length} samples |`,
    `| RSS at warm-up end (${warm.tMin.toFixed(1)} min) | ${fmtMB(warm.rss)} (heap ${fmtMB(warm.heap)}) |`,
    `| RSS at the end | ${fmtMB(last.rss)} (heap ${fmtMB(last.heap)}; /proc VmRSS ${fmtMB(last.vmRss)}) |`,
    `| RSS growth after warm-up | ${growthMB >= 0 ? '+' : ''}${growthMB.toFixed(1)} MB (heap ${((last.heap - warm.heap) / MB).toFixed(1)} MB) |`,
    `| RSS growth per 1,000 requests | ${perK >= 0 ? '+' : ''}${perK.toFixed(2)} MB (${reqs} requests after warm-up) |`,
    `| least-squares slope of RSS after warm-up | ${slope30 >= 0 ? '+' : ''}${slope30.toFixed(1)} MB per 30 min (heap ${heapSlope30 >= 0 ? '+' : ''}${heapSlope30.toFixed(1)}) over ${post.length} samples |`,
    `| event-loop delay p99 (worst ${SAMPLE_MS / 1000} s window; median window) | ${fmtMs(loopWorst)} (${fmtMs(pct(loops, 50))}) |`,
    `| event-loop delay max | ${fmtMs(loopMax)} |`,
    `| activity | ${counts.keys} keys, ${counts.inline} inline requests (${counts.inlineWithItems} with a completion; ${counts.cancelSent} cancelled by the client, ${counts.cancelled} of them answered -32800), ${counts.actions} code-action lists, ${OPEN_FILES} files opened at the start then ${counts.closes} closed and ${counts.opens} opened, ${counts.pushes} configuration pushes (${reloads} reloads logged); server's inline count ${last.serverRequests} |`,
    `| error answers / [error] log lines | ${counts.errors} / ${errors.length} |`,
    '',
    '| request | answered | p50 | p99 | max | over 2 s |',
    '|---|---|---|---|---|---|',
    row('inline completion', times.inline ?? []),
    row('code-action list', times.codeAction ?? []),
    row('tandem.stats', times.stats ?? []),
    '',
    '| target | limit | measured | verdict |',
    '|---|---|---|---|',
    `| RSS growth after warm-up | ≤ ${TARGET_MB_PER_30_MIN} MB | ${growthMB.toFixed(1)} MB over ${(runMin - warm.tMin).toFixed(1)} min | ${growthMet ? 'met' : 'MISSED'} |`,
    `| RSS slope after warm-up${MINUTES < 30 ? ' (a short run: noisy)' : ''} | ≤ ${TARGET_MB_PER_30_MIN} MB per 30 min | ${slope30.toFixed(1)} MB per 30 min | ${slopeMet ? 'met' : 'MISSED'} |`,
    '',
    '| t (min) | RSS | VmRSS (/proc) | heap used | heap committed | requests done | loop p99 | loop max | idle-time collections |',
    '|---|---|---|---|---|---|---|---|---|',
    ...samples.map((s) => `| ${s.tMin.toFixed(2)} | ${fmtMB(s.rss)} | ${fmtMB(s.vmRss)} | ${fmtMB(s.heap)} | ${fmtMB(s.heapTotal)} | ${s.requests} | ${fmtMs(s.loopP99)} | ${fmtMs(s.loopMax)} | ${s.collections} |`),
  ];
  if (probes.length) {
    md.push('', 'Heap after two forced full collections (bench/heapProbe.js; the probe itself pauses the server):', '', '| t (min) | heap used before → after | heap committed after | RSS after | external | collections took | snapshot |', '|---|---|---|---|---|---|---|');
    for (const p of probes) md.push(`| ${p.tMin.toFixed(2)} | ${fmtMB(p.at.heapUsedBefore)} → ${fmtMB(p.at.heapUsedAfter)} | ${fmtMB(p.at.heapTotalAfter)} | ${fmtMB(p.at.rssAfter)} | ${fmtMB(p.at.externalAfter)} | ${fmtMs(p.at.gcMs)} | ${p.at.snapshot ?? '—'} |`);
    const [a, b] = probes;
    if (a && b) md.push('', `Live heap growth (after forced collections) from ${a.tMin.toFixed(1)} to ${b.tMin.toFixed(1)} min: ${((b.at.heapUsedAfter - a.at.heapUsedAfter) / MB).toFixed(1)} MB.`);
  }
  if (errors.length) md.push('', 'First [error] lines:', '', ...errors.slice(0, 5).map((l) => `    ${l.slice(0, 300)}`));
  writeReport('soak', `${md.join('\n')}\n`);
  return met ? 0 : 1;
}

runBench('bench:soak', main);
