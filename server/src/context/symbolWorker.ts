// The index's worker thread: parses a file's text and reads its definitions, imports and exports,
// so neither the parse nor the tag queries (100-400 ms for a 300 kB file) run on the server's
// event loop, and the trees' native memory comes and goes in this thread's own arena.
import { parentPort, workerData } from 'node:worker_threads';
import Parser from 'tree-sitter';
import { MAX_PARSE_CHARS, parseBudgetMs, type Tree } from '../syntax/tree.js';
import { grammar, type LanguageName } from '../syntax/languages.js';
import { fullGc } from '../util/runtime.js';
import { TagExtractor } from './tags.js';
import type { FileSymbols } from './types.js';

export interface SymbolRequest {
  id: number;
  lang: LanguageName;
  text: string;
}

/**
 * The worker's state, shared with the host in one Int32 (workerData.state): the host must never
 * stop this thread while it is inside tree-sitter. Stopping a thread makes every call from native
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
  /** Undefined when the parse was given up (over its size or time budget). */
  symbols?: FileSymbols;
  error?: string;
}

/** Text parsed between two collections of this thread's heap (~10 MB of dead trees; a collection here costs a few ms, off the event loop). */
const COLLECT_EVERY_CHARS = 300_000;

/** One step of a parse: what the way out may have to wait for. */
const STEP_MS = 5;

/** Read buffer of the binding, in UTF-16 units (as ParseService's). */
const READ_UNITS = 32 * 1024;

const port = parentPort;
const state = (workerData as { state?: SharedArrayBuffer } | undefined)?.state;
if (port && state) {
  const slot = new Int32Array(state);
  const parsers = new Map<LanguageName, Parser>();
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

  /**
   * The text's tree, parsed in steps within its budget (parseBudgetMs); undefined when given up
   * (too big, too slow), 'stopped' when the host is ending the process.
   */
  const parse = (lang: LanguageName, text: string): Tree | undefined | 'stopped' => {
    if (text.length > MAX_PARSE_CHARS) return undefined;
    let parser = parsers.get(lang);
    if (!parser) {
      parser = new Parser();
      parser.setLanguage(grammar(lang) as Parser.Language);
      parsers.set(lang, parser);
    }
    parser.setTimeoutMicros(STEP_MS * 1000);
    const budget = parseBudgetMs(text.length);
    let spent = 0;
    let tree: Tree | null = null;
    try {
      while (spent < budget) {
        if (!beginStep()) return 'stopped';
        const started = performance.now();
        try {
          // Called again with the same text after a step's time limit, the parser resumes.
          tree = parser.parse(text, null, { bufferSize: READ_UNITS }) ?? null;
        } finally {
          endStep();
        }
        if (tree) return tree;
        spent += performance.now() - started;
      }
      return undefined;
    } finally {
      // A parse left part-way must not be resumed by the next file's.
      if (!tree) parser.reset();
    }
  };

  port.on('message', ({ id, lang, text }: SymbolRequest) => {
    let reply: SymbolReply;
    try {
      const tree = parse(lang, text);
      // The process is on its way out: the host answers nothing more anyway.
      if (tree === 'stopped') return;
      if (!tree) reply = { id };
      else {
        if (!beginStep()) return;
        try {
          reply = { id, symbols: extractor.extract(tree, lang, text) };
        } finally {
          endStep();
        }
      }
    } catch (err) {
      reply = { id, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
    sinceGc += text.length;
    // V8 does not see the trees' native memory: without this, dead trees would pile up here.
    if (gc && sinceGc >= COLLECT_EVERY_CHARS) {
      sinceGc = 0;
      gc();
    }
  });
}
