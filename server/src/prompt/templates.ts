// Fill-in-the-middle templates: how each model family wants prefix and suffix laid out, and where it stops.
import type { FimTemplateName } from '../config/schema.js';

export interface FimTemplate {
  name: FimTemplateName;
  render(prefix: string, suffix: string): string;
  /** Special tokens that end a completion, besides the model's own end of sequence. */
  stop: string[];
}

export const TEMPLATES: Record<FimTemplateName, FimTemplate> = {
  // Qwen2.5-Coder: prefix first, so vLLM's prefix cache keeps the file head hot between keystrokes.
  qwen: {
    name: 'qwen',
    render: (p, s) => `<|fim_prefix|>${p}<|fim_suffix|>${s}<|fim_middle|>`,
    stop: ['<|endoftext|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<|im_start|>', '<|im_end|>'],
  },
  // DeepSeek-Coder: full-width vertical bars (U+FF5C) and U+2581 in place of spaces.
  deepseek: {
    name: 'deepseek',
    render: (p, s) => `<\uFF5Cfim\u2581begin\uFF5C>${p}<\uFF5Cfim\u2581hole\uFF5C>${s}<\uFF5Cfim\u2581end\uFF5C>`,
    stop: ['<\uFF5Cfim\u2581begin\uFF5C>', '<\uFF5Cfim\u2581hole\uFF5C>', '<\uFF5Cfim\u2581end\uFF5C>', '<\uFF5Cend\u2581of\u2581sentence\uFF5C>', '<|EOT|>'],
  },
  // StarCoder / StarCoder2.
  starcoder: {
    name: 'starcoder',
    render: (p, s) => `<fim_prefix>${p}<fim_suffix>${s}<fim_middle>`,
    stop: ['<|endoftext|>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>', '<repo_name>'],
  },
  // Code Llama: spaces around the sentinels are part of the trained format.
  codellama: {
    name: 'codellama',
    render: (p, s) => `<PRE> ${p} <SUF>${s} <MID>`,
    stop: ['<EOT>', '<PRE>', '<SUF>', '<MID>', '</s>'],
  },
  // Codestral: suffix first, then prefix; the model continues the prefix.
  codestral: {
    name: 'codestral',
    render: (p, s) => `[SUFFIX]${s}[PREFIX]${p}`,
    stop: ['[SUFFIX]', '[PREFIX]', '[MIDDLE]', '</s>'],
  },
};

const BY_MODEL_NAME: [RegExp, FimTemplateName][] = [
  [/qwen/i, 'qwen'],
  [/deepseek/i, 'deepseek'],
  [/starcoder|star-coder/i, 'starcoder'],
  [/code-?llama/i, 'codellama'],
  [/codestral|mistral/i, 'codestral'],
];

/** The template named in config, else the one the model name suggests; undefined when it suggests none. */
export function templateFor(modelId: string, override?: FimTemplateName): FimTemplate | undefined {
  if (override) return TEMPLATES[override];
  for (const [re, name] of BY_MODEL_NAME) if (re.test(modelId)) return TEMPLATES[name];
  return undefined;
}
