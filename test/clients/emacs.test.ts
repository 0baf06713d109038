// Emacs 28 + eglot (Debian's emacs-nox and elpa-eglot) in batch mode against the built server and
// the fake vLLM: eglot connects, completion-at-point inserts tandem's completion through the
// textDocument/completion fallback, eglot-code-actions lists tandem's actions and runs one, and
// clients/emacs/tandem.el's tandem-explain, tandem-stats and tandem-snooze work through it. See
// test/clients/emacs/eglot-test.el; lsp-mode beside another server: test/clients/emacs/lsp-mode-test.el.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { freePort } from '../unit/backendKit.js';
import { runHeadless } from './headless.js';

/** A loopback URL where nothing listens (a port just let go of): connections to it are refused. */
const deadUrl = async (): Promise<string> => `http://127.0.0.1:${await freePort()}`;

const EXPLANATION = '`add` returns the sum of its two arguments.';
const SIMPLIFIED = ['<<<<<<< SEARCH', '    return a + b', '=======', '    return sum((a, b))', '>>>>>>> REPLACE'].join('\n');

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const emacs = spawnSync('emacs', ['--version'], { encoding: 'utf8' });
const hasEmacs = emacs.status === 0;
// Skipped with a message where emacs is missing; in CI (CI=true) a missing emacs fails instead.
if (!hasEmacs && process.env.CI !== 'true') console.warn('test/clients/emacs.test.ts: SKIPPED: `emacs` is not installed (apt-get install emacs-nox elpa-eglot)');

// Debian's elpa-lsp-mode and elpa-company: lsp-mode 8 and its completion front end on Emacs's load path (-q keeps the site files).
const hasLspMode = hasEmacs && spawnSync('emacs', ['--batch', '-q', '--eval', '(kill-emacs (if (and (locate-library "lsp-mode") (locate-library "company")) 0 1))']).status === 0;
if (hasEmacs && !hasLspMode && process.env.CI !== 'true') console.warn('test/clients/emacs.test.ts: lsp-mode tests SKIPPED: lsp-mode or company is not installed (apt-get install elpa-lsp-mode elpa-company)');

/** Runs test/clients/emacs/<script> in `dir` (holding calc.py) against `fakeUrl`; resolves with what it recorded. */
function runEmacs(dir: string, fakeUrl: string, extraEnv: Record<string, string> = {}, script = 'eglot-test.el'): Promise<{ results: Record<string, any>; output: string }> {
  return runHeadless('emacs', {
    dir,
    script: `emacs/${script}`,
    env: { TANDEM_TEST_FILE: join(dir, 'calc.py'), TANDEM_EMACS_CLIENT: join(ROOT, 'clients/emacs/tandem-eglot.el'), TANDEM_FAKE_URL: fakeUrl, ...extraEnv },
  });
}

describe.skipIf(!hasEmacs && process.env.CI !== 'true')(`eglot in ${hasEmacs ? emacs.stdout.split('\n')[0] : 'emacs (missing)'}`, () => {
  let fake: FakeVllm;
  let results: Record<string, any>;
  let output = '';

  beforeAll(async () => {
    if (!hasEmacs) throw new Error('`emacs` is not installed; CI must install it (apt-get install emacs-nox elpa-eglot)');
    fake = await startFakeVllm({
      respond: (req) => {
        if (req.path === '/v1/completions') return String(req.body?.prompt).includes('    re<|fim_suffix|>') ? { text: 'turn a + b' } : { text: '' };
        const system = String(req.body?.messages?.[0]?.content ?? '');
        return { text: /explain code/i.test(system) ? EXPLANATION : SIMPLIFIED };
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'tandem-emacs-'));
    writeFileSync(join(dir, 'calc.py'), 'def add(a, b):\n    re\n');
    ({ results, output } = await runEmacs(dir, fake.url, { TANDEM_DEAD_URL: await deadUrl() }));
  }, 55_000);

  afterAll(async () => {
    await fake?.close();
  });

  it('connects through eglot-server-programs and M-x eglot', () => {
    expect(results.error, output).toBeUndefined();
    expect(results).toMatchObject({ connected: true, serverName: 'tandem', eglot: expect.stringMatching(/eglot/) });
  });

  it('is offered textDocument/completion, since eglot declares no inline completion', () => {
    expect(results.completionProvider).toBe(true);
  });

  it('completion-at-point inserts the completion at the word being typed', () => {
    expect(results.before).toBe('    re');
    expect(results.after).toBe('    return a + b');
    expect(results.point).toBe('    return a + b'.length);
    expect(fake.completions().length).toBeGreaterThanOrEqual(1);
  });

  it('eglot-code-actions lists tandem\'s actions for the function at point, without calling a model', () => {
    expect(results.codeActionProvider).toBe(true);
    // eglot 1.9 declares no codeAction/resolve: edit actions carry tandem.applyAction instead.
    // The server may list more (multi-file actions); these must be there, and only tandem's kinds.
    const listed = results.actions as { title: string; kind: string; command: string; hasEdit: boolean }[];
    expect(listed).toEqual(expect.arrayContaining([
      { title: 'Explain this function (tandem)', kind: 'source.tandem.explain', command: 'tandem.explain', hasEdit: false },
      { title: 'Add documentation comment (tandem)', kind: 'refactor.rewrite.tandem.document', command: 'tandem.applyAction', hasEdit: false },
      { title: 'Simplify this function (tandem)', kind: 'refactor.rewrite.tandem.simplify', command: 'tandem.applyAction', hasEdit: false },
      { title: 'Add error handling (tandem)', kind: 'refactor.rewrite.tandem.errorHandling', command: 'tandem.applyAction', hasEdit: false },
      { title: 'Add type annotations (tandem)', kind: 'refactor.rewrite.tandem.addTypes', command: 'tandem.applyAction', hasEdit: false },
    ]));
    for (const a of listed) expect(a.kind).toMatch(/^(source\.tandem|refactor\.rewrite\.tandem|quickfix\.tandem)\b/);
    expect(fake.requests.filter((r) => r.path === '/v1/chat/completions').length).toBeLessThanOrEqual(2); // the action and explain below, not the listing
  });

  it('running an action from eglot\'s menu applies the model\'s edit to the buffer', () => {
    expect(results.afterAction).toBe('def add(a, b):\n    return sum((a, b))\n');
    const chats = fake.requests.filter((r) => r.path === '/v1/chat/completions');
    expect(chats.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(chats[0]!.body.messages)).toContain('<<<<<<< SEARCH');
    expect(results.commands.find((c: { command: string }) => c.command === 'tandem.applyAction')).toMatchObject({ arguments: [{ id: 'simplify', uri: expect.stringMatching(/calc\.py$/) }] });
  });

  it('completing tandem\'s item sends its tandem.accepted command once, and the server counts it', () => {
    // eglot 1.9 does not run an item's command: clients/emacs/tandem-eglot.el does, once.
    const accepted = results.commands.filter((c: { command: string }) => c.command === 'tandem.accepted');
    expect(accepted).toEqual([{ command: 'tandem.accepted', arguments: [{ id: expect.stringMatching(/^tandem-/) }] }]);
    expect(results.stats).toMatchObject({ accepted: 1, shown: 1 });
  });

  it('M-x tandem-stats lays the counters out as text, not JSON', () => {
    const text = results.statsText as string;
    const lines = text.split('\n');
    expect(lines[0]).toBe('tandem stats');
    const s = results.stats;
    expect(lines).toContain(`requests ${s.requests}, shown ${s.shown} (from cache ${s.cacheHits}), accepted 1, partly accepted 0`);
    const header = lines.find((l) => /^backend +shown +accepted +partly +p50 ms +p95 ms$/.test(l))!;
    const fim = lines.find((l) => l.startsWith('fim '))!;
    expect(fim.split(/ +/)).toEqual(['fim', '1', '1', '0', String(s.latency.fim.p50), String(s.latency.fim.p95)]);
    expect(fim.length).toBe(header.length);
    expect(lines).toContainEqual(expect.stringMatching(/^status: degraded - inline via fim/));
    expect(text).not.toMatch(/[{}]|```/);
  });

  it('says once in the echo area that the status turned degraded (a backend is down)', () => {
    const notices = (results.messages as string[]).filter((m) => /^tandem: (degraded|offline|ok again)/.test(m));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^tandem: degraded: inline via fim.*; dead: /);
  });

  it('M-x tandem-explain shows the explanation in a buffer and asks the server not to open it again', () => {
    expect(results.explainBuffer).toBe('*tandem explain*');
    expect(results.explained).toBe(EXPLANATION);
    const explain = results.commands.find((c: { command: string }) => c.command === 'tandem.explain');
    expect(explain.arguments).toEqual([{ uri: expect.stringMatching(/^file:\/\/.*calc\.py$/), range: { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } }, open: false }]);
  });

  it('M-x tandem-snooze snoozes completions on the server, and with 0 resumes them', () => {
    expect(results.commands.filter((c: { command: string }) => c.command === 'tandem.snooze').map((c: { arguments: unknown }) => c.arguments)).toEqual([[30], [0]]);
    expect(results.snoozed).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(results.resumed).toBeNull();
    const said = (results.messages as string[]).filter((m) => /^tandem: completions /.test(m));
    expect(said).toEqual([expect.stringMatching(/^tandem: completions snoozed until \d\d:\d\d$/), 'tandem: completions resumed']);
  });
});

// Issue 12: eglot marks eglot-workspace-configuration safe, so a cloned repository's .dir-locals.el
// reaches the server's workspace/configuration without a question. It must not move completions.
describe.skipIf(!hasEmacs && process.env.CI !== 'true')('eglot with a repository .dir-locals.el naming another server', () => {
  let user: FakeVllm;
  let foreign: FakeVllm;
  let results: Record<string, any>;
  let output = '';

  beforeAll(async () => {
    if (!hasEmacs) throw new Error('`emacs` is not installed; CI must install it (apt-get install emacs-nox elpa-eglot)');
    const completion = (text: string) => (req: { path: string; body: any }) => (req.path === '/v1/completions' && String(req.body?.prompt).includes('    re<|fim_suffix|>') ? { text } : { text: '' });
    user = await startFakeVllm({ respond: completion('turn a + b') });
    foreign = await startFakeVllm({ respond: completion('turn foreign()') });
    const dir = mkdtempSync(join(tmpdir(), 'tandem-emacs-repo-'));
    writeFileSync(join(dir, 'calc.py'), 'def add(a, b):\n    re\n');
    writeFileSync(join(dir, '.dir-locals.el'), `((nil . ((eglot-workspace-configuration . (:tandem (:backends (:fim (:url "${foreign.url}"))))))))\n`);
    ({ results, output } = await runEmacs(dir, user.url, { TANDEM_TEST_DIR_LOCALS: 'backends\\.fim\\.url: ignored' }));
  }, 55_000);

  afterAll(async () => {
    await user?.close();
    await foreign?.close();
  });

  it('eglot hands the repository\'s setting to the server, as a user\'s Emacs would (enable-local-variables at its default)', () => {
    expect(results.error, output).toBeUndefined();
    expect(results.enableLocalVariables).toBe(true);
    expect(JSON.parse(results.workspaceConfiguration)).toEqual({ tandem: { backends: { fim: { url: foreign.url } } } });
  });

  it('completions still come from the user\'s backend, and zero bytes reach the repository\'s', () => {
    expect(results.after).toBe('    return a + b');
    expect(user.completions().length).toBeGreaterThanOrEqual(1);
    expect(foreign.requests).toEqual([]);
  });

  it('the server says what it ignored and where to set it instead', () => {
    const warnings = (results.shown as { type: number; message: string }[]).filter((m) => m.type === 2).map((m) => m.message);
    expect(warnings).toContainEqual(expect.stringMatching(/^tandem: editor workspace settings \(workspace\/configuration "tandem"; e\.g\. \.vscode\/settings\.json, \.dir-locals\.el\): backends\.fim\.url: ignored: a repository can only tighten where code goes; set it in .*tandem\/config\.json$/));
    expect((results.shown as { type: number }[]).filter((m) => m.type === 1)).toEqual([]);
  });
});


// lsp-mode runs several servers in one buffer: tandem as an add-on beside the language's own
// (test/fake/langserver.js standing for pyright), each answering what it serves.
describe.skipIf(!hasLspMode && process.env.CI !== 'true')('lsp-mode with tandem as an add-on beside another server', () => {
  let fake: FakeVllm;
  let results: Record<string, any>;
  let output = '';
  let langLog: { method: string | null; id?: number; params: any }[] = [];

  beforeAll(async () => {
    if (!hasLspMode) throw new Error('lsp-mode or company is not installed; CI must install them (apt-get install elpa-lsp-mode elpa-company)');
    fake = await startFakeVllm({
      respond: (req) => {
        if (req.path === '/v1/completions') return String(req.body?.prompt).includes('    re<|fim_suffix|>') ? { text: 'turn a + b' } : { text: '' };
        const system = String(req.body?.messages?.[0]?.content ?? '');
        return { text: /explain code/i.test(system) ? EXPLANATION : SIMPLIFIED };
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'tandem-lsp-mode-'));
    writeFileSync(join(dir, 'calc.py'), 'def add(a, b):\n    re\n');
    const log = join(dir, 'langserver.jsonl');
    ({ results, output } = await runEmacs(dir, fake.url, {
      TANDEM_LSP_TANDEM: join(ROOT, 'clients/emacs/lsp-tandem.el'),
      TANDEM_FAKE_LANGSERVER: join(ROOT, 'test/fake/langserver.js'),
      TANDEM_DEAD_URL: await deadUrl(),
      FAKE_LSP_LOG: log,
    }, 'lsp-mode-test.el'));
    langLog = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
  }, 55_000);

  afterAll(async () => {
    await fake?.close();
  });

  it('starts both servers for the one Python buffer: the mode\'s own and tandem as an add-on', () => {
    expect(results.error, output).toBeUndefined();
    expect(results.lspMode).toMatch(/lsp-mode/);
    expect(results.servers).toEqual(['fake-langserver', 'tandem']);
    expect(results.serversAtEnd).toEqual(['fake-langserver', 'tandem']);
    expect(langLog.find((m) => m.method === 'textDocument/didOpen')?.params.textDocument.uri).toMatch(/calc\.py$/);
  });

  it('hover comes from the other server', () => {
    expect(results.hover).toBe('fake hover: add');
  });

  it('company (set up by lsp-mode) offers tandem\'s completion; picked, it is inserted and its command counts the acceptance on tandem only', () => {
    expect(results.company).toEqual({ mode: true, backends: expect.stringContaining('company-capf') });
    expect(results.candidates).toEqual(['return a + b']);
    expect(results.before).toBe('    re');
    expect(results.after).toBe('    return a + b');
    expect(results.stats.accepted).toBe(1);
    expect(langLog.filter((m) => m.method === 'workspace/executeCommand').map((m) => m.params.command)).toEqual(['fake.organize']);
  });

  it('code actions of both servers are listed; each runs on its own server', () => {
    const kinds = (results.actions as { kind: string }[]).map((a) => a.kind);
    expect(kinds).toEqual(expect.arrayContaining(['source.organizeImports', 'source.tandem.explain', 'refactor.rewrite.tandem.simplify']));
    // Each server resolved its own action and was never asked about the other's (lsp-mode alone
    // asks every server that declares resolve).
    const resolves = langLog.filter((m) => m.method === 'codeAction/resolve');
    expect(resolves.map((m) => m.params.title)).toEqual(['Organize imports (fake)']);
    expect(results.tandemResolved).toEqual(['Simplify this function (tandem)']);
    // tandem resolved Simplify; the model's edit is in the buffer.
    expect(results.afterAction).toBe('def add(a, b):\n    return sum((a, b))\n');
    // Explain ran in the client and showed the answer.
    expect(results.explained).toBe(EXPLANATION);
  });

  it('M-x tandem-stats lays the counters out as text', () => {
    const lines = (results.statsText as string).split('\n');
    expect(lines[0]).toBe('tandem stats');
    expect(lines).toContain(`requests ${results.stats.requests}, shown ${results.stats.shown} (from cache ${results.stats.cacheHits}), accepted 1, partly accepted 0`);
    expect(lines.find((l) => l.startsWith('fim '))!.split(/ +/).slice(0, 4)).toEqual(['fim', '1', '1', '0']);
    expect(lines).toContainEqual(expect.stringMatching(/^status: degraded - inline via fim( \(\d+ ms\))?; dead: /));
  });

  it('says once that the status turned degraded', () => {
    const notices = (results.messages as string[]).filter((m) => /^tandem: (degraded|offline|ok again)/.test(m));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^tandem: degraded: inline via fim.*; dead: /);
  });

  it('M-x tandem-snooze (tandem.el) reaches tandem through lsp-mode: the server holds the snooze until 0 resumes', () => {
    expect(results.snoozed).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(results.snoozedStatus).toBe(results.snoozed);
    expect(results.resumed).toBeNull();
    expect(results.resumedStatus).toBeNull();
    const said = (results.messages as string[]).filter((m) => /^tandem: completions /.test(m));
    expect(said).toEqual([expect.stringMatching(/^tandem: completions snoozed until \d\d:\d\d$/), 'tandem: completions resumed']);
  });
});
