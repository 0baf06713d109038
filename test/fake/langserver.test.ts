// The fake language server speaks LSP over stdio: framed answers to initialize and hover, its own
// code action and command served, another server's refused, every message logged.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { until } from "../wait.js";

const SERVER = join(dirname(fileURLToPath(import.meta.url)), "langserver.js");

let proc: ChildProcessWithoutNullStreams;
let log: string;
let received: any[];
let raw: Buffer;
let nextId: number;

beforeEach(() => {
  log = join(mkdtempSync(join(tmpdir(), "fake-langserver-")), "log.jsonl");
  proc = spawn(process.execPath, [SERVER], { env: { ...process.env, FAKE_LSP_LOG: log }, stdio: ["pipe", "pipe", "pipe"] });
  received = [];
  raw = Buffer.alloc(0);
  nextId = 1;
  let buf = Buffer.alloc(0);
  proc.stdout.on("data", (d: Buffer) => {
    raw = Buffer.concat([raw, d]);
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const head = buf.indexOf("\r\n\r\n");
      if (head < 0) return;
      const len = Number(/^Content-Length: (\d+)$/.exec(buf.subarray(0, head).toString())![1]);
      if (buf.length < head + 4 + len) return;
      received.push(JSON.parse(buf.subarray(head + 4, head + 4 + len).toString()));
      buf = buf.subarray(head + 4 + len);
    }
  });
});
afterEach(() => {
  proc.kill();
});

function notify(method: string, params: unknown): void {
  const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", method, params }));
  proc.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
}

async function request(method: string, params: unknown): Promise<any> {
  const id = nextId++;
  const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
  proc.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  return until(() => received.find((m) => m.id === id), `the answer to ${method}`);
}

describe("fake language server", () => {
  it("declares hover, code actions with resolve and its command, and answers hover with the word at the position", async () => {
    const init = await request("initialize", { processId: null, rootUri: null, capabilities: {} });
    expect(init.result.capabilities).toEqual({ textDocumentSync: 1, hoverProvider: true, codeActionProvider: { resolveProvider: true }, executeCommandProvider: { commands: ["fake.organize"] } });
    notify("textDocument/didOpen", { textDocument: { uri: "file:///a.py", languageId: "python", version: 1, text: "def add(a, b):\n    return a\n" } });
    expect((await request("textDocument/hover", { textDocument: { uri: "file:///a.py" }, position: { line: 0, character: 5 } })).result).toEqual({ contents: { kind: "markdown", value: "fake hover: add" } });
    notify("textDocument/didChange", { textDocument: { uri: "file:///a.py", version: 2 }, contentChanges: [{ text: "def mul(a, b):\n" }] });
    expect((await request("textDocument/hover", { textDocument: { uri: "file:///a.py" }, position: { line: 0, character: 4 } })).result.contents.value).toBe("fake hover: mul");
    expect(raw.toString().startsWith("Content-Length: ")).toBe(true);
  });

  it("resolves and runs only its own code action and command; another server's get an error", async () => {
    const [own] = (await request("textDocument/codeAction", { textDocument: { uri: "file:///a.py" }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, context: { diagnostics: [] } })).result;
    expect((await request("codeAction/resolve", own)).result.command).toEqual({ title: "Organize", command: "fake.organize" });
    expect((await request("workspace/executeCommand", { command: "fake.organize" })).result).toBeNull();
    expect((await request("codeAction/resolve", { title: "Simplify this function (tandem)", data: { id: "simplify" } })).error).toMatchObject({ code: -32602, message: expect.stringContaining("Simplify this function (tandem)") });
    expect((await request("workspace/executeCommand", { command: "tandem.accepted", arguments: [{ id: "tandem-1" }] })).error).toMatchObject({ code: -32602, message: expect.stringContaining("tandem.accepted") });
    const logged = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(logged.map((m) => m.method)).toEqual(["textDocument/codeAction", "codeAction/resolve", "workspace/executeCommand", "codeAction/resolve", "workspace/executeCommand"]);
  });

  it("exits 0 on exit", async () => {
    await request("shutdown", null);
    const code = new Promise((res) => proc.on("exit", res));
    notify("exit", null);
    expect(await code).toBe(0);
  });
});
