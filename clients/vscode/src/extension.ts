// tandem for VS Code: starts the bundled tandem-lsp over stdio, shows its status, forwards commands.
// Ghost text comes from vscode-languageclient's LSP 3.18 inline completion; no prompt logic here.
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  type StaticFeature,
} from 'vscode-languageclient/node';
import { compareArgs, editArgs, explainArgs, isCommandOnly, markdownOf, snoozeArgs, snoozeChoices, statsMarkdown, statusBarText, type Status, type Target } from './commands.js';
import { declareScopedSettings, scopedSection, userSettings, type Inspect } from './configuration.js';

let client: LanguageClient | undefined;
let status: Status | undefined;
/** The contributed setting names (tandem.inline.maxTokens, …), read from package.json. */
let settingKeys: string[] = [];

/** VS Code's own record of where each `tandem.*` value was set (user, workspace, folder). */
function inspectAt(scope?: vscode.Uri): Inspect {
  const config = vscode.workspace.getConfiguration(undefined, scope);
  return (key) => config.inspect(key);
}

/**
 * Tells the server, in initialize, that the `tandem` section it pulls comes as {user, workspace}:
 * VS Code keeps the two apart, so the server may take where code goes from `user` alone.
 */
const scopedSettingsFeature: StaticFeature = {
  fillClientCapabilities: (capabilities) => declareScopedSettings(capabilities),
  initialize: () => undefined,
  getState: () => ({ kind: 'static' }),
  clear: () => undefined,
};

function renderStatus(item: vscode.StatusBarItem): void {
  if (!status) {
    item.text = '$(sparkle) tandem';
    item.tooltip = 'tandem: running (no status from the server yet)';
    item.backgroundColor = undefined;
    return;
  }
  item.text = statusBarText(status);
  item.tooltip = statusMarkdown();
  item.backgroundColor =
    status.state === 'offline' ? new vscode.ThemeColor('statusBarItem.errorBackground')
    : status.state === 'degraded' ? new vscode.ThemeColor('statusBarItem.warningBackground')
    : undefined;
}

function statusMarkdown(): string {
  if (!status) return '# tandem\n\nNo status from the server yet.\n';
  const rows = status.backends.map((b) => `| ${b.name} | ${b.healthy ? 'healthy' : 'unhealthy'} | ${typeof b.latencyMs === 'number' ? `${Math.round(b.latencyMs)} ms` : '-'} |`);
  return [`# tandem: ${status.state}`, '', status.message, '', '| backend | health | latency |', '|---|---|---|', ...rows, ''].join('\n');
}

async function showMarkdown(markdown: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: markdown });
  await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
}

/** Runs one of the server's commands (workspace/executeCommand) with a progress notification. */
async function serverCommand<T>(title: string, command: string, args: unknown[]): Promise<T | undefined> {
  if (!client) return undefined;
  const c = client;
  try {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_progress, token) =>
      c.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token) as Promise<T>,
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`tandem: ${command} failed: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** The selection, or the cursor's line when nothing is selected, as a protocol location. */
function target(): Target | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !client) return undefined;
  const sel = editor.selection;
  const range = sel.isEmpty ? editor.document.lineAt(sel.active.line).range : sel;
  return { uri: editor.document.uri.toString(), range: client.code2ProtocolConverter.asRange(range) };
}

/** tandem.explain for `t`, its answer beside the editor. */
async function explain(t: Target): Promise<void> {
  const md = markdownOf(await serverCommand('tandem: explaining…', 'tandem.explain', explainArgs(t)));
  if (md !== undefined) await showMarkdown(md);
}

async function editWithInstruction(scope: 'file' | 'workspace'): Promise<void> {
  const t = target();
  if (!t) return;
  const instruction = await vscode.window.showInputBox({
    prompt: scope === 'workspace' ? 'tandem: how should the code change? (other files may change too)' : 'tandem: how should the selection change?',
    placeHolder: 'e.g. add error handling',
  });
  if (!instruction) return;
  // The server applies the edit itself (workspace/applyEdit), guarded by document versions.
  const r = await serverCommand<{ applied?: boolean; failureReason?: string }>('tandem: editing…', 'tandem.edit', editArgs(t, instruction, scope));
  if (r && r.applied === false) void vscode.window.showWarningMessage(`tandem: the edit was not applied${r.failureReason ? `: ${r.failureReason}` : ''}`);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  settingKeys = Object.keys(context.extension.packageJSON.contributes?.configuration?.properties ?? {});
  // VS Code's own Node runs the bundled server. A plain command (not a Node module) keeps
  // vscode-languageclient from appending --clientProcessId, which tandem-lsp rejects.
  const serverOptions: ServerOptions = {
    command: process.execPath,
    // The young generation's cap and malloc arenas the bin's shebang sets (see server/bin/tandem-lsp.js).
    args: ['--max-semi-space-size=4', context.asAbsolutePath('server/bin/tandem-lsp.js'), '--stdio'],
    options: { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', MALLOC_ARENA_MAX: '2' } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    // The launch configuration: user-level values only (the server trusts them as the user's).
    initializationOptions: userSettings(settingKeys, inspectAt()),
    outputChannelName: 'tandem',
    middleware: {
      // The Explain code action carries only a command: VS Code would still ask the server to
      // resolve it; keep it as it is.
      resolveCodeAction: (item, token, next) => (isCommandOnly(item, 'tandem.explain') ? item : next(item, token)),
      // Explain chosen from the light bulb shows its answer beside the editor, like the Explain
      // command (open: false, so the server does not open it a second time).
      executeCommand: async (command, args, next) => {
        const t = args[0] as Target | undefined;
        if (command === 'tandem.explain' && t && typeof t.uri === 'string') return explain(t);
        return next(command, args);
      },
      workspace: {
        // The server pulls section `tandem`: the explicitly set values, user-level and
        // repository-level apart (defaults left out, so they never override the user's config file).
        configuration: async (params, token, next) => {
          const answers = await next(params, token);
          if (!Array.isArray(answers)) return answers;
          return params.items.map((item, i) => (item.section === 'tandem' ? scopedSection(settingKeys, inspectAt(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)) : answers[i]));
        },
        // The library would push the whole effective section (defaults and workspace values
        // merged in); the listener below sends `settings: null` instead, and the server pulls.
        didChangeConfiguration: async () => undefined,
      },
    },
  };
  client = new LanguageClient('tandem', 'tandem', serverOptions, clientOptions);
  client.registerFeature(scopedSettingsFeature);

  const item = vscode.window.createStatusBarItem('tandem.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'tandem';
  item.command = 'tandem.showStatus';
  renderStatus(item);
  item.show();
  context.subscriptions.push(item);
  context.subscriptions.push(
    client.onNotification('tandem/status', (s: Status) => {
      status = s;
      renderStatus(item);
    }),
  );

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      // settings: null makes the server pull the section again, through the middleware above.
      if (e.affectsConfiguration('tandem') && client?.isRunning()) void client.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
    }),
    vscode.commands.registerCommand('tandem.explainSelection', async () => {
      const t = target();
      if (t) await explain(t);
    }),
    vscode.commands.registerCommand('tandem.editSelection', () => editWithInstruction('file')),
    vscode.commands.registerCommand('tandem.editWorkspace', () => editWithInstruction('workspace')),
    vscode.commands.registerCommand('tandem.compareBackends', async () => {
      const t = target();
      if (!t) return;
      const instruction = await vscode.window.showInputBox({ prompt: 'tandem: an instruction to compare proposed edits, or empty to compare explanations', placeHolder: 'e.g. add error handling (optional)' });
      if (instruction === undefined) return; // Escape
      const md = markdownOf(await serverCommand('tandem: comparing backends…', 'tandem.compare', compareArgs(t, instruction)));
      if (md !== undefined) await showMarkdown(md);
    }),
    vscode.commands.registerCommand('tandem.showStats', async () => {
      const result = await serverCommand('tandem: stats', 'tandem.stats', []);
      if (result !== undefined) await showMarkdown(statsMarkdown(result));
    }),
    vscode.commands.registerCommand('tandem.showStatus', () => showMarkdown(statusMarkdown())),
    // The server keeps the snooze and says until when in tandem/status (the status bar shows it).
    vscode.commands.registerCommand('tandem.snoozeInline', async () => {
      const pick = await vscode.window.showQuickPick(snoozeChoices(status?.snoozedUntil), { placeHolder: 'tandem: no inline completions for…' });
      if (pick) await serverCommand('tandem: snoozing…', 'tandem.snooze', snoozeArgs(pick.minutes));
    }),
    vscode.commands.registerCommand('tandem.restartServer', () => client?.restart()),
  );

  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
