// Types for test/fake/ollama.js (hand-written; keep in sync with the JSDoc there).
import type { CommonOptions, FakeServer, RecordedRequest } from "./recorder.js";

export type { Reply, ToolCallsReply, TextReply, ErrorReply, StreamErrorReply, MalformedReply, HangReply, DestroyReply, EndReply, ErrorInfo } from "./recorder.js";

export interface OllamaRecordedRequest extends RecordedRequest {
  /** For /api/generate and /api/chat: the prompt was longer than num_ctx and Ollama cut its start. */
  truncated?: boolean;
}
export type { OllamaRecordedRequest as RecordedRequest };

export interface FakeOllamaOptions extends CommonOptions {
  /** The one local model, as /api/tags names it; "" for none pulled. Default "qwen2.5-coder:1.5b-base". */
  model?: string;
  /** /api/show capabilities. Default ["completion", "insert"]; without "insert", `suffix` is a 400. */
  capabilities?: string[];
  /** model_info["<arch>.context_length"]: the trained length. Default 32768. */
  contextLength?: number;
  /** The Modelfile's num_ctx (in /api/show parameters and the default for requests); null: none. Default 4096. */
  numCtx?: number | null;
  /** general.architecture. Default "qwen2". */
  architecture?: string;
}

/** A loopback Ollama; `completions()` are the POST /api/generate records. */
export interface FakeOllama extends FakeServer<FakeOllamaOptions> {
  requests: OllamaRecordedRequest[];
  completions(): OllamaRecordedRequest[];
  waitFor(predicate: (req: OllamaRecordedRequest) => boolean, timeoutMs?: number): Promise<OllamaRecordedRequest>;
}

export const DEFAULT_MODEL: string;
export function startFakeOllama(options?: FakeOllamaOptions): Promise<FakeOllama>;

