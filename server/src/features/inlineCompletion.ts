// textDocument/inlineCompletion and the textDocument/completion fallback: LSP in, pipeline outcome out.
import {
  CompletionItemKind,
  ErrorCodes,
  InsertTextFormat,
  ResponseError,
  type CancellationToken,
  type CompletionItem,
  type CompletionList,
  type InlineCompletionItem,
  type InlineCompletionList,
  type InlineCompletionParams,
  type Position,
  type Range,
  type TextDocumentPositionParams,
} from 'vscode-languageserver';
import type { DocumentStore, Doc } from '../documents.js';
import type { InlineOutcome, InlinePipeline, InlineRequest } from '../pipeline/inline.js';
import type { Stats } from '../stats.js';
import { CancelledError } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import type { Snooze } from '../pipeline/inlineSwitch.js';
import { AcceptedArgs, commandArg, SnoozeArgs } from './args.js';

export const ACCEPT_COMMAND = 'tandem.accepted';
/** `tandem.stats` []: counts (deadlines that expired among them), acceptances, latency p50/p95 per backend, hedged requests (started, won by backend, each backend's delay), today's cloud spend, status, and the process's memory and (with TANDEM_LOOP_MONITOR_MS) event-loop delay since the previous call. */
export const STATS_COMMAND = 'tandem.stats';
/** `tandem.snooze` [minutes]: no ghost text for that long (0 or nothing: resume) → {snoozedUntil}. */
export const SNOOZE_COMMAND = 'tandem.snooze';

export interface CompletionFeatureDeps {
  documents: DocumentStore;
  pipeline: InlinePipeline;
  stats: Stats;
  logger: Logger;
}

/** The LSP token becomes an AbortSignal once, here at the edge. */
export function tokenSignal(token: CancellationToken | undefined): AbortSignal | undefined {
  if (!token) return undefined;
  const ctrl = new AbortController();
  if (token.isCancellationRequested) ctrl.abort(new CancelledError());
  else token.onCancellationRequested(() => ctrl.abort(new CancelledError()));
  return ctrl.signal;
}

function resolveDoc(deps: CompletionFeatureDeps, params: TextDocumentPositionParams): { doc: Doc; position: Position } {
  const uri = params.textDocument?.uri;
  const doc = uri ? deps.documents.get(uri) : undefined;
  if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `unknown document ${uri ?? '(no uri)'}: open it with textDocument/didOpen first`);
  // The position's shape was checked at the edge (positionParams).
  const p = params.position;
  // Past the end of a line or the document: LSP says to use the end; offsetAt clamps to it.
  const position = doc.text.positionAt(doc.text.offsetAt(p));
  return { doc, position };
}

type Ask = Pick<InlineRequest, 'invoked' | 'alternatives' | 'selected'>;

async function run(deps: CompletionFeatureDeps, doc: Doc, position: Position, token: CancellationToken | undefined, ask: Ask = {}): Promise<InlineOutcome> {
  deps.stats.request();
  const version = doc.text.version;
  let outcome = await deps.pipeline.complete({ doc, position, signal: tokenSignal(token), ...ask });
  // An answer for text the document no longer holds is never shown: the editor has moved on (a
  // client that did not cancel, an invoked request overtaken by typing).
  if (outcome.kind === 'completion' && (deps.documents.get(doc.uri) !== doc || doc.text.version !== version)) {
    outcome = { kind: 'empty', reason: `${doc.uri} changed while the request was in flight (version ${version}, now ${deps.documents.get(doc.uri)?.text.version ?? 'closed'}): its answer is dropped`, latencyMs: outcome.latencyMs };
  }
  if (outcome.kind === 'completion') deps.stats.shown(outcome.id, outcome.backend, outcome.local, outcome.latencyMs);
  else if ((outcome.kind === 'empty' || outcome.kind === 'failed') && outcome.deadlineMs !== undefined) deps.stats.deadlineExpired();
  if (outcome.kind === 'empty') deps.logger.debug(`no completion: ${outcome.reason}`);
  return outcome;
}

/**
 * The suggest widget's selected item (`context.selectedCompletionInfo`), checked against the
 * document: its range must lie on the cursor's line, hold the cursor and end within the line. One
 * that does not is a client's error, answered -32602 (a guess at what it meant would put text
 * where the user did not see it).
 */
function selectedItem(doc: Doc, position: Position, params: InlineCompletionParams): { range: Range; text: string } | undefined {
  const sel = params.context?.selectedCompletionInfo;
  if (!sel) return undefined;
  const { start, end } = sel.range;
  const lineText = doc.text.getText({ start: { line: position.line, character: 0 }, end: { line: position.line + 1, character: 0 } }).replace(/\r?\n$/, '');
  const onLine = start.line === position.line && end.line === position.line;
  if (!onLine || start.character > end.character || end.character > lineText.length || position.character < start.character || position.character > end.character) {
    const got = `${start.line}:${start.character}-${end.line}:${end.character}`;
    throw new ResponseError(ErrorCodes.InvalidParams, `textDocument/inlineCompletion: params.context.selectedCompletionInfo.range: expected a range on the cursor's line ${position.line} that holds the cursor (character ${position.character}) and ends within the line's ${lineText.length} characters (got ${got})`);
  }
  return { range: { start, end }, text: sel.text };
}

/** Items for a place where ghost text had nothing (features/nextEdit.ts: the next edit). */
export type WhenEmpty = (doc: Doc, position: Position, token: CancellationToken | undefined) => Promise<InlineCompletionItem[]>;

/**
 * Invoked (the user asked): every distinct candidate, best first, for the editor to cycle through;
 * automatic: one. With a selected suggest item, each item replaces that item's range and starts
 * with its text, as LSP 3.18 asks (and VS Code shows no other while its widget is open).
 */
export async function onInlineCompletion(deps: CompletionFeatureDeps, params: InlineCompletionParams, token?: CancellationToken, whenEmpty?: WhenEmpty): Promise<InlineCompletionList> {
  const { doc, position } = resolveDoc(deps, params);
  const selected = selectedItem(doc, position, params);
  const invoked = params.context?.triggerKind === 1;
  const outcome = await run(deps, doc, position, token, { invoked, ...(selected ? { selected } : {}) });
  // Nothing to show here: the place may still have a next edit (a suggest widget's item asks for text that extends it, never that).
  if (outcome.kind === 'empty' && whenEmpty && !selected && !token?.isCancellationRequested) return { items: await whenEmpty(doc, position, token) };
  if (outcome.kind !== 'completion') return { items: [] };
  // Each item covers the selected item's range (or the cursor) and, past it, the closers the
  // editor put there which the text holds too (`replace`, usually 0).
  const from = selected ? selected.range : { start: position, end: position };
  const range = { start: from.start, end: { line: from.end.line, character: from.end.character + outcome.replace } };
  const command = { title: 'Accept tandem completion', command: ACCEPT_COMMAND, arguments: [{ id: outcome.id }] };
  return { items: [outcome.text, ...outcome.alternatives].map((t) => ({ insertText: (selected?.text ?? '') + t, range, command })) };
}

const WORD_CHAR = /[\p{L}\p{N}_$]/u;

/**
 * For clients without ghost text (Helix, eglot): one completion item whose edit starts at the
 * word being typed, so the client's own filtering keeps it while the user types on.
 */
export async function onCompletion(deps: CompletionFeatureDeps, params: TextDocumentPositionParams & { context?: { triggerKind?: unknown } }, token?: CancellationToken): Promise<CompletionList> {
  const { doc, position } = resolveDoc(deps, params);
  // The list is the user's to choose from: the alternatives, as an invoked inline request gets.
  // A re-request of an incomplete list (3) or after a trigger character (2) narrows what typing
  // started, and asks for one, so typing through a candidate stays an answer from the cache.
  const kind = params.context?.triggerKind;
  const outcome = await run(deps, doc, position, token, { alternatives: kind !== 2 && kind !== 3 });
  if (outcome.kind !== 'completion') return { isIncomplete: true, items: [] };
  const line = doc.text.getText({ start: { line: position.line, character: 0 }, end: position });
  let wordStart = line.length;
  while (wordStart > 0 && WORD_CHAR.test(line[wordStart - 1]!)) wordStart--;
  const word = line.slice(wordStart);
  const command = { title: 'Accept tandem completion', command: ACCEPT_COMMAND, arguments: [{ id: outcome.id }] };
  const labels = new Set<string>();
  const items = [outcome.text, ...outcome.alternatives].map((text, i): CompletionItem => {
    const newText = word + text;
    const firstLine = newText.split('\n')[0]!.trim();
    let label = firstLine.length > 60 ? `${firstLine.slice(0, 59)}…` : firstLine || newText.trim().split('\n')[0]!;
    // Candidates may differ only after their first line; a client may merge items of one label.
    if (labels.has(label)) label = `${label} (${i + 1})`;
    labels.add(label);
    return {
      label,
      kind: CompletionItemKind.Text,
      detail: `tandem (${outcome.backend})`,
      documentation: { kind: 'markdown', value: '```\n' + newText + '\n```' },
      filterText: word + text.split('\n')[0],
      sortText: String(i).padStart(4, '0'),
      ...(i === 0 ? { preselect: true } : {}),
      insertTextFormat: InsertTextFormat.PlainText,
      textEdit: { range: { start: { line: position.line, character: wordStart }, end: { line: position.line, character: position.character + outcome.replace } }, newText },
      command,
    };
  });
  return { isIncomplete: true, items };
}

/**
 * `tandem.accepted` [{id, partial?}]: records an acceptance (unknown ids are ignored); a full one
 * may start the speculative request for what follows it (pipeline/speculate.ts).
 */
export function onAccepted(deps: { stats: Stats; logger: Logger; pipeline: InlinePipeline; documents: DocumentStore }, args: unknown[] | undefined): null {
  const arg = commandArg(ACCEPT_COMMAND, args, AcceptedArgs, 'expected arguments [{"id": "<completion id>", "partial"?: true}]');
  if (arg.partial !== true) deps.pipeline.accepted(arg.id, (uri) => deps.documents.get(uri));
  const counted = deps.stats.accepted(arg.id, arg.partial === true);
  deps.logger.debug(`${arg.partial === true ? 'partial ' : ''}acceptance of ${arg.id}${counted ? '' : ' (unknown id, not counted)'}`);
  return null;
}

/**
 * `tandem.snooze` [minutes] → `{snoozedUntil: ISO 8601 | null}`: inline requests answer empty,
 * asking no backend, until then; 0, null or no argument resumes. `tandem/status` says until when.
 */
export function onSnooze(deps: { snooze: Snooze; logger: Logger }, args: unknown[] | undefined): { snoozedUntil: string | null } {
  const minutes = commandArg(SNOOZE_COMMAND, args, SnoozeArgs, 'expected arguments [minutes] (0, or no arguments: resume now)') ?? 0;
  const until = deps.snooze.set(minutes);
  const snoozedUntil = until === undefined ? null : new Date(until).toISOString();
  deps.logger.info(snoozedUntil ? `inline completions snoozed until ${snoozedUntil}` : 'inline completions resumed');
  return { snoozedUntil };
}
