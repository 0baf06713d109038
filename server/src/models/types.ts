// Plain types shared by every backend: what we ask, what comes back, and how it can fail.

export interface ModelInfo {
  /** Model id to put in requests. */
  id: string;
  /** Context window in tokens (prompt + completion). */
  contextWindow: number;
  /** Where the context window came from, for `doctor`. */
  contextSource: 'server' | 'config' | 'default';
}

export interface FimRequest {
  prompt: string;
  stop: string[];
  maxTokens: number;
  temperature: number;
  /**
   * Called with the text so far after each streamed chunk; returning true ends generation early
   * (the HTTP request is aborted, so the server stops spending GPU time on it).
   */
  enough?: (textSoFar: string) => boolean;
}

export interface FimResult {
  text: string;
  finishReason: string | null;
  /** True when `enough` ended the stream. */
  stoppedEarly: boolean;
  model: string;
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
  | 'bad_response'; // answer we cannot parse

export interface BackendFailure {
  kind: FailureKind;
  /** One sentence naming the backend's URL; never contains an API key. */
  message: string;
  status?: number;
  /** For context_length: the model's limit and the tokens the server counted, when it said. */
  limit?: number;
  requested?: number;
  retryAfterMs?: number;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: BackendFailure };

export interface CompletionBackend {
  readonly name: string;
  readonly url: string;
  readonly location: 'onprem' | 'cloud';
  /** Model id and context window, discovered once and cached until a failure. */
  info(signal: AbortSignal): Promise<Outcome<ModelInfo>>;
  /** One fill-in-the-middle completion of an already rendered prompt. */
  complete(req: FimRequest, signal: AbortSignal): Promise<Outcome<FimResult>>;
}
