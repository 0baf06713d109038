// The trust boundary of configuration: how far each source is trusted and what it may change.
// User-level sources set anything; repository-level ones (a workspace's tandem.json, editor
// settings a cloned repository can carry) may only tighten where code goes and what is recorded.
import { isDeepStrictEqual } from 'node:util';
import { ConfigSchema, languageEnabled, type Config, type RawConfig } from './schema.js';
import { formatPath, isPlainObject, withoutNulls } from './tree.js';

/**
 * `user`: the built-in defaults, the user file, `--config`/`TANDEM_CONFIG`, `initializationOptions`
 * (whoever writes them also picks the command that starts the server) and the editor settings a
 * client vouches for as user-level. `repository`: every source a cloned repository can carry.
 */
export type Trust = 'user' | 'repository';

/** One layer of settings, where it came from (a file path, or an editor channel), and how far it is trusted. */
export interface ConfigSource {
  origin: string;
  data: unknown;
  trust: Trust;
}

/** A workspace's own tandem.json: repository-level, with stricter rules than the editor's layers. */
export interface WorkspaceSource {
  root: string;
  file: string;
  data: unknown;
  /** Why the file exists but could not be read or parsed (naming the file and the position): the workspace then fails closed. */
  unreadable?: string;
}

/** How warnings name the editor's channels. */
export const EDITOR_ORIGIN = {
  initializationOptions: 'initializationOptions',
  user: 'editor user settings (workspace/configuration "tandem", user)',
  workspace: 'editor workspace settings (workspace/configuration "tandem"; e.g. .vscode/settings.json, .dir-locals.el)',
  pushed: 'editor workspace settings (workspace/didChangeConfiguration settings.tandem; e.g. .vscode/settings.json, .dir-locals.el)',
} as const;

export interface EditorSettings {
  initializationOptions?: unknown;
  /** The client declared `capabilities.experimental.tandem.scopedSettings`: it keeps user and workspace settings apart. */
  scoped: boolean;
  /** The answer to `workspace/configuration` `{section: "tandem"}`. */
  pulled?: unknown;
  /** `settings.tandem` of the last `workspace/didChangeConfiguration`, from a client that cannot be asked. */
  pushed?: unknown;
}

/**
 * The editor's layers with their trust. A plain client answers `workspace/configuration` with
 * whatever a repository put there (eglot's .dir-locals.el, Zed, Helix), so its answer is
 * repository-level; only a client that keeps the scopes apart and says so gets `{user, workspace}`
 * read as two layers.
 */
export function editorSources(e: EditorSettings): ConfigSource[] {
  const out: ConfigSource[] = [];
  const add = (origin: string, data: unknown, trust: Trust) => {
    if (data !== undefined && data !== null) out.push({ origin, data, trust });
  };
  add(EDITOR_ORIGIN.initializationOptions, e.initializationOptions, 'user');
  if (e.scoped && isPlainObject(e.pulled)) {
    const { user, workspace, ...rest } = e.pulled;
    add(EDITOR_ORIGIN.user, user, 'user');
    add(EDITOR_ORIGIN.workspace, workspace, 'repository');
    // Keys beside the two scopes have no scope the client vouched for.
    if (Object.keys(rest).length > 0) add(EDITOR_ORIGIN.workspace, rest, 'repository');
  } else add(EDITOR_ORIGIN.workspace, e.pulled, 'repository');
  add(EDITOR_ORIGIN.pushed, e.pushed, 'repository');
  return out;
}

/**
 * `privacy.initializationOptions: "repository"` makes the editor's initializationOptions a
 * repository-level layer, for editors whose project files can set them (Zed, Helix). The choice
 * is read from the user's files only (the defaults say "user"); initializationOptions may also
 * pick "repository" for themselves, which only tightens.
 */
export function withInitializationTrust(files: readonly ConfigSource[], editor: readonly ConfigSource[]): ConfigSource[] {
  const said = (s: ConfigSource | undefined): unknown => (isPlainObject(s?.data) && isPlainObject(s.data.privacy) ? s.data.privacy.initializationOptions : undefined);
  let trust: unknown = 'user';
  for (const s of files) if (said(s) !== undefined) trust = said(s);
  const init = editor.find((s) => s.origin === EDITOR_ORIGIN.initializationOptions);
  if (trust !== 'repository' && said(init) !== 'repository') return [...editor];
  return editor.map((s) => (s === init ? { ...s, trust: 'repository' as const } : s));
}

/**
 * Top-level keys a repository-level editor layer applies as given: they tune a workspace and
 * never decide where code goes or what is recorded. Every other key, today's and any added later,
 * is guarded.
 */
const TUNABLE = new Set(['inline', 'context', 'log']);

/** A repository-level layer as the boundary reads it: an object without the nulls editors send for unset values. */
export function repositoryData(s: ConfigSource): Record<string, unknown> | undefined {
  return isPlainObject(s.data) ? (withoutNulls(s.data) as Record<string, unknown>) : undefined;
}

/** The keys of a repository-level editor layer that apply as given (validated with the rest in load.ts). */
export function tunablePart(data: Record<string, unknown>): Record<string, unknown> {
  return structuredClone(Object.fromEntries(Object.entries(data).filter(([k]) => TUNABLE.has(k))));
}

const WHERE_CODE_GOES = 'a repository can only tighten where code goes';

/** What a tightening rule may do, and how a refusal is reported for the source at hand. */
interface Judge {
  config: Config;
  /** The user level's values, defaults included: a repository value equal to one is a silent no-op. */
  base: RawConfig;
  /** The repository asks for something looser than the user set: ignored. */
  refuse(path: string, why: string): void;
  /** A tightening key with a value of the wrong shape. */
  malformed(path: string, why: string): void;
}

/** Paths at which `value` sets something other than `base`: a path per differing leaf, or per object `base` lacks. */
function differences(value: unknown, base: unknown, path: string[]): string[][] {
  if (isPlainObject(value) && isPlainObject(base)) return Object.entries(value).flatMap(([k, v]) => differences(v, base[k], [...path, k]));
  if (isPlainObject(value) && Object.keys(value).length === 0) return [];
  return isDeepStrictEqual(value, base) ? [] : [path];
}

function unlessSame(j: Judge, path: string[], value: unknown, base: unknown, why: string): void {
  for (const p of differences(value, base, path)) j.refuse(formatPath(p), why);
}

function eachKey(j: Judge, key: string, value: unknown, fn: (k: string, v: unknown, path: string) => void): void {
  if (!isPlainObject(value)) return j.malformed(key, 'expected an object');
  for (const [k, v] of Object.entries(value)) fn(k, v, `${key}.${k}`);
}

/** A boolean whose strict value is true: a repository may set it, never clear it once set. */
function onlyOn<K extends string>(j: Judge, path: string, v: unknown, target: Record<K, boolean>, key: K, why: string): void {
  if (typeof v !== 'boolean') j.malformed(path, 'expected true or false');
  else if (v) target[key] = true;
  else if (target[key]) j.refuse(path, why);
}

/** The guarded keys that have a stricter direction, and how a repository may move them that way. */
const TIGHTENING: Record<string, (j: Judge, value: unknown) => void> = {
  privacy: (j, value) =>
    eachKey(j, 'privacy', value, (k, v, path) => {
      if (k === 'airGapped') onlyOn(j, path, v, j.config.privacy, 'airGapped', 'a repository cannot turn air-gapped mode off');
      else if (k === 'onPremOnly') {
        if (!Array.isArray(v) || !v.every((g) => typeof g === 'string')) j.malformed(path, 'expected a list of globs');
        else for (const g of v as string[]) if (!j.config.privacy.onPremOnly.includes(g)) j.config.privacy.onPremOnly.push(g);
      } else if (k === 'initializationOptions' && v === 'repository') j.config.privacy.initializationOptions = 'repository';
      else unlessSame(j, ['privacy', k], v, (j.base.privacy as Record<string, unknown>)[k], 'a repository can only tighten privacy (privacy.airGapped: true, more privacy.onPremOnly globs)');
    }),
  audit: (j, value) =>
    eachKey(j, 'audit', value, (k, v, path) => {
      if (k === 'enabled') onlyOn(j, path, v, j.config.audit, 'enabled', 'a repository cannot switch the audit log off');
      else unlessSame(j, ['audit', k], v, (j.base.audit as Record<string, unknown>)[k], 'a repository cannot change what is recorded');
    }),
  budget: (j, value) =>
    eachKey(j, 'budget', value, (k, v, path) => {
      const cap = j.config.budget.dailyUsd;
      if (k === 'dailyUsd') {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) j.malformed(path, 'expected a number of US dollars');
        else if (cap === undefined || v < cap) j.config.budget.dailyUsd = v;
        else if (v > cap) j.refuse(path, 'a repository can only lower the daily budget');
      } else unlessSame(j, ['budget', k], v, (j.base.budget as Record<string, unknown>)[k], 'a repository can only lower the daily budget');
    }),
};

/**
 * The guarded keys of a repository-level editor layer: tightenings take effect, a value the user
 * level already has is a silent no-op (Neovim sends the same settings both ways), anything else
 * is ignored with a warning that names the key, the source and where to set it instead.
 */
export function applyRepositoryLayer(config: Config, base: RawConfig, origin: string, data: Record<string, unknown>, warnings: string[], userPath: string): void {
  const j: Judge = {
    config,
    base,
    refuse: (path, why) => warnings.push(`${origin}: ${path}: ignored: ${why}; set it in ${userPath}`),
    malformed: (path, why) => warnings.push(`${origin}: ${path}: ignored: ${why}`),
  };
  for (const [key, value] of Object.entries(data)) {
    if (TUNABLE.has(key)) continue;
    if (!(key in ConfigSchema.shape)) warnings.push(`${origin}: ${key}: ignored: unknown key`);
    else if (TIGHTENING[key]) TIGHTENING[key](j, value);
    else unlessSame(j, [key], value, (base as Record<string, unknown>)[key], WHERE_CODE_GOES);
  }
}

/**
 * A workspace's `inline.languages`: a language switched off applies (to every workspace, as all
 * of tandem.json's tightening does); one switched on is a silent no-op where it is on already,
 * and ignored with a warning where the user switched it off.
 */
function languagesOff(config: Config, value: unknown, ignored: (key: string, why: string) => void): void {
  if (!isPlainObject(value)) return ignored('inline.languages', 'expected an object of language ids to true or false');
  for (const [id, on] of Object.entries(value)) {
    const path = formatPath(['inline', 'languages', id]);
    if (on === false) config.inline.languages = { ...config.inline.languages, [id]: false };
    else if (on !== true) ignored(path, 'expected true or false');
    else if (!languageEnabled(config.inline.languages, id)) ignored(path, 'a workspace may only switch features off');
  }
}

/**
 * A repository's own tandem.json may only make things stricter: add onPremOnly globs, set
 * airGapped, switch features off. Anything else is ignored with a warning. A file that cannot be
 * read, or whose privacy keys cannot be understood, makes the workspace as strict as it could have
 * asked: air-gapped (for every workspace, as tandem.json's tightening always applies globally).
 */
export function applyWorkspaceFile(config: Config, base: RawConfig, ws: WorkspaceSource, warnings: string[], userPath: string): void {
  const airGap = (why: string) => {
    config.privacy.airGapped = true;
    warnings.push(`${why}; air-gapped until the file is fixed`);
  };
  if (ws.unreadable !== undefined) return airGap(ws.unreadable);
  if (ws.data === undefined) return;
  if (!isPlainObject(ws.data)) return airGap(`${ws.file}: expected a JSON object`);
  const j: Judge = {
    config,
    base,
    refuse: (path, why) => warnings.push(`${ws.file}: ${path}: ignored: ${why}; set it in ${userPath}`),
    malformed: (path, why) => airGap(`${ws.file}: ${path}: ${why}`),
  };
  const ignored = (key: string, why: string) => warnings.push(`${ws.file}: ${key}: ignored: ${why}`);
  for (const [key, value] of Object.entries(ws.data)) {
    if (key === 'privacy') TIGHTENING.privacy!(j, value);
    else if ((key === 'inline' || key === 'context') && isPlainObject(value)) {
      const feature = config[key];
      for (const [k, v] of Object.entries(value)) {
        if (key === 'inline' && k === 'languages') languagesOff(config, v, ignored);
        else if (k === 'enabled' && v === false) feature.enabled = false;
        else if (key === 'inline' && k === 'nextEdits' && v === false) config.inline.nextEdits = false;
        else if (!(k === 'enabled' && v === true && feature.enabled)) ignored(`${key}.${k}`, 'a workspace may only switch features off');
      }
    } else ignored(key, 'a workspace tandem.json may only tighten privacy or switch features off');
  }
}
