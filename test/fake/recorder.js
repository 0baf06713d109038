// @ts-check
/**
 * The scaffolding the fakes of TGI, Ollama and llama.cpp share: a loopback HTTP (or HTTPS)
 * server that records every request in arrival order with the moment the client disconnected,
 * `waitFor`, `reset`, a `close` that cuts every socket, a cancellable sleep, and the text
 * helpers the fakes use to cut a reply into streamed pieces. Each fake supplies the handler that
 * speaks its wire format; vllm.js predates this module and keeps its own server scaffolding, but
 * shares the text helpers.
 *
 * Plain JavaScript ESM with JSDoc types, like vllm.js, so the fakes run under plain `node`.
 */

import http from "node:http";
import https from "node:https";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";

/** @typedef {import("./recorder.js").RecordedRequest} RecordedRequest */
/** @typedef {import("./recorder.js").Recorder} Recorder */
/** @typedef {import("./recorder.js").RecorderOptions} RecorderOptions */
/** @typedef {import("./recorder.js").HandlerContext} HandlerContext */

/** ceil(characters / 4): the fakes' token estimate, used for every count and limit alike. */
export function approxTokens(/** @type {string} */ text) {
  return Math.ceil(text.length / 4);
}

/**
 * The fakes' tokenizer: one token per 4 characters (as approxTokens counts), each id derived from
 * its characters, so the same text always gives the same ids. With the pieces' text and offsets.
 * @param {string} text
 * @returns {{ id: number, text: string, start: number, stop: number }[]}
 */
export function fakeTokens(text) {
  /** @type {{ id: number, text: string, start: number, stop: number }[]} */
  const out = [];
  for (let start = 0; start < text.length; start += 4) {
    const piece = text.slice(start, start + 4);
    let id = 7;
    for (let i = 0; i < piece.length; i++) id = (id * 31 + piece.charCodeAt(i)) % 151_000;
    out.push({ id, text: piece, start, stop: start + piece.length });
  }
  return out;
}

/** Split text into ~4-character pieces (by code point, so surrogate pairs stay whole). */
export function splitChunks(/** @type {string} */ text) {
  const cps = Array.from(text);
  /** @type {string[]} */
  const out = [];
  for (let i = 0; i < cps.length; i += 4) out.push(cps.slice(i, i + 4).join(""));
  return out;
}

/**
 * Re-cut `chunks` so that their concatenation is `text` (a prefix of theirs).
 * @param {string[]} chunks
 * @param {string} text
 */
export function cutChunks(chunks, text) {
  /** @type {string[]} */
  const out = [];
  let left = text.length;
  for (const c of chunks) {
    if (left <= 0) break;
    const piece = c.slice(0, left);
    if (piece.length > 0) out.push(piece);
    left -= piece.length;
  }
  return out;
}

/**
 * The reply text after stop strings and the token limit, as a server's detokenizer would cut it.
 * @param {string} text
 * @param {string[]|undefined} givenChunks
 * @param {string[]} stops
 * @param {number|null} maxTokens  null: unlimited
 * @param {boolean} keepStop  TGI leaves the matched stop string in the output; the others drop it
 * @returns {{ text: string, chunks: string[], reason: "eos"|"stop"|"length", stop: string|null }}
 */
export function shapeText(text, givenChunks, stops, maxTokens, keepStop) {
  const maxChars = maxTokens === null ? Infinity : maxTokens * 4;
  /** @type {{ idx: number, stop: string } | null} */
  let hit = null;
  for (const s of stops) {
    if (typeof s !== "string" || s.length === 0) continue;
    const idx = text.indexOf(s);
    if (idx >= 0 && (hit === null || idx < hit.idx)) hit = { idx, stop: s };
  }
  /** @type {"eos"|"stop"|"length"} */
  let reason = "eos";
  let out = text;
  if (hit && hit.idx + hit.stop.length <= maxChars) {
    out = keepStop ? text.slice(0, hit.idx + hit.stop.length) : text.slice(0, hit.idx);
    reason = "stop";
  } else if (text.length > maxChars) {
    out = text.slice(0, maxChars);
    reason = "length";
  }
  const chunks = givenChunks ? cutChunks(givenChunks, out) : splitChunks(out);
  return { text: out, chunks, reason, stop: hit && reason === "stop" ? hit.stop : null };
}

/**
 * @template {object} T
 * @param {T} o
 * @returns {Partial<T>}
 */
export function stripUndefined(o) {
  /** @type {any} */
  const out = {};
  for (const [k, v] of Object.entries(o ?? {})) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {string} text
 * @param {string} contentType
 * @param {Record<string,string>} [headers]
 */
export function sendText(res, status, text, contentType, headers) {
  if (res.destroyed) return;
  res.writeHead(status, { ...headers, "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * @param {RecorderOptions} opts
 * @returns {Promise<Recorder>}
 */
export async function startRecorder(opts) {
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

  /** @param {number} ms */
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

  /** @type {http.RequestListener} */
  const listener = (req, res) => {
    const receivedAt = performance.now();
    /** @type {Buffer[]} */
    const parts = [];
    req.on("data", (/** @type {Buffer} */ d) => parts.push(d));
    req.on("error", () => {});
    req.on("end", () => {
      const rawBody = Buffer.concat(parts).toString("utf8");
      let body = null;
      /** @type {string|null} */
      let badJson = null;
      if (rawBody.length > 0) {
        try {
          body = JSON.parse(rawBody);
        } catch (e) {
          badJson = e instanceof Error ? e.message : String(e);
        }
      }
      const url = req.url ?? "/";
      /** @type {RecordedRequest} */
      const rec = {
        id: ++seq,
        method: req.method ?? "GET",
        path: url.split("?")[0] ?? "/",
        query: url.includes("?") ? url.slice(url.indexOf("?") + 1) : "",
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
      /** @type {HandlerContext} */
      const ctx = { req, res, badJson, wait, closing: () => closing };
      opts.handle(rec, ctx).catch((e) => {
        const message = `fake ${opts.name}: ${e instanceof Error ? e.message : String(e)}`;
        if (!res.headersSent && !res.destroyed) sendText(res, 500, JSON.stringify({ error: message }), "application/json");
        else if (!res.destroyed) res.destroy();
      });
    });
  };

  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert, noDelay: true }, listener) : http.createServer({ noDelay: true }, listener);
  server.on(opts.tls ? "secureConnection" : "connection", (/** @type {import("node:net").Socket} */ socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 5000;

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(undefined);
    });
  });
  const port = /** @type {import("node:net").AddressInfo} */ (server.address()).port;

  return {
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    requests,
    wait,
    closing: () => closing,
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
          reject(new Error(`fake ${opts.name}: waitFor timed out after ${timeoutMs} ms (${requests.length} requests recorded)`));
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
}

/**
 * Plays a generation reply in a fake's framing: latency, then an HTTP error, or a 200 stream of
 * events spaced by `tokenIntervalMs`, ending as the reply says (final events, an in-stream error,
 * a malformed line, silence, a destroyed socket, or a clean end without the final event). The
 * frame renders the wire format.
 * @param {HandlerContext} ctx
 * @param {import("./recorder.js").Reply} reply
 * @param {{ latencyMs?: number, tokenIntervalMs?: number }} timing
 * @param {import("./recorder.js").Frame} frame
 */
export async function playReply(ctx, reply, timing, frame) {
  const { req, res } = ctx;
  if ("hang" in reply && reply.hang && !reply.after) return; // answer nothing, ever
  await ctx.wait(timing.latencyMs ?? 0);
  if (res.destroyed || ctx.closing()) return;
  if ("destroy" in reply && reply.destroy && !reply.after) {
    req.socket.destroy();
    return;
  }
  if ("status" in reply && "error" in reply) {
    frame.httpError(reply);
    return;
  }
  const isText = "text" in reply;
  const events = isText ? frame.done(/** @type {import("./recorder.js").TextReply} */ (reply)) : frame.pieces(splitChunks(("after" in reply ? reply.after : undefined) ?? ""));
  frame.head();
  const write = (/** @type {string} */ s) => {
    if (res.destroyed || ctx.closing()) return false;
    res.write(s);
    return true;
  };
  for (let i = 0; i < events.length; i++) {
    if (i > 0) await ctx.wait(timing.tokenIntervalMs ?? 0);
    if (!write(events[i] ?? "")) return;
  }
  if (!isText && events.length > 0) await ctx.wait(timing.tokenIntervalMs ?? 0);
  if (res.destroyed || ctx.closing()) return;
  if ("streamError" in reply && reply.streamError) {
    if (!write(frame.error(reply.streamError))) return;
  } else if ("malformed" in reply && typeof reply.malformed === "string") {
    if (!write(frame.malformed(reply.malformed))) return;
  } else if ("hang" in reply && reply.hang) {
    return; // the stream stalls: headers and some pieces, then nothing
  } else if ("destroy" in reply && reply.destroy) {
    req.socket.destroy();
    return;
  }
  // An `{ end: true }` reply falls through: the response ends cleanly, without the final event.
  const tail = isText ? (frame.tail?.() ?? "") : "";
  if (tail && !write(tail)) return;
  res.end();
}
