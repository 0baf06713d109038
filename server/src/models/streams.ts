// Stream framing shared by every backend that is not read through the openai SDK: lines, SSE events
// (with or without the space after `data:`) and NDJSON objects, read from a fetch body.

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
