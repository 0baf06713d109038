// The index's worker thread: parses a file's text and reads its definitions, imports and exports,
// so neither the parse nor the tag queries (100-400 ms for a 300 kB file) run on the server's
// event loop, and the trees' native memory comes and goes in this thread's own arena. It also
// checks a code action's edits of a whole file for added syntax errors, for the same reasons.
import { parentPort, workerData } from 'node:worker_threads';
import { loadSyntax, newParser, type SyntaxParser } from '../syntax/binding.js';
import { MAX_PARSE_CHARS, parseBudgetMs, type Tree } from '../syntax/tree.js';
import { applyEdits, editedTree, errorCountWithin, firstError, type EditCheck, type OffsetEdit } from '../syntax/editCheck.js';
import { grammar, type LanguageName } from '../syntax/languages.js';
import { fullGc } from '../util/runtime.js';
import { TagExtractor } from './tags.js';
import { packSymbols, type PackedSymbols } from './packed.js';

/** A file's symbols; or, with `edits`, whether they add syntax errors to the file (`check`). */
export interface SymbolRequest {
  id: number;
  lang: LanguageName;
  text: string;
  edits?: OffsetEdit[];
}

/** The index was switched off: the files it queued are dropped unanswered (checks stay). */
export interface DropSymbols {
  drop: 'symbols';
}

/**
 * The worker's state, shared with the host in one Int32 (workerData.state): the host must never
 * stop this thread while it is inside tree-sitter (loading the binding included: a worker starts
 * BUSY and says IDLE once loaded). Stopping a thread makes every call from native
 * code into JavaScript fail: tree-sitter reads the text through a JavaScript callback (at a
 * parse's start and whenever it reaches the end of the text), and the binding's methods throw
 * their errors into JavaScript; either way the binding throws a C++ exception nothing catches and
 * the whole process aborts. So tree-sitter runs here only in units each started by swapping IDLE
 * for BUSY and ended by swapping back: the parse in steps of STEP_MS (tree-sitter's error
 * recovery overshoots a time limit by up to seconds, so a parse's budget bounds nothing), then
 * the tag queries as one unit (a file is at most context.maxFileBytes, 256 kB by default). The
 * host, on its way out, swaps IDLE for STOPPED, waiting while the slot says BUSY; a host that
 * drops the worker while the server runs on (the index switched off) does not wait: it swaps
 * BUSY for STOP_ASKED, and the worker ends itself after the unit.
 */
export const IDLE = 0;
export const BUSY = 1;
export const STOPPED = 2;
/** The host dropped this worker while it parsed: it ends its own thread once the parse is over. */
export const STOP_ASKED = 3;

export interface SymbolReply {
  id: number;
  /**
   * Undefined when the parse was given up (over its size or time budget). Packed (a few strings):
   * the main thread receives them without rebuilding every definition's objects (packed.ts).
   */
  symbols?: PackedSymbols;
  /** The answer to a check: null when there is nothing to check against (a parse given up, a file too broken to count). */
  check?: EditCheck | null;
  error?: string;
}

/** Text parsed between two collections of this thread's heap (~10 MB of dead trees; a collection here costs a few ms, off the event loop). */
const COLLECT_EVERY_CHARS = 300_000;

/** One step of a parse: what the way out may have to wait for. */
const STEP_MS = 5;

const port = parentPort;
const state = (workerData as { state?: SharedArrayBuffer } | undefined)?.state;
if (port && state) {
  const slot = new Int32Array(state);
  // tree-sitter: the native binding, or its WebAssembly build where that does not load. Awaited
  // before the port is listened to: requests wait in the port's queue meanwhile.
  await loadSyntax();
  const parsers = new Map<LanguageName, SyntaxParser>();
  const extractor = new TagExtractor();
  const gc = fullGc();
  let sinceGc = 0;

  /** Starts a unit of tree-sitter work; false when the host is stopping this worker. */
  const beginStep = () => Atomics.compareExchange(slot, 0, IDLE, BUSY) === IDLE;

  /** Ends a unit: IDLE again, or, when the host dropped this worker meanwhile, the thread's end. */
  const endStep = () => {
    const was = Atomics.compareExchange(slot, 0, BUSY, IDLE);
    if (was === STOP_ASKED) Atomics.store(slot, 0, STOPPED);
    Atomics.notify(slot, 0);
    // No step runs now: ending this thread is safe (in a worker, exit ends the thread only).
    if (was === STOP_ASKED) process.exit(0);
  };

  /** The language's parser, its time limit one step (tree-sitter calls: only inside a unit). */
  const parserFor = (lang: LanguageName): SyntaxParser => {
    let parser = parsers.get(lang);
    if (!parser) {
      parser = newParser(grammar(lang));
      parsers.set(lang, parser);
    }
    return parser;
  };

  /**
   * The text's tree, parsed in steps within its budget (parseBudgetMs); undefined when given up
   * (too big, too slow), 'stopped' when the host is stopping this worker (a parse left part-way
   * then needs no reset: the thread ends).
   */
  const parse = (lang: LanguageName, text: string, old?: Tree): Tree | undefined | 'stopped' => {
    if (text.length > MAX_PARSE_CHARS) return undefined;
    const budget = parseBudgetMs(text.length);
    let spent = 0;
    for (;;) {
      if (!beginStep()) return 'stopped';
      try {
        // No grammar here (an optional dependency that did not install; loading one is a unit
        // too): no tree, as for a parse given up. The server does not index then, and a code
        // action's check is skipped.
        if (!grammar(lang)) return undefined;
        const parser = parserFor(lang);
        if (spent >= budget) {
          // A parse left part-way must not be resumed by the next file's.
          parser.reset();
          return undefined;
        }
        const started = performance.now();
        let tree: Tree | null;
        try {
          // Called again with the same text after a step's time limit, the parser resumes.
          tree = parser.parse(text, old, STEP_MS);
        } catch (err) {
          parser.reset();
          throw err;
        }
        spent += performance.now() - started;
        if (tree) return tree;
      } finally {
        endStep();
      }
    }
  };

  /** Runs `work` on tree-sitter as one unit; 'stopped' when the host is stopping this worker. */
  const unit = <T>(work: () => T): T | 'stopped' => {
    if (!beginStep()) return 'stopped';
    try {
      return work();
    } finally {
      endStep();
    }
  };

  /** The syntax errors `edits` add to `text`: the file, then the edited file parsed incrementally from its tree. */
  const check = (lang: LanguageName, text: string, edits: OffsetEdit[]): EditCheck | null | 'stopped' => {
    const before = parse(lang, text);
    if (!before || before === 'stopped') return before ?? null;
    const base = unit(() => {
      const errors = errorCountWithin(before);
      return errors === undefined ? undefined : { errors, old: editedTree(before, text, edits) };
    });
    if (!base || base === 'stopped') return base ?? null;
    const after = parse(lang, applyEdits(text, edits), base.old);
    if (!after || after === 'stopped') return after ?? null;
    const r = unit(() => {
      const errors = errorCountWithin(after);
      if (errors === undefined) return null;
      return errors > base.errors ? { added: errors - base.errors, first: firstError(after) } : { added: errors - base.errors };
    });
    return r;
  };

  /** Requests not started: a check (a request waits for it) goes before the index's files, a shorter text first. */
  const waiting: SymbolRequest[] = [];
  let scheduled = false;

  const answer = ({ id, lang, text, edits }: SymbolRequest): void => {
    let reply: SymbolReply;
    try {
      if (edits) {
        const r = check(lang, text, edits);
        // The process is on its way out: the host answers nothing more anyway.
        if (r === 'stopped') return;
        reply = { id, check: r };
      } else {
        const tree = parse(lang, text);
        if (tree === 'stopped') return;
        if (!tree) reply = { id };
        else {
          const found = unit(() => extractor.extract(tree, lang, text));
          if (found === 'stopped') return;
          reply = { id, symbols: packSymbols(found) };
        }
      }
    } catch (err) {
      reply = { id, error: err instanceof Error ? err.message : String(err) };
    }
    // The packed bytes move to the main thread without a copy.
    port.postMessage(reply, reply.symbols ? [reply.symbols.data.buffer as ArrayBuffer] : []);
    sinceGc += text.length;
    // V8 does not see the trees' native memory: without this, dead trees would pile up here.
    if (gc && sinceGc >= COLLECT_EVERY_CHARS) {
      sinceGc = 0;
      gc();
    }
  };

  /** One request per turn of this thread's event loop, so that those arriving meanwhile are in the choice. */
  const next = (): void => {
    scheduled = false;
    let best = 0;
    for (let i = 1; i < waiting.length; i++) {
      const a = waiting[i]!;
      const b = waiting[best]!;
      if (Boolean(a.edits) !== Boolean(b.edits) ? Boolean(a.edits) : a.text.length < b.text.length) best = i;
    }
    const req = waiting.splice(best, 1)[0];
    if (req) answer(req);
    if (waiting.length > 0 && !scheduled) {
      scheduled = true;
      setImmediate(next);
    }
  };

  port.on('message', (req: SymbolRequest | DropSymbols) => {
    if ('drop' in req) {
      for (let i = waiting.length - 1; i >= 0; i--) if (!waiting[i]!.edits) waiting.splice(i, 1);
      return;
    }
    waiting.push(req);
    if (!scheduled) {
      scheduled = true;
      setImmediate(next);
    }
  });
  // Loaded (the binding included): the host started this worker BUSY, so that it was not
  // stopped in the middle of that.
  endStep();
}
