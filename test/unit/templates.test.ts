// Golden table of the fill-in-the-middle templates: exact sentinels, order, spaces and stop strings.
import { describe, expect, it } from 'vitest';
import { FIM_TEMPLATES, type FimTemplateName } from '../../server/src/config/schema.js';
import { TEMPLATES, templateFor } from '../../server/src/prompt/templates.js';

// Spelt out with escapes on purpose: DeepSeek's bars are U+FF5C (not "|") and its spaces U+2581.
const BAR = '\uFF5C';
const SP = '\u2581';

const GOLDEN: Record<FimTemplateName, { rendered: string; stop: string[] }> = {
  qwen: {
    rendered: '<|fim_prefix|>PRE<|fim_suffix|>SUF<|fim_middle|>',
    stop: ['<|endoftext|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<|im_start|>', '<|im_end|>'],
  },
  deepseek: {
    rendered: `<${BAR}fim${SP}begin${BAR}>PRE<${BAR}fim${SP}hole${BAR}>SUF<${BAR}fim${SP}end${BAR}>`,
    stop: [`<${BAR}fim${SP}begin${BAR}>`, `<${BAR}fim${SP}hole${BAR}>`, `<${BAR}fim${SP}end${BAR}>`, `<${BAR}end${SP}of${SP}sentence${BAR}>`, '<|EOT|>'],
  },
  starcoder: {
    rendered: '<fim_prefix>PRE<fim_suffix>SUF<fim_middle>',
    stop: ['<|endoftext|>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>', '<repo_name>'],
  },
  codellama: {
    // One space after <PRE>, one before <SUF> and one before <MID>: the trained format.
    rendered: '<PRE> PRE <SUF>SUF <MID>',
    stop: ['<EOT>', '<PRE>', '<SUF>', '<MID>', '</s>'],
  },
  codestral: {
    // Suffix first; the model continues the prefix.
    rendered: '[SUFFIX]SUF[PREFIX]PRE',
    stop: ['[SUFFIX]', '[PREFIX]', '[MIDDLE]', '</s>'],
  },
};

describe('FIM templates', () => {
  it('the golden table covers every template of the config schema', () => {
    expect(Object.keys(GOLDEN).sort()).toEqual([...FIM_TEMPLATES].sort());
    expect(Object.keys(TEMPLATES).sort()).toEqual([...FIM_TEMPLATES].sort());
  });

  it.each(FIM_TEMPLATES.map((n) => [n] as const))('%s renders and stops as the model was trained', (name) => {
    const t = TEMPLATES[name];
    expect(t.name).toBe(name);
    expect(t.render('PRE', 'SUF')).toBe(GOLDEN[name].rendered);
    expect(t.stop).toEqual(GOLDEN[name].stop);
  });

  it.each(FIM_TEMPLATES.map((n) => [n] as const))('%s passes prefix and suffix through verbatim', (name) => {
    const pre = 'def f(x):\n\treturn $& $1 ';
    const suf = '\n\n# 😀 end\r\n';
    const out = TEMPLATES[name].render(pre, suf);
    expect(out).toContain(pre);
    expect(out).toContain(suf);
    // Every template's own sentinels are among its stop strings (so a model echoing one ends there).
    const sentinels = TEMPLATES[name].render('\u0000', '\u0001').split(/[\u0000\u0001]/).map((s) => s.trim()).filter((s) => s !== '');
    for (const s of sentinels) expect(TEMPLATES[name].stop).toContain(s);
  });

  it('deepseek uses U+FF5C and U+2581, never ASCII | or spaces inside its sentinels', () => {
    const out = TEMPLATES.deepseek.render('', '');
    expect(out).not.toMatch(/[| ]/);
    expect([...out].filter((c) => c === BAR)).toHaveLength(6);
    expect([...out].filter((c) => c === SP)).toHaveLength(3);
  });
});

describe('templateFor', () => {
  const byName: [string, FimTemplateName | undefined][] = [
    ['Qwen/Qwen2.5-Coder-7B', 'qwen'],
    ['Qwen/Qwen2.5-Coder-32B-Instruct-AWQ', 'qwen'],
    ['deepseek-ai/deepseek-coder-6.7b-base', 'deepseek'],
    ['deepseek-ai/DeepSeek-Coder-V2-Lite-Base', 'deepseek'],
    ['bigcode/starcoder2-15b', 'starcoder'],
    ['bigcode/starcoderbase-1b', 'starcoder'],
    ['codellama/CodeLlama-7b-hf', 'codellama'],
    ['meta/code-llama-13b', 'codellama'],
    ['mistralai/Codestral-22B-v0.1', 'codestral'],
    ['codestral-latest', 'codestral'],
    ['gpt-4o', undefined],
    ['meta-llama/Llama-3.1-8B', undefined],
    ['', undefined],
  ];
  it.each(byName)('%s → %s', (model, expected) => {
    expect(templateFor(model)?.name).toBe(expected);
  });

  const overrides: [string, FimTemplateName][] = [
    ['Qwen/Qwen2.5-Coder-7B', 'starcoder'],
    ['gpt-4o', 'codestral'],
    ['', 'deepseek'],
  ];
  it.each(overrides)('backends.*.fim overrides the model name (%s with fim=%s)', (model, override) => {
    expect(templateFor(model, override)).toBe(TEMPLATES[override]);
  });
});
