// Stream framing shared by every backend that is not read through the openai SDK: lines, SSE events
// (with or without the space after `data:`) and NDJSON objects, read from a fetch body.
import type { ChatMessage, ChatRequest, ToolCall, ToolCallDelta } from './types.js';

/** A stream line that should hold JSON and does not: the server (or something between) is broken. */
export class MalformedStreamError extends Error {
  constructor(readonly line: string, detail: string) {
    super(`malformed stream line ${JSON.stringify(line.length > 120 ? `${line.slice(0, 120)}…` : line)}: ${detail}`);
    this.name = 'MalformedStreamError';
  }
}

/**
 * The body's lines, `\n` or `\r\n` terminated, decoded as UTF-8 across chunk boundaries. Leaving
 * the loop early (a break, `enough`, an error) cancels the body, which closes the connection: the
 * server sees the client go and stops generating.
 */
export async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let start = 0;
      for (let nl = buf.indexOf('\n', start); nl >= 0; nl = buf.indexOf('\n', start)) {
        const end = nl > start && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        const line = buf.slice(start, end);
        start = nl + 1;
        yield line;
      }
      buf = buf.slice(start);
    }
    buf += decoder.decode();
    finished = true;
    if (buf.length > 0) yield buf.endsWith('\r') ? buf.slice(0, -1) : buf;
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

export interface SseEvent {
  /** The `event:` name; "message" when none was given; "error" for llama.cpp's `error:` lines. */
  event: string;
  data: string;
}

/**
 * Server-sent events. TGI writes `data:{…}` without the space, vLLM and llama.cpp `data: {…}`;
 * both are the same field (the SSE spec drops one optional space). Comments (`:` lines, TGI's
 * keep-alives) are skipped. llama.cpp releases before mid-2025 wrote an error as a bare
 * `error: {…}` line, which is surfaced as an event named "error".
 */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  let event = '';
  let data: string[] = [];
  for await (const line of lines(body)) {
    if (line === '') {
      if (data.length > 0) yield { event: event || 'message', data: data.join('\n') };
      event = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'error') {
      event = 'error';
      data.push(value);
    }
    // `id:` and `retry:` mean nothing to a one-shot completion; other lines are ignored as the spec says.
  }
  // A server that closes without the final blank line still meant its last event.
  if (data.length > 0) yield { event: event || 'message', data: data.join('\n') };
}

/** Newline-delimited JSON (Ollama): one value per non-blank line. */
export async function* ndjson(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  for await (const line of lines(body)) {
    if (line.trim() === '') continue;
    yield parseJsonLine(line);
  }
}

/** JSON.parse that names the offending line instead of throwing a bare SyntaxError. */
export function parseJsonLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new MalformedStreamError(line, err instanceof Error ? err.message : String(err));
  }
}

// --- Chat: messages on the OpenAI wire, and tool calls streamed in pieces -----------------------


/** A chat's optional sampling fields in OpenAI's spelling (`top_p`, `stop`), only those the caller gave. */
export function sampling(req: Pick<ChatRequest, 'topP' | 'stop'>): { top_p?: number; stop?: string[] } {
  return { ...(req.topP !== undefined ? { top_p: req.topP } : {}), ...(req.stop && req.stop.length > 0 ? { stop: req.stop } : {}) };
}

/** OpenAI's chat message shape, from ours: `tool_calls` on an assistant message, `tool_call_id` on a tool's. */
export function openAIMessages(messages: readonly ChatMessage[]): Record<string, unknown>[] {
  return messages.map((m) => {
    const out: Record<string, unknown> = { role: m.role, content: m.content };
    if (m.toolCalls && m.toolCalls.length > 0) out.tool_calls = m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }));
    if (m.role === 'tool' && m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
    if (m.role === 'tool' && m.name !== undefined) out.name = m.name;
    return out;
  });
}

/**
 * Puts a backend's streamed tool-call pieces together (OpenAI's `delta.tool_calls`: by `index`, the
 * id, type and name in the first piece, the arguments in pieces), and checks the whole: a call
 * without a name or whose arguments are not JSON is the server's fault, said in one sentence.
 * TGI streams `tool_calls` as one object rather than a list, and repeats the name in every piece.
 */
export class ToolCallAssembler {
  private readonly calls: { id: string; name: string; args: string }[] = [];
  /** The first problem seen; `finish` reports it. */
  private problem: string | undefined;

  get any(): boolean {
    return this.calls.length > 0;
  }

  /** Takes one chunk's `tool_calls`; returns the pieces to pass on, normalized (undefined: nothing usable). */
  add(raw: unknown): ToolCallDelta[] | undefined {
    if (raw === undefined || raw === null) return undefined;
    const list = Array.isArray(raw) ? raw : [raw];
    const out: ToolCallDelta[] = [];
    for (const d of list) {
      if (typeof d !== 'object' || d === null) {
        this.problem ??= `a tool call piece is ${JSON.stringify(d)?.slice(0, 40)}, not an object`;
        continue;
      }
      const p = d as { index?: unknown; id?: unknown; type?: unknown; function?: unknown };
      const index = p.index === undefined && !Array.isArray(raw) ? 0 : p.index;
      if (!Number.isSafeInteger(index) || (index as number) < 0 || (index as number) > 127) {
        this.problem ??= `a tool call piece has index ${JSON.stringify(p.index)}, not a small non-negative integer`;
        continue;
      }
      const i = index as number;
      if (i > this.calls.length) {
        this.problem ??= `tool call ${i} started before tool call ${this.calls.length}`;
        continue;
      }
      const call = (this.calls[i] ??= { id: '', name: '', args: '' });
      const delta: ToolCallDelta = { index: i };
      if (typeof p.id === 'string' && p.id !== '' && call.id === '') {
        call.id = p.id;
        delta.id = p.id;
        delta.type = 'function';
      }
      if (p.type !== undefined && p.type !== null && p.type !== 'function') this.problem ??= `tool call ${i} has type ${JSON.stringify(p.type)}, not "function"`;
      const f = p.function;
      if (f !== undefined && f !== null) {
        if (typeof f !== 'object') {
          this.problem ??= `tool call ${i}'s "function" is not an object`;
          continue;
        }
        const { name, arguments: args } = f as { name?: unknown; arguments?: unknown };
        if (typeof name === 'string' && name !== '' && call.name === '') {
          call.name = name;
          delta.function = { name };
        } else if (name !== undefined && name !== null && typeof name !== 'string') this.problem ??= `tool call ${i}'s name is not a string`;
        if (typeof args === 'string') {
          if (args !== '') {
            call.args += args;
            delta.function = { ...delta.function, arguments: args };
          }
        } else if (args !== undefined && args !== null) this.problem ??= `tool call ${i}'s arguments are ${typeof args === 'object' ? 'an object' : typeof args}, not a JSON string`;
      }
      out.push(delta);
    }
    return out.length > 0 ? out : undefined;
  }

  /** Takes whole calls (Ollama: `{function: {name, arguments: {...}}}` in one line); returns them as pieces. */
  addWhole(raw: unknown): ToolCallDelta[] | undefined {
    if (!Array.isArray(raw)) {
      if (raw !== undefined && raw !== null) this.problem ??= 'tool_calls is not a list';
      return undefined;
    }
    const pieces: unknown[] = [];
    for (const c of raw) {
      const f = (c as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
      const args = f?.arguments;
      const id = (c as { id?: unknown } | null)?.id;
      pieces.push({
        index: this.calls.length + pieces.length,
        ...(typeof id === 'string' && id !== '' ? { id } : {}),
        type: 'function',
        function: { name: f?.name, arguments: typeof args === 'object' && args !== null ? JSON.stringify(args) : args },
      });
    }
    return this.add(pieces);
  }

  /** The calls, or what is wrong with them. A call the server gave no id gets `call_<n>`. */
  finish(): { ok: true; calls: ToolCall[] } | { ok: false; problem: string } {
    if (this.problem) return { ok: false, problem: this.problem };
    const calls: ToolCall[] = [];
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (!c) return { ok: false, problem: `tool call ${i} never started` };
      if (c.name === '') return { ok: false, problem: `tool call ${i} has no function name` };
      const args = c.args.trim() === '' ? '{}' : c.args;
      try {
        const v: unknown = JSON.parse(args);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, problem: `tool call ${i} (${c.name}) has arguments that are not a JSON object: ${args.slice(0, 60)}` };
      } catch {
        return { ok: false, problem: `tool call ${i} (${c.name}) has arguments that are not valid JSON: ${args.slice(0, 60)}` };
      }
      calls.push({ id: c.id || `call_${i}`, type: 'function', function: { name: c.name, arguments: args } });
    }
    return { ok: true, calls };
  }
}
