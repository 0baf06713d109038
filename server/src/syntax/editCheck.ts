// Whether an edit adds syntax errors to a whole file: error counts that stop at a bound, the
// original's tree told of the edits (so the edited file parses incrementally), and what to show.
import { endPointAfterInsert, type Point, type SyntaxNode, type Tree } from './tree.js';

/** An edit of a text by offsets (UTF-16 units), as the action pipeline makes them. */
export interface OffsetEdit {
  start: number;
  end: number;
  newText: string;
}

/** The syntax errors an edit adds to its file (none when `added` <= 0), and the first one's place when it adds some. */
export interface EditCheck {
  added: number;
  first?: string;
}

/** ERROR and MISSING nodes in a tree: only subtrees that report an error are walked. */
export function errorCount(tree: Tree): number {
  return errorCountWithin(tree, Infinity)!;
}

/**
 * Nodes a whole file's error count looks at, at most. A file that tree-sitter recovers from in
 * thousands of places has most of its nodes on the way to an error, and reading them all through
 * the binding (a few µs a node) took up to a second on the event loop. Past this (~20-40 ms), the
 * file is too broken, or too big with an error high up, for a count to tell anything.
 */
export const MAX_ERROR_WALK = 10_000;

/** The ERROR and MISSING nodes of `tree`, or undefined once more than `maxNodes` nodes were looked at. */
export function errorCountWithin(tree: Tree, maxNodes = MAX_ERROR_WALK): number | undefined {
  let n = 0;
  let seen = 0;
  for (const node of errorNodes(tree)) {
    if (node.type === 'ERROR' || node.isMissing) n++;
    // Before the walk reads its children: reading them is the cost.
    seen += node.childCount;
    if (seen > maxNodes) return undefined;
  }
  return n;
}

/** ERROR and MISSING nodes in `nodes` and under them, or undefined past `maxNodes` nodes looked at (as errorCountWithin). */
export function errorCountOf(nodes: readonly SyntaxNode[], maxNodes = MAX_ERROR_WALK): number | undefined {
  let n = 0;
  let seen = 0;
  for (const top of nodes) {
    if (!top.hasError && !top.isMissing) continue;
    const stack: SyntaxNode[] = [top];
    for (let node = stack.pop(); node; node = stack.pop()) {
      if (node.type === 'ERROR' || node.isMissing) n++;
      seen += node.childCount;
      if (seen > maxNodes) return undefined;
      const children = node.children;
      for (let i = children.length - 1; i >= 0; i--) if (children[i]!.hasError || children[i]!.isMissing) stack.push(children[i]!);
    }
  }
  return n;
}

/**
 * The nodes that are or hold a syntax error, in document order, entering only subtrees that hold
 * one. With a stack of its own, not recursion: a tree thousands of levels deep (20,000 nested
 * brackets) overflows the call stack.
 */
export function* errorNodes(tree: Tree): Generator<SyntaxNode> {
  if (!tree.rootNode.hasError) return;
  const stack: SyntaxNode[] = [tree.rootNode];
  for (let node = stack.pop(); node; node = stack.pop()) {
    yield node;
    const children = node.children;
    for (let i = children.length - 1; i >= 0; i--) if (children[i]!.hasError || children[i]!.isMissing) stack.push(children[i]!);
  }
}

/**
 * `tree` (of `text`) told about `edits`, for an incremental parse of the edited text; undefined
 * when the edits overlap (applyEdits has no single meaning for them then). Edits are applied last
 * first, so each one's positions, worked out in `text`, are still right when it is applied.
 */
export function editedTree(tree: Tree, text: string, edits: readonly OffsetEdit[]): Tree | undefined {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start < sorted[i - 1]!.end) return undefined;
  for (const e of sorted.reverse()) {
    const startPosition = pointAt(text, e.start);
    tree.edit({ startIndex: e.start, oldEndIndex: e.end, newEndIndex: e.start + e.newText.length, startPosition, oldEndPosition: pointAt(text, e.end), newEndPosition: endPointAfterInsert(startPosition, e.newText) });
  }
  return tree;
}

/** Row and column (UTF-16 units, as the binding counts) of `offset` in `text`. */
function pointAt(text: string, offset: number): Point {
  let row = 0;
  let lineStart = 0;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl < offset; nl = text.indexOf('\n', nl + 1)) {
    row++;
    lineStart = nl + 1;
  }
  return { row, column: offset - lineStart };
}

/** `text` with non-overlapping `edits` made. */
export function applyEdits(text: string, edits: readonly OffsetEdit[]): string {
  let out = '';
  let pos = 0;
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    out += text.slice(pos, e.start) + e.newText;
    pos = e.end;
  }
  return out + text.slice(pos);
}

/** Where the first syntax error of `tree` is, in words. */
export function firstError(tree: Tree): string {
  for (const n of errorNodes(tree)) if (n.type === 'ERROR' || n.isMissing) return `${n.isMissing ? `missing ${n.type}` : 'unexpected text'} at line ${n.startPosition.row + 1}`;
  return 'syntax error';
}
