// The one place that loads tree-sitter: its native binding (`tree-sitter`, a compiled addon) when
// that loads, else its WebAssembly build (`web-tree-sitter`) with the grammar packages' own .wasm
// files. The native binding and the grammars are optional dependencies: where the addon cannot be
// built (no C++ compiler, python3 or make at install: its prebuilt addon needs libstdc++'s
// GLIBCXX_3.4.31) `npm ci` still succeeds without it. The WebAssembly build needs an `await`
// (`loadSyntax`) before its first parse; the server, the CLI and the index's worker do that at
// start. Where neither loads, tandem runs without syntax trees: completions from text windows,
// no workspace index of definitions, no syntax checks. `syntaxStatus` says which, for the
// server's log and `doctor`. Every other module takes tree-sitter's types only.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Parser from 'tree-sitter';

const require = createRequire(import.meta.url);

type Native = typeof Parser;
type Wasm = typeof import('web-tree-sitter');
type Tree = Parser.Tree;
type SyntaxNode = Parser.SyntaxNode;

let native: Native | undefined;
let nativeFailure: string | undefined;
let wasm: Wasm | undefined;
let wasmFailure: string | undefined;
let wasmLoading: Promise<void> | undefined;

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

/** TANDEM_TREE_SITTER=wasm: the WebAssembly build even where the native binding loads. */
function wasmWanted(): boolean {
  return process.env.TANDEM_TREE_SITTER === 'wasm';
}

/** The native binding, or undefined when it cannot be loaded (tried once per process) or is not wanted. */
function nativeBinding(): Native | undefined {
  if (wasmWanted()) return undefined;
  if (native || nativeFailure !== undefined) return native;
  const r = tryRequire('tree-sitter');
  if ('value' in r) native = r.value as Native;
  else nativeFailure = r.error;
  return native;
}

/**
 * Loads tree-sitter: the native binding when it loads, else the WebAssembly build (its runtime
 * compiled and instantiated here, asynchronously; grammars load on first use). Resolves either
 * way; `syntaxBackend` then says which, `syntaxFailure` why neither.
 */
export function loadSyntax(): Promise<void> {
  if (nativeBinding()) return Promise.resolve();
  wasmLoading ??= (async () => {
    try {
      const mod = (await import('web-tree-sitter')) as Wasm;
      await mod.Parser.init();
      wasm = mod;
    } catch (err) {
      wasmFailure = `web-tree-sitter: ${firstLine(err)}`;
      return;
    }
    // The grammars are compiled here, off the event loop and side by side (WebAssembly.compile
    // runs on V8's background threads); compiled synchronously on first use, TypeScript's took
    // 100-800 ms of the event loop. A grammar that fails to compile fails on first use.
    const WA = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<unknown> } }).WebAssembly;
    await Promise.all(
      GRAMMAR_FILES.map(async (file) => {
        try {
          compiled.set(file, await WA.compile(readFileSync(require.resolve(file))));
        } catch {
          // said by loadGrammar, which tries again
        }
      }),
    );
  })();
  return wasmLoading;
}

/** The grammars' .wasm files, compiled by loadSyntax when the WebAssembly build is in use. */
const GRAMMAR_FILES = ['tree-sitter-typescript/tree-sitter-typescript.wasm', 'tree-sitter-typescript/tree-sitter-tsx.wasm', 'tree-sitter-javascript/tree-sitter-javascript.wasm', 'tree-sitter-python/tree-sitter-python.wasm', 'tree-sitter-go/tree-sitter-go.wasm', 'tree-sitter-rust/tree-sitter-rust.wasm', 'tree-sitter-java/tree-sitter-java.wasm'];
const compiled = new Map<string, unknown>();

/** Which tree-sitter this process parses with; undefined when none (or loadSyntax has not run and the native one does not load). */
export function syntaxBackend(): 'native' | 'wasm' | undefined {
  if (nativeBinding()) return 'native';
  return wasm ? 'wasm' : undefined;
}

/** Why the native binding is not used (undefined when it is): said when the WebAssembly build stands in. */
export function nativeBindingFailure(): string | undefined {
  if (nativeBinding()) return undefined;
  return wasmWanted() ? 'TANDEM_TREE_SITTER=wasm' : nativeFailure;
}

/** Why no tree-sitter can be used; undefined when one can. */
export function bindingFailure(): string | undefined {
  if (syntaxBackend()) return undefined;
  return [...new Set([nativeBindingFailure(), wasmFailure ?? (wasmLoading ? undefined : 'web-tree-sitter: not loaded')].filter(Boolean))].join('; ');
}

/** Whether syntax trees can be had in this process. */
export function syntaxAvailable(): boolean {
  return syntaxBackend() !== undefined;
}

/** For tests: forget the outcome, or pretend that neither binding loads, for `why`. */
export function resetBindingForTests(why?: string): void {
  native = undefined;
  nativeFailure = why;
  wasm = undefined;
  wasmFailure = why;
  wasmLoading = why === undefined ? undefined : Promise.resolve();
}

/** What a user needs to build the native binding, said wherever syntax features are off. */
export const SYNTAX_HELP = 'install python3, make and a C++ compiler (g++), then install tandem again (`npm ci` in its checkout; see the README, "Install")';

/** The line the server logs once (info) and `doctor` prints when no tree-sitter loads. */
export function syntaxOffMessage(why: string): string {
  return `syntax features off: tree-sitter cannot be loaded (${why}); completions use text windows, without the workspace index of definitions or syntax checks of completions and edits; for them, ${SYNTAX_HELP}`;
}

/** The grammar package and the name of its .wasm file (beside its package.json). */
export interface GrammarSource {
  pkg: string;
  /** The member of the native package's exports (tree-sitter-typescript holds two grammars). */
  member?: string;
  wasm: string;
}

/** A grammar of the backend in use, or the reason it cannot be had. */
export function loadGrammar(src: GrammarSource): { value: unknown } | { error: string } {
  const backend = syntaxBackend();
  if (!backend) return { error: bindingFailure() ?? 'tree-sitter: not loaded' };
  if (backend === 'native') {
    const r = tryRequire(src.pkg);
    if ('error' in r) return r;
    return { value: src.member ? (r.value as Record<string, unknown>)[src.member] : r.value };
  }
  try {
    const file = `${src.pkg}/${src.wasm}`;
    let module = compiled.get(file);
    if (!module) {
      // Not among those loadSyntax compiled: compiled here, synchronously.
      const WA = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => unknown } }).WebAssembly;
      module = new WA.Module(readFileSync(require.resolve(file)));
    }
    const language = wasm!.Language.loadSync(module as never);
    // V8 compiles a module's functions on their first call: small parses here, one of them
    // broken (error recovery), so that the first real parse (its time budgeted, its slices short:
    // the syntax check's get 12 ms in all) does not pay for compiling the lexer and the core.
    const warm = new wasm!.Parser();
    warm.setLanguage(language);
    for (const text of ['a = f(1, "s"); // x\n', 'f(a, [1, 2\n}} (( x = ;\n']) warm.parse(text)?.delete();
    warm.delete();
    return { value: language };
  } catch (err) {
    return { error: `${src.pkg}/${src.wasm}: ${firstLine(err)}` };
  }
}

/** A parser of one language: a parse that returns early (null) after `maxMs`, resumed by the next call with the same text. */
export interface SyntaxParser {
  parse(text: string, old: Tree | undefined, maxMs: number): Tree | null;
  reset(): void;
}

/**
 * The binding reads the text in chunks of this many UTF-16 units, copying each into its buffer.
 * Each slice reads afresh from where the parse stopped, so a buffer the size of the text would
 * copy the rest of the text every slice (and measured twice as slow even for one-call parses).
 */
const READ_UNITS = 32 * 1024;

/** A parser for `language` (a grammar from loadGrammar) on the backend in use. */
export function newParser(language: unknown): SyntaxParser {
  const N = nativeBinding();
  if (N) {
    const p = new N();
    p.setLanguage(language as Parser.Language);
    return {
      parse(text, old, maxMs) {
        p.setTimeoutMicros(Number.isFinite(maxMs) ? Math.max(1, Math.round(maxMs * 1000)) : 0);
        // The binding reads strings in UTF-16 and reports UTF-16 offsets, the unit LSP uses too.
        return p.parse(text, old ?? null, { bufferSize: READ_UNITS }) ?? null;
      },
      reset: () => p.reset(),
    };
  }
  if (!wasm) throw new Error('tree-sitter is not loaded');
  const p = new wasm.Parser();
  p.setLanguage(language as InstanceType<Wasm['Language']>);
  return {
    parse(text, old, maxMs) {
      // No time limit since web-tree-sitter 0.25: the progress callback, asked every so many
      // operations, halts the parse by returning true. Offsets are UTF-16 units here too.
      const until = performance.now() + maxMs;
      const options = Number.isFinite(maxMs) ? { progressCallback: () => performance.now() >= until } : undefined;
      return (p.parse(text, (old ?? null) as never, options as never) as unknown as Tree | null) ?? null;
    },
    reset: () => p.reset(),
  };
}

export interface TagMatch {
  captures: { name: string; node: SyntaxNode }[];
}

/**
 * How far a query may go: `maxStartDepth` bounds where matches may start (a depth bound keeps a
 * clean file's query linear); `maxMs` gives the search up, with what it found, after that long.
 */
export interface QueryLimits {
  maxStartDepth?: number;
  maxMs?: number;
}

/** A compiled query: its matches under `node`, within `limits`. */
export interface SyntaxQuery {
  matches(node: SyntaxNode, limits: QueryLimits): TagMatch[];
}

export function newQuery(language: unknown, source: string): SyntaxQuery {
  const N = nativeBinding();
  if (N) {
    const q = new N.Query(language as Parser.Language, source);
    return {
      matches: (node, limits) =>
        q.matches(node, { ...(limits.maxStartDepth !== undefined ? { maxStartDepth: limits.maxStartDepth } : {}), ...(limits.maxMs !== undefined ? { timeoutMicros: Math.round(limits.maxMs * 1000) } : {}) }),
    };
  }
  if (!wasm) throw new Error('tree-sitter is not loaded');
  const q = new wasm.Query(language as InstanceType<Wasm['Language']>, source);
  return {
    matches(node, limits) {
      const until = limits.maxMs !== undefined ? performance.now() + limits.maxMs : undefined;
      const options = { ...(limits.maxStartDepth !== undefined ? { maxStartDepth: limits.maxStartDepth } : {}), ...(until !== undefined ? { progressCallback: () => performance.now() >= until } : {}) };
      return q.matches(node as never, options as never) as unknown as TagMatch[];
    },
  };
}
