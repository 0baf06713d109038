// The index's worker thread: parses a file's text and reads its definitions, imports and exports,
// so neither the parse nor the tag queries (100-400 ms for a 300 kB file) run on the server's
// event loop, and the trees' native memory comes and goes in this thread's own arena.
import { parentPort, workerData } from 'node:worker_threads';
import { ParseService, type Tree } from '../syntax/tree.js';
import type { LanguageName } from '../syntax/languages.js';
import { fullGc } from '../util/runtime.js';
import { TagExtractor } from './tags.js';
import type { FileSymbols } from './types.js';

export interface SymbolRequest {
  id: number;
  lang: LanguageName;
  text: string;
}

/**
 * The worker's state, shared with the host in one Int32 (workerData.state): the host must not let
 * the process end while a parse runs here. Ending a thread stops its JavaScript, and tree-sitter
 * reads the text through a JavaScript callback in mid-parse: stopped there, the binding throws
 * from C and the whole process aborts. So a parse starts only by swapping IDLE for BUSY, and the
 * host, on its way out, swaps IDLE for STOPPED, waiting while the slot says BUSY (a parse ends
 * within its budget, at most ~1.1 s; the tag queries after it need no protection). A host that
 * drops the worker while the server runs on (the index switched off) does not wait: it swaps
 * BUSY for STOP_ASKED, and the worker ends itself after its parse.
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

const port = parentPort;
const state = (workerData as { state?: SharedArrayBuffer } | undefined)?.state;
if (port && state) {
  const slot = new Int32Array(state);
  const parser = new ParseService();
  const extractor = new TagExtractor();
  const gc = fullGc();
  let sinceGc = 0;
  port.on('message', ({ id, lang, text }: SymbolRequest) => {
    // The process is on its way out: no new parse (the host answers nothing more anyway).
    if (Atomics.compareExchange(slot, 0, IDLE, BUSY) !== IDLE) return;
    let parsed: { tree: Tree | undefined } | { error: string };
    try {
      // Synchronous, within the parse budget: this thread has nothing else to do meanwhile.
      parsed = { tree: parser.parseNow(lang, text) };
    } catch (err) {
      parsed = { error: err instanceof Error ? err.message : String(err) };
    } finally {
      // BUSY covers the parse only: the tag queries after it call no JavaScript from C, so a
      // thread stopped in them just stops. Slots stay BUSY the shortest time the exit waits for.
      const was = Atomics.compareExchange(slot, 0, BUSY, IDLE);
      if (was === STOP_ASKED) Atomics.store(slot, 0, STOPPED);
      Atomics.notify(slot, 0);
      // No parse runs now: ending this thread is safe (in a worker, exit ends the thread only).
      if (was === STOP_ASKED) process.exit(0);
    }
    let reply: SymbolReply;
    try {
      if ('error' in parsed) reply = { id, error: parsed.error };
      else reply = parsed.tree ? { id, symbols: extractor.extract(parsed.tree, lang, text) } : { id };
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
