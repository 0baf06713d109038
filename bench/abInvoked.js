// @ts-check
// A/B of `run.js --invoked` on a shared machine: several builds of the server (checkouts given as
// arguments, each built with `tsc`) against one fake, each with 3 candidates and 1, their rounds
// taking turns so that every build sees the same moments of the machine. Prints the ratios per
// build. AB_MARKS_DIR=DIR: each server gets TANDEM_MARKS=DIR/<n>-<alternatives>.txt, for builds
// patched to write their own time marks there (bench/marksPatch.js; bench/RESULTS.md, issue 15).
//   node bench/abInvoked.js [--rounds N] CHECKOUT...
import { join } from 'node:path';
import { startFakeVllm } from '../test/fake/vllm.js';
import { LspClient } from '../test/lsp-client.js';
import { bigFile } from './bigFile.js';
import { KEY_MS, typeThenInvoke } from './invoked.js';

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
/** @param {number[]} xs @param {number} p */
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

async function main() {
  const args = process.argv.slice(2);
  let rounds = 100;
  const at = args.indexOf('--rounds');
  if (at >= 0) {
    rounds = Number(args[at + 1]);
    args.splice(at, 2);
  }
  if (args.length === 0 || !Number.isInteger(rounds) || rounds < 1) throw new Error('usage: node bench/abInvoked.js [--rounds N] CHECKOUT...');
  const marks = process.env.AB_MARKS_DIR;
  const fake = await startFakeVllm({ latencyMs: 40, respond: (_req, choice) => ({ text: ['0 + 1;', '0 - 1;', '0 * 1;'][choice] ?? `0 + ${choice};`, logprob: -0.1 * (choice + 1) }) });
  const text = bigFile(2000);
  const line = text.split('\n').length - 3;
  const sessions = [];
  for (const [n, checkout] of args.entries()) {
    for (const alternatives of [3, 1]) {
      const env = { TANDEM_CONFIG: '', XDG_CONFIG_HOME: join(checkout, 'bench', 'out', 'no-home'), ...(marks ? { TANDEM_MARKS: join(marks, `${n}-${alternatives}.txt`) } : {}) };
      const client = new LspClient({ bin: join(checkout, 'server', 'bin', 'tandem-lsp.js'), env });
      await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: { alternatives } } });
      const uri = `file:///bench/src/invoked-${n}-${alternatives}.ts`;
      client.open(uri, 'typescript', text);
      const s = { checkout, alternatives, client, uri, col: '  const total = '.length, version: 1, short: 0, e2e: /** @type {number[]} */ ([]), raw: /** @type {number[]} */ ([]) };
      await client.inline(uri, { line, character: s.col }, { triggerKind: 1 }).result;
      sessions.push(s);
    }
  }
  for (let i = 0; i < rounds; i++) {
    for (const s of sessions) {
      const res = await typeThenInvoke(s, line, i);
      // Counted, not thrown: on a loaded machine a request may meet its deadline (the server's
      // tandem.stats deadlineExpired says so at the end).
      if (res.items.length !== s.alternatives) s.short++;
      const body = fake.completions().at(-1)?.body;
      await sleep(KEY_MS);
      const r0 = performance.now();
      const raw = await fetch(`${fake.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      let got = '';
      for await (const chunk of /** @type {any} */ (raw.body)) got += Buffer.from(chunk).toString();
      if (!got.includes('[DONE]')) throw new Error('raw request did not finish its stream');
      s.raw.push(performance.now() - r0);
    }
  }
  for (const s of sessions) {
    const stats = /** @type {any} */ (await s.client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }));
    await s.client.stop();
    const ratio = pct(s.e2e, 50) / pct(s.raw, 50);
    process.stdout.write(`${s.checkout} ${s.alternatives} candidate(s): end-to-end / raw p50 ${ratio.toFixed(3)} (${pct(s.e2e, 50).toFixed(1)} / ${pct(s.raw, 50).toFixed(1)} ms; p25 ${pct(s.e2e, 25).toFixed(1)} / ${pct(s.raw, 25).toFixed(1)} ms); ${s.short} lists short of ${s.alternatives}, deadlines ${stats.deadlineExpired}; debounce ${JSON.stringify(stats.debounce)}\n`);
  }
  await fake.close();
}

main().catch((err) => {
  process.stderr.write(`abInvoked failed: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
