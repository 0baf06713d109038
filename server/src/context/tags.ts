// Tag queries: the definitions (with their signature lines) and imports of one parsed file, per language.
import { newQuery, type SyntaxQuery, type TagMatch } from '../syntax/binding.js';
import { grammar, type LanguageName } from '../syntax/languages.js';
import type { SyntaxNode, Tree } from '../syntax/tree.js';
import { rowsToRuns, splitLines, type ExportAlias, type FileSymbols, type ImportRef, type IndexedSymbol, type Run, type SymbolKind } from './types.js';

// One pattern per definition form; the capture after the pattern names its kind, @name its name.
// Top-level-only forms (constants, arrow functions bound to a name) are filtered in code. An object
// literal's function-valued property is a method as `{ f() {} }` is: a provider object's
// `provideX: (document, token) => {…}` is what `provider.provideX(` calls.
const TS_COMMON = `
(function_declaration name: (identifier) @name) @function
(generator_function_declaration name: (identifier) @name) @function
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @method
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @function
(variable_declarator name: (identifier) @name) @constant
(pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @method
(pair key: (property_identifier) @name value: (ternary_expression consequence: [(arrow_function) (function_expression)])) @method
`;
const TS_TYPES = `
(function_signature name: (identifier) @name) @function
(internal_module name: (identifier) @name) @type
(class_declaration name: (type_identifier) @name) @class
(abstract_class_declaration name: (type_identifier) @name) @class
(interface_declaration name: (type_identifier) @name) @interface
(type_alias_declaration name: (type_identifier) @name) @type
(enum_declaration name: (identifier) @name) @enum
(abstract_method_signature name: (property_identifier) @name) @method
(method_signature name: (property_identifier) @name) @method
`;

export const QUERIES: Record<LanguageName, string> = {
  typescript: TS_COMMON + TS_TYPES,
  tsx: TS_COMMON + TS_TYPES,
  javascript: TS_COMMON + '(class_declaration name: (identifier) @name) @class\n',
  python: `
(function_definition name: (identifier) @name) @function
(class_definition name: (identifier) @name) @class
(module (expression_statement (assignment left: (identifier) @name)) @constant)
`,
  go: `
(function_declaration name: (identifier) @name) @function
(method_declaration name: (field_identifier) @name) @method
(method_elem name: (field_identifier) @name) @method
(type_spec name: (type_identifier) @name) @type
(source_file (const_declaration (const_spec name: (identifier) @name)) @constant)
`,
  rust: `
(function_item name: (identifier) @name) @function
(function_signature_item name: (identifier) @name) @method
(struct_item name: (type_identifier) @name) @struct
(enum_item name: (type_identifier) @name) @enum
(trait_item name: (type_identifier) @name) @trait
(type_item name: (type_identifier) @name) @type
(const_item name: (identifier) @name) @constant
(static_item name: (identifier) @name) @constant
`,
  java: `
(class_declaration name: (identifier) @name) @class
(record_declaration name: (identifier) @name) @class
(interface_declaration name: (identifier) @name) @interface
(enum_declaration name: (identifier) @name) @enum
(method_declaration name: (identifier) @name) @method
`,
};

/** A function this short is shown whole; longer ones by their signature. */
const SHORT_FUNCTION_LINES = 6;
/**
 * A signature (decorators, parameter list, return type) is kept whole, however many lines: a long
 * parameter list is what a caller needs most. Only an absurd one (generated code, a parse gone
 * wrong) is cut here, so that one definition cannot fill a prompt's context on its own.
 */
const MAX_SIGNATURE_LINES = 60;
/** A type this short is shown whole; longer ones by header and member signatures. */
const SMALL_TYPE_LINES = 14;
const MAX_TYPE_LINES = 30;
const MAX_LINE_CHARS = 240;
/** Symbols kept per file: generated files with thousands of definitions cost memory, not recall. */
const MAX_SYMBOLS_PER_FILE = 400;
/** Query matches looked at per file, so that the top-level ones among them can be kept first. */
const MAX_MATCHES_PER_FILE = 8 * MAX_SYMBOLS_PER_FILE;
/**
 * The tag query's time limit on a file that holds a syntax error, after which it gives what it
 * found. Tree-sitter's query cursor is superlinear in what error recovery builds: 250 kB of `${`
 * (one ERROR node over 160,000 tokens, nested in hidden nodes) took 80-130 s, where a normal
 * 256 kB file takes 30-50 ms, with or without an error in it. A file that parses cleanly has no
 * time limit: its query is linear in its size (bounded by `maxFileBytes`) and bounded by
 * MAX_START_DEPTH, so its tags are complete however loaded the machine.
 */
export const QUERY_TIMEOUT_MS = 500;
/**
 * Deepest node (in named and anonymous visible nodes) at which a definition is looked for: a bound
 * on the query's walk that no real definition comes near (a method in a class in a namespace is at
 * depth 5); 20,000 nested `[` cost 12 ms without it, nothing with.
 */
const MAX_START_DEPTH = 100;

const TYPE_KINDS: ReadonlySet<SymbolKind> = new Set(['class', 'interface', 'type', 'enum', 'struct', 'trait']);
const BRACE_LANGUAGES: ReadonlySet<LanguageName> = new Set(['typescript', 'tsx', 'javascript', 'go', 'rust', 'java']);

/** Compiles each language's tag query once; one per index, not per module. */
export class TagExtractor {
  private readonly queries = new Map<LanguageName, SyntaxQuery>();

  private query(lang: LanguageName): SyntaxQuery {
    let q = this.queries.get(lang);
    if (!q) {
      q = newQuery(grammar(lang), QUERIES[lang]);
      this.queries.set(lang, q);
    }
    return q;
  }

  /**
   * The tag query's matches. A tree without errors is queried with no clock (its query is linear
   * in its size), so a clean file's tags are complete however loaded the machine; a tree with
   * errors, where error recovery can make the query superlinear, under QUERY_TIMEOUT_MS.
   */
  matches(lang: LanguageName, tree: Tree): TagMatch[] {
    const root = tree.rootNode;
    return this.query(lang).matches(root, root.hasError ? { maxStartDepth: MAX_START_DEPTH, maxMs: QUERY_TIMEOUT_MS } : { maxStartDepth: MAX_START_DEPTH });
  }

  /** Definitions and imports of a file. Never throws for odd input: a broken tree gives what it has. */
  extract(tree: Tree, lang: LanguageName, text: string): FileSymbols {
    const lines = splitLines(text);
    const lineAt = (r: number) => lines[r];
    const symbols: Omit<IndexedSymbol, 'path'>[] = [];
    const seen = new Set<number>();
    const found: { node: SyntaxNode; name: string; kind: SymbolKind; container?: string }[] = [];
    for (const m of this.matches(lang, tree)) {
      if (found.length >= MAX_MATCHES_PER_FILE) break;
      const def = m.captures.find((c) => c.name !== 'name');
      const name = m.captures.find((c) => c.name === 'name');
      if (!def || !name) continue;
      const node = def.node;
      if (seen.has(node.startIndex * 7 + node.endIndex)) continue; // an arrow function matched as function and constant
      let kind = def.name as SymbolKind;
      if (node.type === 'variable_declarator' && !topLevelDeclarator(node)) continue;
      if (node.type === 'variable_declarator') kind = /^(arrow_function|function_expression|function)$/.test(node.childForFieldName('value')?.type ?? '') ? 'function' : 'constant';
      if (kind === 'constant' && lang === 'python' && !/^[A-Z_][A-Z0-9_]*$|^[A-Z][A-Za-z0-9]*$/.test(name.node.text)) continue;
      seen.add(node.startIndex * 7 + node.endIndex);
      if (lang === 'go' && node.type === 'type_spec') kind = goTypeKind(node);
      const container = containerOf(node, lang);
      if (kind === 'function' && container && node.type !== 'variable_declarator') kind = 'method';
      found.push({ node, name: name.node.text, kind, container });
    }
    for (const { node, name, kind, container } of keepTopLevelFirst(found)) {
      const outer = outerNode(node);
      const rows = TYPE_KINDS.has(kind) ? typeRows(node, outer, lang, lineAt) : kind === 'constant' ? constantRows(outer) : functionRows(node, outer, lang);
      // Own copies: a slice of the file's text would keep the whole file alive in the index.
      const runs = rowsToRuns(lineAt, rows).map((r) => ({ start: r.start, text: own(capLines(r.text)) }));
      symbols.push({ name: own(name), kind, container: container ? own(container) : undefined, line: outer.startPosition.row, endLine: outer.endPosition.row, runs });
    }
    // `export default function (…)`, `export default class {…}`, `export default (…) => …`: no name
    // but 'default', under which `import x from` finds it.
    for (const node of anonymousDefaults(tree.rootNode, lang)) {
      if (symbols.length >= MAX_SYMBOLS_PER_FILE) break;
      const kind: SymbolKind = node.type === 'class' ? 'class' : 'function';
      const outer = node.parent!;
      const rows = kind === 'class' ? typeRows(node, outer, lang, lineAt) : functionRows(node, outer, lang);
      const runs = rowsToRuns(lineAt, rows).map((r) => ({ start: r.start, text: own(capLines(r.text)) }));
      symbols.push({ name: 'default', kind, line: outer.startPosition.row, endLine: outer.endPosition.row, runs });
    }
    const imports: ImportRef[] = extractImports(tree.rootNode, lang).map((r) => ({ source: own(r.source), names: r.names.map((n) => ({ imported: own(n.imported), local: own(n.local) })), namespace: r.namespace === undefined ? undefined : own(r.namespace) }));
    const exports = extractExportAliases(tree.rootNode, lang).map((a) => ({ name: own(a.name), local: own(a.local) }));
    return { symbols, imports, exports };
  }
}

/**
 * At most MAX_SYMBOLS_PER_FILE, in file order; over that, the top-level functions, types and
 * constants first (what other files import), then members. A large module's methods in object
 * literals must not push its exported functions out.
 */
function keepTopLevelFirst<T extends { kind: SymbolKind; container?: string }>(found: T[]): T[] {
  if (found.length <= MAX_SYMBOLS_PER_FILE) return found;
  const top = (s: T) => s.container === undefined && s.kind !== 'method';
  const kept = new Set(found.filter(top).slice(0, MAX_SYMBOLS_PER_FILE));
  for (const s of found) {
    if (kept.size >= MAX_SYMBOLS_PER_FILE) break;
    kept.add(s);
  }
  return found.filter((s) => kept.has(s));
}

/** Header and member signatures of a class-like node (the whole of a short one), capped per line. */
export function typeSummary(node: SyntaxNode, lang: LanguageName, lineAt: (row: number) => string | undefined): Run[] {
  return rowsToRuns(lineAt, typeRows(node, outerNode(node), lang, lineAt)).map((r) => ({ start: r.start, text: capLines(r.text) }));
}

/** A flat copy of a string that may be a slice of a larger one (V8 keeps the larger one alive). */
function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

function capLines(text: string): string {
  if (text.length < MAX_LINE_CHARS) return text;
  return text
    .split('\n')
    .map((l) => (l.length > MAX_LINE_CHARS ? l.slice(0, MAX_LINE_CHARS) : l))
    .join('\n');
}

function topLevelDeclarator(node: SyntaxNode): boolean {
  const decl = node.parent; // lexical_declaration / variable_declaration
  const up = decl?.parent;
  return !!up && (up.type === 'program' || (up.type === 'export_statement' && up.parent?.type === 'program'));
}

/** The node whose lines a definition occupies: with its `export`, decorators, `const` or `type (...)`. */
function outerNode(node: SyntaxNode): SyntaxNode {
  let n = node;
  if (n.type === 'variable_declarator' && n.parent) n = n.parent;
  if (n.type === 'type_spec' && n.parent?.type === 'type_declaration' && n.parent.namedChildCount === 1) n = n.parent;
  if (n.type === 'const_spec' && n.parent?.type === 'const_declaration' && n.parent.namedChildCount === 1) n = n.parent;
  if (n.parent && (n.parent.type === 'export_statement' || n.parent.type === 'decorated_definition' || n.parent.type === 'ambient_declaration')) n = n.parent;
  return n;
}

function goTypeKind(spec: SyntaxNode): SymbolKind {
  const t = spec.childForFieldName('type')?.type;
  return t === 'struct_type' ? 'struct' : t === 'interface_type' ? 'interface' : 'type';
}

const CONTAINER_TYPES = new Set(['class_declaration', 'abstract_class_declaration', 'interface_declaration', 'class', 'class_definition', 'record_declaration', 'enum_declaration', 'trait_item']);

/** The class, interface, impl or receiver type a member belongs to. */
function containerOf(node: SyntaxNode, lang: LanguageName): string | undefined {
  if (node.type === 'method_declaration' && lang === 'go') return goReceiverType(node);
  if (node.type === 'method_elem') return node.parent?.parent?.childForFieldName('name')?.text;
  for (let p = node.parent, depth = 0; p && depth < 4; p = p.parent, depth++) {
    if (p.type === 'impl_item') return baseTypeName(p.childForFieldName('type'));
    if (CONTAINER_TYPES.has(p.type)) return p.childForFieldName('name')?.text;
    if (p.type === 'function_definition' || p.type === 'function_declaration' || p.type === 'function_item') return undefined;
  }
  return undefined;
}

export function goReceiverType(method: SyntaxNode): string | undefined {
  const recv = method.childForFieldName('receiver');
  const param = recv?.namedChildren.find((c) => c.type === 'parameter_declaration');
  return baseTypeName(param?.childForFieldName('type'));
}

/** `*Store`, `Store[T]`, `&mut Repo<T>` → the type's own name. */
export function baseTypeName(t: SyntaxNode | null | undefined): string | undefined {
  for (let n = t, i = 0; n && i < 4; i++) {
    if (n.type === 'type_identifier' || n.type === 'identifier') return n.text;
    n = n.childForFieldName('type') ?? n.namedChildren.find((c) => c.type === 'type_identifier' || c.type.endsWith('_type')) ?? null;
  }
  return undefined;
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let r = a; r <= b; r++) out.push(r);
  return out;
}

/** The last row of a definition's signature: the line before its body starts, or the body's first line in brace languages. */
function signatureEnd(node: SyntaxNode, lang: LanguageName): number {
  const body = node.childForFieldName('body');
  if (!body) return node.endPosition.row;
  if (lang === 'python') return body.previousSibling?.endPosition.row ?? body.startPosition.row;
  return body.startPosition.row;
}

function functionRows(node: SyntaxNode, outer: SyntaxNode, lang: LanguageName): number[] {
  const start = outer.startPosition.row;
  const end = outer.endPosition.row;
  if (end - start + 1 <= SHORT_FUNCTION_LINES) return range(start, end);
  const fn = node.type === 'variable_declarator' || node.type === 'pair' ? functionValue(node) : node;
  const rows = range(start, Math.min(Math.max(start, signatureEnd(fn, lang)), start + MAX_SIGNATURE_LINES - 1));
  const doc = pythonDocstring(fn);
  if (doc) for (const r of range(doc.startPosition.row, Math.min(doc.endPosition.row, doc.startPosition.row + 2))) if (r > rows[rows.length - 1]!) rows.push(r);
  return rows;
}

/** The function a declarator or an object literal's property holds (`key: cond ? (…) => {…} : undefined` too). */
function functionValue(node: SyntaxNode): SyntaxNode {
  const value = node.childForFieldName('value');
  if (value?.type === 'ternary_expression') return value.childForFieldName('consequence') ?? value;
  return value ?? node;
}

function pythonDocstring(fn: SyntaxNode): SyntaxNode | undefined {
  const body = fn.type === 'function_definition' || fn.type === 'class_definition' ? fn.childForFieldName('body') : null;
  const first = body?.firstNamedChild;
  return first?.type === 'expression_statement' && first.firstNamedChild?.type === 'string' ? first : undefined;
}

function constantRows(outer: SyntaxNode): number[] {
  const start = outer.startPosition.row;
  return range(start, Math.min(outer.endPosition.row, start + 2));
}

/** The body node holding a type's members, in each grammar's shape. */
function typeBody(node: SyntaxNode): SyntaxNode | null {
  if (node.type === 'type_spec') {
    const t = node.childForFieldName('type');
    return t?.namedChildren.find((c) => c.type === 'field_declaration_list' || c.type.endsWith('_list')) ?? t ?? null;
  }
  return node.childForFieldName('body');
}

function typeRows(node: SyntaxNode, outer: SyntaxNode, lang: LanguageName, lineAt: (row: number) => string | undefined): number[] {
  const start = outer.startPosition.row;
  const end = outer.endPosition.row;
  if (end - start + 1 <= SMALL_TYPE_LINES) return range(start, end);
  const body = typeBody(node);
  const rows = new Set<number>(range(start, Math.min(body ? body.startPosition.row : start, start + MAX_SIGNATURE_LINES - 1)));
  const add = (a: number, b: number) => {
    for (let r = a; r <= b && rows.size < MAX_TYPE_LINES; r++) rows.add(r);
  };
  if (body) {
    // Sibling by sibling: a class of a thousand members is summarised by its first few, without a
    // node object made for each of the rest.
    for (let raw = body.firstNamedChild; raw; raw = raw.nextNamedSibling) {
      if (rows.size >= MAX_TYPE_LINES - 1) break;
      const m = raw.type === 'decorated_definition' ? (raw.childForFieldName('definition') ?? raw) : raw;
      if (m.type === 'comment') continue;
      const mBody = m.childForFieldName('body');
      if (mBody && mBody.endPosition.row > mBody.startPosition.row) {
        add(m.startPosition.row, Math.min(signatureEnd(m, lang), m.startPosition.row + 2));
        if (lang === 'python' && m.childForFieldName('name')?.text === '__init__') {
          for (const st of mBody.namedChildren) {
            const a = st.firstNamedChild;
            if (st.type === 'expression_statement' && a?.type === 'assignment' && /^self\.\w+/.test(a.childForFieldName('left')?.text ?? '')) add(st.startPosition.row, st.startPosition.row);
          }
        }
      } else if (m.endPosition.row - m.startPosition.row < 2) {
        add(m.startPosition.row, m.endPosition.row);
      }
    }
  }
  if (BRACE_LANGUAGES.has(lang) && lineAt(end)?.trim().startsWith('}')) rows.add(end);
  return [...rows].sort((a, b) => a - b);
}

function stringValue(n: SyntaxNode | null | undefined): string {
  if (!n) return '';
  const t = n.text;
  return t.length >= 2 && /^["'`]/.test(t) ? t.slice(1, -1) : t;
}

/** The file's imports: what they name and the local names they bind. */
export function extractImports(root: SyntaxNode, lang: LanguageName, maxStatements = Infinity): ImportRef[] {
  const out: ImportRef[] = [];
  const count = Math.min(root.namedChildCount, maxStatements);
  for (let i = 0; i < count; i++) {
    const st = root.namedChild(i);
    if (!st) continue;
    switch (lang) {
      case 'typescript':
      case 'tsx':
      case 'javascript': {
        if (st.type !== 'import_statement' && !(st.type === 'export_statement' && st.childForFieldName('source'))) break;
        const source = stringValue(st.childForFieldName('source'));
        const ref: ImportRef = { source, names: [] };
        const clause = st.namedChildren.find((c) => c.type === 'import_clause' || c.type === 'export_clause');
        // `export * as ns from`: a namespace; `export * from`: every name.
        if (st.type === 'export_statement' && !clause) ref.namespace = st.namedChildren.find((c) => c.type === 'namespace_export')?.namedChildren[0]?.text ?? '*';
        for (const c of clause?.namedChildren ?? []) {
          if (c.type === 'identifier') ref.names.push({ imported: 'default', local: c.text });
          else if (c.type === 'namespace_import') ref.namespace = c.namedChildren[0]?.text;
          else if (c.type === 'named_imports') {
            for (const s of c.namedChildren) {
              if (s.type !== 'import_specifier') continue;
              const n = s.childForFieldName('name')?.text;
              if (n) ref.names.push({ imported: n, local: s.childForFieldName('alias')?.text ?? n });
            }
          }
        }
        if (clause?.type === 'export_clause') {
          for (const s of clause.namedChildren) {
            const n = s.type === 'export_specifier' ? s.childForFieldName('name')?.text : undefined;
            // `local` is the name this file exports it as: `export { x as y } from` binds y.
            if (n) ref.names.push({ imported: n, local: s.childForFieldName('alias')?.text ?? n });
          }
        }
        if (source) out.push(ref);
        break;
      }
      case 'python': {
        // Also the imports under a top-level `if TYPE_CHECKING:` or `try: … except ImportError:`.
        // Only the statements directly in their blocks: an `if __name__ == "__main__":` may hold a whole script.
        const statements = st.type === 'if_statement' || st.type === 'try_statement' ? branchStatements(st) : [st];
        for (const s of statements) pythonImport(s, out);
        break;
      }
      case 'go': {
        if (st.type !== 'import_declaration') break;
        const specs = st.namedChildren.flatMap((c) => (c.type === 'import_spec_list' ? c.namedChildren : [c])).filter((c) => c.type === 'import_spec');
        for (const s of specs) {
          const source = stringValue(s.childForFieldName('path'));
          const alias = s.childForFieldName('name')?.text;
          if (source) out.push({ source, names: [], namespace: alias && alias !== '_' && alias !== '.' ? alias : goPackageName(source) });
        }
        break;
      }
      case 'rust': {
        // `mod x;` (a module in its own file) binds `x` as `use self::x` would.
        if (st.type === 'mod_item' && !st.childForFieldName('body')) {
          const name = st.childForFieldName('name')?.text;
          if (name) out.push({ source: `self::${name}`, names: [], namespace: name });
        }
        if (st.type !== 'use_declaration') break;
        const arg = st.childForFieldName('argument');
        if (arg) rustUse(arg, '', out);
        break;
      }
      case 'java': {
        if (st.type !== 'import_declaration') break;
        const name = st.namedChildren.find((c) => c.type === 'scoped_identifier' || c.type === 'identifier')?.text ?? '';
        const wildcard = st.namedChildren.some((c) => c.type === 'asterisk');
        if (!name) break;
        if (wildcard) out.push({ source: name, names: [], namespace: '*' });
        else {
          const last = name.split('.').pop()!;
          out.push({ source: name, names: [{ imported: last, local: last }] });
        }
        break;
      }
    }
  }
  return out;
}

/** The statements of an `if`/`try` statement's blocks (its branches, else, except, finally), one level down. */
function branchStatements(st: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (const c of st.namedChildren) {
    const block = c.type === 'block' ? c : c.namedChildren.find((x) => x.type === 'block');
    if (block) out.push(...block.namedChildren);
  }
  return out;
}

function pythonImport(s: SyntaxNode, out: ImportRef[]): void {
  if (s.type === 'import_statement') {
    for (const n of s.namedChildren) {
      const dotted = n.type === 'aliased_import' ? n.childForFieldName('name') : n;
      const alias = n.type === 'aliased_import' ? n.childForFieldName('alias')?.text : undefined;
      const source = dotted?.text ?? '';
      // `import pkg.mod` binds `pkg`, and the code says `pkg.mod.f`: the dotted path is the qualifier.
      if (source) out.push({ source, names: [], namespace: alias ?? source });
    }
  } else if (s.type === 'import_from_statement') {
    const module = s.childForFieldName('module_name');
    const source = module?.text ?? '';
    const ref: ImportRef = { source, names: [] };
    for (const n of s.namedChildren) {
      // By id: a binding may hand out a new object for the same node (the WebAssembly build does).
      if (module && n.id === module.id) continue;
      if (n.type === 'dotted_name') ref.names.push({ imported: n.text, local: n.text });
      else if (n.type === 'wildcard_import') ref.namespace = '*';
      else if (n.type === 'aliased_import') {
        const name = n.childForFieldName('name')?.text ?? '';
        ref.names.push({ imported: name, local: n.childForFieldName('alias')?.text ?? name });
      }
    }
    if (source) out.push(ref);
  }
}

function rustUse(n: SyntaxNode, prefix: string, out: ImportRef[]): void {
  const join = (a: string, b: string) => (a && b ? `${a}::${b}` : a || b);
  if (n.type === 'scoped_use_list') {
    const base = join(prefix, n.childForFieldName('path')?.text ?? '');
    const list = n.childForFieldName('list');
    const ref: ImportRef = { source: base, names: [] };
    for (const c of list?.namedChildren ?? []) {
      if (c.type === 'identifier') ref.names.push({ imported: c.text, local: c.text });
      else if (c.type === 'self') out.push({ source: base, names: [], namespace: base.split('::').pop() });
      else if (c.type === 'use_as_clause' && !(c.childForFieldName('path')?.text ?? '').includes('::')) {
        const p = c.childForFieldName('path')?.text ?? '';
        ref.names.push({ imported: p, local: c.childForFieldName('alias')?.text ?? p });
      } else rustUse(c, base, out); // `a::{b::c as d}`: its own source, `a::b`
    }
    if (ref.names.length) out.push(ref);
  } else if (n.type === 'use_as_clause') {
    const p = join(prefix, n.childForFieldName('path')?.text ?? '');
    const parts = p.split('::');
    const last = parts.pop()!;
    out.push({ source: parts.join('::'), names: [{ imported: last, local: n.childForFieldName('alias')?.text ?? last }] });
  } else if (n.type === 'use_wildcard') {
    const path = n.namedChildren[0]?.text ?? '';
    out.push({ source: join(prefix, path), names: [], namespace: '*' });
  } else if (n.type === 'scoped_identifier' || n.type === 'identifier') {
    const p = join(prefix, n.text);
    const parts = p.split('::');
    const last = parts.pop()!;
    out.push({ source: parts.join('::'), names: [{ imported: last, local: last }], namespace: last });
  }
}

/**
 * A Go package's default name from its import path: the last element, a module's major-version
 * suffix (`/v2`, gopkg.in's `.v3`) left off. Major versions in module paths start at 2: a `/v1`
 * folder is a package of that name.
 */
function goPackageName(path: string): string {
  const segs = path.split('/');
  let last = segs.pop() ?? path;
  if (/^v([2-9]|\d\d+)$/.test(last) && segs.length > 0) last = segs.pop()!;
  return last.replace(/\.v\d+$/, '');
}

function anonymousDefaults(root: SyntaxNode, lang: LanguageName): SyntaxNode[] {
  if (lang !== 'typescript' && lang !== 'tsx' && lang !== 'javascript') return [];
  const out: SyntaxNode[] = [];
  for (const st of root.namedChildren) {
    const value = st.type === 'export_statement' ? st.childForFieldName('value') : null;
    if (value && /^(function_expression|function|arrow_function|class)$/.test(value.type) && !value.childForFieldName('name')) out.push(value);
  }
  return out;
}

/** TS/JS `export default f`, `export default function f`, `export = f`, `export { a as b }`: names exported for the file's own definitions. */
export function extractExportAliases(root: SyntaxNode, lang: LanguageName): ExportAlias[] {
  if (lang !== 'typescript' && lang !== 'tsx' && lang !== 'javascript') return [];
  const out: ExportAlias[] = [];
  for (const st of root.namedChildren) {
    if (st.type !== 'export_statement' || st.childForFieldName('source')) continue;
    const isDefault = st.children.some((c) => c.type === 'default');
    const decl = st.childForFieldName('declaration');
    const value = st.childForFieldName('value');
    if (isDefault && decl) {
      const name = decl.childForFieldName('name')?.text;
      if (name) out.push({ name: 'default', local: name });
    } else if (isDefault && value?.type === 'identifier') {
      out.push({ name: 'default', local: value.text });
    } else if (!decl && !value && st.namedChildren.length === 1 && st.namedChildren[0]!.type === 'identifier') {
      out.push({ name: 'default', local: st.namedChildren[0]!.text }); // `export = f`
    }
    for (const c of st.namedChildren) {
      if (c.type !== 'export_clause') continue;
      for (const s of c.namedChildren) {
        const name = s.childForFieldName('name')?.text;
        const alias = s.childForFieldName('alias')?.text;
        if (s.type === 'export_specifier' && name && alias && alias !== name) out.push({ name: alias, local: name });
      }
    }
  }
  return out;
}
