// @ts-check
/**
 * The README's no-GPU tour: drives `tandem-lsp --stdio` as an editor would, against the demo
 * backend (`npm run fake-vllm`, which serves two model names), and prints each feature's result:
 * ghost text, a code action applied, an explanation, and tandem.compare of the two models.
 * Nothing is written to the example file or to your tandem state (a temporary home is used).
 *
 *   npm run fake-vllm &
 *   npm run demo [-- --url http://127.0.0.1:8000]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LspClient } from '../lsp-client.js';
import { DEFAULT_MODEL, DEMO_SECOND_MODEL } from './vllm.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE = join(ROOT, 'test', 'fixtures', 'quickstart');

/** @param {string[]} argv */
function urlArg(argv) {
  const i = argv.indexOf('--url');
  if (i >= 0 && argv[i + 1]) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--url='));
  return eq ? eq.slice('--url='.length) : 'http://127.0.0.1:8000';
}

/**
 * Applies LSP text edits (one document's) to its text.
 * @param {string} text @param {{range: {start: {line: number, character: number}, end: {line: number, character: number}}, newText: string}[]} edits
 */
function applyEdits(text, edits) {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  /** @param {{line: number, character: number}} p */
  const at = (p) => (starts[p.line] ?? text.length) + p.character;
  const sorted = [...edits].sort((a, b) => at(b.range.start) - at(a.range.start));
  for (const e of sorted) text = text.slice(0, at(e.range.start)) + e.newText + text.slice(at(e.range.end));
  return text;
}

/** @param {string} title @param {string} body */
function section(title, body) {
  process.stdout.write(`\n=== ${title} ===\n${body.replace(/\n?$/, '\n')}`);
}

async function main() {
  const url = urlArg(process.argv.slice(2));
  const home = mkdtempSync(join(tmpdir(), 'tandem-demo-'));
  const configFile = join(home, 'demo.json');
  // Two backends on the one demo server, one per model name it serves: what tandem.compare needs.
  writeFileSync(configFile, JSON.stringify({ backends: { demo: { kind: 'vllm', url, model: DEFAULT_MODEL }, demo2: { kind: 'vllm', url, model: DEMO_SECOND_MODEL } }, routes: { inline: ['demo'], action: ['demo', 'demo2'] } }, null, 2));
  const client = new LspClient({ args: ['--config', configFile], env: { XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '' } });
  let failed = false;
  try {
    await client.initialize({ rootUri: pathToFileURL(EXAMPLE).href, capabilities: { textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } } } });
    const file = join(EXAMPLE, 'fib.py');
    const uri = pathToFileURL(file).href;
    const text = readFileSync(file, 'utf8');
    client.open(uri, 'python', text);
    section('the example file (test/fixtures/quickstart/fib.py)', text);

    const ghost = await client.inline(uri, { line: 2, character: 4 }, { triggerKind: 1 }).result;
    const items = Array.isArray(ghost) ? ghost : (ghost?.items ?? []);
    section('1. ghost text at line 3, column 5 (textDocument/inlineCompletion)', items[0] ? String(items[0].insertText?.value ?? items[0].insertText) : '(no completion)');

    // The cursor in the function's body, no selection: the actions on the function.
    const cursor = { start: { line: 6, character: 8 }, end: { line: 6, character: 8 } };
    const actions = await client.request('textDocument/codeAction', { textDocument: { uri }, range: cursor, context: { diagnostics: [] } });
    const doc = actions.find((/** @type {any} */ a) => a.data?.id === 'document');
    if (!doc) throw new Error(`no "Add documentation comment" action among: ${actions.map((/** @type {any} */ a) => a.title).join(', ')}`);
    const resolved = await client.request('codeAction/resolve', doc);
    const edits = resolved.edit?.documentChanges?.[0]?.edits ?? resolved.edit?.changes?.[uri] ?? [];
    section(`2. code action "${doc.title}" (codeAction/resolve), applied`, `menu: ${actions.map((/** @type {any} */ a) => a.title).join(' | ')}\n\n${applyEdits(text, edits)}`);

    const range = { start: { line: 5, character: 0 }, end: { line: 9, character: 24 } };
    const explained = await client.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri, range, open: false }] });
    section('3. explain lines 6-10 (tandem.explain)', explained.markdown);

    const compared = await client.request('workspace/executeCommand', { command: 'tandem.compare', arguments: [{ uri, range }] });
    section(`4. compare ${DEFAULT_MODEL} and ${DEMO_SECOND_MODEL} (tandem.compare)`, compared.markdown);
  } catch (err) {
    failed = true;
    const why = err instanceof Error ? err.message : String(/** @type {any} */ (err)?.message ?? err);
    process.stderr.write(`demo: ${why}\n(if the demo backend is not running at ${url}, start it with: npm run fake-vllm &)\n${client.stderr ? `server log:\n${client.stderr}` : ''}`);
  } finally {
    await client.stop();
    rmSync(home, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

main();
