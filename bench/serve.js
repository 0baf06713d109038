// @ts-check
// `npm run bench:serve`: the cost of `tandem-lsp serve` in front of a model server.
//  1. First streamed token: the same streamed request, made directly to the fake vLLM and through
//     `serve` (alternating, one client, keep-alive), time to the first chunk with text; p50 delta
//     (target: <= 5 ms).
//  2. 20 concurrent streams through `serve` against a fake streaming 50 tokens/s: each stream's
//     token rate from its client's view, against the same 20 streams made directly (target: no
//     stream slower than 95 % of the fake's rate), and serve's peak RSS (target: <= 250 MB) and
//     its CPU time over the wall time.
// Options: --endpoint chat|completions (default chat), --samples N (default 200), --streams N
// (default 20), --tokens N per stream (default 100), --json.
import http from 'node:http';
import { mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeVllm } from '../test/fake/vllm.js';
import { startServeProcess } from '../test/serveProcess.js';
import { arg, fmtMB, machine, pct } from './harness.js';

const endpoint = arg('endpoint', 'chat');
const SAMPLES = Number(arg('samples', '200'));
const STREAMS = Number(arg('streams', '20'));
const TOKENS = Number(arg('tokens', '100'));
const RATE = 50; // tokens per second of the fake in part 2
const WARMUP = 20;

const m = machine();
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One streamed request; resolves with the client-side times (performance.now()) of every event
 * that carries text, and the text.
 * @param {string} base e.g. http://127.0.0.1:1234/v1
 * @param {string | null} token
 * @param {string} model
 * @param {string} prompt
 */
function stream(base, token, model, prompt) {
  const u = new URL(base);
  const path = `${u.pathname}${endpoint === 'chat' ? '/chat/completions' : '/completions'}`;
  const body = JSON.stringify(endpoint === 'chat' ? { model, messages: [{ role: 'user', content: prompt }], stream: true, max_tokens: 4096 } : { model, prompt, stream: true, max_tokens: 4096 });
  return new Promise((resolve, reject) => {
    const start = performance.now();
    /** @type {number[]} */
    const times = [];
    let text = '';
    let buf = '';
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      if (res.statusCode !== 200) {
        let t = '';
        res.on('data', (d) => (t += d));
        res.on('end', () => reject(new Error(`${base}: ${res.statusCode} ${t}`)));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (d) => {
        const now = performance.now();
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
          const c = JSON.parse(ev.slice(6)).choices?.[0];
          const piece = endpoint === 'chat' ? c?.delta?.content : c?.text;
          if (piece) {
            times.push(now);
            text += piece;
          }
        }
      });
      res.on('end', () => resolve({ start, times, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  const words = Array.from({ length: TOKENS }, (_, i) => `w${i} `);
  const fake = await startFakeVllm({ respond: () => ({ text: words.join(''), chunks: words }) });
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-bench-serve-')));
  const serve = await startServeProcess({ workspace: root, config: { backends: { local: { kind: 'vllm', url: fake.url } }, routes: { inline: ['local'], action: ['local'], multiFile: ['local'] } }, env: { TANDEM_LOG: 'error' } });
  const pid = /** @type {number} */ (serve.child.pid);
  const direct = `${fake.url}/v1`;
  const model = fake.options.model;
  try {
    const stat = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    /** serve's user + system CPU time in ticks (USER_HZ, 100 per second). */
    const cpuTicks = () => Number(stat()[11]) + Number(stat()[12]);
    // --- 1. first streamed token -------------------------------------------------------------
    fake.set({ respond: () => ({ text: 'hello world', chunks: ['hello', ' world'] }), tokenIntervalMs: 0 });
    /** @type {number[]} */ const d = [];
    /** @type {number[]} */ const s = [];
    let firstCpu0 = 0;
    let firstWall0 = 0;
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      if (i === WARMUP) {
        firstCpu0 = cpuTicks();
        firstWall0 = performance.now();
      }
      const a = /** @type {any} */ (await stream(direct, null, model, `q${i}`));
      const b = /** @type {any} */ (await stream(serve.url, serve.token, 'tandem/auto', `q${i}`));
      if (a.text !== 'hello world' || b.text !== 'hello world') throw new Error(`unexpected answers ${JSON.stringify([a.text, b.text])}`);
      if (i < WARMUP) continue;
      d.push(a.times[0] - a.start);
      s.push(b.times[0] - b.start);
    }
    // serve's own CPU time per request (the whole request: body, checks, routing, the backend's
    // stream relayed, the audit record): what it costs whatever the machine's load.
    const firstCpuPerRequestMs = ((cpuTicks() - firstCpu0) * 10) / SAMPLES;
    const firstWallMs = performance.now() - firstWall0;
    const first = { directP50: pct(d, 50), serveP50: pct(s, 50), deltaP50: pct(s, 50) - pct(d, 50), directP95: pct(d, 95), serveP95: pct(s, 95), serveCpuPerRequestMs: firstCpuPerRequestMs, wallMs: firstWallMs };

    // --- 2. concurrent streams at 50 tokens/s ------------------------------------------------
    fake.set({ respond: () => ({ text: words.join(''), chunks: words }), tokenIntervalMs: 1000 / RATE });
    const rates = async (/** @type {string} */ base, /** @type {string|null} */ token, /** @type {string} */ mdl) => {
      const runs = /** @type {any[]} */ (await Promise.all(Array.from({ length: STREAMS }, (_, i) => stream(base, token, mdl, `c${i}`))));
      for (const r of runs) if (r.text !== words.join('')) throw new Error('a stream lost text');
      // Tokens after the first over the time from the first to the last: the stream's own pace.
      return runs.map((r) => (r.times.length - 1) / ((r.times.at(-1) - r.times[0]) / 1000));
    };
    // The fake's own pace under the machine's load: measured before and after the run through
    // serve (the fake shares the benchmark's process and the machine's cores with everything else).
    const directRates = await rates(direct, null, model);
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    let peak = rss();
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
    const cpu0 = cpuTicks();
    const w0 = performance.now();
    const serveRates = await rates(serve.url, serve.token, 'tandem/auto');
    const wallMs = performance.now() - w0;
    const cpuMs = ((cpuTicks() - cpu0) * 1000) / 100; // USER_HZ
    clearInterval(sampler);
    peak = Math.max(peak, rss());
    directRates.push(...(await rates(direct, null, model)));
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    const fakeRate = pct(directRates, 50); // median of the 2 x STREAMS direct streams
    const concurrent = {
      streams: STREAMS,
      tokens: TOKENS,
      nominalRate: RATE,
      directRateP50: fakeRate,
      directRateMin: Math.min(...directRates),
      serveRateMin: Math.min(...serveRates),
      serveRateP50: pct(serveRates, 50),
      slowestVsFake: Math.min(...serveRates) / fakeRate,
      slowestVsNominal: Math.min(...serveRates) / RATE,
      peakRssBytes: peak,
      hwmRssBytes: hwm,
      serveCpuMs: cpuMs,
      wallMs,
    };
    const out = { endpoint, samples: SAMPLES, first, concurrent };
    if (process.argv.includes('--json')) console.log(JSON.stringify(out, null, 2));
    const f = (/** @type {number} */ x) => x.toFixed(2);
    console.log(m.line());
    console.log(`Endpoint: /v1/${endpoint === 'chat' ? 'chat/completions' : 'completions'}, streamed.`);
    console.log(`First streamed token (${SAMPLES} requests each, alternating, keep-alive): direct p50 ${f(first.directP50)} ms (p95 ${f(first.directP95)}), through serve p50 ${f(first.serveP50)} ms (p95 ${f(first.serveP95)}): delta p50 ${f(first.deltaP50)} ms (target <= 5 ms) ${first.deltaP50 <= 5 ? 'MET' : 'MISSED'}; serve's own CPU ${f(first.serveCpuPerRequestMs)} ms per request (10 ms ticks, averaged over ${SAMPLES})`);
    console.log(
      `${STREAMS} concurrent streams of ${TOKENS} tokens at a nominal ${RATE} tokens/s: direct (before and after) p50 ${f(fakeRate)} tok/s (slowest ${f(concurrent.directRateMin)}); through serve slowest ${f(concurrent.serveRateMin)} tok/s, p50 ${f(concurrent.serveRateP50)}: slowest = ${(concurrent.slowestVsFake * 100).toFixed(1)} % of the fake's measured rate, ${(concurrent.slowestVsNominal * 100).toFixed(1)} % of nominal (target >= 95 %) ${concurrent.slowestVsFake >= 0.95 ? 'MET' : 'MISSED'}`,
    );
    console.log(`serve process: peak RSS ${fmtMB(peak)} (VmHWM ${fmtMB(hwm)}; target <= 250 MB) ${hwm <= 250 * 2 ** 20 ? 'MET' : 'MISSED'}; CPU ${cpuMs.toFixed(0)} ms over ${wallMs.toFixed(0)} ms wall (${((cpuMs / wallMs) * 100).toFixed(1)} % of one core)`);
  } finally {
    agent.destroy();
    await serve.stop();
    await fake.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
