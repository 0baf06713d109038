// Code actions and explain, start to end: prompt, route with failover, parse, apply, syntax and version checks.
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Config } from '../config/schema.js';
import type { Doc, Range } from '../documents.js';
import { MULTI_FILE, type ActionId } from '../actions/list.js';
import { applyBlocks, extractFenced, fenced, lineScope, parseSearchReplace, tighten, type TextEdit } from '../actions/editFormat.js';
import type { BackendRegistry } from '../models/registry.js';
import type { BackendFailure, ChatMessage, ChatResult, SourceRef } from '../models/types.js';
import { chooseBackend } from '../router/route.js';
import type { LanguageName } from '../syntax/languages.js';
import type { Tree } from '../syntax/tree.js';
import { unifiedDiff } from '../util/lineDiff.js';
import { estimateTokens, tokensToChars } from '../prompt/tokens.js';
import { contextRequest } from '../context/request.js';
import { applyEdits, editedTree, errorCountWithin, firstError, type EditCheck, type OffsetEdit } from '../syntax/editCheck.js';
import { DeadlineError, scopedSignal } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import type { Workspace } from '../workspace.js';
import type { ContextEngine } from '../context/engine.js';
import type { WorkspaceIndex } from '../context/index.js';
import { MultiFileActions } from './multiFile.js';
import { ancestors } from '../syntax/ancestors.js';
import { learnWindow } from './window.js';

/** Single-file actions that resolve to an edit of the document they were offered on. */
export const EDIT_ACTIONS: ReadonlySet<ActionId> = new Set(['document', 'simplify', 'errorHandling', 'addTypes', 'fixDiagnostic']);

/** A chat request on the `action` route answers within this, failover included. */
export const ACTION_DEADLINE_MS = 120_000;

/** The listed actions, plus `edit`: tandem.edit's free instruction. */
export type EditTask = ActionId | 'edit';

export interface ActionRequest {
  doc: Doc;
  id: EditTask;
  /** For `edit`: what the user asked for. */
  instruction?: string;
  /** The document version the action was listed for; a different version now is refused. */
  version: number;
  /** Offsets of the action's range in that version. */
  start: number;
  end: number;
  diagnostic?: { message: string };
  /** tandem.edit's scope: "workspace" may change the files the document imports or is imported by. */
  scope?: 'file' | 'workspace';
  signal?: AbortSignal;
}

export interface RangedEdit extends TextEdit {
  range: Range;
}

export type ActionOutcome =
  | { kind: 'edit'; uri: string; version: number; edits: RangedEdit[]; backend: string; model: string }
  /** A multi-file result: edits of existing files (version null: not open, read from disk) and new files. */
  | { kind: 'workspace'; changes: { uri: string; version: number | null; edits: RangedEdit[] }[]; creates: { uri: string; text: string }[]; backend: string; model: string; summary: string }
  | { kind: 'stale'; reason: string }
  | { kind: 'rejected'; reason: string; backend: string }
  | { kind: 'unsupported'; reason: string }
  | { kind: 'cancelled' }
  | { kind: 'failed'; reason: string; failure?: BackendFailure; backend?: string };

export interface CompareAnswer {
  backend: string;
  model?: string;
  latencyMs: number;
  tokensIn?: number;
  tokensOut?: number;
  /** No usage in the backend's answer: the counts are our estimate. */
  tokensEstimated?: boolean;
  text?: string;
  /** For an edit comparison: the proposed change as a unified diff (nothing is applied). */
  diff?: string;
  error?: string;
}

export type CompareOutcome = { kind: 'compare'; markdown: string; answers: CompareAnswer[] } | { kind: 'unsupported'; reason: string } | { kind: 'cancelled' } | { kind: 'failed'; reason: string };

export type ExplainOutcome =
  | { kind: 'markdown'; markdown: string; backend: string; model: string }
  | { kind: 'cancelled' }
  | { kind: 'failed'; reason: string; failure?: BackendFailure; backend?: string };

export type ChatAnswer = { kind: 'text'; text: string; backend: string; model: string; usage?: ChatResult['usage'] } | { kind: 'cancelled' } | { kind: 'failed'; reason: string; failure?: BackendFailure; backend?: string };

/** Context from other files in a single-file action's prompt. */
const ACTION_CONTEXT_TOKENS = 1500;

/** Below this many tokens (prompt + answer) any chat model's window fits: no discovery before sending. */
const SMALL_PROMPT_TOKENS = 6_000;

export interface ActionDeps {
  config: () => Config;
  backends: BackendRegistry;
  workspace: Workspace;
  logger: Logger;
  /**
   * Parses a whole file for the syntax check of an edit, in slices off the event loop (the
   * ParseService), undefined when it gives up; without it edits are not checked.
   */
  parse?: (lang: LanguageName, text: string, old?: Tree) => Promise<Tree | undefined>;
  /**
   * The same check of an edit off the event loop (the index's worker thread): null when there is
   * nothing to check against (no tree within the budget, too broken to count), 'unavailable' when
   * no worker runs (then `parse` does it here).
   */
  checkOffThread?: (lang: LanguageName, text: string, edits: readonly OffsetEdit[]) => Promise<EditCheck | null | 'unavailable'>;
  /** Open documents, the workspace index and the context sources: what multi-file actions and action context read. */
  open?: (uri: string) => Doc | undefined;
  index?: () => WorkspaceIndex | undefined;
  context?: ContextEngine;
  now?: () => number;
}

const TASK_TEXT: Record<string, string> = {
  document: 'Add a documentation comment to this code, in the language\'s own documentation style (JSDoc for TypeScript and JavaScript, a docstring for Python, /// for Rust, Javadoc for Java, a // comment starting with the name for Go). Do not change the code itself.',
  simplify: 'Simplify this code: make it shorter and clearer without changing its behaviour.',
  errorHandling: 'Add error handling to this code, in the style the language and the code already use.',
  addTypes: 'Add type annotations to the parameters and the return type, inferred from how the values are used.',
  fixDiagnostic: 'Fix the problem the diagnostic reports, changing as little as possible.',
};

export const EDIT_FORMAT = [
  'You edit code. Answer only with SEARCH/REPLACE blocks, in this exact form:',
  '',
  '<<<<<<< SEARCH',
  'lines copied exactly from the code, enough to be unique',
  '=======',
  'the lines that replace them',
  '>>>>>>> REPLACE',
  '',
  'Copy SEARCH lines character for character, indentation included. Use as many blocks as needed; keep each small. No explanations.',
].join('\n');

export interface PromptInput {
  id: EditTask;
  /** Definitions from other files the code uses (read-only reference). */
  context?: string;
  instruction?: string;
  languageId: string;
  path: string;
  code: string;
  diagnostic?: string;
}

/** The chat messages for one edit action: the edit format as the system message, the task and code as the user's. */
export function actionMessages(p: PromptInput): ChatMessage[] {
  const task = p.id === 'edit' ? `Edit this code as asked: ${(p.instruction ?? '').trim()}` : (TASK_TEXT[p.id] ?? p.id);
  const lines = [`Task: ${task}`];
  if (p.diagnostic) lines.push(`Diagnostic: ${p.diagnostic}`);
  lines.push(`Language: ${p.languageId}`, `File: ${p.path}`, '', fenced(p.languageId, p.code));
  if (p.context) lines.push('', 'Definitions it uses from other files, for reference only (edit only the code above):', '', p.context);
  return [
    { role: 'system', content: EDIT_FORMAT },
    { role: 'user', content: lines.join('\n') },
  ];
}

export function explainMessages(p: { languageId: string; path: string; code: string; scope?: string; context?: string }): ChatMessage[] {
  const user = [`Explain this ${p.languageId} code from ${p.path}: what it does, how, and anything surprising.`];
  if (p.scope && p.scope !== p.code) user.push('', 'It sits inside:', fenced(p.languageId, p.scope));
  user.push('', 'The code to explain:', fenced(p.languageId, p.code));
  if (p.context) user.push('', 'Definitions it uses from other files:', '', p.context);
  return [
    { role: 'system', content: 'You explain code to a developer reading it in their editor. Answer in concise Markdown.' },
    { role: 'user', content: user.join('\n') },
  ];
}

/**
 * Reads a model's answer into edits of `code` (the scope sent): SEARCH/REPLACE blocks, else a
 * single fenced block taken as the scope's replacement. Offsets are relative to `code`.
 */
export function parseAnswer(answer: string, code: string): { ok: true; edits: TextEdit[] } | { ok: false; error: string } {
  const { blocks, errors } = parseSearchReplace(answer);
  if (blocks.length > 0) {
    const r = applyBlocks(code, blocks);
    return r.ok ? { ok: true, edits: r.edits } : r;
  }
  if (errors.length > 0) return { ok: false, error: errors[0]! };
  const fenced = extractFenced(answer);
  if (fenced === undefined || fenced.trim() === '') return { ok: false, error: 'the answer holds no SEARCH/REPLACE block' };
  const tail = code.endsWith('\n') && !fenced.endsWith('\n') ? '\n' : '';
  return { ok: true, edits: [{ start: 0, end: code.length, newText: fenced + tail }] };
}

/**
 * The syntax check of a file's edits: how many syntax errors they add. Off the event loop when
 * `offThread` can (the worker parses the file and the edited file there). Else here, in slices:
 * the file as it was, parsed at once, while the model answers (its errors are the baseline), from
 * the document's own tree when that matches the text (`docTree`: a parse with nothing edited
 * reuses it whole, ~10 times cheaper than a fresh one, and gives the check a tree of its own);
 * then the edited file, parsed incrementally from that tree told of the edits. Should the document
 * change before the baseline's parse starts, its tree is edited in place and the baseline is
 * wrong, but the outcome is then stale anyway (the version checks, and the editor's own check of
 * the edit's version). Undefined: nothing to check against.
 */
export function editChecker(o: {
  lang: LanguageName;
  text: string;
  docTree: Tree | undefined;
  parse: NonNullable<ActionDeps['parse']>;
  offThread?: NonNullable<ActionDeps['checkOffThread']>;
  warn: (message: string) => void;
}): (edits: readonly OffsetEdit[]) => Promise<EditCheck | undefined> {
  const { lang, text, parse, offThread } = o;
  const baseline = () =>
    parse(lang, text, o.docTree)
      .then((tree) => {
        const errors = tree ? errorCountWithin(tree) : undefined;
        return tree && errors !== undefined ? { errors, tree } : undefined;
      })
      .catch((err: unknown) => {
        // Nobody awaits it yet: a throw here would be an unhandled rejection. No baseline: no check.
        o.warn(`the syntax check's baseline failed: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      });
  let before = offThread ? undefined : baseline();
  let baseTreeFree = true;
  return async (edits) => {
    if (offThread && !before) {
      const r = await offThread(lang, text, edits);
      if (r !== 'unavailable') return r ?? undefined;
      before = baseline(); // no worker: here from now on
    }
    const base = await before!;
    if (!base) return undefined;
    // Only once: a retry's edits are of the original text, and the tree is edited now.
    const old = baseTreeFree ? editedTree(base.tree, text, edits) : undefined;
    if (old) baseTreeFree = false;
    const after = await parse(lang, applyEdits(text, edits), old);
    const errors = after ? errorCountWithin(after) : undefined;
    if (errors === undefined) return undefined;
    return errors > base.errors ? { added: errors - base.errors, first: firstError(after!) } : { added: errors - base.errors };
  };
}

export class ActionPipeline {
  private readonly now: () => number;
  readonly multi: MultiFileActions;

  constructor(private readonly deps: ActionDeps) {
    this.now = deps.now ?? (() => performance.now());
    this.multi = new MultiFileActions({
      open: (uri) => deps.open?.(uri),
      index: () => deps.index?.(),
      relativePath: (u) => deps.workspace.relativePath(u),
      rootOf: (u) => deps.workspace.rootOf(u),
      paths: deps.backends.paths,
      ...(deps.parse ? { parse: deps.parse } : {}),
      ...(deps.checkOffThread ? { checkOffThread: deps.checkOffThread } : {}),
      chat: (messages, sources, task, signal) => this.chat(messages, sources, task, signal, undefined, 'multiFile', 4096),
      debug: (m) => deps.logger.debug(m),
    });
  }

  async resolve(req: ActionRequest): Promise<ActionOutcome> {
    const { doc } = req;
    if (req.id === 'edit' && !req.instruction?.trim()) return { kind: 'unsupported', reason: 'tandem.edit needs an instruction' };
    const multi = MULTI_FILE.has(req.id as ActionId) || (req.id === 'edit' && req.scope === 'workspace');
    if (req.id !== 'edit' && !EDIT_ACTIONS.has(req.id) && !multi) return { kind: 'unsupported', reason: `${req.id} does not edit code` };
    if (doc.text.version !== req.version) return this.stale(doc, req.version);
    const text = doc.text.getText();
    if (req.start < 0 || req.end > text.length || req.start > req.end) return { kind: 'stale', reason: 'the action\'s range lies outside the document' };
    if (multi) {
      const scoped = scopedSignal([req.signal], ACTION_DEADLINE_MS);
      try {
        const m = { doc, version: req.version, start: req.start, end: req.end, signal: scoped.signal, ...(req.instruction ? { instruction: req.instruction } : {}) };
        if (req.id === 'generateTests') return await this.multi.generateTests(m);
        if (req.id === 'updateCallSites') return await this.multi.updateCallSites(m);
        return await this.multi.editWorkspace(m);
      } finally {
        scoped.dispose();
      }
    }
    const scope = lineScope(text, req.start, req.end);
    const code = text.slice(scope.start, scope.end);
    const path = this.deps.workspace.relativePath(doc.uri);
    const related = this.workspaceContext(doc, req.start, path);
    const messages = actionMessages({ id: req.id, ...(req.instruction ? { instruction: req.instruction } : {}), languageId: doc.languageId, path, code, ...(req.diagnostic ? { diagnostic: req.diagnostic.message } : {}), ...(related.text ? { context: related.text } : {}) });
    const sources: SourceRef[] = [{ path, text: code }, ...related.sources];
    const lang = doc.tree?.language.name;
    // A document whose own parse was given up lately gets no check: its parse would be given up
    // again, after its whole budget (up to a second of slices).
    const parse = doc.tree?.givenUp ? undefined : this.deps.parse;

    const scoped = scopedSignal([req.signal], ACTION_DEADLINE_MS);
    const what = `${req.id} on ${path}`;
    const check = lang && parse ? editChecker({ lang, text, docTree: doc.tree?.exact(), parse, ...(this.deps.checkOffThread ? { offThread: this.deps.checkOffThread } : {}), warn: (m) => this.deps.logger.warn(`${what}: ${m}`) }) : async () => undefined;
    try {
      let lastBackend = '';
      for (let attempt = 0; attempt < 2; attempt++) {
        const answer = await this.chat(messages, sources, 'action', scoped.signal);
        if (answer.kind !== 'text') return answer;
        lastBackend = answer.backend;
        // The user typed while the model answered: the edit's offsets would land on the wrong text.
        if (doc.text.version !== req.version) return this.stale(doc, req.version);
        let problem: string;
        const parsed = parseAnswer(answer.text, code);
        if (parsed.ok) {
          const edits = parsed.edits.map((e) => tighten(text, { start: e.start + scope.start, end: e.end + scope.start, newText: e.newText })).filter((e) => e.start !== e.end || e.newText !== '');
          if (edits.length === 0) {
            problem = 'the blocks change nothing';
          } else {
            const checked = await check(edits);
            const added = checked?.added ?? 0;
            if (added <= 0) {
              const snap = TextDocument.create(doc.uri, doc.languageId, req.version, text);
              return { kind: 'edit', uri: doc.uri, version: req.version, edits: edits.map((e) => ({ ...e, range: { start: snap.positionAt(e.start), end: snap.positionAt(e.end) } })), backend: answer.backend, model: answer.model };
            }
            problem = `the edited file does not parse: it adds ${added} syntax error${added === 1 ? '' : 's'} (${checked?.first ?? 'syntax error'})`;
          }
        } else problem = parsed.error;
        this.deps.logger.debug(`${req.id} on ${path}: answer rejected (${problem})${attempt === 0 ? '; retrying once' : ''}`);
        if (attempt === 1) return { kind: 'rejected', reason: `the model's edit was rejected: ${problem}`, backend: lastBackend };
        messages.push({ role: 'assistant', content: answer.text }, { role: 'user', content: `That edit was rejected: ${problem}. Answer again with SEARCH/REPLACE blocks whose SEARCH lines are copied exactly from the code above, and keep the code valid ${doc.languageId}.` });
      }
      return { kind: 'failed', reason: 'unreachable' };
    } finally {
      scoped.dispose();
    }
  }

  /** The explain prompt for [start, end): an empty range explains the function or class around it. */
  private explainPrompt(doc: Doc, reqStart: number, reqEnd: number): { messages: ChatMessage[]; sources: SourceRef[]; path: string; code: string } {
    const text = doc.text.getText();
    const start = Math.max(0, Math.min(reqStart, text.length));
    const end = Math.max(start, Math.min(reqEnd, text.length));
    let code = text.slice(start, end);
    let scopeText: string | undefined;
    if (code.trim() === '') {
      const tree = doc.tree?.current();
      // The innermost scope below the root, else the whole file.
      const n = tree ? ancestors(tree, start).slice(0, -1).find((a) => doc.tree!.language.scopeTypes.has(a.type)) : undefined;
      code = n ? text.slice(n.startIndex, n.endIndex) : text;
    } else {
      const tree = doc.tree?.current();
      const n = tree ? ancestors(tree, start, Math.max(start, end - 1)).find((a) => doc.tree!.language.scopeTypes.has(a.type)) : undefined;
      if (n && n.endIndex - n.startIndex < 24_000) scopeText = text.slice(n.startIndex, n.endIndex);
    }
    const path = this.deps.workspace.relativePath(doc.uri);
    const related = this.workspaceContext(doc, start, path);
    const messages = explainMessages({ languageId: doc.languageId, path, code, ...(scopeText ? { scope: scopeText } : {}), ...(related.text ? { context: related.text } : {}) });
    return { messages, sources: [{ path, text: scopeText ?? code }, ...related.sources], path, code };
  }

  /** Explains [start, end) of the document; `onText` gets the Markdown so far while it streams. */
  async explain(req: { doc: Doc; start: number; end: number; signal?: AbortSignal; onText?: (soFar: string) => void }): Promise<ExplainOutcome> {
    const { messages, sources } = this.explainPrompt(req.doc, req.start, req.end);
    const scoped = scopedSignal([req.signal], ACTION_DEADLINE_MS);
    try {
      const answer = await this.chat(messages, sources, 'explain', scoped.signal, req.onText);
      if (answer.kind !== 'text') return answer;
      return { kind: 'markdown', markdown: answer.text.trim(), backend: answer.backend, model: answer.model };
    } finally {
      scoped.dispose();
    }
  }

  /**
   * tandem.compare: the same explain (or, with an instruction, edit) request on two backends at
   * once, each answer with its latency and tokens. Nothing is applied; each backend must be one
   * privacy allows for this file, as on any route.
   */
  async compare(req: { doc: Doc; start: number; end: number; instruction?: string; backends?: string[]; signal?: AbortSignal }): Promise<CompareOutcome> {
    const config = this.deps.config();
    const { doc } = req;
    const text = doc.text.getText();
    const instruction = req.instruction?.trim();
    let messages: ChatMessage[];
    let sources: SourceRef[];
    let path: string;
    let scope: { start: number; end: number } | undefined;
    if (instruction) {
      const [s, e] = req.start === req.end ? [0, text.length] : [req.start, req.end];
      scope = lineScope(text, s, e);
      path = this.deps.workspace.relativePath(doc.uri);
      const code = text.slice(scope.start, scope.end);
      const related = this.workspaceContext(doc, s, path);
      messages = actionMessages({ id: 'edit', instruction, languageId: doc.languageId, path, code, ...(related.text ? { context: related.text } : {}) });
      sources = [{ path, text: code }, ...related.sources];
    } else ({ messages, sources, path } = this.explainPrompt(doc, req.start, req.end));
    const paths = sources.map((x) => x.path);
    // The candidates: named ones, else the action and multiFile routes' backends, then the rest.
    const named = req.backends && req.backends.length > 0;
    const pool = named ? req.backends! : [...new Set([...config.routes.action, ...config.routes.multiFile, ...Object.keys(config.backends)])];
    const chosen: string[] = [];
    const refused: string[] = [];
    for (const name of pool) {
      if (!config.backends[name]) {
        if (named) return { kind: 'unsupported', reason: `tandem.compare: no backend named "${name}" (backends: ${Object.keys(config.backends).join(', ')})` };
        continue;
      }
      const r = chooseBackend({ ...config, routes: { ...config.routes, action: [name] } }, 'action', paths, { paths: this.deps.backends.paths, ...(named ? {} : { isHealthy: (n: string) => this.deps.backends.health.isHealthy(n) }) });
      // The reason names the backend and why: "cloud: cloud, prompt holds secret/keys.ts (privacy.onPremOnly)".
      if (!r.backend) refused.push(r.reason.replace(/^no backend of routes\.action may serve: /, ''));
      else if (this.deps.backends.get(name)?.chat) chosen.push(name);
      if (chosen.length === 2) break;
    }
    if (named && refused.length > 0) return { kind: 'unsupported', reason: `tandem.compare: ${refused.join('; ')}` };
    if (chosen.length < 2) return { kind: 'unsupported', reason: `tandem.compare needs two backends with a chat endpoint that may serve ${path}; found ${chosen.length === 0 ? 'none' : chosen.join(', ')}${refused.length ? ` (${refused.join('; ')})` : ''}` };
    const scoped = scopedSignal([req.signal], ACTION_DEADLINE_MS);
    try {
      const answers = await Promise.all(chosen.map((name) => this.chatOn(name, messages, sources, instruction ? 'compare-edit' : 'compare-explain', scoped.signal)));
      if (scoped.signal.aborted && !(scoped.signal.reason instanceof DeadlineError)) return { kind: 'cancelled' };
      const rows: CompareAnswer[] = answers.map((a, i) => {
        const base = { backend: chosen[i]!, latencyMs: a.latencyMs };
        if (a.kind !== 'text') return { ...base, error: a.kind === 'cancelled' ? 'cancelled' : a.reason };
        const row: CompareAnswer = { ...base, model: a.model, text: a.text.trim(), tokensIn: a.usage?.promptTokens ?? estimateTokens(messages.map((m) => m.content ?? '').join('\n')), tokensOut: a.usage?.completionTokens ?? estimateTokens(a.text), tokensEstimated: !a.usage };
        if (instruction && scope) {
          const code = text.slice(scope.start, scope.end);
          const parsed = parseAnswer(a.text, code);
          if (parsed.ok) row.diff = unifiedDiff(path, code, applyEdits(code, parsed.edits), doc.text.positionAt(scope.start).line);
          else row.error = `the edit does not apply: ${parsed.error}`;
        }
        return row;
      });
      return { kind: 'compare', markdown: compareMarkdown(path, doc.text.positionAt(req.start).line + 1, doc.text.positionAt(req.end).line + 1, instruction, rows), answers: rows };
    } finally {
      scoped.dispose();
    }
  }

  /** One chat request on a named backend (tandem.compare): privacy was checked by the caller and again by the gate. */
  private async chatOn(name: string, messages: ChatMessage[], sources: SourceRef[], task: string, signal: AbortSignal): Promise<ChatAnswer & { latencyMs: number }> {
    const backend = this.deps.backends.get(name)!;
    const sent = this.now();
    const r = await backend.chat!({ messages, sources, task, maxTokens: 2048, temperature: 0.2 }, signal);
    const latencyMs = Math.round(this.now() - sent);
    this.deps.backends.report(name, r.ok ? undefined : r.failure, r.ok ? latencyMs : undefined);
    if (r.ok) return { kind: 'text', text: r.value.text, backend: name, model: r.value.model, ...(r.value.usage ? { usage: r.value.usage } : {}), latencyMs };
    if (r.failure.kind === 'cancelled') return { kind: 'cancelled', latencyMs };
    return { kind: 'failed', reason: `${name}: ${r.failure.message}`, failure: r.failure, backend: name, latencyMs };
  }

  /**
   * One chat request on the route of `cls`; a failing backend is left out and the next one tries,
   * all within the caller's deadline. A prompt larger than a backend's context window skips it.
   */
  async chat(messages: ChatMessage[], sources: SourceRef[], task: string, signal: AbortSignal, onText?: (soFar: string) => void, cls: 'action' | 'multiFile' = 'action', maxTokens = 2048): Promise<ChatAnswer> {
    const config = this.deps.config();
    const health = this.deps.backends.health;
    const tried = new Set<string>();
    const promptTokens = messages.reduce((n, m) => n + estimateTokens(m.content ?? '') + 4, 0);
    // Known windows only: configured, or discovered earlier and cached (never a request here).
    const windows = new Map<string, number>();
    let last: { failure: BackendFailure; backend: string } | undefined;
    for (;;) {
      if (signal.aborted) return aborted(signal);
      const route = chooseBackend(config, cls, sources.map((s) => s.path), {
        paths: this.deps.backends.paths,
        isHealthy: (n) => !tried.has(n) && health.isHealthy(n),
        budgetExhausted: this.deps.backends.spend.exhausted(config.budget.dailyUsd),
        promptTokens: promptTokens + maxTokens,
        contextWindow: (n) => windows.get(n) ?? config.backends[n]?.maxContextTokens,
      });
      if (this.deps.logger.enabled('debug')) this.deps.logger.debug(`route ${cls} (${task}) -> ${route.backend ?? 'none'}: ${route.reason}`);
      const backend = route.backend ? this.deps.backends.get(route.backend) : undefined;
      if (!backend) {
        if (last) return { kind: 'failed', reason: `${last.backend}: ${last.failure.message}`, failure: last.failure, backend: last.backend };
        return { kind: 'failed', reason: route.reason };
      }
      if (!backend.chat) {
        tried.add(backend.name);
        last = { failure: { kind: 'bad_request', message: `backend ${backend.name} has no chat endpoint` }, backend: backend.name };
        continue;
      }
      if (!windows.has(backend.name) && config.backends[backend.name]?.maxContextTokens === undefined && promptTokens + maxTokens > SMALL_PROMPT_TOKENS) {
        // A big prompt: learn this backend's window first (cached by the backend after once).
        const window = await learnWindow(backend, windows, promptTokens + maxTokens, signal);
        if (window.kind === 'aborted') return aborted(signal);
        if (window.kind === 'too_small') continue;
        if (window.kind === 'failed') {
          this.deps.backends.report(backend.name, window.failure);
          last = { failure: window.failure, backend: backend.name };
          tried.add(backend.name);
          continue;
        }
      }
      // Claim the request slot: after an outage only one trial request goes to the backend.
      if (!health.available(backend.name)) {
        tried.add(backend.name);
        continue;
      }
      const sent = this.now();
      const r = await backend.chat({ messages, sources, task, maxTokens, temperature: 0.2, ...(onText ? { onDelta: (_d: string, soFar: string) => onText(soFar) } : {}) }, signal);
      if (r.ok) {
        this.deps.backends.report(backend.name, undefined, Math.round(this.now() - sent));
        return { kind: 'text', text: r.value.text, backend: backend.name, model: r.value.model };
      }
      this.deps.backends.report(backend.name, r.failure);
      if (r.failure.kind === 'cancelled' || signal.aborted) return aborted(signal);
      last = { failure: r.failure, backend: backend.name };
      tried.add(backend.name);
    }
  }

  /**
   * Definitions from other files that the code at `offset` uses, from the workspace index, within
   * ACTION_CONTEXT_TOKENS. Snippets of files a cloud backend may not see join only a prompt that
   * is on-prem bound anyway (its own file is refused too), so context never changes where an
   * action may go; files outside the workspace never join.
   */
  private workspaceContext(doc: Doc, offset: number, relPath: string): { text: string; sources: SourceRef[] } {
    const engine = this.deps.context;
    const config = this.deps.config();
    if (!engine || !config.context.enabled) return { text: '', sources: [] };
    const budgets = config.context.sources as Record<string, { enabled: boolean; budgetMs: number } | undefined>;
    const gathered = engine.gather(contextRequest(doc, offset, relPath), (name) => (name === 'definitions' ? budgets[name] : undefined));
    const paths = this.deps.backends.paths;
    const cloudBound = paths.cloudRefusal([relPath], config.privacy) === undefined;
    const parts: string[] = [];
    const sources: SourceRef[] = [];
    let chars = 0;
    for (const c of [...gathered.candidates].sort((a, b) => b.score - a.score)) {
      if (c.path === relPath || !paths.mayJoin(c.path, relPath, cloudBound, config.privacy)) continue;
      const body = c.runs.map((r) => r.text).join('\n...\n');
      if (chars + body.length > tokensToChars(ACTION_CONTEXT_TOKENS)) break;
      chars += body.length;
      parts.push(`${c.path}\n${fenced('', body)}`);
      sources.push({ path: c.path, text: body });
    }
    return { text: parts.join('\n\n'), sources };
  }

  private stale(doc: Doc, version: number): ActionOutcome {
    return { kind: 'stale', reason: `${doc.uri} changed since the action was offered (version ${version}, now ${doc.text.version}); ask again` };
  }
}

/** The user cancelled, or the action's deadline passed: only the first is "cancelled". */
function aborted(signal: AbortSignal): { kind: 'cancelled' } | { kind: 'failed'; reason: string } {
  return signal.reason instanceof DeadlineError ? { kind: 'failed', reason: `no answer within ${signal.reason.ms} ms` } : { kind: 'cancelled' };
}


function compareMarkdown(path: string, first: number, last: number, instruction: string | undefined, rows: CompareAnswer[]): string {
  const what = instruction ? `edit "${instruction}"` : 'explain';
  const out = [`# tandem compare: ${what}, ${path}:${first}${last > first ? `-${last}` : ''}`, '', '| backend | model | latency | tokens in / out |', '|---|---|---|---|'];
  for (const r of rows) out.push(`| ${r.backend} | ${r.model ?? '—'} | ${r.latencyMs} ms | ${r.tokensIn !== undefined ? `${r.tokensEstimated ? '~' : ''}${r.tokensIn} / ${r.tokensEstimated ? '~' : ''}${r.tokensOut}` : '—'} |`);
  for (const r of rows) {
    out.push('', `## ${r.backend}${r.model ? ` (${r.model})` : ''}`, '');
    if (r.error) out.push(`*No answer: ${r.error}*`);
    if (r.diff) out.push('```diff', r.diff, '```');
    else if (r.text && !r.error) out.push(r.text);
  }
  return `${out.join('\n')}\n`;
}
