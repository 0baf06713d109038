// The fake TGI speaks TGI's wire format: exact SSE bytes, in-stream validation, error shapes, faults.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { performance } from "node:perf_hooks";
import { startFakeTgi, type FakeTgi } from "./tgi.js";

let fake: FakeTgi;
beforeEach(async () => {
  fake = await startFakeTgi();
});
afterEach(async () => {
  await fake.close();
});

function post(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(fake.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), ...init });
}

/** The `data:` payloads of a TGI stream, checking its framing (no space after the colon). */
function events(text: string): string[] {
  expect(text.endsWith("\n\n")).toBe(true);
  return text
    .slice(0, -2)
    .split("\n\n")
    .map((e) => {
      expect(e).toMatch(/^data:[^ \n][^\n]*$/);
      return e.slice("data:".length);
    });
}

describe("GET endpoints", () => {
  it("/info in TGI's shape", async () => {
    fake.set({ model: "bigcode/starcoder2-3b", maxInputTokens: 4000, maxTotalTokens: 4096 });
    const res = await fetch(fake.url + "/info");
    expect(res.headers.get("content-type")).toBe("application/json");
    const info = await res.json();
    expect(Object.keys(info)).toEqual(["model_id", "model_sha", "model_pipeline_tag", "max_concurrent_requests", "max_best_of", "max_stop_sequences", "max_input_tokens", "max_total_tokens", "validation_workers", "max_client_batch_size", "router", "version", "sha", "docker_label"]);
    expect(info).toMatchObject({ model_id: "bigcode/starcoder2-3b", max_input_tokens: 4000, max_total_tokens: 4096, max_stop_sequences: 4 });
  });

  it("/health: empty 200, or 503 with an ErrorResponse", async () => {
    let res = await fetch(fake.url + "/health");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    fake.set({ healthy: false });
    res = await fetch(fake.url + "/health");
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('{"error":"unhealthy","error_type":"healthcheck"}');
  });

  it("/v1/models lists the one model", async () => {
    expect(await (await fetch(fake.url + "/v1/models")).json()).toEqual({ object: "list", data: [{ id: "Qwen/Qwen2.5-Coder-7B", object: "model", created: 0, owned_by: "Qwen/Qwen2.5-Coder-7B" }] });
  });
});

describe("POST /generate_stream", () => {
  it("streams token events without a space after data:, the EOS token special, generated_text last", async () => {
    fake.set({ respond: () => ({ text: "abcdefgh" }) });
    const res = await post("/generate_stream", { inputs: "x", parameters: { max_new_tokens: 10, details: false } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const text = await res.text();
    expect(text.startsWith('data:{"index":1,"token":{"id":1000,"text":"abcd","logprob":-0.25,"special":false},"generated_text":null,"details":null}\n\n')).toBe(true);
    const evs = events(text).map((e) => JSON.parse(e));
    expect(evs).toHaveLength(3);
    expect(evs[2]).toEqual({ index: 3, token: { id: 151643, text: "<|endoftext|>", logprob: -0.01, special: true }, generated_text: "abcdefgh", details: null });
  });

  it("leaves a matched stop sequence in the text, and reports details when asked", async () => {
    fake.set({ respond: () => ({ text: "a = 1\n\nb = 2", chunks: ["a = 1", "\n\n", "b = 2"] }) });
    const evs = events(await (await post("/generate_stream", { inputs: "x", parameters: { stop: ["\n\n"], details: true } })).text()).map((e) => JSON.parse(e));
    expect(evs.map((e) => e.token.text)).toEqual(["a = 1", "\n\n"]);
    expect(evs[1].generated_text).toBe("a = 1\n\n");
    expect(evs[1].details).toEqual({ finish_reason: "stop_sequence", generated_tokens: 2, seed: null, input_length: 1 });
  });

  it("cuts at max_new_tokens with finish_reason length", async () => {
    fake.set({ respond: () => ({ text: "x".repeat(40) }) });
    const evs = events(await (await post("/generate_stream", { inputs: "x", parameters: { max_new_tokens: 2, details: true } })).text()).map((e) => JSON.parse(e));
    expect(evs.at(-1).generated_text).toBe("xxxxxxxx");
    expect(evs.at(-1).details.finish_reason).toBe("length");
  });

  const invalid: [string, unknown, string][] = [
    ["temperature 0", { inputs: "x", parameters: { temperature: 0 } }, "Input validation error: `temperature` must be strictly positive"],
    ["five stop sequences", { inputs: "x", parameters: { stop: ["a", "b", "c", "d", "e"] } }, "Input validation error: `stop` supports up to 4 stop sequences. Given: 5"],
    ["inputs over max_input_tokens", { inputs: "x".repeat(4 * 7681) }, "Input validation error: `inputs` must have less than 7680 tokens. Given: 7681"],
    ["inputs + max_new_tokens over max_total_tokens", { inputs: "x".repeat(4 * 7000), parameters: { max_new_tokens: 1500 } }, "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192. Given: 7000 `inputs` tokens and 1500 `max_new_tokens`"],
    ["empty inputs", { inputs: "" }, "Input validation error: `inputs` cannot be empty"],
  ];
  it.each(invalid)("validation (%s) is an error event inside a 200 stream", async (_n, body, message) => {
    const res = await post("/generate_stream", body);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`data:${JSON.stringify({ error: message, error_type: "validation" })}\n\n`);
  });

  it("axum's plain-text rejections for bodies that are not JSON or lack inputs", async () => {
    let res = await post("/generate_stream", "{oops");
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toMatch(/^Failed to parse the request body as JSON: /);
    res = await post("/generate_stream", { prompt: "x" });
    expect(res.status).toBe(422);
    expect(await res.text()).toMatch(/missing field `inputs`/);
  });

  it("error replies, in-stream errors and malformed lines", async () => {
    fake.set({ respond: () => ({ status: 429, error: { message: "Model is overloaded" }, headers: { "retry-after": "2" } }) });
    let res = await post("/generate_stream", { inputs: "x" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(await res.text()).toBe('{"error":"Model is overloaded","error_type":"overloaded"}');

    fake.set({ respond: () => ({ streamError: { message: "Request failed during generation: CUDA out of memory" }, after: "abcdef" }) });
    let evs = events(await (await post("/generate_stream", { inputs: "x" })).text());
    expect(evs.map((e) => JSON.parse(e).token?.text ?? JSON.parse(e).error)).toEqual(["abcd", "ef", "Request failed during generation: CUDA out of memory"]);
    expect(JSON.parse(evs[2]!).error_type).toBe("generation");

    fake.set({ respond: () => ({ malformed: '{"index":2,"token":{', after: "abcd" }) });
    evs = events(await (await post("/generate_stream", { inputs: "x" })).text());
    expect(evs[1]).toBe('{"index":2,"token":{');
  });

  it("rejects suffix on /v1/completions with 422", async () => {
    const res = await post("/v1/completions", { prompt: "a", suffix: "b" });
    expect(res.status).toBe(422);
    expect(await res.text()).toBe('{"error":"Suffix is not supported and can be achieved by preprocessing the prompt.","error_type":"suffix not supported"}');
  });

  it("answers a bare 401 without the api key", async () => {
    fake.set({ apiKey: "k-123" });
    expect((await post("/generate_stream", { inputs: "x" })).status).toBe(401);
    expect((await post("/generate_stream", { inputs: "x" }, { headers: { "content-type": "application/json", authorization: "Bearer k-123" } })).status).toBe(200);
    expect((await fetch(fake.url + "/health")).status).toBe(200);
  });
});

describe("POST /v1/chat/completions", () => {
  it("streams OpenAI chunks in TGI's framing, usage on request, then [DONE]", async () => {
    fake.set({ respond: () => ({ text: "hello world" }) });
    const evs = events(await (await post("/v1/chat/completions", { model: "tgi", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } })).text());
    expect(evs.at(-1)).toBe("[DONE]");
    const chunks = evs.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? null)).toEqual(["hell", "o wo", "rld", "", null]);
    expect(chunks[3].choices[0].finish_reason).toBe("stop");
    expect(chunks[4].usage).toEqual({ prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
  });
});

describe("faults and timing", () => {
  it("records closedAt when a client abandons a hanging request", async () => {
    fake.set({ respond: () => ({ hang: true }) });
    const ac = new AbortController();
    const pending = post("/generate_stream", { inputs: "x" }, { signal: ac.signal });
    const rec = await fake.waitFor((r) => r.path === "/generate_stream");
    ac.abort();
    await expect(pending).rejects.toThrow();
    const closed = await fake.waitFor((r) => r.id === rec.id && r.closedAt !== null);
    expect(closed.finished).toBe(false);
  });

  it("a stalled stream sends its pieces, then nothing", async () => {
    fake.set({ respond: () => ({ hang: true, after: "abcd" }) });
    const ac = new AbortController();
    const res = await post("/generate_stream", { inputs: "x" }, { signal: ac.signal });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('"text":"abcd"');
    ac.abort();
    await fake.waitFor((r) => r.closedAt !== null);
  });

  it("destroys the socket before the headers, or in the middle of the stream", async () => {
    fake.set({ respond: () => ({ destroy: true }) });
    await expect(post("/generate_stream", { inputs: "x" })).rejects.toThrow();
    fake.set({ respond: () => ({ destroy: true, after: "abcdefgh" }) });
    const res = await post("/generate_stream", { inputs: "x" });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it("drips tokens tokenIntervalMs apart after latencyMs", async () => {
    fake.set({ respond: () => ({ text: "aaaabbbbcccc" }), latencyMs: 40, tokenIntervalMs: 30 });
    const t0 = performance.now();
    const res = await post("/generate_stream", { inputs: "x" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    await res.text();
    // three text tokens and the EOS event: three gaps
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35 + 3 * 25);
  });
});
