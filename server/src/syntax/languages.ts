// Which tree-sitter grammar parses which document, and the node types the prompt stage cares about.
import { extname } from 'node:path';
import { bindingFailure, loadGrammar, syntaxBackend, type GrammarSource } from './binding.js';

export type LanguageName = 'typescript' | 'tsx' | 'javascript' | 'python' | 'go' | 'rust' | 'java';

export interface LanguageInfo {
  name: LanguageName;
  /** Top-level statements kept at the head of a trimmed prompt (imports, package lines). */
  importTypes: ReadonlySet<string>;
  /** Nodes whose first lines (signature) are kept when the prefix window cuts them off. */
  scopeTypes: ReadonlySet<string>;
  lineComment: string;
}

const TS_SCOPES = ['function_declaration', 'generator_function_declaration', 'method_definition', 'class_declaration', 'abstract_class_declaration', 'interface_declaration', 'enum_declaration', 'internal_module', 'function_expression', 'arrow_function', 'lexical_declaration'];

const INFO: Record<LanguageName, LanguageInfo> = {
  typescript: { name: 'typescript', importTypes: new Set(['import_statement']), scopeTypes: new Set(TS_SCOPES), lineComment: '//' },
  tsx: { name: 'tsx', importTypes: new Set(['import_statement']), scopeTypes: new Set(TS_SCOPES), lineComment: '//' },
  javascript: { name: 'javascript', importTypes: new Set(['import_statement']), scopeTypes: new Set(TS_SCOPES), lineComment: '//' },
  python: { name: 'python', importTypes: new Set(['import_statement', 'import_from_statement', 'future_import_statement']), scopeTypes: new Set(['function_definition', 'class_definition']), lineComment: '#' },
  go: { name: 'go', importTypes: new Set(['package_clause', 'import_declaration']), scopeTypes: new Set(['function_declaration', 'method_declaration', 'type_declaration', 'func_literal']), lineComment: '//' },
  rust: { name: 'rust', importTypes: new Set(['use_declaration', 'extern_crate_declaration']), scopeTypes: new Set(['function_item', 'impl_item', 'trait_item', 'struct_item', 'enum_item', 'mod_item']), lineComment: '//' },
  java: { name: 'java', importTypes: new Set(['package_declaration', 'import_declaration']), scopeTypes: new Set(['class_declaration', 'interface_declaration', 'enum_declaration', 'record_declaration', 'method_declaration', 'constructor_declaration']), lineComment: '//' },
};

const BY_LANGUAGE_ID: Record<string, LanguageName> = {
  typescript: 'typescript',
  typescriptreact: 'tsx',
  javascript: 'javascript',
  javascriptreact: 'javascript',
  python: 'python',
  go: 'go',
  rust: 'rust',
  java: 'java',
};

const BY_EXTENSION: Record<string, LanguageName> = {
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'tsx',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascript',
  '.py': 'python', '.pyi': 'python', '.go': 'go', '.rs': 'rust', '.java': 'java',
};

/** LSP languageId of a file path, for the CLI (editors send their own). */
export function languageIdForPath(path: string): string {
  const ext = extname(path).toLowerCase();
  const name = BY_EXTENSION[ext];
  if (name === 'tsx') return 'typescriptreact';
  return name ?? (ext ? ext.slice(1) : 'plaintext');
}

/** The grammar for a document: by its languageId, else by its file extension. */
export function languageOf(languageId: string, uriOrPath: string): LanguageInfo | undefined {
  const name = BY_LANGUAGE_ID[languageId] ?? BY_EXTENSION[extname(uriOrPath).toLowerCase()];
  return name ? INFO[name] : undefined;
}

/** Comment prefix for languages without a grammar, so a path line can still be written. */
export function lineCommentFor(languageId: string): string {
  if (/^(python|ruby|shellscript|sh|bash|perl|r|yaml|toml|dockerfile|makefile|elixir|nim)$/.test(languageId)) return '#';
  if (/^(lua|sql|haskell)$/.test(languageId)) return '--';
  return '//';
}

// Grammar objects are loaded on first use: the CLI's `--help` should not pay for seven of them.
// A grammar that cannot be loaded (nor tree-sitter: a grammar is no use without it) is undefined,
// tried once per process: its documents go without trees (syntax/binding.ts says why).
const grammars = new Map<LanguageName, unknown>();
const GRAMMAR_SOURCE: Record<LanguageName, GrammarSource> = {
  typescript: { pkg: 'tree-sitter-typescript', member: 'typescript', wasm: 'tree-sitter-typescript.wasm' },
  tsx: { pkg: 'tree-sitter-typescript', member: 'tsx', wasm: 'tree-sitter-tsx.wasm' },
  javascript: { pkg: 'tree-sitter-javascript', wasm: 'tree-sitter-javascript.wasm' },
  python: { pkg: 'tree-sitter-python', wasm: 'tree-sitter-python.wasm' },
  go: { pkg: 'tree-sitter-go', wasm: 'tree-sitter-go.wasm' },
  rust: { pkg: 'tree-sitter-rust', wasm: 'tree-sitter-rust.wasm' },
  java: { pkg: 'tree-sitter-java', wasm: 'tree-sitter-java.wasm' },
};
const grammarFailures = new Map<LanguageName, string>();

export function grammar(name: LanguageName): unknown {
  const g = grammars.get(name);
  if (g !== undefined || grammarFailures.has(name)) return g;
  // tree-sitter not loaded (yet, or at all): nothing is remembered, so a later load counts.
  if (!syntaxBackend()) return undefined;
  const r = loadGrammar(GRAMMAR_SOURCE[name]);
  if ('error' in r) grammarFailures.set(name, r.error);
  else grammars.set(name, r.value);
  return grammars.get(name);
}

/** Why `name`'s grammar is not there (undefined: it loaded). Tries to load it. */
export function grammarFailure(name: LanguageName): string | undefined {
  if (grammar(name) !== undefined) return undefined;
  return grammarFailures.get(name) ?? bindingFailure();
}

export const LANGUAGE_NAMES: readonly LanguageName[] = Object.keys(GRAMMAR_SOURCE) as LanguageName[];

/** For tests: load the grammars again (after resetBindingForTests). */
export function resetGrammarsForTests(): void {
  grammars.clear();
  grammarFailures.clear();
}
