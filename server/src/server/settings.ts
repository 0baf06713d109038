// The configuration in force for a running server: reloads on every source change, keeps the last good one.
import { resolveConfig, loadConfig, type ConfigSource } from '../config/load.js';
import type { Config } from '../config/schema.js';

export type ReloadResult = { ok: true; warnings: string[] } | { ok: false; error: string };

export class Settings {
  private current: Config;
  private initOptions: unknown;
  private editorSection: unknown;
  private readonly listeners: ((c: Config) => void)[] = [];

  constructor(
    private readonly inputs: { configFile?: string; env: NodeJS.ProcessEnv; roots: () => string[] },
  ) {
    // Built-in defaults until the first load succeeds: a server with a bad config still serves.
    const defaults = resolveConfig([]);
    if (!defaults.ok) throw new Error(`built-in defaults are invalid: ${defaults.error}`);
    this.current = defaults.config;
  }

  get config(): Config {
    return this.current;
  }

  onChange(fn: (c: Config) => void): void {
    this.listeners.push(fn);
  }

  setInitializationOptions(options: unknown): void {
    this.initOptions = unwrapSection(options);
  }

  setEditorSection(section: unknown): void {
    this.editorSection = section;
  }

  /** Re-reads every source; on failure the previous configuration stays in force. */
  reload(): ReloadResult {
    const editor: ConfigSource[] = [];
    if (this.initOptions !== undefined) editor.push({ origin: 'initializationOptions', data: this.initOptions });
    if (this.editorSection !== undefined && this.editorSection !== null) editor.push({ origin: 'editor settings (tandem)', data: this.editorSection });
    const r = loadConfig({ configFile: this.inputs.configFile, env: this.inputs.env, editor, workspaceRoots: this.inputs.roots() });
    if (!r.ok) return r;
    this.current = r.config;
    for (const fn of this.listeners) fn(r.config);
    return { ok: true, warnings: r.warnings };
  }
}

/** Editors send either the tandem object itself or `{tandem: {...}}`. */
export function unwrapSection(v: unknown): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v) && 'tandem' in v) return (v as { tandem: unknown }).tandem;
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return undefined;
  return v;
}
