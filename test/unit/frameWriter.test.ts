// The stdout writer: whole LSP frames, one write each, in order; failures reported, not swallowed.
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FrameWriter } from '../../server/src/server/frameWriter.js';

/** Splits a byte stream into frames by their Content-Length (bytes, not characters). */
function frames(bytes: Buffer): unknown[] {
  const out: unknown[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    const m = /^Content-Length: (\d+)$/.exec(rest.subarray(0, end).toString('latin1'));
    if (!m) throw new Error(`bad header: ${rest.subarray(0, end).toString('latin1')}`);
    const len = Number(m[1]);
    out.push(JSON.parse(rest.subarray(end + 4, end + 4 + len).toString('utf8')));
    rest = rest.subarray(end + 4 + len);
  }
  return out;
}

describe('FrameWriter', () => {
  it('writes each message as one Content-Length frame, lengths in UTF-8 bytes, in call order', async () => {
    const chunks: Buffer[] = [];
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => chunks.push(c));
    const w = new FrameWriter(sink);
    const msgs = [
      { jsonrpc: '2.0', id: 1, result: { items: [{ insertText: 'é ∑ 😀 "quoted"\n' }] } },
      { jsonrpc: '2.0', method: 'window/logMessage', params: { type: 3, message: 'ok' } },
      { jsonrpc: '2.0', id: 2, result: null },
    ];
    await Promise.all(msgs.map((m) => w.write(m)));
    expect(chunks).toHaveLength(3); // header and body together: one write per message
    expect(frames(Buffer.concat(chunks))).toEqual(msgs);
  });

  it('a failed write rejects and fires onError with the message and a running count', async () => {
    const broken = new Writable({ write: (_c, _e, cb) => cb(new Error('EPIPE')) });
    broken.on('error', () => undefined);
    const w = new FrameWriter(broken);
    const seen: [string, unknown, number | undefined][] = [];
    w.onError(([err, msg, count]) => seen.push([err.message, msg, count]));
    const msg = { jsonrpc: '2.0', id: 7, result: 1 };
    await expect(w.write(msg)).rejects.toThrow('EPIPE');
    expect(seen).toContainEqual(['EPIPE', msg, 1]);
  });

  it('a message that cannot be serialised is refused without writing anything', async () => {
    const chunks: Buffer[] = [];
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => chunks.push(c));
    const w = new FrameWriter(sink);
    const cyclic: Record<string, unknown> = { jsonrpc: '2.0', id: 3 };
    cyclic.result = cyclic;
    await expect(w.write(cyclic as never)).rejects.toThrow(/circular/i);
    expect(chunks).toHaveLength(0);
  });
});
