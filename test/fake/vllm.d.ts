// Types for test/fake/vllm.js (hand-written; keep in sync with the JSDoc there).
import type { IncomingHttpHeaders } from "node:http";

/** One HTTP request the fake received, in arrival order. */
export interface RecordedRequest {
  /** Sequence number, 1-based, monotonic for the life of the server (not reset by reset()). */
  id: number;
  method: string;
  /** Path without the query string, e.g. "/v1/completions". */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or null when empty or malformed. */
  body: any;
  rawBody: string;
  /** performance.now() when the request headers arrived. */
  receivedAt: number;
  /**
   * performance.now() when the connection closed before the response finished
   * (client abort, or a `{ destroy: true }` reply); null otherwise.
   */
  closedAt: number | null;
  /** The response was completely written. */
  finished: boolean;
}

export interface TextReply {
  text: string;
  /** Stream the text in these pieces (otherwise ~4 characters each). */
  chunks?: string[];
  /** finish_reason when neither a stop string nor max_tokens cut the text; default "stop". */
  finishReason?: "stop" | "length";
  /**
   * Drip: the headers at once, then every chunk, the first included, this many ms after the one
   * before (a server slow to produce each token, the first as well); replaces tokenIntervalMs for
   * this reply. `pace` is then awaited before chunk 0 too, so a test can hold the first token.
   */
  dripMs?: number;
  /** The log probability of each streamed piece of this choice, reported when the request asks for `logprobs` (default -0.5). */
  logprob?: number;
}

export interface ErrorInfo {
  message: string;
  type?: string;
  code?: number | string;
  param?: string | null;
}

export interface ErrorReply {
  status: number;
  error: ErrorInfo;
  /** "nested" (default, current vLLM): {"error":{...}}; "flat" (older vLLM): {"object":"error",...}. */
  shape?: "nested" | "flat";
  headers?: Record<string, string>;
}

export interface StreamErrorReply {
  streamError: ErrorInfo;
  /** Text streamed as normal chunks before the error event. */
  after?: string;
  shape?: "nested" | "flat";
}

/** No answer, ever; with `after` (streaming requests), the headers and those chunks first, then silence. */
export interface HangReply {
  hang: true;
  after?: string;
}

/** The socket is destroyed: before the headers, or (with `after`, streaming requests) after those chunks. */
export interface DestroyReply {
  destroy: true;
  after?: string;
}

/**
 * A 200 stream that carries `after` as normal chunks, then `data: <malformed>` (not valid JSON),
 * then ends without `[DONE]`. Without streaming the connection drops before any answer.
 */
export interface MalformedReply {
  malformed: string;
  after?: string;
}

/** One tool call a chat reply makes. */
export interface ToolCallSpec {
  name?: string;
  /** The arguments' JSON text (sent as is: a broken one is what a broken tool parser would send). */
  arguments: string;
  /** Default `chatcmpl-tool-<hex>`, as vLLM makes them. */
  id?: string;
  /** Stream the arguments in these pieces (otherwise ~8 characters each). */
  chunks?: string[];
}

/**
 * A chat answer that calls tools, as vLLM streams it with a tool parser (`--enable-auto-tool-choice`):
 * the role chunk, any `text` as content, per call a chunk with its id, type, index and name, then
 * its arguments in pieces by index, then a chunk with an empty delta and finish_reason "tool_calls".
 */
export interface ToolCallsReply {
  toolCalls: ToolCallSpec[];
  text?: string;
}

export type Reply = TextReply | ErrorReply | StreamErrorReply | HangReply | DestroyReply | MalformedReply | ToolCallsReply;

export interface ModelsOverride {
  status: number;
  /** Serialized as JSON, or sent verbatim when a string. */
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeVllmOptions {
  /** Served model id. Default "Qwen/Qwen2.5-Coder-7B". */
  model?: string;
  /**
   * More model ids the server answers to (vLLM's `--served-model-name A B`): listed by /v1/models
   * after `model`, accepted in requests, and reported back as the answer's `model`. Default none.
   */
  alsoServe?: string[];
  /** Default 32768. */
  maxModelLen?: number;
  /** Delay before the response headers (time to first token). Default 0. */
  latencyMs?: number;
  /** Delay between streamed chunks. Default 0. */
  tokenIntervalMs?: number;
  /**
   * Awaited before streamed chunk `index` (1-based after the first, after tokenIntervalMs; from 0
   * for a reply with `dripMs`): a test streams in step with what its client has seen rather than
   * on a clock.
   */
  pace?: (index: number, req: RecordedRequest) => Promise<void>;
  /**
   * Decides the answer to each /v1/completions or /v1/chat/completions request. Default: { text: "" }.
   * A completions request with `n` > 1 asks it once per choice (`choice` 0, 1, ...); choices after
   * the first must be text replies. Choice 0's reply decides errors, stalls and drips.
   */
  respond?: (req: RecordedRequest, choice: number) => Reply | Promise<Reply>;
  /** Answer at most this many choices whatever `n` asks (1: a server that ignores `n`). */
  maxChoices?: number;
  /**
   * Awaited before GET /v1/models answers: a test holds the model lookup until it releases it
   * (the answer itself is unchanged).
   */
  holdModels?: (req: RecordedRequest) => Promise<void>;
  /** Replaces the GET /v1/models answer. */
  models?: ModelsOverride;
  /** Port to listen on (127.0.0.1). Default 0 (any free port); only read at start. */
  port?: number;
}

export interface FakeVllm {
  /** e.g. "http://127.0.0.1:41234" (no trailing slash, no /v1). */
  url: string;
  port: number;
  /** Every request, in arrival order (same array across reset()). */
  requests: RecordedRequest[];
  /** The POST /v1/chat/completions records. */
  chats(): RecordedRequest[];
  /** The POST /v1/completions records. */
  completions(): RecordedRequest[];
  /** Change options at run time (affects requests whose handling starts later). */
  set(partial: Partial<FakeVllmOptions>): void;
  /** A copy of the current options. */
  readonly options: FakeVllmOptions;
  /** Resolves with the first recorded request satisfying predicate; rejects after timeoutMs (default 20 s: a bound that only something stuck reaches, never a speed margin). */
  waitFor(predicate: (req: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  /** Clear the records. */
  reset(): void;
  /** Stop listening and destroy all open sockets. */
  close(): Promise<void>;
}

export const DEFAULT_MODEL: string;
export const DEFAULT_MAX_MODEL_LEN: number;
/** ceil(text.length / 4): the fake's token estimate. */
export function approxTokens(text: string): number;
/** The CLI's canned, deterministic respond() (fake: "return 42"). */
export function demoRespond(req: RecordedRequest): Reply;
/** The second model name `node test/fake/vllm.js` serves unless --also-serve says otherwise. */
export const DEMO_SECOND_MODEL: string;
export function startFakeVllm(options?: FakeVllmOptions): Promise<FakeVllm>;
