// :TandemChat in a real headless Neovim (Debian's 0.7.2 in CI) against the built server and the
// fake vLLM: the visual selection sent as a reference, the answer streamed into the Markdown chat
// buffer (the fake holds the rest of its answer until Neovim has shown the first piece), a
// follow-up with a `#file:` reference that carries the whole conversation, and a stopped answer
// whose backend connection closes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeVllm } from '../fake/vllm.js';
import { expectFollowUp, SECOND, startChatFake, type ChatFake } from './chatFake.js';
import { runHeadless } from './headless.js';

const nvimVersion = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
const hasNvim = nvimVersion.status === 0;
if (!hasNvim && process.env.CI !== 'true') console.warn('test/clients/neovim-chat.test.ts: SKIPPED: `nvim` is not installed (apt-get install neovim)');

describe.skipIf(!hasNvim && process.env.CI !== 'true')(`:TandemChat in ${hasNvim ? nvimVersion.stdout.split('\n')[0] : 'nvim (missing)'}`, () => {
  let fake: FakeVllm;
  let results: { version: string; done?: boolean; step: string; errors: string[]; messages: string; checks: Record<string, any>; requests: any[] };
  let dir: string;
  let chat: ChatFake | undefined;
  const chats = () => fake.requests.filter((r) => r.path === '/v1/chat/completions');

  beforeAll(async () => {
    if (!hasNvim) throw new Error('`nvim` is not installed; CI must install it (apt-get install neovim)');
    dir = mkdtempSync(join(tmpdir(), 'tandem-nvim-chat-'));
    chat = await startChatFake(dir);
    ({ fake } = chat);
    const { seen, closed } = chat;
    ({ results } = await runHeadless('nvim', {
      dir,
      script: 'neovim/chat.lua',
      env: { TANDEM_TEST_SEEN: seen, TANDEM_TEST_CLOSED: closed, TANDEM_TEST_FILE: join(dir, 'calc.py'), TANDEM_FAKE_URL: fake.url },
    }));
  }, 55_000);

  afterAll(async () => {
    chat?.stop();
    await fake?.close();
  });

  it('runs every step without an error', () => {
    expect(results.errors, `messages: ${results.messages}`).toEqual([]);
    expect(results.done).toBe(true);
  });

  it('sends the selected lines as a reference and streams the answer into a Markdown chat buffer', () => {
    const first = results.requests[0];
    expect(first.messages).toEqual([{ role: 'user', content: 'What does this do?' }]);
    expect(first.references).toEqual([{ uri: expect.stringMatching(/^file:\/\/.*\/calc\.py$/), range: { start: { line: 1, character: 0 }, end: { line: 2, character: 16 } } }]);
    expect(typeof first.partialResultToken).toBe('string');
    // The server added the referenced lines to what the model got.
    const sent = JSON.stringify(chats()[0]!.body.messages);
    expect(sent).toContain('return a + b');
    // Shown before the rest was sent: streamed.
    expect(results.checks.first_piece_lines.join('\n')).toContain('It adds');
    expect(results.checks.first_piece_lines.join('\n')).not.toContain('the sum.');
    expect(results.checks.filetype).toBe('markdown');
    expect(results.checks.current_is_chat).toBe(true);
    expect(results.checks.after_first).toEqual([
      '> `calc.py:2-3`',
      '',
      '## You',
      'What does this do?',
      '',
      '## tandem · gpu (on-prem)',
      'It adds `a` and `b`',
      'and returns the sum.',
      '',
      '## You',
      '',
    ]);
  });

  it('a follow-up carries the conversation, and `#file:` adds that file as a reference', () => {
    expectFollowUp(results.requests[1], fake);
    expect(results.checks.after_second.slice(-5)).toEqual(['## tandem · gpu (on-prem)', SECOND, '', '## You', '']);
  });

  it('<C-c> (chat.stop) cancels the request: the backend connection closes and the turn is left out of the conversation', () => {
    const slow = chats().find((r) => JSON.stringify(r.body.messages).includes('take your time'))!;
    expect(slow.closedAt).not.toBeNull();
    expect(results.checks.after_stop.join('\n')).toMatch(/Thinking\n\n> stopped\n\n## You\n$/);
    expect(results.checks.state.busy).toBe(false);
    expect(results.checks.state.messages).toHaveLength(4);
  });
});
