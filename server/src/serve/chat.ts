// POST /v1/chat/completions on the chat pipeline: the request in, OpenAI's answer or event stream out.
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Outcome, ToolCall, ToolCallDelta } from '../models/types.js';
import { openAIChatRequest, parseChatRequest, type ChatPipeline, type ChatTaskRequest, type ChatTaskResult } from '../pipeline/chat.js';
import { fromFailure, sendError, sendJson } from './errors.js';
import { SseWriter } from './sse.js';
import type { ChatBody } from './validate.js';

/** What serve uses of the chat pipeline (pipeline/chat.ts). */
export type ChatService = Pick<ChatPipeline, 'run'>;

/**
 * The request the pipeline takes, from the wire's: the body, checked by `chatBody` for what is
 * OpenAI's own (stream, n, content parts, `developer`), goes through the pipeline's own reading of
 * an OpenAI body (`openAIChatRequest`, the same checks as every chat request), so that whatever the
 * pipeline relies on holds here too. A failure names the field as OpenAI spells it.
 */
export function taskRequest(raw: Record<string, unknown>, body: ChatBody): Outcome<ChatTaskRequest> {
  const r = openAIChatRequest({
    ...raw,
    model: body.model,
    messages: (raw.messages as unknown[]).map((m, i) => (body.messages[i]!.role === 'system' && (m as { role?: unknown }).role === 'developer' ? { ...(m as object), role: 'system' } : m)),
  });
  if (!r.ok) return r;
  // tandem's own fields, beyond OpenAI's: workspace files or ranges whose text is added, and the
  // definitions they use (as in the LSP request; checked and named the same way).
  if ((raw.references !== undefined && raw.references !== null) || (raw.definitions !== undefined && raw.definitions !== null)) {
    const extra = parseChatRequest({ messages: [{ role: 'user', content: '' }], references: raw.references, definitions: raw.definitions }, 'serve');
    if (!extra.ok) return extra;
    if (extra.value.references) r.value.references = extra.value.references;
    if (extra.value.definitions !== undefined) r.value.definitions = extra.value.definitions;
  }
  return r;
}

/** Ids unique to this process and across restarts: a random prefix per process, then a counter. */
const ID_PREFIX = randomBytes(6).toString('hex');
let idCount = 0;
export function completionId(kind: 'chatcmpl' | 'cmpl'): string {
  return `${kind}-${ID_PREFIX}${(++idCount).toString(16).padStart(8, '0')}`;
}

const wireCall = (c: ToolCall) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } });
const wireDelta = (d: ToolCallDelta) => ({ index: d.index, ...(d.id ? { id: d.id, type: 'function' } : {}), ...(d.function ? { function: { ...(d.function.name !== undefined ? { name: d.function.name } : {}), ...(d.function.arguments !== undefined ? { arguments: d.function.arguments } : {}) } } : {}) });

export async function runChat(chat: ChatService, req: ChatTaskRequest, body: ChatBody, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const cid = completionId('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  const usageOf = (r: ChatTaskResult) => (r.usage ? { prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens, total_tokens: r.usage.promptTokens + r.usage.completionTokens } : undefined);
  if (!body.stream) {
    const o = await chat.run(req, { signal });
    if (!o.ok) {
      if (!(o.failure.kind === 'cancelled' && res.destroyed)) sendError(res, fromFailure(o.failure));
      return;
    }
    const r = o.value;
    const message = { role: 'assistant', content: r.text === '' && r.toolCalls?.length ? null : r.text, refusal: null, ...(r.toolCalls?.length ? { tool_calls: r.toolCalls.map(wireCall) } : {}) };
    const usage = usageOf(r);
    sendJson(res, 200, { id: cid, object: 'chat.completion', created, model: body.model, choices: [{ index: 0, message, logprobs: null, finish_reason: r.finishReason ?? 'stop' }], ...(usage ? { usage } : {}) });
    return;
  }
  const sse = new SseWriter(res);
  // With include_usage every chunk carries `"usage": null`, and a last one with no choices the usage.
  const extra = body.includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({ id: cid, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
  const role = () => chunk({ role: 'assistant', content: '', refusal: null }, null);
  const o = await chat.run(req, {
    signal,
    onDelta: (d) => {
      if (sse.closed) return;
      const out: unknown[] = sse.isStarted ? [] : [role()];
      if (d.text) out.push(chunk({ content: d.text }, null));
      if (d.toolCalls?.length) out.push(chunk({ tool_calls: d.toolCalls.map(wireDelta) }, null));
      if (out.length > 0) sse.event(...out);
    },
  });
  if (!o.ok) {
    if (o.failure.kind === 'cancelled' && res.destroyed) return;
    if (sse.isStarted) sse.fail(fromFailure(o.failure));
    else sendError(res, fromFailure(o.failure));
    return;
  }
  // The end in one write: the finish chunk, the usage chunk when asked for, [DONE].
  const tail: unknown[] = sse.isStarted ? [] : [role()];
  tail.push(chunk({}, o.value.finishReason ?? 'stop'));
  if (body.includeUsage) tail.push({ id: cid, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage: usageOf(o.value) ?? null });
  sse.done(...tail);
}
