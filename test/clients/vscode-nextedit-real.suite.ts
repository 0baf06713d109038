// Next-edit suggestions in real VS Code: code-server (test/clients/codeServer.mjs) with the built
// .vsix installed, driven by playwright-core in headless Chromium, against the fake vLLM serving a
// Zeta model through the real server. The user adds a parameter; once the edit settles the
// extension asks textDocument/copilotInlineEdit, and the call site's edit shows in the editor (its
// new text drawn beside the place it goes); Tab applies it (the file on disk), the next one shows,
// Escape dismisses it; Show Stats counts one shown-and-accepted and one dismissed. Imported by
// vscode-real.test.ts so that only one code-server runs at a time. Skipped, saying why, only when
// code-server is not installed.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import { codeServerMissing, codeServerSession, plain, STUCK, TEST_MS, type Page } from './codeServerSession.js';

const missing = codeServerMissing('test/clients/vscode-nextedit-real.suite.ts');

const DOC = ['def area(w, h):', '    return w * h', '', '', 'print(area(2, 3))', 'print(area(4, 5))', ''].join('\n');
const REGION_START = '<|editable_region_start|>\n';
const REGION_END = '\n<|editable_region_end|>';

/**
 * What Zeta would answer once `area` has a third parameter: the region with the first call that
 * passes two arguments passing a third; the region as it is when every call passes three. Ghost
 * text (a FIM prompt) gets nothing.
 */
function respond(req: RecordedRequest): { text: string } {
  const prompt = String(req.body?.prompt ?? '');
  if (!prompt.includes(REGION_START)) return { text: '' };
  const region = prompt.slice(prompt.indexOf(REGION_START) + REGION_START.length, prompt.indexOf(REGION_END));
  const next = region.replace('<|user_cursor_is_here|>', '').includes('def area(w, h, d)') ? region.replace(/area\((\d+), (\d+)\)/, 'area($1, $2, 1)') : region;
  return { text: `\`\`\`calc.py\n${REGION_START}${next}${REGION_END}\n\`\`\`` };
}

describe.skipIf(missing)('VS Code (code-server): next-edit suggestions', () => {
  const s = codeServerSession({ testFile: 'test/clients/vscode-nextedit-real.suite.ts', tmpPrefix: 'tandem-vscode-nextedit-', fileName: 'calc.py' });
  const { file, until, step, palette, goToLine, focusFile, savedWith } = s;
  let fake: FakeVllm;
  let page: Page;

  const nextEditRequests = () => fake.requests.filter((r: RecordedRequest) => r.path === '/v1/completions' && String(r.body?.prompt).includes(REGION_START));

  /**
   * The next edit's new text as calc.py's editor draws it: decoration text is CSS content of an
   * element of the line (a ::before or ::after), not text in the DOM; one string per element.
   */
  const drawnTexts = () =>
    page.evaluate(() => {
      const out: string[] = [];
      const editor = [...document.querySelectorAll('.monaco-editor')].find((e) => e.querySelector('.view-lines'));
      for (const el of editor?.querySelectorAll('.view-lines span') ?? []) {
        for (const pseudo of ['::before', '::after']) {
          const c = getComputedStyle(el, pseudo).content;
          if (c && c !== 'none' && c !== 'normal') out.push(c);
        }
      }
      return out;
    });

  beforeAll(() =>
    step('start', async () => {
      if (missing) return;
      fake = s.own(await startFakeVllm({ model: 'zed-industries/zeta', respond: respond as never }));
      s.configure({
        tandemConfig: { inline: { debounceMs: 0 }, context: { enabled: false } },
        userSettings: {
          'chat.disableAIFeatures': true,
          'editor.inlineSuggest.enabled': true,
          // The suggest widget would open on `d` (a word of the file) and take Tab, as it should.
          'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
          'files.autoSave': 'off',
        },
        machine: { 'tandem.backends': { gpu: { kind: 'vllm', url: fake.url } }, 'tandem.inline.nextEdits': true },
      });
      writeFileSync(file, DOC);
      page = await s.open({ shows: 'calc.py' });
      // The server runs once the status bar shows the backend.
      await page.locator('.statusbar-item', { hasText: /tandem gpu \d+ ms/ }).waitFor({ timeout: STUCK });
    }), TEST_MS);

  afterAll(() => s.close(), STUCK);

  it('after the user adds a parameter, the call\'s edit shows; Tab applies it, the next one shows, Escape dismisses it; the stats count both', () =>
    step('next edit', async () => {
      await s.openFile();
      // After `h` of `def area(w, h`: the user adds a parameter.
      await goToLine(1, 'def area(w, h'.length + 1);
      await page.keyboard.type(', d');
      // The first call's edit is drawn in the editor; the document is not changed by showing it.
      await until('the next edit ", 1" drawn in the editor', async () => (await drawnTexts()).some((c) => plain(c).includes(', 1')));
      const asked = nextEditRequests();
      expect(asked.length).toBeGreaterThan(0);
      // The prompt held the user's edit.
      expect(String(asked.at(-1)!.body.prompt)).toContain('+def area(w, h, d):');
      await page.keyboard.press('Tab');
      await savedWith('print(area(2, 3, 1))\nprint(area(4, 5))\n');
      expect(readFileSync(file, 'utf8').startsWith('def area(w, h, d):\n')).toBe(true);
      // The edit just applied asks for the one after it: the second call; Escape refuses it.
      await focusFile();
      await until('the second call\'s edit drawn', async () => nextEditRequests().length > asked.length && (await drawnTexts()).some((c) => plain(c).includes(', 1')));
      await page.keyboard.press('Escape');
      await until('the refused edit to go from the screen', async () => !(await drawnTexts()).some((c) => plain(c).includes(', 1')));
      await savedWith('print(area(2, 3, 1))\nprint(area(4, 5))\n');
      await palette('tandem: Show Stats');
      await until('the stats to count one accepted and one dismissed next edit', async () => {
        const text = plain((await page.locator('.view-lines').allTextContents()).join('\n'));
        return /next edits: requests \d+, suggested \d+, shown 2, accepted 1, dismissed 1\b/.test(text);
      });
    }), TEST_MS);
});
