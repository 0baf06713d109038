// @ts-check
// `node bench/textEdit.js` (after `tsc -p .`): the CPU cost of one keystroke in the 2 MB file of
// bench/pathological.js's case e, for vscode-languageserver-textdocument (one string) and
// server/src/textStore.ts (chunks): the edit, then what the server reads per keystroke (offset and
// position of the cursor, its line), and apart the cost of a whole-text reader after an edit
// (the string flattened, or the chunks joined). CPU time of this process, not wall time, so a
// loaded machine skews it less; the load is printed.
//   node bench/textEdit.js [--edits 300]
import { loadavg } from 'node:os';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { ChunkedText } from '../server/out/textStore.js';
import { arg, MB, realJavaScriptLines } from './harness.js';

const EDITS = Number(arg('edits', '300'));

const lines = realJavaScriptLines(2 * MB);
const text = `${lines.join('\n')}\n`;
const half = lines.length >> 1;

/** CPU ms (user + system) spent by `f`. @param {() => void} f */
function cpuMs(f) {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
}

/**
 * @typedef {{ offsetAt(p: { line: number, character: number }): number, positionAt(o: number): { line: number, character: number }, getText(r?: { start: { line: number, character: number }, end: { line: number, character: number } }): string }} Doc
 * @param {() => Doc} make @param {(d: Doc, p: { line: number, character: number }, ch: string) => void} edit @param {boolean} whole
 */
function perEdit(make, edit, whole) {
  const doc = make();
  let p = { line: half, character: (lines[half] ?? '').length };
  return (
    cpuMs(() => {
      for (let i = 0; i < EDITS; i++) {
        edit(doc, p, 'x');
        p = { line: p.line, character: p.character + 1 };
        doc.positionAt(doc.offsetAt(p));
        doc.getText({ start: { line: p.line, character: 0 }, end: { line: p.line + 1, character: 0 } });
        if (whole) doc.getText().charCodeAt(doc.offsetAt(p));
      }
    }) / EDITS
  );
}

const lib = () => TextDocument.create('file:///e.js', 'javascript', 1, text);
const chunked = () => new ChunkedText('file:///e.js', 'javascript', 1, text);
/** @param {any} d @param {{ line: number, character: number }} p @param {string} ch */
const libEdit = (d, p, ch) => TextDocument.update(d, [{ range: { start: p, end: p }, text: ch }], d.version + 1);
/** @param {any} d @param {{ line: number, character: number }} p @param {string} ch */
const chunkedEdit = (d, p, ch) => d.update([{ range: { start: p, end: p }, text: ch }], d.version + 1);

const load = () => loadavg().map((x) => x.toFixed(2)).join(' / ');
const before = load();
const rows = [];
for (let round = 0; round < 3; round++) {
  rows.push([
    perEdit(lib, libEdit, false),
    perEdit(chunked, chunkedEdit, false),
    perEdit(lib, libEdit, true),
    perEdit(chunked, chunkedEdit, true),
  ]);
}
const median = (/** @type {number} */ i) => rows.map((r) => r[i] ?? NaN).sort((a, b) => a - b)[1] ?? NaN;
process.stdout.write(
  [
    `${(text.length / 1e6).toFixed(2)} M UTF-16 units, ${lines.length} lines, ${/[^\u0000-\u00ff]/.test(text) ? 'two-byte' : 'one-byte'}; ${EDITS} one-character edits mid-file; CPU ms per edit, median of 3 rounds; load ${before} at start, ${load()} at end`,
    '',
    '| per keystroke | vscode-languageserver-textdocument | textStore.ts (chunks) |',
    '|---|---|---|',
    `| edit + cursor offset/position + its line | ${median(0).toFixed(3)} | ${median(1).toFixed(3)} |`,
    `| the same + one whole-text read | ${median(2).toFixed(3)} | ${median(3).toFixed(3)} |`,
    '',
  ].join('\n'),
);
