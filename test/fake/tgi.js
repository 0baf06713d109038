// @ts-check
/**
 * Loopback fake of Hugging Face Text Generation Inference (3.x router), for tests.
 *
 * It reproduces what a client can observe of TGI on /generate_stream, /v1/chat/completions,
 * /v1/completions (its `suffix` rejection), /info, /health and /v1/models: SSE framing with
 * `data:` and no space (axum's), token events `{"index","token":{id,text,logprob,special},
 * "generated_text":null,"details":null}` and a final event carrying `generated_text`, a matched
 * stop sequence left in the text, the end-of-text token as a special token, errors as
 * `{"error":"…","error_type":"…"}` in HTTP bodies and as `data:` events inside a 200 stream
 * (TGI reports its own validation that way: temperature 0, too many stop sequences, inputs over
 * max_input_tokens or max_total_tokens), axum's plain-text JSON rejections, and `--api-key`'s
 * bare 401. It runs no model: what each request answers is decided by the `respond` option.
 *
 * Token counts: 1 token = 4 characters, rounded up (see recorder.js).
 */

import { approxTokens, fakeTokens, playReply, sendText, shapeText, startRecorder, stripUndefined } from "./recorder.js";

/** @typedef {import("./tgi.js").FakeTgi} FakeTgi */
/** @typedef {import("./tgi.js").FakeTgiOptions} FakeTgiOptions */
/** @typedef {import("./recorder.js").RecordedRequest} RecordedRequest */
/** @typedef {import("./recorder.js").Reply} Reply */
/** @typedef {import("./recorder.js").TextReply} TextReply */

export const DEFAULT_MODEL = "Qwen/Qwen2.5-Coder-7B";
const VERSION = "3.3.6";
/** The end-of-text token the fake "generates" when a reply ends on its own. */
const EOS = { id: 151643, text: "<|endoftext|>" };

/** The text's token ids: stable fakes, one per piece. */
function tokenId(/** @type {number} */ i) {
  return 1000 + i;
}

/**
 * @param {FakeTgiOptions} [initial]
 * @returns {Promise<FakeTgi>}
 */
export async function startFakeTgi(initial = {}) {
  /** @type {Required<Pick<FakeTgiOptions, "model"|"maxInputTokens"|"maxTotalTokens"|"maxStopSequences"|"healthy"|"latencyMs"|"tokenIntervalMs"|"respond">> & FakeTgiOptions} */
  const options = {
    model: DEFAULT_MODEL,
    maxInputTokens: 7680,
    maxTotalTokens: 8192,
    maxStopSequences: 4,
    healthy: true,
    latencyMs: 0,
    tokenIntervalMs: 0,
    respond: () => ({ text: "" }),
    ...stripUndefined(initial),
  };

  /** @param {import("node:http").ServerResponse} res @param {number} status @param {unknown} body @param {Record<string,string>} [headers] */
  const sendJson = (res, status, body, headers) => sendText(res, status, JSON.stringify(body), "application/json", headers);
  /** TGI's ErrorResponse. @param {string} error @param {string} errorType */
  const errorBody = (error, errorType) => ({ error, error_type: errorType });
  /** One SSE event as axum writes it: `data:` with no space. @param {unknown} data */
  const sse = (data) => `data:${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

  const recorder = await startRecorder({
    name: "tgi",
    port: options.port,
    tls: options.tls,
    async handle(rec, ctx) {
      const { res } = ctx;
      const { method, path } = rec;
      res.setHeader("x-compute-type", "gpu+optimized");
      // --api-key guards the generation routes only; axum answers a bare 401.
      const guarded = path === "/generate_stream" || path === "/generate" || path === "/v1/chat/completions" || path === "/v1/completions";
      if (guarded && options.apiKey !== undefined && String(rec.headers.authorization ?? "").toLowerCase() !== `bearer ${options.apiKey}`.toLowerCase()) {
        res.writeHead(401, { "content-length": 0 });
        res.end();
        return;
      }
      if (method === "GET" && path === "/health") {
        if (!options.healthy) return sendJson(res, 503, errorBody("unhealthy", "healthcheck"));
        res.writeHead(200, { "content-length": 0 });
        res.end();
        return;
      }
      if (method === "GET" && path === "/info") {
        if (options.holdInfo) await options.holdInfo(rec);
        return sendJson(res, 200, {
          model_id: options.model,
          model_sha: null,
          model_pipeline_tag: "text-generation",
          max_concurrent_requests: 128,
          max_best_of: 2,
          max_stop_sequences: options.maxStopSequences,
          max_input_tokens: options.maxInputTokens,
          max_total_tokens: options.maxTotalTokens,
          validation_workers: 2,
          max_client_batch_size: 4,
          router: "text-generation-router",
          version: VERSION,
          sha: null,
          docker_label: null,
        });
      }
      if (method === "GET" && path === "/v1/models") {
        return sendJson(res, 200, { object: "list", data: [{ id: options.model, object: "model", created: 0, owned_by: options.model }] });
      }
      if (method === "POST" && path === "/tokenize") {
        // TGI's /tokenize takes a GenerateRequest ({inputs, parameters?, add_special_tokens?}) and
        // answers one {id, text, start, stop} per token (start/stop: character offsets in inputs).
        const body = rec.body;
        if (!body || typeof body !== "object" || typeof body.inputs !== "string") return sendJson(res, 422, errorBody("Failed to deserialize the JSON body into the target type: missing field `inputs`", "validation"));
        return sendJson(res, 200, fakeTokens(body.inputs).map((t) => ({ id: t.id, text: t.text, start: t.start, stop: t.stop })));
      }
      const isGenerate = path === "/generate_stream";
      const isChat = path === "/v1/chat/completions";
      if (path === "/v1/completions" && method === "POST") {
        if (rec.body && typeof rec.body === "object" && rec.body.suffix !== undefined && rec.body.suffix !== null) {
          return sendJson(res, 422, errorBody("Suffix is not supported and can be achieved by preprocessing the prompt.", "suffix not supported"));
        }
        return sendJson(res, 501, errorBody("fake tgi: /v1/completions is not faked beyond its suffix check", "fake"));
      }
      if (!isGenerate && !isChat) {
        res.writeHead(method === "GET" || method === "POST" ? 404 : 405, { "content-length": 0 });
        res.end();
        return;
      }
      if (method !== "POST") {
        res.writeHead(405, { "content-length": 0 });
        res.end();
        return;
      }
      // axum's Json extractor: a syntax error is 400, a body of the wrong shape 422, both plain text.
      if (ctx.badJson !== null) return sendText(res, 400, `Failed to parse the request body as JSON: ${ctx.badJson}`, "text/plain; charset=utf-8");
      const body = rec.body;
      if (isGenerate && (typeof body?.inputs !== "string")) return sendText(res, 422, "Failed to deserialize the JSON body into the target type: missing field `inputs` at line 1 column 2", "text/plain; charset=utf-8");
      if (isChat && !Array.isArray(body?.messages)) return sendText(res, 422, "Failed to deserialize the JSON body into the target type: missing field `messages` at line 1 column 2", "text/plain; charset=utf-8");

      const params = isGenerate ? (body.parameters ?? {}) : body;
      const inputs = isGenerate ? body.inputs : body.messages.map((/** @type {any} */ m) => (typeof m?.content === "string" ? m.content : "")).join("");
      const inputTokens = approxTokens(inputs);
      const maxNew = isGenerate ? params.max_new_tokens : (params.max_completion_tokens ?? params.max_tokens);
      const stops = Array.isArray(params.stop) ? params.stop : [];
      const temperature = params.temperature;

      // TGI's validation happens inside the stream: a 200 whose only event is the error.
      /** @type {string|null} */
      let invalid = null;
      if (isGenerate && typeof temperature === "number" && temperature <= 0) invalid = "`temperature` must be strictly positive";
      else if (typeof maxNew === "number" && maxNew <= 0) invalid = "`max_new_tokens` must be strictly positive";
      else if (stops.length > options.maxStopSequences) invalid = `\`stop\` supports up to ${options.maxStopSequences} stop sequences. Given: ${stops.length}`;
      else if (isGenerate && inputs.length === 0) invalid = "`inputs` cannot be empty";
      else if (inputTokens > options.maxInputTokens) invalid = `\`inputs\` must have less than ${options.maxInputTokens} tokens. Given: ${inputTokens}`;
      else if (typeof maxNew === "number" && inputTokens + maxNew > options.maxTotalTokens) invalid = `\`inputs\` tokens + \`max_new_tokens\` must be <= ${options.maxTotalTokens}. Given: ${inputTokens} \`inputs\` tokens and ${maxNew} \`max_new_tokens\``;
      if (invalid !== null) {
        await ctx.wait(options.latencyMs);
        if (res.destroyed || ctx.closing()) return;
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
        res.end(sse(errorBody(`Input validation error: ${invalid}`, "validation")));
        return;
      }
      // TGI 3 fills a missing max_new_tokens up to max_total_tokens.
      const limit = typeof maxNew === "number" ? maxNew : options.maxTotalTokens - inputTokens;

      const reply = /** @type {Reply} */ ((await options.respond(rec)) ?? { text: "" });
      const created = Math.floor(Date.now() / 1000);
      const details = isGenerate && params.details === true;
      /** @type {import("./recorder.js").Frame} */
      const frame = {
        head() {
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
          res.flushHeaders();
        },
        httpError(r) {
          sendJson(res, r.status, errorBody(r.error.message, r.error.type ?? defaultErrorType(r.status)), r.headers);
        },
        done(r) {
          const shaped = shapeText(String(r.text ?? ""), r.chunks, stops, limit, true);
          const reason = shaped.reason === "eos" && r.finishReason === "length" ? "length" : shaped.reason;
          if (isChat) return chatEvents(shaped.chunks, reason === "length" ? "length" : "stop", inputTokens, approxTokens(shaped.text), body.stream_options?.include_usage === true);
          /** @type {string[]} */
          const out = [];
          const pieces = shaped.chunks;
          const finishReason = reason === "length" ? "length" : reason === "stop" ? "stop_sequence" : "eos_token";
          const final = (/** @type {any} */ token, /** @type {number} */ index, /** @type {number} */ generated) => ({
            index,
            token,
            generated_text: shaped.text,
            details: details ? { finish_reason: finishReason, generated_tokens: generated, seed: null, input_length: inputTokens } : null,
          });
          // With end of text the final event carries the special EOS token; otherwise the last piece.
          const endsWithEos = reason === "eos" || pieces.length === 0;
          for (let i = 0; i < pieces.length; i++) {
            const token = { id: tokenId(i), text: pieces[i], logprob: -0.25, special: false };
            if (i === pieces.length - 1 && !endsWithEos) out.push(sse(final(token, i + 1, pieces.length)));
            else out.push(sse({ index: i + 1, token, generated_text: null, details: null }));
          }
          if (endsWithEos) out.push(sse(final({ id: EOS.id, text: EOS.text, logprob: -0.01, special: true }, pieces.length + 1, pieces.length + 1)));
          return out;
        },
        pieces(pieces) {
          if (isChat) return pieces.map((p) => sse(chatChunk({ content: p }, null)));
          return pieces.map((p, i) => sse({ index: i + 1, token: { id: tokenId(i), text: p, logprob: -0.25, special: false }, generated_text: null, details: null }));
        },
        error(info) {
          return sse(errorBody(info.message, info.type ?? "generation"));
        },
        malformed(raw) {
          return `data:${raw}\n\n`;
        },
        tail() {
          return isChat ? sse("[DONE]") : "";
        },
      };

      /** TGI writes the role in every delta. @param {Record<string, unknown>} delta @param {string|null} finish */
      function chatChunk(delta, finish) {
        return {
          object: "chat.completion.chunk",
          id: "",
          created,
          model: options.model,
          system_fingerprint: `${VERSION}-native`,
          choices: [{ index: 0, delta: { role: "assistant", ...delta }, logprobs: null, finish_reason: finish }],
          usage: null,
        };
      }
      /** @param {string[]} pieces @param {string} finish @param {number} promptTokens @param {number} completionTokens @param {boolean} withUsage */
      function chatEvents(pieces, finish, promptTokens, completionTokens, withUsage) {
        const out = pieces.map((p) => sse(chatChunk({ content: p }, null)));
        out.push(sse(chatChunk({ content: "" }, finish)));
        if (withUsage) {
          out.push(sse({ object: "chat.completion.chunk", id: "", created, model: options.model, system_fingerprint: `${VERSION}-native`, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens } }));
        }
        return out;
      }

      if (isChat && reply && typeof reply === "object" && "toolCalls" in reply && Array.isArray(reply.toolCalls)) {
        // TGI 3 (router/src/chat.rs): the model writes {"function": {"_name": NAME, ...arguments}}
        // under a grammar; once the name parses, one delta carries it with arguments "{", later ones
        // `"name": null` and the raw argument tokens (the call's closing brace trimmed). One call
        // only (index 0), its id empty, the role in every delta; the last token's finish reason is
        // the plain "stop".
        const call = /** @type {any} */ (reply.toolCalls[0]);
        const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments);
        const rest = args.startsWith("{") ? args.slice(1) : args;
        const pieces = rest.match(/[\s\S]{1,4}/g) ?? [];
        const delta = (/** @type {string|null} */ name, /** @type {string} */ piece) => ({ tool_calls: [{ index: 0, id: call.id ?? "", type: "function", function: { name, arguments: piece } }] });
        await ctx.wait(options.latencyMs);
        if (res.destroyed || ctx.closing()) return;
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
        res.flushHeaders();
        res.write(sse(chatChunk(delta(call.name ?? null, "{"), pieces.length === 0 ? "stop" : null)));
        for (let i = 0; i < pieces.length; i++) {
          await ctx.wait(options.tokenIntervalMs);
          if (res.destroyed || ctx.closing()) return;
          res.write(sse(chatChunk(delta(null, /** @type {string} */ (pieces[i])), i === pieces.length - 1 ? "stop" : null)));
        }
        if (body.stream_options?.include_usage === true) {
          const n = pieces.length + 1;
          res.write(sse({ object: "chat.completion.chunk", id: "", created, model: options.model, system_fingerprint: `${VERSION}-native`, choices: [], usage: { prompt_tokens: inputTokens, completion_tokens: n, total_tokens: inputTokens + n } }));
        }
        res.end(sse("[DONE]"));
        return;
      }
      await playReply(ctx, reply, options, frame);
    },
  });

  /** @type {FakeTgi} */
  const fake = {
    url: recorder.url,
    port: recorder.port,
    requests: recorder.requests,
    completions() {
      return recorder.requests.filter((r) => r.method === "POST" && r.path === "/generate_stream");
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

/** @param {number} status */
function defaultErrorType(status) {
  if (status === 422) return "validation";
  if (status === 424) return "generation";
  if (status === 429) return "overloaded";
  if (status === 500) return "incomplete_generation";
  return "generation";
}

