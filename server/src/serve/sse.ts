// Server-sent events as OpenAI writes them: `data: <json>\n\n` per event, `data: [DONE]\n\n` last.
import type { ServerResponse } from 'node:http';
import type { ApiError } from './errors.js';

const HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' };

/**
 * One event stream. The status line and headers go out with the first event, not before: until
 * then a failure can still be answered as a plain JSON error with its own status.
 */
export class SseWriter {
  private started = false;
  private ended = false;

  constructor(private readonly res: ServerResponse) {}

  get isStarted(): boolean {
    return this.started;
  }

  /** The client is gone, or the stream was ended. */
  get closed(): boolean {
    return this.ended || this.res.destroyed;
  }

  /**
   * Writes `data:` events, all in one write (so the first answer's role chunk and its first piece
   * reach the client in one packet); false when the client is gone.
   */
  event(...data: unknown[]): boolean {
    if (this.closed) return false;
    let line = '';
    for (const d of data) line += `data: ${JSON.stringify(d)}\n\n`;
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, HEADERS);
    }
    this.res.write(line);
    return true;
  }

  /** `data` events if any, `data: [DONE]` and the end of the response, in one write. */
  done(...data: unknown[]): void {
    if (this.closed) return;
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, HEADERS);
    }
    this.ended = true;
    let tail = '';
    for (const d of data) tail += `data: ${JSON.stringify(d)}\n\n`;
    this.res.end(`${tail}data: [DONE]\n\n`);
  }

  /**
   * A failure after the stream began: an `{"error":{...}}` event (the openai SDKs raise it as an
   * APIError), then the end, without [DONE].
   */
  fail(err: ApiError): void {
    if (this.closed) return;
    this.event(err.body());
    this.ended = true;
    this.res.end();
  }
}
