// Where code begins and ends when whitespace and comments do not count: forward walks over a
// tree's leaves with a cursor (a cursor's step back, and a node's `.parent` or sibling lookup,
// re-walk from the parent or the root, which a run of thousands of comments would make quadratic).
import { MAX_DEPTH, toChildForIndex } from './ancestors.js';
import type { TextReader } from '../textStore.js';
import type { SyntaxNode, Tree } from './tree.js';

export const COMMENT_TYPES: ReadonlySet<string> = new Set(['comment', 'line_comment', 'block_comment']);

type Cursor = ReturnType<Tree['walk']>;

const SPACE = /\s/;
const isSpace = (text: TextReader, i: number): boolean => {
  const ch = text.charCodeAt(i);
  return ch === 32 || ch === 10 || ch === 9 || ch === 13 || (ch > 127 && SPACE.test(String.fromCharCode(ch))) || ch === 11 || ch === 12;
};

/** Down from the cursor's node to its first leaf; a comment is one leaf, as is a node at MAX_DEPTH. */
function toFirstLeaf(c: Cursor): void {
  while (!COMMENT_TYPES.has(c.nodeType) && c.currentDepth < MAX_DEPTH && c.gotoFirstChild());
}

/** On to the next leaf in document order; false past the last one. */
function toNextLeaf(c: Cursor): boolean {
  while (!c.gotoNextSibling()) if (!c.gotoParent()) return false;
  toFirstLeaf(c);
  return true;
}

/**
 * Comments one walk passes at most (a few µs each): past them, what follows counts as code. A
 * license header or a doc comment is a few dozen; a file of nothing but comments is not held up.
 */
export const MAX_COMMENTS = 1000;

/**
 * The first offset in [from, to) that holds code, i.e. neither whitespace nor a comment; `to` when
 * there is none. Text between leaves that is not whitespace (typed since the last parse) is code.
 * Costs a descent to `from` and one step per comment passed, at most MAX_COMMENTS.
 */
export function firstCode(tree: Tree, text: TextReader, from: number, to: number): number {
  const c = tree.walk();
  // Down to the first leaf that ends after `from`. A node whose children all end by `from` has
  // nothing there: the walk goes on after it.
  let past = false;
  while (!COMMENT_TYPES.has(c.nodeType) && c.currentDepth < MAX_DEPTH) {
    // Down to the first child that ends after `from`, if there is one.
    if (toChildForIndex(c, from)) continue;
    if (c.gotoFirstChild()) {
      c.gotoParent();
      past = true;
    }
    break;
  }
  let more = past || c.endIndex <= from ? toNextLeaf(c) : true;
  let p = from;
  for (let passed = 0; ; passed++) {
    if (passed > MAX_COMMENTS) return p;
    const leafStart = more ? Math.max(c.startIndex, p) : to;
    for (const gapEnd = Math.min(leafStart, to); p < gapEnd; p++) if (!isSpace(text, p)) return p;
    if (p >= to) return to;
    if (c.endIndex > leafStart && !COMMENT_TYPES.has(c.nodeType)) return leafStart;
    p = Math.max(p, c.endIndex);
    more = toNextLeaf(c);
  }
}

/**
 * Where the code of `node` ends: the end of its last leaf that is neither a comment nor empty (a
 * grammar may put the comments after a function's closing brace inside the function). Costs one
 * step per child along the way down its last children.
 */
export function lastCodeEnd(node: SyntaxNode): number {
  // Cursor steps only: a node taken from the cursor (`currentNode`) and handed back to it
  // (`reset`) sometimes resumed at another node with tree-sitter 0.25's Node binding.
  const c = node.walk();
  for (let depth = 0; depth < MAX_DEPTH && c.gotoFirstChild(); depth++) {
    let last = -1;
    for (let i = 0; ; i++) {
      if (!COMMENT_TYPES.has(c.nodeType) && c.endIndex > c.startIndex) last = i;
      if (!c.gotoNextSibling()) break;
    }
    c.gotoParent();
    // Nothing but comments and empty nodes inside: count it all as code, the cautious answer.
    if (last < 0) break;
    c.gotoFirstChild();
    for (let i = 0; i < last; i++) c.gotoNextSibling();
  }
  return c.endIndex;
}
