// @ts-check
// `npm run bench:nextEdit -- [--repo DIR] [--commits N] [--ext ts,js] [--corpus defuse|all]`:
// replays edit sequences mined from a repository's history through the next-edit formats, without
// a model or a GPU. `--overhead` measures the server's own time instead (below).
//
// Corpus (`--corpus defuse`, the default): commits that change a definition and then its uses. Of
// the newest N non-merge commits (hunks of `git show --unified=0`), a hunk that changes a
// declaration (a function, method, class, type, interface, variable or field: its name on a
// removed and an added line, or one name renamed to another) is a definition step; the hunks of the
// same commit whose changed lines use that name (the old one, for a rename) are its uses. Each
// definition is replayed as the user's first edit, then its uses in its own file in file order,
// each as the edit after the one before; uses in other files are replayed likewise in their file,
// with the definition's step already in the edit history (the user came from there), the first
// use being the user's edit there. `--corpus all`: every file a commit changes in 2+ places,
// its hunks in file order (the first version of this benchmark).
//
// Each step: the file as of the parent with the sequence's earlier hunks applied, one hunk applied
// as the user's edit (fed to the EditHistory as one change, the cursor at its end), and the
// sequence's next hunk is the true next edit. Per format (zeta, sweep, instruct), on the steps
// whose true next edit lies within 30 lines of the last edit:
// - inRegion: the true next edit's lines lie inside the region the prompt sends;
// - exact: the region with the true edit applied, written back in the format's answer (markers,
//   window) and read by the server's parser and edit differ (nextEdit/edits.ts, without the
//   syntax check), makes the file exactly the true next text;
// - undo: answers the differ refused as undoing the user's last edit (a true edit never should);
// - renderMs / parseMs: the server's own time to build the prompt and to turn the answer into edits (p50).
// Uses the built server (server/out: `npx tsc -p tsconfig.json` first; the npm script does).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { overheadFake } from './nextEditFake.js';
import { LspClient } from '../test/lsp-client.js';
import { performance } from 'node:perf_hooks';
import { EditHistory, STEP_PAUSE_MS } from '../server/out/nextEdit/history.js';
import { nextEditInput } from '../server/out/nextEdit/context.js';
import { FORMATS } from '../server/out/nextEdit/formats.js';
import { answerToEdits, applyEdits } from '../server/out/nextEdit/edits.js';
import { parseUnifiedDiff } from '../server/out/nextEdit/replay.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
if (args.includes('--overhead')) {
  await overhead(Number(opt('rounds', '60')));
  process.exit(0);
}
if (args.includes('--syntax-check')) {
  await syntaxCheckCost(Number(opt('rounds', '2000')));
  process.exit(0);
}
// Without --repo: this checkout's own history.
const repo = opt('repo', '.');
const corpus = opt('corpus', 'defuse');
if (corpus !== 'defuse' && corpus !== 'all') {
  console.error(`--corpus ${corpus}: expected defuse or all`);
  process.exit(2);
}
const maxCommits = Number(opt('commits', '400'));
const exts = opt('ext', 'ts,js,tsx,py,go').split(',');
const NEAR_LINES = 30;
/** Uses replayed after one definition in one file, at most (a rename across a big file is one step repeated). */
const MAX_USES = 12;

const git = (...a) => execFileSync('git', ['-C', repo, ...a], { encoding: 'utf8', maxBuffer: 256 << 20 });

/** Hunks of one commit per file of the kept extensions: `{oldStart, removed, added}` (nextEdit/replay.ts). */
function hunksOf(sha) {
  const out = new Map();
  for (const [file, hunks] of parseUnifiedDiff(git('show', '--unified=0', '--format=', '--no-color', '--no-renames', '--no-ext-diff', sha))) {
    if (exts.some((e) => file.endsWith(`.${e}`))) out.set(file, hunks.map((h, i) => ({ ...h, index: i })));
  }
  return out;
}

// Declarations: the name a line declares, if it declares one (a signature, a variable, a field).
const KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'function', 'else', 'do', 'try', 'with', 'await', 'new', 'typeof', 'super', 'this', 'constructor', 'elif', 'except', 'print', 'assert', 'import', 'from', 'export', 'default', 'case', 'throw', 'yield']);
const DECLARATIONS = [
  // function f(, class C, interface I, type T, enum E, def f(, fn f(, struct S, trait T
  /\b(?:function\*?|class|interface|type|enum|def|fn|struct|trait|namespace)\s+([A-Za-z_$][\w$]*)/,
  // Go: func f( and func (r *T) f(
  /\bfunc\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)\s*[([]/,
  // const x =, let x: T =, var x
  /\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*[:=]/,
  // a method: modifiers, a name, parameters (or their first line), an optional return type, then `{` or `(` at the end
  /^\s*(?:(?:public|private|protected|static|async|readonly|override|abstract|get|set|export|default)\s+)*\*?([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*\((?:[^)]*\)\s*(?::\s*[^={};]+)?\{|[^)]*)\s*$/,
  // a field or property of a type: name?: Type;
  /^\s*(?:(?:public|private|protected|static|readonly|declare)\s+)*([A-Za-z_$][\w$]*)\??\s*:\s*(?!['"`\d])[^=;,(){}]+[;,]?\s*$/,
];
function declared(line) {
  for (const re of DECLARATIONS) {
    const m = re.exec(line);
    if (m && !KEYWORDS.has(m[1]) && m[1].length > 1) return m[1];
  }
  return undefined;
}

/**
 * The definition a hunk changes: `{was, now}`, the name declared on both a removed and an added
 * line whose text changed (a signature: `was` = `now`), or the one name its removed lines declare
 * and the other its added lines do (a rename). A variable only counts when it holds a function
 * (`= (...) =>`, `= function`): a new value of a variable is no change of how it is used.
 */
function definitionOf(h) {
  const decls = (lines) => new Map(lines.map((l) => [declared(l), l]).filter(([n, l]) => n !== undefined && (!/\b(?:const|let|var)\s/.test(l) || /=\s*(?:async\s*)?(?:\(|function\b|[A-Za-z_$][\w$]*\s*=>)/.test(l))));
  const was = decls(h.removed);
  const now = decls(h.added);
  const both = [...was.keys()].filter((n) => now.has(n) && now.get(n).trim() !== was.get(n).trim());
  if (both.length === 1) return { was: both[0], now: both[0] };
  if (was.size === 1 && now.size === 1 && !now.has([...was.keys()][0])) return { was: [...was.keys()][0], now: [...now.keys()][0] };
  return undefined;
}

const wordRe = (name) => new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`);
/**
 * A hunk that changes a use of the definition: a removed line that uses its old name and an added
 * line that uses its new one (the call or reference rewritten), neither of them a declaration.
 */
function changesUse(h, def) {
  const use = (lines, name) => {
    const re = wordRe(name);
    return lines.some((l) => declared(l) === undefined && re.test(l));
  };
  return use(h.removed, def.was) && use(h.added, def.now);
}

/**
 * The replay sequences of one commit: each `{path, hunks, prior?}`, hunks in replay order; `prior`,
 * a step in another file the edit history holds before the sequence's first hunk.
 */
function sequencesOf(perFile) {
  const out = [];
  if (corpus === 'all') {
    for (const [path, hunks] of perFile) if (hunks.length >= 2 && hunks.length <= 20) out.push({ path, hunks });
    return out;
  }
  // A hunk is replayed in one sequence at most: the first definition that claims it.
  const claimed = new Set();
  for (const [path, hunks] of perFile) {
    for (const defHunk of hunks) {
      const def = definitionOf(defHunk);
      if (!def || claimed.has(defHunk)) continue;
      for (const [usePath, useHunks] of perFile) {
        const uses = useHunks.filter((h) => h !== defHunk && !claimed.has(h) && changesUse(h, def)).slice(0, MAX_USES);
        if (usePath === path && uses.length >= 1) out.push({ path, hunks: [defHunk, ...uses], def: def.was === def.now ? def.was : `${def.was}->${def.now}` });
        else if (usePath !== path && uses.length >= 2) out.push({ path: usePath, hunks: uses, def: def.was === def.now ? def.was : `${def.was}->${def.now}`, prior: { path, hunk: defHunk } });
        else continue;
        for (const u of uses) claimed.add(u);
        claimed.add(defHunk);
      }
    }
  }
  return out;
}

/**
 * The file's lines with `hunk` applied, where `applied` (hunks of the same commit, by their place
 * in the old file) are already in: a hunk's line moves by what those above it added or removed.
 */
function lineOf(hunk, applied) {
  let shift = 0;
  for (const a of applied) if (a.oldStart < hunk.oldStart || (a.oldStart === hunk.oldStart && a.index < hunk.index)) shift += a.added.length - a.removed.length;
  return hunk.oldStart + shift;
}
function apply(lines, hunk, applied) {
  const start = lineOf(hunk, applied);
  return { start, lines: [...lines.slice(0, start), ...hunk.added, ...lines.slice(start + hunk.removed.length)] };
}

/** A file as of a commit's parent; undefined for a file the commit added. */
const parents = new Map();
function parentText(sha, path) {
  const key = `${sha}:${path}`;
  if (!parents.has(key)) {
    try {
      parents.set(key, git('show', `${sha}^:${path}`));
    } catch {
      parents.set(key, undefined);
    }
  }
  return parents.get(key);
}

const p50 = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : 0);
const stats = Object.fromEntries(Object.keys(FORMATS).map((f) => [f, { steps: 0, inRegion: 0, exact: 0, undo: 0, refused: {}, renderMs: [], parseMs: [] }]));
let commits = 0;
let sequences = 0;
let crossFile = 0;
let stepsAll = 0;
let near = 0;
const names = new Set();

const shas = git('log', '--no-merges', `-n${maxCommits}`, '--format=%H').split('\n').filter(Boolean);
for (const sha of shas) {
  let perFile;
  try {
    perFile = hunksOf(sha);
  } catch {
    continue;
  }
  let used = false;
  for (const seq of sequencesOf(perFile)) {
    const { path, hunks } = seq;
    const text = parentText(sha, path);
    if (text === undefined) continue; // a new file
    if (text.includes('\r')) continue;
    used = true;
    sequences++;
    if (seq.prior) crossFile++;
    if (seq.def) names.add(`${sha.slice(0, 8)} ${seq.def}`);
    let t = 0;
    const history = new EditHistory({ now: () => t, relativePath: (u) => u.slice('file:///repo/'.length) });
    const uri = `file:///repo/${path}`;
    if (seq.prior) {
      // The definition's step, in its own file, before the user came here.
      const priorText = parentText(sha, seq.prior.path);
      if (priorText === undefined) continue;
      const { start, lines: after } = apply(priorText.split('\n'), seq.prior.hunk, []);
      const now = after.join('\n');
      history.changed(`file:///repo/${seq.prior.path}`, priorText, start, start + Math.max(0, seq.prior.hunk.added.length - 1), seq.prior.hunk.added.length - seq.prior.hunk.removed.length, () => now);
    }
    let lines = text.split('\n');
    const applied = [];
    for (let i = 0; i + 1 < hunks.length; i++) {
      const h = hunks[i];
      const before = lines.join('\n');
      const { start, lines: next } = apply(lines, h, applied);
      lines = next;
      applied.push(h);
      const now = lines.join('\n');
      t += STEP_PAUSE_MS + 10_000; // each hunk a step of its own
      history.changed(uri, before, start, start + Math.max(0, h.added.length - 1), h.added.length - h.removed.length, () => now);
      // The cursor at the end of the edit (its last added line's end, else where the lines went).
      const cursorLine = h.added.length > 0 ? start + h.added.length - 1 : Math.min(start, lines.length - 1);
      let cursor = 0;
      for (let k = 0; k < cursorLine; k++) cursor += lines[k].length + 1;
      cursor += h.added.length > 0 ? lines[cursorLine].length : 0;
      const nextHunk = hunks[i + 1];
      const { start: nStart, lines: trueLines } = apply(lines, nextHunk, applied);
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
        const nEnd = nStart + Math.max(nextHunk.removed.length, 1);
        if (!(nStart >= region.startLine && nEnd <= region.endLine)) continue;
        s.inRegion++;
        // The true next region, written back as the model would answer it.
        const newRegion = trueLines.slice(region.startLine, region.endLine + nextHunk.added.length - nextHunk.removed.length).join('\n');
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
console.log(`repo ${repo} (corpus ${corpus}): ${shas.length} commits read, ${commits} used, ${sequences} sequences (${crossFile} in a file other than the definition's), ${stepsAll} steps, ${near} with the next edit within ${NEAR_LINES} lines`);
if (corpus === 'defuse' && args.includes('--names')) console.log(`definitions: ${[...names].join(', ')}`);
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
 * and their ratio (target <= 1.05). `--ab CHECKOUT...`: one server per checkout (each built with
 * tsc), all against the same fake, their rounds taking turns, so that on a shared machine every
 * build meets the same moments of load; a line per checkout.
 */
/** The overhead benchmark's document: a definition with a new parameter, 60 functions, then its call. */
function geometry() {
  const lines = ['// geometry', 'export function area(w: number, h: number, d: number) {', '  return w * h * d;', '}', ''];
  for (let i = 0; i < 60; i++) lines.push(`export function f${i}(x: number): number {`, `  return x + ${i};`, '}', '');
  lines.push('export function report(w: number, h: number) {', '  console.log(area(w, h));', '}', '');
  return lines;
}

/**
 * `--syntax-check`: the server's own time to turn the overhead benchmark's answer into edits
 * (nextEdit/edits.ts) with the syntax check, its errors before counted on the document's tree
 * (as the server does once the document's re-parse ran) against the excerpt parsed before and after
 * (without a tree), in process, taking turns; p50 of each in µs and the CPU time of all rounds.
 */
async function syntaxCheckCost(rounds) {
  const { loadSyntax } = await import('../server/out/syntax/binding.js');
  const { ParseService } = await import('../server/out/syntax/tree.js');
  const { regionAround, zeta } = await import('../server/out/nextEdit/formats.js');
  await loadSyntax();
  const parser = new ParseService();
  const lines = geometry();
  const text = lines.join('\n');
  const call = lines.indexOf('  console.log(area(w, h));');
  const region = regionAround(text, text.indexOf('  console.log(area(w, h));'), 8, 20);
  const edited = [...lines];
  edited[call] = '  console.log(area(w, h, 1));';
  const answer = `<|editable_region_start|>\n${edited.slice(region.startLine, region.endLine).join('\n')}\n<|editable_region_end|>`;
  const tree = parser.parseNow('typescript', text);
  const parse = (lang, t, maxMs) => parser.parseNow(lang, t, { maxMs });
  const variants = { 'parsed before and after': { lang: 'typescript', parse }, "counted on the document's tree": { lang: 'typescript', parse, tree: () => tree } };
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, { us: [], cpu: 0 }]));
  for (let i = 0; i < rounds; i++) {
    for (const [name, syntax] of Object.entries(variants)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = answerToEdits({ text, region, parsed: zeta.parse(answer, true), syntax });
      times[name].us.push((performance.now() - t0) * 1000);
      const c = process.cpuUsage(c0);
      times[name].cpu += c.user + c.system;
      if (!out.ok || out.edits[0].text !== ', 1') throw new Error(`the syntax check benchmark's answer was refused: ${JSON.stringify(out)}`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, t] of Object.entries(times)) console.log(`syntax check ${name}: p50 ${median(t.us).toFixed(0)} µs a request, CPU ${(t.cpu / rounds).toFixed(0)} µs a request (${rounds} rounds)`);
}

/** The overhead fake run as a process of its own (bench/nextEditFake.js): its URL, the last body it was sent, and a way to stop it. */
async function fakeProcess() {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'nextEditFake.js'), ...(args.includes('--one-chunk') ? ['--one-chunk'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench/nextEditFake.js exited (${code}) before it listened`)));
  });
  const { url, last } = JSON.parse(/** @type {string} */ (line));
  return {
    url,
    lastBody: async () => (await fetch(last)).json(),
    close: async () => {
      child.stdin?.end();
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** The overhead fake in this process, with the same face as fakeProcess's. */
async function inProcessFake() {
  const fake = await overheadFake({ oneChunk: args.includes('--one-chunk') });
  return { url: fake.url, lastBody: async () => fake.completions().at(-1)?.body, close: () => fake.close() };
}

async function overhead(rounds) {
  const lines = geometry();
  const text = lines.join('\n');
  const callLine = lines.indexOf('  console.log(area(w, h));');
  // --fake-process: the fake in a process of its own, as a real backend is; else in this one.
  const fake = args.includes('--fake-process') ? await fakeProcess() : await inProcessFake();
  // --profile DIR: the server runs with --cpu-prof, its profile written to DIR.
  const prof = opt('profile');
  const at = args.indexOf('--ab');
  const after = at < 0 ? [] : args.slice(at + 1);
  const end = after.findIndex((x) => x.startsWith('--'));
  const checkouts = at < 0 ? [undefined] : end < 0 ? after : after.slice(0, end);
  if (checkouts.length === 0) throw new Error('--ab: name one or more checkouts, each built with tsc');
  const sessions = [];
  for (const [n, checkout] of checkouts.entries()) {
    const client = new LspClient({
      ...(checkout ? { bin: join(checkout, 'server', 'bin', 'tandem-lsp.js') } : {}),
      env: { TANDEM_CONFIG: '', XDG_CONFIG_HOME: join(tmpdir(), 'tandem-bench-no-home') },
      ...(prof ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${prof}`] } : {}),
    });
    await client.initialize({ initializationOptions: { backends: { gpu: { kind: 'vllm', url: fake.url } }, context: { enabled: false } }, rootUri: 'file:///bench' });
    const uri = `file:///bench/src/geo${n}.ts`;
    client.open(uri, 'typescript', text);
    sessions.push({ name: checkout ?? '.', client, uri, version: 1, lsp: /** @type {number[]} */ ([]), direct: /** @type {number[]} */ ([]), cpu0: 0 });
  }
  /** @param {typeof sessions[number]} s */
  const ask = async (s) => {
    // A keystroke on the comment line, then the request at the call, as a client asks once the edit settles.
    // --no-keystroke: the request alone (to tell the keystroke's own work from the request's).
    if (!args.includes('--no-keystroke')) s.client.change(s.uri, ++s.version, [{ range: { start: { line: 0, character: 2 }, end: { line: 0, character: 2 } }, text: 'x' }]);
    const t = performance.now();
    const r = /** @type {any} */ (await s.client.request('textDocument/copilotInlineEdit', { textDocument: { uri: s.uri, version: s.version }, position: { line: callLine - 3, character: 0 } }));
    if (r.edits.length !== 1) throw new Error(`no edit in the overhead benchmark: ${JSON.stringify(r)}`);
    return performance.now() - t;
  };
  /** @param {unknown} body */
  const raw = async (body) => {
    const t = performance.now();
    const res = await fetch(`${fake.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    let out = '';
    for await (const chunk of /** @type {any} */ (res.body)) out += Buffer.from(chunk).toString();
    if (!out.includes('[DONE]')) throw new Error('raw request did not finish its stream');
    return performance.now() - t;
  };
  // The server's own CPU time (user + system, from /proc in ticks of 10 ms, over all rounds): what
  // a loaded machine inflates least, as a wall-clock ratio is inflated by waiting for a core.
  /** @param {typeof sessions[number]} s */
  const cpuTicks = (s) => {
    const stat = readFileSync(`/proc/${s.client.child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(stat[11]) + Number(stat[12]);
  };
  for (const s of sessions) {
    await ask(s); // warm-up: model discovery, JIT
    s.cpu0 = cpuTicks(s);
  }
  for (let i = 0; i < rounds; i++) {
    for (const s of sessions) {
      s.lsp.push(await ask(s));
      s.direct.push(await raw(await fake.lastBody()));
    }
  }
  const med = (/** @type {number[]} */ xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
  for (const s of sessions) {
    const cpuMs = ((cpuTicks(s) - s.cpu0) * 10) / rounds;
    const stats = /** @type {any} */ (await s.client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }));
    await s.client.stop();
    const a = med(s.lsp);
    const b = med(s.direct);
    console.log(`${sessions.length > 1 ? `${s.name}: ` : ''}next-edit request over stdio p50 ${a.toFixed(1)} ms, the same backend request direct p50 ${b.toFixed(1)} ms: ratio ${(a / b).toFixed(3)}; server CPU ${cpuMs.toFixed(2)} ms a request (${rounds} rounds; nextEdit counts ${JSON.stringify(stats.nextEdit)})`);
  }
  await fake.close();
}
