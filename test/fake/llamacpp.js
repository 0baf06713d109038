// @ts-check
/**
 * Loopback fake of llama.cpp's llama-server, for tests.
 *
 * It reproduces what a client can observe of llama-server on /infill, /completion,
 * /v1/chat/completions, /props, /health and /v1/models: SSE framing `data: {…}\n\n` with the
 * server's key order (partial chunks `{"index","content","tokens","stop":false,"id_slot",
 * "tokens_predicted","tokens_evaluated"}`, a final `"stop":true` chunk with `stop_type`
 * eos/limit/word and no `[DONE]` on the native routes; OpenAI chunks and `[DONE]` on the chat
 * route), /infill's checks (`input_extra` entries `{filename, text}`, a model without FIM tokens is
 * a 501), the context-size check (`exceed_context_size_error` with `n_prompt_tokens` and `n_ctx`),
 * `--api-key`, errors as `{"error":{"code","message","type"}}` in HTTP bodies and inside the
 * stream (as `data: {"error":…}`, or as releases before mid-2025 wrote it, a bare `error: {…}`
 * line), and the 503 of a model still loading. It runs no model: what each request answers is
 * decided by the `respond` option.
 *
 * Token counts: 1 token = 4 characters, rounded up (see recorder.js).
 */

import { randomBytes } from "node:crypto";
import { approxTokens, fakeTokens, playReply, sendText, shapeText, startRecorder, stripUndefined } from "./recorder.js";

/** @typedef {import("./llamacpp.js").FakeLlamaCpp} FakeLlamaCpp */
/** @typedef {import("./llamacpp.js").FakeLlamaCppOptions} FakeLlamaCppOptions */
/** @typedef {import("./recorder.js").Reply} Reply */

export const DEFAULT_MODEL_PATH = "/models/qwen2.5-coder-1.5b-q8_0.gguf";
const BUILD = "b6500-fake";

/** The error types of llama-server's format_error_response, by HTTP status. */
const ERROR_TYPES = /** @type {Record<number, string>} */ ({
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  500: "server_error",
  501: "not_supported_error",
  503: "unavailable_error",
});

/**
 * @param {FakeLlamaCppOptions} [initial]
 * @returns {Promise<FakeLlamaCpp>}
 */
export async function startFakeLlamaCpp(initial = {}) {
  /** @type {Required<Pick<FakeLlamaCppOptions, "modelPath"|"nCtx"|"propsShape"|"loading"|"fim"|"errorFraming"|"latencyMs"|"tokenIntervalMs"|"respond">> & FakeLlamaCppOptions} */
  const options = {
    modelPath: DEFAULT_MODEL_PATH,
    nCtx: 4096,
    propsShape: "nested",
    loading: false,
    fim: true,
    errorFraming: "data",
    latencyMs: 0,
    tokenIntervalMs: 0,
    respond: () => ({ text: "" }),
    ...stripUndefined(initial),
  };

  /** @param {import("node:http").ServerResponse} res @param {number} status @param {unknown} body @param {Record<string,string>} [headers] */
  const sendJson = (res, status, body, headers) => sendText(res, status, JSON.stringify(body), "application/json; charset=utf-8", headers);
  /** @param {string} message @param {number} code @param {string} [type] @param {Record<string, unknown>} [extra] */
  const errorBody = (message, code, type, extra = {}) => ({ error: { code, message, type: type ?? ERROR_TYPES[code] ?? "server_error", ...extra } });
  const modelName = () => options.alias ?? options.modelPath.split("/").pop() ?? "model";

  const recorder = await startRecorder({
    name: "llama.cpp",
    port: options.port,
    tls: options.tls,
    async handle(rec, ctx) {
      const { res } = ctx;
      const { method, path } = rec;
      res.setHeader("server", "llama.cpp");
      const open = path === "/health" || path === "/v1/health" || path === "/models" || path === "/v1/models";
      if (!open && options.apiKey !== undefined && rec.headers.authorization !== `Bearer ${options.apiKey}` && rec.headers["x-api-key"] !== options.apiKey) {
        return sendJson(res, 401, errorBody("Invalid API Key", 401));
      }
      if (method === "GET" && (path === "/health" || path === "/v1/health")) {
        if (options.loading) return sendJson(res, 503, errorBody("Loading model", 503));
        return sendJson(res, 200, { status: "ok" });
      }
      if (options.loading) return sendJson(res, 503, errorBody("Loading model", 503));
      if (method === "GET" && path === "/props") {
        const settings = { n_ctx: options.nCtx, params: { n_predict: -1, temperature: 0.8, top_k: 40, top_p: 0.95, stream: true }, n_discard: 0, speculative: false };
        if (options.propsShape === "flat") return sendJson(res, 200, { n_ctx: options.nCtx, model_path: options.modelPath, total_slots: 1 });
        return sendJson(res, 200, {
          default_generation_settings: { id: 0, id_task: -1, ...settings, is_processing: false },
          total_slots: 1,
          model_alias: options.alias ?? options.modelPath,
          model_path: options.modelPath,
          modalities: { vision: false, audio: false },
          chat_template: "{%- for message in messages %}{{ message.content }}{%- endfor %}",
          bos_token: "<|endoftext|>",
          eos_token: "<|endoftext|>",
          build_info: BUILD,
        });
      }
      if (method === "GET" && (path === "/models" || path === "/v1/models")) {
        return sendJson(res, 200, {
          models: [{ name: modelName(), model: modelName(), modified_at: "", size: "", digest: "", type: "model", description: "", tags: [""], capabilities: ["completion"], parameters: "", details: { parent_model: "", format: "gguf", family: "", families: [""], parameter_size: "", quantization_level: "" } }],
          object: "list",
          data: [{ id: modelName(), object: "model", created: Math.floor(Date.now() / 1000), owned_by: "llamacpp", meta: { vocab_type: 2, n_vocab: 151936, n_ctx_train: 32768, n_embd: 1536, n_params: 1543714304, size: 1646969856 } }],
        });
      }
      if (method === "POST" && path === "/tokenize") {
        // llama-server: {content, add_special?, with_pieces?} -> {"tokens": [ids]} (with pieces: [{id, piece}]).
        if (ctx.badJson !== null) return sendJson(res, 500, errorBody(`[json.exception.parse_error.101] parse error: ${ctx.badJson}`, 500));
        const body = rec.body ?? {};
        const content = typeof body.content === "string" ? body.content : "";
        const tokens = fakeTokens(content);
        const ids = [...(body.add_special === true ? [151643] : []), ...tokens.map((t) => t.id)];
        return sendJson(res, 200, { tokens: body.with_pieces === true ? tokens.map((t) => ({ id: t.id, piece: t.text })) : ids });
      }
      const isInfill = path === "/infill";
      const isCompletion = path === "/completion" || path === "/completions";
      const isChat = path === "/v1/chat/completions" || path === "/chat/completions";
      if (!isInfill && !isCompletion && !isChat) return sendJson(res, 404, errorBody("File Not Found", 404));
      if (method !== "POST") return sendJson(res, 404, errorBody("File Not Found", 404));
      if (ctx.badJson !== null) return sendJson(res, 500, errorBody(`[json.exception.parse_error.101] parse error: ${ctx.badJson}`, 500));
      const body = rec.body ?? {};

      /** @type {string} */
      let promptText;
      if (isInfill) {
        if (!options.fim) return sendJson(res, 501, errorBody("Infill is not supported by this model: prefix token is missing. suffix token is missing. middle token is missing. ", 501));
        const extra = body.input_extra ?? [];
        const validExtra = Array.isArray(extra) && extra.every((/** @type {any} */ e) => e && typeof e === "object" && typeof e.filename === "string" && typeof e.text === "string");
        if (!validExtra) return sendJson(res, 400, errorBody('"input_extra" must be an array of {"filename": string, "text": string}', 400));
        promptText = extra.map((/** @type {any} */ e) => `${e.filename}\n${e.text}`).join("") + String(body.input_prefix ?? "") + String(body.input_suffix ?? "") + String(body.prompt ?? "");
      } else if (isCompletion) {
        if (typeof body.prompt !== "string" && !Array.isArray(body.prompt)) return sendJson(res, 400, errorBody('"prompt" must be provided', 400));
        promptText = Array.isArray(body.prompt) ? body.prompt.join("") : body.prompt;
      } else {
        if (!Array.isArray(body.messages)) return sendJson(res, 400, errorBody("'messages' is required", 400));
        promptText = body.messages.map((/** @type {any} */ m) => String(m?.content ?? "")).join("\n");
      }
      const promptTokens = approxTokens(promptText);
      if (promptTokens >= options.nCtx) {
        return sendJson(res, 400, errorBody("the request exceeds the available context size, try increasing it", 400, "exceed_context_size_error", { n_prompt_tokens: promptTokens, n_ctx: options.nCtx }));
      }
      const nPredict = isChat ? (body.max_completion_tokens ?? body.max_tokens) : body.n_predict;
      const maxTokens = typeof nPredict === "number" && nPredict >= 0 ? nPredict : null;
      const stops = Array.isArray(body.stop) ? body.stop : [];
      const stream = body.stream === true;

      const reply = /** @type {Reply} */ ((await options.respond(rec)) ?? { text: "" });
      const created = Math.floor(Date.now() / 1000);
      const id = `chatcmpl-${randomBytes(16).toString("hex")}`;
      const timings = (/** @type {number} */ n) => ({ prompt_n: promptTokens, prompt_ms: 12.5, prompt_per_token_ms: 0.5, prompt_per_second: 2000, predicted_n: n, predicted_ms: n * 10, predicted_per_token_ms: 10, predicted_per_second: 100 });
      /** @param {string} piece @param {number} i */
      const partial = (piece, i) => ({ index: 0, content: piece, tokens: [], stop: false, id_slot: 0, tokens_predicted: i + 1, tokens_evaluated: promptTokens });
      /** @param {string} content @param {number} n @param {"eos"|"limit"|"word"} stopType @param {string} word */
      const final = (content, n, stopType, word) => ({
        index: 0,
        content,
        tokens: [],
        id_slot: 0,
        stop: true,
        model: modelName(),
        tokens_predicted: n,
        tokens_evaluated: promptTokens,
        generation_settings: { n_predict: maxTokens ?? -1, temperature: body.temperature ?? 0.8, stop: stops, stream },
        prompt: isInfill ? "<|fim_prefix|>…<|fim_middle|>" : promptText.slice(0, 40),
        has_new_line: content.includes("\n"),
        truncated: false,
        stop_type: stopType,
        stopping_word: word,
        tokens_cached: promptTokens + n,
        timings: timings(n),
      });
      /** @param {unknown} data */
      const sse = (data) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
      /** @param {Record<string, unknown>} delta @param {string|null} finish */
      const chatChunk = (delta, finish) => ({ choices: [{ finish_reason: finish, index: 0, delta }], created, id, model: modelName(), system_fingerprint: BUILD, object: "chat.completion.chunk" });

      if (isChat && reply && typeof reply === "object" && "toolCalls" in reply && Array.isArray(reply.toolCalls)) {
        // llama-server with --jinja parses the model's tool calls and streams them as diffs
        // (common_chat_msg_diff_to_json_oaicompat): {index, id, type, function: {name, arguments}}
        // when a call starts, {index, function: {arguments}} after; then finish_reason "tool_calls".
        await ctx.wait(options.latencyMs);
        if (res.destroyed || ctx.closing()) return;
        const calls = reply.toolCalls.map((/** @type {any} */ c) => ({ id: c.id ?? randomBytes(16).toString("hex").slice(0, 32), name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments) }));
        const n = calls.reduce((/** @type {number} */ k, /** @type {any} */ c) => k + approxTokens(c.arguments), 0);
        const usage = { completion_tokens: n, prompt_tokens: promptTokens, total_tokens: n + promptTokens };
        if (!stream) {
          return sendJson(res, 200, {
            choices: [{ finish_reason: "tool_calls", index: 0, message: { role: "assistant", content: null, tool_calls: calls.map((/** @type {any} */ c) => ({ type: "function", function: { name: c.name, arguments: c.arguments }, id: c.id })) } }],
            created,
            model: modelName(),
            system_fingerprint: BUILD,
            object: "chat.completion",
            usage,
            id,
          });
        }
        res.writeHead(200, { "content-type": "text/event-stream", "keep-alive": "timeout=5, max=100" });
        res.flushHeaders();
        res.write(sse(chatChunk({ role: "assistant", content: null }, null)));
        for (let index = 0; index < calls.length; index++) {
          const c = calls[index];
          const pieces = c.arguments.match(/[\s\S]{1,8}/g) ?? [""];
          for (let i = 0; i < pieces.length; i++) {
            await ctx.wait(options.tokenIntervalMs);
            if (res.destroyed || ctx.closing()) return;
            const fn = i === 0 ? { ...(c.name !== undefined ? { name: c.name } : {}), arguments: pieces[i] } : { arguments: pieces[i] };
            res.write(sse(chatChunk({ tool_calls: [{ index, ...(i === 0 ? { id: c.id, type: "function" } : {}), function: fn }] }, null)));
          }
        }
        res.write(sse(chatChunk({}, "tool_calls")));
        if (body.stream_options?.include_usage === true) res.write(sse({ choices: [], created, id, model: modelName(), system_fingerprint: BUILD, object: "chat.completion.chunk", usage }));
        res.end(sse("[DONE]"));
        return;
      }
      if (!stream && "text" in reply) {
        await ctx.wait(options.latencyMs);
        if (res.destroyed || ctx.closing()) return;
        const shaped = shapeText(String(reply.text ?? ""), reply.chunks, stops, maxTokens, false);
        const stopType = shaped.reason === "length" || (shaped.reason === "eos" && reply.finishReason === "length") ? "limit" : shaped.reason === "stop" ? "word" : "eos";
        if (isChat) {
          return sendJson(res, 200, {
            choices: [{ finish_reason: stopType === "limit" ? "length" : "stop", index: 0, message: { role: "assistant", content: shaped.text } }],
            created,
            model: modelName(),
            system_fingerprint: BUILD,
            object: "chat.completion",
            usage: { completion_tokens: shaped.chunks.length, prompt_tokens: promptTokens, total_tokens: shaped.chunks.length + promptTokens },
            id,
          });
        }
        return sendJson(res, 200, final(shaped.text, shaped.chunks.length, stopType, shaped.stop ?? ""));
      }

      /** @type {import("./recorder.js").Frame} */
      const frame = {
        head() {
          res.writeHead(200, { "content-type": "text/event-stream", "keep-alive": "timeout=5, max=100" });
          res.flushHeaders();
        },
        httpError(r) {
          sendJson(res, r.status, errorBody(r.error.message, r.status, r.error.type), r.headers);
        },
        done(r) {
          const shaped = shapeText(String(r.text ?? ""), r.chunks, stops, maxTokens, false);
          const stopType = shaped.reason === "length" || (shaped.reason === "eos" && r.finishReason === "length") ? "limit" : shaped.reason === "stop" ? "word" : "eos";
          if (isChat) {
            const out = [sse(chatChunk({ role: "assistant", content: null }, null))];
            for (const p of shaped.chunks) out.push(sse(chatChunk({ content: p }, null)));
            out.push(sse(chatChunk({}, stopType === "limit" ? "length" : "stop")));
            if (body.stream_options?.include_usage === true) {
              out.push(sse({ choices: [], created, id, model: modelName(), system_fingerprint: BUILD, object: "chat.completion.chunk", usage: { completion_tokens: shaped.chunks.length, prompt_tokens: promptTokens, total_tokens: shaped.chunks.length + promptTokens } }));
            }
            return out;
          }
          return [...shaped.chunks.map((p, i) => sse(partial(p, i))), sse(final("", shaped.chunks.length, stopType, shaped.stop ?? ""))];
        },
        pieces(pieces) {
          if (isChat) return pieces.map((p, i) => sse(chatChunk(i === 0 ? { role: "assistant", content: p } : { content: p }, null)));
          return pieces.map((p, i) => sse(partial(p, i)));
        },
        error(info) {
          const err = errorBody(info.message, info.code ?? 500, info.type);
          return options.errorFraming === "legacy" ? `error: ${JSON.stringify(err.error)}\n\n` : sse(err);
        },
        malformed(raw) {
          return `data: ${raw}\n\n`;
        },
        tail() {
          return isChat ? sse("[DONE]") : "";
        },
      };
      await playReply(ctx, reply, options, frame);
    },
  });

  /** @type {FakeLlamaCpp} */
  const fake = {
    url: recorder.url,
    port: recorder.port,
    requests: recorder.requests,
    completions() {
      return recorder.requests.filter((r) => r.method === "POST" && (r.path === "/infill" || r.path === "/completion"));
    },
    set(partial) {
      Object.assign(options, stripUndefined(partial));
    },
    get options() {
      return { ...options };
    },
    waitFor: recorder.waitFor,
    reset: recorder.reset,
    close: recorder.close,
  };
  return fake;
}
