// tandem for VS Code: starts the bundled tandem-lsp over stdio, shows its status, forwards commands,
// and offers tandem's chat models to VS Code's chat (chat.ts).
// Ghost text comes from vscode-languageclient's LSP 3.18 inline completion, next edits from
// nextEdit.ts; no prompt logic here.
import { createInterface } from 'node:readline';
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
import { declareNextEdits, declareScopedSettings, scopedSection, userSettings, type Inspect } from './configuration.js';
import { registerNextEdits } from './nextEdit.js';
import { registerChatProvider } from './chat.js';
import { isServerLogLine, StderrReader } from './serverLog.js';

let client: LanguageClient | undefined;
let status: Status | undefined;
/** The contributed setting names (tandem.inline.maxTokens, …), read from package.json. */
let settingKeys: string[] = [];

/**
 * The channel as vscode-languageclient writes to it: the server's log lines, which the library
 * shows as they come through window/logMessage, are left out (stderr has each of them, see
 * serverLog.ts); the library's own messages go through.
 */
function withoutServerLog(channel: vscode.LogOutputChannel): vscode.LogOutputChannel {
  const levels = new Set<PropertyKey>(['trace', 'debug', 'info', 'warn', 'error']);
  return new Proxy(channel, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (!levels.has(key) || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return (message: unknown, ...rest: unknown[]) => {
        if (typeof message === 'string' && isServerLogLine(message)) return;
        (value as (...a: unknown[]) => void).call(target, message, ...rest);
      };
    },
  });
}

/** VS Code's own record of where each `tandem.*` value was set (user, workspace, folder). */
function inspectAt(scope?: vscode.Uri): Inspect {
  const config = vscode.workspace.getConfiguration(undefined, scope);
  return (key) => config.inspect(key);
}

/**
 * Tells the server, in initialize, that the `tandem` section it pulls comes as {user, workspace}:
 * VS Code keeps the two apart, so the server may take where code goes from `user` alone; and that
 * next edits are shown by this extension (nextEdit.ts), not as inline completion items.
 */
const scopedSettingsFeature: StaticFeature = {
  fillClientCapabilities: (capabilities) => {
    declareScopedSettings(capabilities);
    declareNextEdits(capabilities);
  },
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

/**
 * Answers (Explain, Compare, Stats, Status) open as read-only documents of this scheme, not as
 * untitled ones: an untitled document is dirty and asks to be saved when it is closed.
 */
const ANSWER_SCHEME = 'tandem-answer';
const answers = new Map<string, string>();
let answersShown = 0;

async function showMarkdown(markdown: string, title: string): Promise<void> {
  // The query keeps each answer apart; the path's .md makes it Markdown.
  const uri = vscode.Uri.from({ scheme: ANSWER_SCHEME, path: `/${title}.md`, query: String(++answersShown) });
  answers.set(uri.toString(), markdown);
  const doc = await vscode.workspace.openTextDocument(uri);
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
  if (md !== undefined) await showMarkdown(md, 'tandem explain');
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
  const channel = vscode.window.createOutputChannel('tandem', { log: true });
  context.subscriptions.push(channel);
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
    // The server's log, once, at each line's own level (see serverLog.ts): read from stderr, and
    // its window/logMessage copies kept out of the channel the library writes to.
    outputChannel: withoutServerLog(channel),
    stdioOptions: {
      stdout: (input) => createInterface({ input, crlfDelay: Infinity }).on('line', (line) => channel.info(line)),
      stderr: (input) => {
        const reader = new StderrReader();
        createInterface({ input, crlfDelay: Infinity }).on('line', (raw) => {
          const l = reader.line(raw);
          if (l) channel[l.level](l.text);
        });
      },
    },
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

  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(ANSWER_SCHEME, { provideTextDocumentContent: (uri) => answers.get(uri.toString()) }),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      if (doc.uri.scheme === ANSWER_SCHEME) answers.delete(doc.uri.toString());
    }),
  );

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
      if (md !== undefined) await showMarkdown(md, 'tandem compare');
    }),
    vscode.commands.registerCommand('tandem.showStats', async () => {
      const result = await serverCommand('tandem: stats', 'tandem.stats', []);
      if (result !== undefined) await showMarkdown(statsMarkdown(result), 'tandem stats');
    }),
    vscode.commands.registerCommand('tandem.showStatus', () => showMarkdown(statusMarkdown(), 'tandem status')),
    // The server keeps the snooze and says until when in tandem/status (the status bar shows it).
    vscode.commands.registerCommand('tandem.snoozeInline', async () => {
      const pick = await vscode.window.showQuickPick(snoozeChoices(status?.snoozedUntil), { placeHolder: 'tandem: no inline completions for…' });
      if (pick) await serverCommand('tandem: snoozing…', 'tandem.snooze', snoozeArgs(pick.minutes));
    }),
    vscode.commands.registerCommand('tandem.restartServer', () => client?.restart()),
  );

  // tandem's models in VS Code's chat (chat.ts), once the server runs; VS Code older than 1.104 has no such API.
  const started = client.start();
  context.subscriptions.push(...registerChatProvider(client, started.catch(() => undefined), channel));
  context.subscriptions.push(...registerNextEdits(client, channel));
  await started;
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
