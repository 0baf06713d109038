// LSP wiring: glues protocol messages to plain classes. The only module besides features/ that knows LSP.
import {
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  FileChangeType,
  ErrorCodes,
  MessageType,
  ResponseError,
  ShowMessageNotification,
  TextDocumentSyncKind,
  DidChangeTextDocumentNotification,
  DidChangeWorkspaceFoldersNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  DidSaveTextDocumentNotification,
  ParameterStructures,
  RequestType,
  type CodeAction,
  type CodeActionParams,
  type DidChangeConfigurationParams,
  type DidChangeTextDocumentParams,
  type DidChangeWatchedFilesParams,
  type DidChangeWorkspaceFoldersParams,
  type DidOpenTextDocumentParams,
  type ExecuteCommandParams,
  type TextDocumentIdentifier,
  type InlineCompletionParams,
  type TextDocumentPositionParams,
  type CancellationToken,
  type Connection,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ContextService } from '../context/service.js';
import type { Range, WorkDoneProgressServerReporter } from 'vscode-languageserver';
import { DocumentStore } from '../documents.js';
import { APPLY_ACTION_COMMAND, CODE_ACTION_KINDS, COMPARE_COMMAND, EDIT_COMMAND, EXPLAIN_COMMAND, onApplyAction, onCompare, onEdit, onCodeAction, onCodeActionResolve, onExplain, type CodeActionDeps, type ProgressSink } from '../features/codeActions.js';
import { chatParams, ChatModelsShape, CopilotInlineEditShape, CountTokensShape, CodeActionParamsShape, DidShowInlineEditShape, CodeActionShape, ConfigurationShape, DidChangeShape, DidOpenShape, DocumentOnlyShape, ExecuteCommandParamsShape, noArgs, notificationProblem, positionParams, requestParams, WatchedFilesShape, WorkspaceFoldersShape } from '../features/args.js';
import { ActionPipeline } from '../pipeline/actions.js';
import { ChatPipeline } from '../pipeline/chat.js';
import { CHAT_METHOD, CHAT_MODELS_CHANGED, CHAT_MODELS_METHOD, COUNT_TOKENS_METHOD, onChat, onChatModels, onCountTokens, type ChatFeatureDeps } from '../features/chat.js';
import { ACCEPT_COMMAND, SNOOZE_COMMAND, STATS_COMMAND, onAccepted, onCompletion, onInlineCompletion, onSnooze, type CompletionFeatureDeps } from '../features/inlineCompletion.js';
import { BackendRegistry } from '../models/registry.js';
import { loadOpenai } from '../models/sdk.js';
import { spendDir } from '../router/budget.js';
import { PathPolicy } from '../privacy/paths.js';
import { Prober, statusKey, statusOf, withSnooze, type Status } from '../router/status.js';
import { InlinePipeline } from '../pipeline/inline.js';
import { NextEditPipeline } from '../pipeline/nextEdit.js';
import { EditHistory } from '../nextEdit/history.js';
import { COPILOT_INLINE_EDIT, DID_SHOW_INLINE_EDIT, NEXT_EDIT_ACCEPTED_COMMAND, NEXT_EDIT_DISMISSED_COMMAND, nextEditInlineItems, onCopilotInlineEdit, onDidShowInlineEdit, onNextEditAccepted, onNextEditDismissed, type CopilotInlineEditParams, type NextEditFeatureDeps } from '../features/nextEdit.js';
import { inlineOff, Snooze } from '../pipeline/inlineSwitch.js';
import { readEditorIndentation, type EditorIndentation } from '../pipeline/postprocess/index.js';
import { Stats } from '../stats.js';
import { ParseService, TreeRetention } from '../syntax/tree.js';
import { bindingFailure, nativeBindingFailure, syntaxBackend, syntaxOffMessage } from '../syntax/binding.js';
import { IdleCollector, RuntimeMonitor } from '../util/runtime.js';
import { isLogLevel, type LogHub, type LogSink } from '../util/logger.js';
import { errorText } from '../util/logger.js';
import { stateDir } from '../util/paths.js';
import { uriToPath, Workspace } from '../workspace.js';
import { Settings } from './settings.js';
import { VERSION } from '../version.js';

export interface ServerOptions {
  env: NodeJS.ProcessEnv;
  /** --config FILE given to `tandem-lsp --stdio`. */
  configFile?: string;
  logHub: LogHub;
}

/** Forwards log lines to the editor's log (window/logMessage). */
function editorSink(connection: Connection): LogSink {
  return {
    write(level, line) {
      if (level === 'error') connection.console.error(line);
      else if (level === 'warn') connection.console.warn(line);
      else if (level === 'info') connection.console.info(line);
      else connection.console.log(line);
    },
  };
}

export function startServer(connection: Connection, opts: ServerOptions): void {
  const hub = opts.logHub;
  const log = hub.logger('server');
  const workspace = new Workspace();
  const settings = new Settings({ configFile: opts.configFile, env: opts.env, roots: () => workspace.roots });
  // Every parse runs in slices off the request path, and waits while an inline request is in
  // flight (see ParseService); only the documents used last keep a tree (see TreeRetention).
  let pipeline: InlinePipeline | undefined;
  const busy = () => pipeline?.busy ?? false;
  const parser = new ParseService({ busy });
  // Dropped trees' native memory and a burst's garbage are given back once the server is idle.
  const collector = new IdleCollector({ busy });
  const retention = new TreeRetention(undefined, undefined, (chars) => collector.dropped(chars));
  const syntaxLog = hub.logger('syntax');
  const documents = new DocumentStore(parser, { retention, debug: (m) => syntaxLog.debug(m) });
  // Where files really are (symbolic links, case, folders): the gates, the router, the context
  // stage and multi-file actions all ask this one object. File events invalidate what it cached.
  const paths = new PathPolicy({ roots: () => workspace.roots, warn: (m) => log.warn(m) });
  const backends = new BackendRegistry(hub.logger('backend'), { env: opts.env, spendDir: spendDir(opts.env), paths });
  // The openai package is imported on first use (models/sdk.ts): the server loads it now, in the
  // background, so that its first request does not wait for it.
  loadOpenai().catch((err: unknown) => log.warn(`cannot load the openai package: ${err instanceof Error ? err.message : String(err)}`));
  const stats = new Stats();
  const runtime = new RuntimeMonitor(opts.env);
  let progress: WorkDoneProgressServerReporter | undefined;
  const context = new ContextService({
    documents,
    parser,
    workspace,
    paths,
    logger: hub.logger('context'),
    busy,
    stateDir: stateDir(opts.env),
    onProgress: (p) => {
      // Indexing leaves garbage (files read, the worker's answers): a collection may follow once idle.
      if (p.finished) {
        collector.activity();
        // The workspace is walked anyway: the chat's fingerprint of protected files is built now,
        // not on the first chat's path (only where a chat could go to a cloud backend).
        chat.warm();
      }
      if (!progress) return;
      if (p.finished) {
        progress.done();
        progress = undefined;
      } else progress.report(p.total ? Math.floor((100 * p.done) / p.total) : 0, `Indexing ${p.done.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')} files`);
    },
  });
  // The user's pause of ghost text (tandem.snooze): its start and end change the status.
  const snooze = new Snooze({ onChange: () => sendStatus() });
  // The editor's indentation settings, where a client pushes them (`settings.editor`): LSP's inline
  // request carries no FormattingOptions. The file's own indentation comes first (postprocess/indentation.ts).
  let editorIndentation: EditorIndentation | undefined;
  pipeline = new InlinePipeline({ config: () => settings.config, backends, workspace, logger: hub.logger('inline'), context: context.engine, parse: (lang, text, maxMs) => parser.parseNow(lang, text, { maxMs }), snoozedUntil: () => snooze.endsAt, editorIndentation: () => editorIndentation });
  const deps: CompletionFeatureDeps = { documents, pipeline, stats, logger: hub.logger('inline') };
  // Next edits: the user's recent edit steps and viewed places, and the pipeline that asks for the edit after them.
  const history = new EditHistory({ now: () => performance.now(), relativePath: (uri) => workspace.relativePath(uri) });
  const linesOf = (uri: string, start: number, end: number) => {
    const d = documents.get(uri);
    return d && !d.binary ? d.text.getText({ start: { line: start, character: 0 }, end: { line: end + 1, character: 0 } }).replace(/\r?\n$/, '') : undefined;
  };
  const nextEdit = new NextEditPipeline({ config: () => settings.config, backends, workspace, logger: hub.logger('nextEdit'), history, lines: linesOf, parse: (lang, text, maxMs) => parser.parseNow(lang, text, { maxMs }) });
  const nextEditDeps: NextEditFeatureDeps = { documents, pipeline: nextEdit, logger: hub.logger('nextEdit') };
  let nextEditUsed = false;
  /**
   * The client asks textDocument/copilotInlineEdit after each pause and shows the edits itself, as
   * part of its inline suggestions (VS Code's extension: `experimental.tandem.nextEdits`): it gets
   * them under `inline.nextEdits`, as other clients' inline items do, and no items of them.
   */
  let clientShowsNextEdits = false;
  const nextEditsOn = () => settings.config.inline.nextEdits;
  const actions = new ActionPipeline({ config: () => settings.config, backends, workspace, logger: hub.logger('actions'), parse: async (lang, text, old) => (await parser.parse(lang, text, { urgent: true, ...(old ? { old } : {}) })).tree, checkOffThread: (lang, text, edits) => context.checkEdits(lang, text, edits), open: (uri) => documents.get(uri), index: () => context.workspaceIndex, context: context.engine });
  const chat = new ChatPipeline({ config: () => settings.config, backends, workspace, logger: hub.logger('chat'), open: (uri) => documents.get(uri), openDocuments: () => documents.all(), context: context.engine });
  const chatDeps: ChatFeatureDeps = { chat, logger: hub.logger('chat'), progress: (token, value) => void connection.sendNotification('$/progress', { token, value }) };
  let resolveSupport = false;
  let showDocumentSupport = false;
  /**
   * Opens an answer as a Markdown file beside the code (window/showDocument), for clients that
   * support it; the file lives in tandem's state directory, one per source file and line. Other
   * clients get it as a message. The file's name is made only of what the server generates: the
   * source's base name reduced to safe characters, a hash of its URI and a line number.
   */
  const showMarkdown = async (markdown: string, uri: string, line: number): Promise<void> => {
    if (!Number.isSafeInteger(line) || line < 0) return log.error(`not opening an answer for line ${JSON.stringify(line)}: not a line number`);
    if (!showDocumentSupport) {
      // An editor that drops a command's result (an action picked from a menu) still shows this.
      void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Info, message: markdown });
      return;
    }
    try {
      const dir = join(stateDir(opts.env), 'answers');
      mkdirSync(dir, { recursive: true });
      const base = basename(uriToPath(uri) ?? 'untitled').replace(/[^\w.-]/g, '_').replace(/^\.+/, '_').slice(0, 80);
      const file = join(dir, `${base}-${createHash('sha256').update(uri).digest('hex').slice(0, 12)}-L${line + 1}.md`);
      writeFileSync(file, markdown);
      const r = await connection.window.showDocument({ uri: pathToFileURL(file).href, takeFocus: false });
      if (!r.success) log.debug(`the client did not open ${file}`);
    } catch (err) {
      log.warn(`cannot open the answer as a document: ${errorText(err)}`);
    }
  };
  let createSupport = true;
  const actionDeps: CodeActionDeps = { documents, actions, logger: hub.logger('actions'), resolveSupport: () => resolveSupport, canCreateFiles: () => createSupport };
  let pullConfiguration = false;

  // tandem/status goes out when the picture changes (a breaker opens or closes, a cooldown starts).
  const prober = new Prober(backends, () => settings.config);
  let lastStatus = '';
  let statusQueued = false;
  const sendStatus = () => {
    if (statusQueued) return;
    statusQueued = true;
    setImmediate(() => {
      statusQueued = false;
      const status: Status = withSnooze(statusOf(settings.config, backends), snooze.endsAt);
      const key = statusKey(status);
      if (key === lastStatus) return;
      lastStatus = key;
      void connection.sendNotification('tandem/status', status);
      if (status.state !== 'ok') log.info(`status ${status.state}: ${status.message}`);
    });
  };
  backends.health.onChange(sendStatus);
  // tandem/chatModelsChanged: when what tandem/chatModels lists may differ (the chat backends, their
  // locations, the air gap, which of them are healthy).
  let lastChatModels = '';
  const chatModelsChanged = () => {
    if (!initialized) return;
    const c = settings.config;
    const key = JSON.stringify([c.routes.chat, c.privacy.airGapped, Object.values(c.backends).map((b) => [b.name, b.kind, b.url, b.location, b.model, b.maxContextTokens, backends.health.isHealthy(b.name)])]);
    if (key === lastChatModels) return;
    const first = lastChatModels === '';
    lastChatModels = key;
    if (!first) void connection.sendNotification(CHAT_MODELS_CHANGED);
  };
  backends.health.onChange(chatModelsChanged);
  // The status bar shows the latency: its first measurement and real changes go out too.
  backends.health.onLatency(sendStatus);

  const applyConfig = () => {
    const c = settings.config;
    if (!isLogLevel(opts.env.TANDEM_LOG)) hub.level = c.log.level;
    hub.setSecrets(Object.values(c.backends).flatMap((b) => (b.apiKeyEnv && opts.env[b.apiKeyEnv] ? [opts.env[b.apiKeyEnv]!] : [])));
    backends.update(c);
    chat.invalidate();
    chatModelsChanged();
    if (initialized) {
      context.start(c);
      void prober.round(true).then(sendStatus);
    }
  };
  let initialized = false;
  settings.onChange(applyConfig);

  // A notification, not window/showMessageRequest: nothing here needs the user's answer.
  const showMessage = (type: MessageType, message: string) => void connection.sendNotification(ShowMessageNotification.type, { type, message });

  // A warning (a repository's setting ignored, a tandem.json that does not parse) is shown once
  // per session: reloads repeat it on every change of any source.
  const warned = new Set<string>();
  const reload = (why: string) => {
    const r = settings.reload();
    if (!r.ok) {
      log.error(`${why}: ${r.error}`);
      showMessage(MessageType.Error, `tandem: ${r.error} (the previous configuration stays in force)`);
      return;
    }
    for (const w of r.warnings) {
      if (warned.has(w)) continue;
      warned.add(w);
      log.warn(w);
      showMessage(MessageType.Warning, `tandem: ${w}`);
    }
    log.info(`configuration loaded (${why}): backends ${Object.keys(settings.config.backends).join(', ')}; inline via ${settings.config.routes.inline.join(' > ')}`);
  };

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    hub.addSink(editorSink(connection));
    const roots = (params.workspaceFolders ?? []).map((f) => uriToPath(f.uri)).filter((p): p is string => !!p);
    const rootPath = params.rootUri ? uriToPath(params.rootUri) : (params.rootPath ?? undefined);
    if (roots.length === 0 && rootPath) roots.push(rootPath);
    workspace.roots = roots;
    paths.invalidate();
    const caps = params.capabilities;
    // A client that keeps user and workspace settings apart says so; its workspace/configuration
    // answer is then {user, workspace}. Any other answer is what a repository may have written.
    const experimental = caps.experimental as { tandem?: { scopedSettings?: unknown; nextEdits?: unknown } } | undefined;
    settings.setInitializationOptions(params.initializationOptions, experimental?.tandem?.scopedSettings === true);
    clientShowsNextEdits = experimental?.tandem?.nextEdits === true;
    applyConfig();
    reload('initialize');
    pullConfiguration = caps.workspace?.configuration === true;
    const dynamicConfig = caps.workspace?.didChangeConfiguration?.dynamicRegistration === true;
    // Editors with ghost text get no completion provider: model calls would slow their popup down.
    const hasInline = caps.textDocument?.inlineCompletion !== undefined;
    const watch = caps.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    const workDone = caps.window?.workDoneProgress === true;
    const folders = caps.workspace?.workspaceFolders === true;
    resolveSupport = caps.textDocument?.codeAction?.resolveSupport?.properties.includes('edit') === true;
    showDocumentSupport = caps.window?.showDocument?.support === true;
    // A client that declares its workspace edits without the `create` resource operation (eglot)
    // gets a new file as a plain insert; one that declares nothing about them gets CreateFile.
    const workspaceEdit = caps.workspace?.workspaceEdit;
    createSupport = workspaceEdit === undefined || (workspaceEdit.resourceOperations ?? []).includes('create');
    connection.onInitialized(async () => {
      if (dynamicConfig) await connection.client.register(DidChangeConfigurationNotification.type, { section: 'tandem' }).catch(() => undefined);
      if (pullConfiguration) await pullEditorSection('initialized');
      // Source files, and the manifests imports resolve through (context/modules.ts).
      if (watch) await connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: '**/*.{ts,tsx,mts,cts,js,jsx,mjs,cjs,py,pyi,go,rs,java}' }, { globPattern: '**/{tsconfig.json,jsconfig.json,package.json,go.mod,Cargo.toml}' }] }).catch(() => undefined);
      // The index is built in the background: the editor shows "Indexing 1,234/5,000 files".
      // Without tree-sitter (an optional dependency that did not build) there is no index to wait for.
      const syntaxOff = bindingFailure();
      if (syntaxOff !== undefined) log.info(syntaxOffMessage(syntaxOff));
      else if (syntaxBackend() === 'wasm') log.info(`tree-sitter: its WebAssembly build stands in for the native binding (${nativeBindingFailure()})`);
      if (workDone && settings.config.context.enabled && syntaxOff === undefined && workspace.roots.length > 0) {
        progress = await connection.window.createWorkDoneProgress().catch(() => undefined);
        progress?.begin('tandem', 0, 'Indexing workspace files', false);
      }
      initialized = true;
      chatModelsChanged();
      context.start(settings.config);
      prober.start();
      sendStatus();
      if (folders) {
        // Registered here rather than through connection.workspace, which reads `params.event` unchecked.
        connection.onNotification(DidChangeWorkspaceFoldersNotification.type, note(DidChangeWorkspaceFoldersNotification.method, WorkspaceFoldersShape, ({ event: { added, removed } }: DidChangeWorkspaceFoldersParams) => {
          const folderPaths = (list: { uri: string }[]) => list.map((f) => uriToPath(f.uri)).filter((p): p is string => !!p);
          const gone = folderPaths(removed);
          workspace.roots = [...workspace.roots.filter((r) => !gone.includes(r)), ...folderPaths(added).filter((p) => !workspace.roots.includes(p))];
          paths.invalidate();
          chat.invalidate();
          reload('workspace folders changed'); // a new folder's tandem.json applies too
          context.foldersChanged(settings.config, folderPaths(added), gone);
        }));
      }
    });
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        inlineCompletionProvider: true,
        ...(hasInline ? {} : { completionProvider: { resolveProvider: false } }),
        codeActionProvider: { resolveProvider: true, codeActionKinds: CODE_ACTION_KINDS },
        executeCommandProvider: { commands: [ACCEPT_COMMAND, STATS_COMMAND, APPLY_ACTION_COMMAND, EXPLAIN_COMMAND, EDIT_COMMAND, COMPARE_COMMAND, SNOOZE_COMMAND, NEXT_EDIT_ACCEPTED_COMMAND, NEXT_EDIT_DISMISSED_COMMAND] },
        ...(folders ? { workspace: { workspaceFolders: { supported: true, changeNotifications: true } } } : {}),
      },
      serverInfo: { name: 'tandem', version: VERSION },
    };
  });

  const pullEditorSection = async (why: string) => {
    try {
      const [section] = await connection.workspace.getConfiguration([{ section: 'tandem' }]);
      settings.setPulledSection(section ?? undefined);
    } catch (err) {
      log.debug(`workspace/configuration failed: ${errorText(err)}`);
      return;
    }
    reload(why);
  };

  // A notification cannot be answered: a malformed one is ignored and said at warn level once per
  // method and field (later ones at debug), without the value, which may be a file's code.
  const malformed = new Set<string>();
  const note =
    <P>(method: string, shape: Parameters<typeof notificationProblem>[1], fn: (p: P) => unknown) =>
    (p: unknown): void => {
      collector.activity();
      const problem = notificationProblem(method, shape, p);
      if (problem !== undefined) {
        if (malformed.has(problem)) return log.debug(`ignored ${problem}`);
        malformed.add(problem);
        return log.warn(`ignored ${problem}`);
      }
      const failed = (err: unknown) => log.error(`${method} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      try {
        const r = fn(p as P);
        if (r instanceof Promise) r.catch(failed);
      } catch (err) {
        failed(err);
      }
    };

  // vscode-languageclient pushes the whole section, its defaults included: a client that can be
  // asked is asked instead, so a push never stands in for the sources the answer keeps apart.
  connection.onDidChangeConfiguration(note('workspace/didChangeConfiguration', ConfigurationShape, async (params: DidChangeConfigurationParams) => {
    const s = params.settings as Record<string, unknown> | null | undefined;
    if (s && typeof s === 'object' && 'editor' in s) {
      const r = readEditorIndentation(s.editor, 'workspace/didChangeConfiguration settings.editor');
      for (const p of r.problems) log.warn(`ignored ${p}`);
      editorIndentation = r.value;
    }
    if (pullConfiguration) {
      await pullEditorSection('didChangeConfiguration');
      return;
    }
    if (s && typeof s === 'object' && 'tandem' in s) settings.setPushedSection(s.tandem);
    reload('didChangeConfiguration');
  }));

  // Opening, saving, closing and watched-file events may follow a link that changed: real paths are looked up again.
  connection.onDidOpenTextDocument(note(DidOpenTextDocumentNotification.method, DidOpenShape, ({ textDocument: t }: DidOpenTextDocumentParams) => {
    paths.invalidate();
    documents.open(t.uri, t.languageId, t.version, t.text);
    context.opened(t.uri);
  }));
  connection.onDidChangeTextDocument(note(DidChangeTextDocumentNotification.method, DidChangeShape, ({ textDocument: t, contentChanges }: DidChangeTextDocumentParams) => {
    // The text before, and a lone change in its offsets: the pipeline tells an accepted completion by them.
    // A snapshot of the chunks, read at a few places (an acceptance check) or joined when an edit
    // step is diffed: a keystroke in a 2 MB file must not copy 2 MB.
    const old = documents.get(t.uri);
    const before = old && { version: old.text.version, text: old.text.snapshot() };
    const only = contentChanges.length === 1 ? (contentChanges[0] as { range?: Range; text: string }) : undefined;
    const edit = old && only?.range ? { start: old.text.offsetAt(only.range.start), end: old.text.offsetAt(only.range.end), text: only.text } : undefined;
    const doc = documents.change(t.uri, t.version ?? 0, contentChanges);
    if (!doc || !before) return log.debug(`didChange for unknown document ${t.uri}`);
    pipeline.changed(doc, before, edit);
    nextEdit.changed(t.uri);
    // The history is kept once the client has asked for a next edit: it holds a version of each
    // edited document, which a client that never asks would pay for with nothing.
    if ((nextEditUsed || nextEditsOn()) && !doc.binary) {
      // One step of the edit history per notification: a lone ranged change by its lines, several or a whole text as all of them.
      const r = only?.range;
      const nl = r ? only!.text.split('\n').length - 1 : 0;
      if (r) history.changed(t.uri, before.text, r.start.line, r.start.line + nl, nl - (r.end.line - r.start.line), () => doc.text.getText());
      // Several changes or a whole text: all lines count as touched (the step's diff is worked out from the texts).
      else history.changed(t.uri, before.text, 0, doc.text.lineCount - 1, 0, () => doc.text.getText());
    }
    for (const c of contentChanges) {
      if (!('range' in c)) {
        context.opened(t.uri); // a full replacement: windows and index entry from scratch
        continue;
      }
      let nl = 0;
      for (let i = c.text.indexOf('\n'); i >= 0; i = c.text.indexOf('\n', i + 1)) nl++;
      context.changed(t.uri, c.range.start.line, c.range.start.line + nl);
    }
  }));
  connection.onDidSaveTextDocument(note(DidSaveTextDocumentNotification.method, DocumentOnlyShape, ({ textDocument: t }: { textDocument: TextDocumentIdentifier }) => {
    paths.invalidate();
    chat.invalidate();
    context.saved(t.uri);
  }));
  connection.onDidCloseTextDocument(note(DidCloseTextDocumentNotification.method, DocumentOnlyShape, ({ textDocument: t }: { textDocument: TextDocumentIdentifier }) => {
    paths.invalidate();
    documents.close(t.uri);
    pipeline.closed(t.uri);
    nextEdit.closed(t.uri);
    history.closed(t.uri);
    context.closed(t.uri);
  }));
  connection.onDidChangeWatchedFiles(note('workspace/didChangeWatchedFiles', WatchedFilesShape, ({ changes }: DidChangeWatchedFilesParams) => {
    paths.invalidate();
    chat.invalidate();
    context.filesChanged(changes.map((c) => ({ uri: c.uri, type: c.type === FileChangeType.Deleted ? 'deleted' : c.type === FileChangeType.Created ? 'created' : 'changed' })));
  }));

  // Every request's params are checked against its method's shape before anything reads them
  // (-32602 naming the field); exceptions past that are bugs: each request catches its own once,
  // logs it, and answers an error, never crashing. Registered by method name: the library's typed
  // helpers read `params.workDoneToken` before any check, and null params would throw there.
  const handle = <P, R>(method: string, valid: (p: unknown) => P, fn: (p: P, token: CancellationToken) => Promise<R> | R) =>
    connection.onRequest<unknown, unknown, void>(new RequestType<unknown, unknown, void>(method, ParameterStructures.byName), async (p: unknown, token: CancellationToken): Promise<unknown> => {
      // Monitoring (tandem.stats, polled by benchmarks and status bars) is not use: it must not
      // keep the server from counting as idle.
      if (!(method === 'workspace/executeCommand' && (p as { command?: unknown } | null)?.command === STATS_COMMAND)) collector.activity();
      try {
        return await fn(valid(p), token);
      } catch (err) {
        if (err instanceof ResponseError) throw err;
        log.error(`${method} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        throw new ResponseError(ErrorCodes.InternalError, `tandem: ${method} failed: ${errorText(err)}`);
      }
    });

  handle('textDocument/inlineCompletion', (p) => positionParams<InlineCompletionParams>('textDocument/inlineCompletion', p, true), (p, t) => {
    // Where the user works is a place viewed: the next-edit prompts of other files may show it.
    const d = documents.get(p.textDocument.uri);
    if (d && !d.binary) history.viewed(d.uri, p.position.line, d.text.lineCount);
    // Where ghost text has nothing, the next edit, for clients that have no other way to show it;
    // ghost text never waits for it (it is asked only once that answer is empty).
    const nextEdits = nextEditsOn() && !clientShowsNextEdits;
    return onInlineCompletion(deps, p, t, nextEdits ? (doc, position, token) => (inlineOff(settings.config.inline, doc.languageId, snooze.endsAt) === undefined ? nextEditInlineItems(nextEditDeps, doc, position, token) : Promise.resolve([])) : undefined);
  });
  handle(COPILOT_INLINE_EDIT, (p) => requestParams<CopilotInlineEditParams>(COPILOT_INLINE_EDIT, CopilotInlineEditShape, p), (p, t) => {
    // A client that shows next edits among its inline suggestions follows inline.nextEdits (and its
    // snooze and languages); switched off, it asks after each pause and pays nothing, history included.
    if (clientShowsNextEdits) {
      const d = documents.get(p.textDocument.uri);
      if (d && (!nextEditsOn() || inlineOff(settings.config.inline, d.languageId, snooze.endsAt) !== undefined)) return { edits: [] };
    }
    nextEditUsed = true;
    return onCopilotInlineEdit(nextEditDeps, p, t);
  });
  connection.onNotification(DID_SHOW_INLINE_EDIT, note(DID_SHOW_INLINE_EDIT, DidShowInlineEditShape, (p: { item: { command?: { arguments?: unknown[] } } }) => onDidShowInlineEdit(nextEditDeps, p)));
  handle('textDocument/completion', (p) => positionParams<TextDocumentPositionParams>('textDocument/completion', p, false), (p, t) => onCompletion(deps, p, t));
  handle('textDocument/codeAction', (p) => requestParams<CodeActionParams>('textDocument/codeAction', CodeActionParamsShape, p), (p) => onCodeAction(actionDeps, p));
  handle('codeAction/resolve', (p) => requestParams<CodeAction>('codeAction/resolve', CodeActionShape, p), (a, t) => onCodeActionResolve(actionDeps, a, t));
  handle(CHAT_METHOD, (p) => chatParams(CHAT_METHOD, p), (p, t) => onChat(chatDeps, p, t));
  handle(CHAT_MODELS_METHOD, (p) => requestParams<unknown>(CHAT_MODELS_METHOD, ChatModelsShape, p), (_p, t) => onChatModels(chatDeps, t));
  handle(COUNT_TOKENS_METHOD, (p) => requestParams<{ model: string; text: string }>(COUNT_TOKENS_METHOD, CountTokensShape, p), (p, t) => onCountTokens(chatDeps, p, t));
  handle('workspace/executeCommand', (p) => requestParams<ExecuteCommandParams>('workspace/executeCommand', ExecuteCommandParamsShape, p), (p, t): Promise<unknown> | unknown => {
    if (p.command === APPLY_ACTION_COMMAND) return onApplyAction(actionDeps, p.arguments, (edit) => connection.workspace.applyEdit(edit), t);
    if (p.command === EDIT_COMMAND) return onEdit(actionDeps, p.arguments, (edit) => connection.workspace.applyEdit(edit), t);
    if (p.command === EXPLAIN_COMMAND) {
      const workDone = connection.window.attachWorkDoneProgress(p.workDoneToken);
      const sink: ProgressSink = { begin: (title) => workDone.begin(title, undefined, undefined, false), report: (m) => workDone.report(m), done: () => workDone.done() };
      return onExplain(actionDeps, p.arguments, sink, t, showMarkdown);
    }
    if (p.command === COMPARE_COMMAND) return onCompare(actionDeps, p.arguments, t);
    if (p.command === ACCEPT_COMMAND) return onAccepted({ stats, logger: hub.logger('telemetry'), pipeline, documents }, p.arguments);
    if (p.command === NEXT_EDIT_ACCEPTED_COMMAND) return onNextEditAccepted(nextEditDeps, p.arguments);
    if (p.command === NEXT_EDIT_DISMISSED_COMMAND) return onNextEditDismissed(nextEditDeps, p.arguments);
    if (p.command === SNOOZE_COMMAND) return onSnooze({ snooze, logger: hub.logger('inline') }, p.arguments);
    if (p.command === STATS_COMMAND) {
      noArgs(STATS_COMMAND, p.arguments);
      const process = { ...runtime.snapshot(), parses: { ...parser.counters, queued: parser.pending, trees: retention.size, treesDropped: retention.dropped, collections: collector.collections } };
      runtime.reset(); // event-loop figures cover the time since the previous tandem.stats
      const idx = context.workspaceIndex;
      const index = idx ? { files: idx.stats().files, finished: idx.progress.finished, ...idx.cacheCounts } : null;
      return { ...stats.snapshot(), speculative: pipeline.speculativeCounts(), latency: backends.latencyPercentiles(), hedge: backends.hedge.snapshot(settings.config), debounce: pipeline.debounceCounts(), nextEdit: nextEdit.counts(), spend: backends.spend.today(), status: withSnooze(statusOf(settings.config, backends), snooze.endsAt), process, index };
    }
    throw new ResponseError(ErrorCodes.InvalidParams, `unknown command ${p.command}`);
  });

  connection.onShutdown(() => {
    log.info('shutting down');
    prober.stop();
    snooze.dispose();
    context.dispose();
    runtime.dispose();
    collector.dispose();
  });
  connection.listen();
}
