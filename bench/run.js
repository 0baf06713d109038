// @ts-check
// `npm run bench`: the inline path's speed goals, measured against the loopback fake vLLM.
// Prints a Markdown table (and writes it to bench/out/latest.md) for bench/RESULTS.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeVllm } from '../test/fake/vllm.js';
import { BIN_ENV, BIN_NODE_FLAGS, LspClient } from '../test/lsp-client.js';
import { localShare, typingThroughClosers } from './typing.js';
import { bigFile } from './bigFile.js';
import { KEY_MS, typeThenInvoke } from './invoked.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BACKEND_LATENCY_MS = 40;
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A server over stdio with an empty config home. BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR"
 * (say): extra node flags for each server, after the bin's own (as bench/harness.js takes them).
 */
function server() {
  const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const env = { TANDEM_CONFIG: '', XDG_CONFIG_HOME: join(HERE, 'out', 'no-home') };
  return new LspClient(extra.length ? { nodeArgs: [...BIN_NODE_FLAGS, ...extra], env: { ...BIN_ENV, ...env } } : { env });
}

/** @param {number[]} xs @param {number} p */
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const f1 = (/** @type {number} */ x) => x.toFixed(1);
const f2 = (/** @type {number} */ x) => x.toFixed(2);
const f3 = (/** @type {number} */ x) => x.toFixed(3);

/**
 * A streamed /v1/completions request as tandem makes it; `extra` adds fields (`n`, `logprobs`,
 * `temperature`), or is the whole body (`exact`: the body tandem sent, as the fake recorded it).
 */
async function rawRequest(url, prompt, extra = {}, exact = false) {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(exact ? extra : { model: 'Qwen/Qwen2.5-Coder-7B', prompt, max_tokens: 128, temperature: 0.1, stream: true, ...extra }),
  });
  let text = '';
  for await (const chunk of /** @type {any} */ (res.body)) text += Buffer.from(chunk).toString();
  if (!text.includes('[DONE]')) throw new Error('raw request did not finish its stream');
}

/**
 * 1. End-to-end latency of an inline request over LSP, against a raw HTTP request of the same kind.
 * `pauseMs` > 0: each request follows a pause, as when a user stops typing (the default adaptive
 * debounce then waits 0 ms). `pauseMs` = 0: back to back, with `debounceMs: 0` so that the
 * deliberate typing wait is not counted as overhead.
 */
async function latencyRatio(rounds, pauseMs) {
  const fake = await startFakeVllm({ latencyMs: BACKEND_LATENCY_MS, respond: () => ({ text: 'a + b;' }) });
  const client = server();
  await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: { debounceMs: pauseMs > 0 ? 'adaptive' : 0 } } });
  const uri = 'file:///bench/src/main.ts';
  const text = bigFile(2000);
  client.open(uri, 'typescript', text);
  const line = text.split('\n').length - 3;
  let col = '  const total = '.length;
  await client.inline(uri, { line, character: col }).result; // warm-up: model discovery, JIT
  await rawRequest(fake.url, 'warm-up');
  const lsp = [];
  const raw = [];
  const prompt = /** @type {string} */ (fake.completions().at(-1)?.body.prompt);
  let version = 1;
  for (let i = 0; i < rounds; i++) {
    if (pauseMs) await sleep(pauseMs);
    let t = performance.now();
    await rawRequest(fake.url, prompt);
    raw.push(performance.now() - t);
    if (pauseMs) await sleep(pauseMs);
    client.change(uri, ++version, [{ range: { start: { line, character: col }, end: { line, character: col } }, text: 'x' }]);
    col++;
    t = performance.now();
    const res = await client.inline(uri, { line, character: col }).result;
    lsp.push(performance.now() - t);
    if (res.items.length !== 1) throw new Error('no completion in the latency benchmark');
  }
  await client.stop();
  await fake.close();
  return { lsp, raw };
}

/**
 * 1b. An invoked request after typing: keys 90 ms apart, each with the automatic request an editor
 * sends (the adaptive debounce holds each until the next key supersedes it), then the user's
 * "suggest" key 90 ms after the last one: an invoked request (triggerKind 1), timed end to end.
 * The raw figure is the same backend request made directly in the same round: the body tandem
 * sent, as the fake recorded it (for 3 candidates `n: 3`, logprobs 0, temperature 0.4), sent 90 ms
 * after the answer, so that it too starts from a machine idle for 90 ms. One fake,
 * one server per setting (`inline.alternatives`), their rounds taking turns so that both see the
 * same moments of a shared machine. The fake answers each choice differently, in digits (never
 * the letters typed, so no keystroke types through an answer), and every candidate survives.
 * @param {number} rounds @param {number[]} settings
 */
async function invokedAfterTyping(rounds, settings) {
  const fake = await startFakeVllm({ latencyMs: BACKEND_LATENCY_MS, respond: (_req, choice) => ({ text: ['0 + 1;', '0 - 1;', '0 * 1;'][choice] ?? `0 + ${choice};`, logprob: -0.1 * (choice + 1) }) });
  const text = bigFile(2000);
  const line = text.split('\n').length - 3;
  const sessions = [];
  for (const alternatives of settings) {
    const client = server();
    await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: { alternatives } } });
    const uri = `file:///bench/src/invoked-${alternatives}.ts`;
    client.open(uri, 'typescript', text);
    const s = { alternatives, client, uri, col: '  const total = '.length, version: 1, e2e: /** @type {number[]} */ ([]), raw: /** @type {number[]} */ ([]) };
    await client.inline(uri, { line, character: s.col }, { triggerKind: 1 }).result; // warm-up: model discovery, JIT
    sessions.push(s);
  }
  for (let i = 0; i < rounds; i++) {
    for (const s of sessions) {
      const res = await typeThenInvoke(s, line, i);
      if (res.items.length !== s.alternatives) throw new Error(`the invoked request listed ${res.items.length} items, not ${s.alternatives}`);
      // Raw: the very body tandem sent (prompt, stop strings, n, logprobs, temperature), after the
      // same 90 ms pause the invoked request followed, so that both start from an idle machine.
      const body = /** @type {Record<string, unknown>} */ (fake.completions().at(-1)?.body);
      await sleep(KEY_MS);
      const r0 = performance.now();
      await rawRequest(fake.url, '', body, true);
      s.raw.push(performance.now() - r0);
    }
  }
  const out = [];
  for (const s of sessions) {
    const stats = /** @type {any} */ (await s.client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }));
    await s.client.stop();
    out.push({ alternatives: s.alternatives, e2e: s.e2e, raw: s.raw, debounce: stats.debounce });
  }
  await fake.close();
  return out;
}

/** 2. Context + prompt build after a one-character edit in a 10,000-line file (in process). */
async function promptBuild(rounds) {
  const { DocumentStore } = await import('../server/out/documents.js');
  const { ParseService } = await import('../server/out/syntax/tree.js');
  const { InlinePipeline } = await import('../server/out/pipeline/inline.js');
  const { BackendRegistry } = await import('../server/out/models/registry.js');
  const { resolveConfig } = await import('../server/out/config/load.js');
  const { Workspace } = await import('../server/out/workspace.js');
  const { silentLogger } = await import('../server/out/util/logger.js');
  const { ContextService } = await import('../server/out/context/service.js');
  const r = resolveConfig([{ origin: 'bench', trust: 'user', data: { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9', model: 'Qwen/Qwen2.5-Coder-7B', maxContextTokens: 32768 } } } }]);
  if (!r.ok) throw new Error(r.error);
  const config = r.config;
  const backends = new BackendRegistry(silentLogger());
  backends.update(config);
  const workspace = new Workspace(['/bench']);
  const pool = new ParseService();
  const store = new DocumentStore(pool);
  // The context stage as the server runs it (no index: /bench is not on disk), edits recorded.
  const context = new ContextService({ documents: store, parser: pool, workspace, logger: silentLogger(), busy: () => false });
  const pipeline = new InlinePipeline({ config: () => config, backends, workspace, logger: silentLogger(), context: context.engine });
  const text = bigFile(10_000);
  const uri = 'file:///bench/src/big.ts';
  const doc = store.open(uri, 'typescript', 1, text);
  let t = performance.now();
  doc.tree?.parseNow();
  const fullParse = performance.now() - t;
  const line = text.split('\n').length - 3;
  let col = '  const total = '.length;
  const build = [];
  const edit = [];
  const reparse = [];
  for (let i = 0; i < rounds; i++) {
    t = performance.now();
    store.change(uri, i + 2, [{ range: { start: { line, character: col }, end: { line, character: col } }, text: 'y' }]);
    context.changed(uri, line, line);
    col++;
    edit.push(performance.now() - t);
    t = performance.now();
    const offset = doc.text.offsetAt({ line, character: col });
    const plan = await pipeline.plan(doc, offset, config, new AbortController().signal, false);
    build.push(performance.now() - t);
    if (!plan.prompt.prompt.includes('const total')) throw new Error('prompt lacks the cursor line');
    // The idle re-parse the server runs after typing pauses (off the request's path).
    t = performance.now();
    doc.tree?.parseNow();
    reparse.push(performance.now() - t);
  }
  return { build, edit, reparse, fullParse };
}

/** 3. 100 keystrokes 25 ms apart, each followed by an inline request that cancels the previous one. */
async function storm() {
  /** @param {string} prompt */
  const echo = (prompt) => {
    const before = prompt.slice(0, prompt.indexOf('<|fim_suffix|>'));
    return ` /*${before.slice(before.lastIndexOf('\n') + 1).trim()}*/`;
  };
  const fake = await startFakeVllm({ latencyMs: BACKEND_LATENCY_MS, respond: (req) => ({ text: echo(req.body.prompt) }) });
  const client = server();
  await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } } } });
  const uri = 'file:///bench/src/storm.ts';
  client.open(uri, 'typescript', 'export function f(a: number) {\n  \n}\n');
  await sleep(300);
  let lineText = '';
  const pending = [];
  for (let i = 0; i < 100; i++) {
    const col = 2 + lineText.length;
    const ch = 'abcdefghij'[i % 10];
    client.change(uri, i + 2, [{ range: { start: { line: 1, character: col }, end: { line: 1, character: col } }, text: ch }]);
    lineText += ch;
    const prev = pending.at(-1);
    if (prev) client.cancel(prev.id);
    pending.push({ ...client.inline(uri, { line: 1, character: 2 + lineText.length }), line: lineText });
    await sleep(25);
  }
  const results = await Promise.all(pending.map((p) => p.result.then((r) => r, () => ({ items: [] }))));
  let stale = 0;
  results.forEach((r, i) => {
    for (const item of r.items) if (item.insertText !== ` /*${pending[i].line}*/`) stale++;
  });
  const lastOk = results.at(-1).items[0]?.insertText === ` /*${lineText}*/`;
  const reached = fake.completions().length;
  await client.stop();
  await fake.close();
  return { reached, stale, lastOk };
}

/** 4. Time from $/cancelRequest to the backend seeing its connection closed. */
async function cancellation(rounds) {
  const fake = await startFakeVllm({ respond: () => ({ hang: true }) });
  const client = server();
  await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: { deadlineMs: 10_000 } } });
  const uri = 'file:///bench/src/cancel.ts';
  client.open(uri, 'typescript', 'export function f() {\n  \n}\n');
  const delays = [];
  for (let i = 0; i < rounds; i++) {
    client.change(uri, i + 2, [{ range: { start: { line: 1, character: 2 + i }, end: { line: 1, character: 2 + i } }, text: 'z' }]);
    await sleep(220);
    const { id, result } = client.inline(uri, { line: 1, character: 3 + i });
    const req = await fake.waitFor((r) => r.path === '/v1/completions' && r.closedAt === null && r.id > (fake.completions().at(-2)?.id ?? -1), 3000);
    await sleep(5);
    const t = performance.now();
    client.cancel(id);
    await fake.waitFor((r) => r.id === req.id && r.closedAt !== null, 3000);
    delays.push(/** @type {number} */ (req.closedAt) - t);
    await result.catch(() => undefined);
  }
  await client.stop();
  await fake.close();
  return delays;
}

/**
 * 5. Hedging: route [slow, healthy], slow dripping one token every 2 s (`timeoutMs` 1500) or
 * stalling after its headers on two requests of three, and answering at once on the third (so its
 * breaker stays closed and every slow request is hedged; a backend slow every time has its breaker
 * opened after three, and then costs nothing). Each ghost text is timed end to end over LSP; the
 * hedge delay is the server's own (`tandem.stats` hedge.delayMs); healthy's own latency is a raw
 * HTTP request of the same prompt in the same round. Both fakes echo the line being typed with
 * their own mark, so an answer for older text (stale) or from the wrong backend is seen.
 * @param {number} rounds @param {'drip' | 'stall'} mode
 */
async function hedging(rounds, mode) {
  /** @param {string} mark @param {any} body */
  const echo = (mark, body) => {
    const before = body.prompt.slice(0, body.prompt.indexOf('<|fim_suffix|>'));
    return ` /*${mark}${before.slice(before.lastIndexOf('\n') + 1).trim()}*/`;
  };
  /** @type {boolean[]} whether slow held request i */
  const held = [];
  const slow = await startFakeVllm({
    respond: (req) => {
      const hold = held.length % 3 !== 2;
      held.push(hold);
      if (!hold) return { text: echo('S:', req.body) };
      return mode === 'drip' ? { text: echo('S:', req.body), dripMs: 2000 } : { hang: true, after: '' };
    },
  });
  const healthy = await startFakeVllm({ latencyMs: BACKEND_LATENCY_MS, respond: (req) => ({ text: echo('H:', req.body) }) });
  const client = server();
  await client.initialize({
    initializationOptions: {
      backends: { slow: { kind: 'vllm', url: slow.url, timeoutMs: 1500 }, healthy: { kind: 'vllm', url: healthy.url } },
      routes: { inline: ['slow', 'healthy'] },
      inline: { debounceMs: 0 },
      context: { enabled: false },
    },
  });
  const uri = `file:///bench/src/hedge-${mode}.ts`;
  client.open(uri, 'typescript', 'export function f(a: number) {\n  \n}\n');
  const stats = () => client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] });
  let line = '';
  let version = 1;
  const hedged = [];
  const raw = [];
  const delays = new Set();
  let stale = 0;
  let wrong = 0;
  let expired = 0;
  // Warm-up: model discovery, JIT, and enough first tokens of slow's for its adaptive delay.
  const warmup = 18;
  for (let i = 0; i < warmup + rounds; i++) {
    const ch = 'abcdefghij'[i % 10];
    client.change(uri, ++version, [{ range: { start: { line: 1, character: 2 + line.length }, end: { line: 1, character: 2 + line.length } }, text: ch }]);
    line += ch;
    const before = /** @type {any} */ (await stats());
    const delay = before.hedge.delayMs.slow;
    const t = performance.now();
    const res = await client.inline(uri, { line: 1, character: 2 + line.length }).result;
    const e2e = performance.now() - t;
    const hold = held.at(-1);
    const text = res.items[0]?.insertText;
    const after = /** @type {any} */ (await stats());
    if (i < warmup) continue;
    if (after.deadlineExpired > before.deadlineExpired) expired++;
    if (text !== undefined && !text.endsWith(`${line}*/`)) stale++;
    if (!hold) continue;
    // A held request must be answered by healthy, through a hedge.
    if (text !== ` /*H:${line}*/` || after.hedge.started !== before.hedge.started + 1) wrong++;
    const prompt = /** @type {string} */ (healthy.completions().at(-1)?.body.prompt);
    const r0 = performance.now();
    await rawRequest(healthy.url, prompt);
    raw.push(performance.now() - r0);
    hedged.push(e2e);
    delays.add(delay);
  }
  const final = /** @type {any} */ (await stats());
  await client.stop();
  await slow.close();
  await healthy.close();
  return { hedged, raw, delays: [...delays], stale, wrong, expired, won: final.hedge.won, started: final.hedge.started };
}

async function main() {
  const quick = process.argv.includes('--quick');
  const rounds = quick ? 20 : 100;
  if (process.argv.includes('--hedge')) {
    // Only the hedging rows: for A/B runs of the router on a busy machine.
    for (const mode of /** @type {const} */ (['drip', 'stall'])) process.stdout.write(hedgeRow(mode, await hedging(quick ? 30 : 150, mode)) + '\n');
    return;
  }
  if (process.argv.includes('--typing')) {
    // Only the typing-through and local-answer rows (issue 15, part 3).
    for (const row of await typingRows()) process.stdout.write(row + '\n');
    return;
  }
  if (process.argv.includes('--invoked')) {
    // Only the invoked-request rows, and for reference the automatic request after a pause (the
    // same path without the debounce) in the same run: for A/B runs on a busy machine.
    process.stdout.write((await invokedRows(quick ? 15 : 100)).join('\n') + '\n');
    const ref = await latencyRatio(quick ? 15 : 100, 220);
    process.stdout.write(`reference: automatic request after a 220 ms pause, p50 ${f3(pct(ref.lsp, 50) / pct(ref.raw, 50))} (${f1(pct(ref.lsp, 50))} / ${f1(pct(ref.raw, 50))} ms)\n`);
    return;
  }
  const lat = await latencyRatio(rounds * 2, 0);
  const latPause = await latencyRatio(rounds, 220);
  if (process.argv.includes('--latency')) {
    // Only the two ratios, full request counts: for A/B runs of the inline path on a busy machine.
    const ratio = (/** @type {{lsp: number[], raw: number[]}} */ r, /** @type {number} */ p) => `${f3(pct(r.lsp, p) / pct(r.raw, p))} (${f2(pct(r.lsp, p))} / ${f2(pct(r.raw, p))} ms)`;
    process.stdout.write(`back to back p50 ${ratio(lat, 50)} p99 ${ratio(lat, 99)}; after a pause p50 ${ratio(latPause, 50)} p99 ${ratio(latPause, 99)}\n`);
    return;
  }
  const invoked = await invokedRows(quick ? 15 : 100);
  const pb = await promptBuild(quick ? 50 : 200);
  const st = await storm();
  const cancel = await cancellation(quick ? 10 : 30);
  const hedges = { drip: await hedging(quick ? 30 : 150, 'drip'), stall: await hedging(quick ? 30 : 150, 'stall') };
  const typing = await typingRows();
  const r50 = pct(lat.lsp, 50) / pct(lat.raw, 50);
  const r99 = pct(lat.lsp, 99) / pct(lat.raw, 99);
  const p50 = pct(latPause.lsp, 50) / pct(latPause.raw, 50);
  const p99 = pct(latPause.lsp, 99) / pct(latPause.raw, 99);
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const lines = [
    `Machine: ${machine}. Backend: loopback fake vLLM, ${BACKEND_LATENCY_MS} ms to first byte. ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| goal | target | measured | verdict |',
    '|---|---|---|---|',
    `| LSP end-to-end / raw HTTP, back to back, p50 (${lat.lsp.length} requests each) | ≤ 1.05 | ${f3(r50)} (${f1(pct(lat.lsp, 50))} ms / ${f1(pct(lat.raw, 50))} ms) | ${r50 <= 1.05 ? 'met' : 'MISSED'} |`,
    `| LSP end-to-end / raw HTTP, back to back, p99 | ≤ 1.15 | ${f3(r99)} (${f1(pct(lat.lsp, 99))} ms / ${f1(pct(lat.raw, 99))} ms) | ${r99 <= 1.15 ? 'met' : 'MISSED'} |`,
    `| LSP end-to-end / raw HTTP, each after a 220 ms pause, p50 (${latPause.lsp.length} each) | ≤ 1.05 | ${f3(p50)} (${f1(pct(latPause.lsp, 50))} ms / ${f1(pct(latPause.raw, 50))} ms) | ${p50 <= 1.05 ? 'met' : 'MISSED'} |`,
    `| LSP end-to-end / raw HTTP, each after a 220 ms pause, p99 | ≤ 1.15 | ${f3(p99)} (${f1(pct(latPause.lsp, 99))} ms / ${f1(pct(latPause.raw, 99))} ms) | ${p99 <= 1.15 ? 'met' : 'MISSED'} |`,
    `| context + prompt build after a 1-char edit, 10,000-line file, p50 | ≤ 5 ms | ${f2(pct(pb.build, 50))} ms (p99 ${f2(pct(pb.build, 99))} ms) | ${pct(pb.build, 50) <= 5 ? 'met' : 'MISSED'} |`,
    `| applying that edit (text + tree.edit), p50 | — | ${f2(pct(pb.edit, 50))} ms | — |`,
    `| idle incremental re-parse (off the request path), p50 | — | ${f2(pct(pb.reparse, 50))} ms (full parse ${f1(pb.fullParse)} ms) | — |`,
    `| keystroke storm: requests reaching the backend (100 keys, 25 ms apart) | ≤ 3 | ${st.reached} | ${st.reached <= 3 ? 'met' : 'MISSED'} |`,
    `| keystroke storm: stale completions returned | 0 | ${st.stale} (last request answered for the final text: ${st.lastOk ? 'yes' : 'NO'}) | ${st.stale === 0 && st.lastOk ? 'met' : 'MISSED'} |`,
    `| $/cancelRequest → backend socket closed, p50 / max (${cancel.length} runs) | ≤ 20 ms | ${f1(pct(cancel, 50))} / ${f1(Math.max(...cancel))} ms | ${Math.max(...cancel) <= 20 ? 'met' : 'MISSED'} |`,
    ...invoked,
    ...Object.entries(hedges).map(([mode, h]) => hedgeRow(mode, h)),
    ...typing,
  ];
  const md = lines.join('\n') + '\n';
  mkdirSync(join(HERE, 'out'), { recursive: true });
  writeFileSync(join(HERE, 'out', 'latest.md'), md);
  process.stdout.write(md);
}

/**
 * Issue 15, part 3: (a) a multi-line completion typed through on an editor that closes pairs; (b)
 * the share of shown ghost text answered without a backend request in sessions (three seeds) that
 * accept about a third of what is shown, with the editor asking 50 ms after an acceptance and at once.
 */
async function typingRows() {
  const home = join(HERE, 'out');
  const a = await typingThroughClosers(home, BACKEND_LATENCY_MS);
  const okA = a.requests <= 2 && a.wrong === 0;
  const rows = [
    `| typing through with auto-closed brackets: a 9-line completion typed key by key (${a.keys} keys, ${a.edits} edits, ghost text asked after each) on an editor that closes (, [, {, quotes, types over them and splits braces on Enter | ≤ 2 backend requests | ${a.requests} (wrong ghost texts ${a.wrong}; ${a.overClosers} shown over the editor's closers; ${a.typedThrough} answers typed through) | ${okA ? 'met' : 'MISSED'} |`,
  ];
  for (const pauseMs of [50, 0]) {
    const runs = [];
    for (const seed of [15, 16, 17]) runs.push(await localShare(home, BACKEND_LATENCY_MS, { seed, pauseMs }));
    const sum = (/** @type {(r: Awaited<ReturnType<typeof localShare>>) => number} */ f) => runs.reduce((t, r) => t + f(r), 0);
    const shown = sum((r) => r.shown);
    const kinds = { cache: sum((r) => r.local.cache), typedThrough: sum((r) => r.local.typedThrough), speculative: sum((r) => r.local.speculative) };
    const local = kinds.cache + kinds.typedThrough + kinds.speculative;
    const share = local / shown;
    const maxMs = Math.max(...runs.map((r) => r.local.maxMs));
    const p99Ms = Math.max(...runs.map((r) => r.local.p99Ms));
    const joined = sum((r) => r.speculative.joined);
    const ok = share >= 0.35 && maxMs <= 10;
    rows.push(
      `| shown ghost text answered locally, 3 scripted sessions (${sum((r) => r.keys)} keys; ${shown} shown, ${sum((r) => r.accepted)} accepted = ${f1((100 * sum((r) => r.accepted)) / shown)} %), the editor asking ${pauseMs} ms after an acceptance | ≥ 35 %, each ≤ 10 ms | ${f1(100 * share)} % (cache ${kinds.cache}, typed through ${kinds.typedThrough}, speculative ${kinds.speculative}; ${joined} more waited for a speculative request; ${sum((r) => r.requests)} backend requests); server's time p99 ${p99Ms} ms (worst session), slowest ${maxMs} ms | ${ok ? 'met' : 'MISSED'} |`,
    );
  }
  return rows;
}

/** The invoked-request rows, 3 candidates and 1, measured against one fake. @param {number} rounds */
async function invokedRows(rounds) {
  const targets = /** @type {Record<number, number>} */ ({ 3: 1.1, 1: 1.05 });
  return (await invokedAfterTyping(rounds, [3, 1])).map((r) => {
    const target = targets[r.alternatives] ?? 1.1;
    const ratio = pct(r.e2e, 50) / pct(r.raw, 50);
    const what = r.alternatives > 1 ? `${r.alternatives} candidates (n: ${r.alternatives})` : '1 candidate';
    return `| invoked request after typing (4 keys 90 ms apart, then triggerKind 1), ${what}: end-to-end / raw p50 (${r.e2e.length} each) | ≤ ${target.toFixed(2)} | ${f3(ratio)} (${f1(pct(r.e2e, 50))} ms / ${f1(pct(r.raw, 50))} ms; p95 ${f1(pct(r.e2e, 95))} / ${f1(pct(r.raw, 95))} ms); server's debounce: ${r.debounce.skipped} skipped, ${r.debounce.waited} waits begun | ${ratio <= target ? 'met' : 'MISSED'} |`;
  });
}

/** The hedging row: p95 of held requests against hedge delay + healthy's raw p95 + 20 ms, and what went wrong. @param {string} mode @param {Awaited<ReturnType<typeof hedging>>} h */
function hedgeRow(mode, h) {
  const delay = Math.max(...h.delays);
  const bound = delay + pct(h.raw, 95) + 20;
  const p95 = pct(h.hedged, 95);
  const ok = p95 <= bound && h.stale === 0 && h.wrong === 0 && h.expired === 0;
  const what = mode === 'drip' ? 'drips a token every 2 s (timeoutMs 1500)' : 'stalls after its headers';
  return `| route [slow, healthy], slow ${what} on 2 of 3 requests: ghost text from healthy, p95 (${h.hedged.length} hedged requests) | ≤ hedge delay + healthy's latency + 20 ms = ${delay} + ${f1(pct(h.raw, 95))} + 20 = ${f1(bound)} ms; 0 stale | ${f1(p95)} ms (p50 ${f1(pct(h.hedged, 50))}); delay ${h.delays.join('/')} ms (server's); stale ${h.stale}, not from healthy ${h.wrong}, deadlines ${h.expired}; hedges ${h.started}, won ${JSON.stringify(h.won)} | ${ok ? 'met' : 'MISSED'} |`;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
