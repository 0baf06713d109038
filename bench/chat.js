// @ts-check
// `npm run bench:chat`: the first streamed token of a chat answer through the LSP request
// (tandem/chat, its first `$/progress`) against the same request made directly to the fake
// backend (its first content chunk), on one machine, rounds interleaved. Goal (issue 17): p50 of
// the LSP path <= 5 ms over the direct one. The server's own share is in the audit record's latency.
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeVllm } from '../test/fake/vllm.js';
import { LspClient } from '../test/lsp-client.js';

const ROUNDS = Number(process.env.ROUNDS ?? 100);
const GOAL_MS = 5;
/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))] ?? NaN;
const MESSAGES = [{ role: 'system', content: 'You answer questions about code.' }, { role: 'user', content: 'What does `parseOrder` return when strict is false? Answer in one sentence.' }];

async function main() {
  const fake = await startFakeVllm({ respond: () => ({ text: 'It returns an order with total 0.', chunks: ['It', ' returns', ' an order', ' with total 0.'] }) });
  const home = mkdtempSync(join(tmpdir(), 'tandem-bench-chat-'));
  const client = new LspClient({ env: { TANDEM_CONFIG: '', XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state') } });
  await client.initialize({ initializationOptions: { backends: { local: { kind: 'vllm', url: fake.url } }, context: { enabled: false } }, capabilities: {} });

  /** Direct: a streamed chat request to the fake, time to the first content piece. */
  const direct = async () => {
    const t = performance.now();
    const res = await fetch(`${fake.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'Qwen/Qwen2.5-Coder-7B', messages: MESSAGES, max_tokens: 2048, temperature: 0.2, stream: true, stream_options: { include_usage: true } }) });
    const reader = /** @type {ReadableStream<Uint8Array>} */ (res.body).getReader();
    const dec = new TextDecoder();
    let buf = '';
    let first = NaN;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      if (Number.isNaN(first) && /"content":"[^"]/.test(buf)) first = performance.now() - t;
    }
    return first;
  };
  let n = 0;
  /** Through tandem: time to the first `$/progress` of the request's partial result token. */
  const viaLsp = async () => {
    const token = `b${n++}`;
    const t = performance.now();
    const seen = client.waitForNotification((m) => m.method === '$/progress' && m.params?.token === token).then(() => performance.now() - t);
    await client.request('tandem/chat', { messages: MESSAGES, partialResultToken: token });
    return seen;
  };
  for (let i = 0; i < 5; i++) {
    await direct();
    await viaLsp();
  }
  const d = [];
  const l = [];
  for (let i = 0; i < ROUNDS; i++) {
    d.push(await direct());
    l.push(await viaLsp());
  }
  client.notifications.length = 0;
  await client.stop();
  await fake.close();
  const p50d = quantile(d, 0.5);
  const p50l = quantile(l, 0.5);
  const over = p50l - p50d;
  console.log(`chat first token, ${ROUNDS} rounds interleaved, ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`  direct to the fake: p50 ${p50d.toFixed(2)} ms, p95 ${quantile(d, 0.95).toFixed(2)} ms`);
  console.log(`  tandem/chat:        p50 ${p50l.toFixed(2)} ms, p95 ${quantile(l, 0.95).toFixed(2)} ms`);
  console.log(`  over direct: p50 ${over.toFixed(2)} ms (goal <= ${GOAL_MS} ms: ${over <= GOAL_MS ? 'met' : 'missed'})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
