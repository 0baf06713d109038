// The LSP reader for stdin: Content-Length frames in, messages out; a bad frame is reported and skipped, never fatal.
import { AbstractMessageReader, ErrorCodes, type DataCallback, type Disposable, type Message, type MessageReader, type ResponseMessage } from 'vscode-languageserver/node';
import { CancelShape, notificationProblem } from '../features/args.js';

/** Bodies above this are refused: no editor sends 64 MiB in one message, a corrupt length might. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Headers are a few dozen bytes; this many without the blank line that ends them is not a header. */
export const MAX_HEADER_BYTES = 8 * 1024;

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const CONTENT_LENGTH = 'content-length';
const RESYNC_MARK = 'content-length:';
const QUOTE_MAX = 24;
/** Request ids of cancellations remembered to drop repeats: requests in flight are far fewer. */
const RECENT_CANCELS = 1024;

/**
 * Splits a byte stream into JSON-RPC messages by their `Content-Length` headers, as vscode-jsonrpc's
 * reader does (header names case-insensitive, other headers such as Content-Type accepted and
 * ignored, the header block ended by a blank line), but a frame it cannot use does not end the
 * stream: a header block without a usable length (missing, negative, not a number, above
 * MAX_BODY_BYTES), a body that is not a JSON object (a length too small cuts it short), a body
 * still coming that already holds the next frame's header (a length too large), or bytes that
 * never form a header are reported once through `problem`, and reading resumes at the next
 * `Content-Length:`. The search is not tied to the start of a line because frames abut (a body's
 * last byte is followed at once by the next header). A false match inside a body is harmless: a
 * candidate counts only when a whole valid header block follows, and a JSON string cannot hold the
 * raw CR LF CR LF that ends one.
 *
 * The common case (whole frames in one chunk) parses in place, with no copy of the chunk; a body
 * spread over chunks is joined once, when its last byte has come.
 */
export class FrameDecoder {
  /** Bytes not yet consumed (part of a header, or the tail kept while searching). */
  private pending: Buffer | undefined;
  /** Stream offset of pending[0], or of the first body chunk while collecting: for reports. */
  private base = 0;
  /** While collecting a body spread over chunks: its length, its chunks, and their total. */
  private bodyLength = -1;
  private bodyChunks: Buffer[] = [];
  private bodyHave = 0;
  private searching = false;
  /** Set by a bad frame, cleared by the next good one: candidates tried on the way are not reported. */
  private recovering = false;

  constructor(
    private readonly deliver: (msg: Message) => void,
    private readonly problem: (text: string) => void,
  ) {}

  push(chunk: Buffer): void {
    let buf: Buffer;
    if (this.bodyLength >= 0) {
      this.bodyChunks.push(chunk);
      this.bodyHave += chunk.length;
      if (this.bodyHave < this.bodyLength) {
        this.cutShort();
        return;
      }
      buf = this.bodyChunks.length === 1 ? this.bodyChunks[0]! : Buffer.concat(this.bodyChunks, this.bodyHave);
      const length = this.bodyLength;
      this.bodyChunks = [];
      this.bodyHave = 0;
      this.bodyLength = -1;
      this.scan(buf, this.body(buf, 0, length));
      return;
    }
    buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    this.scan(buf, 0);
  }

  /** Consumes whole frames of `buf` from `pos`; keeps what is left for the next chunk. */
  private scan(buf: Buffer, pos: number): void {
    while (pos < buf.length) {
      if (this.searching) {
        const found = findMark(buf, pos);
        if (found < 0) {
          // Keep a tail that could be the start of a mark cut by the chunk's end.
          const keep = Math.max(pos, buf.length - (RESYNC_MARK.length - 1));
          this.keep(buf, keep);
          return;
        }
        this.searching = false;
        pos = found;
      }
      const end = buf.indexOf(HEADER_END, pos);
      if (end < 0) {
        if (buf.length - pos > MAX_HEADER_BYTES) {
          pos = this.bad(pos, `no end of header (a blank line) within ${MAX_HEADER_BYTES} bytes`);
          continue;
        }
        this.keep(buf, pos);
        return;
      }
      const length = headerLength(buf, pos, end);
      if (typeof length === 'string') {
        pos = this.bad(pos, length);
        continue;
      }
      const start = end + HEADER_END.length;
      if (buf.length - start < length) {
        // The body is still coming: collect its chunks, join them once it is all here.
        this.base += start;
        this.bodyLength = length;
        this.bodyChunks = start < buf.length ? [buf.subarray(start)] : []; // a header alone is common
        this.bodyHave = buf.length - start;
        this.pending = undefined;
        this.cutShort();
        return;
      }
      pos = this.body(buf, start, length);
    }
    this.base += buf.length;
    this.pending = undefined;
  }

  /**
   * While a body is still coming: whether its last piece shows that the length was too large, so
   * that the frames behind it are read now rather than after the missing bytes (up to 64 MiB of
   * later traffic). The proof is a whole valid header block in the body: a JSON text cannot hold one
   * (a raw CR is only whitespace between tokens, never inside a string, and `Content-Length` is no
   * JSON token). Only pieces with a raw CR are looked at, which compact JSON never has, with up to
   * MAX_HEADER_BYTES before them (where a header ending in this piece may start).
   */
  private cutShort(): void {
    const chunks = this.bodyChunks;
    const last = chunks[chunks.length - 1];
    if (last === undefined || last.indexOf(0x0d) < 0) return;
    const parts = [last];
    for (let i = chunks.length - 2, lead = 0; i >= 0 && lead < MAX_HEADER_BYTES; i--) {
      const c = chunks[i]!;
      const take = Math.min(c.length, MAX_HEADER_BYTES - lead);
      parts.push(c.subarray(c.length - take));
      lead += take;
    }
    const window = parts.length === 1 ? last : Buffer.concat(parts.reverse());
    const at = findHeader(window);
    if (at < 0) return;
    const body = Buffer.concat(chunks, this.bodyHave);
    const from = this.bodyHave - window.length + at;
    const length = this.bodyLength;
    this.bodyChunks = [];
    this.bodyHave = 0;
    this.bodyLength = -1;
    this.bad(0, `body of ${length} bytes holds another frame's header at its byte ${from} (Content-Length too large?)`);
    this.scan(body, from);
  }

  /** Delivers the body at `start`; returns where scanning goes on (after it, or inside it when it was bad). */
  private body(buf: Buffer, start: number, length: number): number {
    let msg: unknown;
    try {
      msg = JSON.parse(buf.toString('utf8', start, start + length));
    } catch {
      // Resume the search inside the body: a too-small length leaves the real body's rest, and
      // perhaps the next header, in it. The parser's message is left out: it quotes the body,
      // which may be a protected file's code.
      this.bad(start, `body of ${length} bytes is not valid JSON (a wrong Content-Length?)`);
      return start;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.bad(start, `body of ${length} bytes is JSON but not a message object`);
      return start + length;
    }
    this.recovering = false;
    this.deliver(msg as Message);
    return start + length;
  }

  /**
   * Reports the frame at `pos` as bad and starts searching just after it; returns where. Only the
   * first bad frame of a run is reported: a false candidate found on the way (`Content-Length:`
   * inside a skipped body) is the same incident, not a new one.
   */
  private bad(pos: number, what: string): number {
    if (!this.recovering) {
      this.problem(`bad LSP frame at byte ${this.base + pos} of the input: ${what}; skipping to the next Content-Length header`);
    }
    this.recovering = true;
    this.searching = true;
    return pos + 1;
  }

  private keep(buf: Buffer, from: number): void {
    this.base += from;
    this.pending = from < buf.length ? buf.subarray(from) : undefined;
  }
}

/** The Content-Length of the header block buf[pos, end), or what is wrong with it. */
function headerLength(buf: Buffer, pos: number, end: number): number | string {
  let length = -1;
  while (pos < end) {
    let eol = buf.indexOf(CRLF, pos);
    if (eol < 0 || eol > end) eol = end;
    const colon = buf.indexOf(0x3a, pos);
    if (colon < 0 || colon > eol) return `header line ${quote(buf, pos, eol)} has no ':'`;
    if (isName(buf, pos, colon, CONTENT_LENGTH)) {
      const value = byteCount(buf, colon + 1, eol);
      if (value < 0) return `Content-Length ${quote(buf, colon + 1, eol)} is not a byte count`;
      if (value > MAX_BODY_BYTES) return `Content-Length ${quote(buf, colon + 1, eol)} is above the ${MAX_BODY_BYTES}-byte limit`;
      length = value; // a repeated header: the last one counts, as in vscode-jsonrpc
    }
    pos = eol + CRLF.length;
  }
  return length < 0 ? 'no Content-Length header' : length;
}

/** Whether buf[from, to), trimmed of spaces and tabs, is `lower` in any case (ASCII). */
function isName(buf: Buffer, from: number, to: number, lower: string): boolean {
  while (from < to && isBlank(buf[from]!)) from++;
  while (to > from && isBlank(buf[to - 1]!)) to--;
  if (to - from !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if ((buf[from + i]! | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The decimal digits of buf[from, to) between optional blanks, or -1 if it is anything else. */
function byteCount(buf: Buffer, from: number, to: number): number {
  while (from < to && isBlank(buf[from]!)) from++;
  while (to > from && isBlank(buf[to - 1]!)) to--;
  if (from === to) return -1;
  // Past 15 digits the value is far above any limit (and no longer exact as a double).
  if (to - from > 15) return allDigits(buf, from, to) ? Number.MAX_SAFE_INTEGER : -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function allDigits(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i]! < 0x30 || buf[i]! > 0x39) return false;
  return true;
}

function isBlank(b: number): boolean {
  return b === 0x20 || b === 0x09;
}

/** Where the next `Content-Length:` (any case) starts at or after `from`, or -1. */
function findMark(buf: Buffer, from: number): number {
  // Only on the rare path after a bad frame, so a lower-cased copy is affordable.
  const i = buf.toString('latin1', from).toLowerCase().indexOf(RESYNC_MARK);
  return i < 0 ? -1 : from + i;
}

/** Where a `Content-Length:` with a whole valid header block after it starts in `buf`, or -1. */
function findHeader(buf: Buffer): number {
  for (let from = 0; ; ) {
    const mark = findMark(buf, from);
    if (mark < 0) return -1;
    const end = buf.indexOf(HEADER_END, mark);
    if (end < 0) return -1;
    if (typeof headerLength(buf, mark, end) === 'number') return mark;
    from = mark + 1;
  }
}

/**
 * A header's bytes for a report: quoted, control bytes escaped by JSON, and cut short, because
 * bytes where a header was expected could be anything, even text from a document.
 */
function quote(buf: Buffer, from: number, to: number): string {
  const text = buf.toString('latin1', from, Math.min(to, from + QUOTE_MAX)).trim();
  return JSON.stringify(to - from > QUOTE_MAX ? `${text}…` : text);
}

/**
 * What makes `msg` neither a request, a notification nor a response as vscode-jsonrpc tells them
 * apart, or undefined when it is one of those. The library drops such a message (with a log that
 * quotes it whole), so a request with an id it cannot use (an object, an array, a boolean, null)
 * or a method that is not a string would never be answered. One without a method whose id is a
 * number or a string is not judged here: it may be a broken answer to one of the server's own
 * requests, which the library fails with its own error.
 */
export function invalidRequest(msg: object): { problem: string; id: number | string | null } | undefined {
  const m = msg as { method?: unknown; id?: unknown; result?: unknown; error?: unknown };
  const scalar = typeof m.id === 'number' || typeof m.id === 'string';
  const id = scalar ? (m.id as number | string) : null;
  if (typeof m.method === 'string') return m.id === undefined || scalar ? undefined : { problem: `the id of a request must be a number or a string, not ${kindOf(m.id)}`, id };
  if ('method' in m) return { problem: `the method must be a string, not ${kindOf(m.method)}`, id };
  if (m.result !== undefined || m.error) return undefined; // an answer (one with an unusable id is the library's to drop)
  return scalar ? undefined : { problem: 'no method, and no result or error', id };
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * A MessageReader over a readable stream (stdin) through a FrameDecoder. Bad frames go to `problem`
 * and are skipped, as is (said once per problem) a `$/cancelRequest` without a usable id, which the
 * library would read unchecked, and a repeated cancel of one request, which it would throw on. An
 * invalid request (see invalidRequest) gets the answer JSON-RPC 2.0 prescribes through `answer`:
 * -32600 Invalid Request, with its id when it is a number or a string, else null (said once per
 * problem, without the message's content). The stream's errors are passed on and its end closes
 * the reader. It notes whether a `shutdown`
 * request went by, because the owner of the process decides the exit status from that when the
 * stream ends (the library does so itself only when handed the raw stream).
 */
export class FrameReader extends AbstractMessageReader implements MessageReader {
  private callback: DataCallback | undefined;
  private readonly decoder: FrameDecoder;
  private shutdown = false;
  /** Problems of `$/cancelRequest` messages and of invalid requests already reported: each is said once. */
  private readonly ignored = new Set<string>();
  /** Ids of the latest `$/cancelRequest`s (at most RECENT_CANCELS): a repeat is dropped. */
  private readonly cancelled = new Set<number | string>();

  constructor(
    private readonly stream: NodeJS.ReadableStream,
    problem: (text: string) => void,
    answer?: (msg: ResponseMessage) => void,
  ) {
    super();
    this.decoder = new FrameDecoder((msg) => {
      const invalid = invalidRequest(msg);
      if (invalid) {
        if (!this.ignored.has(invalid.problem)) problem(`answered an invalid request with ${ErrorCodes.InvalidRequest}: ${invalid.problem}`);
        this.ignored.add(invalid.problem);
        answer?.({ jsonrpc: '2.0', id: invalid.id, error: { code: ErrorCodes.InvalidRequest, message: `Invalid Request: ${invalid.problem}` } });
        return;
      }
      const method = (msg as { method?: unknown }).method;
      if (method === 'shutdown') this.shutdown = true;
      // The library handles cancellation before any handler, reading params.id unchecked: a
      // malformed one would throw inside it on every such message. It is dropped here instead.
      if (method === '$/cancelRequest') {
        const bad = notificationProblem('$/cancelRequest', CancelShape, (msg as { params?: unknown }).params);
        if (bad !== undefined) {
          if (!this.ignored.has(bad)) problem(`ignored ${bad}`);
          this.ignored.add(bad);
          return;
        }
        // A second cancel of one request changes nothing, and would throw inside the library when
        // the first came while the request was still queued (its token is then a frozen
        // "cancelled" constant without a cancel method).
        const id = (msg as unknown as { params: { id: number | string } }).params.id;
        if (this.cancelled.has(id)) return;
        this.cancelled.add(id);
        if (this.cancelled.size > RECENT_CANCELS) this.cancelled.delete(this.cancelled.values().next().value!);
      }
      // A throw here would leave the decoder mid-chunk and escape the stream's 'data' event.
      try {
        this.callback?.(msg);
      } catch (error) {
        this.fireError(error);
      }
    }, problem);
  }

  /** Whether a `shutdown` request was read. */
  get shutdownReceived(): boolean {
    return this.shutdown;
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer | string) => this.decoder.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    const onError = (error: Error) => this.fireError(error);
    const onClose = () => this.fireClose();
    this.stream.on('data', onData);
    this.stream.on('error', onError);
    this.stream.on('end', onClose);
    this.stream.on('close', onClose);
    return {
      dispose: () => {
        this.stream.off('data', onData);
        this.stream.off('error', onError);
        this.stream.off('end', onClose);
        this.stream.off('close', onClose);
      },
    };
  }
}
