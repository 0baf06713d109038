// The next-edit pipeline, start to end: route, prompt in the model's format, backend, answer to edits.
import type { Config } from '../config/schema.js';
import type { Doc } from '../documents.js';
import type { BackendRegistry } from '../models/registry.js';
import type { BackendFailure, CompletionBackend } from '../models/types.js';
import { chooseBackend, type RouteChoice, type RouteInputs } from '../router/route.js';
import { estimateTokens } from '../prompt/tokens.js';
import { CancelledError, DeadlineError, scopedSignal } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import type { Workspace } from '../workspace.js';
import type { BoundedParse } from './postprocess/syntaxCheck.js';
import { nextEditInput } from '../nextEdit/context.js';
import { answerToEdits, type NextEdit } from '../nextEdit/edits.js';
import { nextEditFormatFor, type NextEditPrompt } from '../nextEdit/formats.js';
import { stepChange, type EditHistory } from '../nextEdit/history.js';

export interface NextEditRequest {
  doc: Doc;
  position: { line: number; character: number };
  signal?: AbortSignal;
}

export type NextEditOutcome =
  | { kind: 'edits'; edits: NextEdit[]; version: number; backend: string; model: string; format: string; latencyMs: number }
  | { kind: 'empty'; reason: string; backend?: string; latencyMs: number }
  | { kind: 'cancelled' }
  | { kind: 'failed'; failure: BackendFailure; backend: string; latencyMs: number };

/** A next-edit request answers (possibly empty) within this: a region is rewritten, not a line completed. */
export const NEXT_EDIT_DEADLINE_MS = 10_000;
/** Tokens an answer may take beyond twice the region's. */
const ANSWER_SLACK_TOKENS = 64;
const MAX_ANSWER_TOKENS = 2048;

/** The tokens an answer may take: the region rewritten, with room to grow. */
export function answerTokens(region: { text: string }): number {
  return Math.min(MAX_ANSWER_TOKENS, 2 * estimateTokens(region.text) + ANSWER_SLACK_TOKENS);
}

/** What `tandem-lsp prompt --task nextEdit` shows: the route as configured and the prompt, nothing sent. */
export interface NextEditPreview {
  route: RouteChoice;
  /** The model the format was chosen for: `backends.NAME.model`, or undefined when unset (a dry run asks no server). */
  model: string | undefined;
  prompt: NextEditPrompt | undefined;
  maxTokens: number;
}

export interface NextEditDeps {
  config: () => Config;
  backends: BackendRegistry;
  workspace: Workspace;
  logger: Logger;
  history: EditHistory;
  /** Lines `start..end` of an open document, or undefined when it is not open. */
  lines: (uri: string, start: number, end: number) => string | undefined;
  /** Parses a small text, bounded in time, for the syntax check; without it there is no check. */
  parse?: BoundedParse;
  now?: () => number;
}

/**
 * One request in flight per document: a new one for the document, or any change of it, aborts the
 * one before (its connection closes). A document changed while its request ran gets no edits.
 */
/** Suggestions per model: answered with edits, shown by the editor, accepted, dismissed. */
export interface NextEditCounts {
  requests: number;
  suggested: Record<string, number>;
  shown: Record<string, number>;
  accepted: Record<string, number>;
  dismissed: Record<string, number>;
}

/** Suggestions remembered for didShowInlineEdit and the accept command, the most recent. */
const MAX_REMEMBERED = 64;

export class NextEditPipeline {
  private readonly inFlight = new Map<string, AbortController>();
  private readonly now: () => number;
  private nextId = 1;
  /** Suggestion id to its model, for the counts. */
  private readonly given = new Map<string, string>();
  private readonly shownIds = new Set<string>();
  private readonly counters: NextEditCounts = { requests: 0, suggested: {}, shown: {}, accepted: {}, dismissed: {} };

  constructor(private readonly deps: NextEditDeps) {
    this.now = deps.now ?? (() => performance.now());
  }

  /** The user typed: the document's request in flight is for text that is gone. */
  changed(uri: string): void {
    this.inFlight.get(uri)?.abort(new CancelledError('the document changed'));
  }

  closed(uri: string): void {
    this.changed(uri);
  }

  /** A suggestion handed to the editor: its id, for the editor's show and accept. */
  remember(model: string): string {
    const id = `tandem-ne-${this.nextId++}`;
    this.given.set(id, model);
    if (this.given.size > MAX_REMEMBERED) this.given.delete(this.given.keys().next().value!);
    bump(this.counters.suggested, model);
    return id;
  }

  /** textDocument/didShowInlineEdit: counted once per suggestion; an unknown id is ignored. */
  shown(id: string): boolean {
    const model = this.given.get(id);
    if (model === undefined || this.shownIds.has(id)) return false;
    this.shownIds.add(id);
    if (this.shownIds.size > MAX_REMEMBERED) this.shownIds.delete(this.shownIds.values().next().value!);
    bump(this.counters.shown, model);
    return true;
  }

  /** The accept command of a suggestion: counted once; an unknown id is ignored. */
  accepted(id: string): boolean {
    const model = this.given.get(id);
    if (model === undefined) return false;
    this.given.delete(id);
    bump(this.counters.accepted, model);
    return true;
  }

  /** The user refused a shown suggestion: counted once, and it can no longer be accepted. */
  dismissed(id: string): boolean {
    const model = this.given.get(id);
    if (model === undefined) return false;
    this.given.delete(id);
    bump(this.counters.dismissed, model);
    return true;
  }

  counts(): NextEditCounts {
    return structuredClone(this.counters);
  }

  /** Requests running now, per document (at most one each). */
  get running(): number {
    return this.inFlight.size;
  }

  async suggest(req: NextEditRequest): Promise<NextEditOutcome> {
    const started = this.now();
    const elapsed = () => Math.round(this.now() - started);
    const { doc } = req;
    const config = this.deps.config();
    this.counters.requests++;
    if (doc.binary) return { kind: 'empty', reason: 'binary content', latencyMs: 0 };
    if (config.routes.nextEdit.length === 0) return { kind: 'empty', reason: 'routes.nextEdit is empty: by default it is the inline route\'s on-prem backends, and that route has none; set routes.nextEdit to send next edits elsewhere', latencyMs: 0 };
    this.inFlight.get(doc.uri)?.abort(new CancelledError('superseded by a newer next-edit request'));
    const mine = new AbortController();
    this.inFlight.set(doc.uri, mine);
    const scope = scopedSignal([req.signal, mine.signal], NEXT_EDIT_DEADLINE_MS);
    const signal = scope.signal;
    const version = doc.text.version;
    const text = doc.text.getText();
    const cursor = doc.text.offsetAt(req.position);
    const relPath = this.deps.workspace.relativePath(doc.uri);
    this.deps.history.viewed(doc.uri, req.position.line, doc.text.lineCount);
    try {
      const tried = new Set<string>();
      let last: { failure: BackendFailure; backend: string } | undefined;
      for (;;) {
        const planned = await this.plan(config, doc.uri, relPath, text, cursor, tried, signal);
        if (!planned.ok) {
          if (last) return { kind: 'failed', ...last, latencyMs: elapsed() };
          return { kind: 'empty', reason: planned.reason, latencyMs: elapsed() };
        }
        const { backend, prompt, model } = planned;
        // Claim the request slot: after an outage only one trial request goes to the backend.
        if (!this.deps.backends.health.available(backend.name)) {
          tried.add(backend.name);
          continue;
        }
        const maxTokens = answerTokens(prompt.region);
        const sent = this.now();
        const answer = await this.call(backend, prompt, model, maxTokens, signal);
        this.deps.backends.report(backend.name, answer.ok ? undefined : answer.failure, answer.ok ? Math.round(this.now() - sent) : undefined);
        if (!answer.ok) {
          if (answer.failure.kind === 'cancelled' || signal.aborted) return this.aborted(req, mine, signal, elapsed);
          last = { failure: answer.failure, backend: backend.name };
          tried.add(backend.name);
          continue;
        }
        if (doc.text.version !== version) return { kind: 'empty', reason: `${doc.uri} changed while the request was in flight (version ${version}, now ${doc.text.version}): its answer is dropped`, backend: backend.name, latencyMs: elapsed() };
        const format = nextEditFormatFor(model, config.backends[backend.name]?.nextEdit);
        const lastStep = this.deps.history.last(doc.uri);
        const tree = doc.tree;
        const out = answerToEdits({
          text,
          region: prompt.region,
          parsed: format.parse(answer.text, answer.finishReason !== 'length'),
          ...(lastStep ? { last: stepChange(lastStep) } : {}),
          // The document's tree when it is parsed to this text (its re-parse after a keystroke has run): the errors before are counted on it.
          ...(tree && this.deps.parse ? { syntax: { lang: tree.language.name, parse: this.deps.parse, tree: () => tree.exact() } } : {}),
        });
        if (!out.ok) return { kind: 'empty', reason: out.reason, backend: backend.name, latencyMs: elapsed() };
        return { kind: 'edits', edits: out.edits, version, backend: backend.name, model: answer.model, format: prompt.format, latencyMs: elapsed() };
      }
    } catch (err) {
      if (signal.aborted) return this.aborted(req, mine, signal, elapsed);
      throw err;
    } finally {
      scope.dispose();
      if (this.inFlight.get(doc.uri) === mine) this.inFlight.delete(doc.uri);
    }
  }

  /**
   * A dry run: the route as configured (health and budget not asked), the model named in config,
   * and the prompt in its format, routed again on every path the prompt holds as a request is.
   */
  preview(doc: Doc, position: { line: number; character: number }, config: Config): NextEditPreview {
    const relPath = this.deps.workspace.relativePath(doc.uri);
    const policy = this.deps.backends.paths;
    const text = doc.text.getText();
    const cursor = doc.text.offsetAt(position);
    let paths = [relPath];
    let out: NextEditPreview | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const route = chooseBackend(config, 'nextEdit', paths, { paths: policy });
      const cfg = route.backend ? config.backends[route.backend] : undefined;
      if (!cfg) return { route, model: undefined, prompt: undefined, maxTokens: 0 };
      const cloud = cfg.location === 'cloud';
      const input = nextEditInput({ history: this.deps.history, uri: doc.uri, path: relPath, text, cursor, lines: this.deps.lines, mayJoin: (p) => policy.mayJoin(p, relPath, cloud, config.privacy) });
      const prompt = nextEditFormatFor(cfg.model ?? '', cfg.nextEdit).render(input);
      out = { route, model: cfg.model, prompt, maxTokens: answerTokens(prompt.region) };
      const held = [...new Set(prompt.sources.map((s) => s.path))];
      const check = chooseBackend(config, 'nextEdit', held, { paths: policy });
      if (check.backend === route.backend) return { ...out, route: check };
      paths = held;
    }
    return out!;
  }

  private aborted(req: NextEditRequest, mine: AbortController, signal: AbortSignal, elapsed: () => number): NextEditOutcome {
    if (req.signal?.aborted || mine.signal.aborted) return { kind: 'cancelled' };
    const ms = signal.reason instanceof DeadlineError ? signal.reason.ms : NEXT_EDIT_DEADLINE_MS;
    return { kind: 'empty', reason: `no answer within the deadline (${ms} ms)`, latencyMs: elapsed() };
  }

  /**
   * The route's first allowed backend, its model, and the prompt in that model's format holding
   * only what that backend may see; the route is asked again with every path the prompt holds.
   */
  private async plan(config: Config, uri: string, relPath: string, text: string, cursor: number, tried: ReadonlySet<string>, signal: AbortSignal): Promise<{ ok: true; backend: CompletionBackend; prompt: NextEditPrompt; model: string } | { ok: false; reason: string }> {
    const registry = this.deps.backends;
    const policy = registry.paths;
    const inputs: RouteInputs = { paths: policy, isHealthy: (n) => !tried.has(n) && registry.health.isHealthy(n), budgetExhausted: registry.spend.exhausted(config.budget.dailyUsd) };
    let paths = [relPath];
    for (let attempt = 0; attempt < 2; attempt++) {
      const route = chooseBackend(config, 'nextEdit', paths, inputs);
      if (this.deps.logger.enabled('debug')) this.deps.logger.debug(`route nextEdit -> ${route.backend ?? 'none'}: ${route.reason}`);
      if (!route.backend) return { ok: false, reason: route.reason };
      const backend = registry.get(route.backend);
      const cfg = config.backends[route.backend];
      if (!backend || !cfg) return { ok: false, reason: `backend ${route.backend} is not built` };
      const info = await backend.info(signal);
      if (!info.ok) {
        if (info.failure.kind === 'cancelled' && signal.aborted) throw new CancelledError();
        registry.report(backend.name, info.failure);
        return { ok: false, reason: info.failure.message };
      }
      const cloud = cfg.location === 'cloud';
      const input = nextEditInput({ history: this.deps.history, uri, path: relPath, text, cursor, lines: this.deps.lines, mayJoin: (p) => policy.mayJoin(p, relPath, cloud, config.privacy) });
      const format = nextEditFormatFor(info.value.id, cfg.nextEdit);
      const prompt = format.render(input);
      const held = [...new Set(prompt.sources.map((s) => s.path))];
      const check = chooseBackend(config, 'nextEdit', held, inputs);
      if (check.backend === route.backend) return { ok: true, backend, prompt, model: info.value.id };
      paths = held;
    }
    return { ok: false, reason: 'the route changed twice with the prompt\'s sources' };
  }

  private async call(backend: CompletionBackend, prompt: NextEditPrompt, model: string, maxTokens: number, signal: AbortSignal): Promise<{ ok: true; text: string; finishReason: string | null; model: string } | { ok: false; failure: BackendFailure }> {
    if (prompt.messages) {
      if (!backend.chat) return { ok: false, failure: { kind: 'bad_request', message: `backend ${backend.name} (${backend.url}) has no chat endpoint for the instruct next-edit format` } };
      const r = await backend.chat({ messages: prompt.messages, sources: prompt.sources, task: 'nextEdit', maxTokens, temperature: 0 }, signal);
      return r.ok ? { ok: true, text: r.value.text, finishReason: r.value.finishReason, model: r.value.model || model } : r;
    }
    const r = await backend.complete({ prompt: prompt.prompt!, sources: prompt.sources, task: 'nextEdit', stop: prompt.stop, maxTokens, temperature: 0 }, signal);
    return r.ok ? { ok: true, text: r.value.text, finishReason: r.value.finishReason, model: r.value.model || model } : r;
  }
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
