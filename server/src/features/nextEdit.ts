// textDocument/copilotInlineEdit and textDocument/didShowInlineEdit, as Copilot's language server
// speaks them: LSP in, the next-edit pipeline's outcome out.
import { ErrorCodes, ResponseError, type CancellationToken, type Command, type Range } from 'vscode-languageserver';
import type { DocumentStore } from '../documents.js';
import type { NextEditPipeline } from '../pipeline/nextEdit.js';
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
