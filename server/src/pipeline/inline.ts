// The inline completion pipeline, start to end; the only file that knows the order of the stages.
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Config } from '../config/schema.js';
import type { Doc, DocView, Range, TextWindow } from '../documents.js';
import type { BackendRegistry } from '../models/registry.js';
import type { BackendFailure, CompletionBackend, FimResult, ModelInfo, Outcome } from '../models/types.js';
import { buildInlinePrompt, type InlinePrompt } from '../prompt/inline.js';
import { TEMPLATES, templateFor, type FimTemplate } from '../prompt/templates.js';
import type { ContextEngine, Gathered } from '../context/engine.js';
import type { Candidate } from '../context/types.js';
import { contextRequest } from '../context/request.js';
import type { HedgeLeg } from '../router/hedge.js';
import { chooseBackend, type RouteChoice, type RouteInputs } from '../router/route.js';
import { lineCommentFor } from '../syntax/languages.js';
import { CancelledError, DeadlineError, scopedSignal } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import type { Workspace } from '../workspace.js';
import { CompletionCache, type CachedItem, type LocalKind } from './cache.js';
import { Debouncer, type DebounceCounts } from './debounce.js';
import { inlineOff } from './inlineSwitch.js';
import { Speculation, type SpeculationCounts, type TextEdit } from './speculate.js';
import { completionMode, documentIndentation, postprocess, type CursorContext, type EditorIndentation } from './postprocess/index.js';
import { checkSyntax, syntaxBaseline, syntaxBlock, type BoundedParse, type SyntaxBaseline, type SyntaxBlock } from './postprocess/syntaxCheck.js';
import { sampleChoices } from './samples.js';
import type { LanguageName } from '../syntax/languages.js';
import { MAX_PARSE_CHARS, type Tree } from '../syntax/tree.js';
import type { TextReader } from '../textStore.js';
import { tokensToChars } from '../prompt/tokens.js';
import { WINDOW_SNAP_LINES } from '../prompt/inline.js';

export interface InlineRequest {
  doc: Doc;
  /** 0-based UTF-16 position; clamped to the document like LSP asks. */
  position: { line: number; character: number };
  /** Aborted by `$/cancelRequest` (or the CLI). */
  signal?: AbortSignal;
  /** Skip the debounce (the CLI). */
  immediate?: boolean;
  /**
   * The user asked (LSP InlineCompletionTriggerKind.Invoked): no debounce, inline.alternatives
   * candidates, and none from the cache, which holds one per place (the user asked for more).
   */
  invoked?: boolean;
  /** Ask for inline.alternatives candidates (textDocument/completion's list); implied by `invoked`. */
  alternatives?: boolean;
  /**
   * The item selected in the editor's suggest widget (LSP `selectedCompletionInfo`), checked at the
   * edge to lie on the cursor's line around the cursor: the completion is for the text as it would
   * read with `text` put over `range`, and continues after it. The cache keys on that text too.
   */
  selected?: { range: Range; text: string };
  /** Overrides inline.deadlineMs (the CLI waits longer than a keystroke may). */
  deadlineMs?: number;
  /**
   * The background request for the place an accepted completion leads to (speculate.ts): no
   * debounce, and its answer is kept by the speculation (for the text it was made for) rather than
   * by this request.
   */
  speculative?: boolean;
}

/**
 * `deadlineMs` is set on an outcome that its deadline ended (the timer fired before an answer):
 * `tandem.stats` counts them, so a slow backend is told apart from a failing one by the server's
 * own events, not by a clock outside it.
 */
export type InlineOutcome =
  | {
      kind: 'completion';
      text: string;
      /** Characters after the cursor the text goes over (closers the editor put there, which the completion holds too); usually 0. */
      replace: number;
      /** Further distinct candidates, best first after `text` (asked for with `invoked` or `alternatives`). */
      alternatives: string[];
      id: string;
      backend: string;
      model: string;
      latencyMs: number;
      cached: boolean;
      /** Answered without a backend request, and how. */
      local?: LocalKind;
    }
  | { kind: 'empty'; reason: string; backend?: string; model?: string; latencyMs: number; deadlineMs?: number }
  | { kind: 'cancelled' }
  | { kind: 'failed'; failure: BackendFailure; backend?: string; latencyMs: number; deadlineMs?: number };

export interface PromptPlan {
  route: RouteChoice;
  backend?: CompletionBackend;
  info?: ModelInfo;
  template: FimTemplate;
  prompt: InlinePrompt;
  ctx: CursorContext;
  /** Why model discovery failed, when it did. */
  failure?: BackendFailure;
  /** What the context sources offered (and how long each took); undefined when context is off. */
  context?: Gathered;
}

/** A plan with a backend and its model: what a model call needs. */
type ReadyPlan = PromptPlan & { backend: CompletionBackend; info: ModelInfo };

const NEXT_LINES = 30;
/** A context-length error shrinks the prompt to this share of what the server would take. */
const SHRINK_MARGIN = 0.9;

export interface InlineDeps {
  config: () => Config;
  backends: BackendRegistry;
  workspace: Workspace;
  logger: Logger;
  /** Cross-file context sources; without it prompts hold the current file only. */
  context?: ContextEngine;
  /** Parses a small block, bounded in time, for the syntax check of a completion; without it there is no check. */
  parse?: BoundedParse;
  now?: () => number;
  /** When the user's snooze ends (ms since the epoch; undefined: not snoozed). The CLI has none. */
  snoozedUntil?: () => number | undefined;
  /** What the editor's settings say about indentation (`editor.tabSize`, …), where it sent them. */
  editorIndentation?: () => EditorIndentation | undefined;
  /**
   * Measure the context stage's CPU time on every request (`prompt --json` reports it); otherwise
   * only while logging at debug level, which prints it.
   */
  contextCpu?: boolean;
  /** Documents longer than this many characters complete from a window (WINDOW_ABOVE_CHARS; tests set a small one). */
  windowAbove?: number;
}

/** The shortest debounce wait during which an automatic request is planned ahead (planAhead). */
const PLAN_AHEAD_MIN_WAIT_MS = 60;

export class InlinePipeline {
  private readonly cache: CompletionCache;
  private readonly debouncer: Debouncer;
  private readonly speculation: Speculation;
  private current: AbortController | undefined;
  /** The place the request in flight (`current`) completes. */
  private currentPlace: { uri: string; version: number; offset: number } | undefined;
  private nextId = 1;
  private inFlight = 0;
  private readonly warnedTemplate = new Set<string>();
  private readonly now: () => number;
  /**
   * The plan made during an automatic request's debounce (planAhead), for the place it was made
   * for: that request takes it when its wait ends, and so does a request for the same place that
   * comes meanwhile (the user asks for suggestions after typing), instead of planning again.
   */
  private ahead: { uri: string; version: number; /** In the document (not a window's). */ offset: number; config: Config; plan: Promise<PromptPlan | undefined> } | undefined;
  private readonly planCounts = { ahead: 0, reused: 0 };
  /** Documents whose window (big documents) was said at debug level. */
  private readonly saidWindow = new WeakSet<Doc>();

  constructor(private readonly deps: InlineDeps) {
    this.cache = new CompletionCache(deps.config().inline.cacheSize);
    this.debouncer = new Debouncer(() => deps.config().inline.debounceMs);
    this.now = deps.now ?? (() => performance.now());
    this.speculation = new Speculation({
      enabled: () => deps.config().inline.speculative,
      request: (doc, offset, signal) => this.complete({ doc, position: doc.text.positionAt(offset), signal, speculative: true }),
      answered: (doc, offset) => this.answered(doc, offset),
      store: (uri, text, offset, completion) => this.cache.set(uri, text, offset, completion, true),
      logger: deps.logger,
    });
  }

  /** What speculative requests did so far (tandem.stats). */
  speculativeCounts(): SpeculationCounts {
    return { ...this.speculation.counts };
  }

  /**
   * A document changed (`edit`: its one change, in offsets of the text before; undefined when the
   * notification held several or the whole text): an accepted completion is told from it, and a
   * speculative request for the text as it was ends.
   */
  /** `before.text`: the text before the change, read at a few places (a snapshot of the chunks, not joined). */
  changed(doc: Doc, before: { version: number; text: TextReader }, edit: TextEdit | undefined): void {
    this.speculation.changed(doc, before, edit);
  }

  /** `tandem.accepted` (a full acceptance) for the completion `id`; `docOf` finds its document. */
  accepted(id: string, docOf: (uri: string) => Doc | undefined): void {
    this.speculation.accepted(id, docOf);
  }

  closed(uri: string): void {
    this.speculation.closed(uri);
  }

  /** Whether this place already has an answer or a request: a speculative one would add nothing. */
  private answered(doc: Doc, offset: number): boolean {
    const p = this.currentPlace;
    if (p && p.uri === doc.uri && p.version === doc.text.version && p.offset === offset) return true;
    return this.cache.get(doc.uri, doc.text, offset) !== undefined;
  }

  /** The length over which a document completes from a window; never more than what is ever parsed. */
  private windowAbove(): number {
    return Math.min(this.deps.windowAbove ?? WINDOW_ABOVE_CHARS, MAX_PARSE_CHARS);
  }

  /** True while a request waits on a backend: background work (re-parses) holds off meanwhile. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** What the debounce did so far (tandem.stats). */
  debounceCounts(): DebounceCounts & { plannedAhead: number; plansReused: number } {
    return { ...this.debouncer.snapshot(), plannedAhead: this.planCounts.ahead, plansReused: this.planCounts.reused };
  }

  async complete(req: InlineRequest): Promise<InlineOutcome> {
    const { doc } = req;
    const version = doc.text.version;
    const offset = doc.text.offsetAt(req.position);
    const outcome = await this.answer(req, offset);
    // What the editor is given (for the text it asked about) is watched for its acceptance. Not
    // with a suggest-widget item selected: accepting it inserts the item as well, which the
    // acceptance check (the completion's text at the cursor) does not follow.
    if (outcome.kind === 'completion' && !req.speculative && !req.selected && doc.text.version === version) {
      const replaced = doc.text.slice(offset, offset + outcome.replace);
      this.speculation.shown(doc.uri, { id: outcome.id, version, offset, replaced, text: outcome.text });
    }
    return outcome;
  }

  private async answer(req: InlineRequest, docOffset: number): Promise<InlineOutcome> {
    const start = this.now();
    const config = this.deps.config();
    const elapsed = () => Math.round(this.now() - start);
    const { doc } = req;
    const off = inlineOff(config.inline, doc.languageId, this.deps.snoozedUntil?.());
    if (off !== undefined) return { kind: 'empty', reason: off, latencyMs: 0 };
    if (doc.binary) return { kind: 'empty', reason: 'binary content', latencyMs: 0 };

    const n = req.invoked || req.alternatives ? config.inline.alternatives : 1;
    // The text the completion is for: the document's, or as it would read with the suggest
    // widget's selected item inserted. Prompt, context, postprocessing and the cache all read it.
    // A big document's (over windowAbove) is a window of it around the cursor, read from its
    // chunks: the whole text is never joined for a request.
    const { view, cacheText, cacheOffset, offset, blockAt } = selectedView(doc, docOffset, req.selected, this.windowAbove(), windowSide(config));
    if (view.window && this.deps.logger.enabled('debug') && !this.saidWindow.has(doc)) {
      this.saidWindow.add(doc);
      this.deps.logger.debug(`${doc.uri}: ${doc.text.length} characters, over ${this.windowAbove()}: completing from ${view.text.getText().length} characters around the cursor, without the syntax tree for the prompt and context (the syntax check reads the tree with the text from the chunks)`);
    }
    // Asked for several candidates, the user wants more than the one a place holds.
    const many = req.invoked && n > 1;
    const hit = many ? undefined : this.cache.get(doc.uri, cacheText.now, cacheOffset);
    if (hit) {
      if (hit.items.length === 0) return { kind: 'empty', reason: 'the completion being typed goes on past the closing line the editor put below the cursor: nothing to add here', latencyMs: elapsed() };
      const [{ text: shown, replace }, ...rest] = hit.items as [CachedItem, ...CachedItem[]];
      // Alternatives share the first item's range: those that cover other characters are left out.
      const alternatives = rest.filter((i) => i.replace === replace).map((i) => i.text);
      return { kind: 'completion', text: shown, replace, alternatives, id: this.id(), backend: 'cache', model: 'cache', latencyMs: elapsed(), cached: true, local: hit.kind };
    }
    // The speculative request for this very place is running: wait for it rather than ask again
    // (not for a selected item's text, which it was not made for, nor for several candidates).
    const running = req.speculative || req.selected || many ? undefined : this.speculation.join(doc.uri, doc.text.version, docOffset);
    if (running) {
      const out = await untilAborted(running, req.signal);
      if (out === undefined) return { kind: 'cancelled' };
      if (out.kind !== 'completion') return out.kind === 'cancelled' ? out : { ...out, latencyMs: elapsed() };
      return { ...out, id: this.id(), latencyMs: elapsed() };
    }

    // A newer request makes this one pointless: it is aborted (and its HTTP request, if it has
    // one) once this one is on its way. Everything up to this request's fetch runs in microtasks,
    // so an immediate comes after it: the older request's empty answer (a write to the editor,
    // which wakes it) is not made between this request's message and its backend request. Nor
    // can the older one reach the backend meanwhile: a debounce's timer fires only after the
    // immediates of this turn of the event loop.
    const superseded = this.current;
    if (superseded) setImmediate(() => superseded.abort(new CancelledError('superseded by a newer request')));
    const mine = new AbortController();
    this.current = mine;
    // A selected item's text is not the document's: no speculative request is for this place.
    this.currentPlace = req.selected ? undefined : { uri: doc.uri, version: doc.text.version, offset: docOffset };
    const deadlineMs = req.deadlineMs ?? config.inline.deadlineMs;
    const scope = scopedSignal([req.signal, mine.signal], deadlineMs);
    const signal = scope.signal;
    this.inFlight++;
    // The syntax check's block and its own parse do not depend on the completion: they run while
    // the backend answers (or, if the answer comes first, before the check), not after the stream.
    let syntax: { block: SyntaxBlock | undefined; base: SyntaxBaseline | null | undefined } | undefined;
    const prepareSyntax = () => {
      if (syntax) return syntax;
      const parse = this.deps.parse;
      const tree = parse ? doc.tree?.current() : undefined;
      if (!tree) return { block: undefined, base: undefined }; // no tree yet: perhaps by the time the answer comes
      const block = blockAt(tree, doc.tree!.language);
      syntax = { block, base: block && parse ? syntaxBaseline(block, parse) : undefined };
      return syntax;
    };
    let early: NodeJS.Immediate | undefined;
    try {
      if (req.invoked) this.debouncer.skip();
      else if (!req.immediate && !req.speculative) await this.debouncer.wait(start, signal, req.selected ? undefined : (ms) => this.planAhead(view, offset, config, signal, ms));
      const health = this.deps.backends.health;
      // One backend's try: the model call (shrunk once on a context-length error), its health
      // report, postprocessing. `token` hears every streamed piece (the hedge's clock). Asked for
      // alternatives, it samples `n` (samples.ts) and gives the distinct survivors, best first.
      const attempt = async (plan: ReadyPlan, sig: AbortSignal, token: () => void): Promise<Outcome<Answer>> => {
        const backend = plan.backend;
        let prompt = plan.prompt;
        const single = plan.ctx.mode === 'single';
        const maxLines = plan.ctx.maxLines;
        const enough = (t: string) => {
          token();
          return single ? t.includes('\n') : countLines(t) > maxLines + 1;
        };
        // Every file the prompt holds text from goes along: the privacy gate refuses a cloud request without them.
        const request = (p: InlinePrompt) => ({ prompt: p.prompt, sources: p.sources, parts: p.parts, task: 'inline', stop: p.stop, maxTokens: config.inline.maxTokens, temperature: config.inline.temperature, enough });
        const sent = this.now();
        const pending = sampleChoices(backend, request(prompt), n, sig, this.now);
        if (!syntax && !early && this.deps.parse) early = setImmediate(prepareSyntax);
        let result = await pending;
        if (!result.ok && result.failure.kind === 'context_length') {
          // Our token estimate was off for this model: shrink once to what the server says fits.
          const f = result.failure;
          const fits = f.limit && f.requested ? Math.floor(prompt.budget.prompt * ((f.limit - config.inline.maxTokens) / f.requested) * SHRINK_MARGIN) : Math.floor(prompt.budget.prompt / 2);
          this.deps.logger.debug(`prompt too long for ${backend.name}; retrying with ${fits} tokens`);
          prompt = this.render(view, offset, plan.template, plan.info, config, plan.context?.candidates ?? [], Math.max(64, fits));
          result = await sampleChoices(backend, request(prompt), n, sig, this.now);
        }
        this.deps.backends.report(backend.name, result.ok ? undefined : result.failure, result.ok ? Math.round(this.now() - sent) : undefined);
        if (!result.ok) return result;
        const finish = (raw: string) => {
          const out = postprocess(raw, prompt.stop, plan.ctx);
          // Last, the merged result must parse no worse than the block did without it.
          if (!out || !this.deps.parse) return out;
          const { block, base } = prepareSyntax();
          return block ? checkSyntax(out, block, this.deps.parse, undefined, base) : out;
        };
        return { ok: true, value: { texts: rankCandidates(result.value, finish), model: result.value.model } };
      };
      // Failover: a backend that fails is left out and the route's next one tries, all within
      // the one deadline of this request.
      const tried = new Set<string>();
      let last: { failure: BackendFailure; backend: string } | undefined;
      for (;;) {
        const plan = (tried.size === 0 && !req.selected ? await this.planMadeAhead(view, offset, config) : undefined) ?? (await this.plan(view, offset, config, signal, true, tried));
        if (this.deps.logger.enabled('debug')) this.deps.logger.debug(`route inline -> ${plan.route.backend ?? 'none'}: ${plan.route.reason}`);
        if (plan.failure && plan.route.backend) {
          last = { failure: plan.failure, backend: plan.route.backend };
          tried.add(plan.route.backend);
          continue;
        }
        if (!plan.backend || !plan.info) {
          if (last) return { kind: 'failed', failure: last.failure, backend: last.backend, latencyMs: elapsed(), ...expired(signal) };
          return { kind: 'empty', reason: plan.route.reason, latencyMs: elapsed() };
        }
        const ready = plan as ReadyPlan;
        const name = ready.backend.name;
        // Claim the request slot: after an outage only one trial request goes to the backend.
        if (!health.available(name)) {
          tried.add(name);
          continue;
        }
        // Hedge: should this backend go silent for its delay, the route's next allowed backend,
        // planned then like a failover (privacy, health, budget; the context already gathered), is asked too.
        const hedge = this.deps.backends.hedge;
        const delay = plan.route.fallbacks.length > 0 ? hedge.delayFor(name, config.backends[name]?.hedgeMs, deadlineMs) : undefined;
        const next = async (): Promise<HedgeLeg<Answer> | undefined> => {
          const p = await this.plan(view, offset, config, signal, true, new Set([...tried, name]), plan.context);
          if (this.deps.logger.enabled('debug')) this.deps.logger.debug(`hedge route inline -> ${p.route.backend ?? 'none'}: ${p.route.reason}`);
          if (!p.backend || !p.info || p.failure) return undefined;
          const other = p as ReadyPlan;
          return { backend: other.backend.name, claim: () => health.available(other.backend.name), run: (sig, token) => attempt(other, sig, token) };
        };
        const race = await hedge.race({ backend: name, run: (sig, token) => attempt(ready, sig, token) }, next, delay, signal, (a) => a.texts.length > 0);
        const result = race.outcome;
        if (!result.ok) {
          if (result.failure.kind === 'cancelled') return { kind: 'cancelled' };
          last = { failure: result.failure, backend: race.backend };
          for (const n of race.asked) tried.add(n);
          if (signal.aborted) return { kind: 'failed', failure: result.failure, backend: race.backend, latencyMs: elapsed(), ...expired(signal) };
          continue;
        }
        const [out, ...alternatives] = result.value.texts;
        if (out === undefined) return { kind: 'empty', reason: 'nothing worth showing after postprocessing', backend: race.backend, model: result.value.model, latencyMs: elapsed() };
        // Stored once the answer is out: hashing the cache key (some KB of text around the cursor)
        // is not the user's wait. An immediate runs before the next message is read from stdin.
        // The best candidate only: what an automatic request at this place would show.
        // A speculative answer is the speculation's to keep, if its text is still there.
        if (!req.speculative) setImmediate(() => this.cache.set(doc.uri, cacheText.kept, cacheOffset, out, false, req.selected !== undefined));
        return { kind: 'completion', text: out, replace: 0, alternatives, id: this.id(), backend: race.backend, model: result.value.model, latencyMs: elapsed(), cached: false };
      }
    } catch (err) {
      if (signal.aborted) {
        if (req.signal?.aborted || mine.signal.aborted) return { kind: 'cancelled' };
        return { kind: 'empty', reason: `no answer within the deadline (${deadlineMs} ms, inline.deadlineMs)`, latencyMs: elapsed(), ...expired(signal) };
      }
      throw err;
    } finally {
      this.inFlight--;
      if (early) clearImmediate(early);
      scope.dispose();
      if (this.current === mine) {
        this.current = undefined;
        this.currentPlace = undefined;
      }
    }
  }

  /**
   * Plans an automatic request halfway through its debounce wait of `ms`, off the user's wait: the
   * request takes the plan when the wait ends, and an invoked request for the same place that
   * comes meanwhile takes it too. A key typed before then supersedes the request and the timer
   * goes with it. Short waits (fast typing: the adaptive wait is 1.5 times the typing's mean gap)
   * plan nothing ahead: a plan per keystroke of a burst would be CPU spent for nothing.
   */
  private planAhead(doc: DocView, offset: number, config: Config, signal: AbortSignal, ms: number): void {
    if (ms < PLAN_AHEAD_MIN_WAIT_MS) return;
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      if (signal.aborted) return;
      this.planCounts.ahead++;
      // The request's own signal: the model lookup, the one await in a plan, ends with it.
      const plan = this.plan(doc, offset, config, signal, true).catch(() => undefined);
      this.ahead = { uri: doc.uri, version: doc.text.version, offset: placeOf(doc, offset), config, plan };
    }, ms / 2);
    timer.unref?.();
    const stop = () => clearTimeout(timer);
    signal.addEventListener('abort', stop, { once: true });
  }

  /**
   * The plan made ahead for this very place (document version, offset, configuration), if its
   * route is still the one the route's health and budget choose now; else undefined, and the
   * caller plans afresh. A plan whose model lookup failed is taken as it is: that failure was
   * reported to health once, and the backend is not asked again for the same request.
   */
  private async planMadeAhead(doc: DocView, offset: number, config: Config): Promise<PromptPlan | undefined> {
    const a = this.ahead;
    if (!a || a.uri !== doc.uri || a.version !== doc.text.version || a.offset !== placeOf(doc, offset) || a.config !== config) return undefined;
    const plan = await a.plan;
    // The document may have changed while the plan was awaited (a window's own text does not: its
    // document's, which `of` is for an unselected one, does).
    if (!plan || (doc.window?.of ?? doc.text).version !== a.version) return undefined;
    const health = this.deps.backends.health;
    const held = [...new Set(plan.prompt.segments.map((sg) => sg.path).filter((p): p is string => p !== undefined))];
    const route = chooseBackend(config, 'inline', held, { paths: this.deps.backends.paths, isHealthy: (n) => health.isHealthy(n), budgetExhausted: this.deps.backends.spend.exhausted(config.budget.dailyUsd) });
    if (route.backend !== plan.route.backend) return undefined;
    this.planCounts.reused++;
    return { ...plan, route };
  }

  /**
   * Route, model discovery, template and prompt: everything before the model call. `prompt --json`
   * uses it with `discover: false` so that a dry run never contacts a backend. `gatheredBefore`: the
   * context an earlier plan of the same request gathered (a hedge reuses it instead of running the
   * sources again while the user waits).
   */
  async plan(doc: DocView, offset: number, config: Config, signal: AbortSignal, discover = true, exclude: ReadonlySet<string> = new Set(), gatheredBefore?: Gathered): Promise<PromptPlan> {
    const health = this.deps.backends.health;
    // A dry run reports the route as configured; a real request skips unhealthy, failed and over-budget backends.
    const policy = this.deps.backends.paths;
    const inputs: RouteInputs = discover ? { paths: policy, isHealthy: (n) => !exclude.has(n) && health.isHealthy(n), budgetExhausted: this.deps.backends.spend.exhausted(config.budget.dailyUsd) } : { paths: policy };
    const relPath = this.deps.workspace.relativePath(doc.uri);
    const ctx = cursorContext(doc, offset, config, this.deps.editorIndentation?.());
    const gathered = gatheredBefore ?? this.gatherContext(doc, offset, relPath, config);
    // Privacy covers every segment: the route is chosen for the paths the prompt will hold. Snippets
    // of files outside the workspace never join; those of onPremOnly files never ride along to a
    // cloud backend; the current file alone decides whether a cloud backend may serve at all.
    let paths = [relPath];
    let planned: PromptPlan | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const route = chooseBackend(config, 'inline', paths, inputs);
      const cloud = route.backend !== undefined && config.backends[route.backend]?.location === 'cloud';
      const candidates = (gathered?.candidates ?? []).filter((c) => policy.mayJoin(c.path, relPath, cloud, config.privacy));
      planned = await this.planFor(route, doc, offset, config, signal, discover, ctx, candidates, gathered);
      if (planned.failure) return planned;
      const held = [...new Set(planned.prompt.segments.map((sg) => sg.path).filter((p): p is string => p !== undefined))];
      const check = chooseBackend(config, 'inline', held, inputs);
      if (check.backend === route.backend) return { ...planned, route: check };
      paths = held;
    }
    return planned!;
  }

  private async planFor(route: RouteChoice, doc: DocView, offset: number, config: Config, signal: AbortSignal, discover: boolean, ctx: CursorContext, candidates: Candidate[], gathered: Gathered | undefined): Promise<PromptPlan> {
    const cfg = route.backend ? config.backends[route.backend] : undefined;
    const backend = route.backend ? this.deps.backends.get(route.backend) : undefined;
    const context = gathered ? { ...gathered, candidates } : undefined;
    let info: ModelInfo | undefined;
    if (backend && discover) {
      const o = await backend.info(signal);
      if (!o.ok) {
        // Only this request's own signal makes it cancelled; anything else is a failure to route around.
        if (o.failure.kind === 'cancelled' && signal.aborted) throw new CancelledError();
        this.deps.backends.report(backend.name, o.failure);
        return { route, backend, failure: o.failure, template: TEMPLATES.qwen, prompt: this.render(doc, offset, TEMPLATES.qwen, undefined, config, candidates), ctx, context };
      }
      info = o.value;
    } else if (cfg) {
      info = { id: cfg.model ?? '(discovered from the server)', contextWindow: cfg.maxContextTokens ?? 8192, contextSource: cfg.maxContextTokens ? 'config' : 'default' };
    }
    // A dry run without `model` does not know the model: no warning about its template then.
    const template = this.template(info?.id ?? '', cfg?.fim, discover ? cfg?.name : undefined);
    return { route, backend, info, template, prompt: this.render(doc, offset, template, info, config, candidates), ctx, context };
  }

  /** Runs the context sources on the document as it is now: no parse, no file read. */
  private gatherContext(doc: DocView, offset: number, relPath: string, config: Config): Gathered | undefined {
    const engine = this.deps.context;
    if (!engine || !config.context.enabled || config.context.maxTokens === 0) return undefined;
    const req = contextRequest(doc, offset, relPath);
    const sources = config.context.sources as Record<string, { enabled: boolean; budgetMs: number } | undefined>;
    const debug = this.deps.logger.enabled('debug');
    const gathered = engine.gather(req, (name) => sources[name], { cpu: debug || this.deps.contextCpu === true });
    if (debug) this.deps.logger.debug(`context ${gathered.ms} ms, cpu ${gathered.cpuMs} ms: ${gathered.sources.map((x) => `${x.name} ${x.ms} ms ${x.candidates}${x.late ? ' late' : ''}`).join(', ')}`);
    return gathered;
  }

  private render(doc: DocView, offset: number, template: FimTemplate, info: ModelInfo | undefined, config: Config, candidates: Candidate[], maxPromptTokens = config.inline.maxPromptTokens): InlinePrompt {
    return buildInlinePrompt({
      doc: doc.text,
      offset,
      language: doc.tree?.language,
      lineComment: doc.tree?.language.lineComment ?? lineCommentFor(doc.languageId),
      tree: doc.tree?.current(),
      relPath: this.deps.workspace.relativePath(doc.uri),
      template,
      budget: { contextWindow: info?.contextWindow ?? 8192, maxTokens: config.inline.maxTokens, maxPromptTokens },
      ...(candidates.length > 0 ? { context: { candidates, maxTokens: config.context.maxTokens, share: config.context.share, repoName: this.deps.workspace.rootName(doc.uri) } } : {}),
      ...(doc.window ? { lineBase: doc.window.line } : {}),
    });
  }

  private template(modelId: string, override: Config['backends'][string]['fim'], backendName?: string): FimTemplate {
    const t = templateFor(modelId, override);
    if (t) return t;
    if (backendName && !this.warnedTemplate.has(modelId)) {
      this.warnedTemplate.add(modelId);
      this.deps.logger.warn(`model "${modelId}" has no known fill-in-the-middle template; using qwen. Set backends.${backendName}.fim to one of: ${Object.keys(TEMPLATES).join(', ')}`);
    }
    return TEMPLATES.qwen;
  }

  private id(): string {
    return `tandem-${this.nextId++}`;
  }
}

/** `p`'s value, or undefined as soon as `signal` aborts (`p` runs on). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => {
      signal.removeEventListener('abort', onAbort);
      resolve(v);
    });
  });
}

/** One backend's answer: the distinct candidates that survived postprocessing, best first. */
interface Answer {
  texts: string[];
  model: string;
}

/**
 * Each choice postprocessed (`finish`); those that come to nothing dropped, equal ones (up to
 * trailing blanks) merged. Best first: the text more choices came to (the model's likelier
 * answer), then the higher mean token log probability where the server gave them, then the
 * earlier choice (samples.ts asks the first at the request's own temperature).
 */
export function rankCandidates(result: FimResult, finish: (raw: string) => string): string[] {
  const groups = new Map<string, { text: string; count: number; logprob: number; index: number }>();
  // Choices that came back the same (common: sampling gives a code model's likeliest text more
  // than once) are postprocessed and syntax-checked once.
  const finished = new Map<string, string>();
  (result.choices ?? [result]).forEach((c, index) => {
    let text = finished.get(c.text);
    if (text === undefined) finished.set(c.text, (text = finish(c.text)));
    if (text === '') return;
    const key = text.trimEnd();
    const logprob = 'logprob' in c && typeof c.logprob === 'number' ? c.logprob : -Infinity;
    const g = groups.get(key);
    if (!g) groups.set(key, { text, count: 1, logprob, index });
    else {
      g.count++;
      g.logprob = Math.max(g.logprob, logprob);
    }
  });
  return [...groups.values()].sort((a, b) => b.count - a.count || byLogprob(a.logprob, b.logprob) || a.index - b.index).map((g) => g.text);
}

function byLogprob(a: number, b: number): number {
  if (a === b) return 0;
  return b > a ? 1 : -1;
}

/**
 * Documents longer than this many characters complete from a window of their text around the
 * cursor, read from the chunks (joining 2 MB costs 13-18 ms, per keystroke).
 */
export const WINDOW_ABOVE_CHARS = 256 * 1024;
/**
 * The least a window holds each side of the cursor's line: more than every other reader reaches
 * (the indentation's 12 K characters each side, the context sources' 24 K before the cursor, the
 * cursor context's 30 lines); the prompt's windows are windowSide's. Slicing and indexing the
 * lines of 2 x 32 K characters costs about 1 ms per request.
 */
const WINDOW_MIN_SIDE_CHARS = 32 * 1024;
/** Lines longer than this many window sides are not snapped to: the window starts or ends inside them. */
const WINDOW_MAX_SIDES = 4;

/** How far a window reaches each side of the cursor for `config`: past any prompt window. */
function windowSide(config: Config): number {
  return Math.max(WINDOW_MIN_SIDE_CHARS, tokensToChars(config.inline.maxPromptTokens) + 8192);
}

/** The document offset of a view's `offset`. */
function placeOf(view: DocView, offset: number): number {
  return offset + (view.window?.offset ?? 0);
}

/** Moved forward off the middle of a CR LF pair and of a surrogate pair. */
function offBreak(text: TextReader, i: number): number {
  const before = text.charCodeAt(i - 1);
  const at = text.charCodeAt(i);
  if ((before === 13 && at === 10) || (at >= 0xdc00 && at <= 0xdfff)) return i + 1;
  return i;
}

/**
 * The span of a window around `offset`: from a line start at least `side` characters before the
 * cursor's line, on a line that is a multiple of WINDOW_SNAP_LINES (the prompt's prefix window
 * snaps to those: the window's own line numbers snap alike), to the line start after `side`
 * characters past the cursor. Lines too long for that are cut.
 */
export function windowSpan(text: Doc['text'], offset: number, side: number): { start: number; end: number; line: number } {
  const len = text.length;
  const cursorLine = text.positionAt(offset).line;
  const lineStart = text.offsetAt({ line: cursorLine, character: 0 });
  const far = Math.max(0, lineStart - side);
  const farLine = text.positionAt(far).line;
  let line = farLine - (farLine % WINDOW_SNAP_LINES);
  let start = text.offsetAt({ line, character: 0 });
  if (offset - start > WINDOW_MAX_SIDES * side) {
    line = farLine;
    start = text.offsetAt({ line, character: 0 });
    if (offset - start > WINDOW_MAX_SIDES * side) {
      start = offBreak(text, Math.max(0, offset - side));
      line = text.positionAt(start).line;
    }
  }
  const near = Math.min(len, offset + side);
  const nearLine = text.positionAt(near).line;
  let end = nearLine + 1 < text.lineCount ? text.offsetAt({ line: nearLine + 1, character: 0 }) : len;
  if (end - offset > WINDOW_MAX_SIDES * side) end = offBreak(text, near);
  return { start, end, line };
}

/** A TextReader of `base` with `insert` put over [from, to). */
class Spliced implements TextReader {
  readonly length: number;
  constructor(
    private readonly base: TextReader,
    private readonly from: number,
    private readonly to: number,
    private readonly insert: string,
  ) {
    this.length = base.length - (to - from) + insert.length;
  }

  slice(start: number, end: number): string {
    start = Math.max(0, Math.min(start, this.length));
    end = Math.max(start, Math.min(end, this.length));
    const { from, to, insert } = this;
    const mid = from + insert.length;
    let out = '';
    if (start < from) out += this.base.slice(start, Math.min(end, from));
    if (end > from && start < mid) out += insert.slice(Math.max(0, start - from), Math.min(insert.length, end - from));
    if (end > mid) out += this.base.slice(Math.max(start, mid) - mid + to, end - mid + to);
    return out;
  }

  charCodeAt(index: number): number {
    return index >= 0 && index < this.length ? this.slice(index, index + 1).charCodeAt(0) : NaN;
  }
}

/** Line ends (CR LF, CR or LF) in `s`. */
function lineEnds(s: string): number {
  return s.split(/\r\n|\r|\n/).length - 1;
}

/**
 * The text a request completes, and where: the document's own, or (`selected`, the suggest
 * widget's item) the document with the item's text put over its range, the cursor after it. The
 * view shares the document's tree when the item is one line, as the range always is: every row,
 * and every node before the range, stands where the tree says. The syntax check's block is cut
 * from the document itself at the range and has the item put in, so it is exact either way.
 *
 * A document longer than `windowAbove` gives a window of that text around the cursor instead
 * (DocView.window; `offset` is the window's), read from its chunks: the prompt, the cursor
 * context and the context sources read no further than `side` characters. The window has no
 * tree (the prompt's head and the sources' tree reads would need the document's offsets); the
 * syntax check still cuts its block from the document, by the tree. The cache reads the whole
 * text in the document's offsets (`cacheText`, at `cacheOffset`): `now` from the chunks during the
 * request, `kept` (a snapshot, for storing the answer after later edits).
 */
function selectedView(
  doc: Doc,
  offset: number,
  selected: InlineRequest['selected'],
  windowAbove: number,
  side: number,
): { view: DocView; offset: number; cacheText: { now: TextReader; kept: TextReader }; cacheOffset: number; blockAt: (tree: Tree, lang: NonNullable<Doc['tree']>['language']) => SyntaxBlock | undefined } {
  const s = selected ? doc.text.offsetAt(selected.range.start) : offset;
  const e = selected ? doc.text.offsetAt(selected.range.end) : offset;
  if (doc.text.length > windowAbove) {
    const span = windowSpan(doc.text, offset, side);
    const kept = doc.text.snapshot();
    const part = doc.text.slice(span.start, span.end);
    let window: TextWindow;
    let own: TextDocument;
    if (!selected) {
      own = TextDocument.create(doc.uri, doc.languageId, doc.text.version, part);
      window = { offset: span.start, line: span.line, lineCount: doc.text.lineCount, lineAt: (row) => lineOf(doc.text, row), of: doc.text };
    } else {
      const text = part.slice(0, Math.max(0, s - span.start)) + selected.text + part.slice(Math.max(0, e - span.start));
      own = TextDocument.create(doc.uri, doc.languageId, doc.text.version, text);
      // Rows past the cursor's line move down by the item's line ends (its range is one line).
      const added = lineEnds(selected.text);
      const cursorLine = doc.text.positionAt(s).line;
      window = {
        offset: span.start,
        line: span.line,
        lineCount: doc.text.lineCount + added,
        lineAt: (row) => (row < cursorLine ? lineOf(doc.text, row) : row <= cursorLine + added ? lineOf(own, row - span.line) : lineOf(doc.text, row - added)),
        // The indentation detected in the document's own text is not this text's.
        of: own,
      };
    }
    const view: DocView = { uri: doc.uri, languageId: doc.languageId, binary: doc.binary, text: own, tree: undefined, window };
    const put = (r: TextReader) => (selected ? new Spliced(r, s, e, selected.text) : r);
    const blockAt = (tree: Tree, lang: NonNullable<Doc['tree']>['language']): SyntaxBlock | undefined => {
      const b = syntaxBlock(tree, lang, kept, s);
      return b && (selected ? { ...b, before: b.before + selected.text, after: b.after.slice(e - s) } : b);
    };
    const at = s + (selected?.text.length ?? 0);
    return { view, offset: at - span.start, cacheText: { now: put(doc.text), kept: put(kept) }, cacheOffset: at, blockAt };
  }
  const whole = doc.text.getText();
  if (!selected) return { view: doc, offset, cacheText: { now: whole, kept: whole }, cacheOffset: offset, blockAt: (tree, lang) => syntaxBlock(tree, lang, whole, offset) };
  const text = whole.slice(0, s) + selected.text + whole.slice(e);
  const view: DocView = {
    uri: doc.uri,
    languageId: doc.languageId,
    binary: doc.binary,
    text: TextDocument.create(doc.uri, doc.languageId, doc.text.version, text),
    tree: selected.text.includes('\n') ? undefined : doc.tree,
  };
  const blockAt = (tree: Tree, lang: NonNullable<Doc['tree']>['language']): SyntaxBlock | undefined => {
    const b = syntaxBlock(tree, lang, whole, s);
    return b && { ...b, before: b.before + selected.text, after: b.after.slice(e - s) };
  };
  const at = s + selected.text.length;
  return { view, offset: at, cacheText: { now: text, kept: text }, cacheOffset: at, blockAt };
}

/** Line `row` of `text` without its line end, as the context request reads a line; undefined out of range. */
function lineOf(text: Pick<TextDocument, 'lineCount' | 'getText'>, row: number): string | undefined {
  return row >= 0 && row < text.lineCount ? text.getText({ start: { line: row, character: 0 }, end: { line: row + 1, character: 0 } }).replace(/\r?\n$/, '') : undefined;
}

/** `{deadlineMs}` when the request's deadline is what aborted `signal`. */
function expired(signal: AbortSignal): { deadlineMs?: number } {
  return signal.reason instanceof DeadlineError ? { deadlineMs: signal.reason.ms } : {};
}

function countLines(t: string): number {
  let n = 1;
  for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) n++;
  return n;
}

export function cursorContext(doc: DocView, offset: number, config: Config, editor?: EditorIndentation): CursorContext {
  const pos = doc.text.positionAt(offset);
  const text = doc.text.getText();
  const lineStart = offset - pos.character;
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  const lineSuffix = text.slice(offset, lineEnd).replace(/\r$/, '');
  const nextLines: string[] = [];
  let i = lineEnd + 1;
  while (i <= text.length && i > 0 && nextLines.length < NEXT_LINES) {
    let e = text.indexOf('\n', i);
    if (e < 0) e = text.length;
    nextLines.push(text.slice(i, e).replace(/\r$/, ''));
    if (e >= text.length) break;
    i = e + 1;
  }
  let lineAbove = '';
  for (let end = lineStart - 1, n = 0; end >= 0 && n < NEXT_LINES; n++) {
    const start = end > 0 ? text.lastIndexOf('\n', end - 1) + 1 : 0;
    const line = text.slice(start, end).replace(/\r$/, '');
    if (line.trim() !== '') {
      lineAbove = line;
      break;
    }
    end = start - 1;
  }
  return {
    linePrefix: text.slice(lineStart, offset),
    lineSuffix,
    lineAbove,
    nextLines,
    mode: completionMode(lineSuffix, config.inline.multiline),
    maxLines: config.inline.maxLines,
    indent: documentIndentation(doc.window?.of ?? doc.text, text, offset, editor),
  };
}
