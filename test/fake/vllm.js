// @ts-check
/**
 * Loopback fake of vLLM's OpenAI-compatible HTTP server, for tests and benchmarks.
 *
 * Plain JavaScript ESM with JSDoc types so that it runs under plain `node`
 * (benchmarks, CLI) without a compile step; `vllm.d.ts` next to it declares the
 * exported types for TypeScript callers.
 *
 * It reproduces, as far as an HTTP client can observe, what `vllm serve` answers
 * on /v1/completions, /v1/chat/completions (tool calls streamed as a tool parser streams them),
 * /v1/models, /tokenize and /health: body shapes,
 * key order, SSE framing (`data: <json>\n\n` ... `data: [DONE]\n\n`), error
 * shapes (the nested `{"error":{...}}` of current vLLM and the flat
 * `{"object":"error",...}` of older releases) and the built-in request checks
 * (unknown model, `suffix`, context length, `n`). It runs no model: what each request
 * answers is decided by the `respond` option, called once per choice when a completions request
 * asks for several (`n`): the choices then stream interleaved, one per chunk with its `index`, as
 * vLLM generates them side by side, and `logprobs` adds each piece's log probability.
 *
 * Token counts are approximations: 1 token = 4 characters, rounded up.
 *
 * CLI (no GPU needed):
 *   node test/fake/vllm.js --port 8000 [--model M] [--also-serve M2[,M3]] [--latency MS]
 *                          [--token-interval MS] [--max-model-len N]
 */

import http from "node:http";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { realpathSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { approxTokens, cutChunks, fakeTokens, splitChunks, stripUndefined } from "./recorder.js";

/** @typedef {import("./vllm.js").FakeVllm} FakeVllm */
/** @typedef {import("./vllm.js").FakeVllmOptions} FakeVllmOptions */
/** @typedef {import("./vllm.js").RecordedRequest} RecordedRequest */
/** @typedef {import("./vllm.js").Reply} Reply */
/** @typedef {import("./vllm.js").TextReply} TextReply */
/** @typedef {import("./vllm.js").ErrorReply} ErrorReply */
/** @typedef {import("./vllm.js").StreamErrorReply} StreamErrorReply */
/** @typedef {import("./vllm.js").ErrorInfo} ErrorInfo */
/** @typedef {import("./vllm.js").ModelsOverride} ModelsOverride */
/** @typedef {import("./vllm.js").HangReply | import("./vllm.js").DestroyReply | import("./vllm.js").MalformedReply} BrokenReply */

export const DEFAULT_MODEL = "Qwen/Qwen2.5-Coder-7B";
export const DEFAULT_MAX_MODEL_LEN = 32768;
/** vLLM's CompletionRequest.max_tokens default. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** ceil(characters / 4), the same count the other fakes use (recorder.js); re-exported for the tests. */
export { approxTokens };

/** vLLM ids are `<prefix>-<uuid4 hex>`. */
function randomId(/** @type {string} */ prefix) {
  return `${prefix}-${randomBytes(16).toString("hex")}`;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/** @param {number} status */
function defaultErrorType(status) {
  if (status === 400 || status === 422) return "BadRequestError";
  if (status === 401) return "UnauthorizedError";
  if (status === 403) return "ForbiddenError";
  if (status === 404) return "NotFoundError";
  if (status === 429) return "TooManyRequestsError";
  if (status === 503) return "ServiceUnavailableError";
  if (status >= 500) return "InternalServerError";
  return "BadRequestError";
}

/**
 * Body of an HTTP error response.
 * @param {ErrorInfo} error
 * @param {number} status
 * @param {"nested"|"flat"} shape
 */
function errorBody(error, status, shape) {
  const info = {
    message: error.message,
    type: error.type ?? defaultErrorType(status),
    param: error.param ?? null,
    code: error.code ?? status,
  };
  return shape === "flat" ? { object: "error", ...info } : { error: info };
}

/**
 * Data of an error event inside an SSE stream. vLLM writes it as
 * `data: {"error":{"object":"error",...}}` (nested) or
 * `data: {"object":"error",...}` (flat, older releases).
 * @param {ErrorInfo} error
 * @param {"nested"|"flat"} shape
 */
function streamErrorData(error, shape) {
  const info = {
    object: "error",
    message: error.message,
    type: error.type ?? "BadRequestError",
    param: error.param ?? null,
    code: error.code ?? 400,
  };
  return shape === "flat" ? info : { error: info };
}

/**
 * Apply the request's stop strings and max_tokens to the reply text, as vLLM's
 * detokenizer would: the text is cut before the first stop string (which is not
 * included unless include_stop_str_in_output), finish_reason "stop" and
 * stop_reason = the matched string; otherwise, if longer than max_tokens
 * (x4 chars), cut to that, finish_reason "length".
 * @param {string} text
 * @param {string[]|undefined} givenChunks
 * @param {"stop"|"length"|undefined} givenFinish
 * @param {any} body
 * @param {number|null} maxTokens  null = unlimited
 */
function shapeOutput(text, givenChunks, givenFinish, body, maxTokens) {
  const stops = typeof body?.stop === "string" ? [body.stop] : Array.isArray(body?.stop) ? body.stop.filter((/** @type {unknown} */ s) => typeof s === "string" && s.length > 0) : [];
  const maxChars = maxTokens === null ? Infinity : maxTokens * 4;
  /** @type {{ idx: number, stop: string } | null} */
  let hit = null;
  for (const s of stops) {
    const idx = text.indexOf(s);
    if (idx >= 0 && (hit === null || idx < hit.idx)) hit = { idx, stop: s };
  }
  /** @type {string} */
  let out = text;
  /** @type {"stop"|"length"} */
  let finishReason = givenFinish ?? "stop";
  /** @type {string|null} */
  let stopReason = null;
  if (hit && hit.idx + hit.stop.length <= maxChars) {
    out = body?.include_stop_str_in_output ? text.slice(0, hit.idx + hit.stop.length) : text.slice(0, hit.idx);
    finishReason = "stop";
    stopReason = hit.stop;
  } else if (text.length > maxChars) {
    out = text.slice(0, maxChars);
    finishReason = "length";
  }
  const chunks = givenChunks ? cutChunks(givenChunks, out) : splitChunks(out);
  return { text: out, chunks, finishReason, stopReason };
}

/**
 * The prompt as text for token estimation.
 * @param {any} prompt
 * @returns {{ text: string, tokens: number } | null}
 */
function promptInfo(prompt) {
  if (typeof prompt === "string") return { text: prompt, tokens: approxTokens(prompt) };
  if (Array.isArray(prompt) && prompt.length > 0) {
    // A list of token ids counts one token per id; a list of strings (batched
    // prompts, unsupported here beyond counting) is joined.
    if (prompt.every((p) => typeof p === "number")) return { text: "", tokens: prompt.length };
    if (prompt.every((p) => typeof p === "string")) {
      const text = prompt.join("");
      return { text, tokens: approxTokens(text) };
    }
  }
  return null;
}

/** @param {any} messages */
function chatPromptText(messages) {
  if (!Array.isArray(messages)) return null;
  let text = "";
  for (const m of messages) {
    if (typeof m?.content === "string") text += m.content;
    else if (Array.isArray(m?.content)) for (const part of m.content) if (typeof part?.text === "string") text += part.text;
  }
  return text;
}

/** A text reply's per-piece log probability (TextReply.logprob), -0.5 when it gives none. @param {unknown} reply */
function logprobOf(reply) {
  const lp = reply && typeof reply === "object" && "logprob" in reply ? /** @type {{logprob?: unknown}} */ (reply).logprob : undefined;
  return typeof lp === "number" ? lp : -0.5;
}

/**
 * vLLM's `logprobs` object of a completions choice, each piece counted as one token.
 * @param {string[]} pieces @param {number} lp @param {number} offset
 */
function logprobsOf(pieces, lp, offset) {
  /** @type {number[]} */
  const textOffset = [];
  let at = offset;
  for (const p of pieces) {
    textOffset.push(at);
    at += p.length;
  }
  return { text_offset: textOffset, token_logprobs: pieces.map(() => lp), tokens: [...pieces], top_logprobs: pieces.map((p) => ({ [p]: lp })) };
}

/** The default respond(): an empty completion. */
function defaultRespond() {
  return { text: "" };
}

/**
 * @param {FakeVllmOptions} [initial]
 * @returns {Promise<FakeVllm>}
 */
export async function startFakeVllm(initial = {}) {
  /** @type {Required<Pick<FakeVllmOptions, "model"|"maxModelLen"|"latencyMs"|"tokenIntervalMs"|"respond">> & FakeVllmOptions} */
  const options = {
    model: DEFAULT_MODEL,
    maxModelLen: DEFAULT_MAX_MODEL_LEN,
    latencyMs: 0,
    tokenIntervalMs: 0,
    respond: defaultRespond,
    ...stripUndefined(initial),
  };
  /** Every model id this server answers to: `model`, then `alsoServe` (vLLM's --served-model-name with several names). */
  const served = () => [options.model, ...(options.alsoServe ?? [])];
  /** The model a request names is refused unless served; missing or empty means the first. @param {any} name */
  const unknownModel = (name) => name !== undefined && name !== null && name !== "" && !served().includes(name);
  /** The model id an answer reports: the one asked for, else the first. @param {any} name */
  const answeringModel = (name) => (typeof name === "string" && name !== "" && served().includes(name) ? name : options.model);
  /** @type {RecordedRequest[]} */
  const requests = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  /** @type {Set<ReturnType<typeof setTimeout>>} */
  const timers = new Set();
  let seq = 0;
  let closing = false;

  /** Cancellable sleep that close() can cut short. @param {number} ms */
  function wait(ms) {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve(undefined);
      }, ms);
      timers.add(t);
    });
  }

  const server = http.createServer({ noDelay: true }, (req, res) => {
    const receivedAt = performance.now();
    res.setHeader("server", "uvicorn");
    /** @type {Buffer[]} */
    const parts = [];
    req.on("data", (/** @type {Buffer} */ d) => parts.push(d));
    req.on("error", () => {});
    req.on("end", () => {
      const rawBody = Buffer.concat(parts).toString("utf8");
      let body = null;
      let badJson = /** @type {string|null} */ (null);
      if (rawBody.length > 0) {
        try {
          body = JSON.parse(rawBody);
        } catch (e) {
          badJson = e instanceof Error ? e.message : String(e);
        }
      }
      /** @type {RecordedRequest} */
      const rec = {
        id: ++seq,
        method: req.method ?? "GET",
        path: (req.url ?? "/").split("?")[0] ?? "/",
        headers: req.headers,
        body,
        rawBody,
        receivedAt,
        closedAt: null,
        finished: false,
      };
      requests.push(rec);
      res.on("finish", () => {
        rec.finished = true;
        events.emit("update", rec);
      });
      res.on("close", () => {
        if (!res.writableFinished && rec.closedAt === null) {
          rec.closedAt = performance.now();
          events.emit("update", rec);
        }
      });
      events.emit("update", rec);
      handle(rec, badJson, req, res).catch((e) => {
        if (!res.headersSent && !res.destroyed) {
          sendJson(res, 500, errorBody({ message: `fake vllm: ${e instanceof Error ? e.message : String(e)}` }, 500, "nested"));
        } else if (!res.destroyed) {
          res.destroy();
        }
      });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // Keep-alive sockets are destroyed by close(); no need for long timeouts here.
  server.keepAliveTimeout = 5000;

  /**
   * @param {http.ServerResponse} res
   * @param {number} status
   * @param {unknown} body
   * @param {Record<string,string>} [headers]
   */
  function sendJson(res, status, body, headers) {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  }

  /**
   * @param {RecordedRequest} rec
   * @param {string|null} badJson
   * @param {http.IncomingMessage} req
   * @param {http.ServerResponse} res
   */
  async function handle(rec, badJson, req, res) {
    const { method, path } = rec;
    if (path === "/health") {
      if (method !== "GET") return sendJson(res, 405, { detail: "Method Not Allowed" });
      res.writeHead(200, { "content-length": 0 });
      res.end();
      return;
    }
    if (path === "/v1/models") {
      if (method !== "GET") return sendJson(res, 405, { detail: "Method Not Allowed" });
      if (options.holdModels) await options.holdModels(rec);
      if (options.models) {
        const m = options.models;
        if (typeof m.body === "string") {
          res.writeHead(m.status, { "content-type": "application/json", ...m.headers, "content-length": Buffer.byteLength(m.body) });
          res.end(m.body);
        } else {
          sendJson(res, m.status, m.body, m.headers);
        }
        return;
      }
      const created = nowSeconds();
      return sendJson(res, 200, {
        object: "list",
        data: served().map((name) => ({
            id: name,
            object: "model",
            created,
            owned_by: "vllm",
            root: name,
            parent: null,
            max_model_len: options.maxModelLen,
            permission: [
              {
                id: randomId("modelperm"),
                object: "model_permission",
                created,
                allow_create_engine: false,
                allow_sampling: true,
                allow_logprobs: true,
                allow_search_indices: false,
                allow_view: true,
                allow_fine_tuning: false,
                organization: "*",
                group: null,
                is_blocking: false,
              },
            ],
          })),
      });
    }
    if (path === "/tokenize") {
      // vLLM's TokenizeCompletionRequest {model?, prompt, add_special_tokens} or TokenizeChatRequest
      // {model?, messages, ...}; the answer is TokenizeResponse.model_dump(): count, max_model_len,
      // tokens, token_strs (null unless return_token_strs).
      if (method !== "POST") return sendJson(res, 405, { detail: "Method Not Allowed" });
      const body = rec.body;
      if (badJson !== null || body === null || typeof body !== "object" || Array.isArray(body)) {
        return sendJson(res, 400, { error: { message: badJson !== null ? `JSON decode error: ${badJson}` : "Input should be a valid dictionary or object to extract fields from", type: "BadRequestError", param: null, code: 400 } });
      }
      if (unknownModel(body.model)) {
        return sendJson(res, 404, { error: { message: `The model \`${body.model}\` does not exist.`, type: "NotFoundError", param: "model", code: 404 } });
      }
      const text = typeof body.prompt === "string" ? body.prompt : chatPromptText(body.messages);
      if (text === null) return sendJson(res, 400, { error: { message: "Field required: prompt", type: "BadRequestError", param: null, code: 400 } });
      const tokens = fakeTokens(text);
      // add_special_tokens defaults to true: a BOS token first.
      const ids = [...(body.add_special_tokens === false ? [] : [151643]), ...tokens.map((t) => t.id)];
      return sendJson(res, 200, { count: ids.length, max_model_len: options.maxModelLen, tokens: ids, token_strs: body.return_token_strs === true ? tokens.map((t) => t.text) : null });
    }
    const isCompletions = path === "/v1/completions";
    const isChat = path === "/v1/chat/completions";
    if (!isCompletions && !isChat) return sendJson(res, 404, { detail: "Not Found" });
    if (method !== "POST") return sendJson(res, 405, { detail: "Method Not Allowed" });

    const bad = (/** @type {string} */ message, status = 400, type = "BadRequestError", param = /** @type {string|null} */ (null)) =>
      sendJson(res, status, { error: { message, type, param, code: status } });

    // --- Built-in vLLM checks, in vLLM's order ---------------------------------
    if (badJson !== null || rec.body === null || typeof rec.body !== "object" || Array.isArray(rec.body)) {
      return bad(badJson !== null ? `JSON decode error: ${badJson}` : "Input should be a valid dictionary or object to extract fields from");
    }
    const body = rec.body;
    // vLLM: a missing/empty model means the served model.
    if (unknownModel(body.model)) {
      return bad(`The model \`${body.model}\` does not exist.`, 404, "NotFoundError", "model");
    }
    /** @type {number} */
    let promptTokens;
    /** @type {number|null} */
    let maxTokens;
    if (isCompletions) {
      // vLLM checks `request.suffix is not None`, so an explicit null passes.
      if (body.suffix !== undefined && body.suffix !== null) return bad("suffix is not currently supported");
      const p = promptInfo(body.prompt);
      if (p === null) return bad("Either prompt or prompt_embeds must be provided and non-empty.");
      promptTokens = p.tokens;
      maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : COMPLETIONS_DEFAULT_MAX_TOKENS;
    } else {
      const text = chatPromptText(body.messages);
      if (text === null) return bad("Field required: messages");
      promptTokens = approxTokens(text);
      const mt = body.max_completion_tokens ?? body.max_tokens;
      maxTokens = typeof mt === "number" ? mt : null;
    }
    // Context length (prompt tokens estimated as ceil(chars / 4), see approxTokens).
    const requested = promptTokens + (maxTokens ?? 0);
    if (requested > options.maxModelLen) {
      return bad(
        `This model's maximum context length is ${options.maxModelLen} tokens. However, you requested ${requested} tokens (${promptTokens} in the messages, ${maxTokens ?? 0} in the completion). Please reduce the length of the messages or completion.`,
      );
    }

    // vLLM's SamplingParams check; chat requests are not asked for several choices here.
    const n = isCompletions && body.n !== undefined && body.n !== null ? body.n : 1;
    if (!Number.isInteger(n) || n < 1) return bad(`n must be at least 1, got ${n}.`);
    /** Log probabilities asked for: vLLM's `logprobs` (completions) takes a count of top tokens, 0 included. */
    const wantLogprobs = isCompletions && typeof body.logprobs === "number" && body.logprobs >= 0;

    // --- respond() -----------------------------------------------------------
    const reply = /** @type {Reply} */ (await options.respond(rec, 0));
    // A cut-off stream (`after` text, then a stall, a reset or a broken line) needs streaming;
    // without it the client sees only the stall or the reset, before any answer.
    const stream = body.stream === true;
    /** @type {BrokenReply | null} */
    const broken = reply && typeof reply === "object" && ("hang" in reply || "destroy" in reply || "malformed" in reply) ? /** @type {BrokenReply} */ (reply) : null;
    const cutMidStream = broken !== null && stream && (broken.after !== undefined || "malformed" in broken);
    if (broken && "hang" in broken && broken.hang && !cutMidStream) return; // answer nothing, ever
    await wait(options.latencyMs);
    if (res.destroyed || closing) return;
    if (broken && !cutMidStream) {
      // `destroy`, and `malformed` without streaming: the connection drops before any answer.
      req.socket.destroy();
      return;
    }
    if (reply && "status" in reply && "error" in reply) {
      return sendJson(res, reply.status, errorBody(reply.error, reply.status, reply.shape ?? "nested"), reply.headers);
    }

    if (reply && typeof reply === "object" && "toolCalls" in reply && Array.isArray(reply.toolCalls)) {
      if (!isChat) throw new Error("respond(): a toolCalls reply answers chat requests only");
      return toolCallsAnswer(/** @type {import("./vllm.js").ToolCallsReply} */ (reply), body, promptTokens, res, rec, stream);
    }
    const includeUsage = stream && body.stream_options?.include_usage === true;
    const id = randomId(isChat ? "chatcmpl" : "cmpl");
    const created = nowSeconds();
    const model = answeringModel(body.model);

    /** @type {{ text: string, chunks: string[], finishReason: "stop"|"length", stopReason: string|null } | null} */
    let out = null;
    /** @type {StreamErrorReply | null} */
    let streamErr = null;
    /** A dripping reply's wait before every chunk, the first included (TextReply.dripMs). @type {number | null} */
    let drip = null;
    if (reply && "streamError" in reply && reply.streamError) {
      streamErr = reply;
      const after = reply.after ?? "";
      out = { text: after, chunks: splitChunks(after), finishReason: "stop", stopReason: null };
    } else if (broken) {
      const after = broken.after ?? "";
      out = { text: after, chunks: splitChunks(after), finishReason: "stop", stopReason: null };
    } else {
      const r = /** @type {TextReply} */ (reply ?? { text: "" });
      out = shapeOutput(String(r.text ?? ""), r.chunks, r.finishReason, body, maxTokens);
      if (typeof r.dripMs === "number") drip = r.dripMs;
    }
    /** Every choice's output and its per-piece log probability: choice 0 is `out`; the others are asked of respond() by index. */
    const outs = [{ ...out, logprob: logprobOf(reply) }];
    if (!streamErr && !broken) {
      // A server that gives fewer choices than asked (or ignores `n`): `maxChoices`.
      const count = Math.min(n, options.maxChoices ?? n);
      for (let i = 1; i < count; i++) {
        const ri = /** @type {Reply} */ (await options.respond(rec, i));
        if (!ri || typeof ri !== "object" || !("text" in ri)) throw new Error(`respond() for choice ${i} must be a text reply`);
        outs.push({ ...shapeOutput(String(ri.text ?? ""), ri.chunks, ri.finishReason, body, maxTokens), logprob: logprobOf(ri) });
      }
    }
    const completionTokens = outs.reduce((sum, o) => sum + approxTokens(o.text), 0);
    const usage = { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens };

    if (!stream) {
      if (streamErr) {
        // Without streaming vLLM can only answer with an HTTP error.
        const info = streamErr.streamError;
        const status = typeof info.code === "number" ? info.code : 500;
        return sendJson(res, status, errorBody(info, status, streamErr.shape ?? "nested"));
      }
      // Total generation time matches the streamed case.
      const steps = Math.max(...outs.map((o) => o.chunks.length));
      await wait(drip !== null ? steps * drip : Math.max(0, steps - 1) * options.tokenIntervalMs);
      if (res.destroyed || closing) return;
      const choices = isChat ? undefined : outs.map((o, index) => ({ index, text: o.text, logprobs: wantLogprobs ? logprobsOf(o.chunks, o.logprob, 0) : null, finish_reason: o.finishReason, stop_reason: o.stopReason, prompt_logprobs: null }));
      const choice = isChat
        ? {
            index: 0,
            message: { role: "assistant", reasoning_content: null, content: out.text, tool_calls: [] },
            logprobs: null,
            finish_reason: out.finishReason,
            stop_reason: out.stopReason,
          }
        : { index: 0, text: out.text, logprobs: null, finish_reason: out.finishReason, stop_reason: out.stopReason, prompt_logprobs: null };
      const response = {
        id,
        object: isChat ? "chat.completion" : "text_completion",
        created,
        model,
        choices: choices ?? [choice],
        usage: { ...usage, prompt_tokens_details: null },
        ...(isChat ? { prompt_logprobs: null } : {}),
      };
      return sendJson(res, 200, response);
    }

    // --- Streaming -------------------------------------------------------------
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
    res.flushHeaders();
    const object = isChat ? "chat.completion.chunk" : "text_completion";
    /** @param {unknown} data */
    const send = (data) => {
      if (res.destroyed || closing) return false;
      res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
      return true;
    };
    /**
     * @param {string} text
     * @param {string|null} finish
     * @param {string|null} stopReason
     * @param {boolean} [role]
     * @param {number} [index] the choice
     * @param {object|null} [logprobs]
     */
    const chunk = (text, finish, stopReason, role = false, index = 0, logprobs = null) => ({
      id,
      object,
      created,
      model,
      choices: [
        isChat
          ? {
              index,
              delta: role ? { role: "assistant", content: text } : { content: text },
              logprobs: null,
              finish_reason: finish,
              ...(finish !== null ? { stop_reason: stopReason } : {}),
            }
          : { index, text, logprobs, finish_reason: finish, stop_reason: stopReason },
      ],
    });

    if (isChat && !send(chunk("", null, null, true))) return;
    const cut = streamErr !== null || broken !== null;
    const pieces = out.chunks.length > 0 ? out.chunks : cut ? [] : [""];
    // Several choices are generated side by side: each step sends the next piece of every choice
    // still going, one chunk per choice with its index; a choice's last piece carries its finish.
    const pieceLists = outs.map((o, i) => (i === 0 ? pieces : o.chunks.length > 0 ? o.chunks : [""]));
    const steps = Math.max(...pieceLists.map((p) => p.length));
    /** Characters of each choice sent so far (vLLM's text_offset counts from the prompt's end here). */
    const offsets = outs.map(() => 0);
    for (let i = 0; i < steps; i++) {
      if (i > 0 || drip !== null) {
        await wait(drip ?? options.tokenIntervalMs);
        if (options.pace) await options.pace(i, rec);
        if (res.destroyed || closing) return;
      }
      for (let c = 0; c < outs.length; c++) {
        const list = /** @type {string[]} */ (pieceLists[c]);
        if (i >= list.length) continue;
        const o = /** @type {typeof outs[number]} */ (outs[c]);
        const piece = list[i] ?? "";
        const last = i === list.length - 1 && !cut;
        const lp = wantLogprobs ? logprobsOf([piece], o.logprob, /** @type {number} */ (offsets[c])) : null;
        offsets[c] = /** @type {number} */ (offsets[c]) + piece.length;
        if (!send(chunk(piece, last ? o.finishReason : null, last ? o.stopReason : null, false, c, lp))) return;
      }
    }
    if (broken) {
      if (pieces.length > 0) await wait(options.tokenIntervalMs);
      if (res.destroyed || closing) return;
      if ("hang" in broken) return; // the stream stalls: headers and some chunks, then nothing
      if ("destroy" in broken) {
        req.socket.destroy(); // a reset in the middle of the stream: no [DONE], no chunked-encoding end
        return;
      }
      // A line that breaks the framing's JSON (what a cut-off or corrupting proxy lets through), then the end.
      if (!send(broken.malformed)) return;
      res.end();
      return;
    }
    if (streamErr) {
      if (pieces.length > 0) await wait(options.tokenIntervalMs);
      if (!send(streamErrorData(streamErr.streamError, streamErr.shape ?? "nested"))) return;
    } else if (includeUsage) {
      if (!send({ id, object, created, model, choices: [], usage })) return;
    }
    if (!send("[DONE]")) return;
    res.end();
  }

  /**
   * A chat answer with tool calls, as vLLM's serving_chat writes it with a tool parser: every chunk
   * `model_dump_json(exclude_unset=True)`, so a tool call's first piece carries id, type, index
   * and name (in that order), later ones only index and an arguments piece.
   * @param {import("./vllm.js").ToolCallsReply} reply @param {any} body @param {number} promptTokens
   * @param {http.ServerResponse} res @param {RecordedRequest} rec @param {boolean} stream
   */
  async function toolCallsAnswer(reply, body, promptTokens, res, rec, stream) {
    await wait(options.latencyMs);
    if (res.destroyed || closing) return;
    const id = randomId("chatcmpl");
    const created = nowSeconds();
    const model = answeringModel(body.model);
    const calls = reply.toolCalls.map((c) => ({ ...c, id: c.id ?? randomId("chatcmpl-tool") }));
    const text = reply.text ?? "";
    const completionTokens = approxTokens(text) + calls.reduce((n, c) => n + approxTokens((c.name ?? "") + c.arguments), 0);
    const usage = { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens };
    if (!stream) {
      return sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", reasoning_content: null, content: text === "" ? null : text, tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) },
            logprobs: null,
            finish_reason: "tool_calls",
            stop_reason: null,
          },
        ],
        usage: { ...usage, prompt_tokens_details: null },
        prompt_logprobs: null,
      });
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
    res.flushHeaders();
    /** @param {unknown} data */
    const send = (data) => {
      if (res.destroyed || closing) return false;
      res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
      return true;
    };
    /** @param {object} delta @param {string|null} [finish] */
    const chunk = (delta, finish = null) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...(finish !== null ? { stop_reason: null } : {}) }],
    });
    /** @type {object[]} */
    const deltas = [];
    for (const piece of splitChunks(text)) deltas.push({ content: piece });
    calls.forEach((c, index) => {
      deltas.push({ tool_calls: [{ id: c.id, type: "function", index, function: c.name === undefined ? {} : { name: c.name } }] });
      const pieces = c.chunks ?? (c.arguments.match(/[\s\S]{1,8}/g) ?? []);
      for (const p of pieces) deltas.push({ tool_calls: [{ index, function: { arguments: p } }] });
    });
    if (!send(chunk({ role: "assistant", content: "" }))) return;
    for (let i = 0; i < deltas.length; i++) {
      await wait(options.tokenIntervalMs);
      if (options.pace) await options.pace(i + 1, rec);
      if (res.destroyed || closing) return;
      if (!send(chunk(/** @type {object} */ (deltas[i])))) return;
    }
    if (!send(chunk({}, "tool_calls"))) return;
    if (stream && body.stream_options?.include_usage === true && !send({ id, object: "chat.completion.chunk", created, model, choices: [], usage })) return;
    if (!send("[DONE]")) return;
    res.end();
  }

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(undefined);
    });
  });
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  const port = address.port;

  /** @type {FakeVllm} */
  const fake = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    completions() {
      return requests.filter((r) => r.method === "POST" && r.path === "/v1/completions");
    },
    chats() {
      return requests.filter((r) => r.method === "POST" && r.path === "/v1/chat/completions");
    },
    set(partial) {
      Object.assign(options, stripUndefined(partial));
    },
    get options() {
      return { ...options };
    },
    waitFor(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const r of requests) {
            if (predicate(r)) {
              done();
              resolve(r);
              return true;
            }
          }
          return false;
        };
        const onUpdate = () => void check();
        const timer = setTimeout(() => {
          done();
          reject(new Error(`fake vllm: waitFor timed out after ${timeoutMs} ms (${requests.length} requests recorded)`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          events.off("update", onUpdate);
        };
        events.on("update", onUpdate);
        check();
      });
    },
    reset() {
      requests.length = 0;
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
  return fake;
}

// --- CLI -----------------------------------------------------------------------

/** The second model name the CLI's fake serves by default, so that two backends (tandem.compare) can point at it. */
export const DEMO_SECOND_MODEL = "Qwen/Qwen2.5-Coder-1.5B";

/** Languages whose line comment is `#` (the rest, as far as tandem's languages go, use `//`). */
const HASH_COMMENT = new Set(["python", "ruby", "shellscript", "sh", "bash", "perl", "r", "yaml", "toml", "elixir"]);

/**
 * The first fenced code block of a message (tandem's action prompts fence the code they send) and its language.
 * @param {string} text
 * @returns {{ lang: string, code: string } | null}
 */
function firstFence(text) {
  const m = /^(```|~~~~)([\w+#.-]*)\n([\s\S]*?)\n\1$/m.exec(text);
  return m ? { lang: m[2] ?? "", code: m[3] ?? "" } : null;
}

/**
 * The names a piece of code defines and the ones it calls, for a readable canned explanation.
 * @param {string} code
 */
function namesIn(code) {
  const defined = [...code.matchAll(/\b(?:def|function|func|fn|class|interface|struct|enum|type)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1] ?? "");
  const keywords = new Set(["if", "for", "while", "switch", "return", "catch", "function", "def", "print", "super", "typeof", "new", ...defined]);
  const called = [...new Set([...code.matchAll(/\b([A-Za-z_$][\w$]*)\s*\(/g)].map((m) => m[1] ?? ""))].filter((n) => !keywords.has(n));
  const recursive = defined.filter((d) => new RegExp(`\\b${d.replace(/\$/g, "\\$")}\\s*\\(`).test(code.slice(code.indexOf(d) + d.length)));
  return { defined, called, recursive };
}

/**
 * A SEARCH/REPLACE answer for one of tandem's edit actions that applies to the code it was sent:
 * a comment line put above the code's first line, in the code's language and indentation (a fake
 * edits nothing else, and a comment keeps any language's syntax valid).
 * @param {string} userText
 * @returns {string | null}
 */
function demoEdit(userText) {
  const fence = firstFence(userText);
  if (!fence) return null;
  const lines = fence.code.split("\n");
  const first = lines.find((l) => l.trim() !== "");
  if (first === undefined) return null;
  const lang = (/^Language: (\S+)/m.exec(userText)?.[1] ?? fence.lang).toLowerCase();
  const task = (/^Task: (.*)$/m.exec(userText)?.[1] ?? "").trim();
  const indent = /^[ \t]*/.exec(first)?.[0] ?? "";
  const mark = HASH_COMMENT.has(lang) ? "#" : "//";
  const { defined } = namesIn(fence.code);
  const subject = defined[0] ? `${defined[0]}: ` : "";
  const what = /documentation/i.test(task)
    ? `${subject}documented by tandem's demo backend (a real model writes what it does here)`
    : `${subject}${task.replace(/[.:].*$/, "").toLowerCase() || "edited"} (tandem's demo backend adds this note; a real model edits the code)`;
  return ["<<<<<<< SEARCH", first, "=======", `${indent}${mark} ${what}`, first, ">>>>>>> REPLACE"].join("\n");
}

/**
 * A readable Markdown paragraph about the code of an explain request, from what can be seen
 * without a model: its size, the names it defines and calls, recursion, branches, loops.
 * @param {string} userText
 * @param {string} model
 */
function demoExplain(userText, model) {
  const fences = [...userText.matchAll(/^(```|~~~~)([\w+#.-]*)\n([\s\S]*?)\n\1$/gm)];
  const code = fences.at(-1)?.[3] ?? "";
  const path = /code from (\S+?):/.exec(userText)?.[1] ?? "the file";
  const lines = code.split("\n").filter((l) => l.trim() !== "").length;
  const { defined, called, recursive } = namesIn(code);
  const parts = [];
  parts.push(defined.length > 0 ? `This ${lines}-line excerpt of \`${path}\` defines ${defined.map((d) => `\`${d}\``).join(", ")}.` : `This ${lines}-line excerpt of \`${path}\` defines no function or type of its own.`);
  if (recursive.length > 0) parts.push(`\`${recursive[0]}\` calls itself, so it works by recursion: each call hands a smaller problem to the next until the base case returns directly.`);
  if (/\bif\b/.test(code)) parts.push("A condition splits the work into a simple case answered at once and a general case.");
  if (/\b(for|while)\b/.test(code)) parts.push("A loop walks through the values one at a time.");
  if (/\breturn\b/.test(code) && recursive.length === 0) parts.push("It hands its result back with `return`.");
  if (called.length > 0) parts.push(`It relies on ${called.slice(0, 4).map((c) => `\`${c}\``).join(", ")}.`);
  return `${parts.join(" ")}\n\n_Written by tandem's demo backend (test/fake/vllm.js, model name \`${model}\`): it runs no model and reads only the code's shape. Point tandem at a real server (deploy/) for a real explanation._`;
}

/**
 * Deterministic stand-in for a model, used by the CLI (`npm run fake-vllm`). It is a FAKE: it
 * runs no model. Completions: at the start of a line it answers "return 42" indented like the
 * previous line (one level deeper after a line ending in ":" or "{"); in the middle of a line it
 * answers "42". FIM prompts (<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>) are judged by their
 * prefix. Chat: an edit action (SEARCH/REPLACE asked for by the system message) gets a block that
 * puts a comment above the code it was sent; an explanation gets a paragraph about the code's
 * shape; anything else a sentence saying what this server is.
 * @param {RecordedRequest} req
 * @returns {Reply}
 */
export function demoRespond(req) {
  const body = /** @type {any} */ (req.body);
  if (Array.isArray(body?.messages)) {
    /** @param {any} m */
    const text = (m) => (typeof m?.content === "string" ? m.content : Array.isArray(m?.content) ? m.content.map((/** @type {any} */ p) => p?.text ?? "").join("") : "");
    const system = text(body.messages.find((/** @type {any} */ m) => m?.role === "system"));
    const users = body.messages.filter((/** @type {any} */ m) => m?.role === "user").map(text);
    const model = typeof body.model === "string" && body.model ? body.model : DEFAULT_MODEL;
    if (/SEARCH\/REPLACE/.test(system)) {
      // A retry after a rejected edit repeats the first request's code: answer from that.
      const edit = demoEdit(users.find((u) => firstFence(u)) ?? "");
      if (edit) return { text: edit };
    }
    if (/^You explain code/.test(system)) return { text: demoExplain(users.at(-1) ?? "", model) };
    if (!/<\|fim_prefix\|>/.test(users.at(-1) ?? "")) return { text: `This is tandem's demo backend (\`${model}\`): it runs no model, so it cannot answer "${(users.at(-1) ?? "").split("\n")[0]?.slice(0, 80)}". Point tandem at a real server (deploy/) to chat.` };
  }
  /** @type {string} */
  let prompt = typeof body?.prompt === "string" ? body.prompt : "";
  if (Array.isArray(body?.messages)) prompt = String(body.messages.at(-1)?.content ?? "");
  const fim = /<\|fim_prefix\|>([\s\S]*?)<\|fim_suffix\|>/.exec(prompt);
  const prefix = fim?.[1] ?? prompt;
  const lines = prefix.split("\n");
  const current = lines[lines.length - 1] ?? "";
  if (current.trim() !== "") return { text: "42" };
  const prev = lines.slice(0, -1).reverse().find((l) => l.trim() !== "") ?? "";
  let indent = /^[ \t]*/.exec(prev)?.[0] ?? "";
  if (/[:{]\s*$/.test(prev)) indent += indent.includes("\t") ? "\t" : "    ";
  // The current (blank) line may already hold part of the indentation.
  const have = current;
  const rest = indent.startsWith(have) ? indent.slice(have.length) : "";
  return { text: `${rest}return 42\n` };
}

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string,string>} */
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (!a.startsWith("--")) throw new Error(`unexpected argument: ${a}`);
    const eq = a.indexOf("=");
    if (eq > 0) args[a.slice(2, eq)] = a.slice(eq + 1);
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new Error(`missing value for ${a}`);
      args[a.slice(2)] = v;
      i++;
    }
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const port = Number(args.port ?? 8000);
  const fake = await startFakeVllm({
    model: args.model,
    // Two names, so that two backends (tandem.compare) can point at one fake; --also-serve "" for one.
    alsoServe: (args["also-serve"] ?? DEMO_SECOND_MODEL).split(",").filter((m) => m !== ""),
    latencyMs: args.latency !== undefined ? Number(args.latency) : undefined,
    tokenIntervalMs: args["token-interval"] !== undefined ? Number(args["token-interval"]) : undefined,
    maxModelLen: args["max-model-len"] !== undefined ? Number(args["max-model-len"]) : undefined,
    respond: demoRespond,
    port,
  });
  process.stderr.write(`fake vllm (no model; answers are canned) serving ${[fake.options.model, ...(fake.options.alsoServe ?? [])].join(" and ")} at ${fake.url}\n`);
  const stop = () => {
    fake.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

const isMain = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (isMain) {
  main().catch((e) => {
    process.stderr.write(`fake vllm: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
