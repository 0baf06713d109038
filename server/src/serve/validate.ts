// The checks of a request's JSON against OpenAI's API, each failure naming the field as OpenAI's
// own errors do (`messages[2].role`), and the request turned into plain values.
import { ApiError, badParam } from './errors.js';

export const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface WireMessage {
  /** `developer` (OpenAI's newer name for system) is read as `system`. */
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  name?: string;
  toolCalls?: WireToolCall[];
  toolCallId?: string;
}

export interface WireTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export interface ChatBody {
  model: string;
  messages: WireMessage[];
  tools?: WireTool[];
  toolChoice?: unknown;
  stream: boolean;
  includeUsage: boolean;
  maxTokens?: number;
  temperature?: number;
}

export interface CompletionBody {
  model: string;
  prompt: string;
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number;
  temperature?: number;
  stop: string[];
}

/** OpenAI's default max_tokens for /v1/completions. */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v === 'string' ? `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}` : `${typeof v} ${String(v)}`);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badParam(key, `expected true or false, got ${kind(v)}`);
  return v;
}

function optPositiveInt(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw badParam(key, `expected a whole number of at least 1, got ${kind(v)}`);
  return v;
}

function temperature(body: Record<string, unknown>): number | undefined {
  const v = body.temperature;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 2) throw badParam('temperature', `expected a number from 0 to 2, got ${kind(v)}`);
  return v;
}

function model(body: Record<string, unknown>): string {
  const v = body.model;
  if (v === undefined || v === null) return 'tandem/auto';
  if (typeof v !== 'string' || v === '') throw badParam('model', `expected a model id such as "tandem/auto" (GET /v1/models lists them), got ${kind(v)}`);
  return v;
}

function streamOptions(body: Record<string, unknown>, stream: boolean): boolean {
  const v = body.stream_options;
  if (v === undefined || v === null) return false;
  if (!isObject(v)) throw badParam('stream_options', `expected an object such as {"include_usage": true}, got ${kind(v)}`);
  if (!stream) throw badParam('stream_options', 'only allowed when stream is true');
  const u = v.include_usage;
  if (u !== undefined && u !== null && typeof u !== 'boolean') throw badParam('stream_options.include_usage', `expected true or false, got ${kind(u)}`);
  return u === true;
}

function onlyOne(body: Record<string, unknown>, key: string): void {
  const v = body[key];
  if (v === undefined || v === null || v === 1) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw badParam(key, `expected a whole number of at least 1, got ${kind(v)}`);
  throw badParam(key, `tandem answers one choice per request; ${key} must be 1, got ${v}`, 'unsupported_value');
}

/** A message's content as text: a string, null, or a list of text parts (joined). */
function content(v: unknown, at: string, mayBeNull: boolean): string | null {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) {
    if (mayBeNull) return null;
    throw badParam(at, v === null ? 'must not be null for this role' : 'is missing');
  }
  if (!Array.isArray(v)) throw badParam(at, `expected a string or a list of content parts, got ${kind(v)}`);
  const texts: string[] = [];
  v.forEach((part, i) => {
    const p = `${at}[${i}]`;
    if (!isObject(part)) throw badParam(p, `expected a content part object, got ${kind(part)}`);
    if (part.type !== 'text') throw badParam(`${p}.type`, `only text parts are supported, got ${kind(part.type)}`, 'unsupported_value');
    if (typeof part.text !== 'string') throw badParam(`${p}.text`, `expected a string, got ${kind(part.text)}`);
    texts.push(part.text);
  });
  return texts.join('');
}

function toolCalls(v: unknown, at: string): WireToolCall[] {
  if (!Array.isArray(v)) throw badParam(at, `expected a list of tool calls, got ${kind(v)}`);
  return v.map((c, i) => {
    const p = `${at}[${i}]`;
    if (!isObject(c)) throw badParam(p, `expected a tool call object, got ${kind(c)}`);
    if (typeof c.id !== 'string' || c.id === '') throw badParam(`${p}.id`, `expected the call's id (a string), got ${kind(c.id)}`);
    if (c.type !== undefined && c.type !== 'function') throw badParam(`${p}.type`, `expected "function", got ${kind(c.type)}`);
    const f = c.function;
    if (!isObject(f)) throw badParam(`${p}.function`, `expected {"name", "arguments"}, got ${kind(f)}`);
    if (typeof f.name !== 'string' || f.name === '') throw badParam(`${p}.function.name`, `expected a string, got ${kind(f.name)}`);
    if (typeof f.arguments !== 'string') throw badParam(`${p}.function.arguments`, `expected the arguments as a JSON string, got ${kind(f.arguments)}`);
    return { id: c.id, type: 'function' as const, function: { name: f.name, arguments: f.arguments } };
  });
}

function messages(body: Record<string, unknown>): WireMessage[] {
  const v = body.messages;
  if (v === undefined) throw badParam('messages', 'is missing: expected a list of messages');
  if (!Array.isArray(v)) throw badParam('messages', `expected a list of messages, got ${kind(v)}`);
  if (v.length === 0) throw badParam('messages', 'expected at least one message');
  return v.map((m, i): WireMessage => {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw badParam(at, `expected a message object, got ${kind(m)}`);
    const role = m.role;
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw badParam(`${at}.role`, `${role === undefined ? 'is missing' : `${JSON.stringify(role)} is not one of ${ROLES.join(', ')}`}`);
    if (m.name !== undefined && typeof m.name !== 'string') throw badParam(`${at}.name`, `expected a string, got ${kind(m.name)}`);
    const name = typeof m.name === 'string' ? { name: m.name } : {};
    if (role === 'assistant') {
      const calls = m.tool_calls === undefined || m.tool_calls === null ? undefined : toolCalls(m.tool_calls, `${at}.tool_calls`);
      const text = content(m.content, `${at}.content`, true);
      return { role, content: text, ...name, ...(calls && calls.length > 0 ? { toolCalls: calls } : {}) };
    }
    if (role === 'tool') {
      if (typeof m.tool_call_id !== 'string' || m.tool_call_id === '') throw badParam(`${at}.tool_call_id`, `expected the id of the tool call this answers, got ${m.tool_call_id === undefined ? 'nothing' : kind(m.tool_call_id)}`);
      return { role, content: content(m.content, `${at}.content`, false), toolCallId: m.tool_call_id };
    }
    return { role: role === 'developer' ? 'system' : (role as 'system' | 'user'), content: content(m.content, `${at}.content`, false), ...name };
  });
}

function tools(body: Record<string, unknown>): WireTool[] | undefined {
  const v = body.tools;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badParam('tools', `expected a list of tools, got ${kind(v)}`);
  const seen = new Set<string>();
  return v.map((t, i) => {
    const at = `tools[${i}]`;
    if (!isObject(t)) throw badParam(at, `expected a tool object, got ${kind(t)}`);
    if (t.type !== 'function') throw badParam(`${at}.type`, `expected "function", got ${t.type === undefined ? 'nothing' : kind(t.type)}`);
    const f = t.function;
    if (!isObject(f)) throw badParam(`${at}.function`, `expected {"name", "description", "parameters"}, got ${f === undefined ? 'nothing' : kind(f)}`);
    if (typeof f.name !== 'string' || !FUNCTION_NAME.test(f.name)) throw badParam(`${at}.function.name`, `expected 1 to 64 characters of a-z, A-Z, 0-9, _ and -, got ${f.name === undefined ? 'nothing' : kind(f.name)}`);
    if (seen.has(f.name)) throw badParam(`${at}.function.name`, `${JSON.stringify(f.name)} is named by an earlier tool too`);
    seen.add(f.name);
    if (f.description !== undefined && typeof f.description !== 'string') throw badParam(`${at}.function.description`, `expected a string, got ${kind(f.description)}`);
    if (f.parameters !== undefined) {
      if (!isObject(f.parameters)) throw badParam(`${at}.function.parameters`, `expected a JSON Schema object, got ${kind(f.parameters)}`);
      const type = f.parameters.type;
      if (type !== undefined && type !== 'object') throw badParam(`${at}.function.parameters.type`, `a function's parameters are an object schema: expected "object", got ${kind(type)}`);
      if (f.parameters.properties !== undefined && !isObject(f.parameters.properties)) throw badParam(`${at}.function.parameters.properties`, `expected an object of property schemas, got ${kind(f.parameters.properties)}`);
      if (f.parameters.required !== undefined && !(Array.isArray(f.parameters.required) && f.parameters.required.every((r) => typeof r === 'string'))) throw badParam(`${at}.function.parameters.required`, `expected a list of property names, got ${kind(f.parameters.required)}`);
    }
    if (f.strict !== undefined && f.strict !== null && typeof f.strict !== 'boolean') throw badParam(`${at}.function.strict`, `expected true or false, got ${kind(f.strict)}`);
    const fn: WireTool['function'] = { name: f.name };
    if (typeof f.description === 'string') fn.description = f.description;
    if (f.parameters !== undefined) fn.parameters = f.parameters as Record<string, unknown>;
    if (typeof f.strict === 'boolean') fn.strict = f.strict;
    return { type: 'function' as const, function: fn };
  });
}

function toolChoice(body: Record<string, unknown>, declared: WireTool[] | undefined): unknown {
  const v = body.tool_choice;
  if (v === undefined || v === null) return undefined;
  if (v === 'none' || v === 'auto' || v === 'required') {
    if (v === 'required' && !declared?.length) throw badParam('tool_choice', '"required" needs at least one tool in tools');
    return v;
  }
  if (isObject(v) && v.type === 'function' && isObject(v.function) && typeof v.function.name === 'string') {
    if (!declared?.some((t) => t.function.name === (v.function as { name: string }).name)) throw badParam('tool_choice.function.name', `${JSON.stringify(v.function.name)} is not one of the tools`);
    return v;
  }
  throw badParam('tool_choice', `expected "none", "auto", "required" or {"type": "function", "function": {"name": …}}, got ${kind(v)}`);
}

/** POST /v1/chat/completions. */
export function chatBody(body: Record<string, unknown>): ChatBody {
  const m = model(body);
  const msgs = messages(body);
  const t = tools(body);
  const choice = toolChoice(body, t);
  onlyOne(body, 'n');
  const stream = optBool(body, 'stream') ?? false;
  const includeUsage = streamOptions(body, stream);
  const maxTokens = optPositiveInt(body, 'max_completion_tokens') ?? optPositiveInt(body, 'max_tokens');
  const temp = temperature(body);
  return { model: m, messages: msgs, ...(t ? { tools: t } : {}), ...(choice !== undefined ? { toolChoice: choice } : {}), stream, includeUsage, ...(maxTokens !== undefined ? { maxTokens } : {}), ...(temp !== undefined ? { temperature: temp } : {}) };
}

/** POST /v1/completions: one prompt, sent as it is. */
export function completionBody(body: Record<string, unknown>): CompletionBody {
  const m = model(body);
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
  if (prompt === undefined) throw badParam('prompt', 'is missing: expected a string');
  if (typeof prompt !== 'string') throw badParam('prompt', `expected one string (not token ids or a batch), got ${kind(prompt)}`);
  if (body.suffix !== undefined && body.suffix !== null) throw badParam('suffix', 'is not supported: send the prompt rendered with the model\'s fill-in-the-middle tokens', 'unsupported_value');
  if (body.echo === true) throw badParam('echo', 'is not supported', 'unsupported_value');
  onlyOne(body, 'n');
  onlyOne(body, 'best_of');
  const stream = optBool(body, 'stream') ?? false;
  const includeUsage = streamOptions(body, stream);
  const maxTokens = optPositiveInt(body, 'max_tokens') ?? COMPLETIONS_DEFAULT_MAX_TOKENS;
  const temp = temperature(body);
  let stop: string[] = [];
  const s = body.stop;
  if (typeof s === 'string') stop = [s];
  else if (Array.isArray(s)) {
    s.forEach((x, i) => {
      if (typeof x !== 'string') throw badParam(`stop[${i}]`, `expected a string, got ${kind(x)}`);
    });
    stop = (s as string[]).filter((x) => x !== '');
  } else if (s !== undefined && s !== null) throw badParam('stop', `expected a string or a list of strings, got ${kind(s)}`);
  return { model: m, prompt, stream, includeUsage, maxTokens, ...(temp !== undefined ? { temperature: temp } : {}), stop };
}

/** Which backend a model id pins: undefined for `tandem/auto`; an ApiError (404) for an id that is not tandem's. */
export function pinnedBackend(modelId: string, backends: readonly string[]): string | undefined {
  if (modelId === 'tandem/auto') return undefined;
  const name = modelId.startsWith('tandem/') ? modelId.slice('tandem/'.length) : undefined;
  if (name !== undefined && backends.includes(name)) return name;
  throw new ApiError(404, `The model \`${modelId}\` does not exist: tandem serves tandem/auto and ${backends.map((b) => `tandem/${b}`).join(', ')} (GET /v1/models lists them)`, 'invalid_request_error', 'model', 'model_not_found');
}
