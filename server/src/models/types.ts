// Plain types shared by every backend: what we ask, what comes back, and how it can fail.

export interface ModelInfo {
  /** Model id to put in requests. */
  id: string;
  /** Context window in tokens (prompt + completion). */
  contextWindow: number;
  /** Where the context window came from, for `doctor`. */
  contextSource: 'server' | 'config' | 'default';
  /** Whether the model takes tools, where the server says (Ollama's capabilities); undefined: assumed. */
  tools?: boolean;
}

/**
 * The pieces a rendered FIM prompt was made of. Servers that fill the middle themselves
 * (llama.cpp `/infill`, Ollama with the `insert` capability) take these instead of `prompt`.
 */
export interface FimParts {
  /** The prefix as the template saw it (path line, file head, window before the cursor). */
  prefix: string;
  suffix: string;
  /** Context snippets from other files, each with its workspace-relative path. */
  snippets: { path: string; text: string }[];
}

/** A file whose text a request carries, with that text (for the privacy gate and the audit log). */
export interface SourceRef {
  /** Workspace-relative path, the form `privacy.onPremOnly` globs match. */
  path: string;
  text: string;
}

export interface FimRequest {
  /** The prompt rendered by our FIM template; what OpenAI-compatible servers get. */
  prompt: string;
  /**
   * Every file the prompt holds text from. A cloud backend refuses a request without it: the
   * privacy gate fails closed.
   */
  sources?: SourceRef[];
  /** Task class for the audit log. */
  task?: string;
  parts?: FimParts;
  stop: string[];
  maxTokens: number;
  temperature: number;
  /**
   * Called with the text so far after each streamed chunk; returning true ends generation early
   * (the HTTP request is aborted, so the server stops spending GPU time on it). With several
   * choices it is called per choice, and the stream ends once every choice has had enough.
   */
  enough?: (textSoFar: string) => boolean;
  /**
   * Choices to generate from the one prompt (OpenAI-compatible `n`), only for a backend whose
   * `choices` says it takes it; they come back in FimResult.choices, each with its mean token log
   * probability. Default 1.
   */
  n?: number;
}

/** One of several choices generated for one prompt. */
export interface FimChoice {
  text: string;
  finishReason: string | null;
  /** Mean log probability of its tokens, where the server reported them: the likelier, the higher. */
  logprob?: number;
}

export interface FimResult {
  text: string;
  finishReason: string | null;
  /** True when `enough` ended the stream. */
  stoppedEarly: boolean;
  model: string;
  /**
   * Every choice by index (the first is `text`), when the request asked for several; fewer than
   * asked when the server gave fewer (or ignored `n`). Never holds a choice cut off mid-stream.
   */
  choices?: FimChoice[];
}

/** A tool call the model made (OpenAI's shape): `arguments` is the JSON text the model wrote. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One streamed piece of a tool call, as OpenAI-compatible servers stream them (by `index`). */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

/** An OpenAI function tool, passed to the backend unchanged. */
export interface ToolSpec {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  /** Null for an assistant message that only calls tools. */
  content: string | null;
  /** An assistant message's tool calls. */
  toolCalls?: ToolCall[];
  /** A tool message: the call it answers. */
  toolCallId?: string;
  /** A tool message: the tool's name (Ollama wants it; OpenAI ignores it). */
  name?: string;
}

/** The text of a message, '' for a tool-calls-only one. */
export function messageText(m: ChatMessage): string {
  return m.content ?? '';
}

export interface ChatRequest {
  messages: ChatMessage[];
  /** As in FimRequest: every file the messages hold text from. */
  sources?: SourceRef[];
  task?: string;
  /** Which door a chat came through (`lsp`, `serve`), for the audit log. */
  origin?: string;
  maxTokens: number;
  temperature: number;
  /** Nucleus sampling (`top_p`); the server's default when absent. */
  topP?: number;
  /** Strings that end the answer, as the caller gave them. */
  stop?: string[];
  /** OpenAI function tools and `tool_choice`, sent unchanged. */
  tools?: ToolSpec[];
  toolChoice?: unknown;
  /** Called with each streamed piece of the answer (explain streams progress to the editor). */
  onDelta?: (delta: string, textSoFar: string) => void;
  /** Called with each streamed piece of the tool calls, in the server's order. */
  onToolCallDelta?: (deltas: ToolCallDelta[]) => void;
}

export interface ChatResult {
  text: string;
  /** The tool calls, assembled and checked (each with an id, a name and arguments that are JSON). */
  toolCalls?: ToolCall[];
  finishReason: string | null;
  model: string;
  usage?: { promptTokens: number; completionTokens: number };
}

export type FailureKind =
  | 'unreachable' // connection refused, DNS, reset before any answer
  | 'timeout' // our deadline passed
  | 'cancelled' // the caller no longer wants the answer
  | 'context_length' // prompt too long for the model
  | 'rate_limited' // 429
  | 'auth' // 401/403
  | 'not_found' // 404: model or path
  | 'bad_request' // other 4xx
  | 'server' // 5xx
  | 'stream' // error reported inside a 200 stream, or the stream broke
  | 'bad_response' // answer we cannot parse
  | 'slow' // went silent for its hedge delay while another backend answered first (router/hedge.ts)
  | 'denied'; // privacy forbids sending this request to this backend (nothing was sent)

export interface BackendFailure {
  kind: FailureKind;
  /** One sentence naming the backend's URL; never contains an API key. */
  message: string;
  status?: number;
  /** For context_length: the model's limit and the tokens the server counted, when it said. */
  limit?: number;
  requested?: number;
  retryAfterMs?: number;
  /** For a request tandem refused as malformed (kind bad_request): the field at fault, e.g. `messages[2].role`. */
  param?: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: BackendFailure };

export interface CompletionBackend {
  readonly name: string;
  readonly url: string;
  readonly location: 'onprem' | 'cloud';
  /** Model id and context window, discovered once and cached until a failure. */
  info(signal: AbortSignal): Promise<Outcome<ModelInfo>>;
  /** Whether `complete` takes FimRequest.n (several choices from one request); else samples are separate requests. */
  readonly choices?: boolean;
  /** One fill-in-the-middle completion of an already rendered prompt. */
  complete(req: FimRequest, signal: AbortSignal): Promise<Outcome<FimResult>>;
  /** A chat completion (code actions, explain), streamed. */
  chat?(req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>>;
  /**
   * The number of tokens `text` is, by the server's own tokenizer (vLLM, TGI and llama.cpp
   * `/tokenize`, Ollama's prompt_eval_count); absent where the server has none.
   */
  countTokens?(text: string, signal: AbortSignal): Promise<Outcome<number>>;
  /** A cheap liveness check for the health monitor (no model call). */
  probe?(signal: AbortSignal): Promise<Outcome<{ latencyMs: number }>>;
}
