// Parsing without holding the event loop: tree-sitter parses run in slices of a few milliseconds,
// each document keeps its tree in step with edits, and only a few documents keep a tree at all.
import type Parser from 'tree-sitter';
import { newParser, type SyntaxParser } from './binding.js';
import { grammar, type LanguageInfo, type LanguageName } from './languages.js';

export type Tree = Parser.Tree;
export type SyntaxNode = Parser.SyntaxNode;
export interface Point { row: number; column: number }

/** Bigger documents complete from plain text windows: a parse would cost more than it helps. */
export const MAX_PARSE_CHARS = 1_000_000;

/**
 * Parse time (summed over its slices) after which a parse is given up and the document
 * completes from text windows: 100 ms plus 1 ms per 1,000 characters. Normal code parses at
 * about 3,000 characters per ms (a 10,000-line file in 50-150 ms), so this is several times what
 * it needs on a loaded machine; what runs longer is pathological input (a stray `((((` before
 * hundreds of kB makes tree-sitter's error recovery parse ~100 characters per ms), where a tree
 * would not help the prompt anyway.
 */
export function parseBudgetMs(chars: number): number {
  return 100 + chars / 1000;
}

/**
 * The longest stretch one parse holds the event loop before it yields, as tree-sitter's timeout.
 * Tree-sitter looks at the clock every 100 of its operations, and in error recovery those can be
 * slow, so a slice overshoots now and then (1 ms slices: p99 ~12 ms on pathological input;
 * 4 ms slices: ~45 ms).
 */
export const PARSE_SLICE_MS = 1;

/**
 * A background parse waits for latency-critical requests to end only until it is this old
 * (counted from when it was queued): with requests always in flight (fast typing, several
 * editors' worth of traffic), a wait counted per slice made a 24 ms parse take seconds, and one
 * counted per parse from its first wait made each parse in the queue wait in turn.
 */
export const MAX_PARSE_DEFER_MS = 1000;

/** Parses that take turns slice by slice; the rest of the queue waits for one of them to end. */
const TAKING_TURNS = 3;

/** How often a deferred parse looks again whether the server is still busy. */
const BUSY_RETRY_MS = 10;

export type ParseOutcome =
  | { tree: Tree; ms: number }
  | { tree?: undefined; ms: number; reason: 'too big' | 'too slow' | 'cancelled' | 'failed' | 'unavailable' };

export interface ParseCounters {
  /** Parses finished with a tree. */
  parses: number;
  /** Slices run (a parse that yields runs several). */
  slices: number;
  /** Parses given up: over MAX_PARSE_CHARS, over their time bound, cancelled. */
  tooBig: number;
  /** Parses not run: the language's grammar or tree-sitter's binding could not be loaded. */
  unavailable: number;
  tooSlow: number;
  cancelled: number;
  /** The longest single slice or synchronous parse, in ms: what a parse cost the event loop at most. */
  longestHoldMs: number;
}

interface Job {
  lang: LanguageName;
  text: string;
  old: Tree | undefined;
  maxMs: number;
  spentMs: number;
  parser: SyntaxParser | undefined;
  signal: AbortSignal | undefined;
  queuedAt: number;
  urgent: boolean;
  resolve: (o: ParseOutcome) => void;
}

export interface ParseServiceOptions {
  /**
   * True while a latency-critical request is in flight: background slices wait for it to end
   * (at most MAX_PARSE_DEFER_MS), so a parse never delays the handling of a backend's answer.
   */
  busy?: () => boolean;
  sliceMs?: number;
  now?: () => number;
}

/**
 * Every tree-sitter parse of the server goes through here. `parse` queues a parse that runs in
 * slices of `sliceMs` (tree-sitter's timeout makes a parse return early; called again with the
 * same text, the same parser resumes where it stopped), taking turns with other queued parses;
 * `parseNow` is a synchronous parse with a time bound, for small texts (a block of the syntax
 * check) and one-shot commands. Each in-flight parse owns a parser, as a halted parse lives in
 * its parser's state; parsers are reused per language.
 */
export class ParseService {
  private readonly idle = new Map<LanguageName, SyntaxParser[]>();
  private readonly queue: Job[] = [];
  private scheduled = false;
  private readonly now: () => number;
  private readonly sliceMs: number;
  readonly counters: ParseCounters = { parses: 0, slices: 0, tooBig: 0, unavailable: 0, tooSlow: 0, cancelled: 0, longestHoldMs: 0 };

  constructor(private readonly opts: ParseServiceOptions = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.sliceMs = opts.sliceMs ?? PARSE_SLICE_MS;
  }

  /**
   * A parse in slices. Resolves with the tree, or without one when the text is over
   * MAX_PARSE_CHARS, the parse ran `maxMs` in total, or `signal` aborted it. The first slice
   * runs at once when nothing else is queued, so a quick incremental parse finishes in the call.
   * An `urgent` parse (one a request waits for) goes ahead of background ones and of urgent ones
   * of longer texts, and does not wait for busy spells; its slices still yield to the event loop.
   */
  parse(lang: LanguageName, text: string, opts: { old?: Tree; maxMs?: number; signal?: AbortSignal; urgent?: boolean } = {}): Promise<ParseOutcome> {
    if (text.length > MAX_PARSE_CHARS) {
      this.counters.tooBig++;
      return Promise.resolve({ ms: 0, reason: 'too big' });
    }
    if (!grammar(lang)) {
      this.counters.unavailable++;
      return Promise.resolve({ ms: 0, reason: 'unavailable' });
    }
    return new Promise<ParseOutcome>((resolve) => {
      const job: Job = { lang, text, old: opts.old, maxMs: opts.maxMs ?? parseBudgetMs(text.length), spentMs: 0, parser: undefined, signal: opts.signal, queuedAt: this.now(), urgent: opts.urgent === true, resolve };
      // An urgent parse goes ahead of every background one, and of urgent ones of longer texts:
      // a request waiting for a 2 kB parse must not wait for three of 400 kB to end first.
      if (job.urgent) {
        const urgent = this.urgentCount();
        let at = 0;
        while (at < urgent && this.queue[at]!.text.length <= text.length) at++;
        this.queue.splice(at, 0, job);
      } else this.queue.push(job);
      if (this.queue.length === 1 && !this.scheduled) this.slice();
      else this.pump();
    });
  }

  /** A synchronous parse that gives up (undefined) after `maxMs`: only for small texts or one-shot commands. */
  parseNow(lang: LanguageName, text: string, opts: { old?: Tree; maxMs?: number } = {}): Tree | undefined {
    if (text.length > MAX_PARSE_CHARS) {
      this.counters.tooBig++;
      return undefined;
    }
    if (!grammar(lang)) {
      this.counters.unavailable++;
      return undefined;
    }
    const parser = this.take(lang);
    const maxMs = opts.maxMs ?? parseBudgetMs(text.length);
    const started = this.now();
    let tree: Tree | null = null;
    try {
      tree = this.run(parser, text, opts.old, maxMs);
    } catch {
      tree = null; // a binding error: no tree, as for a parse given up
    } finally {
      this.hold(this.now() - started);
      this.give(lang, parser, tree !== null);
    }
    if (tree) this.counters.parses++;
    else this.counters.tooSlow++;
    return tree ?? undefined;
  }

  /** Urgent parses, all at the head of the queue. */
  private urgentCount(): number {
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.urgent) n++;
    return n;
  }

  /** Parses queued or part-way through. */
  get pending(): number {
    return this.queue.length;
  }

  private pump(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.slice();
    });
  }

  private slice(): void {
    const job = this.queue[0];
    if (!job) return;
    if (job.signal?.aborted) {
      this.counters.cancelled++;
      return this.finish(job, { ms: job.spentMs, reason: 'cancelled' }, false);
    }
    if (!job.urgent && this.opts.busy?.() && this.now() - job.queuedAt < MAX_PARSE_DEFER_MS) {
      this.scheduled = true;
      setTimeout(() => {
        this.scheduled = false;
        this.slice();
      }, BUSY_RETRY_MS).unref?.();
      return;
    }
    job.parser ??= this.take(job.lang);
    const started = this.now();
    let tree: Tree | null = null;
    let failed = false;
    try {
      tree = this.run(job.parser, job.text, job.old, Math.min(this.sliceMs, Math.max(0.5, job.maxMs - job.spentMs)));
    } catch {
      failed = true; // a binding error: the document goes without a tree, the server goes on
    }
    const ms = this.now() - started;
    this.hold(ms);
    this.counters.slices++;
    job.spentMs += ms;
    if (tree) {
      this.counters.parses++;
      this.finish(job, { tree, ms: job.spentMs }, true);
    } else if (failed) {
      this.finish(job, { ms: job.spentMs, reason: 'failed' }, false);
    } else if (job.spentMs >= job.maxMs) {
      this.counters.tooSlow++;
      this.finish(job, { ms: job.spentMs, reason: 'too slow' }, false);
    } else {
      // Its turn is over: the parses at the head of the queue take turns, so one slow document
      // starves no other; only a few at a time, as each holds a parser with a half-built parse.
      // Urgent ones take turns among themselves.
      const group = job.urgent ? this.urgentCount() : this.queue.length;
      this.queue.splice(Math.min(TAKING_TURNS, group) - 1, 0, this.queue.shift()!);
    }
    this.pump();
  }

  private finish(job: Job, outcome: ParseOutcome, complete: boolean): void {
    this.queue.splice(this.queue.indexOf(job), 1);
    if (job.parser) this.give(job.lang, job.parser, complete);
    job.parser = undefined;
    job.resolve(outcome);
    this.pump();
  }

  /** One call into tree-sitter, returning early (null) after `maxMs`; null also when the parse halted. */
  private run(parser: SyntaxParser, text: string, old: Tree | undefined, maxMs: number): Tree | null {
    return parser.parse(text, old, maxMs);
  }

  private take(lang: LanguageName): SyntaxParser {
    return this.idle.get(lang)?.pop() ?? newParser(grammar(lang));
  }

  /** A parser whose parse halted part-way is reset first: its next parse must not resume that one. */
  private give(lang: LanguageName, parser: SyntaxParser, complete: boolean): void {
    if (!complete) parser.reset();
    let list = this.idle.get(lang);
    if (!list) this.idle.set(lang, (list = []));
    if (list.length < 2) list.push(parser);
  }

  private hold(ms: number): void {
    if (ms > this.counters.longestHoldMs) this.counters.longestHoldMs = ms;
  }
}

/** An edit in the units tree.edit wants (UTF-16 offsets and rows/columns), before it is applied. */
export interface TreeEdit {
  startIndex: number;
  oldEndIndex: number;
  newEndIndex: number;
  startPosition: Point;
  oldEndPosition: Point;
  newEndPosition: Point;
}

export function endPointAfterInsert(start: Point, inserted: string): Point {
  const lastNl = inserted.lastIndexOf('\n');
  if (lastNl < 0) return { row: start.row, column: start.column + inserted.length };
  let rows = 0;
  for (let i = inserted.indexOf('\n'); i >= 0; i = inserted.indexOf('\n', i + 1)) rows++;
  return { row: start.row + rows, column: inserted.length - lastNl - 1 };
}

/**
 * Which documents keep a tree. A tree costs native memory of about 30 bytes per character of
 * its text (~1 MB for a 1,000-line file), which the JS heap does not see, so a workspace with
 * hundreds of open files must not keep them all: the documents touched last (opened, edited,
 * asked for a completion) keep theirs, up to `maxTrees` and `maxChars` in total; the others drop
 * theirs and parse again, in slices, when next used.
 */
export class TreeRetention {
  private readonly held = new Map<DocumentTree, number>();
  /** Documents opened whose first parse is scheduled: they count against the room. */
  private readonly opening = new Set<DocumentTree>();
  private chars = 0;
  /** Trees dropped since the start: what `release` has given back to the garbage collector. */
  dropped = 0;

  constructor(
    readonly maxTrees = 16,
    readonly maxChars = 1_000_000,
    private readonly onDrop?: (chars: number) => void,
  ) {}

  /**
   * A document was opened: it is parsed now only while there is room for its tree. Opening a
   * document does not mean using it (editors open files for peeks, searches, other extensions,
   * a restored session), and a burst of hundreds of opens must not parse hundreds of trees only
   * to drop them: freed native memory is reused, not given back to the OS, so RSS stays at its
   * highest. Beyond the room, a document is parsed when first used (edited, asked for a
   * completion or its code actions).
   */
  opened(tree: DocumentTree): void {
    if (this.held.size + this.opening.size >= this.maxTrees) return;
    this.opening.add(tree);
    tree.schedule();
  }

  /** `tree` was just used or re-parsed, holding a tree for `chars` characters of text. */
  touch(tree: DocumentTree, chars: number): void {
    this.opening.delete(tree);
    const before = this.held.get(tree);
    if (before !== undefined) {
      this.held.delete(tree);
      this.chars -= before;
    }
    this.held.set(tree, chars);
    this.chars += chars;
    for (const [t, c] of this.held) {
      if (this.held.size <= this.maxTrees && this.chars <= this.maxChars) break;
      if (t === tree) continue; // the one in use stays, however big
      this.held.delete(t);
      this.chars -= c;
      this.dropped++;
      t.release();
      this.onDrop?.(c);
    }
  }

  /** `tree` no longer holds a tree (closed, or its parse given up): what it held is garbage now. */
  forget(tree: DocumentTree): void {
    this.opening.delete(tree);
    const c = this.held.get(tree);
    if (c === undefined) return;
    this.held.delete(tree);
    this.chars -= c;
    this.onDrop?.(c);
  }

  get size(): number {
    return this.held.size;
  }
}

/** An incremental re-parse slower than this counts as slow; this many in a row give the tree up. */
const SLOW_REPARSE_MS = 25;
const SLOW_REPARSES = 3;

/** After a document's parse was given up, the next try waits this long (doubling, to a cap). */
const RETRY_AFTER_MS = 5_000;
const RETRY_AFTER_MAX_MS = 160_000;

export interface DocumentTreeDeps {
  parser: ParseService;
  retention?: TreeRetention;
  /** Says at debug level why a document has no tree (too big, too slow). */
  debug?: (message: string) => void;
  now?: () => number;
  idleMs?: number;
  /** An incremental re-parse slower than this is slow (default SLOW_REPARSE_MS). */
  slowReparseMs?: number;
  /** A parse's budget in ms instead of parseBudgetMs(characters): tests on a loaded machine. */
  budgetMs?: number;
}

/**
 * The tree of one document. Edits are applied to the tree at once (cheap, keeps node positions
 * right); the re-parse waits until typing pauses and runs in slices through the ParseService,
 * so neither a keystroke nor a request ever waits for it. While a parse is part-way, the tree
 * it started from is left as it is and later edits wait in `pending`, to be applied to the new
 * tree when it arrives.
 */
export class DocumentTree {
  private tree: Tree | undefined;
  /** Edits not yet in a parse: the tree (or the parse in flight) lags the text by these. */
  private dirty = false;
  private inFlight: AbortController | undefined;
  private pending: TreeEdit[] = [];
  private timer: NodeJS.Timeout | undefined;
  private waiters: ((tree: Tree | undefined) => void)[] = [];
  private retryAt = 0;
  private retryAfterMs = RETRY_AFTER_MS;
  private slowReparses = 0;
  private disposed = false;
  /** The language's grammar or tree-sitter's binding could not be loaded: no parse is ever tried. */
  private unavailable = false;
  private readonly now: () => number;

  constructor(
    readonly language: LanguageInfo,
    private readonly deps: DocumentTreeDeps,
    private readonly text: () => string,
    private readonly name = '',
    /** The text's length without reading it whole (a chunked text joins its chunks for `text()`). */
    private readonly length: () => number = () => text().length,
  ) {
    this.now = deps.now ?? (() => performance.now());
  }

  /**
   * The latest tree, possibly edited but not re-parsed since the last keystroke; undefined while
   * the document has none (not parsed yet, dropped to save memory, too big or too slow to
   * parse). Never parses: it asks for a parse in the background for the next request.
   */
  current(): Tree | undefined {
    if (this.tree) this.deps.retention?.touch(this, this.length());
    if (!this.tree || this.dirty) this.schedule();
    return this.tree;
  }

  /**
   * The tree once a parse to the current text has run, waiting at most `maxWaitMs` (the event
   * loop runs on meanwhile; the parse runs in slices): for a request that has little use without
   * a tree, such as listing code actions right after a document opened. Undefined when there is
   * none by then, or the document's parse was given up lately.
   */
  settled(maxWaitMs: number): Promise<Tree | undefined> {
    this.current();
    if (this.exact() || this.disposed) return Promise.resolve(this.tree);
    if (!this.inFlight) {
      if (this.unavailable || this.retryAt > this.now()) return Promise.resolve(this.tree);
      this.cancelTimer();
      this.start(); // a quick parse finishes in this call
      if (this.exact() || !this.inFlight) return Promise.resolve(this.tree);
    }
    return new Promise((resolve) => {
      const waiter = (t: Tree | undefined) => {
        clearTimeout(timer);
        resolve(t);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(this.tree);
      }, maxWaitMs);
      timer.unref?.();
      this.waiters.push(waiter);
    });
  }

  /**
   * Whether the document's last parse was given up (too big, too slow) and is not tried again
   * yet: another parse of the same text would only spend its budget again.
   */
  get givenUp(): boolean {
    return !this.tree && !this.inFlight && (this.unavailable || this.retryAt > this.now());
  }

  /** The tree as it is, without asking for a parse or counting as use (background readers). */
  peek(): Tree | undefined {
    return this.tree;
  }

  /** The tree when it matches the text exactly, else undefined (never parses). */
  exact(): Tree | undefined {
    return this.tree && !this.dirty && !this.inFlight ? this.tree : undefined;
  }

  /**
   * A synchronous parse to the current text, bounded by `maxMs`: for one-shot commands and
   * tests, which have nothing else to do meanwhile. The server never calls it.
   */
  parseNow(maxMs?: number): Tree | undefined {
    if (this.exact()) return this.tree;
    this.cancel(true);
    const text = this.text();
    const tree = this.deps.parser.parseNow(this.language.name, text, { ...(this.tree ? { old: this.tree } : {}), ...(maxMs !== undefined ? { maxMs } : {}) });
    this.adopt(tree, text.length);
    return tree;
  }

  edit(e: TreeEdit): void {
    if (this.inFlight) this.pending.push(e);
    else if (this.tree) this.tree.edit(e);
    else {
      // No tree (not parsed yet, or dropped): a document being edited is in use, so it gets one;
      // the parse reads the text as it is then.
      this.cancelTimer();
      this.schedule();
      return;
    }
    this.dirty = true;
    this.cancelTimer();
    this.schedule();
  }

  /** Parse after `idleMs` without further edits, and not before a given-up parse may retry. */
  schedule(): void {
    if (this.timer || this.inFlight || this.disposed || this.unavailable) return;
    const wait = Math.max(this.deps.idleMs ?? 30, this.retryAt - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, wait);
    this.timer.unref?.();
  }

  /** Drops the tree to give its memory back; the next `current()` parses again. */
  release(): void {
    this.cancel(false);
    this.tree = undefined;
    this.dirty = false;
    this.wake();
  }

  dispose(): void {
    this.disposed = true;
    this.release();
    this.deps.retention?.forget(this);
  }

  private start(): void {
    if (this.inFlight || this.disposed) return;
    const chars = this.length();
    if (chars > MAX_PARSE_CHARS) {
      // Given up as the parse service would, without joining a chunked text only to measure it.
      this.deps.parser.counters.tooBig++;
      this.dirty = false;
      return this.giveUp(`${chars} characters, over ${MAX_PARSE_CHARS}`, chars);
    }
    const text = this.text();
    const abort = new AbortController();
    this.inFlight = abort;
    this.dirty = false;
    const old = this.tree;
    void this.deps.parser.parse(this.language.name, text, { ...(old ? { old } : {}), ...(this.deps.budgetMs !== undefined ? { maxMs: this.deps.budgetMs } : {}), signal: abort.signal }).then((outcome) => {
      if (this.inFlight !== abort) return; // released or restarted meanwhile
      this.inFlight = undefined;
      if (outcome.tree) {
        // A re-parse after a few keystrokes takes a millisecond or two; one that takes tens, time
        // after time (20,000 nested brackets: each edit and re-parse walks the whole depth), would
        // cost every pause in typing that much again: such a document goes without a tree.
        this.slowReparses = old && outcome.ms > (this.deps.slowReparseMs ?? SLOW_REPARSE_MS) ? this.slowReparses + 1 : 0;
        if (this.slowReparses < SLOW_REPARSES) {
          this.adopt(outcome.tree, text.length);
          return;
        }
        this.slowReparses = 0;
        return this.giveUp(`re-parses too slow (${Math.round(outcome.ms)} ms after a few edits)`, text.length);
      }
      if (outcome.reason === 'cancelled') return;
      if (outcome.reason === 'unavailable') {
        // No grammar or binding in this process (said once by the server): never tried again.
        this.unavailable = true;
        return this.adopt(undefined, text.length);
      }
      this.giveUp(outcome.reason === 'too big' ? `${text.length} characters, over ${MAX_PARSE_CHARS}` : `parse ${outcome.reason} after ${Math.round(outcome.ms)} ms`, text.length);
    });
  }

  /** Text windows for this document until a later try, after a back-off, succeeds. */
  private giveUp(why: string, chars: number): void {
    this.deps.debug?.(`${this.name || this.language.name}: no syntax tree (${why}); completing from text windows`);
    this.adopt(undefined, chars);
    this.retryAt = this.now() + this.retryAfterMs;
    this.retryAfterMs = Math.min(RETRY_AFTER_MAX_MS, this.retryAfterMs * 2);
  }

  /** Takes a parse's result: the edits made while it ran are applied to it, and still need a parse. */
  private adopt(tree: Tree | undefined, chars: number): void {
    const pending = this.pending;
    this.pending = [];
    if (tree) {
      for (const e of pending) tree.edit(e);
      this.retryAfterMs = RETRY_AFTER_MS;
      this.retryAt = 0;
    }
    this.tree = tree;
    this.dirty = pending.length > 0;
    if (tree) this.deps.retention?.touch(this, chars);
    else this.deps.retention?.forget(this);
    if (this.dirty && tree) this.schedule();
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w(this.tree);
  }

  /** Stops a scheduled or running parse; `keepEdits`: the edits made while it ran go to the tree it started from. */
  private cancel(keepEdits: boolean): void {
    this.cancelTimer();
    if (!this.inFlight) return;
    this.inFlight.abort();
    this.inFlight = undefined;
    if (keepEdits) for (const e of this.pending) this.tree?.edit(e);
    if (keepEdits && this.pending.length > 0) this.dirty = true;
    this.pending = [];
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
