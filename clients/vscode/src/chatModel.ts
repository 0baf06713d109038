// The Copilot Chat model provider's translations between VS Code's language-model API and tandem's
// chat requests (tandem/chat, tandem/chatModels, tandem/countTokens): plain functions without
// `vscode`, so test/clients/vscode.test.ts runs them. chat.ts wires them to VS Code.

/** One row of `tandem/chatModels`, as the server answers it. */
export interface TandemChatModel {
  /** 'tandem/auto' or 'tandem/<backend>'. */
  id: string;
  name: string;
  backend?: string;
  location: 'onprem' | 'cloud';
  maxInputTokens: number;
  maxOutputTokens: number;
  toolCalling: boolean;
  healthy: boolean;
}

/** VS Code's LanguageModelChatInformation, the fields tandem fills. */
export interface ModelInformation {
  id: string;
  name: string;
  family: string;
  version: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  tooltip: string;
  detail: string;
  capabilities: { toolCalling: boolean; imageInput: boolean };
}

/** A tandem chat message (the server's ChatMessage). */
export interface TandemMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  toolCalls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  toolCallId?: string;
}

/** One streamed piece of a tool call (OpenAI's by-index deltas), as `$/progress` carries them. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/** A `$/progress` value of tandem/chat. */
export interface ChatDelta {
  text?: string;
  toolCalls?: ToolCallDelta[];
}

/** tandem/chat's result (the server's ChatTaskResult). */
export interface ChatResult {
  text: string;
  toolCalls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  finishReason: string | null;
  backend: string;
  model: string;
  location: 'onprem' | 'cloud';
}

/** VS Code's LanguageModelChatMessageRole values. */
export const ROLE = { User: 1, Assistant: 2, System: 3 } as const;
/** VS Code's LanguageModelChatToolMode values. */
export const TOOL_MODE = { Auto: 1, Required: 2 } as const;

export const VENDOR = 'tandem';

/** "tandem · NAME (on-prem)" / "(cloud)": how a model reads in the chat model picker. */
export function pickerName(m: Pick<TandemChatModel, 'name' | 'location'>): string {
  return `tandem · ${m.name} (${m.location === 'cloud' ? 'cloud' : 'on-prem'})`;
}

/** A tandem/chatModels row as VS Code's LanguageModelChatInformation. */
export function modelInformation(m: TandemChatModel): ModelInformation {
  const via = m.backend ? `the backend "${m.backend}"` : "the chat route's first healthy backend that privacy allows";
  return {
    id: m.id,
    name: pickerName(m),
    family: m.id,
    version: m.name,
    maxInputTokens: m.maxInputTokens,
    maxOutputTokens: m.maxOutputTokens,
    tooltip: `tandem: ${via}, through tandem's router and privacy rules${m.healthy ? '' : ' (unhealthy now)'}`,
    detail: m.healthy ? (m.location === 'cloud' ? 'cloud' : 'on-prem') : 'unhealthy',
    capabilities: { toolCalling: m.toolCalling, imageInput: false },
  };
}

/** Reads `tandem/chatModels`' answer; a row that is not a model is left out. */
export function modelsOf(result: unknown): TandemChatModel[] {
  const models = (result as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) return [];
  return models.filter(
    (m): m is TandemChatModel =>
      typeof m === 'object' && m !== null && typeof m.id === 'string' && typeof m.name === 'string' && (m.location === 'onprem' || m.location === 'cloud') && typeof m.maxInputTokens === 'number' && typeof m.maxOutputTokens === 'number',
  );
}

// VS Code's message parts, read by shape (their classes live in the `vscode` module).
type Part = unknown;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isToolResult = (p: Part): p is { callId: string; content: readonly unknown[] } => isObj(p) && typeof p.callId === 'string' && Array.isArray(p.content);
const isToolCall = (p: Part): p is { callId: string; name: string; input: unknown } => isObj(p) && typeof p.callId === 'string' && typeof p.name === 'string' && 'input' in p;
const isText = (p: Part): p is { value: string } => isObj(p) && typeof p.value === 'string' && !('callId' in p);
const isData = (p: Part): p is { mimeType: string; data: Uint8Array } => isObj(p) && typeof p.mimeType === 'string' && p.data instanceof Uint8Array;

/** Text-like data parts (a tool's JSON or plain-text output) are text; images and markers such as Copilot's cache_control are not sent. */
function dataText(p: { mimeType: string; data: Uint8Array }): string | undefined {
  return /^text\/|^application\/json\b/.test(p.mimeType) ? new TextDecoder().decode(p.data) : undefined;
}

/** The text of parts: text, text-like data and (in a tool result) prompt-tsx values as strings. */
export function partsText(parts: readonly Part[]): string {
  let out = '';
  for (const p of parts) {
    if (isToolResult(p) || isToolCall(p)) continue;
    if (isText(p)) out += p.value;
    else if (isData(p)) out += dataText(p) ?? '';
  }
  return out;
}

/**
 * VS Code's request messages as tandem's: a message's text parts are its content; an assistant's
 * tool-call parts its `toolCalls` (input as JSON text); the tool-result parts a user message
 * carries become `tool` messages, placed first (right after the assistant's calls, as OpenAI
 * wants them), the rest of that message's text after them.
 */
export function toTandemMessages(messages: readonly { role: number; content: readonly Part[] }[]): TandemMessage[] {
  const out: TandemMessage[] = [];
  messages.forEach((m, i) => {
    const role = m.role === ROLE.Assistant ? 'assistant' : m.role === ROLE.System ? 'system' : m.role === ROLE.User ? 'user' : undefined;
    if (!role) throw new Error(`tandem: message ${i} has role ${String(m.role)}, which is not User, Assistant or System`);
    for (const p of m.content) {
      if (isToolResult(p)) out.push({ role: 'tool', toolCallId: p.callId, content: partsText(p.content) });
    }
    const text = partsText(m.content);
    const calls = m.content.filter((p) => isToolCall(p) && !isToolResult(p)) as { callId: string; name: string; input: unknown }[];
    if (role === 'assistant' && calls.length > 0) {
      out.push({ role, content: text === '' ? null : text, toolCalls: calls.map((c) => ({ id: c.callId, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.input ?? {}) } })) });
    } else if (text !== '' || !m.content.some(isToolResult)) {
      out.push({ role, content: text });
    }
  });
  return out;
}

/** VS Code's request options (tools, tool mode, model options) as tandem/chat's params. */
export function requestOptions(options: { tools?: readonly { name: string; description?: string; inputSchema?: unknown }[]; toolMode?: number; modelOptions?: Record<string, unknown> }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (options.tools && options.tools.length > 0) {
    out.tools = options.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: isObj(t.inputSchema) ? t.inputSchema : { type: 'object', properties: {} } },
    }));
    if (options.toolMode === TOOL_MODE.Required) out.toolChoice = options.tools.length === 1 ? { type: 'function', function: { name: options.tools[0]!.name } } : 'required';
  }
  const mo = options.modelOptions ?? {};
  const temperature = mo.temperature;
  const maxTokens = mo.maxTokens ?? mo.max_tokens;
  if (typeof temperature === 'number') out.temperature = temperature;
  if (typeof maxTokens === 'number' && Number.isSafeInteger(maxTokens) && maxTokens > 0) out.maxTokens = maxTokens;
  return out;
}

/** A finished tool call's input: its JSON arguments as an object, or an error naming the tool. */
export function toolInput(call: { id: string; function: { name: string; arguments: string } }): object {
  let v: unknown;
  try {
    v = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
  } catch {
    throw new Error(`tandem: the model's call of tool "${call.function.name}" (${call.id}) has arguments that are not JSON: ${call.function.arguments.slice(0, 80)}`);
  }
  if (!isObj(v) || Array.isArray(v)) throw new Error(`tandem: the model's call of tool "${call.function.name}" (${call.id}) has arguments that are not a JSON object`);
  return v;
}

/**
 * Follows one chat's stream: text deltas are shown as they come; tool calls are gathered and
 * handed over whole, when the answer ends (VS Code takes a tool call in one part). `finish` reads
 * the final result: text the stream did not bring (a server that sends no partial results) and
 * the tool calls, taken from the result, which is complete.
 */
export class ChatStream {
  private shown = '';

  constructor(private readonly emitText: (text: string) => void) {}

  delta(d: ChatDelta): void {
    if (typeof d?.text === 'string' && d.text !== '') {
      this.shown += d.text;
      this.emitText(d.text);
    }
  }

  /** The rest of the text, and the tool calls to report. */
  finish(result: ChatResult): { callId: string; name: string; input: object }[] {
    const text = typeof result?.text === 'string' ? result.text : '';
    if (text.startsWith(this.shown) && text.length > this.shown.length) this.emitText(text.slice(this.shown.length));
    return (result?.toolCalls ?? []).map((c) => ({ callId: c.id, name: c.function.name, input: toolInput(c) }));
  }
}

/** The text of a message whose tokens VS Code asks about (a string, or a message's parts). */
export function countText(text: string | { content: readonly Part[] }): string {
  if (typeof text === 'string') return text;
  let out = partsText(text.content);
  for (const p of text.content) {
    if (isToolCall(p) && !isToolResult(p)) out += `${p.name}${JSON.stringify(p.input ?? {})}`;
    if (isToolResult(p)) out += partsText(p.content);
  }
  return out;
}
