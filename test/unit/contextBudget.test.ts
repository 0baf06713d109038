// The context stage's time budgets, on injected clocks: late sources keep what they found, and the
// engine stays within the sum of the budgets; and the prompt keeps a lone snippet through its second packing pass.
import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { ContextEngine } from '../../server/src/context/engine.js';
import type { Candidate, ContextSource } from '../../server/src/context/types.js';
import { buildInlinePrompt } from '../../server/src/prompt/inline.js';
import { TEMPLATES } from '../../server/src/prompt/templates.js';

const found = (why: string): Candidate => ({ kind: 'definition', path: 'a.ts', runs: [{ start: 0, text: why }], score: 0.5, why });

describe('the engine on an injected clock', () => {
  it('keeps what a late source found, costs a throwing source only its own, and skips sources once the budgets are spent', () => {
    let clock = 1000;
    const seen: Record<string, number> = {};
    const taking = (name: string, ms: number): ContextSource => ({
      name,
      gather: (_req, deadline) => {
        seen[name] = deadline - clock;
        clock += ms;
        return [found(name)];
      },
    });
    const broken: ContextSource = {
      name: 'broken',
      gather: () => {
        throw new Error('bug');
      },
    };
    const g = new ContextEngine([taking('slow', 15), broken, taking('fine', 1), taking('exact', 5)], () => clock).gather({} as never, () => ({ enabled: true, budgetMs: 5 }));
    // `slow` ran 10 ms past its budget: its work is done, so what it found is kept. That used the
    // budgets of `broken` and `fine` too: they are skipped; `exact` gets its own 5 ms, the last of the sum.
    expect(g.candidates.map((x) => x.why)).toEqual(['slow', 'exact']);
    expect(g.sources.map((s) => `${s.name}:${s.ms}:${s.late}:${s.skipped ?? false}`)).toEqual(['slow:15:true:false', 'broken:0:true:true', 'fine:0:true:true', 'exact:5:false:false']);
    expect(seen).toEqual({ slow: 5, exact: 5 });
    expect(g.ms).toBe(20);
  });

  it('gives each source its own budget at most, less what the sources before it overran', () => {
    let clock = 0;
    const seen: string[] = [];
    const taking = (name: string, ms: number): ContextSource => ({
      name,
      gather: (_req, deadline) => {
        seen.push(`${name}:${deadline - clock}`);
        clock += ms;
        return [];
      },
    });
    const budgets: Record<string, number> = { a: 10, b: 5, c: 6, d: 3 };
    const g = new ContextEngine([taking('a', 2), taking('b', 16), taking('c', 1), taking('d', 1)], () => clock).gather({} as never, (n) => ({ enabled: true, budgetMs: budgets[n]! }));
    // `a` finished 8 ms early: `b` still gets only its own 5 ms. `b` ran until 18, 3 ms past the
    // sum so far (15): `c` gets 6 - 3. `d`'s full 3 ms fit in what is left of the sum (24).
    expect(seen).toEqual(['a:10', 'b:5', 'c:3', 'd:3']);
    expect(g.sources.map((s) => `${s.name}:${s.late}`)).toEqual(['a:false', 'b:true', 'c:false', 'd:false']);
    expect(g.ms).toBe(20);
  });

  it('never runs past the sum of the budgets when every source checks its deadline in its loop', () => {
    let clock = 0;
    const step = 0.7;
    // Each source has endless work: one step per item, looking at the clock before each.
    const looping = (name: string): ContextSource => ({
      name,
      gather: (_req, deadline, now = () => clock) => {
        const out: Candidate[] = [];
        while (now() <= deadline) {
          clock += step;
          out.push(found(`${name}${out.length}`));
        }
        return out;
      },
    });
    const budgets: Record<string, number> = { definitions: 10, enclosing: 5, recentEdits: 3, similar: 6 };
    const g = new ContextEngine(['definitions', 'enclosing', 'recentEdits', 'similar'].map(looping), () => clock).gather({} as never, (n) => ({ enabled: true, budgetMs: budgets[n]! }));
    const sum = 10 + 5 + 3 + 6;
    expect(g.ms).toBeLessThanOrEqual(sum + step);
    // Every source ran, each kept what it found, and none ran past its deadline by more than one step.
    for (const s of g.sources) expect(s.candidates).toBeGreaterThan(0);
    for (const s of g.sources) expect(s.ms).toBeLessThanOrEqual(budgets[s.name]! + step);
    expect(g.candidates).toHaveLength(g.sources.reduce((n, s) => n + s.candidates, 0));
  });
});

describe('packing in the prompt', () => {
  it('a single snippet survives the second packing pass of a long document (the windows grow into its room)', () => {
    const text = Array.from({ length: 3000 }, (_, i) => `const v${i} = ${i};`).join('\n');
    const doc = TextDocument.create('file:///w/a.ts', 'typescript', 1, text);
    const offset = doc.offsetAt({ line: 1500, character: 0 });
    const snippet: Candidate = { kind: 'definition', path: 'b.ts', runs: [{ start: 3, text: 'export function parseOrder(raw: string): Order {' }], score: 0.9, why: 'imported parseOrder' };
    for (const template of [TEMPLATES.qwen, TEMPLATES.deepseek]) {
      const p = buildInlinePrompt({ doc, offset, language: undefined, lineComment: '//', tree: undefined, relPath: 'a.ts', template, budget: { contextWindow: 8192, maxTokens: 128, maxPromptTokens: 4096 }, context: { candidates: [snippet], maxTokens: 2048, share: 0.5, repoName: 'w' } });
      expect(p.prompt).toContain('export function parseOrder(raw: string): Order {');
      expect(p.segments.filter((s) => s.kind === 'definition')).toEqual([expect.objectContaining({ path: 'b.ts' })]);
      // The windows took back the room the snippet did not use.
      expect(p.budget.prompt).toBeGreaterThan(3000);
    }
  });
});
