// Chat, start to end: check the request, add the referenced files (and the definitions they use),
// find every file the messages hold text from (references, paths named in the text, pasted lines of
// protected files), route with failover or to the pinned backend, stream the answer and the tool calls.
// Plain types only: the LSP request (features/chat.ts) and `tandem-lsp serve` both call this.
import { readFileSync, statSync } from 'node:fs';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Config } from '../config/schema.js';
import type { DocView } from '../documents.js';
import type { ContextEngine } from '../context/engine.js';
import { contextRequest } from '../context/request.js';
import type { BackendRegistry } from '../models/registry.js';
import type { BackendFailure, ChatMessage, ChatResult, CompletionBackend, Outcome, SourceRef, ToolCall, ToolCallDelta, ToolSpec } from '../models/types.js';
import { estimateTokens, tokensToChars } from '../prompt/tokens.js';
import { chooseBackend } from '../router/route.js';
import { languageIdForPath } from '../syntax/languages.js';
import { DeadlineError } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import { uriToPath, type Workspace } from '../workspace.js';
import { ProtectedLines, namedPaths } from './chatSources.js';
import { learnWindow } from './window.js';

/** An LSP range: zero-based lines and UTF-16 characters. */
export interface LspRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

export interface ChatReference {
  uri: string;
  range?: LspRange;
}

export interface ChatTaskRequest {
  messages: ChatMessage[];
  /** 'tandem/auto' (default: the `chat` route) or 'tandem/<backend>' (pins that backend; privacy still applies). */
  model?: string;
  tools?: ToolSpec[];
  toolChoice?: unknown;
  /** Workspace files or ranges whose text is added to the last user message. */
  references?: ChatReference[];
  /** Also add the definitions the referenced code uses (the context stage). */
  definitions?: boolean;
  maxTokens?: number;
  temperature?: number;
  /** Nucleus sampling, passed to the backend as its own `top_p`. */
  topP?: number;
  /** Strings that end the answer (OpenAI's `stop`), passed to the backend. */
  stop?: string[];
  /** Which door it came through, for the audit log. */
  origin: 'lsp' | 'serve';
}

export type ChatDelta = { text?: string; toolCalls?: ToolCallDelta[] };

export interface ChatTaskResult {
  text: string;
  toolCalls?: ToolCall[];
  finishReason: string | null;
  backend: string;
  model: string;
  location: 'onprem' | 'cloud';
  usage?: { promptTokens: number; completionTokens: number };
}

export interface ChatModelInfo {
  /** 'tandem/auto' or 'tandem/<backend>'. */
  id: string;
  name: string;
  backend?: string;
  location: 'onprem' | 'cloud';
  maxInputTokens: number;
  maxOutputTokens: number;
  toolCalling: boolean;
  healthy: boolean;
}

export const AUTO_MODEL = 'tandem/auto';
/** Answer tokens asked for when the request names none. */
export const DEFAULT_CHAT_MAX_TOKENS = 2048;
/** The most a chat model is told it may answer (models() reports min(this, half the window)). */
const MAX_OUTPUT_TOKENS = 4096;
/** Context window assumed for a model whose server has not said. */
const UNKNOWN_WINDOW = 8192;
/** A referenced file larger than this is refused (it would not fit any prompt). */
export const MAX_REFERENCE_BYTES = 1_000_000;
/** Definitions added per reference. */
const DEFINITION_TOKENS = 1500;
/** How long models() waits for the backends' discovery. */
const MODELS_WAIT_MS = 5000;

const ROLES = ['system', 'user', 'assistant', 'tool'] as const;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

type Bad = { ok: false; failure: BackendFailure };
const bad = (field: string, what: string): Bad => ({ ok: false, failure: { kind: 'bad_request', message: `${field}: ${what}`, param: field } });
const shown = (v: unknown): string => (v === undefined ? 'nothing' : (JSON.stringify(v)?.slice(0, 60) ?? typeof v));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNatural = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Checks a chat request's shape (everything but what needs the configuration or the disk: the model
 * name and the references are checked by `run`). A failure of kind `bad_request` names the field:
 * `messages[2].role: "robot" is not one of system, user, assistant, tool`. Content given as a list
 * of text parts (as OpenAI clients send it) becomes one string.
 */
export function parseChatRequest(raw: unknown, origin: 'lsp' | 'serve'): Outcome<ChatTaskRequest> {
  if (!isObject(raw)) return bad('params', `expected an object with "messages" (got ${shown(raw)})`);
  const { messages, model, tools, toolChoice, references, definitions, maxTokens, temperature, topP, stop } = raw;
  if (!Array.isArray(messages)) return bad('messages', `expected a list of messages (got ${shown(messages)})`);
  if (messages.length === 0) return bad('messages', 'expected at least one message');
  const out: ChatMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const at = `messages[${i}]`;
    const m = messages[i] as unknown;
    if (!isObject(m)) return bad(at, `expected {"role": ..., "content": ...} (got ${shown(m)})`);
    const role = m.role;
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) return bad(`${at}.role`, `${shown(role)} is not one of ${ROLES.join(', ')}`);
    const msg: ChatMessage = { role: role as ChatMessage['role'], content: null };
    const content = m.content;
    if (typeof content === 'string') msg.content = content;
    else if (Array.isArray(content)) {
      const parts: string[] = [];
      for (let j = 0; j < content.length; j++) {
        const p = content[j] as unknown;
        if (!isObject(p) || p.type !== 'text' || typeof p.text !== 'string') return bad(`${at}.content[${j}]`, `expected a text part {"type": "text", "text": ...} (got ${shown(p)})`);
        parts.push(p.text);
      }
      msg.content = parts.join('');
    } else if (content !== null && content !== undefined) return bad(`${at}.content`, `expected a string or null (got ${shown(content)})`);
    const calls = m.toolCalls;
    if (calls !== undefined && calls !== null) {
      if (role !== 'assistant') return bad(`${at}.toolCalls`, `only an assistant message calls tools (this one is ${role})`);
      if (!Array.isArray(calls)) return bad(`${at}.toolCalls`, `expected a list of tool calls (got ${shown(calls)})`);
      const list: ToolCall[] = [];
      for (let j = 0; j < calls.length; j++) {
        const c = calls[j] as unknown;
        const cat = `${at}.toolCalls[${j}]`;
        if (!isObject(c)) return bad(cat, `expected {"id", "type": "function", "function": {"name", "arguments"}} (got ${shown(c)})`);
        if (typeof c.id !== 'string' || c.id === '') return bad(`${cat}.id`, `expected the call's id (got ${shown(c.id)})`);
        if (c.type !== undefined && c.type !== 'function') return bad(`${cat}.type`, `expected "function" (got ${shown(c.type)})`);
        const f = c.function;
        if (!isObject(f)) return bad(`${cat}.function`, `expected {"name", "arguments"} (got ${shown(f)})`);
        if (typeof f.name !== 'string' || f.name === '') return bad(`${cat}.function.name`, `expected the tool's name (got ${shown(f.name)})`);
        if (typeof f.arguments !== 'string') return bad(`${cat}.function.arguments`, `expected the arguments as a JSON string (got ${shown(f.arguments)})`);
        list.push({ id: c.id, type: 'function', function: { name: f.name, arguments: f.arguments } });
      }
      if (list.length > 0) msg.toolCalls = list;
    }
    if (msg.content === null && !(role === 'assistant' && msg.toolCalls)) return bad(`${at}.content`, `expected a string (only an assistant message that calls tools may have none)`);
    if (role === 'tool') {
      if (typeof m.toolCallId !== 'string' || m.toolCallId === '') return bad(`${at}.toolCallId`, `expected the id of the tool call this answers (got ${shown(m.toolCallId)})`);
      msg.toolCallId = m.toolCallId;
    } else if (m.toolCallId !== undefined) return bad(`${at}.toolCallId`, `only a tool message answers a tool call (this one is ${role})`);
    if (m.name !== undefined) {
      if (typeof m.name !== 'string') return bad(`${at}.name`, `expected a string (got ${shown(m.name)})`);
      msg.name = m.name;
    }
    out.push(msg);
  }
  const req: ChatTaskRequest = { messages: out, origin };
  if (model !== undefined && model !== null) {
    if (typeof model !== 'string' || model === '') return bad('model', `expected "tandem/auto" or "tandem/<backend>" (got ${shown(model)})`);
    req.model = model;
  }
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools)) return bad('tools', `expected a list of function tools (got ${shown(tools)})`);
    const names = new Set<string>();
    for (let i = 0; i < tools.length; i++) {
      const t = tools[i] as unknown;
      const at = `tools[${i}]`;
      if (!isObject(t)) return bad(at, `expected {"type": "function", "function": {...}} (got ${shown(t)})`);
      if (t.type !== 'function') return bad(`${at}.type`, `expected "function" (got ${shown(t.type)})`);
      const f = t.function;
      if (!isObject(f)) return bad(`${at}.function`, `expected {"name", "description"?, "parameters"?} (got ${shown(f)})`);
      if (typeof f.name !== 'string' || !TOOL_NAME.test(f.name)) return bad(`${at}.function.name`, `expected 1 to 64 letters, digits, _ or - (got ${shown(f.name)})`);
      if (names.has(f.name)) return bad(`${at}.function.name`, `"${f.name}" is named twice`);
      names.add(f.name);
      if (f.description !== undefined && typeof f.description !== 'string') return bad(`${at}.function.description`, `expected a string (got ${shown(f.description)})`);
      if (f.parameters !== undefined) {
        if (!isObject(f.parameters)) return bad(`${at}.function.parameters`, `expected a JSON Schema object (got ${shown(f.parameters)})`);
        const type = f.parameters.type;
        if (type !== undefined && type !== 'object') return bad(`${at}.function.parameters.type`, `expected "object": a tool takes named arguments (got ${shown(type)})`);
        const props = f.parameters.properties;
        if (props !== undefined && !isObject(props)) return bad(`${at}.function.parameters.properties`, `expected an object of JSON Schemas (got ${shown(props)})`);
        for (const [k, v] of Object.entries(props ?? {})) if (!isObject(v) && typeof v !== 'boolean') return bad(`${at}.function.parameters.properties.${k}`, `expected a JSON Schema (got ${shown(v)})`);
        const required = f.parameters.required;
        if (required !== undefined && (!Array.isArray(required) || required.some((r) => typeof r !== 'string'))) return bad(`${at}.function.parameters.required`, `expected a list of property names (got ${shown(required)})`);
      }
    }
    if (tools.length > 0) req.tools = tools as ToolSpec[];
  }
  if (toolChoice !== undefined && toolChoice !== null) {
    const named = isObject(toolChoice) && toolChoice.type === 'function' && isObject(toolChoice.function) && typeof toolChoice.function.name === 'string' ? toolChoice.function.name : undefined;
    if (!(toolChoice === 'none' || toolChoice === 'auto' || toolChoice === 'required' || named !== undefined)) return bad('toolChoice', `expected "none", "auto", "required" or {"type": "function", "function": {"name": ...}} (got ${shown(toolChoice)})`);
    if (named !== undefined && !req.tools?.some((t) => t.function.name === named)) return bad('toolChoice.function.name', `"${named}" is not one of the request's tools`);
    req.toolChoice = toolChoice;
  }
  if (references !== undefined && references !== null) {
    if (!Array.isArray(references)) return bad('references', `expected a list of {"uri", "range"?} (got ${shown(references)})`);
    const refs: ChatReference[] = [];
    for (let i = 0; i < references.length; i++) {
      const r = references[i] as unknown;
      const at = `references[${i}]`;
      if (!isObject(r)) return bad(at, `expected {"uri", "range"?} (got ${shown(r)})`);
      if (typeof r.uri !== 'string' || r.uri === '') return bad(`${at}.uri`, `expected a file URI (got ${shown(r.uri)})`);
      const ref: ChatReference = { uri: r.uri };
      if (r.range !== undefined && r.range !== null) {
        const range = r.range;
        if (!isObject(range)) return bad(`${at}.range`, `expected {"start", "end"} (got ${shown(range)})`);
        for (const end of ['start', 'end'] as const) {
          const p = range[end];
          if (!isObject(p)) return bad(`${at}.range.${end}`, `expected {"line", "character"} (got ${shown(p)})`);
          if (!isNatural(p.line)) return bad(`${at}.range.${end}.line`, `expected a non-negative integer (got ${shown(p.line)})`);
          if (!isNatural(p.character)) return bad(`${at}.range.${end}.character`, `expected a non-negative integer (got ${shown(p.character)})`);
        }
        const s = range.start as { line: number; character: number };
        const e = range.end as { line: number; character: number };
        if (e.line < s.line || (e.line === s.line && e.character < s.character)) return bad(`${at}.range`, 'its end is before its start');
        ref.range = { start: { line: s.line, character: s.character }, end: { line: e.line, character: e.character } };
      }
      refs.push(ref);
    }
    if (refs.length > 0) req.references = refs;
  }
  if (definitions !== undefined && definitions !== null) {
    if (typeof definitions !== 'boolean') return bad('definitions', `expected true or false (got ${shown(definitions)})`);
    req.definitions = definitions;
  }
  if (maxTokens !== undefined && maxTokens !== null) {
    if (!Number.isSafeInteger(maxTokens) || (maxTokens as number) < 1 || (maxTokens as number) > 1_000_000) return bad('maxTokens', `expected an integer from 1 to 1000000 (got ${shown(maxTokens)})`);
    req.maxTokens = maxTokens as number;
  }
  if (temperature !== undefined && temperature !== null) {
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0 || temperature > 2) return bad('temperature', `expected a number from 0 to 2 (got ${shown(temperature)})`);
    req.temperature = temperature;
  }
  if (topP !== undefined && topP !== null) {
    if (typeof topP !== 'number' || !Number.isFinite(topP) || topP <= 0 || topP > 1) return bad('topP', `expected a number above 0 and at most 1 (got ${shown(topP)})`);
    req.topP = topP;
  }
  if (stop !== undefined && stop !== null) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list)) return bad('stop', `expected a string or a list of strings (got ${shown(stop)})`);
    for (let i = 0; i < list.length; i++) {
      if (typeof list[i] !== 'string') return bad(`stop[${i}]`, `expected a string (got ${shown(list[i])})`);
    }
    // An empty stop string would end every answer before it began; servers differ on it, so it is dropped.
    const kept = (list as string[]).filter((x) => x !== '');
    if (kept.length > 0) req.stop = kept;
  }
  return { ok: true, value: req };
}

/** Our field names and OpenAI's, for the `serve` door's messages. */
const OPENAI_NAMES: [RegExp, string][] = [
  [/\btoolCalls\b/g, 'tool_calls'],
  [/\btoolCallId\b/g, 'tool_call_id'],
  [/\btoolChoice\b/g, 'tool_choice'],
  [/\bmaxTokens\b/g, 'max_tokens'],
  [/\btopP\b/g, 'top_p'],
];

/**
 * An OpenAI chat completions body (`tandem-lsp serve`) as a chat request: `tool_calls`,
 * `tool_call_id`, `tool_choice`, `max_tokens`/`max_completion_tokens` read, the same checks as
 * parseChatRequest, a failure naming the field as OpenAI spells it (`messages[1].tool_calls[0].id`).
 * Fields tandem does not use (`stream`, `n`, `user`, ...) are the caller's business.
 */
export function openAIChatRequest(body: unknown): Outcome<ChatTaskRequest> {
  if (!isObject(body)) return parseChatRequest(body, 'serve');
  const messages = Array.isArray(body.messages)
    ? body.messages.map((m: unknown) => {
        if (!isObject(m)) return m;
        const { tool_calls, tool_call_id, ...rest } = m;
        return { ...rest, ...(tool_calls !== undefined ? { toolCalls: tool_calls } : {}), ...(tool_call_id !== undefined ? { toolCallId: tool_call_id } : {}) };
      })
    : body.messages;
  const raw: Record<string, unknown> = { messages, model: body.model, tools: body.tools, toolChoice: body.tool_choice, maxTokens: body.max_completion_tokens ?? body.max_tokens, temperature: body.temperature, topP: body.top_p, stop: body.stop };
  const r = parseChatRequest(raw, 'serve');
  if (r.ok) return r;
  let { message, param } = r.failure;
  for (const [ours, theirs] of OPENAI_NAMES) {
    message = message.replace(ours, theirs);
    param = param?.replace(ours, theirs);
  }
  if (param === 'max_tokens' && body.max_completion_tokens !== undefined) {
    message = message.replace(/^max_tokens/, 'max_completion_tokens');
    param = 'max_completion_tokens';
  }
  return { ok: false, failure: { ...r.failure, message, ...(param !== undefined ? { param } : {}) } };
}

export interface ChatDeps {
  config: () => Config;
  backends: BackendRegistry;
  workspace: Workspace;
  logger: Logger;
  /** Open documents: a reference to one reads the editor's text (unsaved edits included), and it has a tree for definitions. */
  open?: (uri: string) => DocView | undefined;
  /** Every open document, for the fingerprint of protected files' unsaved text. */
  openDocuments?: () => Iterable<DocView>;
  context?: ContextEngine;
  now?: () => number;
}

export interface RunOptions {
  signal: AbortSignal;
  /** Each streamed piece, in order: text, or tool-call pieces (OpenAI's `delta.tool_calls` form). */
  onDelta?: (d: ChatDelta) => void;
}

/** What a request's references and named files add: text for the prompt and sources for the gate. */
interface Gathered {
  messages: ChatMessage[];
  sources: SourceRef[];
}

export class ChatPipeline {
  private readonly now: () => number;
  /** The lines of protected (onPremOnly) files, hashed: a message holding one holds that file. */
  readonly fingerprint: ProtectedLines;

  constructor(private readonly deps: ChatDeps) {
    this.now = deps.now ?? (() => performance.now());
    this.fingerprint = new ProtectedLines({
      roots: () => deps.workspace.roots,
      relativePath: (abs) => deps.workspace.relativePath(abs),
      isProtected: (rel) => deps.backends.paths.cloudRefusal([rel], deps.config().privacy) !== undefined,
      rulesKey: () => JSON.stringify(deps.config().privacy.onPremOnly),
      warn: (m) => deps.logger.warn(m),
    });
  }

  /** Files changed on disk (or the folders, or the rules): the fingerprint is built again when next needed. */
  invalidate(): void {
    this.fingerprint.invalidate();
  }

  /** Builds the fingerprint ahead of the first chat that needs it (after the index build), where one could. */
  warm(): void {
    const config = this.deps.config();
    if (config.privacy.airGapped || config.privacy.onPremOnly.length === 0) return;
    if (!Object.values(config.backends).some((b) => b.location === 'cloud')) return;
    this.fingerprint.table().catch((err: unknown) => {
      this.deps.logger.warn(`the fingerprint of protected files failed: ${err instanceof Error ? err.message : String(err)}; it is tried again on the next chat`);
      this.fingerprint.invalidate();
    });
  }

  /** Resolves `model` to the backend it pins, undefined for tandem/auto, or a bad_request failure. */
  private pinned(model: string | undefined): Outcome<string | undefined> {
    if (model === undefined || model === AUTO_MODEL) return { ok: true, value: undefined };
    const config = this.deps.config();
    const name = model.startsWith('tandem/') ? model.slice('tandem/'.length) : undefined;
    if (name === undefined || !config.backends[name]) {
      return bad('model', `${shown(model)} is not one of tandem's models (${[AUTO_MODEL, ...Object.keys(config.backends).map((b) => `tandem/${b}`)].join(', ')})`);
    }
    return { ok: true, value: name };
  }

  async run(req: ChatTaskRequest, opts: RunOptions): Promise<Outcome<ChatTaskResult>> {
    const { signal } = opts;
    const pin = this.pinned(req.model);
    if (!pin.ok) return pin;
    const gathered = this.gather(req);
    if (!gathered.ok) return gathered;
    const { messages, sources } = gathered.value;
    const config = this.deps.config();
    // Pasted lines of protected files: only a request that could go to a cloud backend needs the
    // fingerprint (an on-prem-only route sends nothing anywhere it could leak).
    const route = pin.value !== undefined ? [pin.value] : config.routes.chat;
    const cloudPossible = !config.privacy.airGapped && route.some((n) => config.backends[n]?.location === 'cloud');
    if (cloudPossible && config.privacy.onPremOnly.length > 0) {
      let hits: Set<string>;
      try {
        hits = await this.fingerprint.find(messages.map((m) => [m.content ?? '', ...(m.toolCalls ?? []).map((c) => c.function.arguments)].join('\n')), this.deps.openDocuments?.() ?? [], signal);
      } catch (err) {
        if (signal.aborted) return aborted(signal);
        throw err;
      }
      for (const path of hits) if (!sources.some((s) => s.path === path)) sources.push({ path, text: '' });
    }
    if (signal.aborted) return aborted(signal);
    return this.route(req, pin.value, messages, sources, opts);
  }

  /**
   * The messages with the references' text added to the last user message, and the sources:
   * every referenced file, the definitions' files, and files the text names by path.
   */
  private gather(req: ChatTaskRequest): Outcome<Gathered> {
    const sources: SourceRef[] = [];
    const blocks: string[] = [];
    const config = this.deps.config();
    const paths = this.deps.backends.paths;
    const refs = req.references ?? [];
    const read: { doc: DocView; rel: string; start: number; end: number }[] = [];
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      const at = `references[${i}].uri`;
      const abs = uriToPath(ref.uri);
      if (abs === undefined) return bad(at, `${shown(ref.uri)} is not a file: URI`);
      if (this.deps.workspace.rootOf(ref.uri) === undefined) return bad(at, `${abs} is outside the workspace folders (${this.deps.workspace.roots.join(', ') || 'none open'})`);
      const rel = this.deps.workspace.relativePath(ref.uri);
      if (paths.outsideWorkspace(rel)) return bad(at, `${abs} is a link to a file outside the workspace folders`);
      let doc = this.deps.open?.(ref.uri);
      if (!doc) {
        let text: string;
        try {
          const st = statSync(abs);
          if (!st.isFile()) return bad(at, `${abs} is not a file`);
          if (st.size > MAX_REFERENCE_BYTES) return bad(at, `${abs} is ${st.size} bytes, more than the ${MAX_REFERENCE_BYTES} a reference may be`);
          text = readFileSync(abs, 'utf8');
        } catch (err) {
          return bad(at, `cannot read ${abs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        doc = { uri: ref.uri, languageId: languageIdForPath(abs), text: TextDocument.create(ref.uri, languageIdForPath(abs), 0, text), binary: text.includes('\u0000'), tree: undefined };
      }
      if (doc.binary) return bad(at, `${abs} is not a text file`);
      const whole = doc.text.getText();
      const start = ref.range ? doc.text.offsetAt(ref.range.start) : 0;
      const end = ref.range ? doc.text.offsetAt(ref.range.end) : whole.length;
      const text = start < end ? whole.slice(start, end) : whole;
      const lastLine = doc.text.positionAt(Math.max(start, end - 1)).line + 1;
      const lines = ref.range && start < end ? ` (line${lastLine > ref.range.start.line + 1 ? `s ${ref.range.start.line + 1}-${lastLine}` : ` ${lastLine}`})` : '';
      blocks.push(`${rel}${lines}\n${fence(doc.languageId, text)}`);
      sources.push({ path: rel, text });
      read.push({ doc, rel, start, end: start < end ? end : whole.length });
    }
    if (req.definitions && this.deps.context && config.context.enabled) {
      // Definitions join only where they never change where the request may go (as for actions):
      // a protected file's definitions only in a request that is on-prem bound anyway.
      const cloudBound = paths.cloudRefusal(sources.map((s) => s.path), config.privacy) === undefined;
      const budgets = config.context.sources as Record<string, { enabled: boolean; budgetMs: number } | undefined>;
      const seen = new Set(sources.map((s) => s.path));
      const defs: string[] = [];
      let chars = 0;
      for (const r of read) {
        const gathered = this.deps.context.gather(contextRequest(r.doc, r.start, r.rel), (name) => (name === 'definitions' ? budgets[name] : undefined));
        for (const c of [...gathered.candidates].sort((a, b) => b.score - a.score)) {
          if (seen.has(c.path) || !paths.mayJoin(c.path, r.rel, cloudBound, config.privacy)) continue;
          const body = c.runs.map((x) => x.text).join('\n...\n');
          if (chars + body.length > tokensToChars(DEFINITION_TOKENS) * read.length) break;
          chars += body.length;
          defs.push(`${c.path}\n${fence('', body)}`);
          sources.push({ path: c.path, text: body });
        }
      }
      if (defs.length > 0) blocks.push(`Definitions the code above uses:\n\n${defs.join('\n\n')}`);
    }
    // Files the messages name by path: a question about `src/secrets/keys.ts` is about that file.
    const text = req.messages.map((m) => m.content ?? '').join('\n');
    for (const rel of namedPaths(text, this.deps.workspace.roots, (abs) => this.deps.workspace.relativePath(abs))) {
      if (!sources.some((s) => s.path === rel)) sources.push({ path: rel, text: '' });
    }
    const messages = req.messages.map((m) => ({ ...m }));
    if (blocks.length > 0) {
      const preamble = `Files from the workspace:\n\n${blocks.join('\n\n')}\n\n`;
      let last = -1;
      for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'user') {
        last = i;
        break;
      }
      if (last >= 0) messages[last] = { ...messages[last]!, content: preamble + (messages[last]!.content ?? '') };
      else messages.push({ role: 'user', content: preamble.trimEnd() });
    }
    return { ok: true, value: { messages, sources } };
  }

  /** The pinned backend, or the chat route's first allowed one with failover; streams through `onDelta`. */
  private async route(req: ChatTaskRequest, pinned: string | undefined, messages: ChatMessage[], sources: SourceRef[], opts: RunOptions): Promise<Outcome<ChatTaskResult>> {
    const { signal } = opts;
    const config = this.deps.config();
    const health = this.deps.backends.health;
    const maxTokens = req.maxTokens ?? DEFAULT_CHAT_MAX_TOKENS;
    const promptTokens = messages.reduce((n, m) => n + estimateTokens(m.content ?? '') + (m.toolCalls ?? []).reduce((k, c) => k + estimateTokens(c.function.arguments) + 8, 0) + 4, 0) + (req.tools ? estimateTokens(JSON.stringify(req.tools)) : 0);
    const paths = sources.map((s) => s.path);
    const tried = new Set<string>();
    const windows = new Map<string, number>();
    let last: { failure: BackendFailure; backend: string } | undefined;
    const cfgWithRoute = pinned !== undefined ? { ...config, routes: { ...config.routes, chat: [pinned] } } : config;
    for (;;) {
      if (signal.aborted) return aborted(signal);
      const choice = chooseBackend(cfgWithRoute, 'chat', paths, {
        paths: this.deps.backends.paths,
        // A pinned backend is asked whatever its health: the user chose it.
        ...(pinned === undefined ? { isHealthy: (n: string) => !tried.has(n) && health.isHealthy(n) } : { isHealthy: (n: string) => !tried.has(n) }),
        budgetExhausted: this.deps.backends.spend.exhausted(config.budget.dailyUsd),
        promptTokens: promptTokens + maxTokens,
        contextWindow: (n) => windows.get(n) ?? config.backends[n]?.maxContextTokens,
      });
      if (this.deps.logger.enabled('debug')) this.deps.logger.debug(`route chat (${req.origin}) -> ${choice.backend ?? 'none'}: ${choice.reason}`);
      const backend = choice.backend ? this.deps.backends.get(choice.backend) : undefined;
      if (!backend) {
        if (last) return { ok: false, failure: { ...last.failure, message: `${last.backend}: ${last.failure.message}` } };
        // Privacy, the air gap or the budget forbade every backend (nothing was sent), or none is healthy.
        const privacy = /cloud, (air-gapped|prompt holds|daily budget spent)/.test(choice.reason);
        const tooLong = !privacy && /exceeds its context window/.test(choice.reason);
        return { ok: false, failure: { kind: privacy ? 'denied' : tooLong ? 'context_length' : 'unreachable', message: `${choice.reason}${privacy || tooLong ? ': nothing was sent' : ''}` } };
      }
      if (!backend.chat) {
        tried.add(backend.name);
        last = { failure: { kind: 'bad_request', message: `backend ${backend.name} has no chat endpoint` }, backend: backend.name };
        continue;
      }
      if (!windows.has(backend.name) && config.backends[backend.name]?.maxContextTokens === undefined) {
        // The window from the server's discovery (cached by the backend after once).
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
      if (pinned === undefined && !health.available(backend.name)) {
        tried.add(backend.name);
        continue;
      }
      let streamed = false;
      const sent = this.now();
      const r = await backend.chat(
        {
          messages,
          sources,
          task: 'chat',
          origin: req.origin,
          maxTokens,
          temperature: req.temperature ?? 0.2,
          ...(req.topP !== undefined ? { topP: req.topP } : {}),
          ...(req.stop ? { stop: req.stop } : {}),
          ...(req.tools ? { tools: req.tools } : {}),
          ...(req.toolChoice !== undefined ? { toolChoice: req.toolChoice } : {}),
          onDelta: (d) => {
            streamed = true;
            opts.onDelta?.({ text: d });
          },
          onToolCallDelta: (d) => {
            streamed = true;
            opts.onDelta?.({ toolCalls: d });
          },
        },
        signal,
      );
      if (r.ok) {
        this.deps.backends.report(backend.name, undefined, Math.round(this.now() - sent));
        return { ok: true, value: result(r.value, backend) };
      }
      this.deps.backends.report(backend.name, r.failure);
      if (r.failure.kind === 'cancelled' || signal.aborted) return aborted(signal);
      // The gate refused (privacy): never re-routed behind the user's back when pinned.
      if (r.failure.kind === 'denied' && pinned !== undefined) return r;
      // Part of the answer already went to the client: another backend's answer would not continue it.
      if (streamed || pinned !== undefined) return { ok: false, failure: { ...r.failure, message: `${backend.name}: ${r.failure.message}` } };
      last = { failure: r.failure, backend: backend.name };
      tried.add(backend.name);
    }
  }

  /** tandem/auto and every backend with a chat endpoint that may be used (cloud ones not when air-gapped). */
  async models(signal?: AbortSignal): Promise<ChatModelInfo[]> {
    const config = this.deps.config();
    const health = this.deps.backends.health;
    const wait = AbortSignal.timeout(MODELS_WAIT_MS);
    const s = signal ? AbortSignal.any([signal, wait]) : wait;
    const names = Object.keys(config.backends).filter((n) => this.deps.backends.get(n)?.chat && !(config.privacy.airGapped && config.backends[n]!.location === 'cloud'));
    const rows = await Promise.all(
      names.map(async (name): Promise<ChatModelInfo> => {
        const b = this.deps.backends.get(name)!;
        const cfg = config.backends[name]!;
        const info = await b.info(s).catch(() => undefined);
        const window = info?.ok ? info.value.contextWindow : (cfg.maxContextTokens ?? UNKNOWN_WINDOW);
        const maxOutputTokens = Math.min(MAX_OUTPUT_TOKENS, Math.floor(window / 2));
        return {
          id: `tandem/${name}`,
          name: info?.ok ? `${name} (${info.value.id})` : name,
          backend: name,
          location: cfg.location,
          maxInputTokens: window - maxOutputTokens,
          maxOutputTokens,
          toolCalling: info?.ok ? info.value.tools !== false : true,
          healthy: (info?.ok ?? false) && health.isHealthy(name),
        };
      }),
    );
    const route = config.routes.chat.map((n) => rows.find((r) => r.backend === n)).filter((r): r is ChatModelInfo => r !== undefined);
    const first = route.find((r) => r.healthy) ?? route[0];
    const auto: ChatModelInfo = {
      id: AUTO_MODEL,
      name: 'auto',
      location: first?.location ?? 'onprem',
      // tandem/auto may land on any backend of the route: the smallest window of them is what is sure to fit.
      maxInputTokens: route.length > 0 ? Math.min(...route.map((r) => r.maxInputTokens)) : 0,
      maxOutputTokens: route.length > 0 ? Math.min(...route.map((r) => r.maxOutputTokens)) : 0,
      toolCalling: route.length > 0 && route.every((r) => r.toolCalling),
      healthy: route.some((r) => r.healthy),
    };
    return [auto, ...rows];
  }

  /**
   * The tokens `text` is for `model`: the backend's tokenizer where it has one (on-prem only: the
   * gate never sends text to a cloud backend for this), else tandem's estimate.
   */
  async countTokens(model: string, text: string, signal: AbortSignal): Promise<Outcome<number>> {
    const pin = this.pinned(model);
    if (!pin.ok) return pin;
    const config = this.deps.config();
    const name = pin.value ?? config.routes.chat.find((n) => config.backends[n]?.location === 'onprem' && this.deps.backends.health.isHealthy(n)) ?? config.routes.chat[0];
    const backend = name !== undefined ? this.deps.backends.get(name) : undefined;
    if (backend?.countTokens) {
      const r = await backend.countTokens(text, signal);
      if (r.ok) return r;
      if (r.failure.kind === 'cancelled' || signal.aborted) return aborted(signal);
      this.deps.logger.debug(`token count from ${backend.name}: ${r.failure.message}; estimating`);
    }
    return { ok: true, value: estimateTokens(text) };
  }
}

function result(r: ChatResult, backend: CompletionBackend): ChatTaskResult {
  return {
    text: r.text,
    ...(r.toolCalls ? { toolCalls: r.toolCalls } : {}),
    finishReason: r.finishReason,
    backend: backend.name,
    model: r.model,
    location: backend.location,
    ...(r.usage ? { usage: r.usage } : {}),
  };
}

function aborted(signal: AbortSignal): Outcome<never> {
  return signal.reason instanceof DeadlineError
    ? { ok: false, failure: { kind: 'timeout', message: `no answer within ${signal.reason.ms} ms` } }
    : { ok: false, failure: { kind: 'cancelled', message: 'the chat request was cancelled' } };
}

/** A fenced block that the text cannot end early. */
function fence(lang: string, text: string): string {
  let ticks = '```';
  while (text.includes(ticks)) ticks += '`';
  return `${ticks}${lang}\n${text}${text.endsWith('\n') ? '' : '\n'}${ticks}`;
}
