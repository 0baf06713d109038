// @ts-check
// Scripted editing sessions for `npm run bench` (issue 15, part 3): typing through a shown
// completion on an editor that closes pairs, and the share of ghost text answered without a
// backend request in a session that accepts about a third of what it is shown. The editor is
// test/editor.js (VS Code's default habits); the model is the loopback fake vLLM answering from
// the file the typist is writing (right on some answers, wrong after a point on the others).
import { join } from 'node:path';
import { keystroke, ScriptedEditor } from '../test/editor.js';
import { startFakeVllm } from '../test/fake/vllm.js';
import { LspClient } from '../test/lsp-client.js';
import { Rng } from './fuzzGen.js';

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
/** The longest block the fake model of row (b) writes whole. */
const MAX_BLOCK_LINES = 4;
/** A wrong answer of row (b)'s fake model is right for fewer characters than this. */
const WRONG_AFTER = 8;

/**
 * Where the request's cursor is in `target`: the end of the prompt's text before the cursor,
 * found in the target by its last `tail` characters (-1 when the text is not the target's); where
 * they occur more than once (a block like the one before), the occurrence ending at `near`.
 * @param {any} body @param {string} target @param {number} [near]
 */
function cursorIn(body, target, near = -1, tail = 80) {
  const p = /** @type {string} */ (body.prompt);
  const end = p.indexOf('<|fim_suffix|>');
  const before = p.slice(Math.max(0, end - tail), end);
  // The text before `near` ends like the prompt's (all of it, near the file's start, where the
  // prompt's own head comes before the text).
  let same = 0;
  while (same < before.length && same < near && before[before.length - 1 - same] === target[near - 1 - same]) same++;
  if (near >= 0 && same === Math.min(before.length, near)) return near;
  const k = target.indexOf(before);
  return k < 0 ? -1 : k + before.length;
}

/**
 * What a good model would write at `k` of `target`: the rest of the line, and when the line opens
 * a block of at most MAX_BLOCK_LINES lines, the block to its end; at a line's end, the next `statements` lines so (a real model
 * completes a block rather than leave it open, and the server would close one left open).
 * @param {string} target @param {number} k @param {number} statements
 */
function continuation(target, k, statements) {
  let end = k;
  const lineEnd = (/** @type {number} */ from) => {
    const e = target.indexOf('\n', from);
    return e < 0 ? target.length : e;
  };
  const untilClosed = (/** @type {number} */ from) => {
    const first = lineEnd(from);
    let e = first;
    let depth = 0;
    for (let i = from; i < e; i++) depth += target[i] === '{' ? 1 : target[i] === '}' ? -1 : 0;
    for (let lines = 1; depth > 0 && e < target.length; lines++) {
      // A block longer than a model writes at once (the server's maxLines is 16): its first line only.
      if (lines > MAX_BLOCK_LINES) return first;
      const next = lineEnd(e + 1);
      for (let i = e + 1; i < next; i++) depth += target[i] === '{' ? 1 : target[i] === '}' ? -1 : 0;
      e = next;
    }
    return e;
  };
  if (target[k] !== '\n' && k < target.length) return target.slice(k, untilClosed(k));
  for (let n = 0; n < statements && end < target.length; n++) {
    // Blank lines before a statement come with it.
    while (target[end + 1] === '\n') end++;
    end = untilClosed(end + 1);
  }
  return target.slice(k, end);
}

/** @param {string} home @param {string} url @param {object} [inline] */
async function server(home, url, inline = {}) {
  const client = new LspClient({ env: { TANDEM_CONFIG: '', XDG_CONFIG_HOME: join(home, 'no-home') } });
  await client.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url } }, inline: { debounceMs: 0, ...inline }, context: { enabled: false } } });
  return client;
}

/** @param {LspClient} client */
const stats = (client) => /** @type {Promise<any>} */ (client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }));

/**
 * Row (a): a multi-line completion is shown at the start of a function body, and the typist types
 * it key by key on an editor that closes (, [, {, quotes, types over its closers and splits braces
 * on Enter; the editor asks for ghost text after every edit. Backend requests are counted at the fake.
 * @param {string} home @param {number} latencyMs
 */
export async function typingThroughClosers(home, latencyMs) {
  const doc = 'export function render(items: Item[], out: string[], seen: Map<string, number>): void {\n  \n}\n';
  const P = doc.indexOf('  \n') + 2;
  const body = [
    'const limit = Math.max(1, items.length);',
    '  for (const item of items.slice(0, limit)) {',
    '    if (item.tags.includes("skip") || item.name === "") {',
    '      continue;',
    '    }',
    '    const key = [item.kind, item.name].join(":");',
    '    seen.set(key, (seen.get(key) ?? 0) + 1);',
    '    out.push(format(item, { key, count: seen.get(key) }));',
    '  }',
  ].join('\n');
  const target = doc.slice(0, P) + body + doc.slice(P);
  const fake = await startFakeVllm({
    latencyMs,
    respond: (req) => {
      const k = cursorIn(req.body, target);
      return { text: k < 0 ? '' : target.slice(k, P + body.length) };
    },
  });
  const client = await server(home, fake.url);
  const uri = 'file:///bench/src/render.ts';
  client.open(uri, 'typescript', doc);
  const ed = new ScriptedEditor(client, uri, doc, P);
  const first = await ed.inline();
  if (first.items[0]?.insertText !== body) throw new Error(`typing bench: the completion shown is not the body: ${JSON.stringify(first.items[0]?.insertText)}`);
  let keys = 0;
  let edits = 0;
  let wrong = 0;
  let overClosers = 0;
  for (let k = keystroke(ed, target); k !== null; k = keystroke(ed, target)) {
    keys++;
    if (k === 'move') continue;
    edits++;
    const { items } = await ed.inline();
    if (items[0] && !ed.fits(items[0], target)) wrong++;
    if (items[0] && items[0].range.end.character > items[0].range.start.character) overClosers++;
  }
  if (ed.text !== target) throw new Error('typing bench: the typist did not reach the target');
  const s = await stats(client);
  await client.stop();
  await fake.close();
  return { keys, edits, requests: fake.completions().length, wrong, overClosers, typedThrough: s.local.typedThrough };
}

/**
 * The file the typist of row (b) writes: small functions (each a block a model writes whole) with
 * calls, strings, brackets and nested braces.
 */
function sessionFile() {
  const out = ['import { readFile } from "node:fs/promises";', 'import * as path from "node:path";', ''];
  for (let i = 0; i < 10; i++) {
    out.push(
      `export async function load${i}(root: string, name: string): Promise<number> {`,
      '  const file = path.join(root, name + ".json");',
      '  const data = JSON.parse(await readFile(file, "utf8")) as { count?: number };',
      `  return (data.count ?? 0) * ${i + 2};`,
      '}',
      '',
      `export function total${i}(items: Map<string, number>, names: string[]): number {`,
      '  let sum = 0;',
      '  for (const name of names) {',
      '    if (!items.has(name)) {',
      `      throw new Error("unknown item: " + name + " in set ${i}");`,
      '    }',
      '    sum += items.get(name) ?? 0;',
      '  }',
      '  return sum;',
      '}',
      '',
    );
  }
  return out.join('\n');
}

/**
 * Row (b): the typist writes `sessionFile()` from an empty document. The fake model answers from
 * that file at the request's cursor (`continuation`: the rest of the line, at a line's end the
 * next statement, a block of at most MAX_BLOCK_LINES whole); on `wrongShare` of the places (chosen
 * by the place, so that asking again gets the same answer) it is right for fewer than WRONG_AFTER
 * characters, then writes something else. After every edit the editor asks for ghost text; a shown
 * one that is right is accepted with probability `acceptP` (by default always: that is about a
 * third of what is shown, the rest being wrong ghost text typed through up to where it goes wrong),
 * the editor asking for the next ghost text `pauseMs` after the acceptance (its own debounce);
 * otherwise the typist types on, through the ghost text where it is right. What was
 * shown and how it was answered are the server's own counts and times (tandem.stats).
 * @param {string} home @param {number} latencyMs @param {{ seed?: number, acceptP?: number, wrongShare?: number, pauseMs?: number }} [opts]
 */
export async function localShare(home, latencyMs, opts = {}) {
  const { seed = 15, acceptP = 1, wrongShare = 0.35, pauseMs = 50 } = opts;
  const target = sessionFile();
  /** @type {ScriptedEditor | undefined} */
  let ed;
  const fake = await startFakeVllm({
    latencyMs,
    respond: (req) => {
      const k = cursorIn(req.body, target, ed?.offset);
      if (k < 0) return { text: '' };
      const r = new Rng(seed * 7919 + k);
      let text = continuation(target, k, 1);
      // Wrong: right for a few characters at most, then something else.
      if (r.chance(wrongShare)) text = text.slice(0, r.int(Math.min(WRONG_AFTER, text.length))) + 'unexpected(value);';
      return { text };
    },
  });
  const client = await server(home, fake.url);
  const uri = 'file:///bench/src/store.ts';
  client.open(uri, 'typescript', '');
  ed = new ScriptedEditor(client, uri, '', 0);
  const user = new Rng(seed);
  let keys = 0;
  let shown = 0;
  let accepted = 0;
  /** @type {any[]} */
  let items = (await ed.inline()).items;
  for (;;) {
    if (items.length > 0) {
      shown++;
      if (ed.fits(items[0], target) && user.chance(acceptP)) {
        accepted++;
        await ed.accept(items[0]);
        if (pauseMs > 0) await sleep(pauseMs);
        items = (await ed.inline()).items;
        continue;
      }
    }
    const k = keystroke(ed, target);
    if (k === null) break;
    keys++;
    items = k === 'move' ? [] : (await ed.inline()).items;
  }
  if (ed.text !== target) throw new Error('local-share bench: the typist did not reach the target');
  const s = await stats(client);
  await client.stop();
  await fake.close();
  if (s.shown !== shown) throw new Error(`local-share bench: the server counted ${s.shown} shown, the editor ${shown}`);
  return { keys, shown, accepted, local: s.local, speculative: s.speculative, requests: fake.completions().length };
}
