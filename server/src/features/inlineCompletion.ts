// textDocument/inlineCompletion and the textDocument/completion fallback: LSP in, pipeline outcome out.
import {
  CompletionItemKind,
  ErrorCodes,
  InsertTextFormat,
  ResponseError,
  type CancellationToken,
  type CompletionItem,
  type CompletionList,
  type InlineCompletionList,
  type Position,
  type TextDocumentPositionParams,
} from 'vscode-languageserver';
import type { DocumentStore, Doc } from '../documents.js';
import type { InlineOutcome, InlinePipeline } from '../pipeline/inline.js';
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

async function run(deps: CompletionFeatureDeps, doc: Doc, position: Position, token: CancellationToken | undefined): Promise<InlineOutcome> {
  deps.stats.request();
  const outcome = await deps.pipeline.complete({ doc, position, signal: tokenSignal(token) });
  if (outcome.kind === 'completion') deps.stats.shown(outcome.id, outcome.backend, outcome.local, outcome.latencyMs);
  else if ((outcome.kind === 'empty' || outcome.kind === 'failed') && outcome.deadlineMs !== undefined) deps.stats.deadlineExpired();
  if (outcome.kind === 'empty') deps.logger.debug(`no completion: ${outcome.reason}`);
  return outcome;
}

export async function onInlineCompletion(deps: CompletionFeatureDeps, params: TextDocumentPositionParams, token?: CancellationToken): Promise<InlineCompletionList> {
  const { doc, position } = resolveDoc(deps, params);
  const outcome = await run(deps, doc, position, token);
  if (outcome.kind !== 'completion') return { items: [] };
  return {
    items: [
      {
        insertText: outcome.text,
        // Past the cursor only over closers the editor put there, which the text holds too.
        range: { start: position, end: { line: position.line, character: position.character + outcome.replace } },
        command: { title: 'Accept tandem completion', command: ACCEPT_COMMAND, arguments: [{ id: outcome.id }] },
      },
    ],
  };
}

const WORD_CHAR = /[\p{L}\p{N}_$]/u;

/**
 * For clients without ghost text (Helix, eglot): one completion item whose edit starts at the
 * word being typed, so the client's own filtering keeps it while the user types on.
 */
export async function onCompletion(deps: CompletionFeatureDeps, params: TextDocumentPositionParams, token?: CancellationToken): Promise<CompletionList> {
  const { doc, position } = resolveDoc(deps, params);
  const outcome = await run(deps, doc, position, token);
  if (outcome.kind !== 'completion') return { isIncomplete: true, items: [] };
  const line = doc.text.getText({ start: { line: position.line, character: 0 }, end: position });
  let wordStart = line.length;
  while (wordStart > 0 && WORD_CHAR.test(line[wordStart - 1]!)) wordStart--;
  const word = line.slice(wordStart);
  const newText = word + outcome.text;
  const firstLine = newText.split('\n')[0]!.trim();
  const label = firstLine.length > 60 ? `${firstLine.slice(0, 59)}…` : firstLine || newText.trim().split('\n')[0]!;
  const item: CompletionItem = {
    label,
    kind: CompletionItemKind.Text,
    detail: `tandem (${outcome.backend})`,
    documentation: { kind: 'markdown', value: '```\n' + newText + '\n```' },
    filterText: word + outcome.text.split('\n')[0],
    sortText: '0000',
    preselect: true,
    insertTextFormat: InsertTextFormat.PlainText,
    textEdit: { range: { start: { line: position.line, character: wordStart }, end: { line: position.line, character: position.character + outcome.replace } }, newText },
    command: { title: 'Accept tandem completion', command: ACCEPT_COMMAND, arguments: [{ id: outcome.id }] },
  };
  return { isIncomplete: true, items: [item] };
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
