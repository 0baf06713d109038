// Fill-in-the-middle templates: how each model family wants prefix and suffix laid out, and where it stops.
import type { FimTemplateName } from '../config/schema.js';

export interface FimTemplate {
  name: FimTemplateName;
  render(prefix: string, suffix: string): string;
  /** Special tokens that end a completion, besides the model's own end of sequence. */
  stop: string[];
  /**
   * The repository-level layout the model was trained on, for prompts with snippets of other
   * files; families without one get the snippets as comments at the head of the prefix.
   */
  renderRepo?: (r: RepoPrompt) => string;
}

export interface RepoPrompt {
  repoName: string;
  /** Other files' snippets, sorted by path. */
  files: { path: string; text: string }[];
  /** The current file's path. */
  path: string;
  prefix: string;
  suffix: string;
}

export const TEMPLATES: Record<FimTemplateName, FimTemplate> = {
  // Qwen2.5-Coder: prefix first, so vLLM's prefix cache keeps the file head hot between keystrokes.
  qwen: {
    name: 'qwen',
    render: (p, s) => `<|fim_prefix|>${p}<|fim_suffix|>${s}<|fim_middle|>`,
    stop: ['<|endoftext|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<|im_start|>', '<|im_end|>'],
    // Qwen2.5-Coder's repository format: files under <|file_sep|> with their paths, the current one last.
    renderRepo: (r) =>
      `<|repo_name|>${r.repoName}\n` + r.files.map((f) => `<|file_sep|>${f.path}\n${f.text}\n`).join('') + `<|file_sep|>${r.path}\n<|fim_prefix|>${r.prefix}<|fim_suffix|>${r.suffix}<|fim_middle|>`,
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
    // StarCoder2's repository format: the current file's path opens its fill-in-the-middle part.
    renderRepo: (r) =>
      `<repo_name>${r.repoName}` + r.files.map((f) => `<file_sep>${f.path}\n${f.text}\n`).join('') + `<file_sep><fim_prefix>${r.path}\n${r.prefix}<fim_suffix>${r.suffix}<fim_middle>`,
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
