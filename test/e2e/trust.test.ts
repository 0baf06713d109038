// The configuration's trust boundary on the wire: settings a repository can carry (a plain client's
// workspace/configuration answer, a vouching client's workspace scope, a push) never send a byte
// to a server of their choosing, while the same settings at user level do take effect.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { LspClient } from '../lsp-client.js';
import { INLINE_UNHURRIED } from '../wait.js';

// A real folder: the privacy gate resolves a document's real path, and text from outside every
// workspace folder never goes to a cloud backend (the air-gapped variant needs one that may).
const WORKSPACE = mkdtempSync(join(tmpdir(), 'tandem-trust-ws-'));
mkdirSync(join(WORKSPACE, 'src'));
writeFileSync(join(WORKSPACE, 'src', 'main.ts'), '');
const URI = pathToFileURL(join(WORKSPACE, 'src', 'main.ts')).href;
const DOC = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const CURSOR = { line: 1, character: 2 };

let user: FakeVllm;
let foreign: FakeVllm;
let client: LspClient | undefined;

beforeEach(async () => {
  user = await startFakeVllm({ respond: () => ({ text: 'return a + b;' }) });
  foreign = await startFakeVllm({ respond: () => ({ text: 'exfiltrated();' }) });
});

afterEach(async () => {
  const c = client;
  client = undefined;
  if (c) {
    await c.stop();
    expect(c.protocolErrors).toEqual([]);
  }
  await user.close();
  await foreign.close();
});

/** The user's own configuration: one on-prem vLLM. */
// A deadline only a stuck server reaches: the default 2 s would be a margin on a loaded machine.
const base = () => ({ backends: { fim: { kind: 'vllm', url: user.url } }, inline: INLINE_UNHURRIED });

interface Variant {
  name: string;
  /** What the user's configuration adds for this variant (at user level). */
  user: () => Record<string, unknown>;
  /** What a repository tries. */
  repo: () => Record<string, unknown>;
  /** The key path the warning names. */
  key: string;
}

const variants: Variant[] = [
  { name: 'a foreign backend URL', user: () => ({}), repo: () => ({ backends: { fim: { kind: 'vllm', url: foreign.url } }, routes: { inline: ['fim'] } }), key: 'backends.fim.url' },
  {
    name: 'routes pointing at a new backend',
    user: () => ({}),
    repo: () => ({ backends: { evil: { kind: 'vllm', url: foreign.url } }, routes: { inline: ['evil'], action: ['evil'], multiFile: ['evil'] } }),
    key: 'backends.evil',
  },
  {
    // The user keeps a cloud backend but works air-gapped: only airGapped: false would reach it.
    name: 'air-gapped mode off',
    user: () => ({ backends: { fim: { kind: 'vllm', url: user.url }, cloud: { kind: 'vllm', url: foreign.url, location: 'cloud' } }, routes: { inline: ['cloud', 'fim'] }, privacy: { airGapped: true } }),
    repo: () => ({ privacy: { airGapped: false } }),
    key: 'privacy.airGapped',
  },
];

const merge = (...parts: Record<string, unknown>[]) => {
  const out: Record<string, any> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) out[k] = k === 'backends' ? { ...(out[k] ?? {}), ...(v as object) } : v;
  return out;
};

interface Start {
  init?: unknown;
  /** Written as the user file, $XDG_CONFIG_HOME/tandem/config.json. */
  userFile?: unknown;
  /** Written to a file passed with --config. */
  configFlag?: unknown;
  capabilities?: Record<string, unknown>;
  /** The client's answer to workspace/configuration {section: "tandem"}. */
  answer?: unknown;
}

async function start(opts: Start): Promise<{ client: LspClient; home: string; state: string }> {
  const home = mkdtempSync(join(tmpdir(), 'tandem-trust-'));
  const state = join(home, 'state');
  if (opts.userFile !== undefined) {
    mkdirSync(join(home, 'tandem'));
    writeFileSync(join(home, 'tandem', 'config.json'), JSON.stringify(opts.userFile));
  }
  const args: string[] = [];
  if (opts.configFlag !== undefined) {
    writeFileSync(join(home, 'flag.json'), JSON.stringify(opts.configFlag));
    args.push('--config', join(home, 'flag.json'));
  }
  const c = new LspClient({
    args,
    env: { XDG_CONFIG_HOME: home, XDG_STATE_HOME: state, TANDEM_CONFIG: '' },
    onRequest: (method, params) => (method === 'workspace/configuration' ? params.items.map(() => opts.answer ?? null) : null),
  });
  client = c;
  const pull = opts.answer !== undefined;
  await c.initialize({ rootUri: pathToFileURL(WORKSPACE).href, initializationOptions: opts.init, capabilities: { textDocument: { inlineCompletion: {} }, ...(pull ? { workspace: { configuration: true } } : {}), ...opts.capabilities } });
  await loaded(c, pull ? 'initialized' : 'initialize');
  return { client: c, home, state };
}

/** Resolves once the server has logged its `count`-th configuration load for `why`. */
function loaded(c: LspClient, why: string, count = 1) {
  const isLoad = (n: { method: string; params: any }) => n.method === 'window/logMessage' && String(n.params.message).includes(`configuration loaded (${why})`);
  return c.waitForNotification((n) => isLoad(n) && c.notifications.filter(isLoad).length >= count);
}

async function complete(c: LspClient): Promise<string | undefined> {
  c.open(URI, 'typescript', DOC);
  const res = await c.inline(URI, CURSOR).result;
  return res.items[0]?.insertText;
}

const shown = (c: LspClient, type: number) => c.notifications.filter((n) => n.method === 'window/showMessage' && n.params.type === type).map((n) => String(n.params.message));

/** Stops the server (no request can follow) and returns every request the foreign fake ever saw. */
async function foreignRequestsAfterStop(c: LspClient): Promise<string[]> {
  client = undefined;
  await c.stop();
  expect(c.protocolErrors).toEqual([]);
  return foreign.requests.map((r) => `${r.method} ${r.path}`);
}

describe('settings a repository can carry never redirect code', () => {
  describe.each(variants)('$name', (v) => {
    it('from a plain client\'s workspace/configuration answer (eglot .dir-locals.el, Zed, Helix): zero requests at the foreign server, a warning', async () => {
      const { client: c } = await start({ init: merge(base(), v.user()), answer: v.repo() });
      expect(await complete(c)).toBe('return a + b;');
      const warnings = shown(c, 2);
      expect(warnings.some((w) => w.includes(`${v.key}: ignored: `) && w.includes('workspace/configuration "tandem"'))).toBe(true);
      expect(shown(c, 1)).toEqual([]);
      expect(await foreignRequestsAfterStop(c)).toEqual([]);
      expect(user.completions().length).toBeGreaterThanOrEqual(1);
    });

    it('from initializationOptions, when the user file says privacy.initializationOptions: "repository" (Zed, Helix project files): zero requests, a warning', async () => {
      const mine = merge(base(), v.user()) as { privacy?: Record<string, unknown> };
      const { client: c } = await start({ userFile: { ...mine, privacy: { ...mine.privacy, initializationOptions: 'repository' } }, init: v.repo() });
      expect(await complete(c)).toBe('return a + b;');
      expect(shown(c, 2).some((w) => w.startsWith(`tandem: initializationOptions: ${v.key}: ignored: `))).toBe(true);
      expect(await foreignRequestsAfterStop(c)).toEqual([]);
    });

    const userLevel: [string, (settings: unknown) => Start][] = [
      ['initializationOptions', (s) => ({ init: s })],
      ['a --config file', (s) => ({ configFlag: s })],
      ['the user file under XDG_CONFIG_HOME', (s) => ({ userFile: s })],
      ['the user scope of a client that vouches for it', (s) => ({ answer: { user: s }, capabilities: { experimental: { tandem: { scopedSettings: true } } } })],
    ];
    it.each(userLevel)('the same settings from %s take effect', async (_name, how) => {
      const { client: c } = await start(how(merge(base(), v.user(), v.repo())));
      expect(await complete(c)).toBe('exfiltrated();');
      expect(shown(c, 2)).toEqual([]);
      expect(foreign.completions().length).toBeGreaterThanOrEqual(1);
    });
  });

  it('from the workspace scope of a vouching client: zero requests, a warning', async () => {
    const { client: c } = await start({
      init: base(),
      capabilities: { experimental: { tandem: { scopedSettings: true } } },
      answer: { user: { inline: { maxTokens: 64 } }, workspace: { backends: { fim: { url: foreign.url } } } },
    });
    expect(await complete(c)).toBe('return a + b;');
    expect(user.completions()[0]!.body.max_tokens).toBe(64);
    expect(shown(c, 2).some((w) => w.includes('backends.fim.url: ignored: a repository can only tighten where code goes; set it in '))).toBe(true);
    expect(await foreignRequestsAfterStop(c)).toEqual([]);
  });

  it('from a push of a client that cannot be asked: zero requests, the warning shown once however often it comes', async () => {
    const { client: c } = await start({ init: base() });
    for (let i = 1; i <= 2; i++) {
      c.notify('workspace/didChangeConfiguration', { settings: { tandem: { backends: { fim: { kind: 'vllm', url: foreign.url } }, inline: { maxTokens: 32 } } } });
      await loaded(c, 'didChangeConfiguration', i);
    }
    expect(await complete(c)).toBe('return a + b;');
    expect(user.completions()[0]!.body.max_tokens).toBe(32); // what a workspace may tune still applies
    const warnings = shown(c, 2).filter((w) => w.includes('backends.fim.url: ignored'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('workspace/didChangeConfiguration');
    expect(await foreignRequestsAfterStop(c)).toEqual([]);
  });

  it('a repository cannot switch the audit log off', async () => {
    const { client: c, state } = await start({ init: base(), answer: { audit: { enabled: false } } });
    expect(await complete(c)).toBe('return a + b;');
    expect(shown(c, 2).some((w) => w.includes('audit.enabled: ignored: a repository cannot switch the audit log off'))).toBe(true);
    const audit = join(state, 'tandem', 'audit.jsonl');
    const written = () => existsSync(audit) && readFileSync(audit, 'utf8').includes('"task":"inline"');
    // The writer flushes on its own schedule; stopping the server ends it.
    for (let i = 0; i < 200 && !written(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(written()).toBe(true);
  });

  it('a pull-capable client\'s push of the whole section with its defaults changes nothing and shows no message', async () => {
    const { client: c } = await start({ userFile: merge(base(), { inline: { debounceMs: 0, maxTokens: 50 } }), answer: {} });
    // vscode-languageclient's push: every tandem setting with VS Code's defaults.
    c.notify('workspace/didChangeConfiguration', {
      settings: {
        tandem: {
          backends: {},
          routes: { inline: [], action: [], multiFile: [] },
          privacy: { airGapped: false, onPremOnly: [] },
          inline: { enabled: true, debounceMs: 'adaptive', deadlineMs: 2000, maxTokens: 128 },
          audit: { enabled: true },
          budget: {},
          log: { level: 'info' },
        },
      },
    });
    await loaded(c, 'didChangeConfiguration');
    // The push made the server ask instead: a second workspace/configuration request.
    expect(c.serverRequests.filter((r) => r.method === 'workspace/configuration')).toHaveLength(2);
    expect(shown(c, 1)).toEqual([]);
    expect(shown(c, 2)).toEqual([]);
    // The user file's backend serves, and its maxTokens (not the push's 128) is in force.
    expect(await complete(c)).toBe('return a + b;');
    expect(user.completions()[0]!.body.max_tokens).toBe(50);
  });

  it('a tandem.json that does not parse air-gaps the workspace, with a warning naming the file and the position', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'tandem-trust-ws-'));
    writeFileSync(join(ws, 'tandem.json'), '{\n  "privacy": {\n    "airGapped": true,\n  }\n}\n');
    const home = mkdtempSync(join(tmpdir(), 'tandem-trust-'));
    const c = new LspClient({ env: { XDG_CONFIG_HOME: home, XDG_STATE_HOME: join(home, 'state'), TANDEM_CONFIG: '' } });
    client = c;
    const init = merge(base(), { backends: { cloud: { kind: 'vllm', url: foreign.url, location: 'cloud' } }, routes: { inline: ['cloud', 'fim'] } });
    await c.initialize({ rootUri: `file://${ws}`, initializationOptions: init });
    const warn = await c.waitForNotification((n) => n.method === 'window/showMessage' && n.params.type === 2);
    expect(warn.params.message).toBe(`tandem: ${join(ws, 'tandem.json')}: invalid JSON: Expected double-quoted property name at line 4, column 3; air-gapped until the file is fixed`);
    const uri = `file://${ws}/a.ts`;
    c.open(uri, 'typescript', DOC);
    expect((await c.inline(uri, CURSOR).result).items[0]?.insertText).toBe('return a + b;');
    expect(shown(c, 1)).toEqual([]);
    expect(await foreignRequestsAfterStop(c)).toEqual([]);
  });
});
