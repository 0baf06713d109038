// The index's worker thread: parses a file's text and reads its definitions, imports and exports,
// so neither the parse nor the tag queries (100-400 ms for a 300 kB file) run on the server's
// event loop, and the trees' native memory comes and goes in this thread's own arena.
import { parentPort } from 'node:worker_threads';
import { ParseService } from '../syntax/tree.js';
import type { LanguageName } from '../syntax/languages.js';
import { fullGc } from '../util/runtime.js';
import { TagExtractor } from './tags.js';
import type { FileSymbols } from './types.js';

export interface SymbolRequest {
  id: number;
  lang: LanguageName;
  text: string;
}

export interface SymbolReply {
  id: number;
  /** Undefined when the parse was given up (over its size or time budget). */
  symbols?: FileSymbols;
  error?: string;
}

/** Text parsed between two collections of this thread's heap (~10 MB of dead trees; a collection here costs a few ms, off the event loop). */
const COLLECT_EVERY_CHARS = 300_000;

const port = parentPort;
if (port) {
  const parser = new ParseService();
  const extractor = new TagExtractor();
  const gc = fullGc();
  let sinceGc = 0;
  port.on('message', ({ id, lang, text }: SymbolRequest) => {
    let reply: SymbolReply;
    try {
      // Synchronous, within the parse budget: this thread has nothing else to do meanwhile.
      const tree = parser.parseNow(lang, text);
      reply = tree ? { id, symbols: extractor.extract(tree, lang, text) } : { id };
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
