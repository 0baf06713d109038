// The Neovim plugin's next edits in a real headless Neovim (Debian's 0.7.2 in CI) against the built
// server and the fake vLLM serving a Zeta model: the request on attach, a request cancelled by the
// next keystroke (its backend connection closed), the diff preview as extmarks after an edit in
// insert mode settles, <Tab> applying it (accepted 1) and, in a second run, an edit over two lines
// previewed and <Esc> dismissing it (dismissed 1, the buffer unchanged); two more runs dismiss it
// by entering insert mode and by moving away.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest } from '../fake/vllm.js';
import { runHeadless } from './headless.js';

const nvimVersion = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
const hasNvim = nvimVersion.status === 0;
if (!hasNvim && process.env.CI !== 'true') console.warn('test/clients/neovim-nextedit.test.ts: SKIPPED: `nvim` is not installed (apt-get install neovim)');

const FILE = ['export function area(w: number, h: number) {', '  return w * h;', '}', '', 'export function report(w: number, h: number) {', '  console.log(area(w, h));', '}', ''].join('\n');
const LINES = FILE.split('\n').slice(0, -1);
const EDITED = ['export function area(w: number, h: number, d: number) {', ...LINES.slice(1)];
const MODEL = 'zed-industries/zeta';
const CURSOR = '<|user_cursor_is_here|>';
const DISMISS_RUN = { on: false };

/**
 * What Zeta would answer: the excerpt's region unchanged, or, once the user added `d`, with the
 * call passing it; held (never answered) while the buffer has a line "x".
 */
function zeta(req: RecordedRequest, held: string) {
  const prompt = String(req.body?.prompt ?? '');
  const open = '<|editable_region_start|>\n';
  const at = prompt.indexOf(open);
  if (at < 0) return { text: '' }; // ghost text: none
  const region = prompt.slice(at + open.length, prompt.indexOf('\n<|editable_region_end|>')).replace(CURSOR, '');
  if (region.split('\n').includes('x')) {
    writeFileSync(held, 'held'); // the driver presses its next key once the request is here
    return { hang: true as const };
  }
  const header = prompt.slice(prompt.lastIndexOf('```', at), at);
  // The dismiss run's answer also replaces a word and adds a line: a highlighted range and virtual lines.
  const edited = DISMISS_RUN.on ? region.replace('console.log(area(w, h));', 'console.info(area(w, h, 1));\n  return area(w, h, 1);') : region.replace('area(w, h)', 'area(w, h, 1)');
  const answer = region.includes('d: number') ? edited : region;
  return { text: `${header}${open}${answer}\n<|editable_region_end|>\n\`\`\`` };
}

async function runNvim(mode: 'accept' | 'dismiss' | 'type' | 'move', fake: FakeVllm, dir: string): Promise<any> {
  writeFileSync(join(dir, 'geo.ts'), FILE);
  // Written once the fake saw the held request's connection closed: the driver waits for it, so
  // the close came from the cancel, not from Neovim's exit.
  const watch = setInterval(() => {
    if (fake.requests.some((r) => r.closedAt !== null && /\n(<\|user_cursor_is_here\|>)?x\n/.test(String(r.body?.prompt ?? '')))) writeFileSync(join(dir, 'closed'), 'closed');
  }, 20);
  try {
    const { results } = await runHeadless('nvim', {
      dir,
      script: 'neovim/nextedit.lua',
      env: {
        TANDEM_NE_MODE: mode,
        TANDEM_TEST_HELD: join(dir, 'held'),
        TANDEM_TEST_CLOSED: join(dir, 'closed'),
        TANDEM_TEST_FILE: join(dir, 'geo.ts'),
        TANDEM_FAKE_URL: fake.url,
      },
    });
    return results;
  } finally {
    clearInterval(watch);
  }
}

interface Mark { row: number; col: number; end_row: number | null; end_col: number | null; hl_group: string | null; virt_text: [string, string][] | null; virt_text_pos: string | null; virt_lines: unknown }

describe.skipIf(!hasNvim && process.env.CI !== 'true')(`Neovim next edits in ${hasNvim ? nvimVersion.stdout.split('\n')[0] : 'nvim (missing)'}`, () => {
  let fake: FakeVllm;
  let accept: any;
  let dismiss: any;
  const others: Record<string, any> = {};
  let acceptRequests: RecordedRequest[];

  beforeAll(async () => {
    if (!hasNvim) throw new Error('`nvim` is not installed; CI must install it (apt-get install neovim)');
    let dir = '';
    fake = await startFakeVllm({ model: MODEL, respond: ((req: RecordedRequest) => zeta(req, join(dir, 'held'))) as never });
    dir = mkdtempSync(join(tmpdir(), 'tandem-nvim-nextedit-accept-'));
    accept = await runNvim('accept', fake, dir);
    acceptRequests = [...fake.requests];
    fake.reset();
    DISMISS_RUN.on = true;
    dir = mkdtempSync(join(tmpdir(), 'tandem-nvim-nextedit-dismiss-'));
    dismiss = await runNvim('dismiss', fake, dir);
    DISMISS_RUN.on = false;
    for (const mode of ['type', 'move'] as const) {
      dir = mkdtempSync(join(tmpdir(), `tandem-nvim-nextedit-${mode}-`));
      others[mode] = await runNvim(mode, fake, dir);
    }
  }, 220_000);

  afterAll(async () => {
    await fake?.close();
  });

  it('runs every step without an error', () => {
    for (const r of [accept, dismiss, others.type, others.move]) {
      expect(r.errors, `messages: ${r.messages}`).toEqual([]);
      expect(r.done).toBe(true);
    }
  });

  it('asks once when the buffer is entered (the server keeps its edit history from then on), with the buffer\'s version and the cursor', () => {
    const first = accept.checks.first_request;
    expect(first.params).toEqual({ textDocument: { uri: expect.stringMatching(/^file:\/\/.*\/geo\.ts$/), version: expect.any(Number) }, position: { line: 0, character: 0 } });
    expect(first.result).toEqual({ edits: [] });
  });

  it('never has two requests in flight: a keystroke cancels the request of a settled edit, and the server closes its backend request', () => {
    for (const r of [accept, dismiss]) {
      expect(r.checks.held_request.cancelled).toBe(true);
      for (const req of r.requests) expect(req.open_before).toBe(0);
    }
    const held = acceptRequests.filter((q) => /\n(<\|user_cursor_is_here\|>)?x\n/.test(String(q.body?.prompt ?? '')));
    expect(held).toHaveLength(1);
    expect(held[0]!.closedAt).not.toBeNull();
    expect(held[0]!.finished).toBe(false);
  });

  it('shows the next edit as a preview: on 0.7 to 0.9 the line as the edit leaves it, after the line, the inserted text highlighted', () => {
    const marks = accept.checks.marks as Mark[];
    const col = '  console.log(area(w, h'.length;
    const minor = Number(accept.version.split('.')[1]);
    if (minor >= 10) {
      expect(marks).toEqual([expect.objectContaining({ row: 5, col, virt_text: [[', 1', 'DiffAdd']], virt_text_pos: 'inline' })]);
    } else {
      expect(marks).toEqual([expect.objectContaining({ row: 5, col: 0, virt_text: [['  → ', 'Comment'], ['console.log(area(w, h', 'Comment'], [', 1', 'DiffAdd'], ['));', 'Comment']], virt_text_pos: 'eol' })]);
    }
    expect(accept.checks.lines_before).toEqual(EDITED);
    // The preview's edit is the server's, and the server was told it was shown.
    const edit = accept.checks.shown_edits[0];
    expect(edit).toMatchObject({ text: ', 1', range: { start: { line: 5, character: col }, end: { line: 5, character: col } }, command: { command: 'tandem.nextEditAccepted', arguments: [{ id: expect.stringMatching(/^tandem-ne-/) }] } });
    expect(accept.shows).toEqual([{ item: edit }]);
  });

  it('<Tab> applies it, puts the cursor on it and runs its command: the server counts one accepted', () => {
    expect(accept.checks.lines_after).toEqual([...EDITED.slice(0, 5), '  console.log(area(w, h, 1));', EDITED[6]]);
    expect(accept.checks.marks_after).toEqual([]);
    expect(accept.checks.cursor_after).toEqual([6, '  console.log(area(w, h, 1'.length - 1]);
    const sent = accept.commands.filter((c: any) => c.params.command.startsWith('tandem.nextEdit'));
    expect(sent).toEqual([expect.objectContaining({ params: { command: 'tandem.nextEditAccepted', arguments: accept.checks.shown_edits[0].command.arguments }, done: true })]);
    expect(sent[0].err ?? null).toBeNull();
    expect(accept.checks.stats).toMatchObject({ shown: { [MODEL]: 1 }, accepted: { [MODEL]: 1 }, dismissed: {} });
  });

  it('an edit over several lines: the text it replaces highlighted, the lines it makes as virtual lines below', () => {
    // The server's smallest edit: from "log" to the call's closing parenthesis of the line below.
    const [edit] = dismiss.checks.shown_edits;
    expect(edit).toMatchObject({ range: { start: { line: 5, character: 10 }, end: { line: 5, character: 24 } }, text: 'info(area(w, h, 1));\n  return area(w, h, 1' });
    const marks = dismiss.checks.marks as Mark[];
    expect(marks).toHaveLength(2);
    expect(marks).toContainEqual(expect.objectContaining({ row: 5, col: 10, end_row: 5, end_col: 24, hl_group: 'DiffDelete' }));
    expect(marks).toContainEqual(expect.objectContaining({ row: 5, col: 0, virt_lines: [[['  console.info(area(w, h, 1));', 'DiffAdd']], [['  return area(w, h, 1);', 'DiffAdd']]] }));
  });

  it('<Esc> hides it, leaves the buffer as it was and says so: the server counts one dismissed', () => {
    expect(dismiss.checks.marks_after).toEqual([]);
    expect(dismiss.checks.lines_after).toEqual(EDITED);
    const sent = dismiss.commands.filter((c: any) => c.params.command.startsWith('tandem.nextEdit'));
    expect(sent).toEqual([expect.objectContaining({ params: { command: 'tandem.nextEditDismissed', arguments: dismiss.checks.shown_edits[0].command.arguments }, done: true })]);
    expect(dismiss.checks.stats).toMatchObject({ shown: { [MODEL]: 1 }, accepted: {}, dismissed: { [MODEL]: 1 } });
  });

  it('entering insert mode, or moving the cursor off the lines between where it was asked and the edit, dismisses it too', () => {
    for (const r of [others.type, others.move]) {
      expect((r.checks.marks as Mark[]).length).toBe(1);
      expect(r.checks.marks_after).toEqual([]);
      expect(r.checks.lines_after).toEqual(EDITED);
      const sent = r.commands.filter((c: any) => c.params.command.startsWith('tandem.nextEdit'));
      expect(sent).toEqual([expect.objectContaining({ params: { command: 'tandem.nextEditDismissed', arguments: r.checks.shown_edits[0].command.arguments }, done: true })]);
      expect(r.checks.stats).toMatchObject({ accepted: {}, dismissed: { [MODEL]: 1 } });
    }
    expect(others.move.checks.cursor_after[0]).toBe(EDITED.length);
  });
});
