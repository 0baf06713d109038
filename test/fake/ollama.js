// @ts-check
/**
 * Loopback fake of Ollama's HTTP API, for tests.
 *
 * It reproduces what a client can observe of `ollama serve` on /api/generate, /api/chat,
 * /api/show, /api/tags and /api/version: NDJSON streams (`application/x-ndjson`, one object per
 * line, `{"model","created_at","response","done":false}` … a last line with `"done":true`,
 * `done_reason` and the counts), `suffix` only for models with the `insert` capability, `raw`
 * prompts, `options.num_ctx` (a prompt longer than it is cut from the front, silently, as Ollama
 * does; the request is marked `truncated`), `keep_alive`, errors as `{"error":"…"}` with an HTTP
 * status or as an NDJSON line. It runs no model: what each request answers is decided by the
 * `respond` option.
 *
 * Token counts: 1 token = 4 characters, rounded up (see recorder.js).
 */

import { randomBytes } from "node:crypto";
import { approxTokens, playReply, sendText, shapeText, startRecorder, stripUndefined } from "./recorder.js";

/** @typedef {import("./ollama.js").FakeOllama} FakeOllama */
/** @typedef {import("./ollama.js").FakeOllamaOptions} FakeOllamaOptions */
/** @typedef {import("./ollama.js").OllamaRecordedRequest} OllamaRecordedRequest */
/** @typedef {import("./recorder.js").Reply} Reply */

export const DEFAULT_MODEL = "qwen2.5-coder:1.5b-base";
const VERSION = "0.12.6";
/** Ollama's num_ctx when neither the request nor the Modelfile sets one. */
const DEFAULT_NUM_CTX = 4096;

/**
 * @param {FakeOllamaOptions} [initial]
 * @returns {Promise<FakeOllama>}
 */
export async function startFakeOllama(initial = {}) {
  /** @type {Required<Pick<FakeOllamaOptions, "model"|"capabilities"|"contextLength"|"architecture"|"latencyMs"|"tokenIntervalMs"|"respond">> & FakeOllamaOptions} */
  const options = {
    model: DEFAULT_MODEL,
    capabilities: ["completion", "insert"],
    contextLength: 32768,
    numCtx: 4096,
    architecture: "qwen2",
    latencyMs: 0,
    tokenIntervalMs: 0,
    respond: () => ({ text: "" }),
    ...stripUndefined(initial),
  };

  /** Go's JSON: compact, with a newline after each value. @param {import("node:http").ServerResponse} res @param {number} status @param {unknown} body @param {Record<string,string>} [headers] */
  const sendJson = (res, status, body, headers) => sendText(res, status, JSON.stringify(body), "application/json; charset=utf-8", headers);
  const now = () => new Date().toISOString().replace("Z", "000Z");

  /** The model a request names, resolved like Ollama: a missing tag means ":latest". @param {unknown} name */
  function resolve(name) {
    if (typeof name !== "string" || name === "") return null;
    const full = name.includes(":") ? name : `${name}:latest`;
    const mine = options.model.includes(":") ? options.model : `${options.model}:latest`;
    return full === mine ? options.model : null;
  }

  const recorder = await startRecorder({
    name: "ollama",
    port: options.port,
    tls: options.tls,
    async handle(recIn, ctx) {
      const rec = /** @type {OllamaRecordedRequest} */ (recIn);
      const { res } = ctx;
      const { method, path } = rec;
      if (method === "GET" && path === "/api/version") return sendJson(res, 200, { version: VERSION });
      if ((method === "GET" || method === "HEAD") && path === "/") return sendText(res, 200, "Ollama is running", "text/plain; charset=utf-8");
      if (method === "GET" && path === "/api/tags") {
        if (options.model === "") return sendJson(res, 200, { models: [] });
        return sendJson(res, 200, {
          models: [
            {
              name: options.model.includes(":") ? options.model : `${options.model}:latest`,
              model: options.model.includes(":") ? options.model : `${options.model}:latest`,
              modified_at: "2025-10-01T09:00:00.000000000Z",
              size: 986061892,
              digest: "6d3abb8d2d5397d0d4b6a0e2c8e0e1a3b1e7f1d4c9a8b7e6f5d4c3b2a1908070",
              details: { parent_model: "", format: "gguf", family: options.architecture, families: [options.architecture], parameter_size: "1.5B", quantization_level: "Q4_K_M" },
            },
          ],
        });
      }
      const known = ["/api/show", "/api/generate", "/api/chat"];
      if (!known.includes(path)) return sendText(res, 404, "404 page not found", "text/plain");
      if (method !== "POST") return sendText(res, 405, "405 method not allowed", "text/plain");
      if (ctx.badJson !== null) return sendJson(res, 400, { error: "invalid character 'o' looking for beginning of object key string" });
      const body = rec.body ?? {};
      const name = body.model ?? body.name;
      if (typeof name !== "string" || name === "") return sendJson(res, 400, { error: "model is required" });
      const model = resolve(name);

      if (path === "/api/show") {
        if (!model) return sendJson(res, 404, { error: `model '${name}' not found` });
        const parameters = options.numCtx ? `num_ctx                        ${options.numCtx}\nstop                           "<|endoftext|>"` : `stop                           "<|endoftext|>"`;
        return sendJson(res, 200, {
          license: "Apache License 2.0",
          modelfile: `# Modelfile generated by "ollama show"\nFROM ${options.model}\n${options.numCtx ? `PARAMETER num_ctx ${options.numCtx}\n` : ""}`,
          parameters,
          template: options.capabilities.includes("insert") ? "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>\n{{- else }}{{ .Prompt }}\n{{- end }}" : "{{ .Prompt }}",
          details: { parent_model: "", format: "gguf", family: options.architecture, families: [options.architecture], parameter_size: "1.5B", quantization_level: "Q4_K_M" },
          model_info: {
            "general.architecture": options.architecture,
            "general.parameter_count": 1543714304,
            [`${options.architecture}.context_length`]: options.contextLength,
            [`${options.architecture}.embedding_length`]: 1536,
            [`${options.architecture}.block_count`]: 28,
          },
          capabilities: options.capabilities,
          modified_at: "2025-10-01T09:00:00.000000000Z",
        });
      }

      if (!model) return sendJson(res, 404, { error: `model "${name}" not found, try pulling it first` });
      const isChat = path === "/api/chat";
      const suffix = !isChat && typeof body.suffix === "string" && body.suffix !== "" && body.raw !== true ? body.suffix : null;
      if (suffix !== null && !options.capabilities.includes("insert")) return sendJson(res, 400, { error: `"${name}" does not support insert` });
      if (isChat && !Array.isArray(body.messages)) return sendJson(res, 400, { error: "messages is required" });

      // What the model reads, cut from the front to num_ctx as Ollama does.
      const opts = body.options ?? {};
      const numCtx = typeof opts.num_ctx === "number" ? opts.num_ctx : (options.numCtx ?? DEFAULT_NUM_CTX);
      const promptText = isChat ? body.messages.map((/** @type {any} */ m) => String(m?.content ?? "")).join("\n") : String(body.prompt ?? "") + (suffix ?? "");
      const promptTokens = approxTokens(promptText);
      rec.truncated = promptTokens > numCtx;
      const evalPrompt = Math.min(promptTokens, numCtx);
      const maxTokens = typeof opts.num_predict === "number" && opts.num_predict >= 0 ? opts.num_predict : null;
      const stops = Array.isArray(opts.stop) ? opts.stop : [];
      const stream = body.stream !== false;

      const reply = /** @type {Reply} */ ((await options.respond(rec)) ?? { text: "" });
      const modelName = name;
      /** @param {string} piece */
      const line = (piece) =>
        JSON.stringify(isChat ? { model: modelName, created_at: now(), message: { role: "assistant", content: piece }, done: false } : { model: modelName, created_at: now(), response: piece, done: false }) + "\n";
      /** @param {string} reason @param {number} evalCount @param {string} [full] */
      const last = (reason, evalCount, full = "") => {
        const counts = {
          total_duration: 251234567,
          load_duration: 12345678,
          prompt_eval_count: evalPrompt,
          prompt_eval_duration: 123456789,
          eval_count: evalCount,
          eval_duration: 98765432,
        };
        if (isChat) return { model: modelName, created_at: now(), message: { role: "assistant", content: full }, done_reason: reason, done: true, ...counts };
        return { model: modelName, created_at: now(), response: full, done: true, done_reason: reason, ...(body.raw === true ? {} : { context: [151644, 872, 198] }), ...counts };
      };

      if (isChat && reply && typeof reply === "object" && "toolCalls" in reply && Array.isArray(reply.toolCalls)) {
        // Ollama (0.12+) parses the model's tool calls itself and sends them whole, arguments as an
        // object, in one message line; the final line says done_reason "stop".
        await ctx.wait(options.latencyMs);
        if (res.destroyed || ctx.closing()) return;
        const calls = reply.toolCalls.map((/** @type {any} */ c, /** @type {number} */ index) => ({ id: c.id ?? `call_${randomBytes(4).toString("hex")}`, function: { index, name: c.name, arguments: c.arguments } }));
        const message = { role: "assistant", content: "", tool_calls: calls };
        if (!stream) return sendJson(res, 200, { ...last("stop", 8), message });
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        res.flushHeaders();
        res.write(JSON.stringify({ model: modelName, created_at: now(), message, done: false }) + "\n");
        await ctx.wait(options.tokenIntervalMs);
        if (res.destroyed || ctx.closing()) return;
        res.end(JSON.stringify(last("stop", 8)) + "\n");
        return;
      }
      if (!stream && "text" in reply) {
        await ctx.wait(options.latencyMs);
        if (res.destroyed || ctx.closing()) return;
        const shaped = shapeText(String(reply.text ?? ""), reply.chunks, stops, maxTokens, false);
        const reason = shaped.reason === "length" || (shaped.reason === "eos" && reply.finishReason === "length") ? "length" : "stop";
        return sendJson(res, 200, last(reason, shaped.chunks.length, shaped.text));
      }

      /** @type {import("./recorder.js").Frame} */
      const frame = {
        head() {
          res.writeHead(200, { "content-type": "application/x-ndjson" });
          res.flushHeaders();
        },
        httpError(r) {
          sendJson(res, r.status, { error: r.error.message }, r.headers);
        },
        done(r) {
          const shaped = shapeText(String(r.text ?? ""), r.chunks, stops, maxTokens, false);
          const reason = shaped.reason === "length" || (shaped.reason === "eos" && r.finishReason === "length") ? "length" : "stop";
          return [...shaped.chunks.map(line), JSON.stringify(last(reason, shaped.chunks.length)) + "\n"];
        },
        pieces(pieces) {
          return pieces.map(line);
        },
        error(info) {
          return JSON.stringify({ error: info.message }) + "\n";
        },
        malformed(raw) {
          return `${raw}\n`;
        },
      };
      await playReply(ctx, reply, options, frame);
    },
  });

  /** @type {FakeOllama} */
  const fake = {
    url: recorder.url,
    port: recorder.port,
    requests: /** @type {OllamaRecordedRequest[]} */ (recorder.requests),
    completions() {
      return /** @type {OllamaRecordedRequest[]} */ (recorder.requests.filter((r) => r.method === "POST" && r.path === "/api/generate"));
    },
    set(partial) {
      Object.assign(options, stripUndefined(partial));
    },
    get options() {
      return { ...options };
    },
    waitFor: /** @type {FakeOllama["waitFor"]} */ (recorder.waitFor),
    reset: recorder.reset,
    close: recorder.close,
  };
  return fake;
}
