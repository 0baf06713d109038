// What the extension tells the server about the `tandem.*` settings, the user's own values kept
// apart from a repository's: plain functions over an `inspect`-like lookup, so
// test/clients/vscode.test.ts runs them (and feeds their answers to the real server) without VS Code.

/** The part of `WorkspaceConfiguration.inspect(key)` read here. */
export interface Inspected {
  /** User (or remote machine) settings.json: the user's own. */
  globalValue?: unknown;
  /** .vscode/settings.json of a single folder, or the *.code-workspace file: the repository's. */
  workspaceValue?: unknown;
  /** .vscode/settings.json of one folder in a multi-root workspace: the repository's. */
  workspaceFolderValue?: unknown;
}

export type Inspect = (key: string) => Inspected | undefined;

/**
 * The answer to `workspace/configuration` for section `tandem` from a client that declared
 * `experimental.tandem.scopedSettings`: `user` holds only values VS Code keeps at user level, and
 * the server takes where-code-goes keys from there alone; `workspace` may only tighten those.
 */
export interface ScopedSection {
  user: Record<string, unknown>;
  workspace: Record<string, unknown>;
}

/** Declares, in initialize, that this client answers the `tandem` section as a ScopedSection. */
export function declareScopedSettings(capabilities: { experimental?: unknown }): void {
  const experimental = (capabilities.experimental ??= {}) as Record<string, unknown>;
  const tandem = (experimental.tandem ??= {}) as Record<string, unknown>;
  tandem.scopedSettings = true;
}

/**
 * Declares, in initialize, that this client asks textDocument/copilotInlineEdit and shows next
 * edits itself (nextEdit.ts): the server then leaves them out of its inline completion items.
 */
export function declareNextEdits(capabilities: { experimental?: unknown }): void {
  const experimental = (capabilities.experimental ??= {}) as Record<string, unknown>;
  const tandem = (experimental.tandem ??= {}) as Record<string, unknown>;
  tandem.nextEdits = true;
}

/**
 * The user-level values only (initializationOptions, which the server takes as the launch
 * configuration). Keys the user left alone are not sent, so VS Code's contributed defaults never
 * override ~/.config/tandem/config.json.
 */
export function userSettings(keys: readonly string[], inspect: Inspect): Record<string, unknown> {
  return collect(keys, (key) => inspect(key)?.globalValue);
}

/** The `tandem` section as a ScopedSection: each explicitly set value under the level it was set at. */
export function scopedSection(keys: readonly string[], inspect: Inspect): ScopedSection {
  return {
    user: userSettings(keys, inspect),
    workspace: collect(keys, (key) => {
      const v = inspect(key);
      return v?.workspaceFolderValue ?? v?.workspaceValue;
    }),
  };
}

/** `tandem.inline.maxTokens` → `{inline: {maxTokens}}`, for each key whose value is set. */
function collect(keys: readonly string[], valueOf: (key: string) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = valueOf(key);
    if (value === undefined) continue;
    const path = key.split('.').slice(1); // drop "tandem"
    let node = out;
    for (const p of path.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = value;
  }
  return out;
}
