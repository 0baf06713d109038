// Server-sent events as a push parser: chunks in as they arrive off the socket, whole events out,
// synchronously. The keystroke path reads OpenAI-compatible streams with it (openaiCompat.ts):
// no async generator per line or per event, no web stream, one string per line at most.

/** One dispatched event: its `event:` name ('' when none was given) and its data lines joined by `\n`. */
export type SseHandler = (event: string, data: string) => void;

/**
 * Framing as the SSE spec (and the openai package's decoder) reads it: lines end with `\n`,
 * `\r\n` or a lone `\r`, also when the two bytes of a `\r\n` or the bytes of a UTF-8 character
 * arrive in different chunks; a blank line dispatches the event; `:` lines are comments
 * (keep-alives); one optional space after the colon is framing; several `data:` lines are joined
 * with `\n`; `id:`, `retry:` and unknown fields are ignored; a leading byte-order mark is dropped.
 * An event without data is not dispatched.
 */
export class SseParser {
  private readonly decoder = new TextDecoder();
  /** The start of a line whose end has not arrived yet. */
  private partial = '';
  /** The last chunk ended with `\r`: a `\n` opening the next one ends no second line. */
  private afterCR = false;
  private started = false;
  private event = '';
  /** The data lines of the event being read; a string while there is one (the common case). */
  private data: string | string[] | undefined;

  constructor(private readonly onEvent: SseHandler) {}

  /** Takes one chunk of the body; events it completes are handed over before it returns. */
  push(chunk: Uint8Array): void {
    let text = this.decoder.decode(chunk, { stream: true });
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.scan(text);
  }

  /**
   * The body ended. A last line without its terminator still counts, and an event the server did
   * not close with a blank line is still dispatched: a server that closes early meant what it sent.
   */
  end(): void {
    this.scan(this.decoder.decode());
    if (this.partial !== '') {
      const line = this.partial;
      this.partial = '';
      this.line(line);
    }
    this.dispatch();
  }

  private scan(text: string): void {
    let start = 0;
    if (this.afterCR) {
      this.afterCR = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    const n = text.length;
    // Line ends found with indexOf (a vLLM answer of a few hundred events is tens of kB: read a
    // character at a time, it showed in profiles), the next CR and the next LF each looked up again
    // only once passed; in a stream without CRs the first lookup says so for the whole chunk.
    let cr = text.indexOf('\r', start);
    let lf = text.indexOf('\n', start);
    for (;;) {
      if (cr >= 0 && cr < start) cr = text.indexOf('\r', start);
      if (lf >= 0 && lf < start) lf = text.indexOf('\n', start);
      let i = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
      if (i < 0) break;
      let line = text.slice(start, i);
      if (this.partial !== '') {
        line = this.partial + line;
        this.partial = '';
      }
      if (i === cr) {
        if (i + 1 === n) this.afterCR = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      this.line(line);
    }
    if (start < n) this.partial += text.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' a comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = '';
    if (colon >= 0) value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    if (field === 'data') {
      const d = this.data;
      if (d === undefined) this.data = value;
      else if (typeof d === 'string') this.data = [d, value];
      else d.push(value);
    } else if (field === 'event') this.event = value;
  }

  private dispatch(): void {
    const d = this.data;
    const event = this.event;
    this.data = undefined;
    this.event = '';
    if (d === undefined) return;
    this.onEvent(event, typeof d === 'string' ? d : d.join('\n'));
  }
}
