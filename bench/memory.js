// @ts-check
// `npm run bench:memory [-- --repo DIR]`: the server's resident memory with 300 open 1,000-line files
// of real code (issue 13, target RSS <= 200 MB), against the same files opened as plain text.
// Documents are cut from real sources (node_modules' packages by default, or any checkout with
// --repo) and written to a temporary workspace folder, so the background index covers them too.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { startFakeVllm } from '../test/fake/vllm.js';
import { arg, cutDocuments, fmtMB, machine, MB, NODE_MODULES, pathUri, ROOT, realSources, settle, sleep, startServer, stats, tempDir, runBench, writeReport } from './harness.js';

const TARGET_BYTES = 200 * MB;
const FILES = Number(arg('files', '300'));
const LINES = Number(arg('lines', '1000'));
const COMPLETIONS = Number(arg('completions', '20'));
const REPO = arg('repo');
/** Long enough for a loaded 2-core machine to index 300 files; reached only by a stuck server. */
const INDEX_CAP_MS = 300_000;
const SETTLE_CAP_MS = 180_000;

/**
 * One server: the workspace indexed, then every document opened (as code, or as plain text under
 * a .txt name), inline completions requested in some of them, and the memory once it stops moving.
 * @param {string} url @param {string} root @param {{ name: string, languageId: string, text: string }[]} docs @param {boolean} plaintext
 */
async function measure(url, root, docs, plaintext) {
  const server = await startServer({ backendUrl: url, workspace: root });
  const { client } = server;
  const t0 = performance.now();
  await client.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end', INDEX_CAP_MS);
  const indexMs = performance.now() - t0;
  const before = await settle(client, { capMs: 30_000 });
  const uriOf = (/** @type {{ name: string }} */ d) => pathUri(join(root, plaintext ? `${d.name}.txt` : d.name));
  const t1 = performance.now();
  for (const d of docs) client.open(uriOf(d), plaintext ? 'plaintext' : d.languageId, d.text);
  await stats(client); // messages are handled in order: this answer comes after every didOpen
  const openMs = performance.now() - t1;
  // A user moving around: a completion at the end of a line near the middle of ~20 of the files.
  let answered = 0;
  let withItems = 0;
  const step = Math.max(1, Math.floor(docs.length / COMPLETIONS));
  for (let i = 0; i < docs.length && answered < COMPLETIONS; i += step) {
    const d = /** @type {typeof docs[number]} */ (docs[i]);
    const lines = d.text.split('\n');
    let line = Math.floor(lines.length / 2);
    while (line < lines.length - 1 && (lines[line] ?? '').trim().length < 8) line++;
    const res = await client.inline(uriOf(d), { line, character: (lines[line] ?? '').length }).result;
    answered++;
    if (res?.items?.length) withItems++;
    await sleep(150);
  }
  const settled = await settle(client, { capMs: SETTLE_CAP_MS });
  const last = /** @type {Awaited<ReturnType<typeof stats>>} */ (settled.samples.at(-1));
  const errors = server.errorLines();
  await server.close();
  return { indexMs, openMs, before: /** @type {Awaited<ReturnType<typeof stats>>} */ (before.samples.at(-1)), last, settled, answered, withItems, errors };
}

async function main() {
  const m = machine();
  const corpusRoot = REPO ? resolve(REPO) : NODE_MODULES;
  const sources = realSources(corpusRoot);
  const cut = cutDocuments(sources, FILES, LINES);
  const ws = tempDir('tandem-bench-memory-');
  try {
    mkdirSync(join(ws.dir, 'src'));
    const docs = cut.docs.map((d, i) => ({ ...d, name: join('src', `doc-${String(i).padStart(3, '0')}${d.ext}`) }));
    for (const d of docs) writeFileSync(join(ws.dir, d.name), d.text);
    const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0);
    const fake = await startFakeVllm({ latencyMs: 40, respond: () => ({ text: ' // checked' }) });
    // The floor: a server with no workspace folder and nothing open.
    const bare = await startServer({ backendUrl: fake.url });
    const floor = /** @type {Awaited<ReturnType<typeof stats>>} */ ((await settle(bare.client, { capMs: 30_000 })).samples.at(-1));
    await bare.close();
    const code = await measure(fake.url, ws.dir, docs, false);
    const text = await measure(fake.url, ws.dir, docs, true);
    await fake.close();

    const row = (/** @type {string} */ what, /** @type {Awaited<ReturnType<typeof measure>>} */ r) => {
      const rss = r.last.stats.process.rssBytes;
      const perDoc = (rss - r.before.stats.process.rssBytes) / docs.length;
      return `| ${what} | ${fmtMB(r.before.stats.process.rssBytes)} | ${fmtMB(rss)} | ${fmtMB(r.last.stats.process.heapUsedBytes)} | ${r.last.proc ? `${fmtMB(r.last.proc.vmRssBytes)} / ${fmtMB(r.last.proc.vmHwmBytes)}` : '—'} | ${(perDoc / 1024).toFixed(0)} kB | ${(r.indexMs / 1000).toFixed(1)} s / ${(r.openMs / 1000).toFixed(1)} s / ${(r.settled.ms / 1000).toFixed(0)} s${r.settled.settled ? '' : ' (NOT settled)'} | ${r.withItems}/${r.answered} | ${r.errors.length} |`;
    };
    const rss = code.last.stats.process.rssBytes;
    const met = rss <= TARGET_BYTES;
    const source = REPO ? `\`${corpusRoot}\`` : `\`${relative(ROOT, NODE_MODULES)}\` (installed packages' .js/.ts sources)`;
    const md = [
      '# Memory: open documents',
      '',
      m.line(),
      '',
      `Documents: ${docs.length} of ${LINES.toLocaleString('en-US')} lines (${fmtMB(bytes)} in all), cut from ${sources.length} real source files of ${source}: ${cut.languages}.${cut.wrapped !== undefined ? ` The corpus ran out at document ${cut.wrapped}: later documents repeat it.` : ''} They lie in a temporary workspace folder that the server indexes; the plain-text run opens the same texts under \`.txt\` names (same folder, same index). ${COMPLETIONS} inline completions (fake vLLM, 40 ms) at the end of a line in every ${Math.max(1, Math.floor(docs.length / COMPLETIONS))}th document, then \`tandem.stats\` once a second until 3 RSS samples in a row lie within 2 MB (cap ${SETTLE_CAP_MS / 1000} s).`,
      '',
      '| documents opened as | RSS, index built, none open | RSS settled (tandem.stats) | heap used | VmRSS / VmHWM (/proc) | RSS per document | index / open / settle | inline answered with items | [error] log lines |',
      '|---|---|---|---|---|---|---|---|---|',
      row('code (trees)', code),
      row('plain text (.txt)', text),
      '',
      `A server with no workspace folder and nothing open: ${fmtMB(floor.stats.process.rssBytes)} (heap ${fmtMB(floor.stats.process.heapUsedBytes)}). Trees cost ${((code.last.stats.process.rssBytes - text.last.stats.process.rssBytes) / MB).toFixed(1)} MB over plain text: ${((code.last.stats.process.rssBytes - text.last.stats.process.rssBytes) / docs.length / 1024).toFixed(0)} kB per document.`,
      '',
      '| target | limit | measured | verdict |',
      '|---|---|---|---|',
      `| RSS with ${docs.length} open ${LINES.toLocaleString('en-US')}-line files of code | ≤ ${fmtMB(TARGET_BYTES)} | ${fmtMB(rss)} | ${met ? 'met' : 'MISSED'} |`,
    ];
    for (const [what, r] of /** @type {const} */ ([['code', code], ['plain text', text]])) {
      if (r.errors.length) md.push('', `First [error] lines of the ${what} run:`, '', ...r.errors.slice(0, 5).map((l) => `    ${l.slice(0, 300)}`));
    }
    writeReport(REPO ? `memory-${basename(corpusRoot)}` : 'memory', `${md.join('\n')}\n`);
    return met ? 0 : 1;
  } finally {
    ws.remove();
  }
}

runBench('bench:memory', main);
