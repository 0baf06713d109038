// tandem/chat, tandem/chatModels and tandem/countTokens: LSP in, ChatPipeline, LSP out.
import { ErrorCodes, LSPErrorCodes, ResponseError, type CancellationToken } from 'vscode-languageserver';
import type { ChatDelta, ChatModelInfo, ChatPipeline, ChatTaskRequest, ChatTaskResult } from '../pipeline/chat.js';
import type { BackendFailure } from '../models/types.js';
import type { Logger } from '../util/logger.js';

export const CHAT_METHOD = 'tandem/chat';
export const CHAT_MODELS_METHOD = 'tandem/chatModels';
export const CHAT_MODELS_CHANGED = 'tandem/chatModelsChanged';
export const COUNT_TOKENS_METHOD = 'tandem/countTokens';

export interface ChatFeatureDeps {
  chat: ChatPipeline;
  logger: Logger;
  /** `$/progress` with the request's partialResultToken. */
  progress: (token: string | number, value: ChatDelta) => void;
}

/** A CancellationToken as an AbortSignal: `$/cancelRequest` aborts the backend's request. */
function signalOf(token: CancellationToken): { signal: AbortSignal; dispose: () => void } {
  const ctrl = new AbortController();
  if (token.isCancellationRequested) ctrl.abort(new DOMException('cancelled', 'AbortError'));
  const sub = token.onCancellationRequested(() => ctrl.abort(new DOMException('cancelled', 'AbortError')));
  return { signal: ctrl.signal, dispose: () => sub.dispose() };
}

/** A pipeline failure as an LSP error: bad input -32602, cancelled -32800, the rest -32803 with its kind. */
function failed(method: string, f: BackendFailure): ResponseError<{ kind: string }> {
  if (f.kind === 'bad_request' && f.param !== undefined) {
    return new ResponseError(ErrorCodes.InvalidParams, `${method}: params.${f.message}`, { kind: f.kind });
  }
  if (f.kind === 'cancelled') return new ResponseError(LSPErrorCodes.RequestCancelled, `${method}: cancelled`, { kind: f.kind });
  return new ResponseError(LSPErrorCodes.RequestFailed, `${method}: ${f.kind}: ${f.message}`, { kind: f.kind });
}

export async function onChat(deps: ChatFeatureDeps, p: { request: ChatTaskRequest; partialResultToken?: string | number }, token: CancellationToken): Promise<ChatTaskResult> {
  const { signal, dispose } = signalOf(token);
  try {
    const partial = p.partialResultToken;
    const r = await deps.chat.run(p.request, { signal, ...(partial !== undefined ? { onDelta: (d: ChatDelta) => deps.progress(partial, d) } : {}) });
    if (!r.ok) throw failed(CHAT_METHOD, r.failure);
    return r.value;
  } finally {
    dispose();
  }
}

export async function onChatModels(deps: ChatFeatureDeps, token: CancellationToken): Promise<{ models: ChatModelInfo[] }> {
  const { signal, dispose } = signalOf(token);
  try {
    return { models: await deps.chat.models(signal) };
  } finally {
    dispose();
  }
}

export async function onCountTokens(deps: ChatFeatureDeps, p: { model: string; text: string }, token: CancellationToken): Promise<{ tokens: number }> {
  const { signal, dispose } = signalOf(token);
  try {
    const r = await deps.chat.countTokens(p.model, p.text, signal);
    if (!r.ok) throw failed(COUNT_TOKENS_METHOD, r.failure);
    return { tokens: r.value };
  } finally {
    dispose();
  }
}
