// Types for test/fake/llamacpp.js (hand-written; keep in sync with the JSDoc there).
import type { CommonOptions, FakeServer } from "./recorder.js";

export type { RecordedRequest, Reply, TextReply, ErrorReply, StreamErrorReply, MalformedReply, HangReply, DestroyReply, EndReply, ErrorInfo } from "./recorder.js";

export interface FakeLlamaCppOptions extends CommonOptions {
  /** The GGUF file the server loaded. Default "/models/qwen2.5-coder-1.5b-q8_0.gguf". */
  modelPath?: string;
  /** --alias: the model name in answers and /props model_alias. Default: the file name. */
  alias?: string;
  /** Context size per slot, in /props and the context check. Default 4096. */
  nCtx?: number;
  /** "nested" (current): /props default_generation_settings.n_ctx; "flat": only a top-level n_ctx. Default "nested". */
  propsShape?: "nested" | "flat";
  /** While true every route but /health answers 503 {"error":{"code":503,"message":"Loading model",…}}, /health too. Default false. */
  loading?: boolean;
  /** The model has FIM tokens; false makes /infill a 501. Default true. */
  fim?: boolean;
  /** In-stream errors as `data: {"error":{…}}` ("data", current) or a bare `error: {…}` line ("legacy"). Default "data". */
  errorFraming?: "data" | "legacy";
  /** --api-key: every route but /health and /models answers 401 without `Authorization: Bearer <key>`. */
  apiKey?: string;
}

/** A loopback llama-server; `completions()` are the POST /infill and /completion records. */
export type FakeLlamaCpp = FakeServer<FakeLlamaCppOptions>;

export const DEFAULT_MODEL_PATH: string;
export function startFakeLlamaCpp(options?: FakeLlamaCppOptions): Promise<FakeLlamaCpp>;
