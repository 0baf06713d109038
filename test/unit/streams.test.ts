// The one SSE/NDJSON reader: framing of every server, chunk boundaries anywhere, malformed lines, early exit.
import { describe, expect, it } from 'vitest';
import { lines, MalformedStreamError, ndjson, parseJsonLine, sseEvents } from '../../server/src/models/streams.js';

/** A body delivered in the given pieces (bytes split anywhere, even inside a UTF-8 character). */
function body(...pieces: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const p of pieces) c.enqueue(typeof p === 'string' ? enc.encode(p) : p);
      c.close();
    },
  });
}

async function all<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of gen) out.push(v);
  return out;
}

describe('lines', () => {
  it('splits on \\n and \\r\\n across chunk boundaries, keeps a last unterminated line', async () => {
    expect(await all(lines(body('a\r', '\nb', 'c\n\nd')))).toEqual(['a', 'bc', '', 'd']);
  });

  it('decodes UTF-8 split inside a character', async () => {
    const bytes = new TextEncoder().encode('π→😀\n');
    expect(await all(lines(body(bytes.slice(0, 1), bytes.slice(1, 5), bytes.slice(5))))).toEqual(['π→😀']);
  });

  it('leaving early cancels the body', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new TextEncoder().encode('x\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const _ of lines(stream)) break;
    expect(cancelled).toBe(true);
  });
});

describe('sseEvents', () => {
  const rows: [string, string[], { event: string; data: string }[]][] = [
    ['vLLM: data with a space, [DONE]', ['data: {"a":1}\n\n', 'data: [DONE]\n\n'], [{ event: 'message', data: '{"a":1}' }, { event: 'message', data: '[DONE]' }]],
    ['TGI: data without a space', ['data:{"token":{"text":" x"}}\n\n'], [{ event: 'message', data: '{"token":{"text":" x"}}' }]],
    ['only one leading space is framing', ['data:  two\n\n'], [{ event: 'message', data: ' two' }]],
    ['keep-alive comments are skipped', [':\n\n', ': ping\n', 'data: 1\n\n'], [{ event: 'message', data: '1' }]],
    ['named events and multi-line data', ['event: delta\ndata: a\ndata: b\n\n'], [{ event: 'delta', data: 'a\nb' }]],
    ["llama.cpp's legacy error: line", ['data: {"content":"x"}\n\n', 'error: {"code":500,"message":"boom"}\n\n'], [{ event: 'message', data: '{"content":"x"}' }, { event: 'error', data: '{"code":500,"message":"boom"}' }]],
    ['an event split over many chunks, CRLF framing', ['da', 'ta: {"a"', ':2}\r', '\n\r\n'], [{ event: 'message', data: '{"a":2}' }]],
    ['a last event without the closing blank line', ['data: {"stop":true}'], [{ event: 'message', data: '{"stop":true}' }]],
    ['id and retry fields are ignored', ['id: 7\nretry: 10\ndata: z\n\n'], [{ event: 'message', data: 'z' }]],
  ];
  it.each(rows)('%s', async (_n, pieces, expected) => {
    expect(await all(sseEvents(body(...pieces)))).toEqual(expected);
  });
});

describe('ndjson', () => {
  it("Ollama's lines, blank lines skipped", async () => {
    expect(await all(ndjson(body('{"response":"a","done":false}\n', '\n{"respo', 'nse":"","done":true}\n')))).toEqual([
      { response: 'a', done: false },
      { response: '', done: true },
    ]);
  });

  it('a malformed line throws MalformedStreamError naming the line', async () => {
    await expect(all(ndjson(body('{"response":"a"}\n', '{"response":\n')))).rejects.toThrow(MalformedStreamError);
    expect(() => parseJsonLine('{"x":')).toThrow(/malformed stream line "\{\\"x\\":"/);
  });
});
