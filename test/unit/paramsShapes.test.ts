// features/args.ts: the hand-written checks of the messages on every pause in typing give the
// shape's verdict, never a looser one, on valid params and on seeded mutations of them.
import { describe, expect, it } from 'vitest';
import { CopilotInlineEditShape, DidChangeShape, notificationProblem, requestParams } from '../../server/src/features/args.js';
import { mulberry32 } from '../../bench/fuzzGen.js';

const ODD: unknown[] = [undefined, null, -1, 1.5, 2 ** 60, '', 'x', [], {}, true, NaN, 0];

/** `value` with one field somewhere replaced by an odd value, or removed. */
function mutate(value: unknown, rand: () => number): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (typeof v !== 'object' || v === null) return;
    for (const k of Object.keys(v)) {
      paths.push([...path, Array.isArray(v) ? Number(k) : k]);
      walk((v as Record<string, unknown>)[k], [...path, Array.isArray(v) ? Number(k) : k]);
    }
  };
  walk(copy, []);
  const path = paths[Math.floor(rand() * paths.length)]!;
  let at: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (rand() < 0.2) delete at[last];
  else at[last] = ODD[Math.floor(rand() * ODD.length)];
  return copy;
}

describe('the params of didChange and copilotInlineEdit', () => {
  const change = { textDocument: { uri: 'file:///ws/a.ts', version: 3 }, contentChanges: [{ range: { start: { line: 0, character: 2 }, end: { line: 1, character: 0 } }, text: 'x' }, { text: 'whole' }] };
  const edit = { textDocument: { uri: 'file:///ws/a.ts', version: 3 }, position: { line: 4, character: 1 } };

  it('pass when they fit, and are refused as the shape refuses them, naming the field', () => {
    expect(notificationProblem('textDocument/didChange', DidChangeShape, change)).toBeUndefined();
    expect(requestParams('textDocument/copilotInlineEdit', CopilotInlineEditShape, edit)).toBe(edit);
    expect(notificationProblem('textDocument/didChange', DidChangeShape, { ...change, contentChanges: [{ text: 1 }] })).toBe('textDocument/didChange: params.contentChanges[0].text: expected a string');
    expect(() => requestParams('textDocument/copilotInlineEdit', CopilotInlineEditShape, { ...edit, position: { line: -1, character: 0 } })).toThrow('textDocument/copilotInlineEdit: params.position.line: expected a non-negative integer');
  });

  it('get the shape\'s verdict on 2,000 seeded mutations', () => {
    const rand = mulberry32(11);
    for (let n = 0; n < 1000; n++) {
      const c = mutate(change, rand);
      expect(notificationProblem('textDocument/didChange', DidChangeShape, c) === undefined, JSON.stringify(c)).toBe(DidChangeShape.safeParse(c).success);
      const e = mutate(edit, rand);
      let passed = true;
      try {
        requestParams('textDocument/copilotInlineEdit', CopilotInlineEditShape, e);
      } catch {
        passed = false;
      }
      expect(passed, JSON.stringify(e)).toBe(CopilotInlineEditShape.safeParse(e).success);
    }
  });
});
