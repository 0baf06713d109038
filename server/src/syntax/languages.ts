// Which tree-sitter grammar parses which document, and the node types the prompt stage cares about.
import { createRequire } from 'node:module';
import { extname } from 'node:path';

const require = createRequire(import.meta.url);

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

// Grammar objects are loaded on first use: the CLI's `--help` should not pay for seven native modules.
const grammars = new Map<LanguageName, unknown>();
export function grammar(name: LanguageName): unknown {
  let g = grammars.get(name);
  if (!g) {
    switch (name) {
      case 'typescript': g = require('tree-sitter-typescript').typescript; break;
      case 'tsx': g = require('tree-sitter-typescript').tsx; break;
      case 'javascript': g = require('tree-sitter-javascript'); break;
      case 'python': g = require('tree-sitter-python'); break;
      case 'go': g = require('tree-sitter-go'); break;
      case 'rust': g = require('tree-sitter-rust'); break;
      case 'java': g = require('tree-sitter-java'); break;
    }
    grammars.set(name, g);
  }
  return g;
}
