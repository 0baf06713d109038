// M-x tandem-chat (clients/emacs/tandem.el) in batch Emacs 28 against the built server and the fake
// vLLM, through eglot (tandem alone) and through lsp-mode (tandem beside another server): the
// region sent as a reference, the answer streamed into the chat buffer (the fake holds the rest
// until Emacs has shown the first piece), a follow-up with a #file: reference that carries the
// conversation, and a stopped answer whose backend connection closes. See emacs/chat-test.el.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeVllm } from '../fake/vllm.js';
import { expectFollowUp, SECOND, startChatFake, type ChatFake } from './chatFake.js';
import { runHeadless } from './headless.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const emacs = spawnSync('emacs', ['--version'], { encoding: 'utf8' });
const hasEmacs = emacs.status === 0;
if (!hasEmacs && process.env.CI !== 'true') console.warn('test/clients/emacs-chat.test.ts: SKIPPED: `emacs` is not installed (apt-get install emacs-nox elpa-eglot)');
const hasLspMode = hasEmacs && spawnSync('emacs', ['--batch', '-q', '--eval', '(kill-emacs (if (locate-library "lsp-mode") 0 1))']).status === 0;
if (hasEmacs && !hasLspMode && process.env.CI !== 'true') console.warn('test/clients/emacs-chat.test.ts: lsp-mode SKIPPED: lsp-mode is not installed (apt-get install elpa-lsp-mode)');

for (const client of ['eglot', 'lsp-mode'] as const) {
  const available = client === 'eglot' ? hasEmacs : hasLspMode;
  describe.skipIf(!available && process.env.CI !== 'true')(`M-x tandem-chat through ${client}`, () => {
    let fake: FakeVllm;
    let results: Record<string, any>;
    let output = '';
    let chat: ChatFake | undefined;
    const chats = () => fake.requests.filter((r) => r.path === '/v1/chat/completions');

    beforeAll(async () => {
      if (!available) throw new Error(`${client} is not installed; CI must install it (apt-get install emacs-nox elpa-eglot elpa-lsp-mode)`);
      const dir = mkdtempSync(join(tmpdir(), `tandem-emacs-chat-${client}-`));
      chat = await startChatFake(dir);
      ({ fake } = chat);
      const { seen, closed } = chat;
      ({ results, output } = await runHeadless('emacs', {
        dir,
        script: 'emacs/chat-test.el',
        env: {
          TANDEM_TEST_SEEN: seen,
          TANDEM_TEST_CLOSED: closed,
          TANDEM_TEST_FILE: join(dir, 'calc.py'),
          TANDEM_TEST_CLIENT: client,
          TANDEM_ROOT: ROOT,
          TANDEM_FAKE_LANGSERVER: join(ROOT, 'test/fake/langserver.js'),
          TANDEM_FAKE_URL: fake.url,
        },
      }));
    }, 55_000);

    afterAll(async () => {
      chat?.stop();
      await fake?.close();
    });

    it('runs without an error', () => {
      expect(results.error, `${output}\n${JSON.stringify(results)}`).toBeUndefined();
      expect(results.servers).toEqual(client === 'eglot' ? ['tandem'] : ['fake-langserver', 'tandem']);
    });

    it('sends the region as a reference and streams the answer into the chat buffer', () => {
      const first = results.sent[0];
      expect(first.messages).toEqual([{ role: 'user', content: 'What does this do?' }]);
      expect(first.references).toEqual([{ uri: expect.stringMatching(/^file:\/\/.*\/calc\.py$/), range: { start: { line: 1, character: 0 }, end: { line: 2, character: 16 } } }]);
      expect(typeof first.partialResultToken).toBe('string');
      expect(JSON.stringify(chats()[0]!.body.messages)).toContain('return a + b');
      // Shown before the rest was sent: streamed.
      expect(results.firstPiece).toContain('It adds');
      expect(results.firstPiece).not.toContain('the sum.');
      expect(results.chatMode).toBe('markdown-mode');
      expect(results.afterFirst).toBe(['> `calc.py:2-3`', '', '## You', 'What does this do?', '', '## tandem · gpu (on-prem)', 'It adds `a` and `b`', 'and returns the sum.', ''].join('\n'));
    });

    it('a follow-up carries the conversation, and #file: adds that file as a reference', () => {
      expectFollowUp(results.sent[1], fake);
      expect(results.afterSecond.endsWith(`\n## You\nAnd what does #file:util.py add?\n\n## tandem · gpu (on-prem)\n${SECOND}\n`)).toBe(true);
    });

    it('tandem-chat-stop cancels the request: the backend connection closes and the turn is left out', () => {
      const slow = chats().find((r) => JSON.stringify(r.body.messages).includes('take your time'))!;
      expect(slow.closedAt).not.toBeNull();
      expect(results.afterStop.endsWith('## tandem\nThinking\n\n> stopped\n')).toBe(true);
      expect(results.conversation).toHaveLength(4);
    });
  });
}
