// The configuration in force for a running server: reloads on every source change, keeps the last good one.
import { resolveConfig, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { editorSources, type EditorSettings } from '../config/trust.js';

export type ReloadResult = { ok: true; warnings: string[] } | { ok: false; error: string };

export class Settings {
  private current: Config;
  private readonly editor: EditorSettings = { scoped: false };
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

  /** `scoped`: the client declared `experimental.tandem.scopedSettings` (config/trust.ts editorSources). */
  setInitializationOptions(options: unknown, scoped: boolean): void {
    this.editor.initializationOptions = unwrapSection(options);
    this.editor.scoped = scoped;
  }

  /** The answer to `workspace/configuration` `{section: "tandem"}`. */
  setPulledSection(section: unknown): void {
    this.editor.pulled = section;
  }

  /** `settings.tandem` of a `workspace/didChangeConfiguration` from a client that cannot be asked: replaces the previous push only. */
  setPushedSection(section: unknown): void {
    this.editor.pushed = section;
  }

  /** Re-reads every source; on failure the previous configuration stays in force. */
  reload(): ReloadResult {
    const r = loadConfig({ configFile: this.inputs.configFile, env: this.inputs.env, editor: editorSources(this.editor), workspaceRoots: this.inputs.roots() });
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
