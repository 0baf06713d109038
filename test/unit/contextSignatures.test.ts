// The index's snippet of a function or method: its whole signature (parameters and return type), however many lines, and no body line; and the tag query's time bound on pathological trees.
import { describe, expect, it } from 'vitest';
import { TagExtractor } from '../../server/src/context/tags.js';
import { STUCK_MS } from '../wait.js';
import { pool } from './fixtures.js';

describe('whole signatures in the index', () => {
  const extract = (lang: 'typescript' | 'python' | 'go' | 'java' | 'rust', text: string) => new TagExtractor().extract(pool.parseNow(lang, text), lang, text);
  const snippet = (lang: Parameters<typeof extract>[0], text: string, name: string) => extract(lang, text).symbols.find((s) => s.name === name)!.runs.map((r) => r.text).join('\n');

  it('keeps every line of a long parameter list and the return type, and no body line', () => {
    const params = Array.from({ length: 12 }, (_, i) => `  p${i}: number,`);
    const ts = ['export async function build(', ...params, '): Promise<Map<string, number>> {', '  const body = 1;', '  return new Map();', '}', ''].join('\n');
    const tsSnippet = snippet('typescript', ts, 'build');
    expect(tsSnippet).toBe(['export async function build(', ...params, '): Promise<Map<string, number>> {'].join('\n'));

    const cls = ['export class Repo {', '  save(', ...params.map((p) => '  ' + p), '  ): void {', '    const body = 1;', '    void body;', '  }', '}', ''].join('\n');
    expect(snippet('typescript', cls, 'save')).toBe(['  save(', ...params.map((p) => '  ' + p), '  ): void {'].join('\n'));

    const py = ['@decorated', 'def load(', ...Array.from({ length: 9 }, (_, i) => `    a${i}: int,`), ') -> list[str]:', '    body = 1', '    return []', ''].join('\n');
    expect(snippet('python', py, 'load')).toBe(['@decorated', 'def load(', ...Array.from({ length: 9 }, (_, i) => `    a${i}: int,`), ') -> list[str]:'].join('\n'));

    const go = ['package p', '', 'func Open(', ...Array.from({ length: 8 }, (_, i) => `\tv${i} int,`), ') (*File, error) {', '\tbody := 1', '\t_ = body', '\treturn nil, nil', '}', ''].join('\n');
    expect(snippet('go', go, 'Open')).toBe(['func Open(', ...Array.from({ length: 8 }, (_, i) => `\tv${i} int,`), ') (*File, error) {'].join('\n'));

    const java = ['class A {', '  public Result compute(', ...Array.from({ length: 8 }, (_, i) => `      int v${i},`), '      int last)', '      throws IOException {', '    int body = 1;', '    return null;', '  }', '}', ''].join('\n');
    expect(snippet('java', java, 'compute')).toBe(['  public Result compute(', ...Array.from({ length: 8 }, (_, i) => `      int v${i},`), '      int last)', '      throws IOException {'].join('\n'));

    const rs = ['pub fn merge<T: Clone>(', ...Array.from({ length: 7 }, (_, i) => `    v${i}: &T,`), ') -> Vec<T> {', '    let body = 1;', '    vec![]', '}', ''].join('\n');
    expect(snippet('rust', rs, 'merge')).toBe(['pub fn merge<T: Clone>(', ...Array.from({ length: 7 }, (_, i) => `    v${i}: &T,`), ') -> Vec<T> {'].join('\n'));
  });

  it('cuts an absurd signature at 60 lines', () => {
    const params = Array.from({ length: 100 }, (_, i) => `  p${i}: number,`);
    const ts = ['export function huge(', ...params, '): void {', '  return;', '}', ''].join('\n');
    const lines = snippet('typescript', ts, 'huge').split('\n');
    expect(lines.length).toBe(60);
    expect(lines[0]).toBe('export function huge(');
  });
});

describe('the tag query on pathological trees', () => {
  // Without a time limit tree-sitter's query cursor took 80-130 s on this (template literals
  // nested 80,000 deep); the bound here is one only a stuck test reaches, not a speed margin.
  it('gives up at its time limit on 250 kB of `${` and still extracts a normal file whole', { timeout: STUCK_MS }, () => {
    const text = '`${'.repeat(84_000);
    const tree = pool.parseNow('typescript', text, { maxMs: 60_000 })!;
    expect(new TagExtractor().extract(tree, 'typescript', text).symbols).toEqual([]);
    const normal = Array.from({ length: 3000 }, (_, i) => `export function f${i}(a: number): number {\n  return a * ${i};\n}\n`).join('');
    expect(new TagExtractor().extract(pool.parseNow('typescript', normal, { maxMs: 60_000 })!, 'typescript', normal).symbols).toHaveLength(400);
  });
});
