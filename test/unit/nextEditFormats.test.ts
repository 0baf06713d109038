// Next-edit prompts rendered byte for byte as each model family was trained, and answers read back.
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PathPolicy } from '../../server/src/privacy/paths.js';
import { nextEditInput } from '../../server/src/nextEdit/context.js';
import { EditHistory } from '../../server/src/nextEdit/history.js';
import { INSTRUCT_SYSTEM, instruct, nextEditFormatFor, regionAround, sweep, zeta, type NextEditInput } from '../../server/src/nextEdit/formats.js';

const FILE = ['export function area(w: number, h: number) {', '  return w * h;', '}', '', 'export function report(w: number, h: number) {', '  console.log(area(w, h));', '}', ''].join('\n');

/** A history fed as the server feeds it, with the clock in the test's hand. */
function recorder() {
  let t = 0;
  const history = new EditHistory({ now: () => t, relativePath: (u) => u.replace('file:///ws/', '') });
  const docs = new Map<string, TextDocument>();
  const open = (uri: string, text: string) => docs.set(uri, TextDocument.create(uri, 'typescript', 1, text)).get(uri)!;
  const type = (uri: string, offset: number, s: string) => {
    const doc = docs.get(uri)!;
    for (const [i, ch] of [...s].entries()) {
      const before = doc.getText();
      const p = doc.positionAt(offset + i);
      TextDocument.update(doc, [{ range: { start: p, end: p }, text: ch }], doc.version + 1);
      t += 40;
      history.changed(uri, before, p.line, p.line, 0, () => doc.getText());
    }
  };
  const lines = (uri: string, start: number, end: number) => docs.get(uri)?.getText({ start: { line: start, character: 0 }, end: { line: end + 1, character: 0 } }).replace(/\n$/, '');
  return { history, open, type, lines };
}

/** The user added a parameter `d` to `area`; the cursor is after it. */
function added(): NextEditInput {
  const r = recorder();
  const doc = r.open('file:///ws/src/geo.ts', FILE);
  r.type(doc.uri, FILE.indexOf('h: number) {') + 'h: number'.length, ', d: number');
  const text = doc.getText();
  return nextEditInput({ history: r.history, uri: doc.uri, path: 'src/geo.ts', text, cursor: text.indexOf('d: number') + 'd: number'.length, lines: r.lines, mayJoin: () => true });
}

const AREA_NOW = ['export function area(w: number, h: number, d: number) {', '  return w * h;', '}', '', 'export function report(w: number, h: number) {', '  console.log(area(w, h));', '}'];

describe('Zeta', () => {
  it('renders the instruction, the edit as a diff hunk under the quoted path, and the excerpt with its region and cursor marked', () => {
    const p = zeta.render(added());
    expect(p.prompt).toBe(
      [
        '### Instruction:',
        'You are a code completion assistant and your task is to analyze user edits and then rewrite an excerpt that the user provides, suggesting the appropriate edits within the excerpt, taking into account the cursor location.',
        '',
        '### User Edits:',
        '',
        'User edited "src/geo.ts":',
        '```diff',
        '@@ -1,4 +1,4 @@',
        '-export function area(w: number, h: number) {',
        '+export function area(w: number, h: number, d: number) {',
        '   return w * h;',
        ' }',
        ' ',
        '```',
        '',
        '### User Excerpt:',
        '',
        '```src/geo.ts',
        '<|start_of_file|>',
        '<|editable_region_start|>',
        'export function area(w: number, h: number, d: number<|user_cursor_is_here|>) {',
        ...AREA_NOW.slice(1),
        '<|editable_region_end|>',
        '```',
        '',
        '### Response:',
        '',
      ].join('\n'),
    );
    expect(p.region).toMatchObject({ startLine: 0, endLine: 7, start: 0, text: AREA_NOW.join('\n') });
    expect(p.sources.map((s) => s.path)).toEqual(['src/geo.ts', 'src/geo.ts']);
  });

  it('shows read-only lines around the region, without the start-of-file marker when the excerpt starts later', () => {
    const text = Array.from({ length: 80 }, (_, i) => `l${i}`).join('\n') + '\n';
    const p = zeta.render({ path: 'a.ts', text, cursor: text.indexOf('l40') + 3, events: [], related: [] });
    const excerpt = p.prompt!.slice(p.prompt!.indexOf('```a.ts'), p.prompt!.indexOf('\n\n### Response:'));
    const lines = excerpt.split('\n');
    expect(lines[0]).toBe('```a.ts');
    expect(lines[1]).toBe('l8'); // 24 lines above the region's first (l32)
    expect(lines[25]).toBe('<|editable_region_start|>');
    expect(lines[26]).toBe('l32');
    expect(lines[34]).toBe('l40<|user_cursor_is_here|>');
    expect(lines[55]).toBe('<|editable_region_end|>'); // 20 lines below the cursor's (l60)
    expect(lines[56]).toBe('l61');
    expect(lines[lines.length - 1]).toBe('```');
    expect(lines[lines.length - 2]).toBe('l79');
    expect(p.prompt).toContain('### User Edits:\n\n\n\n### User Excerpt:');
  });

  it('reads the region back between the markers, the cursor marker dropped; no marker and a cut-off answer are refused', () => {
    expect(zeta.parse('```src/geo.ts\n<|editable_region_start|>\nconst a<|user_cursor_is_here|> = 1;\nb\n<|editable_region_end|>\n```', true)).toEqual({ ok: true, text: 'const a = 1;\nb' });
    expect(zeta.parse('<|editable_region_start|>\n<|editable_region_end|>', true)).toEqual({ ok: true, text: '' });
    expect(zeta.parse('const a = 1;', true)).toEqual({ ok: false, reason: 'no <|editable_region_start|> marker in the answer' });
    expect(zeta.parse('<|editable_region_start|>\nconst a = 1;\nconst', false)).toEqual({ ok: false, reason: 'the answer stops before <|editable_region_end|> (cut off)' });
  });
});

describe('Sweep', () => {
  it('renders each change as a .diff pseudo-file of original:/updated: blocks of its changed lines, then original/current/updated windows, and no block of the whole file', () => {
    const p = sweep.render(added());
    const AREA_WAS = ['export function area(w: number, h: number) {', ...AREA_NOW.slice(1)];
    expect(p.prompt).toBe(
      [
        // The changed lines only, as Sweep's own client writes them (no unchanged lines around).
        '<|file_sep|>src/geo.ts.diff',
        'original:',
        'export function area(w: number, h: number) {',
        'updated:',
        'export function area(w: number, h: number, d: number) {',
        '<|file_sep|>original/src/geo.ts',
        ...AREA_WAS,
        '<|file_sep|>current/src/geo.ts',
        ...AREA_NOW,
        '<|file_sep|>updated/src/geo.ts',
        '',
      ].join('\n'),
    );
    expect(p.stop).toEqual(['<|file_sep|>', '<|endoftext|>']);
  });

  it('writes a line added as an empty original: block, and a change of another file under that file\'s .diff', () => {
    const text = 'const a = 1;\nconst b = 2;\n';
    const inserted = { uri: 'file:///ws/a.ts', path: 'a.ts', line: 0, before: ['const a = 1;'], after: ['const a = 1;', 'const b = 2;'], context: { head: 1, tail: 0 }, at: 1 };
    const other = { uri: 'file:///ws/lib.ts', path: 'lib.ts', line: 4, before: ['x', 'old()', 'y'], after: ['x', 'renamed()', 'y'], context: { head: 1, tail: 1 }, at: 0 };
    const p = sweep.render({ path: 'a.ts', text, cursor: text.indexOf('2;') + 2, events: [other, inserted], related: [] });
    expect(p.prompt).toBe(['<|file_sep|>lib.ts.diff', 'original:', 'old()', 'updated:', 'renamed()', '<|file_sep|>a.ts.diff', 'original:', '', 'updated:', 'const b = 2;', '<|file_sep|>original/a.ts', 'const a = 1;', '<|file_sep|>current/a.ts', 'const a = 1;', 'const b = 2;', '<|file_sep|>updated/a.ts', ''].join('\n'));
  });

  it('sends a 21-line window: the cursor\'s line and ten on each side, shifted in at the file\'s ends', () => {
    const text = Array.from({ length: 100 }, (_, i) => `l${i}`).join('\n');
    expect(regionAround(text, text.indexOf('l50'), 10, 10)).toMatchObject({ startLine: 40, endLine: 61 });
    expect(regionAround(text, text.indexOf('l2'), 10, 10)).toMatchObject({ startLine: 0, endLine: 21 });
    expect(regionAround(text, text.indexOf('l98'), 10, 10)).toMatchObject({ startLine: 79, endLine: 100 });
    const p = sweep.render({ path: 'a.ts', text, cursor: text.indexOf('l50'), events: [], related: [{ path: 'b.ts', text: 'const b = 1;' }] });
    expect(p.prompt!.startsWith('<|file_sep|>b.ts\nconst b = 1;\n<|file_sep|>original/a.ts\nl40\n')).toBe(true);
    const current = p.prompt!.slice(p.prompt!.indexOf('<|file_sep|>current/a.ts\n') + '<|file_sep|>current/a.ts\n'.length, p.prompt!.indexOf('<|file_sep|>updated/'));
    expect(current.split('\n').slice(0, -1)).toEqual(Array.from({ length: 21 }, (_, i) => `l${40 + i}`));
    expect(p.sources.map((s) => s.path)).toEqual(['a.ts', 'b.ts']);
  });

  it('reads the updated window up to a stop string; an answer cut off at the token limit is refused', () => {
    expect(sweep.parse('a\nb\n', true)).toEqual({ ok: true, text: 'a\nb' });
    expect(sweep.parse('a\nb\n<|file_sep|>junk', false)).toEqual({ ok: true, text: 'a\nb' });
    expect(sweep.parse('a\nb', false)).toMatchObject({ ok: false });
  });
});

describe('instruct', () => {
  it('asks a chat model for the region between the markers, with the edits as diffs and viewed code', () => {
    const input = { ...added(), related: [{ path: 'src/use.ts', text: 'area(1, 2);' }] };
    const p = instruct.render(input);
    expect(p.prompt).toBeUndefined();
    expect(p.messages).toEqual([
      { role: 'system', content: INSTRUCT_SYSTEM },
      {
        role: 'user',
        content: [
          'Recent edits, oldest first:',
          '',
          '```diff\n--- a/src/geo.ts\n+++ b/src/geo.ts\n@@ -1,4 +1,4 @@\n-export function area(w: number, h: number) {\n+export function area(w: number, h: number, d: number) {\n   return w * h;\n }\n \n```',
          '',
          'Viewed in src/use.ts:',
          '',
          '```\narea(1, 2);\n```',
          '',
          'The file src/geo.ts:',
          '',
          ['```', '<|editable_region_start|>', 'export function area(w: number, h: number, d: number<|cursor|>) {', ...AREA_NOW.slice(1), '<|editable_region_end|>', '```'].join('\n'),
        ].join('\n'),
      },
    ]);
    expect(instruct.parse('Sure:\n<|editable_region_start|>\nx<|cursor|>\n<|editable_region_end|>', true)).toEqual({ ok: true, text: 'x' });
  });
});

describe('nextEditFormatFor', () => {
  it('chooses the family from the model name, a configured format first, instruct otherwise', () => {
    expect(nextEditFormatFor('zed-industries/zeta').name).toBe('zeta');
    expect(nextEditFormatFor('sweepai/sweep-next-edit-1.5B').name).toBe('sweep');
    expect(nextEditFormatFor('my-next-edit-model').name).toBe('sweep');
    expect(nextEditFormatFor('Qwen/Qwen2.5-Coder-7B-Instruct').name).toBe('instruct');
    expect(nextEditFormatFor('zed-industries/zeta', 'instruct').name).toBe('instruct');
  });
});

describe('nextEditInput: privacy', () => {
  it('leaves edits and viewed code of onPremOnly files out of a cloud-bound prompt, and lists every file it holds as a source', () => {
    const ws = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-nextedit-')));
    mkdirSync(join(ws, 'secrets'));
    writeFileSync(join(ws, 'secrets', 'keys.ts'), 'export const key = "k";\n');
    writeFileSync(join(ws, 'app.ts'), 'const a = 1;\n');
    const r = recorder();
    const keys = r.open('file:///ws/secrets/keys.ts', 'export const key = "k";\n');
    const app = r.open('file:///ws/app.ts', 'const a = 1;\n');
    r.type(keys.uri, 0, '// x\n');
    r.history.viewed(keys.uri, 0, 2);
    r.type(app.uri, 0, 'let b;\n');
    const policy = new PathPolicy({ roots: () => [ws] });
    const privacy = { onPremOnly: ['**/secrets/**'], allowOutsideWorkspace: false };
    const input = (cloud: boolean) =>
      nextEditInput({ history: r.history, uri: app.uri, path: 'app.ts', text: app.getText(), cursor: 0, lines: r.lines, mayJoin: (p) => policy.mayJoin(p, 'app.ts', cloud, privacy) });
    const cloud = input(true);
    expect(cloud.events.map((e) => e.path)).toEqual(['app.ts']);
    expect(cloud.related).toEqual([]);
    for (const f of [zeta, sweep, instruct]) {
      const p = f.render(cloud);
      expect(JSON.stringify(p)).not.toContain('key = ');
      expect(p.sources.map((s) => s.path)).not.toContain('secrets/keys.ts');
    }
    const onprem = input(false);
    expect(onprem.events.map((e) => e.path)).toEqual(['secrets/keys.ts', 'app.ts']);
    expect(onprem.related.map((x) => x.path)).toEqual(['secrets/keys.ts']);
    expect(sweep.render(onprem).sources.map((s) => s.path)).toEqual(['app.ts', 'secrets/keys.ts', 'app.ts', 'secrets/keys.ts']);
  });
});
