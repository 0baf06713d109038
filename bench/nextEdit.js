// @ts-check
// `node bench/nextEdit.js --repo DIR [--commits N] [--ext ts,js]`: replays edit sequences mined
// from a repository's history through the next-edit formats, without a model or a GPU.
//
// Corpus: each non-merge commit (the newest N) that changes one file in two or more places (hunks
// of `git show --unified=0`); a commit that changes a definition and then its uses is the typical
// case. For each such file, its hunks are replayed in file order: the file as of the parent with
// the hunks before applied, one hunk applied as the user's edit (fed to the EditHistory as one
// change, the cursor at its end), and the next hunk is the true next edit.
//
// Per format (zeta, sweep, instruct), on the steps whose true next edit lies within 30 lines of the
// last edit:
// - inRegion: the true next edit's lines lie inside the region the prompt sends;
// - exact: the region with the true edit applied, written back in the format's answer (markers,
//   window) and read by the server's parser and edit differ (nextEdit/edits.ts, without the
//   syntax check), makes the file exactly the true next text;
// - undo: answers the differ refused as undoing the user's last edit (a true edit never should);
// - renderMs / parseMs: the server's own time to build the prompt and to turn the answer into edits (p50).
// Uses the built server (server/out: `npx tsc -p tsconfig.json` first).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startFakeVllm } from '../test/fake/vllm.js';
import { LspClient } from '../test/lsp-client.js';
import { performance } from 'node:perf_hooks';
import { EditHistory } from '../server/out/nextEdit/history.js';
import { nextEditInput } from '../server/out/nextEdit/context.js';
import { FORMATS } from '../server/out/nextEdit/formats.js';
import { answerToEdits, applyEdits } from '../server/out/nextEdit/edits.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const repo = opt('repo');
if (args.includes('--overhead')) {
  await overhead(Number(opt('rounds', '60')));
  process.exit(0);
}
if (!repo) {
  console.error('usage: node bench/nextEdit.js --repo DIR [--commits N] [--ext ts,js] | --overhead [--rounds N]');
  process.exit(2);
}
const maxCommits = Number(opt('commits', '400'));
const exts = opt('ext', 'ts,js,tsx,py,go').split(',');
const NEAR_LINES = 30;

const git = (...a) => execFileSync('git', ['-C', repo, ...a], { encoding: 'utf8', maxBuffer: 64 << 20 });

/** Hunks of one commit per file: old start/count and the new lines. */
function hunksOf(sha) {
  const out = new Map();
  let file;
  for (const line of git('show', '--unified=0', '--format=', '--no-color', '--no-renames', sha).split('\n')) {
    if (line.startsWith('+++ ')) {
      file = line.startsWith('+++ b/') ? line.slice(6) : undefined;
      if (file && !exts.some((e) => file.endsWith(`.${e}`))) file = undefined;
      if (file) out.set(file, []);
      continue;
    }
    if (!file) continue;
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (m) {
      const oldCount = m[2] === undefined ? 1 : Number(m[2]);
      // An empty old side names the line before it.
      out.get(file).push({ oldStart: oldCount === 0 ? Number(m[1]) : Number(m[1]) - 1, oldCount, added: [] });
      continue;
    }
    const hs = out.get(file);
    if (line.startsWith('+') && hs.length > 0) hs[hs.length - 1].added.push(line.slice(1));
  }
  return out;
}

const p50 = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : 0);
const stats = Object.fromEntries(Object.keys(FORMATS).map((f) => [f, { steps: 0, inRegion: 0, exact: 0, undo: 0, refused: {}, renderMs: [], parseMs: [] }]));
let commits = 0;
let files = 0;
let stepsAll = 0;
let near = 0;

const shas = git('log', '--no-merges', `-n${maxCommits}`, '--format=%H').split('\n').filter(Boolean);
for (const sha of shas) {
  let perFile;
  try {
    perFile = hunksOf(sha);
  } catch {
    continue;
  }
  let used = false;
  for (const [path, hunks] of perFile) {
    if (hunks.length < 2 || hunks.length > 20) continue;
    let text;
    try {
      text = git('show', `${sha}^:${path}`);
    } catch {
      continue; // a new file
    }
    if (text.includes('\r')) continue;
    files++;
    used = true;
    // Replayed in file order, each hunk applied to the text with the ones before it applied:
    // lines shift by what those added or removed.
    let lines = text.split('\n');
    let shift = 0;
    let t = 0;
    const history = new EditHistory({ now: () => t, relativePath: () => path });
    const uri = `file:///repo/${path}`;
    for (let i = 0; i + 1 < hunks.length; i++) {
      const h = hunks[i];
      const start = h.oldStart + shift;
      const before = lines.join('\n');
      lines = [...lines.slice(0, start), ...h.added, ...lines.slice(start + h.oldCount)];
      shift += h.added.length - h.oldCount;
      const now = lines.join('\n');
      t += 10_000; // each hunk a step of its own
      history.changed(uri, before, start, start + Math.max(0, h.added.length - 1), h.added.length - h.oldCount, () => now);
      // The cursor at the end of the edit (its last added line's end, else where the lines went).
      const cursorLine = h.added.length > 0 ? start + h.added.length - 1 : Math.min(start, lines.length - 1);
      let cursor = 0;
      for (let k = 0; k < cursorLine; k++) cursor += lines[k].length + 1;
      cursor += h.added.length > 0 ? lines[cursorLine].length : 0;
      const next = hunks[i + 1];
      const nStart = next.oldStart + shift;
      const trueLines = [...lines.slice(0, nStart), ...next.added, ...lines.slice(nStart + next.oldCount)];
      const trueText = trueLines.join('\n');
      stepsAll++;
      if (Math.abs(nStart - cursorLine) > NEAR_LINES) continue;
      near++;
      const input = nextEditInput({ history, uri, path, text: now, cursor, lines: () => undefined, mayJoin: () => true });
      for (const [name, format] of Object.entries(FORMATS)) {
        const s = stats[name];
        s.steps++;
        const r0 = performance.now();
        const prompt = format.render(input);
        s.renderMs.push(performance.now() - r0);
        const region = prompt.region;
        const nEnd = nStart + Math.max(next.oldCount, 1);
        if (!(nStart >= region.startLine && nEnd <= region.endLine)) continue;
        s.inRegion++;
        // The true next region, written back as the model would answer it.
        const newRegion = trueLines.slice(region.startLine, region.endLine + next.added.length - next.oldCount).join('\n');
        const answer = name === 'sweep' ? `${newRegion}\n` : name === 'zeta' ? `\`\`\`${path}\n<|editable_region_start|>\n${newRegion}\n<|editable_region_end|>\n\`\`\`` : `<|editable_region_start|>\n${newRegion}\n<|editable_region_end|>`;
        const last = history.last(uri);
        const p0 = performance.now();
        const out = answerToEdits({ text: now, region, parsed: format.parse(answer, true), ...(last ? { last: lastChange(last) } : {}) });
        s.parseMs.push(performance.now() - p0);
        if (!out.ok) {
          if (out.reason.includes('undoes')) s.undo++;
          s.refused[out.reason.replace(/\(.*\)/, '()')] = (s.refused[out.reason.replace(/\(.*\)/, '()')] ?? 0) + 1;
          continue;
        }
        if (applyEdits(now, out.edits) === trueText) s.exact++;
      }
    }
  }
  if (used) commits++;
}

function lastChange(step) {
  const { head, tail } = step.context;
  return { line: step.line + head, removed: step.before.slice(head, step.before.length - tail), added: step.after.slice(head, step.after.length - tail) };
}

const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)} %` : '-');
console.log(`repo ${repo}: ${commits} commits, ${files} files with 2+ hunks, ${stepsAll} steps, ${near} with the next edit within ${NEAR_LINES} lines`);
console.log('| format | steps | next edit in region | parsed back exactly (of those in region) | refused by a rule | of them as undo | render p50 ms | parse p50 ms |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, s] of Object.entries(stats)) {
  const refused = Object.values(s.refused).reduce((a, b) => a + b, 0);
  console.log(`| ${name} | ${s.steps} | ${pct(s.inRegion, s.steps)} | ${pct(s.exact, s.inRegion)} | ${refused} | ${s.undo} | ${p50(s.renderMs).toFixed(2)} | ${p50(s.parseMs).toFixed(2)} |`);
}
for (const [name, s] of Object.entries(stats)) if (Object.keys(s.refused).length) console.log(`${name} refused: ${JSON.stringify(s.refused)}`);

/**
 * `--overhead`: a next-edit request over stdio (textDocument/copilotInlineEdit after a keystroke,
 * the built server against the fake vLLM answering after 40 ms) against the same backend request
 * made directly (the body the server sent, replayed with fetch), rounds taking turns; p50 of each
 * and their ratio (target <= 1.05).
 */
async function overhead(rounds) {
  const lines = ['// geometry', 'export function area(w: number, h: number, d: number) {', '  return w * h * d;', '}', ''];
  for (let i = 0; i < 60; i++) lines.push(`export function f${i}(x: number): number {`, `  return x + ${i};`, '}', '');
  lines.push('export function report(w: number, h: number) {', '  console.log(area(w, h));', '}', '');
  const text = lines.join('\n');
  const callLine = lines.indexOf('  console.log(area(w, h));');
  const fake = await startFakeVllm({
    model: 'zed-industries/zeta',
    latencyMs: 40,
    respond: (req) => {
      const prompt = req.body.prompt;
      const start = prompt.indexOf('<|editable_region_start|>\n') + '<|editable_region_start|>\n'.length;
      const region = prompt.slice(start, prompt.indexOf('\n<|editable_region_end|>')).replace('<|user_cursor_is_here|>', '');
      const text = `\`\`\`a.ts\n<|editable_region_start|>\n${region.replace('area(w, h)', 'area(w, h, 1)')}\n<|editable_region_end|>\n\`\`\``;
      // --one-chunk: the answer in one streamed piece (the cost of reading ~4-character pieces apart).
      return args.includes('--one-chunk') ? { text, chunks: [text] } : { text };
    },
  });
  // --profile DIR: the server runs with --cpu-prof, its profile written to DIR.
  const prof = opt('profile');
  const client = new LspClient({ env: { TANDEM_CONFIG: '', XDG_CONFIG_HOME: join(tmpdir(), 'tandem-bench-no-home') }, ...(prof ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${prof}`] } : {}) });
  await client.initialize({ initializationOptions: { backends: { gpu: { kind: 'vllm', url: fake.url } }, context: { enabled: false } }, rootUri: 'file:///bench' });
  const uri = 'file:///bench/src/geo.ts';
  client.open(uri, 'typescript', text);
  let version = 1;
  const ask = async () => {
    // A keystroke on the comment line, then the request at the call, as a client asks once the edit settles.
    // --no-keystroke: the request alone (to tell the keystroke's own work from the request's).
    if (!args.includes('--no-keystroke')) client.change(uri, ++version, [{ range: { start: { line: 0, character: 2 }, end: { line: 0, character: 2 } }, text: 'x' }]);
    const t = performance.now();
    const r = await client.request('textDocument/copilotInlineEdit', { textDocument: { uri, version }, position: { line: callLine - 3, character: 0 } });
    if (r.edits.length !== 1) throw new Error(`no edit in the overhead benchmark: ${JSON.stringify(r)}`);
    return performance.now() - t;
  };
  const raw = async (body) => {
    const t = performance.now();
    const res = await fetch(`${fake.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    let out = '';
    for await (const chunk of res.body) out += Buffer.from(chunk).toString();
    if (!out.includes('[DONE]')) throw new Error('raw request did not finish its stream');
    return performance.now() - t;
  };
  await ask(); // warm-up: model discovery, JIT
  const lsp = [];
  const direct = [];
  for (let i = 0; i < rounds; i++) {
    lsp.push(await ask());
    direct.push(await raw(fake.completions().at(-1).body));
  }
  const stats = await client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] });
  await client.stop();
  await fake.close();
  const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const a = med(lsp);
  const b = med(direct);
  console.log(`next-edit request over stdio p50 ${a.toFixed(1)} ms, the same backend request direct p50 ${b.toFixed(1)} ms: ratio ${(a / b).toFixed(3)} (${rounds} rounds; nextEdit counts ${JSON.stringify(stats.nextEdit)})`);
}
