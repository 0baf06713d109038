// The inline prompt's windows: whole lines, the file's head kept when trimmed, a stable start, the budget.
import { describe, expect, it } from 'vitest';
import type { Doc } from '../../server/src/documents.js';
import { buildInlinePrompt, WINDOW_SNAP_LINES, type InlinePrompt, type PromptBudget } from '../../server/src/prompt/inline.js';
import { TEMPLATES } from '../../server/src/prompt/templates.js';
import { estimateTokens } from '../../server/src/prompt/tokens.js';
import { CURSOR, openAt } from './fixtures.js';

interface Fixture {
  lang: string;
  rel: string;
  /** A long file with `├` deep inside a function whose signature is far above. */
  text: string;
  imports: string;
  scopes: string;
}

function tsFixture(): Fixture {
  const lines = ["import { readFileSync } from 'node:fs';", "import type { Config } from './config.js';", '', 'export class Store {', '  private items: string[] = [];', ''];
  for (let i = 0; i < 150; i++) lines.push(`  helper${i}(x: number): number {`, `    return x * ${i} + this.items.length;`, '  }', '');
  lines.push('  process(', '    input: string,', '    config: Config,', '  ): string[] {', '    const out: string[] = [];');
  for (let i = 0; i < 120; i++) lines.push(`    out.push(input.slice(${i}));`);
  lines.push(`    ${CURSOR}`, '    return out;', '  }', '}', '');
  return {
    lang: 'typescript',
    rel: 'src/store.ts',
    text: lines.join('\n'),
    imports: "import { readFileSync } from 'node:fs';\nimport type { Config } from './config.js';\n",
    scopes: 'export class Store {\n  process(\n    input: string,\n    config: Config,\n  ): string[] {\n',
  };
}

function pyFixture(): Fixture {
  const lines = ['import os', 'from typing import List', '', '', 'class Parser:', '    """Splits text."""', ''];
  for (let i = 0; i < 150; i++) lines.push(`    def helper${i}(self, x):`, `        return x * ${i}`, '');
  lines.push('    def parse(self, text: str) -> List[str]:', '        out = []');
  for (let i = 0; i < 120; i++) lines.push(`        out.append(text[${i}:])`);
  lines.push(`        ${CURSOR}`, '        return out', '');
  return {
    lang: 'python',
    rel: 'pkg/parser.py',
    text: lines.join('\n'),
    imports: 'import os\nfrom typing import List\n',
    // Signatures only: not the class docstring, not the first line of the body.
    scopes: 'class Parser:\n    def parse(self, text: str) -> List[str]:\n',
  };
}

function goFixture(): Fixture {
  const lines = ['package store', '', 'import (', '\t"fmt"', '\t"strings"', ')', '', 'type Store struct {', '\titems []string', '}', ''];
  for (let i = 0; i < 150; i++) lines.push(`func helper${i}(x int) int {`, `\treturn x * ${i}`, '}', '');
  lines.push('func (s *Store) Process(input string) []string {', '\tout := []string{}');
  for (let i = 0; i < 120; i++) lines.push(`\tout = append(out, strings.ToUpper(input[${i}:]))`);
  lines.push(`\t${CURSOR}`, '\treturn out', '}', '');
  return {
    lang: 'go',
    rel: 'store/store.go',
    text: lines.join('\n'),
    imports: 'package store\nimport (\n\t"fmt"\n\t"strings"\n)\n',
    scopes: 'func (s *Store) Process(input string) []string {\n',
  };
}

const FIXTURES: [string, () => Fixture][] = [
  ['TypeScript', tsFixture],
  ['Python', pyFixture],
  ['Go', goFixture],
];

const SMALL: PromptBudget = { contextWindow: 1024, maxTokens: 128, maxPromptTokens: 4096 };

function render(doc: Doc, offset: number, rel: string, budget: PromptBudget = SMALL): InlinePrompt {
  return buildInlinePrompt({
    doc: doc.text,
    offset,
    language: doc.tree?.language,
    lineComment: doc.tree?.language.lineComment ?? '//',
    tree: doc.tree?.parseNow(),
    relPath: rel,
    template: TEMPLATES.qwen,
    budget,
  });
}

/** Prefix and suffix out of a qwen-rendered prompt. */
function parts(p: InlinePrompt): { prefix: string; suffix: string } {
  const m = /^<\|fim_prefix\|>([\s\S]*)<\|fim_suffix\|>([\s\S]*)<\|fim_middle\|>$/.exec(p.prompt);
  if (!m) throw new Error('not a qwen prompt');
  return { prefix: m[1]!, suffix: m[2]! };
}

describe.each(FIXTURES)('buildInlinePrompt: %s', (_name, make) => {
  const fx = make();
  const { doc, offset } = openAt(fx.text, fx.lang);
  const text = doc.text.getText();
  const p = render(doc, offset, fx.rel);
  const { prefix, suffix } = parts(p);
  const comment = fx.lang === 'python' ? '#' : '//';
  const pathLine = `${comment} Path: ${fx.rel}\n`;

  it('trims the window on a long file with a small budget', () => {
    expect(p.windowStartLine).toBeGreaterThan(50);
    expect(prefix.length).toBeLessThan(offset / 2);
  });

  it('keeps the imports and the signatures of the enclosing scopes at the head', () => {
    const head = pathLine + fx.imports + fx.scopes;
    expect(prefix.slice(0, head.length)).toBe(head);
    // After the head comes the window: whole lines up to the cursor.
    const windowStart = doc.text.offsetAt({ line: p.windowStartLine, character: 0 });
    expect(prefix.slice(head.length)).toBe(text.slice(windowStart, offset));
  });

  it('cuts prefix and suffix at whole lines', () => {
    const windowStart = doc.text.offsetAt({ line: p.windowStartLine, character: 0 });
    expect(windowStart === 0 || text[windowStart - 1] === '\n').toBe(true);
    expect(text.slice(offset, offset + suffix.length)).toBe(suffix);
    const end = offset + suffix.length;
    expect(end === text.length || text[end - 1] === '\n' || text[end] === '\n').toBe(true);
  });

  it('lists its segments with kinds, path and tokens', () => {
    const windowStart = doc.text.offsetAt({ line: p.windowStartLine, character: 0 });
    expect(p.segments).toEqual([
      { kind: 'path', path: fx.rel, tokens: estimateTokens(pathLine) },
      { kind: 'imports', path: fx.rel, tokens: estimateTokens(fx.imports) },
      { kind: 'scope', path: fx.rel, tokens: estimateTokens(fx.scopes) },
      { kind: 'prefix', path: fx.rel, tokens: estimateTokens(text.slice(windowStart, offset)) },
      { kind: 'suffix', path: fx.rel, tokens: estimateTokens(suffix) },
    ]);
    expect(p.budget).toEqual({ contextWindow: SMALL.contextWindow, prompt: estimateTokens(p.prompt), maxTokens: SMALL.maxTokens });
    expect(p.stop).toEqual(TEMPLATES.qwen.stop);
  });

  it('keeps the start of the prompt byte-identical while typing at the cursor', () => {
    const { doc: live, offset: at, store } = openAt(fx.text, fx.lang);
    const stable: string[] = [];
    const typed = 'result = value + 1';
    let cursor = live.text.positionAt(at);
    for (let i = 0; i <= typed.length; i++) {
      if (i > 0) {
        store.change(live.uri, i + 1, [{ range: { start: cursor, end: cursor }, text: typed[i - 1]! }]);
        cursor = { line: cursor.line, character: cursor.character + 1 };
      }
      const q = render(live, live.text.offsetAt(cursor), fx.rel);
      const linePart = live.text.getText({ start: { line: cursor.line, character: 0 }, end: cursor });
      const pre = parts(q).prefix;
      expect(pre.endsWith(linePart)).toBe(true);
      stable.push(pre.slice(0, pre.length - linePart.length));
    }
    expect(new Set(stable).size).toBe(1);
  });

  const budgets: PromptBudget[] = [
    { contextWindow: 512, maxTokens: 64, maxPromptTokens: 4096 },
    { contextWindow: 1024, maxTokens: 128, maxPromptTokens: 4096 },
    { contextWindow: 2048, maxTokens: 1024, maxPromptTokens: 4096 },
    { contextWindow: 32768, maxTokens: 128, maxPromptTokens: 1500 },
    { contextWindow: 4096, maxTokens: 256, maxPromptTokens: 4096 },
  ];
  it.each(budgets)('stays within min(maxPromptTokens, contextWindow - maxTokens): %o', (budget) => {
    const q = render(doc, offset, fx.rel, budget);
    const limit = Math.min(budget.maxPromptTokens, budget.contextWindow - budget.maxTokens);
    expect(q.budget.prompt).toBeLessThanOrEqual(limit);
    // ...and uses the rest, but for the safety margin and what snapping the window start to a
    // multiple of WINDOW_SNAP_LINES lines gives away: a long file has plenty to fill it with.
    const longest = Math.max(...text.split('\n').map((l) => l.length + 1));
    expect(q.budget.prompt).toBeGreaterThan(limit - 32 - estimateTokens('x'.repeat((WINDOW_SNAP_LINES + 1) * longest)));
    expect(q.budget.prompt).toBe(estimateTokens(q.prompt));
  });
});

describe('buildInlinePrompt: small files and edge cases', () => {
  it('a file that fits is sent whole, without a repeated head', () => {
    const { doc, offset } = openAt("import x from 'x';\n\nfunction f() {\n  ├\n}\n", 'typescript');
    const p = render(doc, offset, 'a.ts');
    expect(p.prompt).toBe("<|fim_prefix|>// Path: a.ts\nimport x from 'x';\n\nfunction f() {\n  <|fim_suffix|>\n}\n<|fim_middle|>");
    expect(p.windowStartLine).toBe(0);
    expect(p.segments.map((s) => s.kind)).toEqual(['path', 'prefix', 'suffix']);
  });

  it('a language without a grammar still gets whole-line windows and a path line', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i} of some plain text here`);
    lines[300] = `line 300 ${CURSOR}of some plain text here`;
    const { doc, offset } = openAt(lines.join('\n'), 'plaintext');
    expect(doc.tree).toBeUndefined();
    const p = render(doc, offset, 'notes.txt');
    const { prefix, suffix } = parts(p);
    expect(prefix.startsWith('// Path: notes.txt\nline ')).toBe(true);
    expect(suffix.startsWith('of some plain text here\nline 301 ')).toBe(true);
    expect(suffix.endsWith('\n')).toBe(true);
    expect(p.budget.prompt).toBeLessThanOrEqual(1024 - 128);
  });

  it('a line longer than the whole budget (minified code) is cut mid-line, within budget', () => {
    const marked = 'const a = 1;\nconst data = [' + '1234567, '.repeat(5000) + CURSOR + '9, '.repeat(5000) + '];\n';
    const { doc, offset } = openAt(marked, 'typescript');
    const p = render(doc, offset, 'min.js');
    expect(p.budget.prompt).toBeLessThanOrEqual(1024 - 128);
    const { prefix, suffix } = parts(p);
    expect(prefix.endsWith('1234567, 1234567, ')).toBe(true);
    expect(suffix.startsWith('9, 9, ')).toBe(true);
    expect(suffix.length).toBeGreaterThan(100);
    expect(prefix.length).toBeGreaterThan(1000);
  });

  it('never cuts a surrogate pair in half', () => {
    const marked = '😀'.repeat(5000) + CURSOR + '😀'.repeat(5000);
    const { doc, offset } = openAt(marked, 'plaintext');
    const { prefix, suffix } = parts(render(doc, offset, 'e.txt'));
    const window = prefix.slice('// Path: e.txt\n'.length);
    expect(window.length % 2).toBe(0);
    expect(window.startsWith('😀')).toBe(true);
    expect(suffix.length % 2).toBe(0);
    expect(suffix.endsWith('😀')).toBe(true);
  });

  it('the suffix of a CRLF file keeps whole lines', () => {
    const { doc, offset } = openAt('a();\r\nb(├x);\r\nc();\r\n', 'typescript');
    expect(parts(render(doc, offset, 'a.ts')).suffix).toBe('x);\r\nc();\r\n');
  });
});
