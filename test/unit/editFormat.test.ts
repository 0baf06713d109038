// Model edit formats: good, sloppy and broken answers, parsed and applied exactly.
import { describe, expect, it } from 'vitest';
import { applyBlocks, extractFenced, parseSearchReplace } from '../../server/src/actions/editFormat.js';

const FILE = ['export function area(r: number): number {', '  return 3.14 * r * r;', '}', '', 'export function perimeter(r: number) {', '  return 2 * 3.14 * r;', '}', ''].join('\n');

const block = (search: string, replace: string) => `<<<<<<< SEARCH\n${search}\n=======\n${replace}\n>>>>>>> REPLACE`;

describe('parseSearchReplace', () => {
  it('reads blocks out of prose and fences, with paths from a line or the fence', () => {
    const out = [
      'Sure! Here is the change:',
      '',
      'src/geo.ts',
      '```ts',
      block('  return 3.14 * r * r;', '  return Math.PI * r * r;'),
      '```',
      'And the caller:',
      '```typescript src/main.ts',
      block('area(2)', 'area(2.0)'),
      '```',
      'Done.',
    ].join('\r\n');
    const { blocks, errors } = parseSearchReplace(out);
    expect(errors).toEqual([]);
    expect(blocks).toEqual([
      { path: 'src/geo.ts', search: '  return 3.14 * r * r;', replace: '  return Math.PI * r * r;' },
      { path: 'src/main.ts', search: 'area(2)', replace: 'area(2.0)' },
    ]);
  });

  it('accepts marker lengths the models get wrong and reports unclosed blocks', () => {
    const { blocks, errors } = parseSearchReplace('<<<<<<<< SEARCH\na\n======\nb\n>>>>>>>> REPLACE\n<<<<<<< SEARCH\nc\n=======\nd\n');
    expect(blocks).toEqual([{ path: undefined, search: 'a', replace: 'b' }]);
    expect(errors).toEqual(['block at line 6 is not closed (expected ======= and >>>>>>> REPLACE)']);
  });

  it('finds nothing in an answer without blocks', () => {
    expect(parseSearchReplace('I would rename the function.').blocks).toEqual([]);
  });
});

describe('extractFenced', () => {
  it.each([
    ['Here:\n```ts\nconst a = 1;\n```\nbye', 'const a = 1;'],
    ['~~~\nx\n~~~', 'x'],
    ['````md\n```inner```\n````', '```inner```'],
    ['```py\ndef f():\n    pass', 'def f():\n    pass'],
    ['no fence here', undefined],
  ])('%j', (input, expected) => {
    expect(extractFenced(input)).toBe(expected);
  });
});

describe('applyBlocks', () => {
  it('applies an exact block and reports its range', () => {
    const r = applyBlocks(FILE, [{ search: '  return 3.14 * r * r;', replace: '  return Math.PI * r * r;' }]);
    expect(r.ok && r.text).toBe(FILE.replace('3.14 * r * r', 'Math.PI * r * r'));
    expect(r.ok && r.edits).toEqual([{ start: FILE.indexOf('  return 3.14 * r * r;'), end: FILE.indexOf('  return 3.14 * r * r;') + 22, newText: '  return Math.PI * r * r;' }]);
  });

  it('tolerates indentation drift and trailing spaces, re-indenting the replacement', () => {
    const search = 'export function perimeter(r: number) {   \nreturn 2 * 3.14 * r;\n}'.replace('\nreturn', '\n  return');
    const drifted = search.split('\n').map((l) => '    ' + l).join('\n');
    const replace = ['    export function perimeter(r: number): number {', '      return 2 * Math.PI * r;', '    }'].join('\n');
    const r = applyBlocks(FILE, [{ search: drifted, replace }]);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.text).toContain('export function perimeter(r: number): number {\n  return 2 * Math.PI * r;\n}\n');
  });

  it('keeps CRLF files CRLF, with ranges in the original text', () => {
    const crlf = FILE.replace(/\n/g, '\r\n');
    const r = applyBlocks(crlf, [{ search: '  return 2 * 3.14 * r;', replace: '  return 2 * Math.PI * r;\n  // circumference' }]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.text).toBe(crlf.replace('  return 2 * 3.14 * r;', '  return 2 * Math.PI * r;\r\n  // circumference'));
    const e = r.edits[0]!;
    expect(crlf.slice(e.start, e.end)).toBe('  return 2 * 3.14 * r;');
  });

  it.each([
    [[{ search: 'return 42;', replace: 'x' }], 'block 1: the SEARCH text was not found in the file'],
    [[{ search: '}', replace: '};' }], 'block 1: the SEARCH text occurs more than once'],
    [[{ search: '', replace: 'new file' }], 'block 1: an empty SEARCH only creates a new file, and this one has text'],
    [[{ search: 'export function area', replace: 'a' }, { search: 'function area(r', replace: 'b' }], 'two blocks change overlapping text'],
  ])('refuses broken blocks: %j', (blocks, error) => {
    expect(applyBlocks(FILE, blocks)).toEqual({ ok: false, error });
  });

  it('creates a new file from an empty SEARCH', () => {
    expect(applyBlocks('', [{ search: '', replace: 'test("x", () => {});\n' }])).toEqual({ ok: true, text: 'test("x", () => {});\n', edits: [{ start: 0, end: 0, newText: 'test("x", () => {});\n' }] });
  });
});
