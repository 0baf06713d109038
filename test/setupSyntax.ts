// Loads tree-sitter before each test file, as the server, the CLI and the index's worker do at
// start: the native binding, or its WebAssembly build (asynchronous) where that does not load.
// TANDEM_TREE_SITTER=wasm runs the tests on the WebAssembly build.
import { loadSyntax } from '../server/src/syntax/binding.js';

await loadSyntax();
