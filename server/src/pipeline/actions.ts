// Code actions and explain, start to end: prompt, route with failover, parse, apply, syntax and version checks.
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Config } from '../config/schema.js';
import type { Doc, Range } from '../documents.js';
import { MULTI_FILE, type ActionId } from '../actions/list.js';
import { applyBlocks, extractFenced, parseSearchReplace, type TextEdit } from '../actions/editFormat.js';
import type { BackendRegistry } from '../models/registry.js';
import type { BackendFailure, ChatMessage, SourceRef } from '../models/types.js';
import { chooseBackend } from '../router/route.js';
import type { LanguageName } from '../syntax/languages.js';
import type { Tree } from '../syntax/tree.js';
import { estimateTokens } from '../prompt/tokens.js';
import { errorCount } from './postprocess/syntaxCheck.js';
import { DeadlineError, scopedSignal } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import type { Workspace } from '../workspace.js';

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
  signal?: AbortSignal;
}

export interface RangedEdit extends TextEdit {
  range: Range;
}

export type ActionOutcome =
  | { kind: 'edit'; uri: string; version: number; edits: RangedEdit[]; backend: string; model: string }
  | { kind: 'stale'; reason: string }
  | { kind: 'rejected'; reason: string; backend: string }
  | { kind: 'unsupported'; reason: string }
  | { kind: 'cancelled' }
  | { kind: 'failed'; reason: string; failure?: BackendFailure; backend?: string };

export type ExplainOutcome =
  | { kind: 'markdown'; markdown: string; backend: string; model: string }
  | { kind: 'cancelled' }
  | { kind: 'failed'; reason: string; failure?: BackendFailure; backend?: string };

export type ChatAnswer = { kind: 'text'; text: string; backend: string; model: string } | { kind: 'cancelled' } | { kind: 'failed'; reason: string; failure?: BackendFailure; backend?: string };

/** Below this many tokens (prompt + answer) any chat model's window fits: no discovery before sending. */
const SMALL_PROMPT_TOKENS = 6_000;

export interface ActionDeps {
  config: () => Config;
  backends: BackendRegistry;
  workspace: Workspace;
  logger: Logger;
  /** Parses a whole file for the syntax check; without it edits are not checked. */
  parse?: (lang: LanguageName, text: string) => Tree | undefined;
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

/** Whole lines around [start, end): SEARCH blocks match lines, and indentation stays visible. */
export function lineScope(text: string, start: number, end: number): { start: number; end: number } {
  const s = text.lastIndexOf('\n', Math.max(0, start - 1)) + 1;
  const lineEnd = text.indexOf('\n', Math.max(start, end - 1));
  return { start: start === 0 ? 0 : s, end: lineEnd < 0 ? text.length : lineEnd + 1 };
}

export interface PromptInput {
  id: EditTask;
  instruction?: string;
  languageId: string;
  path: string;
  code: string;
  diagnostic?: string;
}

/** The chat messages for one edit action: the edit format as the system message, the task and code as the user's. */
export function actionMessages(p: PromptInput): ChatMessage[] {
  const fence = p.code.includes('```') ? '~~~~' : '```';
  const task = p.id === 'edit' ? `Edit this code as asked: ${(p.instruction ?? '').trim()}` : (TASK_TEXT[p.id] ?? p.id);
  const lines = [`Task: ${task}`];
  if (p.diagnostic) lines.push(`Diagnostic: ${p.diagnostic}`);
  lines.push(`Language: ${p.languageId}`, `File: ${p.path}`, '', `${fence}${p.languageId}`, p.code.replace(/\n$/, ''), fence);
  return [
    { role: 'system', content: EDIT_FORMAT },
    { role: 'user', content: lines.join('\n') },
  ];
}

export function explainMessages(p: { languageId: string; path: string; code: string; scope?: string }): ChatMessage[] {
  const fence = p.code.includes('```') ? '~~~~' : '```';
  const user = [`Explain this ${p.languageId} code from ${p.path}: what it does, how, and anything surprising.`];
  if (p.scope && p.scope !== p.code) user.push('', 'It sits inside:', `${fence}${p.languageId}`, p.scope.replace(/\n$/, ''), fence);
  user.push('', 'The code to explain:', `${fence}${p.languageId}`, p.code.replace(/\n$/, ''), fence);
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

/** Narrows each edit to the characters that differ, so the editor's undo and diff stay small. */
export function tighten(text: string, e: TextEdit): TextEdit {
  const old = text.slice(e.start, e.end);
  let p = 0;
  while (p < old.length && p < e.newText.length && old[p] === e.newText[p]) p++;
  // Whole lines read better in a diff: back up to the start of the line.
  while (p > 0 && old[p - 1] !== '\n') p--;
  let s = 0;
  while (s < old.length - p && s < e.newText.length - p && old[old.length - 1 - s] === e.newText[e.newText.length - 1 - s]) s++;
  while (s > 0 && old.length - s > 0 && old[old.length - s - 1] !== '\n') s--;
  return { start: e.start + p, end: e.end - s, newText: e.newText.slice(p, e.newText.length - s) };
}

function applyEdits(text: string, edits: TextEdit[]): string {
  let out = '';
  let pos = 0;
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    out += text.slice(pos, e.start) + e.newText;
    pos = e.end;
  }
  return out + text.slice(pos);
}

export class ActionPipeline {
  private readonly now: () => number;

  constructor(private readonly deps: ActionDeps) {
    this.now = deps.now ?? (() => performance.now());
  }

  async resolve(req: ActionRequest): Promise<ActionOutcome> {
    const { doc } = req;
    if (req.id === 'edit' && !req.instruction?.trim()) return { kind: 'unsupported', reason: 'tandem.edit needs an instruction' };
    if (req.id !== 'edit' && !EDIT_ACTIONS.has(req.id)) return { kind: 'unsupported', reason: MULTI_FILE.has(req.id) ? `${req.id} spans files and is not available yet` : `${req.id} does not edit code` };
    if (doc.text.version !== req.version) return this.stale(doc, req.version);
    const text = doc.text.getText();
    if (req.start < 0 || req.end > text.length || req.start > req.end) return { kind: 'stale', reason: 'the action\'s range lies outside the document' };
    const scope = lineScope(text, req.start, req.end);
    const code = text.slice(scope.start, scope.end);
    const path = this.deps.workspace.relativePath(doc.uri);
    const messages = actionMessages({ id: req.id, ...(req.instruction ? { instruction: req.instruction } : {}), languageId: doc.languageId, path, code, ...(req.diagnostic ? { diagnostic: req.diagnostic.message } : {}) });
    const sources: SourceRef[] = [{ path, text: code }];
    const lang = doc.tree?.language.name;
    const parse = this.deps.parse;
    const before = lang && parse ? parse(lang, text) : undefined;
    const beforeErrors = before ? errorCount(before) : 0;

    const scoped = scopedSignal([req.signal], ACTION_DEADLINE_MS);
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
            const after = lang && parse ? parse(lang, applyEdits(text, edits)) : undefined;
            const added = after ? errorCount(after) - beforeErrors : 0;
            if (added <= 0) {
              const snap = TextDocument.create(doc.uri, doc.languageId, req.version, text);
              return { kind: 'edit', uri: doc.uri, version: req.version, edits: edits.map((e) => ({ ...e, range: { start: snap.positionAt(e.start), end: snap.positionAt(e.end) } })), backend: answer.backend, model: answer.model };
            }
            problem = `the edited file does not parse: it adds ${added} syntax error${added === 1 ? '' : 's'} (${firstError(after!)})`;
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

  /** Explains [start, end) of the document; `onText` gets the Markdown so far while it streams. */
  async explain(req: { doc: Doc; start: number; end: number; signal?: AbortSignal; onText?: (soFar: string) => void }): Promise<ExplainOutcome> {
    const { doc } = req;
    const text = doc.text.getText();
    const start = Math.max(0, Math.min(req.start, text.length));
    const end = Math.max(start, Math.min(req.end, text.length));
    let code = text.slice(start, end);
    let scopeText: string | undefined;
    if (code.trim() === '') {
      // An empty range explains the function or class around it.
      const node = doc.tree?.current()?.rootNode.descendantForIndex(start);
      let n = node ?? null;
      while (n && n.parent && !doc.tree!.language.scopeTypes.has(n.type)) n = n.parent;
      code = n && n.parent ? text.slice(n.startIndex, n.endIndex) : text;
    } else {
      const node = doc.tree?.current()?.rootNode.descendantForIndex(start, Math.max(start, end - 1));
      let n = node ?? null;
      while (n && !doc.tree!.language.scopeTypes.has(n.type)) n = n.parent;
      if (n && n.endIndex - n.startIndex < 24_000) scopeText = text.slice(n.startIndex, n.endIndex);
    }
    const path = this.deps.workspace.relativePath(doc.uri);
    const messages = explainMessages({ languageId: doc.languageId, path, code, ...(scopeText ? { scope: scopeText } : {}) });
    const scoped = scopedSignal([req.signal], ACTION_DEADLINE_MS);
    try {
      const answer = await this.chat(messages, [{ path, text: scopeText ?? code }], 'explain', scoped.signal, req.onText);
      if (answer.kind !== 'text') return answer;
      return { kind: 'markdown', markdown: answer.text.trim(), backend: answer.backend, model: answer.model };
    } finally {
      scoped.dispose();
    }
  }

  /**
   * One chat request on the route of `cls`; a failing backend is left out and the next one tries,
   * all within the caller's deadline. A prompt larger than a backend's context window skips it.
   */
  async chat(messages: ChatMessage[], sources: SourceRef[], task: string, signal: AbortSignal, onText?: (soFar: string) => void, cls: 'action' | 'multiFile' = 'action', maxTokens = 2048): Promise<ChatAnswer> {
    const config = this.deps.config();
    const health = this.deps.backends.health;
    const tried = new Set<string>();
    const promptTokens = messages.reduce((n, m) => n + estimateTokens(m.content) + 4, 0);
    // Known windows only: configured, or discovered earlier and cached (never a request here).
    const windows = new Map<string, number>();
    let last: { failure: BackendFailure; backend: string } | undefined;
    for (;;) {
      if (signal.aborted) return aborted(signal);
      const route = chooseBackend(config, cls, sources.map((s) => s.path), {
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
        const info = await backend.info(signal);
        if (info.ok) {
          windows.set(backend.name, info.value.contextWindow);
          if (promptTokens + maxTokens > info.value.contextWindow) continue;
        } else if (info.failure.kind === 'cancelled' || signal.aborted) return aborted(signal);
        else {
          this.deps.backends.report(backend.name, info.failure);
          last = { failure: info.failure, backend: backend.name };
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

  private stale(doc: Doc, version: number): ActionOutcome {
    return { kind: 'stale', reason: `${doc.uri} changed since the action was offered (version ${version}, now ${doc.text.version}); ask again` };
  }
}

/** The user cancelled, or the action's deadline passed: only the first is "cancelled". */
function aborted(signal: AbortSignal): { kind: 'cancelled' } | { kind: 'failed'; reason: string } {
  return signal.reason instanceof DeadlineError ? { kind: 'failed', reason: `no answer within ${signal.reason.ms} ms` } : { kind: 'cancelled' };
}

function firstError(tree: Tree): string {
  let found: string | undefined;
  const visit = (n: Tree['rootNode']) => {
    if (found) return;
    if (n.type === 'ERROR' || n.isMissing) {
      found = `${n.isMissing ? `missing ${n.type}` : 'unexpected text'} at line ${n.startPosition.row + 1}`;
      return;
    }
    for (const c of n.children) if (c.hasError || c.isMissing) visit(c);
  };
  visit(tree.rootNode);
  return found ?? 'syntax error';
}
