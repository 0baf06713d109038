// clients/neovim in a real headless Neovim (Debian's 0.7.2 in CI) against the built server and the
// fake vLLM: ghost text as extmarks, accept all / word / line, acceptance telemetry, Tab fall-through;
// and settings from a project's exrc sent as repository-level only.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { freePort } from '../unit/backendKit.js';
import { runHeadless } from './headless.js';

/** A loopback URL where nothing listens (a port just let go of): connections to it are refused. */
const deadUrl = async (): Promise<string> => `http://127.0.0.1:${await freePort()}`;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const nvimVersion = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
const hasNvim = nvimVersion.status === 0;
// Skipped with a message where nvim is missing; in CI (CI=true) a missing nvim fails instead.
if (!hasNvim && process.env.CI !== 'true') console.warn('test/clients/neovim.test.ts: SKIPPED: `nvim` is not installed (apt-get install neovim)');

const FILE = ['def add(a, b):', '    r', '', '', 'def mul(a, b):', '    ', ''].join('\n');

const EXPLANATION = '`add` returns the sum of its two arguments.';
const SIMPLIFIED = ['<<<<<<< SEARCH', '    return a + b', '=======', '    return sum((a, b))', '>>>>>>> REPLACE'].join('\n');

interface Ghost { row: number; col: number; text: string; pos: string; virt_lines: string[] }
interface Sent { command: string; arguments: any[]; done?: boolean; err?: { code: number; message: string }; result?: unknown }
interface Results {
  version: string;
  done?: boolean;
  step: string;
  errors: string[];
  messages: string;
  commands: Sent[];
  checks: Record<string, any>;
}


describe.skipIf(!hasNvim && process.env.CI !== 'true')(`Neovim plugin in ${hasNvim ? nvimVersion.stdout.split('\n')[0] : 'nvim (missing)'}`, () => {
  let fake: FakeVllm;
  let results: Results;
  let dir: string;

  beforeAll(async () => {
    if (!hasNvim) throw new Error('`nvim` is not installed; CI must install it (apt-get install neovim)');
    // The fake answers by what precedes the cursor, so each step sees one known completion.
    fake = await startFakeVllm({
      respond: (req, choice) => {
        if (req.path === '/v1/chat/completions') {
          const system = String(req.body?.messages?.[0]?.content ?? '');
          return { text: /explain code/i.test(system) ? EXPLANATION : SIMPLIFIED };
        }
        const prompt: string = req.body?.prompt ?? '';
        if (prompt.includes('    re<|fim_suffix|>')) return { text: 'turn a + b' };
        if (prompt.includes('def mul(a, b):\n    <|fim_suffix|>')) return { text: 'product = a * b\n    return product' };
        // Typing answers one candidate; an invoked request (n) three, listed in this order.
        if (/\n *z<\|fim_suffix\|>/.test(prompt)) return { text: `ero_${'abc'[choice]}`, logprob: -0.1 * (choice + 1) };
        return { text: '' };
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'tandem-nvim-'));
    writeFileSync(join(dir, 'calc.py'), FILE);
    ({ results } = await runHeadless('nvim', {
      dir,
      script: 'neovim/init.lua',
      env: { TANDEM_TEST_FILE: join(dir, 'calc.py'), TANDEM_FAKE_URL: fake.url, TANDEM_DEAD_URL: await deadUrl() },
    }));
  }, 55_000);

  afterAll(async () => {
    await fake?.close();
  });

  it('runs every step without an error', () => {
    expect(results.errors, `messages: ${results.messages}`).toEqual([]);
    expect(results.done).toBe(true);
    expect(results.version).toMatch(/^0\.\d+\.\d+$/);
  });

  it('attaches and declares inline completion, so the server offers no completion popup', () => {
    expect(results.checks.completionProvider).toBe(false);
  });

  it('shows the completion as a ghost-text extmark at the cursor', () => {
    const [ghost] = results.checks.ghost1 as Ghost[];
    expect(ghost).toMatchObject({ row: 1, col: 6, text: 'turn a + b', virt_lines: [] });
    // 0.10+ draws it inside the line; older Neovim overlays it past the end of the line.
    const minor = Number(results.version.split('.')[1]);
    expect(ghost!.pos).toBe(minor >= 10 ? 'inline' : 'overlay');
  });

  it('Tab accepts it into the buffer and reports the acceptance through the item command', () => {
    expect(results.checks.cursor_after_accept).toEqual([2, 16]);
    expect(results.checks.ghost_after_accept).toEqual([]);
    const first = results.commands[0]!;
    expect(first).toMatchObject({ command: 'tandem.accepted', done: true });
    expect(first.arguments).toEqual([{ id: expect.any(String) }]);
    expect(first.err).toBeUndefined();
  });

  it('Tab with nothing shown inserts a tab, and a user mapping of an accept key still runs', () => {
    expect(results.checks.line3_tab).toBe(results.checks.line3_before + '\t');
    expect(results.checks.line3_user_map).toBe(results.checks.line3_tab + 'X');
    expect(results.checks.line3_user_fn).toBe(results.checks.line3_user_map + 'Y');
  });

  it('shows further lines as virt_lines and accepts a word, a line, then the rest', () => {
    const [ghost] = results.checks.ghost2 as Ghost[];
    expect(ghost).toMatchObject({ text: 'product = a * b', virt_lines: ['    return product'] });
    expect((results.checks.ghost_after_word as Ghost[])[0]).toMatchObject({ text: ' = a * b', virt_lines: ['    return product'] });
    expect((results.checks.ghost_after_line as Ghost[])[0]).toMatchObject({ text: '', virt_lines: ['    return product'] });
    expect(results.checks.cursor_after_rest).toEqual([results.checks.mul_row + 1, 18]);
    const accepts = results.commands.filter((c) => c.command === 'tandem.accepted').slice(1, 4);
    const id = accepts[0]!.arguments[0].id;
    expect(accepts.map((c) => c.arguments)).toEqual([[{ id, partial: true }], [{ id, partial: true }], [{ id }]]);
    expect(accepts.every((c) => c.done && !c.err)).toBe(true);
  });

  it('<M-]> and <M-[> cycle through the alternatives of one invoked request, wrapping around; Tab accepts the one shown', () => {
    // Every step reached its ghost text (ero_a from typing, then b, c, a, c) and the accept put ero_c in.
    expect(results.errors).toEqual([]);
    expect(results.checks.line_after_cycle).toMatch(/^\s*zero_c$/);
    const zs = fake.completions().filter((r) => /\n *z<\|fim_suffix\|>/.test(String(r.body.prompt)));
    // One automatic request, then one invoked request for all the cycling.
    expect(zs.map((r) => r.body.n ?? 1)).toEqual([1, 3]);
    const accepted = results.commands.filter((c) => c.command === 'tandem.accepted');
    expect(accepted.at(-1)).toMatchObject({ done: true, arguments: [{ id: expect.any(String) }] });
  });

  it(':TandemExplain sends tandem.explain with the line range and open: false, and shows the answer in a float', () => {
    const explain = results.commands.find((c) => c.command === 'tandem.explain')!;
    expect(explain.arguments).toEqual([
      { uri: expect.stringMatching(/^file:\/\/.*calc\.py$/), range: { start: { line: 7, character: 0 }, end: { line: 7, character: 18 } }, open: false },
    ]);
    expect(explain.err).toBeUndefined();
    expect(explain.result).toEqual({ markdown: EXPLANATION });
    expect(results.checks.explain_float).toEqual([[EXPLANATION]]);
  });

  it('vim.lsp.buf.code_action() lists tandem\'s actions; its Explain runs in the plugin and shows a float', () => {
    // The server may list more (multi-file actions); these must be there, and only tandem's kinds.
    const listed = results.checks.code_actions as { title: string; kind: string; command: string | null }[];
    expect(listed).toEqual(expect.arrayContaining([
      { title: 'Explain this function (tandem)', kind: 'source.tandem.explain', command: 'tandem.explain' },
      { title: 'Add documentation comment (tandem)', kind: 'refactor.rewrite.tandem.document', command: null },
      { title: 'Simplify this function (tandem)', kind: 'refactor.rewrite.tandem.simplify', command: null },
      { title: 'Add error handling (tandem)', kind: 'refactor.rewrite.tandem.errorHandling', command: null },
      { title: 'Add type annotations (tandem)', kind: 'refactor.rewrite.tandem.addTypes', command: null },
    ]));
    for (const a of listed) expect(a.kind).toMatch(/^(source\.tandem|refactor\.rewrite\.tandem|quickfix\.tandem)\b/);
    const explains = results.commands.filter((c) => c.command === 'tandem.explain');
    // Neovim 0.7 to 0.9 send codeAction/resolve for every action without an edit, Explain too: the server hands it back.
    expect(results.checks.menu_explain_errors).toBeUndefined();
    expect(explains).toHaveLength(2);
    // The range of the function around the cursor, as the server listed it, plus open: false.
    expect(explains[1]!.arguments).toEqual([{ uri: expect.stringMatching(/calc\.py$/), range: { start: { line: 0, character: 0 }, end: { line: expect.any(Number), character: expect.any(Number) } }, open: false }]);
    expect(results.checks.action_explain_float).toEqual([[EXPLANATION]]);
  });

  it('an edit action chosen from the menu is resolved by the server and applied to the buffer', () => {
    // Neovim declares codeAction/resolve, so the edit comes back in the resolved action (no command).
    const chats = fake.requests.filter((r) => r.path === '/v1/chat/completions');
    expect(chats.some((r) => JSON.stringify(r.body.messages).includes('<<<<<<< SEARCH'))).toBe(true);
    expect(results.commands.some((c) => c.command === 'tandem.applyAction')).toBe(false);
  });

  it(':TandemEdit! sends tandem.edit with scope workspace; :TandemCompare sends tandem.compare', () => {
    const edit = results.commands.find((c) => c.command === 'tandem.edit')!;
    expect(edit.arguments).toEqual([{ uri: expect.stringMatching(/calc\.py$/), range: { start: { line: 1, character: 0 }, end: { line: 1, character: 22 } }, instruction: 'use a loop', scope: 'workspace' }]);
    const compare = results.commands.find((c) => c.command === 'tandem.compare')!;
    expect(compare.arguments).toEqual([{ uri: expect.stringMatching(/calc\.py$/), range: { start: { line: 1, character: 0 }, end: { line: 1, character: 22 } } }]);
    if (compare.err) {
      // A server without tandem.compare yet answers "unknown command".
      expect(compare.err.message).toMatch(/unknown command tandem\.compare/);
      return;
    }
    const md = (compare.result as { markdown: string }).markdown;
    expect(md).toMatch(/^# tandem compare/);
    expect(md).toContain('fim');
    expect(md).toContain('second');
    expect(results.checks.compare_float).toEqual([md.split('\n')]);
  });

  it(':TandemStats lays the counters out as text in a float, not as Markdown', () => {
    const stats = results.commands.find((c) => c.command === 'tandem.stats')!;
    expect(stats.err).toBeUndefined();
    expect(stats.arguments).toBeUndefined(); // none sent
    const r = stats.result as { requests: number; shown: number; cacheHits: number; accepted: number; partiallyAccepted: number; latency: Record<string, { p50: number; p95: number }>; byBackend: Record<string, { shown: number; accepted: number; partiallyAccepted: number }> };
    const [float] = results.checks.stats_float as string[][];
    expect(float![0]).toBe('tandem stats');
    expect(r.accepted).toBeGreaterThanOrEqual(2);
    expect(float).toContain(`requests ${r.requests}, shown ${r.shown} (from cache ${r.cacheHits}), accepted ${r.accepted}, partly accepted ${r.partiallyAccepted}`);
    // A table whose columns line up: the header and each backend's row end at the same column.
    const header = float!.findIndex((l) => /^backend +shown +accepted +partly +p50 ms +p95 ms$/.test(l));
    expect(header).toBeGreaterThan(0);
    const fim = float!.find((l) => l.startsWith('fim '))!;
    const b = r.byBackend.fim!;
    const l = r.latency.fim!;
    expect(fim.split(/ +/)).toEqual(['fim', String(b.shown), String(b.accepted), String(b.partiallyAccepted), String(l.p50), String(l.p95)]);
    expect(fim.length).toBe(float![header]!.length);
    expect(float).toContainEqual(expect.stringMatching(/^status: degraded - inline via fim/));
    // No Markdown syntax left for the reader to decode.
    for (const line of float!) expect(line).not.toMatch(/^#|^\||\|$|^```/);
  });

  it('says once, with vim.notify, that the status turned degraded (a backend is down)', () => {
    expect(results.checks.status_state).toBe('degraded');
    const notices = results.checks.status_notices as { msg: string; level: number }[];
    expect(notices).toHaveLength(1);
    expect(notices[0]!.msg).toMatch(/^tandem: degraded: inline via fim.*dead: .* \(:TandemStatus\)$/);
    expect(notices[0]!.level).toBe(3); // vim.log.levels.WARN
  });

  it(':TandemSnooze 30 snoozes ghost text, the statusline and :TandemStatus say until when; :TandemSnooze 0 resumes', () => {
    const snoozes = results.commands.filter((c) => c.command === 'tandem.snooze');
    expect(snoozes.map((c) => c.arguments)).toEqual([[30], [0]]);
    expect(snoozes.every((c) => c.done && !c.err)).toBe(true);
    expect((snoozes[0]!.result as { snoozedUntil: string }).snoozedUntil).toMatch(/^\d{4}-\d\d-\d\dT/);
    // {snoozedUntil: null} as Neovim's JSON decoding leaves it (null drops the key; an empty table encodes as []).
    expect((snoozes[1]!.result as { snoozedUntil?: unknown }).snoozedUntil ?? null).toBeNull();
    expect(results.checks.snoozed_statusline).toBe('tandem snoozed');
    expect(results.checks.snoozed_status[0]).toMatch(/; inline completions snoozed until (\d{4}-\d\d-\d\d )?\d\d:\d\d$/);
  });

  it(':TandemStatus and :checkhealth tandem describe the running server', () => {
    expect(results.checks.status.join('\n')).toMatch(/server \d+: .*tandem-lsp\.js --stdio/);
    const health = (results.checks.health as string[]).join('\n');
    expect(health).toMatch(/OK:? .*tandem-lsp\.js --stdio answers --version: \d+\.\d+\.\d+/);
    expect(health).not.toMatch(/ERROR/);
  });
});

/** The ```lua block of the README holding the lazy.nvim spec, and the same spec in the help file. */
function lazySpecs(): { readme: string; help: string } {
  const readme = readFileSync(join(ROOT, 'clients/neovim/README.md'), 'utf8');
  const block = [...readme.matchAll(/```lua\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("dir = '~/src/tandem/clients/neovim'"));
  const help = readFileSync(join(ROOT, 'clients/neovim/doc/tandem.txt'), 'utf8');
  const helpBlock = /With lazy\.nvim[^\n]*>\n([\s\S]*?)\n<\n/.exec(help)?.[1];
  if (!block || !helpBlock) throw new Error('no lazy.nvim spec found in clients/neovim/README.md or doc/tandem.txt');
  return { readme: block, help: helpBlock };
}

/** Runs test/clients/neovim/newer.lua in `mode` against `fakeUrl`; its results. */
async function runNewer(mode: 'lsp_config' | 'native', fakeUrl: string): Promise<any> {
  const dir = mkdtempSync(join(tmpdir(), `tandem-nvim-${mode}-`));
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, 'calc.py'), ['def add(a, b):', '    r', '', ''].join('\n'));
  writeFileSync(join(dir, 'spec.lua'), lazySpecs().readme);
  const { results } = await runHeadless('nvim', {
    dir,
    script: 'neovim/newer.lua',
    env: { TANDEM_NEWER_MODE: mode, TANDEM_TEST_FILE: join(dir, 'calc.py'), TANDEM_LAZY_SPEC: join(dir, 'spec.lua'), TANDEM_FAKE_URL: fakeUrl },
  });
  return results;
}

// What newer Neovim adds, run in the Neovim at hand: the lazy.nvim spec, the help file, the status
// notices, and lsp/tandem.lua through vim.lsp.config/vim.lsp.enable as 0.11 documents them.
describe.skipIf(!hasNvim && process.env.CI !== 'true')('Neovim: lazy.nvim spec, :help tandem, status notices, lsp/tandem.lua', () => {
  let fake: FakeVllm;
  let r: any;

  beforeAll(async () => {
    if (!hasNvim) throw new Error('`nvim` is not installed; CI must install it (apt-get install neovim)');
    fake = await startFakeVllm({ respond: (req) => ({ text: String(req.body?.prompt ?? '').includes('    re<|fim_suffix|>') ? 'turn a + b' : '' }) });
    r = await runNewer('lsp_config', fake.url);
  }, 55_000);
  afterAll(async () => {
    await fake?.close();
  });

  it('runs without an error', () => {
    expect(r.errors, `messages: ${r.messages}`).toEqual([]);
    expect(r.done).toBe(true);
  });

  it('the README\'s lazy.nvim spec is valid Lua with event, opts and build, and setup() knows every option in it', () => {
    expect(r.checks.spec_parses).toBe(true);
    const spec = r.checks.spec;
    expect(spec).toMatchObject({ dir: '~/src/tandem/clients/neovim', name: 'tandem', main: 'tandem', event: ['BufReadPost', 'BufNewFile'], build: 'npm ci --prefix ../..' });
    expect(spec.opts_keys.sort()).toEqual(['cmd', 'settings']);
    expect(spec.cmd[2]).toBe('--stdio');
    expect(spec.settings.backends.fim).toEqual({ kind: 'vllm', url: 'http://gpu-pool:8000' });
    expect(r.checks.spec_unknown_opts).toEqual([]);
    // lazy.nvim runs `build` in the plugin's directory: ../.. is the checkout that npm ci installs.
    expect(readFileSync(resolve(ROOT, 'clients/neovim', '../..', 'package-lock.json'), 'utf8')).toContain('"name": "tandem-lsp"');
    // The help file shows the same spec.
    const { readme, help } = lazySpecs();
    const lines = (t: string) => t.split('\n').map((l) => l.trim()).filter(Boolean);
    expect(lines(help)).toEqual(lines(readme));
  });

  it(':help tandem opens the help file after :helptags, with a tag for every option and command', () => {
    expect(r.checks.help).toMatchObject({ ok: true, file: 'tandem.txt' });
    expect(r.checks.help.line).toMatch(/\*tandem\*$/);
    const tags = r.checks.help_tags as string[];
    for (const option of [...r.checks.options, 'filetypes']) expect(tags).toContain(`tandem-option-${option}`);
    for (const command of r.checks.commands_after_attach as string[]) expect(tags).toContain(`:${command}`);
    expect(tags).toEqual(expect.arrayContaining(['tandem', 'tandem.setup()', 'tandem-lazy', 'tandem-lsp-config', 'tandem-native', ':TandemEdit!']));
  });

  it('vim.notify says each turn to degraded or offline once, and once that it is ok again', () => {
    expect(r.checks.status_notified).toEqual([
      { msg: 'tandem: degraded: inline via fim; chat: connection refused (:TandemStatus)', level: 3 },
      { msg: 'tandem: offline: no backend for inline completions (:TandemStatus)', level: 4 },
      { msg: 'tandem: ok again: inline via fim', level: 2 },
    ]);
    expect(r.checks.status_notified_off).toBe(0);
  });

  it('lsp/tandem.lua is found on the runtimepath and is a complete client configuration', () => {
    expect(r.checks.lsp_file).toBe(join(ROOT, 'clients/neovim/lsp/tandem.lua'));
    expect(r.checks.enabled_config).toEqual({
      cmd: [process.execPath, join(ROOT, 'server/bin/tandem-lsp.js'), '--stdio'],
      root_dir: expect.stringMatching(/tandem-nvim-lsp_config-/),
      init_options: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline: { debounceMs: 0, deadlineMs: 20000 } },
      inlineCompletion: true,
      configuration: true,
      status_handler: 'function',
      explain_command: 'function',
      on_attach: 'function',
    });
  });

  it('vim.lsp.enable(\'tandem\') without setup(): commands, ghost text and Tab come with the first attach', () => {
    expect(r.checks.commands_before_attach).toEqual([]);
    expect(r.checks.commands_after_attach).toEqual(['TandemChat', 'TandemCompare', 'TandemEdit', 'TandemExplain', 'TandemSnooze', 'TandemStats', 'TandemStatus']);
    expect(r.checks.ghost).toBe('turn a + b');
    expect(fake.completions().length).toBeGreaterThan(0);
    expect(r.checks.starts).toBe(1);
    // setup()'s attach finds the buffer served and starts nothing.
    const [before, after] = r.checks.clients_before_after_attach;
    expect(after).toBe(before);
  });
});

describe.skipIf(!hasNvim && process.env.CI !== 'true')('Neovim: vim.lsp.inline_completion present (0.12)', () => {
  let fake: FakeVllm;
  let r: any;

  beforeAll(async () => {
    if (!hasNvim) throw new Error('`nvim` is not installed; CI must install it (apt-get install neovim)');
    fake = await startFakeVllm({ respond: () => ({ text: 'turn a + b' }) });
    r = await runNewer('native', fake.url);
  }, 55_000);
  afterAll(async () => {
    await fake?.close();
  });

  it('enables native inline completion for the attached buffer and maps Tab to get(), falling through when it returns false', () => {
    expect(r.errors, `messages: ${r.messages}`).toEqual([]);
    expect(r.checks.enable_calls).toEqual([{ enable: true, filter: { bufnr: r.checks.bufnr } }]);
    expect(r.checks.gets_after_fallthrough).toBe(1);
    // get() accepted: the key did nothing more (the tab typed before is all).
    expect(r.checks.line_after_accept).toBe('\t');
  });

  it('draws no ghost text of its own and sends no inline request of its own', () => {
    expect(r.checks.ghost).toBeNull();
    expect(fake.completions()).toEqual([]);
    expect((r.checks.health as string[]).join('\n')).toMatch(/Neovim 0\.12\+: ghost text through vim\.lsp\.inline_completion/);
  });
});

// A project's exrc is repository content: settings it passes to setup() may not redirect code.
// Needs the server side of the trust boundary (issue #12): a workspace/configuration answer is
// repository-level, where code goes may only tighten there.
describe.skipIf(!hasNvim && process.env.CI !== 'true')('Neovim: settings from a project exrc are repository-level', () => {
  const FILE1 = ['def add(a, b):', '    r', ''].join('\n');
  const respond = (req: { body?: { prompt?: string } }) => ({ text: String(req.body?.prompt ?? '').includes('    re<|fim_suffix|>') ? 'turn a + b' : '' });
  let home: FakeVllm;
  let foreign: FakeVllm;

  beforeAll(async () => {
    if (!hasNvim) throw new Error('`nvim` is not installed; CI must install it (apt-get install neovim)');
    home = await startFakeVllm({ respond });
    foreign = await startFakeVllm({ respond });
  });
  afterAll(async () => {
    await home?.close();
    await foreign?.close();
  });

  const lua = (v: unknown): string => JSON.stringify(v); // plain strings only: JSON quoting is Lua quoting

  /**
   * A user's Neovim (init.vim with 'exrc' set, which Neovim 0.7 honours only there) started in a
   * project holding `files`; `userSetup`: the user's config calls setup() with `userUrl` as its
   * backend (else the plugin is only on the runtimepath and the user's backend is in
   * ~/.config/tandem/config.json). `exrc` names the file Neovim sources, trusted for 0.9+'s vim.secure.
   */
  async function start(opts: { userSetup: boolean; userUrl: string; files: Record<string, string>; exrc?: string }): Promise<any> {
    home.reset();
    foreign.reset();
    const dir = mkdtempSync(join(tmpdir(), 'tandem-nvim-exrc-'));
    const project = join(dir, 'project');
    mkdirSync(join(dir, 'nvim'), { recursive: true });
    mkdirSync(join(dir, 'tandem'));
    mkdirSync(join(dir, 'state', 'nvim'), { recursive: true });
    mkdirSync(project);
    writeFileSync(join(project, 'calc.py'), FILE1);
    for (const [name, text] of Object.entries(opts.files)) writeFileSync(join(project, name), text);
    if (opts.exrc) {
      const text = readFileSync(join(project, opts.exrc));
      writeFileSync(join(dir, 'state', 'nvim', 'trust'), `${createHash('sha256').update(text).digest('hex')} ${join(project, opts.exrc)}\n`);
    }
    writeFileSync(join(dir, 'tandem', 'config.json'), JSON.stringify({ backends: { fim: { kind: 'vllm', url: opts.userUrl } }, inline: { debounceMs: 0 } }));
    writeFileSync(join(dir, 'nvim', 'init.vim'), [
      'set exrc noswapfile',
      `set rtp^=${join(ROOT, 'clients/neovim')}`,
      `luafile ${join(ROOT, 'test/clients/neovim/exrc.lua')}`,
      '',
    ].join('\n'));
    // No driver script: Neovim starts as a user's would, from the init.vim above.
    const { results } = await runHeadless('nvim', {
      dir,
      cwd: project,
      env: {
        TANDEM_TEST_FILE: join(project, 'calc.py'),
        TANDEM_HOME_URL: opts.userUrl,
        TANDEM_USER_SETUP: opts.userSetup ? '1' : '0',
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_STATE_HOME: join(dir, 'state'),
        XDG_CACHE_HOME: join(dir, 'cache'),
      },
    });
    return results;
  }

  const repositorySetup = (extra = '') => `lua require('tandem').setup({ ${extra}settings = { backends = { fim = { kind = 'vllm', url = ${lua(foreign.url)} } }, inline = { maxTokens = 5 } } })\n`;

  function expectRepositoryLevel(r: any, source: RegExp) {
    expect(r.errors, `messages: ${r.messages}`).toEqual([]);
    expect(r.done).toBe(true);
    expect(r.repository_source).toMatch(source);
    // Sent only as the answer to workspace/configuration, never as initializationOptions.
    expect(r.settings).toEqual({ tandem: { backends: { fim: { kind: 'vllm', url: foreign.url } }, inline: { maxTokens: 5 } } });
    expect(JSON.stringify(r.init_options)).not.toContain(foreign.url);
    expect(r.pulls[0]).toEqual([{ backends: { fim: { kind: 'vllm', url: foreign.url } }, inline: { maxTokens: 5 } }]);
    // Zero requests at the repository's server; the user's served the ghost text, with the
    // repository's inline.maxTokens (that key may come from a repository).
    expect(r.ghost).toBe('turn a + b');
    expect(foreign.requests).toEqual([]);
    expect(home.completions().length).toBeGreaterThan(0);
    for (const c of home.completions()) expect(c.body.max_tokens).toBe(5);
    // The server says what it ignored.
    expect(r.shown.some((m: { type: number; message: string }) => m.type === 2 && m.message.includes('backends')), JSON.stringify(r.shown)).toBe(true);
  }

  it('.nvimrc sourcing a file that calls setup() with another backend: zero requests there', async () => {
    const r = await start({ userSetup: true, userUrl: home.url, files: { '.nvimrc': 'source tandem.vim\n', 'tandem.vim': repositorySetup() }, exrc: '.nvimrc' });
    expectRepositoryLevel(r, /\/project\/\.nvimrc$/);
    expect(r.init_options).toEqual({ backends: { fim: { kind: 'vllm', url: home.url } }, inline: { debounceMs: 0 } });
  }, 55_000);

  it('.exrc that loads the plugin itself and calls setup(): zero requests at its backend', async () => {
    const cmd = `cmd = { ${lua(process.execPath)}, ${lua(join(ROOT, 'server/bin/tandem-lsp.js'))}, '--stdio' }, debounce_ms = 10, `;
    const r = await start({ userSetup: false, userUrl: home.url, files: { '.exrc': repositorySetup(cmd) }, exrc: '.exrc' });
    expectRepositoryLevel(r, /\/project\/\.exrc$/);
    expect(r.init_options).toEqual({});
  }, 55_000);

  it('the same backend given to setup() in the user\'s own config does take effect', async () => {
    const r = await start({ userSetup: true, userUrl: foreign.url, files: {} });
    expect(r.errors, `messages: ${r.messages}`).toEqual([]);
    expect(r.repository_source).toBeNull();
    expect(r.init_options).toEqual({ backends: { fim: { kind: 'vllm', url: foreign.url } }, inline: { debounceMs: 0 } });
    expect(r.ghost).toBe('turn a + b');
    expect(foreign.completions().length).toBeGreaterThan(0);
    expect(home.requests).toEqual([]);
  }, 55_000);
});
