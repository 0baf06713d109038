// Per-keystroke cost on the 2 MB file of bench case e: apply one-char edit + reads the server does.
import { TextDocument } from 'vscode-languageserver-textdocument';
import { ChunkedText } from '../server/out/textStore.js';
import { realSources, NODE_MODULES, MB } from './harness.js';
const lines = []; let size = 0;
for (const s of realSources(NODE_MODULES)) { if (s.languageId !== 'javascript') continue; for (const l of s.lines) { lines.push(l); size += l.length + 1; } if (size >= 2 * MB) break; }
const text = `${lines.join('\n')}\n`;
console.log('chars', text.length, 'lines', lines.length, 'two-byte', /[^\x00-\xff]/.test(text));
const half = lines.length >> 1;
const N = 300;
function run(name, make, apply, readWhole) {
  const doc = make();
  let p = { line: half, character: lines[half].length };
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    apply(doc, p, 'x');
    p = { line: p.line, character: p.character + 1 };
    // reads per keystroke: offsetAt/positionAt, line text, window around cursor
    const o = doc.offsetAt(p); doc.positionAt(o);
    doc.getText({ start: { line: p.line, character: 0 }, end: { line: p.line + 1, character: 0 } });
    if (readWhole) { const w = doc.getText(); w.charCodeAt(o); w.slice(o - 2000, o + 2000); }
  }
  console.log(name, ((performance.now() - t0) / N).toFixed(3), 'ms/edit');
}
for (let rep = 0; rep < 2; rep++) {
  run('lib (update+reads)', () => TextDocument.create('u', 'js', 1, text), (d, p, ch) => TextDocument.update(d, [{ range: { start: p, end: p }, text: ch }], d.version + 1), false);
  run('lib + whole-text read', () => TextDocument.create('u', 'js', 1, text), (d, p, ch) => TextDocument.update(d, [{ range: { start: p, end: p }, text: ch }], d.version + 1), true);
  run('chunked (update+reads)', () => new ChunkedText('u', 'js', 1, text), (d, p, ch) => d.update([{ range: { start: p, end: p }, text: ch }], d.version + 1), false);
  run('chunked + whole-text read (join)', () => new ChunkedText('u', 'js', 1, text), (d, p, ch) => d.update([{ range: { start: p, end: p }, text: ch }], d.version + 1), true);
}
