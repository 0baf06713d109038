// @ts-check
// `npm run bench:actions` (also run by `npm run bench`): code-action listing on a 10,000-line file,
// goal p50 <= 5 ms (issue 5). Listing never calls a model, so no backend is involved.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listActions } from '../server/out/actions/list.js';
import { languageOf } from '../server/out/syntax/languages.js';
import { ParseService } from '../server/out/syntax/tree.js';
import { LspClient } from '../test/lsp-client.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const LINES = 10_000;
const ROUNDS = 300;
const GOAL_MS = 5;

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))] ?? NaN;

/** A TypeScript module of `lines` lines: functions with and without types and docs, classes with methods. */
function moduleOf(lines) {
  const out = ['import { join } from "node:path";', ''];
  const fnLines = [];
  for (let i = 0; out.length < lines - 6; i++) {
    if (i % 3 === 0) out.push('/** Adds the parts. */');
    fnLines.push(out.length);
    out.push(`export function total${i}(items, scale${i % 2 ? ': number' : ''}) {`, '  let sum = 0;', `  for (const it of items) sum += it.price * scale${i % 2 ? '' : ' ?? 1'};`, '  return sum;', '}', '');
    if (i % 5 === 0) out.push(`export class Cart${i} {`, '  private items: string[] = [];', `  add${i}(item) {`, '    this.items.push(item);', '  }', '}', '');
  }
  return { text: `${out.join('\n')}\n`, fnLines };
}

async function main() {
  const { text, fnLines } = moduleOf(LINES);
  const lineCount = text.split('\n').length - 1;
  // In process: the listing function alone, on a parsed tree.
  const pool = new ParseService();
  const tree = pool.parseNow('typescript', text, { maxMs: 60_000 });
  if (!tree) throw new Error('the benchmark file did not parse');
  const lang = languageOf('typescript', 'a.ts');
  const offsets = fnLines.map((l) => text.split('\n', l + 2).slice(0, l + 1).join('\n').length + 25);
  const pick = (/** @type {number} */ i) => offsets[(i * 7919) % offsets.length];
  const inProcess = [];
  for (let i = 0; i < ROUNDS; i++) {
    const at = pick(i);
    const t = performance.now();
    listActions({ languageId: 'typescript', language: lang, tree, text, start: at, end: at, diagnostics: [] });
    inProcess.push(performance.now() - t);
  }

  // Over stdio, as an editor asks: positions in functions, with diagnostics, and right after an edit.
  const client = new LspClient({ env: { TANDEM_CONFIG: '', XDG_CONFIG_HOME: join(HERE, 'out', 'nohome') } });
  await client.initialize({ initializationOptions: { backends: { chat: { kind: 'vllm', url: 'http://127.0.0.1:9' } }, routes: { inline: ['chat'], action: ['chat'], multiFile: ['chat'] }, context: { enabled: false } }, capabilities: { textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } } } });
  const uri = 'file:///bench/cart.ts';
  client.open(uri, 'typescript', text);
  await client.request('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 3, character: 2 }, end: { line: 3, character: 2 } }, context: { diagnostics: [] } });
  const diagnostics = [0, 1, 2].map((k) => ({ range: { start: { line: fnLines[k] + 2, character: 2 }, end: { line: fnLines[k] + 2, character: 10 } }, message: `Parameter 'items' implicitly has an 'any' type. (${k})`, severity: 1, source: 'ts' }));
  const runs = { plain: /** @type {number[]} */ ([]), withDiagnostics: /** @type {number[]} */ ([]), afterEdit: /** @type {number[]} */ ([]) };
  let version = 1;
  let listed = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const line = fnLines[(i * 7919) % fnLines.length] + 1;
    const range = { start: { line, character: 4 }, end: { line, character: 4 } };
    let t = performance.now();
    const a = /** @type {any[]} */ (await client.request('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics: [] } }));
    runs.plain.push(performance.now() - t);
    listed = Math.max(listed, a.length);
    t = performance.now();
    await client.request('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics } });
    runs.withDiagnostics.push(performance.now() - t);
    // A one-character edit (typed and deleted alternately): the tree is edited, not re-parsed, before the listing.
    version++;
    const edit = version % 2 === 0 ? { range, text: 'x' } : { range: { start: range.start, end: { line, character: 5 } }, text: '' };
    client.change(uri, version, [edit]);
    t = performance.now();
    await client.request('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics: [] } });
    runs.afterEdit.push(performance.now() - t);
  }
  await client.stop();

  const row = (/** @type {string} */ what, /** @type {number[]} */ xs) => `| ${what} | ≤ ${GOAL_MS} ms | ${quantile(xs, 0.5).toFixed(2)} ms (p99 ${quantile(xs, 0.99).toFixed(2)} ms) | ${quantile(xs, 0.5) <= GOAL_MS ? 'met' : 'MISSED'} |`;
  const table = [
    `Machine: ${cpus().length} x ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. File: ${lineCount.toLocaleString('en-US')} lines of TypeScript, ${fnLines.length} functions; ${ROUNDS} requests each, at rotating functions; up to ${listed} actions listed.`,
    '',
    '| code-action listing, 10,000-line file, p50 | target | measured | verdict |',
    '|---|---|---|---|',
    row('over stdio (request → response)', runs.plain),
    row('over stdio, 3 diagnostics in the context', runs.withDiagnostics),
    row('over stdio, right after a one-character edit', runs.afterEdit),
    row('listActions() alone, in process', inProcess),
  ].join('\n');
  console.log(table);
  mkdirSync(join(HERE, 'out'), { recursive: true });
  writeFileSync(join(HERE, 'out', 'actions.md'), `${table}\n`);
  const missed = [runs.plain, runs.withDiagnostics, runs.afterEdit].some((xs) => quantile(xs, 0.5) > GOAL_MS);
  process.exitCode = missed ? 1 : 0;
}

await main();
