// The stdin frame decoder: frames however the bytes are chunked; a bad frame reported once and skipped.
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { describe, expect, it } from 'vitest';
import { until } from '../wait.js';
import { FrameDecoder, FrameReader, MAX_BODY_BYTES, invalidRequest } from '../../server/src/server/frameReader.js';

function frame(msg: unknown, header = (n: number) => `Content-Length: ${n}\r\n\r\n`): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  return Buffer.concat([Buffer.from(header(body.length), 'latin1'), body]);
}

const A = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { text: 'é ∑ 😀 "Content-Length: 5\r\n\r\n"' } };
const B = { jsonrpc: '2.0', method: 'initialized', params: {} };
/** In the table of bad frames: the report points at the body. */
const BODY = -1;
const C = { jsonrpc: '2.0', id: 2, method: 'shutdown', params: null };

function decode(chunks: Buffer[]) {
  const messages: unknown[] = [];
  const problems: string[] = [];
  const d = new FrameDecoder(
    (m) => messages.push(m),
    (p) => problems.push(p),
  );
  for (const c of chunks) d.push(c);
  return { messages, problems };
}

/** The same bytes cut every way that matters: whole, one byte at a time, and at every single point. */
function everyCut(bytes: Buffer): Buffer[][] {
  const cuts: Buffer[][] = [[bytes], [...bytes].map((b) => Buffer.from([b]))];
  for (let i = 1; i < bytes.length; i++) cuts.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return cuts;
}

describe('FrameDecoder', () => {
  it('two frames in one chunk, and a header or body split anywhere, give the same messages', () => {
    const bytes = Buffer.concat([frame(A), frame(B), frame(C)]);
    for (const chunks of everyCut(bytes)) expect(decode(chunks)).toEqual({ messages: [A, B, C], problems: [] });
  });

  it('accepts what vscode-jsonrpc accepts: any case, blanks around values, a Content-Type header', () => {
    const odd = (n: number) => `content-LENGTH:\t ${n}  \r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n`;
    const typeFirst = (n: number) => `Content-Type: application/vscode-jsonrpc\r\nContent-Length:${n}\r\n\r\n`;
    const bytes = Buffer.concat([frame(A, odd), frame(B, typeFirst), frame(C)]);
    for (const chunks of everyCut(bytes)) expect(decode(chunks)).toEqual({ messages: [A, B, C], problems: [] });
  });

  // Each bad frame, what the report must say, and where (from the bad bytes' start) it must point:
  // the header, or the body when the header was usable.
  const bad: [string, Buffer, RegExp, number][] = [
    ['missing Content-Length', Buffer.from('Content-Type: application/json\r\n\r\n{"jsonrpc":"2.0","method":"x"}'), /no Content-Length header/, 0],
    ['negative', Buffer.from('Content-Length: -5\r\n\r\n{"jsonrpc":"2.0","method":"x"}'), /Content-Length "-5" is not a byte count/, 0],
    ['non-numeric', Buffer.from('Content-Length: 12abc\r\n\r\n{"jsonrpc":"2.0","method":"x"}'), /Content-Length "12abc" is not a byte count/, 0],
    ['too small', Buffer.from('Content-Length: 10\r\n\r\n{"jsonrpc":"2.0","method":"x"}'), /body of 10 bytes is not valid JSON/, BODY],
    ['zero', Buffer.from('Content-Length: 0\r\n\r\n'), /body of 0 bytes is not valid JSON/, BODY],
    ['huge', Buffer.from('Content-Length: 99999999999999999999\r\n\r\n{"jsonrpc":"2.0","method":"x"}'), new RegExp(`Content-Length "9+" is above the ${MAX_BODY_BYTES}-byte limit`), 0],
    ['just above the limit', Buffer.from(`Content-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n{}`), /is above the 67108864-byte limit/, 0],
    ['garbage line before a header', Buffer.from('hello there\r\n'), /header line "hello there" has no ':'/, 0],
    ['garbage glued to a header', Buffer.from('garbage'), /no Content-Length header/, 0],
    ['bad JSON body', Buffer.from('Content-Length: 9\r\n\r\n{"a":,,,}'), /body of 9 bytes is not valid JSON/, BODY],
    ['JSON that is not a message', Buffer.from('Content-Length: 4\r\n\r\nnull'), /JSON but not a message object/, BODY],
  ];

  for (const [name, garbage, why, at] of bad) {
    it(`${name}: reported once, with its byte offset, and the next frame is read however the bytes come`, () => {
      const bytes = Buffer.concat([frame(B), garbage, frame(A), frame(C)]);
      for (const chunks of everyCut(bytes)) {
        const { messages, problems } = decode(chunks);
        expect(messages).toEqual([B, A, C]);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(why);
        const offset = at === BODY ? garbage.indexOf('\r\n\r\n') + 4 : at;
        expect(problems[0]).toContain(`at byte ${frame(B).length + offset} of the input`);
      }
    });
  }

  it('a skipped body that mentions Content-Length, and several bad frames in a row, make one report', () => {
    const cut = frame(A, () => 'Content-Length: 10\r\n\r\n'); // A's text holds "Content-Length: 5\r\n\r\n", escaped
    const more = Buffer.from('Content-Length: x\r\n\r\nContent-Length: -1\r\n\r\n');
    for (const chunks of everyCut(Buffer.concat([cut, more, frame(B), frame(C)]))) {
      const { messages, problems } = decode(chunks);
      expect(messages).toEqual([B, C]);
      expect(problems).toEqual([expect.stringMatching(/^bad LSP frame at byte 22 of the input: body of 10 bytes is not valid JSON \(a wrong Content-Length\?\); skipping to the next Content-Length header$/)]);
    }
  });

  it('a report never quotes a bad body (it may be a protected file\'s code)', () => {
    const body = '{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"text":"const apiSecret = 42;"';
    const { problems } = decode([Buffer.from(`Content-Length: ${body.length}\r\n\r\n${body}`), frame(B)]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).not.toContain('apiSecret');
  });

  it('a bad frame after a good one is a new incident, reported again', () => {
    const bytes = Buffer.concat([Buffer.from('Content-Length: x\r\n\r\n'), frame(B), Buffer.from('Content-Length: y\r\n\r\n'), frame(C)]);
    const { messages, problems } = decode([bytes]);
    expect(messages).toEqual([B, C]);
    expect(problems).toHaveLength(2);
    expect(problems[1]).toContain('"y" is not a byte count');
  });

  it('bytes that never form a header are reported once, and a frame after them is still read', () => {
    const noise = Buffer.alloc(20_000, 'x');
    const { messages, problems } = decode([noise, noise, frame(A)]);
    expect(messages).toEqual([A]);
    expect(problems).toEqual(['bad LSP frame at byte 0 of the input: no end of header (a blank line) within 8192 bytes; skipping to the next Content-Length header']);
  });

  it('a length too large but under the limit loses only its own frame: the search restarts inside it', () => {
    const short = Buffer.from('Content-Length: 60\r\n\r\n{"jsonrpc":"2.0","method":"x"}');
    const { messages, problems } = decode([short, frame(B), frame(C)]);
    // 60 bytes take the body and part of B's frame; the search from the body's start finds B.
    expect(messages).toEqual([B, C]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/body of 60 bytes is not valid JSON/);
  });

  it('a length too large for the bytes that follow: the frames behind it are read without waiting for the rest', () => {
    const tooLarge = Buffer.from('Content-Length: 5000000\r\n\r\n{"jsonrpc":"2.0","method":"x"}');
    for (const chunks of everyCut(Buffer.concat([frame(B), tooLarge, frame(A), frame(C)]))) {
      const { messages, problems } = decode(chunks);
      expect(messages).toEqual([B, A, C]);
      const body = frame(B).length + tooLarge.indexOf('{');
      expect(problems).toEqual([`bad LSP frame at byte ${body} of the input: body of 5000000 bytes holds another frame's header at its byte 30 (Content-Length too large?); skipping to the next Content-Length header`]);
    }
  });

  it('a body whose JSON has raw CR LF whitespace is still read whole', () => {
    const pretty = Buffer.from(JSON.stringify(A, null, 2).replace(/\n/g, '\r\n\r\n'), 'utf8');
    const bytes = Buffer.concat([Buffer.from(`Content-Length: ${pretty.length}\r\n\r\n`), pretty, frame(C)]);
    for (const chunks of everyCut(bytes)) expect(decode(chunks)).toEqual({ messages: [A, C], problems: [] });
  });

  it('a body spread over many chunks is joined once and read whole', () => {
    const big = { jsonrpc: '2.0', method: 'textDocument/didOpen', params: { text: 'a'.repeat(300_000) } };
    const bytes = frame(big);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 65_536) chunks.push(bytes.subarray(i, i + 65_536));
    expect(decode([...chunks, frame(B)])).toEqual({ messages: [big, B], problems: [] });
  });
});

/** A FrameReader listening on a stream the test writes: what it delivered and reported, and its close. */
function listening() {
  const stream = new PassThrough();
  const problems: string[] = [];
  const answers: unknown[] = [];
  const reader = new FrameReader(stream, (p) => problems.push(p), (a) => answers.push(a));
  const messages: unknown[] = [];
  reader.listen((m) => messages.push(m));
  const closed = new Promise<void>((resolve) => reader.onClose(() => resolve()));
  return { stream, problems, reader, messages, closed, answers };
}

describe('FrameReader', () => {
  it('reads a stream into messages, notes a shutdown request, and closes when the stream ends', async () => {
    const { stream, problems, reader, messages, closed } = listening();
    stream.write(frame(A));
    expect(reader.shutdownReceived).toBe(false);
    stream.write(Buffer.from('Content-Length: nope\r\n\r\n{}'));
    stream.write(frame(C));
    stream.end();
    await closed;
    expect(messages).toEqual([A, C]);
    expect(reader.shutdownReceived).toBe(true);
    expect(problems).toHaveLength(1);
  });

  it('drops a $/cancelRequest without a usable id (the library would throw on it), said once per problem; a good one passes', async () => {
    const { stream, problems, messages, closed } = listening();
    const cancel = (params: unknown) => ({ jsonrpc: '2.0', method: '$/cancelRequest', params });
    for (const params of [null, {}, { id: null }, { id: { n: 1 } }, null, [], 5]) stream.write(frame(cancel(params)));
    stream.write(frame(cancel({ id: 7 })));
    stream.write(frame(cancel({ id: 'a7' })));
    stream.end();
    await closed;
    expect(messages).toEqual([cancel({ id: 7 }), cancel({ id: 'a7' })]);
    expect(problems).toEqual([
      'ignored $/cancelRequest: params: expected {"id": ...}',
      'ignored $/cancelRequest: params.id: expected a request id (a number or a string)',
    ]);
  });

  it('drops a repeated $/cancelRequest: the library throws on one whose first came while the request was queued', async () => {
    const input = new PassThrough();
    const reader = new FrameReader(input, () => undefined);
    const errors: Error[] = [];
    reader.onError((e) => errors.push(e));
    const connection = createMessageConnection(reader, new StreamMessageWriter(new PassThrough()));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let release!: (v: unknown) => void;
    const gate = new Promise((resolve) => (release = resolve));
    const seen: boolean[] = [];
    connection.onRequest('slow', async (_params: unknown, token) => {
      started();
      await gate;
      seen.push(token.isCancellationRequested);
      return null;
    });
    connection.listen();
    const cancel = { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 1 } };
    // The cancel arrives with the request, while it waits in the library's queue.
    input.write(Buffer.concat([frame({ jsonrpc: '2.0', id: 1, method: 'slow', params: {} }), frame(cancel)]));
    await running;
    input.write(frame(cancel));
    await new Promise((resolve) => setImmediate(resolve));
    release(undefined);
    await new Promise((resolve) => setImmediate(resolve));
    connection.dispose();
    expect(errors).toEqual([]);
    expect(seen).toEqual([true]);
  });

  it('answers an invalid request with -32600 (its id when usable, else null), said once per problem; requests, notifications and answers pass', async () => {
    const { stream, problems, messages, answers } = listening();
    const good = [
      { jsonrpc: '2.0', id: 1, method: 'shutdown' },
      { jsonrpc: '2.0', id: 's-1', method: 'x', params: {} },
      { jsonrpc: '2.0', method: 'initialized', params: {} },
      { jsonrpc: '2.0', id: 4, result: null },
      { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'x' } },
      // Perhaps a broken answer to one of the server's own requests: the library fails that request.
      { jsonrpc: '2.0', id: 5 },
    ];
    const bad: [unknown, unknown, RegExp][] = [
      [{ jsonrpc: '2.0', id: {}, method: 'textDocument/hover', params: { code: 'SECRET_CODE' } }, null, /the id of a request must be a number or a string, not an object/],
      [{ jsonrpc: '2.0', id: [], method: 'x' }, null, /not an array/],
      [{ jsonrpc: '2.0', id: true, method: 'x' }, null, /not a boolean/],
      [{ jsonrpc: '2.0', id: null, method: 'x' }, null, /not null/],
      [{ jsonrpc: '2.0', id: 7, method: 5 }, 7, /the method must be a string, not a number/],
      [{ jsonrpc: '2.0', method: null, params: {} }, null, /the method must be a string, not null/],
      [{}, null, /no method, and no result or error/],
      [{ jsonrpc: '2.0', id: {}, params: {} }, null, /no method, and no result or error/],
    ];
    for (const m of [...good, ...bad.map(([m]) => m), ...bad.map(([m]) => m)]) stream.write(frame(m));
    await until(() => answers.length === 2 * bad.length, 'the answers');
    expect(messages).toEqual(good);
    const expected = bad.map(([, id, why]) => ({ jsonrpc: '2.0', id, error: { code: -32600, message: expect.stringMatching(why) } }));
    expect(answers).toEqual([...expected, ...expected]);
    for (const [m] of bad) expect(invalidRequest(m as object)).toBeDefined();
    for (const m of good) expect(invalidRequest(m)).toBeUndefined();
    // One report per problem (the same problem twice is said once), never the message's content.
    expect(problems).toHaveLength(new Set(bad.map(([m]) => invalidRequest(m as object)!.problem)).size);
    expect(problems.every((p) => p.startsWith('answered an invalid request with -32600: '))).toBe(true);
    expect(problems.join('\n')).not.toContain('SECRET_CODE');
  });
});
