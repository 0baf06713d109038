// The one place that loads tree-sitter's binding and grammars. Both are optional dependencies:
// where their native addons cannot be built or loaded (no C++ compiler, python3 or make at
// install; a glibc or libstdc++ older than a prebuilt addon needs), `npm ci` still succeeds
// without them, and tandem runs without syntax trees: completions from text windows, no
// workspace index of definitions, no syntax check of completions or edits. `syntaxStatus` says
// which, for the server's log and `doctor`.
import { createRequire } from 'node:module';
import type Parser from 'tree-sitter';

const require = createRequire(import.meta.url);

type Binding = typeof Parser;

let binding: Binding | undefined;
let failure: string | undefined;

/** The first line of a load error: Node's messages run on with require stacks. */
function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0]!.trim();
}

/** Tries once to load a package; the failure is remembered, not thrown. */
export function tryRequire(id: string): { value: unknown } | { error: string } {
  try {
    return { value: require(id) as unknown };
  } catch (err) {
    return { error: `${id}: ${firstLine(err)}` };
  }
}

/** The tree-sitter binding, or undefined when it cannot be loaded (tried once per process). */
export function treeSitter(): Binding | undefined {
  if (binding || failure !== undefined) return binding;
  const r = tryRequire('tree-sitter');
  if ('value' in r) binding = r.value as Binding;
  else failure = r.error;
  return binding;
}

/** Why the binding could not be loaded; undefined when it loaded (or was not tried yet). */
export function bindingFailure(): string | undefined {
  treeSitter();
  return failure;
}

/** Whether tree-sitter's binding loads in this process (it is tried the first time this asks). */
export function syntaxAvailable(): boolean {
  return bindingFailure() === undefined;
}

/** The line the server logs once (info) and `doctor` prints when the binding does not load. */
export function syntaxOffMessage(why: string): string {
  return `syntax features off: tree-sitter cannot be loaded (${why}); completions use text windows, without the workspace index of definitions or syntax checks of completions and edits; for them, ${SYNTAX_HELP}`;
}

/** For tests: forget the outcome, or pretend the binding fails to load with `why`. */
export function resetBindingForTests(why?: string): void {
  binding = undefined;
  failure = why;
}

/** What a user needs to build the native binding, said wherever syntax features are off. */
export const SYNTAX_HELP = 'install python3, make and a C++ compiler (g++), then install tandem again (`npm ci` in its checkout; see the README, "Install")';
