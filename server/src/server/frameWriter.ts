// The LSP writer for stdout: each message goes out as one frame in one write.
import { AbstractMessageWriter, type Message, type MessageWriter } from 'vscode-languageserver/node';

/**
 * vscode-jsonrpc's StreamMessageWriter writes the header and the body as two writes, the body only
 * after the header's write callback, and starts every message from a setImmediate (its write
 * semaphore). On a keystroke's path that is two syscalls, two wake-ups of the editor's reader, and
 * a trip through the event loop's check phase behind whatever else queued there. This writer
 * builds the frame (`Content-Length` header and UTF-8 JSON body) in one buffer and hands it to the
 * stream at once; frames keep the order of `write` calls because the stream queues them in order.
 */
export class FrameWriter extends AbstractMessageWriter implements MessageWriter {
  private errorCount = 0;

  constructor(private readonly stream: NodeJS.WritableStream) {
    super();
    stream.on('error', (error: Error) => this.fireError(error));
    stream.on('close', () => this.fireClose());
  }

  write(msg: Message): Promise<void> {
    let frame: Buffer;
    try {
      frame = encodeFrame(msg);
    } catch (error) {
      // A message that cannot be serialised (a cycle, a BigInt): reported like a failed write.
      return Promise.reject(this.failed(error, msg));
    }
    return new Promise<void>((resolve, reject) => {
      this.stream.write(frame, (error?: Error | null) => {
        if (error) reject(this.failed(error, msg));
        else resolve();
      });
    });
  }

  end(): void {
    this.stream.end();
  }

  private failed(error: unknown, msg: Message): unknown {
    this.errorCount++;
    this.fireError(error, msg, this.errorCount);
    return error;
  }
}

/** `Content-Length: N\r\n\r\n` followed by the message as UTF-8 JSON, in one buffer. */
export function encodeFrame(msg: Message): Buffer {
  const body = JSON.stringify(msg);
  const length = Buffer.byteLength(body, 'utf8');
  const header = `Content-Length: ${length}\r\n\r\n`;
  const frame = Buffer.allocUnsafe(header.length + length);
  frame.write(header, 0, 'latin1');
  frame.write(body, header.length, 'utf8');
  return frame;
}
