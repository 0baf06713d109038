// @ts-check
// The benchmarks' big TypeScript file: one definition, so that run.js (inline and action speed)
// and wasm.js (parse times) measure the same text.

/** A TypeScript file of about `lines` lines, with imports, classes and functions. @param {number} lines */
export function bigFile(lines) {
  const out = ['import { readFile } from "node:fs/promises";', 'import * as path from "node:path";', ''];
  let i = 0;
  while (out.length < lines - 8) {
    out.push(`export class Service${i} {`, `  private count${i} = 0;`, `  handle${i}(input: string): number {`, `    const parts = input.split(",");`, `    this.count${i} += parts.length;`, `    return this.count${i} * ${i};`, '  }', '}', '');
    i++;
  }
  out.push('export function main(args: string[]): void {', '  const total = ', '}', '');
  return out.join('\n');
}
