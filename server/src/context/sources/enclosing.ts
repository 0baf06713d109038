// The class or type around the cursor: its members, and the definitions of the types in scope.
import { dirname } from 'node:path';
import type { LanguageName } from '../../syntax/languages.js';
import type { SyntaxNode } from '../../syntax/tree.js';
import type { WorkspaceIndex } from '../index.js';
import { baseTypeName, goReceiverType, typeSummary } from '../tags.js';
import { wallClock, type Candidate, type ContextRequest, type ContextSource, type IndexedSymbol, type Run } from '../types.js';
import { ancestors } from '../../syntax/ancestors.js';

const CLASS_NODES = new Set(['class_declaration', 'abstract_class_declaration', 'class', 'interface_declaration', 'class_definition', 'record_declaration', 'enum_declaration', 'trait_item', 'struct_item']);
const FUNCTION_NODES = new Set(['function_declaration', 'generator_function_declaration', 'method_definition', 'function_expression', 'arrow_function', 'function_definition', 'method_declaration', 'func_literal', 'function_item', 'constructor_declaration']);
const FIELD_NODES = new Set(['public_field_definition', 'field_declaration', 'property_signature', 'field_definition']);
/** Members that may be a constructor (`constructor`, `__init__`). */
const MEMBER_FUNCTIONS = new Set(['method_definition', 'function_definition', 'decorated_definition', 'constructor_declaration']);
const TYPE_KINDS = new Set(['class', 'interface', 'type', 'enum', 'struct', 'trait']);
const MAX_TYPES = 12;
/** Names that are types in the grammar but never workspace definitions. */
const BUILTIN_TYPES = new Set(['string', 'number', 'boolean', 'Promise', 'Array', 'Map', 'Set', 'Record', 'Partial', 'Readonly', 'Error', 'Date', 'String', 'Object', 'List', 'Dict', 'Optional', 'Any', 'Self', 'Vec', 'Option', 'Result', 'Box', 'HashMap', 'Integer', 'Long']);

export class EnclosingSource implements ContextSource {
  readonly name = 'enclosing';

  constructor(private readonly index: () => WorkspaceIndex | undefined) {}

  gather(req: ContextRequest, deadline: number, now: () => number = wallClock): Candidate[] {
    if (!req.tree || !req.lang) return [];
    const lang = req.lang;
    let fn: SyntaxNode | undefined;
    let cls: SyntaxNode | undefined;
    let owner: string | undefined; // Go receiver or Rust impl type
    for (const n of ancestors(req.tree, Math.max(0, req.offset - 1))) {
      if (!fn && FUNCTION_NODES.has(n.type)) fn = n;
      if (!cls && CLASS_NODES.has(n.type)) cls = n;
      if (!owner && n.type === 'method_declaration' && lang === 'go') owner = goReceiverType(n);
      if (!owner && n.type === 'impl_item') owner = baseTypeName(n.childForFieldName('type'));
    }
    const out: Candidate[] = [];
    if (cls) {
      const runs = typeSummary(cls, lang, req.lineAt);
      out.push({ kind: 'enclosing', path: req.relPath, runs, score: 0.5, why: `members of ${cls.childForFieldName('name')?.text ?? 'the enclosing type'}` });
    }
    const index = this.index();
    if (!index || now() > deadline) return out;
    const types = new Set<string>();
    if (owner) types.add(owner);
    if (fn) for (const t of typeNames(fn.childForFieldName('parameters'), lang)) types.add(t);
    if (cls) {
      // The base classes: `this.` reaches their members too.
      const heritage = cls.namedChildren.filter((c) => c.type === 'class_heritage' || c.type === 'superclass' || c.type === 'superclasses' || c.type === 'argument_list');
      for (const h of heritage) for (const id of h.descendantsOfType(['identifier', 'type_identifier'])) if (/^[A-Z]/.test(id.text) && !BUILTIN_TYPES.has(id.text)) types.add(id.text);
      // Fields, and the constructor's parameters (TypeScript parameter properties, Python's __init__).
      // A cursor reads each member's type without making a node of it: a class of a thousand
      // members costs a walk, not a thousand node objects, and the deadline is checked on the way.
      const cursor = cls.childForFieldName('body')?.walk();
      let constructorSeen = false;
      let visited = 0;
      if (cursor?.gotoFirstChild()) {
        do {
          if (++visited % 32 === 0 && now() > deadline) break;
          const type = cursor.nodeType;
          const field = FIELD_NODES.has(type);
          if (!field && (constructorSeen || !MEMBER_FUNCTIONS.has(type))) continue;
          const raw = cursor.currentNode;
          const m = type === 'decorated_definition' ? (raw.childForFieldName('definition') ?? raw) : raw;
          if (field) for (const t of typeNames(m, lang)) types.add(t);
          const name = field ? undefined : m.childForFieldName('name')?.text;
          if (name === 'constructor' || name === '__init__') {
            constructorSeen = true;
            for (const t of typeNames(m.childForFieldName('parameters'), lang)) types.add(t);
          }
        } while (cursor.gotoNextSibling());
      }
    }
    if (owner && index) {
      // A Go receiver's or Rust impl's own type: the types its fields name, from its indexed lines.
      const def = index.lookup(owner).find((s) => TYPE_KINDS.has(s.kind));
      for (const r of def?.runs ?? []) for (const m of r.text.matchAll(/[\s*&.\[]([A-Z][A-Za-z0-9_]*)\b/g)) if (m[1] !== owner && !BUILTIN_TYPES.has(m[1]!)) types.add(m[1]!);
    }
    // The types in scope, then (one hop further, ranked lower) the types their members name:
    // `this.deps.workspace.` needs the type of `deps`'s field `workspace`.
    const seen = new Set<string>();
    let hop: string[] = [...types];
    for (let depth = 0; depth < 2 && hop.length > 0; depth++) {
      const next: string[] = [];
      for (const t of hop) {
        if (seen.size >= MAX_TYPES * (depth + 1) || now() > deadline) break;
        if (seen.has(t)) continue;
        seen.add(t);
        const defs = index.lookup(t).filter((s) => TYPE_KINDS.has(s.kind));
        for (const s of nearest(defs, req.relPath).slice(0, 2)) {
          if (s.path !== req.relPath) out.push({ kind: 'enclosing', path: s.path, runs: s.runs, score: depth === 0 ? (t === owner ? 0.55 : 0.5) : 0.3, why: `type ${t} in scope` });
          if (depth === 0) for (const r of s.runs) for (const m of r.text.matchAll(/:\s*(?:readonly\s+)?([A-Z][A-Za-z0-9_]*)/g)) if (!BUILTIN_TYPES.has(m[1]!)) next.push(m[1]!);
        }
      }
      hop = next;
    }
    // Go methods live beside the type, not in it: the receiver type's methods from the package.
    if (owner && lang === 'go' && req.abs) {
      const byFile = new Map<string, Run[]>();
      for (const e of index.filesIn(dirname(req.abs))) {
        if (now() > deadline) break;
        if (e.rel === req.relPath) continue;
        for (const s of e.symbols) if (s.container === owner && s.kind === 'method') (byFile.get(e.rel) ?? byFile.set(e.rel, []).get(e.rel)!).push(...s.runs.slice(0, 1).map((r) => ({ start: r.start, text: r.text.split('\n')[0]! })));
      }
      for (const [path, runs] of byFile) out.push({ kind: 'enclosing', path, runs, score: 0.45, why: `methods of ${owner}` });
    }
    return out;
  }
}

/** Type names written in a parameter list or a field, without builtins. */
function typeNames(node: SyntaxNode | null | undefined, lang: LanguageName): string[] {
  if (!node) return [];
  const kinds = lang === 'python' ? ['identifier'] : ['type_identifier'];
  let nodes = node.descendantsOfType(kinds);
  if (lang === 'python') nodes = nodes.filter((n) => n.parent?.type === 'type' || n.parent?.parent?.type === 'type' || n.parent?.type === 'generic_type');
  const out: string[] = [];
  for (const n of nodes) if (!BUILTIN_TYPES.has(n.text) && !out.includes(n.text)) out.push(n.text);
  return out.slice(0, MAX_TYPES);
}

function nearest(defs: IndexedSymbol[], relPath: string): IndexedSymbol[] {
  const shared = (p: string) => {
    const a = p.split('/');
    const b = relPath.split('/');
    let k = 0;
    while (k < a.length - 1 && k < b.length - 1 && a[k] === b[k]) k++;
    return k;
  };
  return [...defs].sort((x, y) => shared(y.path) - shared(x.path) || (x.path < y.path ? -1 : 1));
}
