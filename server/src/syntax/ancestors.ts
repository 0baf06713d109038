// The nodes around a position, innermost first, without `.parent`: tree-sitter nodes do not know
// their parent, so each `.parent` walks down from the root again, and a walk up from depth d costs
// d² (about 50 s at 20,000 nested brackets). A cursor goes down once and back up in O(1) a step.
import type { SyntaxNode, Tree } from './tree.js';

/**
 * How deep a walk goes. Past it (pathological nesting), the walk starts from the node at this
 * depth around the position, as if the deeper levels were one node: what is that deep is noise to
 * the prompt, and the walk's cost stays bounded.
 */
export const MAX_DEPTH = 128;

/**
 * What `tree.rootNode.descendantForIndex(start, end)` and its chain of `.parent`s give: the
 * smallest node that spans [start, end] (it starts at or before `start`, ends after `start` and at
 * or after `end`), then each node around it up to the root, which comes last.
 */
/**
 * `gotoFirstChildForIndex` that says whether it moved: the native binding answers the child's
 * index or null (its typings say boolean), the WebAssembly build true or false.
 */
export function toChildForIndex(cursor: ReturnType<Tree['walk']>, index: number): boolean {
  const r = cursor.gotoFirstChildForIndex(index) as unknown;
  return r !== null && r !== false && r !== undefined;
}

export function ancestors(tree: Tree, start: number, end: number = start): SyntaxNode[] {
  const cursor = tree.walk();
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    // The first child that ends after `start`; it must also begin by `start` and reach `end`.
    if (!toChildForIndex(cursor, start)) break;
    if (cursor.startIndex > start || cursor.endIndex < end) {
      cursor.gotoParent();
      break;
    }
  }
  const out: SyntaxNode[] = [];
  do out.push(cursor.currentNode);
  while (cursor.gotoParent());
  return out;
}
