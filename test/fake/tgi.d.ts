// Types for test/fake/tgi.js (hand-written; keep in sync with the JSDoc there).
import type { CommonOptions, FakeServer, RecordedRequest } from "./recorder.js";

export type { RecordedRequest, Reply, TextReply, ErrorReply, StreamErrorReply, MalformedReply, HangReply, DestroyReply, EndReply, ErrorInfo } from "./recorder.js";

export interface FakeTgiOptions extends CommonOptions {
  /** model_id in /info. Default "Qwen/Qwen2.5-Coder-7B". */
  model?: string;
  /** --max-input-tokens. Default 7680. */
  maxInputTokens?: number;
  /** --max-total-tokens. Default 8192. */
  maxTotalTokens?: number;
  /** --max-stop-sequences. Default 4. */
  maxStopSequences?: number;
  /** /health answers 200 when true, else 503 {"error":"unhealthy","error_type":"healthcheck"}. Default true. */
  healthy?: boolean;
  /** Awaited before GET /info answers: a test holds the model lookup until it releases it. */
  holdInfo?: (req: RecordedRequest) => Promise<void>;
  /** --api-key: generation routes answer a bare 401 without `Authorization: Bearer <key>`. */
  apiKey?: string;
}

/** A loopback TGI; `completions()` are the POST /generate_stream records. */
export type FakeTgi = FakeServer<FakeTgiOptions>;

export const DEFAULT_MODEL: string;
export function startFakeTgi(options?: FakeTgiOptions): Promise<FakeTgi>;
