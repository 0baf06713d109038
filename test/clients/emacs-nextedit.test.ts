// tandem's next edits in Emacs 28 with eglot 1.9 and with lsp-mode 8 (Debian's emacs-nox,
// elpa-eglot and elpa-lsp-mode) in batch mode, against the built server and the fake vLLM serving
// a Zeta model: tandem-next-edit-mode's first request, the request after an edit settles, the
// overlay preview, TAB applying it (accepted 1) and, in a second run, C-g dismissing it
// (dismissed 1, the buffer unchanged). See test/clients/emacs/nextedit-test.el.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import { runHeadless } from './headless.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const emacs = spawnSync('emacs', ['--version'], { encoding: 'utf8' });
const hasEmacs = emacs.status === 0;
if (!hasEmacs && process.env.CI !== 'true') console.warn('test/clients/emacs-nextedit.test.ts: SKIPPED: `emacs` is not installed (apt-get install emacs-nox elpa-eglot)');

const FILE = 'def area(w, h):\n    return w * h\n\n\ndef report(w, h):\n    print(area(w, h))\n';
const EDITED = FILE.replace('def area(w, h)', 'def area(w, h, d)');
const MODEL = 'zed-industries/zeta';

/** What Zeta would answer: the excerpt's region unchanged, or, once the user added `d`, with the call passing it. */
function zeta(req: RecordedRequest) {
  const prompt = String(req.body?.prompt ?? '');
  const open = '<|editable_region_start|>\n';
  const at = prompt.indexOf(open);
  if (at < 0) return { text: '' };
  const region = prompt.slice(at + open.length, prompt.indexOf('\n<|editable_region_end|>')).replace('<|user_cursor_is_here|>', '');
  const header = prompt.slice(prompt.lastIndexOf('```', at), at);
  const answer = region.includes('h, d)') ? region.replace('area(w, h)', 'area(w, h, 1)') : region;
  return { text: `${header}${open}${answer}\n<|editable_region_end|>\n\`\`\`` };
}

async function runEmacs(client: 'eglot' | 'lsp-mode', mode: 'accept' | 'dismiss', fakeUrl: string): Promise<{ results: Record<string, any>; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), `tandem-emacs-nextedit-${client}-${mode}-`));
  writeFileSync(join(dir, 'geo.py'), FILE);
  return runHeadless('emacs', {
    dir,
    script: 'emacs/nextedit-test.el',
    env: {
      TANDEM_NE_MODE: mode,
      TANDEM_NE_CLIENT: client,
      TANDEM_TEST_FILE: join(dir, 'geo.py'),
      TANDEM_EMACS_CLIENT: join(ROOT, client === 'eglot' ? 'clients/emacs/tandem-eglot.el' : 'clients/emacs/lsp-tandem.el'),
      TANDEM_FAKE_URL: fakeUrl,
    },
  });
}

// Debian's elpa-lsp-mode: lsp-mode 8 on Emacs's load path (-q keeps the site files).
const hasLspMode = hasEmacs && spawnSync('emacs', ['--batch', '-q', '--eval', '(kill-emacs (if (locate-library "lsp-mode") 0 1))']).status === 0;
if (hasEmacs && !hasLspMode && process.env.CI !== 'true') console.warn('test/clients/emacs-nextedit.test.ts: lsp-mode run SKIPPED: lsp-mode is not installed (apt-get install elpa-lsp-mode)');

describe.each([
  { client: 'eglot' as const, skip: !hasEmacs && process.env.CI !== 'true' },
  { client: 'lsp-mode' as const, skip: !hasLspMode && process.env.CI !== 'true' },
])(`next edits in ${hasEmacs ? emacs.stdout.split('\n')[0] : 'emacs (missing)'} with $client`, ({ client, skip }) => {
  if (skip) return void it.skip('emacs or lsp-mode missing');
  let fake: FakeVllm;
  let accept: { results: Record<string, any>; output: string };
  let dismiss: { results: Record<string, any>; output: string };

  beforeAll(async () => {
    if (!hasEmacs) throw new Error('`emacs` is not installed; CI must install it (apt-get install emacs-nox elpa-eglot)');
    fake = await startFakeVllm({ model: MODEL, respond: zeta as never });
    accept = await runEmacs(client, 'accept', fake.url);
    dismiss = await runEmacs(client, 'dismiss', fake.url);
  }, 110_000);

  afterAll(async () => {
    await fake?.close();
  });

  it('runs without an error', () => {
    for (const r of [accept, dismiss]) {
      expect(r.results.error, r.output).toBeUndefined();
      expect(r.results.connected).toBe(true);
    }
  });

  it('asks once when switched on (nothing to show), then once the edit settles', () => {
    expect(accept.results.shownAfterFirst).toBe(false);
    expect(accept.results.requestsAtPreview).toBe(2);
  });

  it('previews the edit with an overlay whose after-string is the inserted text; the server is told it was shown', () => {
    const col = '    print(area(w, h'.length;
    expect(accept.results.overlays).toEqual([{ startLine: 5, startCol: col, endLine: 5, endCol: col, face: false, after: ', 1', afterFace: 'tandem-next-edit-insert' }]);
    expect(accept.results.previewMode).toBe(true);
    expect(accept.results.shows).toEqual([{ item: expect.objectContaining({ text: ', 1', command: expect.objectContaining({ command: 'tandem.nextEditAccepted' }) }) }]);
  });

  it('TAB applies it, point goes to its end, its command runs: the server counts one accepted', () => {
    const r = accept.results;
    expect(r.binding).toBe('tandem-next-edit-accept');
    expect(r.text).toBe(EDITED.replace('print(area(w, h))', 'print(area(w, h, 1))'));
    expect(r.point).toEqual([5, '    print(area(w, h, 1'.length]);
    expect(r.overlaysAfter).toEqual([]);
    expect(r.previewModeAfter).toBe(false);
    const id = r.shows[0].item.command.arguments[0].id;
    expect(r.commands.filter((c: { command: string }) => c.command.startsWith('tandem.nextEdit'))).toEqual([{ command: 'tandem.nextEditAccepted', arguments: [{ id }] }]);
    expect(r.stats).toMatchObject({ shown: { [MODEL]: 1 }, accepted: { [MODEL]: 1 }, dismissed: {} });
  });

  it('C-g hides it and leaves the buffer as it was: the server counts one dismissed', () => {
    const r = dismiss.results;
    expect(r.binding).toBe('tandem-next-edit-dismiss');
    expect(r.text).toBe(EDITED);
    expect(r.overlaysAfter).toEqual([]);
    const id = r.shows[0].item.command.arguments[0].id;
    expect(r.commands.filter((c: { command: string }) => c.command.startsWith('tandem.nextEdit'))).toEqual([{ command: 'tandem.nextEditDismissed', arguments: [{ id }] }]);
    expect(r.stats).toMatchObject({ shown: { [MODEL]: 1 }, accepted: {}, dismissed: { [MODEL]: 1 } });
  });
});
