// Server-sent events as OpenAI writes them: `data: <json>\n\n` per event, `data: [DONE]\n\n` last.
import type { ServerResponse } from 'node:http';
import type { ApiError } from './errors.js';

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

  /** Writes one `data:` event; false when the client is gone. */
  event(data: unknown): boolean {
    if (this.closed) return false;
    const line = `data: ${JSON.stringify(data)}\n\n`;
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    }
    this.res.write(line);
    return true;
  }

  /** `data: [DONE]` and the end of the response. */
  done(): void {
    if (this.closed) return;
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    }
    this.ended = true;
    this.res.end('data: [DONE]\n\n');
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
