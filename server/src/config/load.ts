// Configuration sources, their precedence and validation; errors name the source and the key path.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigSchema, TASK_CLASSES, type Backend, type Config, type TaskClass } from './schema.js';

/** One layer of settings and where it came from (a file path, or an editor channel). */
export interface ConfigSource {
  origin: string;
  data: unknown;
}

export interface WorkspaceSource {
  root: string;
  file: string;
  data: unknown;
}

export type ConfigResult =
  | { ok: true; config: Config; warnings: string[] }
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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Later wins per key; objects merge key by key, arrays and scalars replace. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

export function formatPath(path: PropertyKey[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s ? `.${String(p)}` : String(p);
  }
  return s;
}

function getAt(data: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
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

/** The origin of the last source that set the value at `path` (for naming the file at fault). */
function blame(sources: ConfigSource[], path: PropertyKey[]): string | undefined {
  // Longest prefix first, across all sources: a later file that only sets a sibling key
  // (backends.fim.model) must not take the blame for an earlier file's bad backends.fim.url.
  for (let n = path.length; n > 0; n--) {
    for (let i = sources.length - 1; i >= 0; i--) {
      const s = sources[i]!;
      if (getAt(s.data, path.slice(0, n)) !== undefined) return s.origin;
    }
  }
  return undefined;
}

/**
 * Builds the configuration from sources 1-4 (defaults, user file, --config/TANDEM_CONFIG, editor),
 * then applies each workspace's tandem.json, which may only tighten.
 */
export function resolveConfig(sources: ConfigSource[], workspaces: WorkspaceSource[] = []): ConfigResult {
  for (const s of sources) {
    if (s.data !== undefined && s.data !== null && !isPlainObject(s.data)) return { ok: false, error: `${s.origin}: expected a JSON object` };
  }
  let merged: unknown = {};
  for (const s of sources) merged = deepMerge(merged, s.data ?? undefined);

  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.code === 'unrecognized_keys' && issue.keys.length === 1 ? [...issue.path, issue.keys[0]!] : issue.path;
    // Several unknown keys at the top level have an empty path: blame the file holding the first one.
    const where = blame(sources, issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : path);
    const key = formatPath(path) || '(top level)';
    return { ok: false, error: `${where ? `${where}: ` : ''}${key}: ${issueText(issue)}` };
  }
  const raw = parsed.data;

  const backends: Record<string, Backend> = {};
  const rawBackends = raw.backends && Object.keys(raw.backends).length > 0 ? raw.backends : { local: { kind: 'vllm' as const, url: DEFAULT_BACKEND_URL } };
  for (const [name, b] of Object.entries(rawBackends)) {
    backends[name] = { ...b, name, location: b.location ?? (b.kind === 'openai' ? 'cloud' : 'onprem') };
  }

  // Without routes, every route is served by every backend, on-prem ones first.
  const byLocation = Object.values(backends).sort((a, b) => Number(a.location === 'cloud') - Number(b.location === 'cloud')).map((b) => b.name);
  const routes = {} as Record<TaskClass, string[]>;
  for (const task of TASK_CLASSES) {
    const list = raw.routes?.[task] ?? byLocation;
    for (let i = 0; i < list.length; i++) {
      if (!backends[list[i]!]) {
        const where = blame(sources, ['routes', task]);
        return { ok: false, error: `${where ? `${where}: ` : ''}routes.${task}[${i}]: unknown backend "${list[i]}" (defined: ${Object.keys(backends).join(', ')})` };
      }
    }
    routes[task] = [...list];
  }

  const config: Config = { backends, routes, privacy: { ...raw.privacy, onPremOnly: [...raw.privacy.onPremOnly] }, inline: { ...raw.inline }, context: structuredClone(raw.context), budget: { ...raw.budget }, audit: { ...raw.audit }, log: { ...raw.log } };
  const warnings: string[] = [];
  for (const ws of workspaces) applyWorkspace(config, ws, warnings);
  return { ok: true, config, warnings };
}

/**
 * A repository's own tandem.json may only make things stricter: add onPremOnly globs, set
 * airGapped, switch features off. Anything else is ignored with a warning, so a cloned
 * repository can never redirect your code to a server of its choosing.
 */
function applyWorkspace(config: Config, ws: WorkspaceSource, warnings: string[]): void {
  if (ws.data === undefined) return;
  if (!isPlainObject(ws.data)) {
    warnings.push(`${ws.file}: expected a JSON object; ignored`);
    return;
  }
  const ignored = (key: string, why: string) => warnings.push(`${ws.file}: ${key}: ignored: ${why}`);
  for (const [key, value] of Object.entries(ws.data)) {
    if (key === 'privacy' && isPlainObject(value)) {
      for (const [pk, pv] of Object.entries(value)) {
        if (pk === 'airGapped') {
          if (pv === true) config.privacy.airGapped = true;
          else if (pv !== false) ignored('privacy.airGapped', 'expected true or false');
          else if (config.privacy.airGapped) ignored('privacy.airGapped', 'a workspace cannot turn air-gapped mode off');
        } else if (pk === 'onPremOnly') {
          if (Array.isArray(pv) && pv.every((g) => typeof g === 'string')) {
            for (const g of pv as string[]) if (!config.privacy.onPremOnly.includes(g)) config.privacy.onPremOnly.push(g);
          } else ignored('privacy.onPremOnly', 'expected a list of globs');
        } else ignored(`privacy.${pk}`, 'unknown key');
      }
    } else if (key === 'inline' && isPlainObject(value)) {
      for (const [ik, iv] of Object.entries(value)) {
        if (ik === 'enabled' && iv === false) config.inline.enabled = false;
        else if (!(ik === 'enabled' && iv === true && config.inline.enabled)) ignored(`inline.${ik}`, 'a workspace may only switch features off');
      }
    } else if (key === 'context' && isPlainObject(value)) {
      for (const [ck, cv] of Object.entries(value)) {
        if (ck === 'enabled' && cv === false) config.context.enabled = false;
        else if (!(ck === 'enabled' && cv === true && config.context.enabled)) ignored(`context.${ck}`, 'a workspace may only switch features off');
      }
    } else {
      ignored(key, 'a workspace tandem.json may only tighten privacy or switch features off');
    }
  }
}

/** Environment-driven inputs of the CLI and the server, gathered in one place. */
export interface ConfigInputs {
  /** --config FILE (wins over TANDEM_CONFIG). */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** initializationOptions and the `tandem` section of workspace/configuration, in that order. */
  editor?: ConfigSource[];
  workspaceRoots?: string[];
}

/** Reads the files of sources 2, 3 and 5 and resolves the whole configuration. */
export function loadConfig(inputs: ConfigInputs): ConfigResult {
  const env = inputs.env ?? process.env;
  const sources: ConfigSource[] = [];
  const userPath = userConfigPath(env);
  const user = readJsonFile(userPath, false);
  if (!user.ok) return user;
  sources.push({ origin: userPath, data: user.data });
  const explicit = inputs.configFile ?? (env.TANDEM_CONFIG && env.TANDEM_CONFIG.length > 0 ? env.TANDEM_CONFIG : undefined);
  if (explicit) {
    const f = readJsonFile(explicit, true);
    if (!f.ok) return f;
    sources.push({ origin: explicit, data: f.data });
  }
  sources.push(...(inputs.editor ?? []));
  const workspaces: WorkspaceSource[] = [];
  for (const root of inputs.workspaceRoots ?? []) {
    const file = join(root, 'tandem.json');
    const f = readJsonFile(file, false);
    if (!f.ok) return f;
    workspaces.push({ root, file, data: f.data });
  }
  return resolveConfig(sources, workspaces);
}
