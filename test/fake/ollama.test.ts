// The fake Ollama speaks Ollama's wire format: NDJSON lines, /api/show, suffix and raw, num_ctx, error shapes, faults.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeOllama, type FakeOllama } from "./ollama.js";

let fake: FakeOllama;
beforeEach(async () => {
  fake = await startFakeOllama();
});
afterEach(async () => {
  await fake.close();
});

function post(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(fake.url + path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), ...init });
}

/** NDJSON lines, checking the framing: every line one JSON object, a newline after each. */
function ndjson(text: string): any[] {
  expect(text.endsWith("\n")).toBe(true);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l) => JSON.parse(l));
}

describe("model endpoints", () => {
  it("/api/version, /api/tags", async () => {
    expect(await (await fetch(fake.url + "/api/version")).json()).toEqual({ version: "0.12.6" });
    const tags = await (await fetch(fake.url + "/api/tags")).json();
    expect(tags.models[0]).toMatchObject({ name: "qwen2.5-coder:1.5b-base", model: "qwen2.5-coder:1.5b-base", details: { family: "qwen2" } });
  });

  it("/api/show: capabilities, the trained context length, the Modelfile's num_ctx", async () => {
    const res = await post("/api/show", { model: "qwen2.5-coder:1.5b-base" });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const show = await res.json();
    expect(show.capabilities).toEqual(["completion", "insert"]);
    expect(show.model_info["qwen2.context_length"]).toBe(32768);
    expect(show.parameters).toMatch(/^num_ctx\s+4096$/m);
    fake.set({ numCtx: null, capabilities: ["completion"] });
    const bare = await (await post("/api/show", { model: "qwen2.5-coder:1.5b-base" })).json();
    expect(bare.parameters).not.toMatch(/num_ctx/);
    expect(bare.capabilities).toEqual(["completion"]);
  });

  it("an unknown model is a 404 with Ollama's error body", async () => {
    let res = await post("/api/show", { model: "nope" });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe(`{"error":"model 'nope' not found"}`);
    res = await post("/api/generate", { model: "nope", prompt: "x" });
    expect(await res.text()).toBe(`{"error":"model \\"nope\\" not found, try pulling it first"}`);
  });

  it("a model without a tag means :latest", async () => {
    fake.set({ model: "tandem-fim:latest" });
    expect((await post("/api/show", { model: "tandem-fim" })).status).toBe(200);
  });
});

describe("POST /api/generate", () => {
  it("streams NDJSON with a done line that carries done_reason and the counts", async () => {
    fake.set({ respond: () => ({ text: "return 42" }) });
    const res = await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "def f():\n    ", suffix: "\n", options: { num_predict: 32 } });
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = ndjson(await res.text());
    expect(lines.map((l) => l.response)).toEqual(["retu", "rn 4", "2", ""]);
    expect(Object.keys(lines[0])).toEqual(["model", "created_at", "response", "done"]);
    expect(lines[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(lines.at(-1)).toMatchObject({ done: true, done_reason: "stop", prompt_eval_count: 4, eval_count: 3 });
    expect(lines.at(-1).context).toEqual([151644, 872, 198]);
  });

  it("drops the stop string and cuts at num_predict", async () => {
    fake.set({ respond: () => ({ text: "a = 1\n\nb = 2" }) });
    let lines = ndjson(await (await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x", raw: true, options: { stop: ["\n\n"] } })).text());
    expect(lines.map((l) => l.response).join("")).toBe("a = 1");
    expect(lines.at(-1).context).toBeUndefined();
    lines = ndjson(await (await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x", options: { num_predict: 1 } })).text());
    expect(lines.map((l) => l.response).join("")).toBe("a = ");
    expect(lines.at(-1).done_reason).toBe("length");
  });

  it("refuses suffix for a model without insert", async () => {
    fake.set({ capabilities: ["completion"] });
    const res = await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "a", suffix: "b" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: '"qwen2.5-coder:1.5b-base" does not support insert' });
  });

  it("marks prompts longer than num_ctx as truncated, as Ollama silently cuts them", async () => {
    await (await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x".repeat(4 * 5000) })).text();
    await (await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x".repeat(4 * 5000), options: { num_ctx: 8192 } })).text();
    expect(fake.completions().map((r) => r.truncated)).toEqual([true, false]);
  });

  it("answers one object without streaming", async () => {
    fake.set({ respond: () => ({ text: "ok" }) });
    const body = await (await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x", stream: false })).json();
    expect(body).toMatchObject({ response: "ok", done: true, done_reason: "stop" });
  });

  it("HTTP errors, error lines, malformed lines", async () => {
    fake.set({ respond: () => ({ status: 500, error: { message: "llama runner process has terminated" } }) });
    let res = await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x" });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('{"error":"llama runner process has terminated"}');
    fake.set({ respond: () => ({ streamError: { message: "an error was encountered while running the model" }, after: "abcdef" }) });
    res = await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x" });
    expect(ndjson(await res.text())).toMatchObject([{ response: "abcd" }, { response: "ef" }, { error: "an error was encountered while running the model" }]);
    fake.set({ respond: () => ({ malformed: '{"response":"x",', after: "ab" }) });
    const text = await (await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x" })).text();
    expect(text.split("\n")[1]).toBe('{"response":"x",');
  });
});

describe("POST /api/chat", () => {
  it("streams message deltas and a done line", async () => {
    fake.set({ respond: () => ({ text: "Adds one." }) });
    const lines = ndjson(await (await post("/api/chat", { model: "qwen2.5-coder:1.5b-base", messages: [{ role: "user", content: "explain" }] })).text());
    expect(lines.slice(0, -1).map((l) => l.message.content).join("")).toBe("Adds one.");
    expect(lines.at(-1)).toMatchObject({ message: { role: "assistant", content: "" }, done_reason: "stop", done: true, prompt_eval_count: 2, eval_count: 3 });
  });
});

describe("faults", () => {
  it("records closedAt for an abandoned hanging request; destroys sockets; drips slowly", async () => {
    fake.set({ respond: () => ({ hang: true }) });
    const ac = new AbortController();
    const pending = post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x" }, { signal: ac.signal });
    await fake.waitFor((r) => r.path === "/api/generate");
    ac.abort();
    await expect(pending).rejects.toThrow();
    await fake.waitFor((r) => r.closedAt !== null);

    fake.set({ respond: () => ({ destroy: true, after: "abcd" }) });
    const res = await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x" });
    await expect(res.text()).rejects.toThrow();

    fake.set({ respond: () => ({ text: "aaaabbbb" }), tokenIntervalMs: 40 });
    const t0 = performance.now();
    await (await post("/api/generate", { model: "qwen2.5-coder:1.5b-base", prompt: "x" })).text();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
  });
});
