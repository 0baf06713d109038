// Speculative next completion: the last completion shown per document, its acceptance told apart,
// and the background request for the place an accepted completion leads to.
import { LRUCache } from 'lru-cache';
import type { Doc } from '../documents.js';
import type { TextReader } from '../textStore.js';
import { CancelledError } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import type { InlineOutcome } from './inline.js';

/** A completion as the editor was given it: `text` put over `replaced` (the editor's closers) at `offset` of version `version`. */
export interface ShownCompletion {
  id: string;
  version: number;
  offset: number;
  replaced: string;
  text: string;
}

/** One content change, in offsets of the text before it. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

export interface SpeculationCounts {
  /** Background requests started after an accepted completion. */
  started: number;
  /** Their answers kept for the place they were made for (shown later counts as a local `speculative` answer). */
  stored: number;
  /** Editor requests for its place that took its answer instead of asking again: waiting while it ran, or (an empty one) after. */
  joined: number;
  /** Ended by an edit of the document (the user typed something else) or by a request for another place. */
  cancelled: number;
  /** Answered for a document that had changed meanwhile: dropped, never shown. */
  discarded: number;
  /** Answered with nothing to show (or failed). */
  empty: number;
}

export interface SpeculationDeps {
  enabled: () => boolean;
  /** The background request: an inline request like any other (route, privacy, budget), not cached by itself. */
  request: (doc: Doc, offset: number, signal: AbortSignal) => Promise<InlineOutcome>;
  /** Whether the place already has an answer (the cache) or a request in flight: then there is nothing to speculate. */
  answered: (doc: Doc, offset: number) => boolean;
  /** Keeps a speculative answer for the text and place it was made for. */
  store: (uri: string, text: TextReader, offset: number, completion: string) => void;
  logger: Logger;
}

/**
 * The speculative request of the moment, running or answered: it stays until the document
 * changes (or another starts), so that an editor request for its place gets its answer, an empty
 * one too, rather than asking the backend what it was just asked.
 */
interface Flight {
  uri: string;
  version: number;
  offset: number;
  ctrl: AbortController;
  done: Promise<InlineOutcome>;
}

interface Record extends ShownCompletion {
  /** Change notifications since it was shown. */
  changes: number;
  speculated: boolean;
}

/** Documents whose last shown completion is remembered (one each). */
const REMEMBERED_DOCS = 64;

export class Speculation {
  private readonly shownBy = new LRUCache<string, Record>({ max: REMEMBERED_DOCS });
  private flight: Flight | undefined;
  readonly counts: SpeculationCounts = { started: 0, stored: 0, joined: 0, cancelled: 0, discarded: 0, empty: 0 };

  constructor(private readonly deps: SpeculationDeps) {}

  /** The editor was given `c` for `uri`: its acceptance is watched for. */
  shown(uri: string, c: ShownCompletion): void {
    this.shownBy.set(uri, { ...c, changes: 0, speculated: false });
  }

  /**
   * `doc` changed from `before` by `edit` (undefined: several changes, or the whole text): an
   * edit that reads as the shown completion accepted starts the speculative request; any edit
   * ends one running for the document, whose answer would be for text that is gone.
   */
  changed(doc: Doc, before: { version: number; text: TextReader }, edit: TextEdit | undefined): void {
    if (this.flight?.uri === doc.uri) this.cancel('the document changed');
    const r = this.shownBy.get(doc.uri);
    if (!r) return;
    r.changes++;
    if (r.speculated || r.version !== before.version || !edit || !isAcceptance(r, before.text, edit)) return;
    this.speculate(doc, r, 'its text was inserted');
  }

  /**
   * `tandem.accepted` for `id`: where the edit that inserted it was not recognised as such (a
   * client that sent it in pieces), the document holding its text in place, right after, will do.
   */
  accepted(id: string, docOf: (uri: string) => Doc | undefined): void {
    for (const [uri, r] of this.shownBy.entries()) {
      if (r.id !== id) continue;
      const doc = docOf(uri);
      if (!doc || r.speculated || r.changes !== 1 || !doc.text.startsWith(r.text, r.offset)) return;
      this.speculate(doc, r, 'tandem.accepted');
      return;
    }
  }

  /** The speculative request for exactly this place and version, if any (running or answered): an editor request there takes its answer. */
  join(uri: string, version: number, offset: number): Promise<InlineOutcome> | undefined {
    const f = this.flight;
    if (!f || f.uri !== uri || f.version !== version || f.offset !== offset) return undefined;
    this.counts.joined++;
    return f.done;
  }

  closed(uri: string): void {
    this.shownBy.delete(uri);
    if (this.flight?.uri === uri) this.cancel('the document was closed');
  }

  private cancel(why: string): void {
    const f = this.flight!;
    this.flight = undefined;
    f.ctrl.abort(new CancelledError(`speculative request cancelled: ${why}`));
  }

  private speculate(doc: Doc, r: Record, why: string): void {
    r.speculated = true;
    if (!this.deps.enabled()) return;
    if (this.flight) this.cancel('a newer completion was accepted');
    const offset = r.offset + r.text.length;
    if (this.deps.answered(doc, offset)) return;
    const version = doc.text.version;
    // The text as it is now, for the cache key of the answer (a snapshot of the chunks, not joined).
    const text = doc.text.snapshot();
    const ctrl = new AbortController();
    this.counts.started++;
    this.deps.logger.debug(`completion ${r.id} accepted (${why}): speculative request for ${doc.uri} at ${offset}`);
    const ask = async (): Promise<InlineOutcome> => {
      try {
        return await this.deps.request(doc, offset, ctrl.signal);
      } catch (err) {
        // A bug, not an outcome: said, and nothing to show (no editor request may inherit the throw).
        this.deps.logger.error(`speculative request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return { kind: 'empty', reason: 'the speculative request failed', latencyMs: 0 };
      }
    };
    const done = ask().then((outcome) => {
      if (outcome.kind === 'cancelled' && this.flight?.done === done) this.flight = undefined;
      if (outcome.kind === 'cancelled') this.counts.cancelled++;
      else if (outcome.kind !== 'completion') this.counts.empty++;
      else if (doc.text.version !== version || ctrl.signal.aborted) {
        // The user moved on while it ran: an answer for text that is gone is never shown.
        this.counts.discarded++;
        if (this.flight?.done === done) this.flight = undefined;
        this.deps.logger.debug(`speculative answer for ${doc.uri} version ${version} dropped: the document is at ${doc.text.version}`);
      } else {
        this.counts.stored++;
        this.deps.store(doc.uri, text, offset, outcome.text);
      }
      return outcome;
    });
    this.flight = { uri: doc.uri, version, offset, ctrl, done };
  }
}

/**
 * Whether `edit` turns `before` into `before` with `c.text` put over `c.replaced` at `c.offset`:
 * the two edits' results are compared over the span either touches. A client may send the
 * insertion trimmed of what it shares with the text around (Neovim's diff does), so the edit's
 * own range need not be the completion's.
 */
export function isAcceptance(c: ShownCompletion, before: TextReader, edit: TextEdit): boolean {
  const end = c.offset + c.replaced.length;
  if (c.text === '' || edit.text.length - (edit.end - edit.start) !== c.text.length - c.replaced.length) return false;
  if (edit.start < c.offset - c.text.length || edit.end > end + c.text.length) return false;
  const lo = Math.min(edit.start, c.offset);
  const hi = Math.max(edit.end, end);
  return before.slice(lo, c.offset) + c.text + before.slice(end, hi) === before.slice(lo, edit.start) + edit.text + before.slice(edit.end, hi);
}
