// A file's definitions kept packed: what unpacks is what was packed, a lookup of one name unpacks
// exactly that name's definitions, and a damaged part is an error that names no content.
import { describe, expect, it } from 'vitest';
import { BadPacked, hasName, packSymbols, unpackExports, unpackImports, unpackNamed, unpackSymbols } from '../../server/src/context/packed.js';
import type { FileSymbols } from '../../server/src/context/types.js';

const FOUND: FileSymbols = {
  symbols: [
    { name: 'parse', kind: 'function', container: undefined, line: 0, endLine: 2, runs: [{ start: 0, text: 'export function parse(raw: string,\n  strict: boolean): Order {' }] },
    // Its text holds what a definition's start looks like, quotes and all.
    { name: 'parseOrder', kind: 'function', container: undefined, line: 4, endLine: 4, runs: [{ start: 4, text: 'const s = \'},{"name":"parse","kind":"function"\';' }] },
    { name: 'parse', kind: 'method', container: 'Reader', line: 6, endLine: 6, runs: [{ start: 6, text: '  parse(): void {}\t// é ✓' }] },
    { name: 'Reader', kind: 'class', container: undefined, line: 5, endLine: 7, runs: [] },
  ],
  imports: [{ source: './x', names: [{ imported: 'x', local: 'y' }] }],
  exports: [{ name: 'default', local: 'parse' }],
};

describe('packed definitions', () => {
  it('unpack to what was packed, names listed once each, and a lookup parses only the definitions of its name', () => {
    const p = packSymbols(FOUND);
    expect(p.names).toBe('parse\nparseOrder\nReader');
    expect(p.count).toBe(4);
    const withPath = FOUND.symbols.map((s) => ({ ...s, path: 'src/a.ts' }));
    expect(unpackSymbols(p, 'src/a.ts')).toEqual(withPath);
    expect(unpackImports(p)).toEqual(FOUND.imports);
    expect(unpackExports(p)).toEqual(FOUND.exports);
    expect(unpackNamed(p, 'parse', 'src/a.ts')).toEqual([withPath[0], withPath[2]]);
    expect(unpackNamed(p, 'parseOrder', 'src/a.ts')).toEqual([withPath[1]]);
    expect(unpackNamed(p, 'Reader', 'src/a.ts')).toEqual([withPath[3]]);
    expect(unpackNamed(p, 'Order', 'src/a.ts')).toEqual([]);
    expect([hasName(p.names, 'parse'), hasName(p.names, 'Reader'), hasName(p.names, 'pars'), hasName(p.names, 'Order')]).toEqual([true, true, false, false]);
    const empty = packSymbols({ symbols: [], imports: [], exports: [] });
    expect([unpackSymbols(empty, 'b.ts'), unpackNamed(empty, 'x', 'b.ts'), unpackImports(empty), unpackExports(empty), empty.names]).toEqual([[], [], [], [], '']);
  });

  it('a damaged part is BadPacked, its message without the code it held', () => {
    const p = packSymbols(FOUND);
    const text = Buffer.from(p.data).toString();
    const damaged = (t: string) => ({ ...p, data: Buffer.from(t) });
    const cases: [string, () => unknown][] = [
      ['kind unknown', () => unpackSymbols(damaged(text.replace('"kind":"class"', '"kind":"macro"')), 'a.ts')],
      ['lines not a string', () => unpackNamed(damaged(text.replace('"text":"  parse', '"text":5,"x":"')), 'parse', 'a.ts')],
      ['cut short', () => unpackSymbols(damaged(text.slice(0, 60)), 'a.ts')],
      ['count wrong', () => unpackSymbols({ ...p, count: 3 }, 'a.ts')],
      ['import names missing', () => unpackImports(damaged(text.replace('"names":[{"imported":"x","local":"y"}]', '"nam":1')))],
    ];
    for (const [what, run] of cases) {
      expect(run, what).toThrow(BadPacked);
      try {
        run();
      } catch (err) {
        expect((err as Error).message, what).not.toMatch(/strict|Order|parse\(/);
      }
    }
  });
});
