// Types for test/fake/recorder.js (hand-written; keep in sync with the JSDoc there).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";

/** One HTTP request a fake received, in arrival order. */
export interface RecordedRequest {
  /** Sequence number, 1-based, monotonic for the life of the server (not reset by reset()). */
  id: number;
  method: string;
  /** Path without the query string. */
  path: string;
  /** The query string without "?", "" when none. */
  query: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or null when empty or malformed. */
  body: any;
  rawBody: string;
  /** performance.now() when the request arrived. */
  receivedAt: number;
  /** performance.now() when the connection closed before the response finished; null otherwise. */
  closedAt: number | null;
  /** The response was completely written. */
  finished: boolean;
}

/** How a fake answers one generation request; each fake renders these in its own wire format. */
export interface TextReply {
  text: string;
  /** Stream the text in these pieces (otherwise ~4 characters each, one "token" per piece). */
  chunks?: string[];
  /** Why generation ended when no stop string and no token limit cut it: "stop" (end of text, default) or "length". */
  finishReason?: "stop" | "length";
}

export interface ErrorInfo {
  message: string;
  /** TGI `error_type`, llama.cpp `error.type`; Ollama has none. */
  type?: string;
}

/** An HTTP error answer in the fake's shape. */
export interface ErrorReply {
  status: number;
  error: ErrorInfo;
  headers?: Record<string, string>;
}

/** A 200 stream that carries `after` as normal pieces, then an error event. */
export interface StreamErrorReply {
  streamError: ErrorInfo & { code?: number };
  after?: string;
}

/** A 200 stream that carries `after`, then this raw line (which is not valid JSON), then ends. */
export interface MalformedReply {
  malformed: string;
  after?: string;
}

/** No answer, ever; with `after`, the headers and those pieces first, then silence. */
export interface HangReply {
  hang: true;
  after?: string;
}

/** The socket is destroyed: before the headers, or (with `after`) after streaming those pieces. */
export interface DestroyReply {
  destroy: true;
  after?: string;
}

/** A 200 stream that carries `after`, then ends cleanly without its final event (a cut-off answer). */
export interface EndReply {
  end: true;
  after?: string;
}

/** A chat answer that calls tools (the Ollama fake: whole calls, arguments as an object). */
export interface ToolCallsReply {
  toolCalls: { name?: string; arguments: unknown; id?: string }[];
}

export type Reply = TextReply | ErrorReply | StreamErrorReply | MalformedReply | HangReply | DestroyReply | EndReply | ToolCallsReply;

export interface HandlerContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** JSON.parse's message when the body was not JSON, else null. */
  badJson: string | null;
  /** A sleep that close() cuts short. */
  wait(ms: number): Promise<void>;
  closing(): boolean;
}

export interface RecorderOptions {
  /** For messages: "tgi", "ollama", "llama.cpp". */
  name: string;
  port?: number;
  /** Serve HTTPS with this PEM key and certificate. */
  tls?: { key: string; cert: string };
  handle(rec: RecordedRequest, ctx: HandlerContext): Promise<void>;
}

export interface Recorder {
  /** e.g. "http://127.0.0.1:41234" (no trailing slash). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  wait(ms: number): Promise<void>;
  closing(): boolean;
  waitFor(predicate: (req: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  reset(): void;
  close(): Promise<void>;
}

/** The API every fake built on the recorder shares (the shape of vllm.js's FakeVllm). */
export interface FakeServer<Options> {
  url: string;
  port: number;
  /** Every request, in arrival order (same array across reset()). */
  requests: RecordedRequest[];
  /** The generation requests (the FIM endpoint's records). */
  completions(): RecordedRequest[];
  /** Change options at run time (affects requests whose handling starts later). */
  set(partial: Partial<Options>): void;
  /** A copy of the current options. */
  readonly options: Options;
  /** Resolves with the first recorded request satisfying predicate; rejects after timeoutMs (default 20 s: a bound that only something stuck reaches, never a speed margin). */
  waitFor(predicate: (req: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  /** Clear the records. */
  reset(): void;
  /** Stop listening and destroy all open sockets. */
  close(): Promise<void>;
}

/** Options every fake takes. */
export interface CommonOptions {
  /** Delay before the response headers (time to first token). Default 0. */
  latencyMs?: number;
  /** Delay between streamed pieces: a slow drip. Default 0. */
  tokenIntervalMs?: number;
  /** Decides the answer to each generation or chat request. Default: { text: "" }. */
  respond?: (req: RecordedRequest) => Reply | Promise<Reply>;
  /** Port to listen on (127.0.0.1). Default 0 (any free port); only read at start. */
  port?: number;
  /** Serve HTTPS with this PEM key and certificate; only read at start. */
  tls?: { key: string; cert: string };
}

export function approxTokens(text: string): number;
/** The fakes' tokenizer: one token per 4 characters, ids derived from the characters. */
export function fakeTokens(text: string): { id: number; text: string; start: number; stop: number }[];
export function splitChunks(text: string): string[];
export function cutChunks(chunks: string[], text: string): string[];
export function shapeText(text: string, chunks: string[] | undefined, stops: string[], maxTokens: number | null, keepStop: boolean): { text: string; chunks: string[]; reason: "eos" | "stop" | "length"; stop: string | null };
export function stripUndefined<T extends object>(o: T): Partial<T>;
export function sendText(res: ServerResponse, status: number, text: string, contentType: string, headers?: Record<string, string>): void;
export function startRecorder(opts: RecorderOptions): Promise<Recorder>;

/** How one fake renders a reply on the wire (see playReply). */
export interface Frame {
  /** Writes the 200 stream's status line and headers. */
  head(): void;
  /** Writes an HTTP error answer. */
  httpError(reply: ErrorReply): void;
  /** Every event of a complete text reply, the final one(s) included, each written after tokenIntervalMs. */
  done(reply: TextReply): string[];
  /** Non-final events carrying these pieces (the `after` of error, malformed, hang and destroy replies). */
  pieces(pieces: string[]): string[];
  /** An in-stream error event. */
  error(info: ErrorInfo & { code?: number }): string;
  /** A raw line that breaks the framing's JSON. */
  malformed(raw: string): string;
  /** Written after a complete text reply, before the response ends (e.g. "data: [DONE]"). */
  tail?(): string;
}

export function playReply(ctx: HandlerContext, reply: Reply, timing: { latencyMs?: number; tokenIntervalMs?: number }, frame: Frame): Promise<void>;
