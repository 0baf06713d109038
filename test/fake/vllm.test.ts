import { afterEach, beforeEach, describe, expect, it } from "vitest";
import http from "node:http";
import { performance } from "node:perf_hooks";
import OpenAI, { APIError } from "openai";
import { startFakeVllm, demoRespond, DEFAULT_MODEL, type FakeVllm, type RecordedRequest } from "./vllm.js";
import { STUCK_MS, until } from "../wait.js";

const MODEL = "Qwen/Qwen2.5-Coder-7B";

let fake: FakeVllm;
beforeEach(async () => {
  fake = await startFakeVllm();
});
afterEach(async () => {
  await fake.close();
});

function post(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(fake.url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

/** Parsed JSON body, untyped (bodies are checked field by field). */
async function json(res: Response): Promise<any> {
  return await res.json();
}

/** Read a response body chunk by chunk, noting when each network chunk arrived. */
async function readTimed(res: Response): Promise<{ text: string; arrivals: { at: number; text: string }[] }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const arrivals: { at: number; text: string }[] = [];
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const piece = decoder.decode(value, { stream: true });
    arrivals.push({ at: performance.now(), text: piece });
    text += piece;
  }
  return { text, arrivals };
}

/** Split an SSE body into its `data:` payloads, checking the framing strictly. */
function sseEvents(text: string): string[] {
  expect(text.endsWith("\n\n")).toBe(true);
  const events = text.slice(0, -2).split("\n\n");
  return events.map((e) => {
    expect(e).toMatch(/^data: [^\n]*$/);
    return e.slice("data: ".length);
  });
}

describe("GET endpoints", () => {
  it("lists the served model like vLLM", async () => {
    fake.set({ model: "m/x", maxModelLen: 4096 });
    const res = await fetch(fake.url + "/v1/models");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await json(res);
    expect(body.object).toBe("list");
    expect(body.data).toHaveLength(1);
    const card = body.data[0];
    expect(Object.keys(card)).toEqual(["id", "object", "created", "owned_by", "root", "parent", "max_model_len", "permission"]);
    expect(card).toMatchObject({ id: "m/x", object: "model", owned_by: "vllm", root: "m/x", parent: null, max_model_len: 4096 });
    expect(card.permission[0]).toMatchObject({ object: "model_permission", allow_sampling: true, organization: "*", group: null });
    expect(card.permission[0].id).toMatch(/^modelperm-[0-9a-f]{32}$/);
  });

  it("lets tests override /v1/models", async () => {
    fake.set({ models: { status: 503, body: { error: { message: "down", type: "ServiceUnavailableError", param: null, code: 503 } } } });
    const res = await fetch(fake.url + "/v1/models");
    expect(res.status).toBe(503);
    expect((await json(res)).error.message).toBe("down");
  });

  it("serves /health and FastAPI-style 404s", async () => {
    const health = await fetch(fake.url + "/health");
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("");
    const missing = await fetch(fake.url + "/v1/embeddings-nope");
    expect(missing.status).toBe(404);
    expect(await json(missing)).toEqual({ detail: "Not Found" });
    const wrongMethod = await fetch(fake.url + "/v1/completions");
    expect(wrongMethod.status).toBe(405);
  });
});

describe("POST /v1/completions", () => {
  it("answers non-streaming requests in vLLM's shape", async () => {
    fake.set({ respond: () => ({ text: "return 42" }) });
    const res = await post("/v1/completions", { model: MODEL, prompt: "def f():\n    ", max_tokens: 32 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await json(res);
    expect(Object.keys(body)).toEqual(["id", "object", "created", "model", "choices", "usage"]);
    expect(body.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(body.object).toBe("text_completion");
    expect(typeof body.created).toBe("number");
    expect(body.model).toBe(MODEL);
    expect(body.choices).toEqual([
      { index: 0, text: "return 42", logprobs: null, finish_reason: "stop", stop_reason: null, prompt_logprobs: null },
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 4, total_tokens: 7, completion_tokens: 3, prompt_tokens_details: null });
    const rec = fake.completions()[0]!;
    expect(rec.body.prompt).toBe("def f():\n    ");
    expect(rec.rawBody).toContain('"max_tokens":32');
    expect(rec.headers["content-type"]).toBe("application/json");
    await fake.waitFor((r) => r.finished);
  });

  it("streams with exact SSE framing and [DONE]", async () => {
    fake.set({ respond: () => ({ text: "abcdefghij" }) });
    const res = await post("/v1/completions", { model: MODEL, prompt: "x", stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const { text } = await readTimed(res);
    const events = sseEvents(text);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0].text)).toEqual(["abcd", "efgh", "ij"]);
    expect(chunks.map((c) => c.choices[0].finish_reason)).toEqual([null, null, "stop"]);
    const first = chunks[0];
    expect(Object.keys(first)).toEqual(["id", "object", "created", "model", "choices"]);
    expect(first.object).toBe("text_completion");
    expect(first.choices[0]).toEqual({ index: 0, text: "abcd", logprobs: null, finish_reason: null, stop_reason: null });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    // Exact bytes of one event.
    expect(text.startsWith(`data: {"id":"${first.id}","object":"text_completion","created":${first.created},"model":"${MODEL}","choices":[{"index":0,"text":"abcd","logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n`)).toBe(true);
  });

  it("uses the reply's chunks and finishReason, and sends an empty final chunk for empty text", async () => {
    fake.set({ respond: () => ({ text: "foo bar", chunks: ["foo", " bar"], finishReason: "length" }) });
    let events = sseEvents(await (await post("/v1/completions", { prompt: "x", stream: true })).text());
    expect(events.slice(0, -1).map((e) => JSON.parse(e).choices[0])).toMatchObject([
      { text: "foo", finish_reason: null },
      { text: " bar", finish_reason: "length" },
    ]);
    fake.set({ respond: () => ({ text: "" }) });
    events = sseEvents(await (await post("/v1/completions", { prompt: "x", stream: true })).text());
    expect(events).toHaveLength(2);
    expect(JSON.parse(events[0]!).choices[0]).toMatchObject({ text: "", finish_reason: "stop" });
  });

  it("honours n: choices by index, generated side by side, each with its own finish and log probabilities", async () => {
    const texts = ["abcdefgh", "xy", "0123456789"];
    fake.set({ respond: (_r, i) => ({ text: texts[i]!, logprob: -(i + 1) / 10 }) });
    const events = sseEvents(await (await post("/v1/completions", { prompt: "x", stream: true, n: 3, logprobs: 0 })).text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    // One choice per chunk, interleaved step by step: abcd xy 0123 | efgh 4567 | 89.
    expect(chunks.map((c) => [c.choices[0].index, c.choices[0].text])).toEqual([
      [0, "abcd"], [1, "xy"], [2, "0123"], [0, "efgh"], [2, "4567"], [2, "89"],
    ]);
    expect(chunks.map((c) => c.choices[0].finish_reason)).toEqual([null, "stop", null, "stop", null, "stop"]);
    expect(chunks[3].choices[0].logprobs).toEqual({ text_offset: [4], token_logprobs: [-0.1], tokens: ["efgh"], top_logprobs: [{ efgh: -0.1 }] });
    expect(chunks[5].choices[0].logprobs.token_logprobs).toEqual([-0.3]);
    // Without logprobs asked, none are sent; non-streaming answers carry every choice.
    const body = await json(await post("/v1/completions", { prompt: "x", n: 2 }));
    expect(body.choices.map((c: any) => [c.index, c.text, c.logprobs])).toEqual([[0, "abcdefgh", null], [1, "xy", null]]);
    expect(body.usage.completion_tokens).toBe(3);
  });

  it("gives at most maxChoices choices (a server that ignores n), and refuses n below 1 like vLLM", async () => {
    fake.set({ respond: (_r, i) => ({ text: `c${i}` }), maxChoices: 1 });
    const events = sseEvents(await (await post("/v1/completions", { prompt: "x", stream: true, n: 3 })).text());
    expect(events.slice(0, -1).map((e) => JSON.parse(e).choices[0].index)).toEqual([0]);
    const res = await post("/v1/completions", { prompt: "x", n: 0 });
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toBe("n must be at least 1, got 0.");
  });

  it("sends a usage chunk when stream_options.include_usage", async () => {
    fake.set({ respond: () => ({ text: "12345678" }) });
    const res = await post("/v1/completions", { prompt: "abcdefgh", stream: true, stream_options: { include_usage: true } });
    const events = sseEvents(await res.text());
    expect(events.at(-1)).toBe("[DONE]");
    const usage = JSON.parse(events.at(-2)!);
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual({ prompt_tokens: 2, total_tokens: 4, completion_tokens: 2 });
    expect(JSON.parse(events.at(-3)!).choices[0].finish_reason).toBe("stop");
  });

  it("honours stop strings and max_tokens", async () => {
    fake.set({ respond: () => ({ text: "a = 1\nb = 2\n\nc = 3\n", chunks: ["a = 1\n", "b = 2\n\n", "c = 3\n"] }) });
    let body = await json(await post("/v1/completions", { prompt: "x", stop: ["\n\n", "c ="], max_tokens: 100 }));
    expect(body.choices[0]).toMatchObject({ text: "a = 1\nb = 2", finish_reason: "stop", stop_reason: "\n\n" });
    expect(body.usage.completion_tokens).toBe(3);

    const events = sseEvents(await (await post("/v1/completions", { prompt: "x", stop: "b", stream: true })).text());
    expect(events.slice(0, -1).map((e) => JSON.parse(e).choices[0])).toMatchObject([
      { text: "a = 1\n", finish_reason: "stop", stop_reason: "b" },
    ]);

    body = await json(await post("/v1/completions", { prompt: "x", max_tokens: 2 }));
    expect(body.choices[0]).toMatchObject({ text: "a = 1\nb ", finish_reason: "length", stop_reason: null });
    // vLLM's default max_tokens for /v1/completions is 16 (= 64 chars here).
    fake.set({ respond: () => ({ text: "x".repeat(100) }) });
    body = await json(await post("/v1/completions", { prompt: "x" }));
    expect(body.choices[0].text).toHaveLength(64);
    expect(body.choices[0].finish_reason).toBe("length");
  });

  it("rejects suffix with vLLM's 400", async () => {
    const res = await post("/v1/completions", { model: MODEL, prompt: "a", suffix: "b" });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.text()).toBe(
      '{"error":{"message":"suffix is not currently supported","type":"BadRequestError","param":null,"code":400}}',
    );
    expect(fake.completions()).toHaveLength(1);
  });

  it("rejects an unknown model with 404", async () => {
    let called = false;
    fake.set({ respond: () => ((called = true), { text: "" }) });
    const res = await post("/v1/completions", { model: "gpt-4", prompt: "a" });
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({
      error: { message: "The model `gpt-4` does not exist.", type: "NotFoundError", param: "model", code: 404 },
    });
    expect(called).toBe(false);
  });

  it("rejects prompts over the context length with vLLM's message", async () => {
    fake.set({ maxModelLen: 100 });
    const res = await post("/v1/completions", { model: MODEL, prompt: "x".repeat(397), max_tokens: 2 });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error).toEqual({
      message:
        "This model's maximum context length is 100 tokens. However, you requested 102 tokens (100 in the messages, 2 in the completion). Please reduce the length of the messages or completion.",
      type: "BadRequestError",
      param: null,
      code: 400,
    });
    const ok = await post("/v1/completions", { model: MODEL, prompt: "x".repeat(396), max_tokens: 1 });
    expect(ok.status).toBe(200);
  });

  it("rejects malformed JSON with a nested 400", async () => {
    const res = await post("/v1/completions", '{"prompt": "a"');
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error).toMatchObject({ type: "BadRequestError", code: 400, param: null });
    expect(fake.requests[0]!.body).toBeNull();
    expect(fake.requests[0]!.rawBody).toBe('{"prompt": "a"');
  });

  it("sends error replies in both shapes, with extra headers", async () => {
    fake.set({ respond: () => ({ status: 503, error: { message: "overloaded" }, headers: { "retry-after": "1" } }) });
    let res = await post("/v1/completions", { prompt: "a" });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.text()).toBe('{"error":{"message":"overloaded","type":"ServiceUnavailableError","param":null,"code":503}}');

    fake.set({ respond: () => ({ status: 400, error: { message: "bad", type: "BadRequestError" }, shape: "flat" }) });
    res = await post("/v1/completions", { prompt: "a" });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}');
  });

  it("sends in-stream errors (nested and flat) followed by [DONE]", async () => {
    fake.set({ respond: () => ({ streamError: { message: "engine died", type: "InternalServerError", code: 500 }, after: "abcdef" }) });
    let res = await post("/v1/completions", { prompt: "a", stream: true });
    expect(res.status).toBe(200);
    let events = sseEvents(await res.text());
    expect(events.map((e) => (e === "[DONE]" ? e : JSON.parse(e).choices?.[0].text ?? "error"))).toEqual(["abcd", "ef", "error", "[DONE]"]);
    expect(JSON.parse(events[1]!).choices[0].finish_reason).toBeNull();
    expect(events[2]).toBe('{"error":{"object":"error","message":"engine died","type":"InternalServerError","param":null,"code":500}}');

    fake.set({ respond: () => ({ streamError: { message: "oops" }, shape: "flat" }) });
    res = await post("/v1/completions", { prompt: "a", stream: true });
    events = sseEvents(await res.text());
    expect(events).toEqual(['{"object":"error","message":"oops","type":"BadRequestError","param":null,"code":400}', "[DONE]"]);
  });

  it("records closedAt when the client aborts a hanging request, and not before", async () => {
    fake.set({ respond: () => ({ hang: true }) });
    const ac = new AbortController();
    const pending = post("/v1/completions", { prompt: "a" }, { signal: ac.signal });
    const rec = await fake.waitFor((r) => r.path === "/v1/completions");
    expect(rec.closedAt).toBeNull();
    // Another request answered meanwhile: the fake has handled later events, and still holds it open.
    await fetch(fake.url + "/health");
    expect(rec.closedAt).toBeNull();
    const abortedAt = performance.now();
    ac.abort();
    await expect(pending).rejects.toThrow();
    const closed = await fake.waitFor((r) => r.id === rec.id && r.closedAt !== null);
    expect(closed.closedAt!).toBeGreaterThanOrEqual(abortedAt);
    expect(closed.finished).toBe(false);
  });

  it("records closedAt when a stream is abandoned midway, and finished for complete ones", async () => {
    fake.set({ respond: () => ({ text: "x".repeat(40) }), tokenIntervalMs: 20 });
    const ac = new AbortController();
    const res = await post("/v1/completions", { prompt: "a", stream: true }, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    const rec = await fake.waitFor((r) => r.closedAt !== null);
    expect(rec.finished).toBe(false);
    fake.set({ tokenIntervalMs: 0 });
    await (await post("/v1/completions", { prompt: "a", stream: true })).text();
    const done = await fake.waitFor((r) => r.finished);
    expect(done.closedAt).toBeNull();
  });

  it("destroys the socket on { destroy: true }", async () => {
    fake.set({ respond: () => ({ destroy: true }) });
    await expect(post("/v1/completions", { prompt: "a" })).rejects.toThrow();
    expect(fake.completions()[0]!.finished).toBe(false);
  });

  it("cuts a stream midway: a reset after `after`, a stall after `after`, a malformed line without [DONE]", async () => {
    // Chunks spaced out so the client reads them before the reset (fetch drops data buffered with it).
    fake.set({ respond: () => ({ destroy: true, after: "abcdefgh" }), tokenIntervalMs: 20 });
    const reset = await post("/v1/completions", { prompt: "a", stream: true });
    expect(reset.status).toBe(200);
    const reader = reset.body!.getReader();
    let got = "";
    await expect(
      (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          got += new TextDecoder().decode(value);
        }
      })(),
    ).rejects.toThrow();
    expect(got.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => JSON.parse(e.slice(6)).choices[0].text)).toEqual(["abcd", "efgh"]);

    fake.set({ respond: () => ({ malformed: '{"id":"cmpl-1","object":"text_compl', after: "abcd" }), tokenIntervalMs: 0 });
    const bad = sseEvents(await (await post("/v1/completions", { prompt: "a", stream: true })).text());
    expect(bad).toHaveLength(2);
    expect(JSON.parse(bad[0]!).choices[0]).toMatchObject({ text: "abcd", finish_reason: null });
    expect(bad[1]).toBe('{"id":"cmpl-1","object":"text_compl');

    fake.set({ respond: () => ({ hang: true, after: "abcd" }) });
    const ctrl = new AbortController();
    const stalled = await post("/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], stream: true }, { signal: ctrl.signal });
    const r2 = stalled.body!.getReader();
    let seen = "";
    while (!seen.includes('"abcd"')) seen += new TextDecoder().decode((await r2.read()).value);
    expect(seen).not.toContain("[DONE]");
    ctrl.abort();
    await expect.poll(() => fake.requests.at(-1)!.closedAt, { timeout: STUCK_MS }).not.toBeNull();
  });

  it("delays headers by latencyMs and spaces chunks by tokenIntervalMs", async () => {
    fake.set({ respond: () => ({ text: "aaaabbbbcccc" }), latencyMs: 60, tokenIntervalMs: 40 });
    const t0 = performance.now();
    const res = await post("/v1/completions", { prompt: "a", stream: true });
    // Lower bounds only: a busy machine makes waits longer, never shorter. (The gap between two
    // arrivals is not one: a reader that was descheduled reads two late chunks close together.)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    const { text, arrivals } = await readTimed(res);
    const dataArrivals = arrivals.filter((a) => a.text.includes('"text":'));
    expect(dataArrivals).toHaveLength(3); // one network read per chunk: nothing buffered
    expect(dataArrivals[2]!.at - t0).toBeGreaterThanOrEqual(55 + 2 * 35);
    expect(sseEvents(text)).toHaveLength(4);
  });

  it("awaits pace before each streamed chunk after the first", async () => {
    const paced: number[] = [];
    let reads = 0;
    fake.set({
      respond: () => ({ text: "aaaabbbbcccc" }),
      pace: async (i, req) => {
        expect(req.path).toBe("/v1/completions");
        // The chunk before has reached the reader: the stream goes in step with it.
        await until(() => reads >= i, `the reader to have read ${i} chunks`);
        paced.push(i);
      },
    });
    const res = await post("/v1/completions", { prompt: "a", stream: true });
    const reader = res.body!.getReader();
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const piece = new TextDecoder().decode(value);
      if (piece.includes('"text":')) reads++;
      text += piece;
    }
    expect(paced).toEqual([1, 2]);
    expect(reads).toBe(3);
    expect(sseEvents(text)).toHaveLength(4);
  });

  it("drips: headers at once, every chunk (the first too) after dripMs and pace", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const paced: number[] = [];
    fake.set({
      respond: () => ({ text: "aaaabbbb", dripMs: 30 }),
      pace: async (i) => {
        paced.push(i);
        if (i === 0) await held;
      },
    });
    const t0 = performance.now();
    // The headers come while the first token is held: fetch resolves before any chunk was sent.
    const res = await post("/v1/completions", { prompt: "a", stream: true });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    release();
    const { text, arrivals } = await readTimed(res);
    expect(paced).toEqual([0, 1]);
    // Lower bounds only: two drips before the second chunk.
    expect(arrivals.filter((a) => a.text.includes('"text":')).at(-1)!.at - t0).toBeGreaterThanOrEqual(2 * 25);
    expect(sseEvents(text).map((e) => (e === "[DONE]" ? e : JSON.parse(e).choices[0].text))).toEqual(["aaaa", "bbbb", "[DONE]"]);
  });

  it("stalls after the headers on { hang: true, after: '' }, and records the client's close", async () => {
    fake.set({ respond: () => ({ hang: true, after: "" }) });
    const ctrl = new AbortController();
    const res = await post("/v1/completions", { prompt: "a", stream: true }, { signal: ctrl.signal });
    expect(res.status).toBe(200);
    expect(fake.completions().at(-1)!.closedAt).toBeNull();
    ctrl.abort();
    await expect.poll(() => fake.completions().at(-1)!.closedAt, { timeout: STUCK_MS }).not.toBeNull();
  });

  it("passes the recorded request to respond and supports async respond", async () => {
    const seen: RecordedRequest[] = [];
    fake.set({
      respond: async (req) => {
        seen.push(req);
        await new Promise((r) => setTimeout(r, 5));
        return { text: String(req.body.prompt).toUpperCase() };
      },
    });
    const body = await json(await post("/v1/completions", { prompt: "hi" }));
    expect(body.choices[0].text).toBe("HI");
    expect(seen[0]).toBe(fake.requests[0]);
    expect(seen[0]!.id).toBe(1);
  });
});

describe("POST /v1/chat/completions", () => {
  it("answers non-streaming chat", async () => {
    fake.set({ respond: () => ({ text: "hello" }) });
    const res = await post("/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "hi there" }] });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]).toMatchObject({ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" });
    expect(body.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 });
    expect(fake.completions()).toHaveLength(0);
  });

  it("streams chat deltas", async () => {
    fake.set({ respond: () => ({ text: "hello world" }) });
    const res = await post("/v1/chat/completions", {
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = sseEvents(await res.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
    const deltas = chunks.slice(1, -1).map((c) => c.choices[0].delta.content);
    expect(deltas.join("")).toBe("hello world");
    expect(chunks.at(-2).choices[0].finish_reason).toBe("stop");
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } });
  });

  it("rejects an unknown model", async () => {
    const res = await post("/v1/chat/completions", { model: "nope", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(404);
  });
});

describe("harness", () => {
  it("waitFor rejects on timeout and reset clears records", async () => {
    await expect(fake.waitFor(() => false, 30)).rejects.toThrow(/timed out/);
    await fetch(fake.url + "/health");
    expect(fake.requests).toHaveLength(1);
    const ref = fake.requests;
    fake.reset();
    expect(ref).toHaveLength(0);
  });

  it("close() does not hang with hanging requests in flight", async () => {
    const other = await startFakeVllm({ respond: () => ({ hang: true }), latencyMs: 10 });
    const p1 = fetch(other.url + "/v1/completions", { method: "POST", body: '{"prompt":"a"}' }).catch((e) => e);
    const p2 = fetch(other.url + "/v1/completions", { method: "POST", body: '{"prompt":"b"}' }).catch((e) => e);
    await other.waitFor(() => other.requests.length === 2);
    // Resolving at all is the point: a close that waited for the hanging requests never would.
    await other.close();
    expect(await p1).toBeInstanceOf(Error);
    expect(await p2).toBeInstanceOf(Error);
  });

  it("works over plain node:http as well", async () => {
    fake.set({ respond: () => ({ text: "ok" }) });
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.request(fake.url + "/v1/completions", { method: "POST" }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (data += d));
        res.on("end", () => resolve(data));
      });
      req.on("error", reject);
      req.end(JSON.stringify({ prompt: "a", stream: true }));
    });
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("demoRespond is deterministic", () => {
    const rec = { body: { prompt: "def fib(n):\n" } } as RecordedRequest;
    expect(demoRespond(rec)).toEqual({ text: "    return 42\n" });
    expect(demoRespond(rec)).toEqual(demoRespond(rec));
  });

  it("demoRespond answers an edit action with a block that applies to the code it was sent, and explains in prose", () => {
    const code = "function add(a, b) {\n  return a + b;\n}";
    const edit = demoRespond({ body: { messages: [{ role: "system", content: "Answer only with SEARCH/REPLACE blocks" }, { role: "user", content: `Task: Simplify this code.\nLanguage: javascript\nFile: a.js\n\n\`\`\`javascript\n${code}\n\`\`\`` }] } } as RecordedRequest);
    expect(edit).toEqual({ text: "<<<<<<< SEARCH\nfunction add(a, b) {\n=======\n// add: simplify this code (tandem's demo backend adds this note; a real model edits the code)\nfunction add(a, b) {\n>>>>>>> REPLACE" });
    const explain = demoRespond({ body: { model: "m2", messages: [{ role: "system", content: "You explain code to a developer" }, { role: "user", content: `Explain this javascript code from a.js: what it does.\n\nThe code to explain:\n\`\`\`javascript\n${code}\n\`\`\`` }] } } as RecordedRequest);
    expect((explain as { text: string }).text).toMatch(/^This 3-line excerpt of `a.js` defines `add`\. It hands its result back with `return`\.\n\n[\s\S]*model name `m2`/);
  });

  it("alsoServe: more model names, listed, accepted and reported back", async () => {
    const two = await startFakeVllm({ alsoServe: ["small"], respond: () => ({ text: "ok" }) });
    try {
      const list = (await (await fetch(`${two.url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(list.data.map((m) => m.id)).toEqual([DEFAULT_MODEL, "small"]);
      const answer = async (model: string) => {
        const r = await fetch(`${two.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, prompt: "x" }) });
        return [r.status, ((await r.json()) as { model?: string }).model];
      };
      expect(await answer("small")).toEqual([200, "small"]);
      expect(await answer(DEFAULT_MODEL)).toEqual([200, DEFAULT_MODEL]);
      expect((await answer("other"))[0]).toBe(404);
    } finally {
      await two.close();
    }
  });
});

describe("openai SDK compatibility", () => {
  function client() {
    return new OpenAI({ baseURL: fake.url + "/v1", apiKey: "x", maxRetries: 0 });
  }

  it("iterates a completions stream", async () => {
    fake.set({ respond: () => ({ text: "return fib(n - 1) + fib(n - 2)" }) });
    const stream = await client().completions.create({
      model: MODEL,
      prompt: "def fib(n):\n",
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: unknown = null;
    for await (const chunk of stream) {
      if (chunk.choices[0]) {
        text += chunk.choices[0].text;
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("return fib(n - 1) + fib(n - 2)");
    expect(finish).toBe("stop");
    expect(usage).toMatchObject({ completion_tokens: 8 });
  });

  it("throws APIError on a nested in-stream error", async () => {
    fake.set({ respond: () => ({ streamError: { message: "engine died", type: "InternalServerError", code: 500 }, after: "abc" }) });
    const stream = await client().completions.create({ model: MODEL, prompt: "x", stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      try {
        for await (const chunk of stream) seen.push(chunk.choices[0]!.text);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(seen).toEqual(["abc"]);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toContain("engine died");
  });

  it("surfaces HTTP errors and lists models", async () => {
    const c = client();
    const models = await c.models.list();
    expect(models.data[0]!.id).toBe(MODEL);
    const err = await c.completions.create({ model: MODEL, prompt: "a", suffix: "b" }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.message).toContain("suffix is not currently supported");
  });
});
