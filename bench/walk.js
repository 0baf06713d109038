// @ts-check
// Depth-first visit of every node of a tree-sitter tree with one cursor (no recursion, so deep trees
// are safe): the benchmarks find call sites and definitions with it.

/** @param {any} node @param {(n: any) => void} visit */
export function walk(node, visit) {
  const cursor = node.walk();
  let down = true;
  for (;;) {
    if (down) visit(cursor.currentNode);
    if (down && cursor.gotoFirstChild()) continue;
    if (cursor.gotoNextSibling()) {
      down = true;
      continue;
    }
    if (!cursor.gotoParent()) return;
    down = false;
  }
}
