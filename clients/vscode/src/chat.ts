// tandem's models in VS Code's chat (Copilot Chat's model picker, and `vscode.lm` for any
// extension): a LanguageModelChatProvider whose every request is the server's tandem/chat LSP
// request, streamed through `$/progress` and cancelled with `$/cancelRequest`. The model list is
// tandem/chatModels, refreshed on tandem/chatModelsChanged. Routing, privacy, references and
// tokenizers stay in the server.
//
// The API is VS Code 1.104's; the extension runs on 1.96 too, so it is looked up at run time and
// its types are declared here (the @types/vscode the extension builds against is 1.96's).
import * as vscode from 'vscode';
import { ProgressType, type LanguageClient } from 'vscode-languageclient/node';
import { ChatStream, countText, modelInformation, modelsOf, requestOptions, toTandemMessages, VENDOR, type ChatDelta, type ChatResult, type ModelInformation } from './chatModel.js';

/** The parts of the language-model API the provider uses (VS Code 1.104+). */
interface LmApi {
  lm?: { registerLanguageModelChatProvider?: (vendor: string, provider: Provider) => vscode.Disposable };
  LanguageModelTextPart?: new (value: string) => unknown;
  LanguageModelToolCallPart?: new (callId: string, name: string, input: object) => unknown;
  CancellationError?: new () => Error;
}

interface RequestMessage {
  role: number;
  content: readonly unknown[];
}

interface Provider {
  onDidChangeLanguageModelChatInformation: vscode.Event<void>;
  provideLanguageModelChatInformation(options: { silent: boolean }, token: vscode.CancellationToken): Promise<ModelInformation[]>;
  provideLanguageModelChatResponse(model: ModelInformation, messages: readonly RequestMessage[], options: { tools?: readonly { name: string; description?: string; inputSchema?: unknown }[]; toolMode?: number; modelOptions?: Record<string, unknown> }, progress: vscode.Progress<unknown>, token: vscode.CancellationToken): Promise<void>;
  provideTokenCount(model: ModelInformation, text: string | RequestMessage, token: vscode.CancellationToken): Promise<number>;
}

const chatDelta = new ProgressType<ChatDelta>();
let requests = 0;

/** `error.code` of a cancelled LSP request (LSP's RequestCancelled). */
const REQUEST_CANCELLED = -32800;

/**
 * Registers the provider when this VS Code has the API (else says so in the channel and does
 * nothing). `ready` resolves once the client has started.
 */
export function registerChatProvider(client: LanguageClient, ready: Promise<unknown>, channel: vscode.LogOutputChannel): vscode.Disposable[] {
  const api = vscode as unknown as LmApi;
  const TextPart = api.LanguageModelTextPart;
  const ToolCallPart = api.LanguageModelToolCallPart;
  const register = api.lm?.registerLanguageModelChatProvider;
  if (!register || !TextPart || !ToolCallPart) {
    channel.info(`chat models: not offered (VS Code ${vscode.version} has no language model chat provider API; 1.104 or newer has)`);
    return [];
  }
  const changed = new vscode.EventEmitter<void>();
  const provider: Provider = {
    onDidChangeLanguageModelChatInformation: changed.event,

    async provideLanguageModelChatInformation(_options, token) {
      await ready;
      if (!client.isRunning()) return [];
      return modelsOf(await client.sendRequest('tandem/chatModels', {}, token)).map(modelInformation);
    },

    async provideLanguageModelChatResponse(model, messages, options, progress, token) {
      await ready;
      const partialResultToken = `tandem-chat-${process.pid}-${++requests}`;
      const stream = new ChatStream((text) => progress.report(new TextPart(text)));
      const sub = client.onProgress(chatDelta, partialResultToken, (d) => stream.delta(d));
      try {
        const params = { messages: toTandemMessages(messages), model: model.id, ...requestOptions(options), partialResultToken };
        const result = await client.sendRequest<ChatResult>('tandem/chat', params, token);
        for (const c of stream.finish(result)) progress.report(new ToolCallPart(c.callId, c.name, c.input));
      } catch (err) {
        if (token.isCancellationRequested || (err as { code?: unknown })?.code === REQUEST_CANCELLED) throw api.CancellationError ? new api.CancellationError() : err;
        throw err instanceof Error ? err : new Error(String(err));
      } finally {
        sub.dispose();
      }
    },

    async provideTokenCount(model, text, token) {
      await ready;
      const r = await client.sendRequest<{ tokens?: unknown }>('tandem/countTokens', { model: model.id, text: countText(text) }, token);
      return typeof r?.tokens === 'number' ? r.tokens : 0;
    },
  };
  const subs: vscode.Disposable[] = [changed, register(VENDOR, provider)];
  // The list follows the server: its notice, and a (re)start of the server itself.
  subs.push(
    client.onNotification('tandem/chatModelsChanged', () => changed.fire()),
    client.onDidChangeState(() => changed.fire()),
  );
  channel.info('chat models: offered to VS Code\'s chat (vendor "tandem")');
  return subs;
}
