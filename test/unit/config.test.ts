// Config sources, their precedence, validation messages and the workspace file's "tighten only" rule.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, resolveConfig, userConfigPath } from '../../server/src/config/load.js';
import { EDITOR_ORIGIN, editorSources } from '../../server/src/config/trust.js';

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tandem-config-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh directory under the test's temp root. */
function dir(): string {
  const d = join(root, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function writeJson(path: string, data: unknown): string {
  writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data, null, 2));
  return path;
}

interface Layers {
  user?: unknown;
  tandemConfig?: unknown;
  configFlag?: unknown;
  init?: unknown;
  /** The answer to workspace/configuration "tandem" (repository-level unless `scoped`). */
  section?: unknown;
  /** The client declared experimental.tandem.scopedSettings: `section` is {user, workspace}. */
  scoped?: boolean;
  /** settings.tandem of a didChangeConfiguration from a client that cannot be asked. */
  pushed?: unknown;
  workspace?: unknown;
}

/** Writes the file layers to a temp dir and loads them, the environment passed explicitly. */
function load(layers: Layers) {
  const d = dir();
  const xdg = join(d, 'xdg');
  const env: NodeJS.ProcessEnv = { XDG_CONFIG_HOME: xdg };
  if (layers.user !== undefined) {
    mkdirSync(join(xdg, 'tandem'), { recursive: true });
    writeJson(join(xdg, 'tandem', 'config.json'), layers.user);
  }
  if (layers.tandemConfig !== undefined) env.TANDEM_CONFIG = writeJson(join(d, 'env.json'), layers.tandemConfig);
  const configFile = layers.configFlag !== undefined ? writeJson(join(d, 'flag.json'), layers.configFlag) : undefined;
  const editor = editorSources({ initializationOptions: layers.init, scoped: layers.scoped ?? false, pulled: layers.section, pushed: layers.pushed });
  const ws = join(d, 'ws');
  mkdirSync(ws);
  if (layers.workspace !== undefined) writeJson(join(ws, 'tandem.json'), layers.workspace);
  return { result: loadConfig({ env, configFile, editor, workspaceRoots: [ws] }), dir: d, ws, xdg };
}

function ok(layers: Layers) {
  const { result, ...rest } = load(layers);
  if (!result.ok) throw new Error(`expected a valid config, got: ${result.error}`);
  return { ...result, ...rest };
}

const tokens = (v: number) => ({ inline: { maxTokens: v } });

describe('precedence of the five sources', () => {
  // Each layer sets inline.maxTokens to its own number; the last present layer must win.
  const rows: [string, Layers, number][] = [
    ['defaults only', {}, 128],
    ['user file over defaults', { user: tokens(10) }, 10],
    ['TANDEM_CONFIG over user file', { user: tokens(10), tandemConfig: tokens(20) }, 20],
    ['--config over user file', { user: tokens(10), configFlag: tokens(30) }, 30],
    ['--config wins over TANDEM_CONFIG', { user: tokens(10), tandemConfig: tokens(20), configFlag: tokens(30) }, 30],
    ['initializationOptions over --config', { configFlag: tokens(30), init: tokens(40) }, 40],
    ['workspace/configuration over initializationOptions', { configFlag: tokens(30), init: tokens(40), section: tokens(50) }, 50],
    ['editor over TANDEM_CONFIG', { tandemConfig: tokens(20), section: tokens(50) }, 50],
    ['workspace tandem.json cannot change maxTokens', { user: tokens(10), section: tokens(50), workspace: tokens(999) }, 50],
  ];
  it.each(rows)('%s', (_name, layers, expected) => {
    expect(ok(layers).config.inline.maxTokens).toBe(expected);
  });

  it('merges objects key by key across layers; arrays replace', () => {
    const { config } = ok({
      user: { backends: { fim: { kind: 'vllm', url: 'http://gpu:8000' } }, privacy: { onPremOnly: ['a/**'] }, inline: { maxLines: 3 } },
      configFlag: { backends: { cloud: { kind: 'openai', url: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY' } } },
      init: { backends: { fim: { model: 'Qwen/Qwen2.5-Coder-7B' } }, privacy: { onPremOnly: ['b/**'] } },
      section: { inline: { temperature: 0.5 } },
    });
    expect(config.backends.fim).toEqual({ name: 'fim', kind: 'vllm', url: 'http://gpu:8000', model: 'Qwen/Qwen2.5-Coder-7B', location: 'onprem' });
    expect(config.backends.cloud?.location).toBe('cloud');
    expect(config.privacy.onPremOnly).toEqual(['b/**']);
    expect(config.inline).toMatchObject({ maxLines: 3, temperature: 0.5, maxTokens: 128 });
  });

  it('ignores an empty TANDEM_CONFIG and a missing user file', () => {
    const d = dir();
    const r = loadConfig({ env: { XDG_CONFIG_HOME: join(d, 'none'), TANDEM_CONFIG: '' } });
    expect(r.ok).toBe(true);
  });

  it('finds the user file under XDG_CONFIG_HOME, else ~/.config', () => {
    expect(userConfigPath({ XDG_CONFIG_HOME: '/x/y' })).toBe('/x/y/tandem/config.json');
    expect(userConfigPath({ XDG_CONFIG_HOME: '' })).toBe(join(homedir(), '.config', 'tandem', 'config.json'));
    expect(userConfigPath({})).toBe(join(homedir(), '.config', 'tandem', 'config.json'));
  });
});

describe('defaults', () => {
  it('is one on-prem vLLM at localhost:8000 serving every route', () => {
    const r = resolveConfig([]);
    if (!r.ok) throw new Error(r.error);
    expect(r.config.backends).toEqual({ local: { name: 'local', kind: 'vllm', url: 'http://localhost:8000', location: 'onprem' } });
    expect(r.config.routes).toEqual({ inline: ['local'], action: ['local'], multiFile: ['local'], chat: ['local'], nextEdit: ['local'] });
    expect(r.config.privacy).toEqual({ airGapped: false, onPremOnly: [], allowOutsideWorkspace: false, initializationOptions: 'user' });
    expect(r.config.inline).toEqual({ enabled: true, debounceMs: 'adaptive', deadlineMs: 2000, maxTokens: 128, temperature: 0.1, maxPromptTokens: 4096, multiline: true, maxLines: 16, cacheSize: 512, speculative: true, alternatives: 3, nextEdits: false });
    expect(r.config.log).toEqual({ level: 'info' });
    expect(r.warnings).toEqual([]);
  });

  const locations: [string, Record<string, unknown>, string][] = [
    ['openai defaults to cloud', { kind: 'openai', url: 'https://api.openai.com/v1' }, 'cloud'],
    ['vllm defaults to onprem', { kind: 'vllm', url: 'http://a:8000' }, 'onprem'],
    ['tgi defaults to onprem', { kind: 'tgi', url: 'http://a:8080' }, 'onprem'],
    ['ollama defaults to onprem', { kind: 'ollama', url: 'http://a:11434' }, 'onprem'],
    ['llamacpp defaults to onprem', { kind: 'llamacpp', url: 'http://a:8080' }, 'onprem'],
    ['an explicit location wins (openai on-prem)', { kind: 'openai', url: 'http://litellm:4000', location: 'onprem' }, 'onprem'],
    ['an explicit location wins (vllm in the cloud)', { kind: 'vllm', url: 'https://rented:8000', location: 'cloud' }, 'cloud'],
  ];
  it.each(locations)('location: %s', (_n, backend, expected) => {
    const r = resolveConfig([{ origin: 'f', trust: 'user', data: { backends: { b: backend } } }]);
    if (!r.ok) throw new Error(r.error);
    expect(r.config.backends.b?.location).toBe(expected);
  });

  it('routes default to every backend, on-prem first, in definition order otherwise', () => {
    const r = resolveConfig([
      {
        origin: 'f',
        trust: 'user',
        data: {
          backends: {
            cloud: { kind: 'openai', url: 'https://api.openai.com/v1' },
            fim: { kind: 'vllm', url: 'http://a:8000' },
            rented: { kind: 'vllm', url: 'https://b:8000', location: 'cloud' },
            chat: { kind: 'vllm', url: 'http://a:8001' },
          },
          routes: { action: ['chat'] },
        },
      },
    ]);
    if (!r.ok) throw new Error(r.error);
    expect(r.config.routes.inline).toEqual(['fim', 'chat', 'cloud', 'rented']);
    expect(r.config.routes.multiFile).toEqual(['fim', 'chat', 'cloud', 'rented']);
    expect(r.config.routes.action).toEqual(['chat']);
    // routes.chat, when absent, is the action route's list.
    expect(r.config.routes.chat).toEqual(['chat']);
    // routes.nextEdit, when absent, is the inline route's on-prem backends.
    expect(r.config.routes.nextEdit).toEqual(['fim', 'chat']);
  });

  it('routes.nextEdit defaults to the on-prem backends of a configured inline route, and takes a list of its own', () => {
    const backends = { cloud: { kind: 'openai', url: 'https://api.openai.com/v1' }, fim: { kind: 'vllm', url: 'http://a:8000' }, zeta: { kind: 'vllm', url: 'http://a:8002', nextEdit: 'zeta' } };
    const r = resolveConfig([{ origin: 'f', trust: 'user', data: { backends, routes: { inline: ['cloud', 'fim'] } } }]);
    if (!r.ok) throw new Error(r.error);
    expect(r.config.routes.nextEdit).toEqual(['fim']);
    expect(r.config.backends.zeta!.nextEdit).toBe('zeta');
    const own = resolveConfig([{ origin: 'f', trust: 'user', data: { backends, routes: { inline: ['fim'], nextEdit: ['zeta', 'cloud'] } } }]);
    if (!own.ok) throw new Error(own.error);
    expect(own.config.routes.nextEdit).toEqual(['zeta', 'cloud']);
    const bad = resolveConfig([{ origin: 'f', trust: 'user', data: { backends: { fim: { kind: 'vllm', url: 'http://a:8000', nextEdit: 'fim' } } } }]);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toContain('backends.fim.nextEdit: expected one of: zeta, sweep, instruct');
  });
});

describe('errors name the file and the key path', () => {
  const backend = (extra: Record<string, unknown>) => ({ backends: { fim: { kind: 'vllm', url: 'http://gpu:8000', ...extra } } });
  const rows: [string, unknown, string][] = [
    ['bad URL', backend({ url: 'gpu-pool:8000x' }), 'backends.fim.url: expected a URL'],
    ['non-HTTP URL', backend({ url: 'ftp://gpu/' }), 'backends.fim.url: expected a URL'],
    ['URL of the wrong type', backend({ url: 8000 }), 'backends.fim.url: expected a URL'],
    ['unknown kind', backend({ kind: 'triton' }), 'backends.fim.kind: expected one of: vllm, openai, tgi, ollama, llamacpp'],
    ['missing kind', { backends: { fim: { url: 'http://gpu:8000' } } }, 'backends.fim.kind: expected one of: vllm, openai, tgi, ollama, llamacpp'],
    ['unknown key in a backend', backend({ colour: 'red' }), 'backends.fim.colour: unknown key'],
    ['unknown top-level key', { backend: {} }, 'backend: unknown key; did you mean `backends`?'],
    ['a key typo', { inline: { debounceMS: 5 } }, 'inline.debounceMS: unknown key; did you mean `debounceMs`?'],
    ['two unknown keys', { a: 1, b: 2 }, '(top level): unknown keys: a, b'],
    ['wrong type (number)', { inline: { maxTokens: '128' } }, 'inline.maxTokens: expected a number'],
    ['wrong type (boolean)', { privacy: { airGapped: 'yes' } }, 'privacy.airGapped: expected true or false'],
    ['wrong type (object)', { backends: ['fim'] }, 'backends: expected an object of named backends'],
    ['wrong type (header value)', backend({ headers: { 'x-team': 7 } }), 'backends.fim.headers.x-team: expected a string'],
    ['not a whole number', { inline: { deadlineMs: 1.5 } }, 'inline.deadlineMs: expected a whole number'],
    ['not positive', backend({ timeoutMs: 0 }), 'backends.fim.timeoutMs: expected a number above 0'],
    ['bad location', backend({ location: 'edge' }), 'backends.fim.location: expected "onprem" or "cloud"'],
    ['a key instead of a variable name', backend({ apiKeyEnv: 'sk-abc123' }), 'backends.fim.apiKeyEnv: expected the name of an environment variable (the key itself never goes in a config file)'],
    ['bad debounce', { inline: { debounceMs: 'fast' } }, 'inline.debounceMs: expected a number of milliseconds or "adaptive"'],
    ['empty route', { routes: { inline: [] } }, 'routes.inline: expected at least one backend name'],
    ['route naming an unknown backend', { ...backend({}), routes: { inline: ['fim'], action: ['fim', 'cloud'] } }, 'routes.action[1]: unknown backend "cloud" (defined: fim)'],
    ['route naming a backend when only the default exists', { routes: { multiFile: ['gpu'] } }, 'routes.multiFile[0]: unknown backend "gpu" (defined: local)'],
  ];
  it.each(rows)('%s', (_name, data, message) => {
    const { result, dir: d } = load({ configFlag: data });
    expect(result).toEqual({ ok: false, error: `${join(d, 'flag.json')}: ${message}` });
  });

  it('a top-level value that is not an object', () => {
    const { result, dir: d } = load({ configFlag: '[1, 2]' });
    expect(result).toEqual({ ok: false, error: `${join(d, 'flag.json')}: expected a JSON object` });
  });

  it('blames the file that set the bad value, not a later one that set a sibling key', () => {
    const { result, xdg } = load({ user: backend({ url: 'nope' }), configFlag: { backends: { fim: { model: 'm' } } } });
    expect(result).toEqual({ ok: false, error: `${join(xdg, 'tandem', 'config.json')}: backends.fim.url: expected a URL` });
  });

  it('blames an editor source by its channel', () => {
    const { result } = load({ user: tokens(10), init: { inline: { maxLines: -1 } } });
    expect(result).toEqual({ ok: false, error: 'initializationOptions: inline.maxLines: expected a number above 0' });
    const vouched = load({ user: tokens(10), scoped: true, section: { user: { inline: { maxLines: -1 } } } }).result;
    expect(vouched).toEqual({ ok: false, error: `${EDITOR_ORIGIN.user}: inline.maxLines: expected a number above 0` });
  });

  it('an editor key typo names the channel and the nearest known key', () => {
    const { result } = load({ user: tokens(10), init: { inline: { debounceMS: 50 } } });
    expect(result).toEqual({ ok: false, error: 'initializationOptions: inline.debounceMS: unknown key; did you mean `debounceMs`?' });
    const vouched = load({ user: tokens(10), scoped: true, section: { user: { privacy: { airgapped: true } } } }).result;
    expect(vouched).toEqual({ ok: false, error: `${EDITOR_ORIGIN.user}: privacy.airgapped: unknown key; did you mean \`airGapped\`?` });
  });

  it('the source that set a value is known for messages about it, and never a file that set nothing', () => {
    const { result, xdg } = load({ user: backend({}), configFlag: { backends: { fim: { model: 'm' } } } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.origin?.(['backends', 'fim', 'url'])).toBe(join(xdg, 'tandem', 'config.json'));
    expect(result.origin?.(['backends', 'fim', 'model'])).toMatch(/flag\.json$/);
    expect(result.origin?.(['inline', 'debounceMs'])).toBeUndefined();
  });

  // V8 names the position for some errors only; every message must carry line and column.
  const badJson: [string, string, string][] = [
    ['trailing comma in an object', '{\n  "inline": {\n    "maxTokens": 5,\n  }\n}\n', "Expected double-quoted property name at line 4, column 3"],
    ['trailing comma in a list', '{"routes": {"inline": ["fim",\n   ]}}', "Unexpected token ']' at line 2, column 4"],
    ['missing comma', '{\n  "a": 1\n  "b": 2\n}', "Expected ',' or '}' after property value at line 3, column 3"],
    ['missing value', '{"inline": }', "Unexpected token '}' at line 1, column 12"],
    ['misspelt literal', '{\n  "privacy": {"airGapped": ture}}', "Unexpected token 'u' at line 2, column 29"],
    ['unquoted key', '{inline: {}}', "Expected property name or '}' at line 1, column 2"],
    ['text after the object', '{}\n{}', 'Unexpected non-whitespace character after JSON at line 2, column 1'],
    ['truncated file', '{\n  "inline": {', "Expected property name or '}' at line 2, column 14"],
    ['empty file', '', 'Unexpected end of JSON input at line 1, column 1'],
    ['CRLF line breaks', '{\r\n  "a": 1,\r\n  oops\r\n}', 'Expected double-quoted property name at line 3, column 3'],
  ];
  it.each(badJson)('invalid JSON (%s) names the file, line and column', (_name, text, detail) => {
    const { result, dir: d } = load({ configFlag: text });
    expect(result).toEqual({ ok: false, error: `${join(d, 'flag.json')}: invalid JSON: ${detail}` });
  });

  it('invalid JSON never echoes the file (it may hold header values)', () => {
    const { result } = load({ configFlag: '{"backends": {"fim": {"headers": {"x-token": "s3cr3t-value"}}} oops}' });
    if (result.ok) throw new Error('expected an error');
    expect(result.error).not.toContain('s3cr3t-value');
  });

  it('invalid JSON in the user file names that file', () => {
    const { result, xdg } = load({ user: '{"inline": }' });
    expect(result).toEqual({ ok: false, error: `${join(xdg, 'tandem', 'config.json')}: invalid JSON: Unexpected token '}' at line 1, column 12` });
  });

  it('accepts a file that starts with a byte-order mark', () => {
    expect(ok({ configFlag: '\uFEFF{"inline": {"maxTokens": 7}}' }).config.inline.maxTokens).toBe(7);
  });

  it('a missing --config file is an error naming it', () => {
    const d = dir();
    const missing = join(d, 'nope.json');
    expect(loadConfig({ configFile: missing, env: { XDG_CONFIG_HOME: join(d, 'xdg') } })).toEqual({ ok: false, error: `${missing}: cannot read the file (ENOENT)` });
  });

  it('a missing TANDEM_CONFIG file is an error naming it', () => {
    const d = dir();
    const missing = join(d, 'env.json');
    expect(loadConfig({ env: { XDG_CONFIG_HOME: join(d, 'xdg'), TANDEM_CONFIG: missing } })).toEqual({ ok: false, error: `${missing}: cannot read the file (ENOENT)` });
  });
});

describe('a workspace tandem.json may only tighten', () => {
  const user = {
    backends: {
      fim: { kind: 'vllm', url: 'http://gpu:8000' },
      cloud: { kind: 'openai', url: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY' },
    },
    routes: { inline: ['fim'], action: ['cloud', 'fim'] },
    privacy: { onPremOnly: ['**/.env*'] },
  };

  it('adds onPremOnly globs, sets airGapped, switches inline off, without warnings', () => {
    const { config, warnings } = ok({ user, workspace: { privacy: { onPremOnly: ['secrets/**', '**/.env*'], airGapped: true }, inline: { enabled: false } } });
    expect(config.privacy).toEqual({ airGapped: true, onPremOnly: ['**/.env*', 'secrets/**'], allowOutsideWorkspace: false, initializationOptions: 'user' });
    expect(config.inline.enabled).toBe(false);
    expect(warnings).toEqual([]);
  });

  const rejected: [string, unknown, string][] = [
    ['add a backend', { backends: { evil: { kind: 'openai', url: 'https://evil.example/v1' } } }, 'backends: ignored: a workspace tandem.json may only tighten privacy or switch features off'],
    ['change a URL', { backends: { fim: { url: 'https://evil.example' } } }, 'backends: ignored: a workspace tandem.json may only tighten privacy or switch features off'],
    ['add a header', { backends: { fim: { headers: { 'x-forward-to': 'evil' } } } }, 'backends: ignored: a workspace tandem.json may only tighten privacy or switch features off'],
    ['change a route', { routes: { inline: ['cloud'] } }, 'routes: ignored: a workspace tandem.json may only tighten privacy or switch features off'],
    ['raise a limit', { inline: { maxTokens: 4096 } }, 'inline.maxTokens: ignored: a workspace may only switch features off'],
    ['set another privacy key', { privacy: { allowCloud: true } }, 'privacy.allowCloud: ignored: a repository can only tighten privacy (privacy.airGapped: true, more privacy.onPremOnly globs); set it in USER'],
    ['lower the audit log', { audit: { enabled: false } }, 'audit: ignored: a workspace tandem.json may only tighten privacy or switch features off'],
  ];
  it.each(rejected)('cannot %s', (_name, workspace, warning) => {
    const { config, warnings, ws, xdg } = ok({ user, workspace });
    const baseline = ok({ user }).config;
    expect(config).toEqual(baseline);
    expect(warnings).toEqual([`${join(ws, 'tandem.json')}: ${warning.replace('USER', join(xdg, 'tandem', 'config.json'))}`]);
  });

  it('cannot turn air-gapped mode off', () => {
    const { config, warnings, ws, xdg } = ok({ user: { ...user, privacy: { airGapped: true } }, workspace: { privacy: { airGapped: false } } });
    expect(config.privacy.airGapped).toBe(true);
    expect(warnings).toEqual([`${join(ws, 'tandem.json')}: privacy.airGapped: ignored: a repository cannot turn air-gapped mode off; set it in ${join(xdg, 'tandem', 'config.json')}`]);
  });

  it('switches languages off (inline.languages); one switched on is a no-op where it is on, ignored where the user switched it off', () => {
    const quiet = ok({ user: { ...user, inline: { languages: { python: true } } }, workspace: { inline: { languages: { markdown: false, python: true, '*': true } } } });
    expect(quiet.config.inline.languages).toEqual({ python: true, markdown: false });
    expect(quiet.warnings).toEqual([]);
    const { config, warnings, ws } = ok({ user: { ...user, inline: { languages: { '*': false, go: true } } }, workspace: { inline: { languages: { go: false, python: true, rust: 'no', '*': true } } } });
    expect(config.inline.languages).toEqual({ '*': false, go: false });
    expect(warnings).toEqual([
      `${join(ws, 'tandem.json')}: inline.languages.python: ignored: a workspace may only switch features off`,
      `${join(ws, 'tandem.json')}: inline.languages.rust: ignored: expected true or false`,
      `${join(ws, 'tandem.json')}: inline.languages.*: ignored: a workspace may only switch features off`,
    ]);
    const bad = ok({ user, workspace: { inline: { languages: ['markdown'] } } });
    expect(bad.warnings).toEqual([`${join(bad.ws, 'tandem.json')}: inline.languages: ignored: expected an object of language ids to true or false`]);
  });

  it('switches next edits as inline items off (inline.nextEdits), never on', () => {
    const off = ok({ user: { ...user, inline: { nextEdits: true } }, workspace: { inline: { nextEdits: false } } });
    expect([off.config.inline.nextEdits, off.warnings]).toEqual([false, []]);
    const { config, warnings, ws } = ok({ user, workspace: { inline: { nextEdits: true } } });
    expect(config.inline.nextEdits).toBe(false);
    expect(warnings).toEqual([`${join(ws, 'tandem.json')}: inline.nextEdits: ignored: a workspace may only switch features off`]);
  });

  it('cannot switch inline completions back on', () => {
    const { config, warnings, ws } = ok({ user, section: { inline: { enabled: false } }, workspace: { inline: { enabled: true } } });
    expect(config.inline.enabled).toBe(false);
    expect(warnings).toEqual([`${join(ws, 'tandem.json')}: inline.enabled: ignored: a workspace may only switch features off`]);
  });

  // Security finding 7: a repository that meant to switch airGapped on must never be served by
  // the cloud because its file has a typo. The user's configuration otherwise stays in force.
  const broken: [string, string, string][] = [
    ['invalid JSON', '{\n  "privacy": {\n    "airGapped": true,\n  }\n}\n', "invalid JSON: Expected double-quoted property name at line 4, column 3"],
    ['truncated JSON', '{"privacy": ', 'invalid JSON: Unexpected end of JSON input at line 1, column 13'],
    ['a list instead of an object', '["fim"]', 'expected a JSON object'],
    ['a string', '"airGapped"', 'expected a JSON object'],
    ['airGapped that is not a boolean', '{"privacy": {"airGapped": "yes"}}', 'privacy.airGapped: expected true or false'],
    ['onPremOnly that is not a list', '{"privacy": {"onPremOnly": "secrets/**"}}', 'privacy.onPremOnly: expected a list of globs'],
    ['privacy that is not an object', '{"privacy": true}', 'privacy: expected an object'],
  ];
  it.each(broken)('a tandem.json with %s makes the workspace air-gapped, with a warning naming the file and the position', (_name, text, detail) => {
    const { config, warnings, ws } = ok({ user, workspace: text });
    expect(config).toEqual({ ...ok({ user }).config, privacy: { ...ok({ user }).config.privacy, airGapped: true } });
    expect(warnings).toEqual([`${join(ws, 'tandem.json')}: ${detail}; air-gapped until the file is fixed`]);
  });

  it('a tandem.json that cannot be read makes the workspace air-gapped', () => {
    const { ws } = load({ user });
    mkdirSync(join(ws, 'tandem.json')); // reading a directory fails with EISDIR
    const r = loadConfig({ env: { XDG_CONFIG_HOME: join(ws, '..', 'xdg') }, workspaceRoots: [ws] });
    if (!r.ok) throw new Error(r.error);
    expect(r.config.privacy.airGapped).toBe(true);
    expect(r.config.backends.fim?.url).toBe('http://gpu:8000');
    expect(r.warnings).toEqual([`${join(ws, 'tandem.json')}: cannot read the file (EISDIR); air-gapped until the file is fixed`]);
  });

  it('a missing tandem.json changes nothing', () => {
    const { config, warnings } = ok({ user });
    expect(config.privacy.airGapped).toBe(false);
    expect(warnings).toEqual([]);
  });
});

describe('the trust boundary: repository-level editor settings may only tighten', () => {
  const user = {
    backends: {
      fim: { kind: 'vllm', url: 'http://gpu:8000' },
      cloud: { kind: 'openai', url: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY' },
    },
    routes: { inline: ['fim'], action: ['cloud', 'fim'] },
    privacy: { onPremOnly: ['**/.env*'] },
    budget: { dailyUsd: 5 },
  };
  const WHERE = 'a repository can only tighten where code goes';
  const PRIVACY = 'a repository can only tighten privacy (privacy.airGapped: true, more privacy.onPremOnly globs)';
  // Each guarded key a repository may try, with the key path its warning names.
  const guarded: [string, unknown, string, string][] = [
    ['a backend URL', { backends: { fim: { url: 'http://127.0.0.1:8123' } } }, 'backends.fim.url', WHERE],
    ['a new backend', { backends: { evil: { kind: 'vllm', url: 'http://127.0.0.1:8123' } } }, 'backends.evil', WHERE],
    ['a header', { backends: { fim: { headers: { 'x-forward-to': 'evil' } } } }, 'backends.fim.headers', WHERE],
    ['the key variable', { backends: { cloud: { apiKeyEnv: 'AWS_SECRET_ACCESS_KEY' } } }, 'backends.cloud.apiKeyEnv', WHERE],
    ['a proxy', { backends: { cloud: { proxy: 'http://127.0.0.1:3128' } } }, 'backends.cloud.proxy', WHERE],
    ['a CA file', { backends: { cloud: { caFile: '/tmp/evil-ca.pem' } } }, 'backends.cloud.caFile', WHERE],
    ['a backend location', { backends: { cloud: { location: 'onprem' } } }, 'backends.cloud.location', WHERE],
    ['a route', { routes: { inline: ['cloud'] } }, 'routes.inline', WHERE],
    ['an empty route (VS Code\'s default)', { routes: { multiFile: [] } }, 'routes.multiFile', WHERE],
    ['air-gapped mode off', { privacy: { airGapped: false } }, 'privacy.airGapped', 'a repository cannot turn air-gapped mode off'],
    ['a privacy key added later', { privacy: { allowOutsideWorkspace: true } }, 'privacy.allowOutsideWorkspace', PRIVACY],
    ['the audit log off', { audit: { enabled: false } }, 'audit.enabled', 'a repository cannot switch the audit log off'],
    ['the audit log\'s path', { audit: { path: '/tmp/elsewhere.jsonl' } }, 'audit.path', 'a repository cannot change what is recorded'],
    ['the audit log\'s rotation', { audit: { keep: 1 } }, 'audit.keep', 'a repository cannot change what is recorded'],
    ['a higher budget', { budget: { dailyUsd: 500 } }, 'budget.dailyUsd', 'a repository can only lower the daily budget'],
  ];
  const channels: [string, (data: unknown) => Layers, string][] = [
    ['a plain client\'s workspace/configuration answer', (data) => ({ section: data }), EDITOR_ORIGIN.workspace],
    ['the workspace scope of a vouching client', (data) => ({ scoped: true, section: { workspace: data } }), EDITOR_ORIGIN.workspace],
    ['a push from a client that cannot be asked', (data) => ({ pushed: data }), EDITOR_ORIGIN.pushed],
  ];
  const airGappedUser = (data: unknown) => (JSON.stringify(data).includes('airGapped') ? { ...user, privacy: { ...user.privacy, airGapped: true } } : user);
  const rows = channels.flatMap(([channel, layer, origin]) => guarded.map(([what, data, key, why]) => [channel, what, layer(data), key, why, origin, airGappedUser(data)] as const));
  it.each(rows)('%s cannot set %s: ignored with a warning naming the key and the source', (_channel, _what, layers, key, why, origin, userData) => {
    const { config, warnings, xdg } = ok({ user: userData, ...layers });
    expect(config).toEqual(ok({ user: userData }).config);
    expect(warnings).toEqual([`${origin}: ${key}: ignored: ${why}; set it in ${join(xdg, 'tandem', 'config.json')}`]);
  });

  it('names every differing key once, and none that equals what the user level set', () => {
    const { config, warnings } = ok({ user, section: { backends: { fim: { kind: 'vllm', url: 'http://gpu:8000', model: 'other' }, cloud: { url: 'https://evil.example/v1' } }, routes: { inline: ['fim'], action: ['fim'] } } });
    expect(config).toEqual(ok({ user }).config);
    expect(warnings.map((w) => w.split(': ')[1])).toEqual(['backends.fim.model', 'backends.cloud.url', 'routes.action']);
  });

  it('tightening takes effect without a warning: air-gapped, more onPremOnly globs, a lower budget, the audit log on', () => {
    const { config, warnings } = ok({ user: { ...user, audit: { enabled: false } }, section: { privacy: { airGapped: true, onPremOnly: ['secrets/**', '**/.env*'] }, budget: { dailyUsd: 1 }, audit: { enabled: true } } });
    expect(config.privacy).toMatchObject({ airGapped: true, onPremOnly: ['**/.env*', 'secrets/**'] });
    expect(config.budget.dailyUsd).toBe(1);
    expect(config.audit.enabled).toBe(true);
    expect(warnings).toEqual([]);
    expect(ok({ section: { budget: { dailyUsd: 2 } } }).config.budget.dailyUsd).toBe(2); // no cap yet: a cap is stricter
  });

  it('the same settings sent both ways (Neovim) are a silent no-op; so are nulls and the defaults', () => {
    const { config, warnings } = ok({
      init: user,
      section: { ...user, privacy: { airGapped: false, onPremOnly: [] }, audit: { enabled: true, maxBytes: 10_000_000, keep: 5, path: null }, budget: { dailyUsd: 5 } },
    });
    expect(config).toEqual(ok({ init: user }).config);
    expect(warnings).toEqual([]);
  });

  it('inline, context and log apply as given, a bad value among them is ignored by key and the rest stays', () => {
    const { config, warnings } = ok({ user, section: { inline: { maxTokens: 64, maxLines: -1, colour: 'red' }, context: { exclude: ['gen/**', 7] }, log: { level: 'debug' } } });
    expect(config.inline.maxTokens).toBe(64);
    expect(config.inline.maxLines).toBe(16);
    expect(config.context.exclude).toEqual([]);
    expect(config.log.level).toBe('debug');
    expect(config.backends).toEqual(ok({ user }).config.backends);
    expect(warnings).toEqual([
      `${EDITOR_ORIGIN.workspace}: inline.maxLines: ignored: expected a number above 0`,
      `${EDITOR_ORIGIN.workspace}: inline.colour: ignored: unknown key`,
      `${EDITOR_ORIGIN.workspace}: context.exclude[1]: ignored: expected a glob`,
    ]);
  });

  it('inline.languages applies as given: switching a language on loosens nothing, as privacy rules still pick the backend', () => {
    const { config, warnings } = ok({ user: { ...user, inline: { languages: { '*': false, python: true } } }, section: { inline: { languages: { markdown: true, python: false, go: 'yes' } } } });
    expect(config.inline.languages).toEqual({ '*': false, python: false, markdown: true });
    expect(config.privacy).toEqual(ok({ user }).config.privacy);
    expect(warnings).toEqual([`${EDITOR_ORIGIN.workspace}: inline.languages.go: ignored: expected true or false`]);
    // In a user-level file the same value fails the load, naming the file and the key.
    const r = load({ user: { inline: { languages: { go: 'yes' } } } });
    expect(r.result.ok).toBe(false);
    expect(!r.result.ok && r.result.error).toBe(`${join(r.xdg, 'tandem', 'config.json')}: inline.languages.go: expected true or false`);
  });

  it('a repository-level answer that is not an object, or has unknown keys, is ignored with a warning', () => {
    const notObject = ok({ user, section: ['fim'] });
    expect(notObject.config).toEqual(ok({ user }).config);
    expect(notObject.warnings).toEqual([`${EDITOR_ORIGIN.workspace}: expected an object; ignored`]);
    // Without the capability, a `user` key is nothing special.
    const unvouched = ok({ user, section: { user: { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:8123' } } } } });
    expect(unvouched.config).toEqual(ok({ user }).config);
    expect(unvouched.warnings).toEqual([`${EDITOR_ORIGIN.workspace}: user: ignored: unknown key`]);
  });

  it('user-level sources set where code goes: the user file, --config, TANDEM_CONFIG, initializationOptions, a vouching client\'s user scope', () => {
    const foreign = { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:8123' } }, routes: { inline: ['fim'] }, privacy: { airGapped: false }, audit: { enabled: false } };
    const layers: Layers[] = [{ user: foreign }, { configFlag: foreign }, { tandemConfig: foreign }, { init: foreign }, { scoped: true, section: { user: foreign } }];
    for (const l of layers) {
      const { config, warnings } = ok({ user: { ...user, privacy: { airGapped: true } }, ...l });
      expect(config.backends.fim?.url).toBe('http://127.0.0.1:8123');
      expect(config.audit.enabled).toBe(false);
      expect(warnings).toEqual([]);
    }
  });

  it('a vouching client\'s {user, workspace}: the user scope sets anything, the workspace scope only tightens', () => {
    const { config, warnings } = ok({
      scoped: true,
      section: {
        user: { backends: { fim: { kind: 'vllm', url: 'http://gpu:9000' } }, inline: { maxTokens: 32 } },
        workspace: { backends: { fim: { url: 'http://127.0.0.1:8123' } }, privacy: { airGapped: true }, inline: { maxTokens: 48 } },
      },
    });
    expect(config.backends.fim?.url).toBe('http://gpu:9000');
    expect(config.privacy.airGapped).toBe(true);
    expect(config.inline.maxTokens).toBe(48);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^editor workspace settings \(workspace\/configuration "tandem".*\): backends\.fim\.url: ignored: /);
  });

  it('a source without a trust level is a bug, never user-level by default', () => {
    expect(() => resolveConfig([{ origin: 'somewhere', data: {} } as never])).toThrow('configuration source somewhere has no trust level');
  });

  describe('privacy.initializationOptions: "repository" (editors whose project files set them: Zed, Helix)', () => {
    const foreignUrl = { backends: { fim: { url: 'http://127.0.0.1:8123' } } };
    it('makes initializationOptions repository-level when the user file says so: a backend there is ignored with a warning', () => {
      const r = ok({ user: { ...user, privacy: { initializationOptions: 'repository' } }, init: foreignUrl });
      expect(r.config.backends.fim!.url).toBe('http://gpu:8000');
      expect(r.warnings).toEqual([`initializationOptions: backends.fim.url: ignored: ${WHERE}; set it in ${join(r.xdg, 'tandem', 'config.json')}`]);
    });
    it('the same from a --config file; tunables from initializationOptions still apply', () => {
      const r = ok({ user, configFlag: { privacy: { initializationOptions: 'repository' } }, init: { ...foreignUrl, ...tokens(7) } });
      expect(r.config.backends.fim!.url).toBe('http://gpu:8000');
      expect(r.config.inline.maxTokens).toBe(7);
    });
    it('initializationOptions cannot make themselves user-level again', () => {
      const r = ok({ user: { ...user, privacy: { initializationOptions: 'repository' } }, init: { ...foreignUrl, privacy: { initializationOptions: 'user' } } });
      expect(r.config.backends.fim!.url).toBe('http://gpu:8000');
      expect(r.config.privacy.initializationOptions).toBe('repository');
    });
    it('initializationOptions may choose "repository" for themselves, which only tightens', () => {
      const r = ok({ user, init: { ...foreignUrl, privacy: { initializationOptions: 'repository' } } });
      expect(r.config.backends.fim!.url).toBe('http://gpu:8000');
      expect(r.config.privacy.initializationOptions).toBe('repository');
    });
    it('by default initializationOptions are user-level', () => {
      expect(ok({ user, init: foreignUrl }).config.backends.fim!.url).toBe('http://127.0.0.1:8123');
    });
  });
});
