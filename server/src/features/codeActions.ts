// textDocument/codeAction, codeAction/resolve, tandem.applyAction and tandem.explain: LSP in, action pipeline out.
import {
  ErrorCodes,
  LSPErrorCodes,
  ResponseError,
  type CancellationToken,
  type CodeAction,
  type CodeActionParams,
  type Diagnostic,
  type Range,
  type WorkspaceEdit,
} from 'vscode-languageserver';
import { ACTION_KINDS, listActions } from '../actions/list.js';
import type { Doc, DocumentStore } from '../documents.js';
import { type ActionOutcome, type ActionPipeline, type CompareAnswer, type EditTask } from '../pipeline/actions.js';
import { errorText, type Logger } from '../util/logger.js';
import { actionData, commandArg, CompareArgs, EditArgs, ExplainArgs, type ActionData } from './args.js';
import { tokenSignal } from './inlineCompletion.js';

export type { ActionData } from './args.js';

export const APPLY_ACTION_COMMAND = 'tandem.applyAction';
export const EXPLAIN_COMMAND = 'tandem.explain';
export const EDIT_COMMAND = 'tandem.edit';
export const COMPARE_COMMAND = 'tandem.compare';

/** The kinds advertised in codeActionProvider (the contract's families). */
export const CODE_ACTION_KINDS = [...new Set(Object.values(ACTION_KINDS))];

export interface CodeActionDeps {
  documents: DocumentStore;
  actions: ActionPipeline;
  logger: Logger;
  /** The client resolves actions lazily (codeAction.resolveSupport names `edit`). */
  resolveSupport: () => boolean;
  /**
   * False when the client says how it edits workspaces and `create` is not among its resource
   * operations: a new file then comes as an insert into its URI alone (Neovim and eglot open a
   * buffer for a missing file, and saving it creates the file).
   */
  canCreateFiles?: () => boolean;
}

function docFor(deps: CodeActionDeps, uri: string | undefined): Doc {
  const doc = uri ? deps.documents.get(uri) : undefined;
  if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `unknown document ${uri ?? '(no uri)'}: open it with textDocument/didOpen first`);
  return doc;
}

/** How long listing code actions waits for a document's first parse (a few ms for normal code). */
const ACTIONS_TREE_WAIT_MS = 250;

/** Lists actions from the syntax node under the range: no model call; it may wait for a sliced parse. */
export async function onCodeAction(deps: CodeActionDeps, params: CodeActionParams): Promise<CodeAction[]> {
  let doc = docFor(deps, params.textDocument?.uri);
  if (doc.binary) return [];
  // Right after didOpen (or after its tree was dropped to save memory) the document has no tree
  // yet: its parse runs in slices while this request waits a little, other messages going on.
  // With a tree (edited, perhaps not re-parsed yet: positions stay right), list at once.
  if (doc.tree && !doc.tree.current()) await doc.tree.settled(ACTIONS_TREE_WAIT_MS);
  // The document may have changed or closed meanwhile: list for what it is now.
  doc = docFor(deps, params.textDocument?.uri);
  const text = doc.text;
  const diagnostics: Diagnostic[] = params.context?.diagnostics ?? [];
  const offers = listActions({
    languageId: doc.languageId,
    language: doc.tree?.language,
    tree: doc.tree?.current(),
    text,
    start: text.offsetAt(params.range.start),
    end: text.offsetAt(params.range.end),
    diagnostics: diagnostics.map((d) => ({ message: typeof d.message === 'string' ? d.message : d.message.value, start: text.offsetAt(d.range.start), end: text.offsetAt(d.range.end), ...(d.source ? { source: d.source } : {}) })),
  });
  const only = params.context?.only;
  const version = text.version;
  const out: CodeAction[] = [];
  for (const [i, o] of offers.entries()) {
    if (only && !only.some((k) => o.kind === k || o.kind.startsWith(`${k}.`))) continue;
    const range: Range = { start: text.positionAt(o.start), end: text.positionAt(o.end) };
    if (o.id === 'explain') {
      out.push({ title: o.title, kind: o.kind, command: { title: o.title, command: EXPLAIN_COMMAND, arguments: [{ uri: doc.uri, range }] } });
      continue;
    }
    const data: ActionData = { id: o.id, uri: doc.uri, version, start: o.start, end: o.end, ...(o.diagnostic ? { diagnostic: { message: o.diagnostic.message } } : {}) };
    const action: CodeAction = { title: o.title, kind: o.kind, data };
    if (o.diagnostic) {
      const d = diagnostics[i];
      if (d) action.diagnostics = [d];
    }
    if (!deps.resolveSupport()) action.command = { title: o.title, command: APPLY_ACTION_COMMAND, arguments: [data] };
    out.push(action);
  }
  return out;
}

async function run(deps: CodeActionDeps, data: ActionData & { id: EditTask; instruction?: string; scope?: 'file' | 'workspace' }, token: CancellationToken | undefined): Promise<WorkspaceEdit> {
  const doc = docFor(deps, data.uri);
  const outcome: ActionOutcome = await deps.actions.resolve({ doc, id: data.id, ...(data.instruction !== undefined ? { instruction: data.instruction } : {}), version: data.version, start: data.start, end: data.end, ...(data.diagnostic ? { diagnostic: data.diagnostic } : {}), ...(data.scope ? { scope: data.scope } : {}), signal: tokenSignal(token) });
  switch (outcome.kind) {
    case 'edit':
      return { documentChanges: [{ textDocument: { uri: outcome.uri, version: outcome.version }, edits: outcome.edits.map((e) => ({ range: e.range, newText: e.newText })) }] };
    case 'workspace': {
      // Existing files carry their versions (null: not open, read from disk); a new file is
      // created empty, then filled by an insert, as LSP resource operations go.
      const documentChanges: NonNullable<WorkspaceEdit['documentChanges']> = outcome.changes.map((c) => ({ textDocument: { uri: c.uri, version: c.version }, edits: c.edits.map((e) => ({ range: e.range, newText: e.newText })) }));
      const create = deps.canCreateFiles?.() !== false;
      for (const c of outcome.creates) {
        if (create) documentChanges.push({ kind: 'create', uri: c.uri, options: { overwrite: false, ignoreIfExists: false } });
        documentChanges.push({ textDocument: { uri: c.uri, version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: c.text }] });
      }
      deps.logger.info(`${data.id} on ${data.uri}: ${outcome.summary} (${outcome.backend})`);
      return { documentChanges };
    }
    case 'stale':
      throw new ResponseError(LSPErrorCodes.ContentModified, `tandem: ${outcome.reason}`);
    case 'cancelled':
      throw new ResponseError(LSPErrorCodes.RequestCancelled, 'tandem: cancelled');
    case 'unsupported':
      throw new ResponseError(ErrorCodes.InvalidParams, `tandem: ${outcome.reason}`);
    case 'rejected':
    case 'failed':
      deps.logger.info(`${data.id} on ${data.uri}: ${outcome.reason}`);
      throw new ResponseError(LSPErrorCodes.RequestFailed, `tandem: ${outcome.reason}`);
  }
}

/** codeAction/resolve: the model call happens here, and the edit carries the document's version. */
export async function onCodeActionResolve(deps: CodeActionDeps, action: CodeAction, token?: CancellationToken): Promise<CodeAction> {
  // Explain is a command, not an edit; clients that resolve every action (Neovim, VS Code) get it back as it is.
  if (action.data === undefined && action.command) return action;
  const data = actionData(action.data, 'codeAction/resolve', 'params.data');
  const edit = await run(deps, data, token);
  return { ...action, edit };
}

/** Sends an edit to the editor (workspace/applyEdit); what it answers is not trusted to have any shape. */
export type ApplyEdit = (edit: WorkspaceEdit) => Promise<unknown>;

interface Applied {
  applied: boolean;
  failureReason?: string;
}

/**
 * The editor's answer to workspace/applyEdit as a command's result. An answer without a boolean
 * `applied`, or an error, means the edit is not known to be applied: said so, never an exception.
 */
async function applyInEditor(deps: CodeActionDeps, applyEdit: ApplyEdit, edit: WorkspaceEdit): Promise<Applied> {
  let answer: unknown;
  try {
    answer = await applyEdit(edit);
  } catch (err) {
    const failureReason = `the editor answered workspace/applyEdit with an error: ${errorText(err)}`;
    deps.logger.warn(failureReason);
    return { applied: false, failureReason };
  }
  const { applied, failureReason } = (typeof answer === 'object' && answer !== null ? answer : {}) as { applied?: unknown; failureReason?: unknown };
  if (typeof applied !== 'boolean') {
    const reason = `the editor's answer to workspace/applyEdit is not {"applied": true | false} (got ${JSON.stringify(answer)?.slice(0, 60) ?? typeof answer})`;
    deps.logger.warn(reason);
    return { applied: false, failureReason: reason };
  }
  return { applied, ...(typeof failureReason === 'string' && failureReason !== '' ? { failureReason } : {}) };
}

/** tandem.applyAction [data]: the same work for clients without resolve support, applied via workspace/applyEdit. */
export async function onApplyAction(deps: CodeActionDeps, args: unknown[] | undefined, applyEdit: ApplyEdit, token?: CancellationToken): Promise<Applied> {
  const data = actionData(Array.isArray(args) ? args[0] : undefined, APPLY_ACTION_COMMAND, 'arguments[0]');
  return applyInEditor(deps, applyEdit, await run(deps, data, token));
}

/**
 * tandem.edit [{uri, range, instruction, scope?}]: the free-instruction edit of a range (an empty
 * range: the whole file), applied via workspace/applyEdit with the document's version.
 */
export async function onEdit(deps: CodeActionDeps, args: unknown[] | undefined, applyEdit: ApplyEdit, token?: CancellationToken): Promise<Applied> {
  const arg = commandArg(EDIT_COMMAND, args, EditArgs, 'expected arguments [{"uri": "...", "range": {...}, "instruction": "...", "scope"?: "file" | "workspace"}]');
  const doc = docFor(deps, arg.uri);
  let start = doc.text.offsetAt(arg.range.start);
  let end = doc.text.offsetAt(arg.range.end);
  if (start === end) [start, end] = [0, doc.text.getText().length];
  const edit = await run(deps, { id: 'edit', uri: doc.uri, version: doc.text.version, start, end, instruction: arg.instruction, ...(arg.scope === 'workspace' ? { scope: 'workspace' as const } : {}) }, token);
  return applyInEditor(deps, applyEdit, edit);
}

export interface ProgressSink {
  begin(title: string): void;
  report(message: string): void;
  done(): void;
}

/**
 * tandem.explain [{uri, range, open?}] → {markdown}; the text so far goes to `progress` while it
 * streams. `show` opens the answer as a document (window/showDocument) unless `open: false`:
 * clients that render it themselves say so.
 */
export async function onExplain(deps: CodeActionDeps, args: unknown[] | undefined, progress: ProgressSink | undefined, token?: CancellationToken, show?: (markdown: string, uri: string, line: number) => Promise<void>): Promise<{ markdown: string }> {
  const arg = commandArg(EXPLAIN_COMMAND, args, ExplainArgs, 'expected arguments [{"uri": "...", "range": {"start": ..., "end": ...}, "open"?: false}]');
  const doc = docFor(deps, arg.uri);
  const start = doc.text.offsetAt(arg.range.start);
  progress?.begin('tandem: explaining');
  // At most one progress message per 50 ms: an editor repaints on each.
  let lastSent = 0;
  let pending: string | undefined;
  const onText = (soFar: string) => {
    const now = performance.now();
    if (now - lastSent >= 50) {
      lastSent = now;
      pending = undefined;
      progress?.report(soFar);
    } else pending = soFar;
  };
  try {
    const outcome = await deps.actions.explain({ doc, start, end: doc.text.offsetAt(arg.range.end), signal: tokenSignal(token), ...(progress ? { onText } : {}) });
    if (pending !== undefined) progress?.report(pending);
    if (outcome.kind === 'cancelled') throw new ResponseError(LSPErrorCodes.RequestCancelled, 'tandem: cancelled');
    if (outcome.kind === 'failed') throw new ResponseError(LSPErrorCodes.RequestFailed, `tandem: ${outcome.reason}`);
    // Not awaited: the answer must not wait on the editor opening a document.
    // The line is the document's own (from the offset), not the argument's text.
    if (show && arg.open !== false) void show(outcome.markdown, doc.uri, doc.text.positionAt(start).line);
    return { markdown: outcome.markdown };
  } finally {
    progress?.done();
  }
}

/**
 * tandem.compare [{uri, range, instruction?, backends?}] → {markdown, answers}: the same explain
 * (or edit, with an instruction) on two backends side by side; nothing is applied.
 */
export async function onCompare(deps: CodeActionDeps, args: unknown[] | undefined, token?: CancellationToken): Promise<{ markdown: string; answers: CompareAnswer[] }> {
  const arg = commandArg(COMPARE_COMMAND, args, CompareArgs, 'expected arguments [{"uri": "...", "range": {...}, "instruction"?: "...", "backends"?: ["a", "b"]}]');
  const doc = docFor(deps, arg.uri);
  const outcome = await deps.actions.compare({
    doc,
    start: doc.text.offsetAt(arg.range.start),
    end: doc.text.offsetAt(arg.range.end),
    ...(arg.instruction?.trim() ? { instruction: arg.instruction } : {}),
    ...(arg.backends ? { backends: arg.backends } : {}),
    signal: tokenSignal(token),
  });
  if (outcome.kind === 'cancelled') throw new ResponseError(LSPErrorCodes.RequestCancelled, 'tandem: cancelled');
  if (outcome.kind === 'unsupported') throw new ResponseError(ErrorCodes.InvalidParams, `tandem: ${outcome.reason}`);
  if (outcome.kind === 'failed') throw new ResponseError(LSPErrorCodes.RequestFailed, `tandem: ${outcome.reason}`);
  return { markdown: outcome.markdown, answers: outcome.answers };
}
