// A next-edit answer to the smallest edits of the document, and the answers that are refused.
import { describe, expect, it } from 'vitest';
import { answerToEdits, applyEdits, type LastChange } from '../../server/src/nextEdit/edits.js';
import { regionAround, zeta } from '../../server/src/nextEdit/formats.js';
import { pool } from './fixtures.js';

const syntax = { lang: 'typescript' as const, parse: (lang: Parameters<typeof pool.parseNow>[0], text: string) => pool.parseNow(lang, text) };

const FILE = ['export function area(w: number, h: number, d: number) {', '  return w * h;', '}', '', 'export function report(w: number, h: number) {', '  console.log(area(w, h));', '}', ''].join('\n');
const CURSOR = FILE.indexOf('d: number') + 'd: number'.length;
/** The user's last change: `, d: number` added on line 0. */
const LAST: LastChange = { line: 0, removed: ['export function area(w: number, h: number) {'], added: ['export function area(w: number, h: number, d: number) {'] };

/** The edits for a region rewritten as `lines`, in the Zeta answer's form, and the document they make. */
function run(lines: string[], opts: { text?: string; cursor?: number; last?: LastChange; raw?: string; check?: boolean } = {}) {
  const text = opts.text ?? FILE;
  const region = regionAround(text, opts.cursor ?? CURSOR, 8, 16);
  const answer = opts.raw ?? `\`\`\`a.ts\n<|editable_region_start|>\n${lines.join('\n')}\n<|editable_region_end|>\n\`\`\``;
  const out = answerToEdits({ text, region, parsed: zeta.parse(answer, true), ...(opts.last ? { last: opts.last } : {}), ...(opts.check === false ? {} : { syntax }) });
  return { out, result: out.ok ? applyEdits(text, out.edits) : undefined };
}

const NOW = FILE.replace(/\n$/, '').split('\n');

describe('answerToEdits', () => {
  it('returns the smallest edit for a change away from the cursor: the argument passed at the call', () => {
    const lines = [...NOW];
    lines[5] = '  console.log(area(w, h, 1));';
    const { out, result } = run(lines, { last: LAST });
    expect(out).toEqual({ ok: true, edits: [{ start: FILE.indexOf('h));') + 1, end: FILE.indexOf('h));') + 1, text: ', 1' }] });
    expect(result).toBe(FILE.replace('area(w, h))', 'area(w, h, 1))'));
  });

  it('returns one edit per changed place: an insertion of lines, a deletion of lines, a replacement', () => {
    const lines = [...NOW];
    lines.splice(2, 0, '  // volume'); // insert a line after `return`
    lines.splice(4, 1); // delete the blank line
    lines[lines.indexOf('  console.log(area(w, h));')] = '  console.info(area(w, h));';
    const { out, result } = run(lines, { check: false });
    expect(out.ok && out.edits.length).toBe(3);
    expect(result).toBe(['export function area(w: number, h: number, d: number) {', '  return w * h;', '  // volume', '}', 'export function report(w: number, h: number) {', '  console.info(area(w, h));', '}', ''].join('\n'));
    if (out.ok) {
      expect(out.edits[0]).toEqual({ start: FILE.indexOf('}\n'), end: FILE.indexOf('}\n'), text: '  // volume\n' });
      expect(out.edits[2]).toEqual({ start: FILE.indexOf('log('), end: FILE.indexOf('log(') + 3, text: 'info' });
    }
  });

  it('keeps CR LF line breaks in what it inserts, and edits the last line of the region', () => {
    const crlf = FILE.replace(/\n/g, '\r\n');
    const lines = [...NOW, '// end'];
    const { out, result } = run(lines, { text: crlf, cursor: crlf.indexOf('d: number'), check: false });
    expect(out.ok).toBe(true);
    expect(result).toBe(crlf.replace(/\}\r\n$/, '}\r\n// end\r\n'));
  });

  it('refuses answers without markers, cut off, with an empty region, or holding markup', () => {
    expect(run([], { raw: 'export function area() {}' }).out).toEqual({ ok: false, reason: 'no <|editable_region_start|> marker in the answer' });
    expect(run([], { raw: '<|editable_region_start|>\nexport function area(w: number, h: number, d: number) {\n  return w' }).out).toMatchObject({ ok: false, reason: expect.stringContaining('cut off') });
    expect(run([''], {}).out).toEqual({ ok: false, reason: 'the answer\'s region is empty' });
    expect(run([...NOW.slice(0, 3), '<|editable_region_start|>', ...NOW.slice(3)], {}).out).toEqual({ ok: false, reason: 'the answer\'s region holds <|editable_region_start|>' });
  });

  it('refuses a region rewritten wholesale, an answer that changes nothing, and one that only re-indents', () => {
    expect(run(['class Shape {', '  area = 0;', '  volume = 1;', '  name = "";', '}', '', 'const x = 1;']).out).toMatchObject({ ok: false, reason: expect.stringContaining('wholesale') });
    expect(run(NOW).out).toEqual({ ok: false, reason: 'the answer changes nothing' });
    expect(run(NOW.map((l) => (l.startsWith('  ') ? `    ${l.trimStart()}` : l))).out).toEqual({ ok: false, reason: 'the answer only re-indents' });
  });

  it('refuses an answer that undoes the user\'s last edit, and lets the same change through without that edit', () => {
    const lines = [...NOW];
    lines[0] = 'export function area(w: number, h: number) {';
    expect(run(lines, { last: LAST }).out).toEqual({ ok: false, reason: 'the answer undoes the user\'s last edit' });
    expect(run(lines).out.ok).toBe(true);
  });

  it('refuses an answer that runs on into the lines after the region', () => {
    const text = Array.from({ length: 60 }, (_, i) => `const v${i} = ${i};`).join('\n') + '\n';
    const region = regionAround(text, text.indexOf('v10 ='), 8, 16); // lines 2..26
    const all = text.split('\n');
    const lines = all.slice(region.startLine, region.endLine);
    lines[3] = 'const v5 = 50;';
    const past = [...lines, all[region.endLine]!, all[region.endLine + 1]!];
    const answer = (ls: string[]) => `<|editable_region_start|>\n${ls.join('\n')}\n<|editable_region_end|>`;
    expect(answerToEdits({ text, region, parsed: zeta.parse(answer(past), true) })).toEqual({ ok: false, reason: 'the answer runs past the region into the lines around it' });
    expect(answerToEdits({ text, region, parsed: zeta.parse(answer(lines), true) })).toMatchObject({ ok: true, edits: [{ text: '0' }] });
  });

  it('refuses an answer that adds syntax errors to its block, and takes one that does not', () => {
    const broken = [...NOW];
    broken[1] = '  return w * h * (d;';
    expect(run(broken).out).toEqual({ ok: false, reason: 'the answer adds syntax errors to its block' });
    const fine = [...NOW];
    fine[1] = '  return w * h * d;';
    expect(run(fine).out).toMatchObject({ ok: true, edits: [{ text: ' * d' }] });
  });

  it('counts the errors before on the document\'s tree: one parse (of the edited excerpt), the same verdicts', () => {
    let parses = 0;
    const counted = { lang: 'typescript' as const, parse: (lang: Parameters<typeof pool.parseNow>[0], text: string) => (parses++, pool.parseNow(lang, text)) };
    const withTree = (lines: string[], text = FILE, cursor = CURSOR) => {
      const region = regionAround(text, cursor, 8, 16);
      const answer = `\`\`\`a.ts\n<|editable_region_start|>\n${lines.join('\n')}\n<|editable_region_end|>\n\`\`\``;
      return answerToEdits({ text, region, parsed: zeta.parse(answer, true), syntax: { ...counted, tree: () => pool.parseNow('typescript', text) } });
    };
    const broken = [...NOW];
    broken[1] = '  return w * h * (d;';
    expect(withTree(broken)).toEqual({ ok: false, reason: 'the answer adds syntax errors to its block' });
    expect(parses).toBe(1);
    const fine = [...NOW];
    fine[1] = '  return w * h * d;';
    expect(withTree(fine)).toMatchObject({ ok: true, edits: [{ text: ' * d' }] });
    expect(parses).toBe(2);
    // Without a tree (or one not parsed to the text): the excerpt is parsed before and after.
    expect(answerToEdits({ text: FILE, region: regionAround(FILE, CURSOR, 8, 16), parsed: zeta.parse(`<|editable_region_start|>\n${fine.join('\n')}\n<|editable_region_end|>`, true), syntax: { ...counted, tree: () => undefined } })).toMatchObject({ ok: true });
    expect(parses).toBe(4);

    // A brace taken out shows in the nodes after it, or at the excerpt's end.
    const unclosed = [...NOW];
    unclosed.splice(2, 1);
    expect(withTree(unclosed)).toEqual({ ok: false, reason: 'the answer adds syntax errors to its block' });

    // An error the file already has near the region is no error the answer adds; one more is.
    const sick = [...NOW.slice(0, 4), 'const broken = (1 + ;', '', ...NOW.slice(4), ''].join('\n');
    const sickLines = sick.replace(/\n$/, '').split('\n');
    const sickCursor = sick.indexOf('d: number') + 'd: number'.length;
    const ok = [...sickLines];
    ok[1] = '  return w * h * d;';
    expect(withTree(ok, sick, sickCursor)).toMatchObject({ ok: true });
    const worse = [...sickLines];
    worse[1] = '  return w * h * (d;';
    expect(withTree(worse, sick, sickCursor)).toEqual({ ok: false, reason: 'the answer adds syntax errors to its block' });
  });

  it('with the document\'s tree, parses only the top-level nodes the edits touch, not the whole region', () => {
    const parsed: string[] = [];
    const check = { lang: 'typescript' as const, parse: (lang: Parameters<typeof pool.parseNow>[0], text: string) => (parsed.push(text), pool.parseNow(lang, text)), tree: () => pool.parseNow('typescript', FILE) };
    const region = regionAround(FILE, CURSOR, 8, 16);
    const answer = (ls: string[]) => `<|editable_region_start|>\n${ls.join('\n')}\n<|editable_region_end|>`;
    const call = [...NOW];
    call[5] = '  console.log(area(w, h, 1));';
    expect(answerToEdits({ text: FILE, region, parsed: zeta.parse(answer(call), true), syntax: check })).toMatchObject({ ok: true });
    expect(parsed).toEqual(['export function report(w: number, h: number) {\n  console.log(area(w, h, 1));\n}\n']);
    const broken = [...NOW];
    broken[5] = '  console.log(area(w, h, 1);';
    expect(answerToEdits({ text: FILE, region, parsed: zeta.parse(answer(broken), true), syntax: check })).toEqual({ ok: false, reason: 'the answer adds syntax errors to its block' });
  });

  it('with the document\'s tree, a declaration inserted between two is checked alone, and an indented statement as its own node', () => {
    const parsed: string[] = [];
    const check = (text: string) => ({ lang: 'typescript' as const, parse: (lang: Parameters<typeof pool.parseNow>[0], t: string) => (parsed.push(t), pool.parseNow(lang, t)), tree: () => pool.parseNow('typescript', text) });
    const answer = (ls: string[]) => `<|editable_region_start|>\n${ls.join('\n')}\n<|editable_region_end|>`;
    // Two blank lines between the functions, the declaration written between them.
    const file = FILE.replace('}\n\nexport function report', '}\n\n\nexport function report');
    const was = file.replace(/\n$/, '').split('\n');
    const region = regionAround(file, file.indexOf('d: number'), 8, 16);
    const inserted = [...was.slice(0, 4), 'export const volume = (d: number) => area(1, 1, d);', ...was.slice(4)];
    expect(answerToEdits({ text: file, region, parsed: zeta.parse(answer(inserted), true), syntax: check(file) })).toMatchObject({ ok: true, edits: [{ text: 'export const volume = (d: number) => area(1, 1, d);\n' }] });
    expect(parsed).toEqual(['export const volume = (d: number) => area(1, 1, d);\n\n']);
    const broken = [...was.slice(0, 4), 'export const volume = (d: number) => area(1, 1, d;', ...was.slice(4)];
    expect(answerToEdits({ text: file, region, parsed: zeta.parse(answer(broken), true), syntax: check(file) })).toEqual({ ok: false, reason: 'the answer adds syntax errors to its block' });

    // An indented top-level statement: its indentation belongs to the root, its text to the statement.
    const text = ['const a = 1;', '  report(a, 2);', 'const b = 2;', ''].join('\n');
    const lines = text.replace(/\n$/, '').split('\n');
    const r2 = regionAround(text, text.indexOf('report'), 8, 16);
    parsed.length = 0;
    const fine = [...lines];
    fine[1] = '  report(a, 3);';
    expect(answerToEdits({ text, region: r2, parsed: zeta.parse(answer(fine), true), syntax: check(text) })).toMatchObject({ ok: true, edits: [{ text: '3' }] });
    expect(parsed).toEqual(['  report(a, 3);\n']);
  });

  it('with the document\'s tree, a region inside a class is checked as the class\'s members, short class or long', () => {
    for (const methods of [3, 60]) {
      const body: string[] = [];
      for (let i = 0; i < methods; i++) body.push(`  m${i}(x: number): number {`, `    return x + ${i};`, '  }');
      const text = ['export class Shapes {', ...body, '}', ''].join('\n');
      const lines = text.replace(/\n$/, '').split('\n');
      const at = lines.indexOf('  m1(x: number): number {');
      const cursor = text.indexOf('  m1(x: number): number {');
      const region = regionAround(text, cursor, 8, 16);
      const answer = (ls: string[]) => `<|editable_region_start|>\n${ls.slice(region.startLine, region.endLine).join('\n')}\n<|editable_region_end|>`;
      const check = { ...syntax, tree: () => pool.parseNow('typescript', text) };
      const fine = [...lines];
      fine[at + 1] = '    return x + 100;';
      expect(answerToEdits({ text, region, parsed: zeta.parse(answer(fine), true), syntax: check })).toMatchObject({ ok: true, edits: [{ text: '00' }] });
      const broken = [...lines];
      broken[at + 1] = '    return x + ;';
      expect(answerToEdits({ text, region, parsed: zeta.parse(answer(broken), true), syntax: check })).toEqual({ ok: false, reason: 'the answer adds syntax errors to its block' });
    }
  });
});
