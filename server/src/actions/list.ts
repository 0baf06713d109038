// Which code actions to offer for a selection: chosen from the syntax node under it, never by a model.
import type { LanguageInfo } from '../syntax/languages.js';
import type { SyntaxNode, Tree } from '../syntax/tree.js';
import { ancestors } from '../syntax/ancestors.js';
import { COMMENT_TYPES, firstCode, lastCodeEnd } from '../syntax/code.js';
import type { TextReader } from '../textStore.js';

export type ActionId = 'explain' | 'document' | 'simplify' | 'errorHandling' | 'addTypes' | 'fixDiagnostic' | 'generateTests' | 'updateCallSites';

/** Code action kinds of the contract: refactors, quick fixes from diagnostics, source actions. */
export const ACTION_KINDS: Record<ActionId, string> = {
  explain: 'source.tandem.explain',
  document: 'refactor.rewrite.tandem.document',
  simplify: 'refactor.rewrite.tandem.simplify',
  errorHandling: 'refactor.rewrite.tandem.errorHandling',
  addTypes: 'refactor.rewrite.tandem.addTypes',
  fixDiagnostic: 'quickfix.tandem',
  generateTests: 'source.tandem.generateTests',
  updateCallSites: 'source.tandem.updateCallSites',
};

/** Actions whose context or edits span files go to the `multiFile` route. */
export const MULTI_FILE: ReadonlySet<ActionId> = new Set(['generateTests', 'updateCallSites']);

export interface DiagnosticRef {
  message: string;
  /** Offsets of the diagnostic's range. */
  start: number;
  end: number;
  source?: string;
}

export interface ActionOffer {
  id: ActionId;
  title: string;
  kind: string;
  /** The range the action works on (offsets): the selection, or the enclosing function or class. */
  start: number;
  end: number;
  diagnostic?: DiagnosticRef;
}

export interface ListInput {
  languageId: string;
  language: LanguageInfo | undefined;
  tree: Tree | undefined;
  /** Read at the selection only: an open document's chunks, not its whole text joined. */
  text: TextReader;
  start: number;
  end: number;
  diagnostics: DiagnosticRef[];
}

const FUNCTION_TYPES = new Set(['function_declaration', 'generator_function_declaration', 'method_definition', 'function_expression', 'arrow_function', 'function_definition', 'method_declaration', 'constructor_declaration', 'function_item', 'func_literal']);
const CLASS_TYPES = new Set(['class_declaration', 'abstract_class_declaration', 'class_definition', 'interface_declaration', 'struct_item', 'impl_item', 'trait_item', 'type_declaration', 'record_declaration', 'enum_declaration']);

function enclosing(chain: readonly SyntaxNode[], types: ReadonlySet<string>): SyntaxNode | undefined {
  return chain.find((n) => types.has(n.type));
}

/** Nodes that hold one declaration: `export …`, a decorated definition, `const f = () => …`. */
const WRAPPER_FIELDS: Record<string, string> = { export_statement: 'declaration', decorated_definition: 'definition', variable_declarator: 'value' };

/** The function or class a node is, or wraps and nothing else. */
function unitOf(node: SyntaxNode | null | undefined): SyntaxNode | undefined {
  if (!node) return undefined;
  if (FUNCTION_TYPES.has(node.type) || CLASS_TYPES.has(node.type)) return node;
  if (node.type === 'lexical_declaration' || node.type === 'variable_declaration') return node.namedChildCount === 1 ? unitOf(node.namedChild(0)) : undefined;
  const field = WRAPPER_FIELDS[node.type];
  return field ? unitOf(node.childForFieldName(field)) : undefined;
}

/**
 * The function, method or class a selection covers exactly, up to whitespace and comments at
 * either end (a linewise selection, its doc comment): a node whose code begins where the
 * selection's does, and after whose code the selection holds no more. Undefined for part of one
 * or for several.
 */
function selectedUnit(tree: Tree, text: TextReader, start: number, end: number): SyntaxNode | undefined {
  const from = firstCode(tree, text, start, end);
  if (from >= end) return undefined;
  // The nodes that begin there, innermost first (`export function f` holds `function f`).
  for (const n of ancestors(tree, from)) {
    if (n.startIndex !== from) break;
    const unit = unitOf(n);
    if (!unit) continue;
    const codeEnd = lastCodeEnd(n);
    if (codeEnd <= end && firstCode(tree, text, codeEnd, end) === end) return unit;
  }
  return undefined;
}

/** The node a doc comment belongs before: an exported/decorated wrapper when there is one. */
function documentedNode(fn: SyntaxNode): SyntaxNode {
  const p = fn.parent;
  if (p && (p.type === 'export_statement' || p.type === 'decorated_definition' || p.type === 'lexical_declaration' || p.type === 'variable_declarator')) return documentedNode(p);
  return fn;
}

function hasDocComment(node: SyntaxNode, languageId: string): boolean {
  if (languageId === 'python') {
    const body = node.childForFieldName('body');
    const first = body?.namedChild(0);
    return !!first && first.type === 'expression_statement' && first.namedChild(0)?.type === 'string';
  }
  const prev = documentedNode(node).previousNamedSibling;
  return !!prev && COMMENT_TYPES.has(prev.type) && prev.endPosition.row >= documentedNode(node).startPosition.row - 1;
}

/** Parameters without a type annotation (TypeScript and Python only). */
function lacksTypes(fn: SyntaxNode, languageId: string): boolean {
  const params = fn.childForFieldName('parameters');
  if (languageId === 'python') {
    const untypedParam = !!params && params.namedChildren.some((p) => p.type === 'identifier' && p.text !== 'self' && p.text !== 'cls');
    return untypedParam || !fn.childForFieldName('return_type');
  }
  if (languageId === 'typescript' || languageId === 'typescriptreact') {
    const untypedParam = !!params && params.namedChildren.some((p) => (p.type === 'required_parameter' || p.type === 'optional_parameter') && !p.childForFieldName('type'));
    return untypedParam || !fn.childForFieldName('return_type');
  }
  return false;
}

/**
 * The offers for a selection. Pure and cheap (a node lookup and a walk up its parents), so a
 * code-action request on a 10,000-line file answers in well under the 5 ms goal.
 */
export function listActions(input: ListInput): ActionOffer[] {
  const { languageId, tree, text, start, end } = input;
  const offers: ActionOffer[] = [];
  const chain = tree ? ancestors(tree, start, Math.max(start, end - 1)) : [];
  const hasSelection = end > start && text.slice(start, end).trim() !== '';
  // A selection of exactly one function or class earns that unit's actions, as the cursor inside
  // it does, besides the selection's own; otherwise the units around the selection count.
  const unit = hasSelection && tree ? selectedUnit(tree, text, start, end) : undefined;
  const fn = unit ? (FUNCTION_TYPES.has(unit.type) ? unit : undefined) : enclosing(chain, FUNCTION_TYPES);
  const cls = unit ? (CLASS_TYPES.has(unit.type) ? unit : undefined) : enclosing(chain, CLASS_TYPES);
  const target = hasSelection ? { start, end } : fn ? { start: fn.startIndex, end: fn.endIndex } : cls ? { start: cls.startIndex, end: cls.endIndex } : undefined;
  const what = hasSelection ? 'selection' : fn ? 'function' : cls ? 'class' : undefined;

  for (const d of input.diagnostics) {
    const msg = d.message.split('\n')[0]!.trim();
    offers.push({ id: 'fixDiagnostic', title: `Fix with tandem: ${msg.length > 60 ? `${msg.slice(0, 59)}…` : msg}`, kind: ACTION_KINDS.fixDiagnostic, start: d.start, end: d.end, diagnostic: d });
  }
  if (target && what) {
    offers.push({ id: 'explain', title: `Explain this ${what} (tandem)`, kind: ACTION_KINDS.explain, ...target });
    const docTarget = !hasSelection ? (fn ?? cls) : unit;
    if (docTarget && !hasDocComment(docTarget, languageId)) offers.push({ id: 'document', title: `Add documentation comment (tandem)`, kind: ACTION_KINDS.document, start: docTarget.startIndex, end: docTarget.endIndex });
    if (hasSelection || fn) {
      offers.push({ id: 'simplify', title: `Simplify this ${what} (tandem)`, kind: ACTION_KINDS.simplify, ...target });
      offers.push({ id: 'errorHandling', title: `Add error handling (tandem)`, kind: ACTION_KINDS.errorHandling, ...target });
    }
    if (fn && lacksTypes(fn, languageId)) offers.push({ id: 'addTypes', title: `Add type annotations (tandem)`, kind: ACTION_KINDS.addTypes, start: fn.startIndex, end: fn.endIndex });
    if (fn || cls) {
      const unit = fn ?? cls!;
      offers.push({ id: 'generateTests', title: `Generate tests for this ${fn ? 'function' : 'class'} (tandem)`, kind: ACTION_KINDS.generateTests, start: unit.startIndex, end: unit.endIndex });
    }
    // On a function's name or parameters, after its signature was edited: update the callers.
    const params = fn?.childForFieldName('parameters');
    const name = fn?.childForFieldName('name');
    const onSignature = !!fn && ((params && start >= params.startIndex && start <= params.endIndex) || (name && start >= name.startIndex && start <= name.endIndex));
    if (fn && onSignature && name) offers.push({ id: 'updateCallSites', title: `Update call sites of ${name.text} (tandem)`, kind: ACTION_KINDS.updateCallSites, start: fn.startIndex, end: fn.endIndex });
  }
  return offers;
}
