// The fake llama-server speaks llama.cpp's wire format: key order, stop chunks, /infill checks, error shapes, faults.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeLlamaCpp, type FakeLlamaCpp } from "./llamacpp.js";

let fake: FakeLlamaCpp;
beforeEach(async () => {
  fake = await startFakeLlamaCpp();
});
afterEach(async () => {
  await fake.close();
});

function post(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(fake.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), ...init });
}

function events(text: string): string[] {
  expect(text.endsWith("\n\n")).toBe(true);
  return text
    .slice(0, -2)
    .split("\n\n")
    .map((e) => {
      expect(e).toMatch(/^data: [^\n]*$/);
      return e.slice("data: ".length);
    });
}

const INFILL = { input_prefix: "def f():\n    ", input_suffix: "\n", input_extra: [{ filename: "util.py", text: "def g(): pass\n" }], prompt: "", n_predict: 16, stream: true };

describe("GET endpoints", () => {
  it("/health, and 503 while loading", async () => {
    let res = await fetch(fake.url + "/health");
    expect(await res.text()).toBe('{"status":"ok"}');
    fake.set({ loading: true });
    res = await fetch(fake.url + "/health");
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}');
  });

  it("/props: n_ctx under default_generation_settings, or at the top", async () => {
    fake.set({ nCtx: 8192 });
    const props = await (await fetch(fake.url + "/props")).json();
    expect(props.default_generation_settings.n_ctx).toBe(8192);
    expect(props.model_path).toBe("/models/qwen2.5-coder-1.5b-q8_0.gguf");
    fake.set({ propsShape: "flat" });
    expect((await (await fetch(fake.url + "/props")).json()).n_ctx).toBe(8192);
  });
});

describe("POST /infill", () => {
  it("streams partial chunks in the server's key order and a stop chunk, no [DONE]", async () => {
    fake.set({ respond: () => ({ text: "return 1" }) });
    const res = await post("/infill", INFILL);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const text = await res.text();
    expect(text.startsWith('data: {"index":0,"content":"retu","tokens":[],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":')).toBe(true);
    const chunks = events(text).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.content)).toEqual(["retu", "rn 1", ""]);
    expect(chunks.at(-1)).toMatchObject({ stop: true, stop_type: "eos", stopping_word: "", tokens_predicted: 2, model: "qwen2.5-coder-1.5b-q8_0.gguf" });
    expect(Object.keys(chunks.at(-1)).slice(0, 6)).toEqual(["index", "content", "tokens", "id_slot", "stop", "model"]);
  });

  it("stop words are dropped (stop_type word), n_predict is a limit", async () => {
    fake.set({ respond: () => ({ text: "a = 1\n\nb = 2" }) });
    let chunks = events(await (await post("/infill", { ...INFILL, stop: ["\n\n"] })).text()).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.content).join("")).toBe("a = 1");
    expect(chunks.at(-1)).toMatchObject({ stop_type: "word", stopping_word: "\n\n" });
    chunks = events(await (await post("/infill", { ...INFILL, n_predict: 1 })).text()).map((e) => JSON.parse(e));
    expect(chunks.at(-1).stop_type).toBe("limit");
  });

  it("checks input_extra, FIM support and the context size", async () => {
    let res = await post("/infill", { ...INFILL, input_extra: [{ name: "x" }] });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('{"error":{"code":400,"message":"\\"input_extra\\" must be an array of {\\"filename\\": string, \\"text\\": string}","type":"invalid_request_error"}}');
    fake.set({ fim: false });
    res = await post("/infill", INFILL);
    expect(res.status).toBe(501);
    expect((await res.json()).error.type).toBe("not_supported_error");
    fake.set({ fim: true, nCtx: 100 });
    res = await post("/infill", { ...INFILL, input_prefix: "x".repeat(400) });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ type: "exceed_context_size_error", n_ctx: 100 });
  });

  it("in-stream errors as data: events, or legacy error: lines", async () => {
    fake.set({ respond: () => ({ streamError: { message: "decode failed", code: 500 }, after: "abcd" }) });
    let text = await (await post("/infill", INFILL)).text();
    expect(text.split("\n\n")[1]).toBe('data: {"error":{"code":500,"message":"decode failed","type":"server_error"}}');
    fake.set({ errorFraming: "legacy" });
    text = await (await post("/infill", INFILL)).text();
    expect(text.split("\n\n")[1]).toBe('error: {"code":500,"message":"decode failed","type":"server_error"}');
  });

  it("--api-key guards generation but not /health", async () => {
    fake.set({ apiKey: "llama-key" });
    let res = await post("/infill", INFILL);
    expect(res.status).toBe(401);
    expect(await res.text()).toBe('{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}');
    res = await post("/infill", INFILL, { headers: { "content-type": "application/json", authorization: "Bearer llama-key" } });
    expect(res.status).toBe(200);
    expect((await fetch(fake.url + "/health")).status).toBe(200);
  });
});

describe("POST /completion and /v1/chat/completions", () => {
  it("/completion streams like /infill", async () => {
    fake.set({ respond: () => ({ text: "ok" }) });
    const chunks = events(await (await post("/completion", { prompt: "x", stream: true })).text()).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.stop)).toEqual([false, true]);
  });

  it("chat: role first, content deltas, finish, usage, [DONE]", async () => {
    fake.set({ respond: () => ({ text: "Hello there" }) });
    const evs = events(await (await post("/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } })).text());
    expect(evs.at(-1)).toBe("[DONE]");
    const chunks = evs.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: null });
    expect(chunks.slice(1, -2).map((c) => c.choices[0].delta.content).join("")).toBe("Hello there");
    expect(chunks.at(-2).choices[0]).toEqual({ finish_reason: "stop", index: 0, delta: {} });
    expect(chunks.at(-1).usage).toEqual({ completion_tokens: 3, prompt_tokens: 1, total_tokens: 4 });
  });
});

describe("faults", () => {
  it("hang, destroy mid-stream, clean end without the stop chunk", async () => {
    fake.set({ respond: () => ({ hang: true }) });
    const ac = new AbortController();
    const pending = post("/infill", INFILL, { signal: ac.signal });
    await fake.waitFor((r) => r.path === "/infill");
    ac.abort();
    await expect(pending).rejects.toThrow();
    await fake.waitFor((r) => r.closedAt !== null);

    fake.set({ respond: () => ({ destroy: true, after: "abcd" }) });
    await expect((await post("/infill", INFILL)).text()).rejects.toThrow();

    fake.set({ respond: () => ({ end: true, after: "abcd" }) });
    const chunks = events(await (await post("/infill", INFILL)).text()).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.stop)).toEqual([false]);
  });
});
