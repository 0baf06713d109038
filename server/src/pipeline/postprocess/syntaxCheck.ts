// The merged result must parse: the longest completion that adds no syntax error to its block, brackets balanced.
import type { LanguageInfo, LanguageName } from '../../syntax/languages.js';
import type { SyntaxNode, Tree } from '../../syntax/tree.js';
import { ancestors } from '../../syntax/ancestors.js';
import { errorCount } from '../../syntax/editCheck.js';
import type { TextReader } from '../../textStore.js';

/** The block around the cursor, split there: the text the completion lands between. */
export interface SyntaxBlock {
  lang: LanguageName;
  before: string;
  after: string;
}

/** Blocks larger than this are not re-parsed per candidate: the check would cost more than it saves. */
const MAX_BLOCK_CHARS = 24_000;
/** Parses per completion, the baseline included. */
const MAX_PARSES = 8;
const MAX_CHECK_MS = 12;

/**
 * A synchronous parse that gives up (undefined) after `maxMs`: each parse here is bounded, as a
 * block of pathological text (unbalanced brackets) can take tree-sitter far longer than its size says.
 */
export type BoundedParse = (lang: LanguageName, text: string, maxMs: number) => Tree | undefined;

const PAIRS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS = new Set([')', ']', '}']);

/**
 * The block the completion lands in, as text before and after the cursor: the top-level
 * declaration around it (which parses on its own), else the smallest scope (function, class) when
 * the declaration is too large, else the whole document when it is small. Reads the latest tree.
 */
export function syntaxBlock(tree: Tree, lang: LanguageInfo, text: TextReader, offset: number): SyntaxBlock | undefined {
  const root = tree.rootNode;
  let scope: SyntaxNode | undefined;
  let top: SyntaxNode | undefined;
  const chain = ancestors(tree, Math.max(0, offset - 1));
  for (const [i, n] of chain.entries()) {
    if (n.id === root.id) break;
    if (!scope && lang.scopeTypes.has(n.type) && n.startIndex < offset && n.endIndex >= offset) scope = n;
    if (chain[i + 1]?.id === root.id) top = n;
  }
  const fits = (n: SyntaxNode | undefined) => n !== undefined && n.endIndex - n.startIndex <= MAX_BLOCK_CHARS && n.startIndex <= offset && n.endIndex >= offset;
  const node = fits(top) ? top : fits(scope) ? scope : undefined;
  if (!node && text.length > MAX_BLOCK_CHARS) return undefined;
  const start = node ? node.startIndex : 0;
  const end = node ? node.endIndex : text.length;
  return { lang: lang.name, before: text.slice(start, offset), after: text.slice(offset, end) };
}

/** Closing brackets for what `text` opened and left open (strings and line comments skipped). */
export function missingClosers(text: string): string {
  const stack: string[] = [];
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if ((c === '/' && text[i + 1] === '/') || c === '#') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
    } else if (PAIRS[c]) stack.push(PAIRS[c]!);
    else if (CLOSERS.has(c)) {
      if (stack[stack.length - 1] === c) stack.pop();
      else return ''; // closes what it did not open: the block's brackets, not ours to balance
    }
  }
  return stack.reverse().join('');
}

/** The block's own errors before the completion is merged, and what finding them took. */
export interface SyntaxBaseline {
  errors: number;
  ms: number;
}

/**
 * Parses the block without the completion: it does not depend on the completion, so the pipeline
 * runs it while the backend is still answering. Null when the block does not parse.
 */
export function syntaxBaseline(block: SyntaxBlock, parse: BoundedParse, now: () => number = () => performance.now()): SyntaxBaseline | null {
  const started = now();
  const base = parse(block.lang, block.before + block.after, MAX_CHECK_MS);
  if (!base) return null;
  return { errors: errorCount(base), ms: now() - started };
}

/**
 * Candidates, longest first: the whole completion, then whole-line prefixes of it, each also with
 * the brackets it left open closed (unless the text after the cursor already closes them). Of
 * those that add no ERROR/MISSING node to the block, the one that leaves fewest wins, the longer
 * among equals; when none qualifies, the completion is returned as it was (the block may be
 * broken already in ways a shorter text does not fix).
 */
export function checkSyntax(text: string, block: SyntaxBlock, parse: BoundedParse, now: () => number = () => performance.now(), precomputed?: SyntaxBaseline | null): string {
  const base = precomputed === undefined ? syntaxBaseline(block, parse, now) : precomputed;
  if (!base) return text;
  // The baseline's parse counts against the time limit wherever it ran.
  const started = now() - base.ms;
  const baseline = base.errors;
  const afterHead = block.after.trimStart();
  const tried = new Set<string>();
  const candidates: string[] = [];
  const push = (t: string) => {
    if (t.trim() === '' || tried.has(t)) return;
    // Closed first: it wins a tie. Not after a trailing `{` or `:`, a block the user goes on to fill.
    const closers = /[{:]\s*$/.test(t) ? '' : missingClosers(t);
    if (closers && !afterHead.startsWith(closers[0]!) && !tried.has(t + closers)) {
      tried.add(t + closers);
      candidates.push(t + closers);
    }
    tried.add(t);
    candidates.push(t);
  };
  push(text);
  const lines = text.split('\n');
  for (let k = lines.length - 1; k >= 1; k--) push(lines.slice(0, k).join('\n'));
  // Of those that add no error, the one with fewest errors left; among equals, the longest.
  let best: string | undefined;
  let bestErrors = baseline + 1;
  let parses = 1;
  for (const c of candidates) {
    if (parses >= MAX_PARSES || now() - started > MAX_CHECK_MS) break;
    parses++;
    const tree = parse(block.lang, block.before + c + block.after, MAX_CHECK_MS - (now() - started));
    if (!tree) continue;
    const errors = errorCount(tree);
    if (errors < bestErrors) {
      best = c;
      bestErrors = errors;
      if (errors === 0) break;
    }
  }
  return best ?? text;
}
