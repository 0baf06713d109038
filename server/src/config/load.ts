// Configuration sources, their precedence and validation; errors name the source and the key path.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigSchema, TASK_CLASSES, type Backend, type Config, type RawConfig, type TaskClass } from './schema.js';
import { nearest } from '../util/nearest.js';
import { deepMerge, deleteAt, formatPath, getAt, isPlainObject } from './tree.js';
import { applyRepositoryLayer, applyWorkspaceFile, repositoryData, tunablePart, withInitializationTrust, type ConfigSource, type WorkspaceSource } from './trust.js';

export type { ConfigSource, Trust, WorkspaceSource } from './trust.js';

export type ConfigResult =
  | {
      ok: true;
      config: Config;
      warnings: string[];
      /** The source that set the value at `path` (a file, the editor's layer), or undefined for a built-in default: what an error about that value names. */
      origin?: (path: readonly PropertyKey[]) => string | undefined;
    }
  | { ok: false; error: string };

export const DEFAULT_BACKEND_URL = 'http://localhost:8000';

/** `$XDG_CONFIG_HOME/tandem/config.json`, else `~/.config/tandem/config.json`. */
export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.length > 0 ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'tandem', 'config.json');
}

/**
 * Reads a JSON file. Missing optional files give undefined; a missing required file or bad JSON
 * is an error that names the file (and the position for syntax errors).
 */
export function readJsonFile(path: string, required: boolean): { ok: true; data: unknown } | { ok: false; error: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return { ok: true, data: undefined };
    return { ok: false, error: `${path}: cannot read the file (${code ?? String(err)})` };
  }
  // Editors on Windows may save a byte-order mark, which JSON.parse rejects.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return { ok: true, data: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `${path}: invalid JSON: ${jsonErrorPosition(text, err)}` };
  }
}

function jsonErrorPosition(text: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // V8 gives the position for some errors only ("Unexpected token 'x', "<the file>" is not valid
  // JSON" has none, and echoes the file, headers included): find it ourselves then.
  const m = /position (\d+)/.exec(msg);
  const pos = m ? Number(m[1]) : jsonErrorOffset(text);
  const reason = msg.replace(/(?: in JSON)? at position \d+.*$/s, '').replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '');
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `${reason} at line ${line}, column ${col}`;
}

/** Offset of the first character at which `text` stops being valid JSON (its length when the text ends early). */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (ch: string) => {
    if (text[i] !== ch) fail();
    i++;
  };
  const digits = () => {
    const s = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
    if (i === s) fail();
  };
  const str = () => {
    expect('"');
    for (;;) {
      if (i >= text.length || text.charCodeAt(i) < 0x20) fail();
      const c = text[i++];
      if (c === '"') return;
      if (c !== '\\') continue;
      const e = text[i];
      if (e === 'u') {
        i++;
        for (let k = 0; k < 4; k++) {
          if (!/[0-9a-fA-F]/.test(text[i] ?? '')) fail();
          i++;
        }
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
      else fail();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          str();
          ws();
          expect(':');
        }
        value();
        ws();
        if (text[i] === ',') i++;
        else return expect(close);
      }
    }
    if (c === '"') return str();
    if (c === 't' || c === 'f' || c === 'n') {
      for (const ch of c === 't' ? 'true' : c === 'f' ? 'false' : 'null') expect(ch);
      return;
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      if (text[i] === '-') i++;
      if (text[i] === '0') i++;
      else digits();
      if (text[i] === '.') {
        i++;
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        digits();
      }
      return;
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (at) {
    if (typeof at === 'number') return Math.min(at, text.length);
    throw at;
  }
  return text.length;
}

function issueText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.length === 1 ? 'unknown key' : `unknown keys: ${issue.keys.join(', ')}`;
    case 'invalid_type':
      return issue.message.startsWith('Invalid input') ? `expected ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}` : issue.message;
    case 'invalid_union':
      return issue.message === 'Invalid input' ? 'invalid value' : issue.message;
    default:
      return issue.message;
  }
}

/** The schema's keys of the object at `path` (records and lists looked through), for "did you mean". */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  type Def = { type: string; shape?: Record<string, unknown>; innerType?: unknown; in?: unknown; valueType?: unknown; element?: unknown; options?: unknown[] };
  const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } })?._zod?.def;
  const unwrap = (s: unknown): unknown => {
    for (let i = 0; i < 10; i++) {
      const d = defOf(s);
      if (!d) return s;
      if (d.innerType) s = d.innerType;
      else if (d.type === 'pipe' && d.in) s = d.in;
      else if (d.type === 'union' && d.options) s = d.options.find((o) => defOf(unwrap(o))?.type === 'object') ?? s;
      else return s;
      if (defOf(s)?.type === 'object') return s;
    }
    return s;
  };
  let s = unwrap(ConfigSchema);
  for (const k of path) {
    const d = defOf(s);
    if (!d) return [];
    if (d.type === 'object' && typeof k === 'string' && d.shape) s = unwrap(d.shape[k]);
    else if (d.type === 'record') s = unwrap(d.valueType);
    else if (d.type === 'array') s = unwrap(d.element);
    else return [];
  }
  const d = defOf(s);
  return d?.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}

/** ` (did you mean `debounceMs`?)` for an unknown key near a known one, else ''. */
function didYouMean(path: readonly PropertyKey[], key: string): string {
  const near = nearest(key, knownKeysAt(path), 1);
  return near.length > 0 ? `; did you mean \`${near[0]}\`?` : '';
}

/** The last source that set a value at the longest prefix of `path`, and that prefix (for naming the file at fault). */
function owner<S extends { data: unknown }>(sources: S[], path: readonly PropertyKey[]): { source: S; path: PropertyKey[] } | undefined {
  // Longest prefix first, across all sources: a later file that only sets a sibling key
  // (backends.fim.model) must not take the blame for an earlier file's bad backends.fim.url.
  for (let n = path.length; n > 0; n--) {
    for (let i = sources.length - 1; i >= 0; i--) {
      const s = sources[i]!;
      if (getAt(s.data, path.slice(0, n)) !== undefined) return { source: s, path: path.slice(0, n) };
    }
  }
  return undefined;
}

function blame(sources: ConfigSource[], path: PropertyKey[]): string | undefined {
  return owner(sources, path)?.source.origin;
}

/**
 * Builds the configuration: the user-level sources (defaults, user file, --config/TANDEM_CONFIG,
 * initializationOptions, vouched editor user settings) merged and validated, then what the
 * repository-level ones may add through the trust boundary (config/trust.ts): editor settings a
 * repository can carry, then each workspace's tandem.json.
 */
export function resolveConfig(sources: ConfigSource[], workspaces: WorkspaceSource[] = [], userPath: string = userConfigPath()): ConfigResult {
  for (const s of sources) {
    // Every source says how far it is trusted; one that does not is a bug, never a user-level source by default.
    if (s.trust !== 'user' && s.trust !== 'repository') throw new Error(`configuration source ${s.origin} has no trust level`);
  }
  const user = sources.filter((s) => s.trust === 'user');
  for (const s of user) {
    if (s.data !== undefined && s.data !== null && !isPlainObject(s.data)) return { ok: false, error: `${s.origin}: expected a JSON object` };
  }
  let merged: unknown = {};
  for (const s of user) merged = deepMerge(merged, s.data ?? undefined);

  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.code === 'unrecognized_keys' && issue.keys.length === 1 ? [...issue.path, issue.keys[0]!] : issue.path;
    // Several unknown keys at the top level have an empty path: blame the file holding the first one.
    const where = blame(user, issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : path);
    const key = formatPath(path) || '(top level)';
    return { ok: false, error: `${where ? `${where}: ` : ''}${key}: ${issueText(issue)}${issue.code === 'unrecognized_keys' ? didYouMean(issue.path, issue.keys[0]!) : ''}` };
  }
  const base = parsed.data;
  const warnings: string[] = [];
  const repository: { origin: string; data: Record<string, unknown> }[] = [];
  for (const s of sources) {
    if (s.trust !== 'repository' || s.data === undefined || s.data === null) continue;
    const data = repositoryData(s);
    if (data) repository.push({ origin: s.origin, data });
    else warnings.push(`${s.origin}: expected an object; ignored`);
  }
  const raw = withTunables(merged, base, repository, warnings);

  const backends: Record<string, Backend> = {};
  const rawBackends = raw.backends && Object.keys(raw.backends).length > 0 ? raw.backends : { local: { kind: 'vllm' as const, url: DEFAULT_BACKEND_URL } };
  for (const [name, b] of Object.entries(rawBackends)) {
    backends[name] = { ...b, name, location: b.location ?? (b.kind === 'openai' ? 'cloud' : 'onprem') };
  }

  // Without routes, every route is served by every backend, on-prem ones first.
  const byLocation = Object.values(backends).sort((a, b) => Number(a.location === 'cloud') - Number(b.location === 'cloud')).map((b) => b.name);
  const routes = {} as Record<TaskClass, string[]>;
  for (const task of TASK_CLASSES) {
    // Chat defaults to the action route's list (on-prem first, like actions).
    // Next edits default to the inline route's on-prem backends.
    const list = raw.routes?.[task] ?? (task === 'chat' ? (raw.routes?.action ?? byLocation) : task === 'nextEdit' ? (raw.routes?.inline ?? byLocation).filter((n) => backends[n]?.location === 'onprem') : byLocation);
    for (let i = 0; i < list.length; i++) {
      if (!backends[list[i]!]) {
        const where = blame(user, ['routes', task]);
        return { ok: false, error: `${where ? `${where}: ` : ''}routes.${task}[${i}]: unknown backend "${list[i]}" (defined: ${Object.keys(backends).join(', ')})` };
      }
    }
    routes[task] = [...list];
  }

  const config: Config = { backends, routes, privacy: { ...raw.privacy, onPremOnly: [...raw.privacy.onPremOnly] }, inline: { ...raw.inline }, context: structuredClone(raw.context), budget: { ...raw.budget }, audit: { ...raw.audit }, log: { ...raw.log } };
  for (const layer of repository) applyRepositoryLayer(config, base, layer.origin, layer.data, warnings, userPath);
  for (const ws of workspaces) applyWorkspaceFile(config, base, ws, warnings, userPath);
  return { ok: true, config, warnings, origin: (path) => owner(user, [...path])?.source.origin };
}

/**
 * The user level with the keys repository-level editor layers may set as they like (inline,
 * context, log) on top. A bad value there is dropped with a warning naming it and its source;
 * the user's configuration never fails because of it.
 */
function withTunables(userMerged: unknown, base: RawConfig, layers: { origin: string; data: Record<string, unknown> }[], warnings: string[]): RawConfig {
  const tunables = layers.map((l) => ({ origin: l.origin, data: tunablePart(l.data) }));
  for (;;) {
    let merged = userMerged;
    for (const t of tunables) merged = deepMerge(merged, t.data);
    const parsed = ConfigSchema.safeParse(merged);
    if (parsed.success) return parsed.data;
    let dropped = 0;
    for (const issue of parsed.error.issues) {
      const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
      for (const path of paths) {
        const at = owner(tunables, path);
        if (!at) continue;
        // A bad item drops its whole list: a list with a hole would mean something else.
        while (at.path.length > 1 && typeof at.path[at.path.length - 1] === 'number') at.path.pop();
        deleteAt(at.source.data, at.path);
        if (getAt(at.source.data, at.path) !== undefined) continue;
        warnings.push(`${at.source.origin}: ${formatPath(path)}: ignored: ${issue.code === 'unrecognized_keys' ? `unknown key${didYouMean(path.slice(0, -1), String(path[path.length - 1]))}` : issueText(issue)}`);
        dropped++;
      }
    }
    if (dropped === 0) {
      // Not attributable to one key: the user level alone is valid, so it stands alone.
      for (const t of tunables) if (Object.keys(t.data).length > 0) warnings.push(`${t.origin}: ignored: ${issueText(parsed.error.issues[0]!)}`);
      return base;
    }
  }
}

/** Environment-driven inputs of the CLI and the server, gathered in one place. */
export interface ConfigInputs {
  /** --config FILE (wins over TANDEM_CONFIG). */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** The editor's layers, each with its trust (config/trust.ts editorSources). */
  editor?: ConfigSource[];
  workspaceRoots?: string[];
}

/** Reads the user's files and each workspace's tandem.json, and resolves the whole configuration. */
export function loadConfig(inputs: ConfigInputs): ConfigResult {
  const env = inputs.env ?? process.env;
  const sources: ConfigSource[] = [];
  const userPath = userConfigPath(env);
  const user = readJsonFile(userPath, false);
  if (!user.ok) return user;
  sources.push({ origin: userPath, data: user.data, trust: 'user' });
  const explicit = inputs.configFile ?? (env.TANDEM_CONFIG && env.TANDEM_CONFIG.length > 0 ? env.TANDEM_CONFIG : undefined);
  if (explicit) {
    const f = readJsonFile(explicit, true);
    if (!f.ok) return f;
    sources.push({ origin: explicit, data: f.data, trust: 'user' });
  }
  // Whether initializationOptions count as the user's is the user's files' decision (trust.ts).
  sources.push(...withInitializationTrust(sources, inputs.editor ?? []));
  const workspaces: WorkspaceSource[] = [];
  for (const root of inputs.workspaceRoots ?? []) {
    const file = join(root, 'tandem.json');
    const f = readJsonFile(file, false);
    // A tightening file that cannot be read fails closed (trust.ts), never the user's whole configuration.
    workspaces.push(f.ok ? { root, file, data: f.data } : { root, file, data: undefined, unreadable: f.error });
  }
  return resolveConfig(sources, workspaces, userPath);
}
