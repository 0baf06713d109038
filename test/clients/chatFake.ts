// The chat session the Neovim and Emacs chat tests drive (neovim/chat.lua, emacs/chat-test.el): the
// files asked about and the fake vLLM's answers, paced by what the editor has shown.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';

const FILE = ['# calc', 'def add(a, b):', '    return a + b', ''].join('\n');
const UTIL = 'def twice(x):\n    return 2 * x\n';
/** The first answer, in the pieces it streams in. */
const FIRST = ['It adds', ' `a` and `b`', '\nand returns', ' the sum.'];
/** The answer to the follow-up with a #file:util.py reference. */
export const SECOND = 'It adds `twice`, which doubles.';

export interface ChatFake {
  fake: FakeVllm;
  /** The driver writes it once the chat buffer shows the first answer's first piece. */
  seen: string;
  /** Written here once the fake saw the slow answer's connection closed. */
  closed: string;
  /** Stops watching for that close. */
  stop(): void;
}

/**
 * Writes calc.py and util.py to `dir` and starts the fake: the first answer streams in pieces, the
 * second held until the driver has seen the first; a question saying "take your time" gets one
 * piece and then hangs until the editor stops it.
 */
export async function startChatFake(dir: string): Promise<ChatFake> {
  const seen = join(dir, 'seen');
  const closed = join(dir, 'closed');
  const fake = await startFakeVllm({
    respond: (req) => {
      const last = String(req.body?.messages?.at(-1)?.content ?? '');
      if (last.includes('take your time')) return { hang: true, after: 'Thinking' };
      if (last.includes('#file:util.py')) return { text: SECOND };
      return { text: FIRST.join(''), chunks: FIRST };
    },
    // The first answer's second piece waits until the editor has shown the first one: streamed.
    pace: async (i, req) => {
      const messages = JSON.stringify(req.body?.messages ?? '');
      if (i !== 1 || !messages.includes('What does this do?') || messages.includes('#file:')) return;
      while (!existsSync(seen)) await new Promise((r) => setTimeout(r, 20));
    },
  });
  // The driver waits for `closed` before it quits, so the close came from the stop, not from the
  // editor's exit.
  const watch = setInterval(() => {
    if (fake.requests.some((r) => r.closedAt !== null && JSON.stringify(r.body?.messages ?? '').includes('take your time'))) writeFileSync(closed, 'closed');
  }, 20);
  writeFileSync(join(dir, 'calc.py'), FILE);
  writeFileSync(join(dir, 'util.py'), UTIL);
  return { fake, seen, closed, stop: () => clearInterval(watch) };
}

/**
 * Checks the follow-up's tandem/chat request (`sent`) and what the model got for it: the whole
 * conversation, and util.py (named by #file:) as a second reference whose text reached the model.
 */
export function expectFollowUp(sent: any, fake: FakeVllm): void {
  expect(sent.messages).toEqual([
    { role: 'user', content: 'What does this do?' },
    { role: 'assistant', content: FIRST.join('') },
    { role: 'user', content: 'And what does #file:util.py add?' },
  ]);
  expect(sent.references).toHaveLength(2);
  expect(sent.references[1]).toEqual({ uri: expect.stringMatching(/^file:\/\/.*\/util\.py$/) });
  const chats = fake.requests.filter((r) => r.path === '/v1/chat/completions');
  expect(JSON.stringify(chats[1]!.body.messages)).toContain('return 2 * x');
}
