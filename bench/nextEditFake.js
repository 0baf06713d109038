// @ts-check
// The fake vLLM of `bench/nextEdit.js --overhead`: the Zeta model answering each next-edit prompt
// with the call on its region given its new argument, after 40 ms. Imported for a fake in the
// benchmark's own process, or run as a process of its own (`--fake-process`): a real backend is
// another process, so a request made to it directly has to wake its client when the answer comes,
// which a fake inside the client's process never makes it do.
//   node bench/nextEditFake.js [--one-chunk]   prints {"url", "last"} (JSON) once it listens
import { createServer } from 'node:http';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startFakeVllm } from '../test/fake/vllm.js';

export const OVERHEAD_LATENCY_MS = 40;

/** @param {{ oneChunk?: boolean }} [opts] */
export function overheadFake(opts = {}) {
  return startFakeVllm({
    model: 'zed-industries/zeta',
    latencyMs: OVERHEAD_LATENCY_MS,
    respond: (req) => {
      const prompt = /** @type {{ prompt: string }} */ (req.body).prompt;
      const start = prompt.indexOf('<|editable_region_start|>\n') + '<|editable_region_start|>\n'.length;
      const region = prompt.slice(start, prompt.indexOf('\n<|editable_region_end|>')).replace('<|user_cursor_is_here|>', '');
      const text = `\`\`\`a.ts\n<|editable_region_start|>\n${region.replace('area(w, h)', 'area(w, h, 1)')}\n<|editable_region_end|>\n\`\`\``;
      // --one-chunk: the answer in one streamed piece (the cost of reading ~4-character pieces apart).
      return opts.oneChunk ? { text, chunks: [text] } : { text };
    },
  });
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const fake = await overheadFake({ oneChunk: process.argv.includes('--one-chunk') });
  // The body of the last completion request, for the benchmark to send the same one directly
  // (asked between timed requests, never during one).
  const last = createServer((_req, res) => res.end(JSON.stringify(fake.completions().at(-1)?.body ?? null)));
  await new Promise((resolve) => last.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (last.address());
  process.stdout.write(`${JSON.stringify({ url: fake.url, last: `http://127.0.0.1:${address.port}/` })}\n`);
  process.stdin.resume();
  // The benchmark ends, its pipe closes: so does this process.
  process.stdin.on('end', () => process.exit(0));
}
