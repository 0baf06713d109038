// textDocument/copilotInlineEdit and textDocument/didShowInlineEdit, as Copilot's language server
// speaks them: LSP in, the next-edit pipeline's outcome out.
import { ErrorCodes, ResponseError, type CancellationToken, type Command, type InlineCompletionItem, type Position, type Range } from 'vscode-languageserver';
import type { Doc, DocumentStore } from '../documents.js';
import type { NextEditPipeline } from '../pipeline/nextEdit.js';
import type { NextEdit } from '../nextEdit/edits.js';
import type { Logger } from '../util/logger.js';
import { commandArg, NextEditAcceptedArgs } from './args.js';
import { tokenSignal } from './inlineCompletion.js';

export const COPILOT_INLINE_EDIT = 'textDocument/copilotInlineEdit';
export const DID_SHOW_INLINE_EDIT = 'textDocument/didShowInlineEdit';
/** `tandem.nextEditAccepted` [{id}]: the command each next-edit item carries; counts an acceptance. */
export const NEXT_EDIT_ACCEPTED_COMMAND = 'tandem.nextEditAccepted';
/**
 * `tandem.nextEditDismissed` [{id}]: a client that shows an edit and lets the user refuse it (Esc,
 * typing elsewhere) says so; Copilot's protocol has no such message, so stock clients never send it.
 */
export const NEXT_EDIT_DISMISSED_COMMAND = 'tandem.nextEditDismissed';

export interface CopilotInlineEditParams {
  textDocument: { uri: string; version: number };
  position: { line: number; character: number };
}

export interface CopilotInlineEdit {
  text: string;
  range: Range;
  textDocument: { uri: string; version: number };
  command: Command;
}

export interface NextEditFeatureDeps {
  documents: DocumentStore;
  pipeline: NextEditPipeline;
  logger: Logger;
}

/**
 * The edits for the document at the version the client names; none for a version the server no
 * longer holds (the client is behind or ahead: its edits would land on other text) or for a
 * document changed while the model answered.
 */
export async function onCopilotInlineEdit(deps: NextEditFeatureDeps, params: CopilotInlineEditParams, token?: CancellationToken): Promise<{ edits: CopilotInlineEdit[] }> {
  const { uri, version } = params.textDocument;
  const doc = deps.documents.get(uri);
  if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `${COPILOT_INLINE_EDIT}: params.textDocument.uri: unknown document ${uri}: open it with textDocument/didOpen first`);
  if (doc.text.version !== version) {
    deps.logger.debug(`next edit for ${uri} version ${version}, but the document is at ${doc.text.version}: none`);
    return { edits: [] };
  }
  const position = doc.text.positionAt(doc.text.offsetAt(params.position));
  const outcome = await deps.pipeline.suggest({ doc, position, ...(token ? { signal: tokenSignal(token)! } : {}) });
  if (outcome.kind !== 'edits') {
    if (outcome.kind === 'empty') deps.logger.debug(`no next edit: ${outcome.reason}`);
    if (outcome.kind === 'failed') deps.logger.debug(`no next edit: ${outcome.backend} failed: ${outcome.failure.message}`);
    return { edits: [] };
  }
  if (deps.documents.get(uri) !== doc || doc.text.version !== outcome.version) return { edits: [] };
  return {
    edits: outcome.edits.map((e) => {
      const id = deps.pipeline.remember(outcome.model);
      return {
        text: e.text,
        range: { start: doc.text.positionAt(e.start), end: doc.text.positionAt(e.end) },
        textDocument: { uri, version },
        command: { title: 'Accept next edit', command: NEXT_EDIT_ACCEPTED_COMMAND, arguments: [{ id }] },
      };
    }),
  };
}

/**
 * The next edit as LSP 3.18 inline completion items, for editors without Copilot's request (asked
 * where ghost text had nothing, `inline.nextEdits`). An item replaces a range that LSP 3.18 says
 * must begin and end on one line, and several items are alternatives, not parts of one change: so
 * the item is the suggestion's first edit that stays on one line, with the others on that line
 * merged into it; the rest (and an edit that joins or removes lines) is not offered, and the next
 * request, made once the user has taken this one, can suggest it again. The item's command is the
 * accept command of copilotInlineEdit's edits; LSP 3.18 has no message for an item shown.
 */
export async function nextEditInlineItems(deps: NextEditFeatureDeps, doc: Doc, position: Position, token: CancellationToken | undefined): Promise<InlineCompletionItem[]> {
  const version = doc.text.version;
  const outcome = await deps.pipeline.suggest({ doc, position, ...(token ? { signal: tokenSignal(token)! } : {}) });
  if (outcome.kind !== 'edits') {
    if (outcome.kind === 'empty') deps.logger.debug(`no next edit: ${outcome.reason}`);
    if (outcome.kind === 'failed') deps.logger.debug(`no next edit: ${outcome.backend} failed: ${outcome.failure.message}`);
    return [];
  }
  if (deps.documents.get(doc.uri) !== doc || doc.text.version !== version || outcome.version !== version) return [];
  const line = (offset: number) => doc.text.positionAt(offset).line;
  const first = outcome.edits.find((e) => line(e.start) === line(e.end));
  if (!first) {
    deps.logger.debug('no next edit as an inline completion item: each of its edits spans lines, which an LSP 3.18 item cannot replace');
    return [];
  }
  const same = outcome.edits.filter((e) => line(e.start) === line(first.start) && line(e.end) === line(first.start));
  // The text between the edits, read from that one line rather than the whole document joined.
  const lineStart = doc.text.offsetAt({ line: line(first.start), character: 0 });
  const merged = mergeEdits(doc.text.getText({ start: { line: line(first.start), character: 0 }, end: { line: line(first.start) + 1, character: 0 } }), lineStart, same);
  const id = deps.pipeline.remember(outcome.model);
  return [
    {
      insertText: merged.text,
      range: { start: doc.text.positionAt(merged.start), end: doc.text.positionAt(merged.end) },
      command: { title: 'Accept next edit', command: NEXT_EDIT_ACCEPTED_COMMAND, arguments: [{ id }] },
    },
  ];
}

/**
 * Edits that do not overlap, as one: from the first one's start to the last one's end, with the
 * text between them kept. `text` is the document's text from offset `base` on, covering the edits.
 */
export function mergeEdits(text: string, base: number, edits: NextEdit[]): NextEdit {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  let out = '';
  let at = sorted[0]!.start;
  for (const e of sorted) {
    out += text.slice(at - base, e.start - base) + e.text;
    at = e.end;
  }
  return { start: sorted[0]!.start, end: at, text: out };
}

/** The client showed an edit: counted by the id its command carries (an item without one is ignored). */
export function onDidShowInlineEdit(deps: NextEditFeatureDeps, params: { item: { command?: { arguments?: unknown[] } } }): void {
  const arg = params.item.command?.arguments?.[0] as { id?: unknown } | undefined;
  if (typeof arg?.id === 'string') deps.pipeline.shown(arg.id);
}

export function onNextEditAccepted(deps: NextEditFeatureDeps, args: unknown[] | undefined): null {
  const { id } = commandArg(NEXT_EDIT_ACCEPTED_COMMAND, args, NextEditAcceptedArgs, 'expected [{"id": ...}] as the edit\'s command carries it');
  deps.pipeline.accepted(id);
  return null;
}

export function onNextEditDismissed(deps: NextEditFeatureDeps, args: unknown[] | undefined): null {
  const { id } = commandArg(NEXT_EDIT_DISMISSED_COMMAND, args, NextEditAcceptedArgs, 'expected [{"id": ...}] as the edit\'s command carries it');
  deps.pipeline.dismissed(id);
  return null;
}
