// Backend of kind `ollama`: /api/generate (the server's own FIM with `suffix` when the model has
// the `insert` capability, else our rendered prompt with `raw`), /api/chat, /api/show, /api/tags.
import { streamErrorFailure, toFailure } from './errors.js';
import { FALLBACK_CONTEXT_WINDOW, HttpBackend } from './httpBackend.js';
import { ndjson, ToolCallAssembler } from './streams.js';
import { messageText, type ChatMessage, type ChatRequest, type ChatResult, type FimRequest, type FimResult, type ModelInfo, type Outcome } from './types.js';

/** Ollama's chat messages: a tool call's arguments as an object, a tool's answer with `tool_name`. */
export function ollamaMessages(messages: readonly ChatMessage[]): Record<string, unknown>[] {
  const names = new Map<string, string>();
  return messages.map((m) => {
    const out: Record<string, unknown> = { role: m.role, content: m.content ?? '' };
    if (m.toolCalls && m.toolCalls.length > 0) {
      out.tool_calls = m.toolCalls.map((c) => {
        names.set(c.id, c.function.name);
        let args: unknown;
        try {
          args = JSON.parse(c.function.arguments);
        } catch {
          args = {};
        }
        return { function: { name: c.function.name, arguments: args } };
      });
    }
    if (m.role === 'tool') {
      const name = m.name ?? (m.toolCallId !== undefined ? names.get(m.toolCallId) : undefined);
      if (name) out.tool_name = name;
    }
    return out;
  });
}

/**
 * `keep_alive` of each request: only where the backend's `keepAlive` is configured. Otherwise the
 * server's own OLLAMA_KEEP_ALIVE applies (deploy/ollama sets 24h); a value sent per request would
 * override the operator's setting on every call.
 */
function keepAlive(cfg: { keepAlive?: string | number }): { keep_alive?: string | number } {
  return cfg.keepAlive === undefined ? {} : { keep_alive: cfg.keepAlive };
}
/** Our conservative token estimate, as in prompt/tokens.ts: 3 characters per token. */
const CHARS_PER_TOKEN = 3;
/** The smallest num_ctx we ask for: Ollama's own default since 0.6. */
const MIN_NUM_CTX = 4096;

interface ShowAnswer {
  capabilities?: unknown;
  model_info?: Record<string, unknown>;
  parameters?: unknown;
}

interface ModelFacts {
  /** The model fills the middle itself (`suffix`). */
  insert: boolean;
  /** num_ctx from the model's parameters (its Modelfile): the size it is loaded with. */
  numCtx?: number;
  /** The model takes tools (the `tools` capability); undefined when the server lists no capabilities. */
  tools?: boolean;
}

interface OllamaLine {
  response?: unknown;
  message?: { content?: unknown; tool_calls?: unknown };
  done?: unknown;
  done_reason?: unknown;
  prompt_eval_count?: unknown;
  eval_count?: unknown;
  error?: unknown;
}

const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

export class OllamaBackend extends HttpBackend {
  private facts: ModelFacts = { insert: false };

  protected async discover(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    let model = this.cfg.model;
    if (!model) {
      const tags = await this.json('/api/tags', undefined, signal);
      if (!tags.ok) return tags;
      const first = (tags.value as { models?: { name?: unknown; model?: unknown }[] })?.models?.[0];
      const name = typeof first?.name === 'string' ? first.name : typeof first?.model === 'string' ? first.model : undefined;
      if (!name) return { ok: false, failure: { kind: 'bad_response', message: `${this.url}/api/tags lists no model; pull one or set backends.${this.name}.model` } };
      model = name;
    }
    const show = await this.json('/api/show', { model }, signal);
    if (!show.ok) return show;
    const s = (show.value ?? {}) as ShowAnswer;
    const caps = Array.isArray(s.capabilities) ? s.capabilities : [];
    const numCtx = typeof s.parameters === 'string' ? Number(/^num_ctx\s+(\d+)/m.exec(s.parameters)?.[1]) || undefined : undefined;
    const arch = s.model_info?.['general.architecture'];
    const trained = typeof arch === 'string' ? positive(s.model_info?.[`${arch}.context_length`]) : undefined;
    this.facts = { insert: caps.includes('insert'), numCtx, tools: caps.length > 0 ? caps.includes('tools') : undefined };
    // The Modelfile's num_ctx is what the operator sized the model's memory for; the trained
    // length is the most it can take.
    const served = numCtx ?? trained;
    const value: ModelInfo = this.cfg.maxContextTokens
      ? { id: model, contextWindow: this.cfg.maxContextTokens, contextSource: 'config' }
      : served
        ? { id: model, contextWindow: served, contextSource: 'server' }
        : { id: model, contextWindow: FALLBACK_CONTEXT_WINDOW, contextSource: 'default' };
    if (this.facts.tools !== undefined) value.tools = this.facts.tools;
    this.log.debug(`model ${value.id}, context window ${value.contextWindow} (${value.contextSource}), ${this.facts.insert ? 'fills the middle itself' : 'raw prompts'}`);
    return { ok: true, value };
  }

  /**
   * num_ctx for a request of about `chars` characters. Ollama reloads the model whenever num_ctx
   * changes, so it stays put: the Modelfile's value when the request fits, else a power of two
   * (4096, 8192, …) up to the window. Too small, and Ollama silently drops the prompt's start.
   */
  private numCtx(chars: number, maxTokens: number, window: number): number {
    const need = Math.ceil(chars / CHARS_PER_TOKEN) + maxTokens + 16;
    if (this.facts.numCtx && need <= this.facts.numCtx) return this.facts.numCtx;
    let size = MIN_NUM_CTX;
    while (size < need) size *= 2;
    return Math.min(size, window);
  }

  async complete(req: FimRequest, signal: AbortSignal): Promise<Outcome<FimResult>> {
    const info = await this.info(signal);
    if (!info.ok) return info;
    const model = info.value.id;
    // With the insert capability the model's own template places prefix and suffix; without it
    // (or without the parts) our rendered FIM prompt goes verbatim.
    const parts = this.facts.insert ? req.parts : undefined;
    const chars = parts ? parts.prefix.length + parts.suffix.length : req.prompt.length;
    const body = {
      model,
      ...(parts ? { prompt: parts.prefix, suffix: parts.suffix } : { prompt: req.prompt, raw: true }),
      stream: true,
      ...keepAlive(this.cfg),
      options: { num_predict: req.maxTokens, temperature: req.temperature, stop: req.stop, num_ctx: this.numCtx(chars, req.maxTokens, info.value.contextWindow) },
    };
    const ex = this.exchange(signal);
    let text = '';
    let done: OllamaLine | undefined;
    let stoppedEarly = false;
    try {
      const res = await this.send('/api/generate', body, ex);
      if (!res.ok) return res;
      for await (const value of ndjson(res.value.body!)) {
        ex.touch();
        if (done) continue; // reading to the end keeps the socket reusable
        const line = (value ?? {}) as OllamaLine;
        if (line.error !== undefined) return this.failed(streamErrorFailure(this.url, line));
        if (typeof line.response === 'string') text += line.response;
        if (line.done === true) {
          done = line;
          continue;
        }
        if (req.enough?.(text)) {
          stoppedEarly = true;
          break;
        }
      }
      if (ex.signal.aborted) return this.failed(toFailure(ex.signal.reason, this.url, ex.signal));
      if (!done && !stoppedEarly) return this.failed({ kind: 'stream', message: `the stream from ${this.url} ended before its final ("done": true) line` });
      const finishReason = done ? (typeof done.done_reason === 'string' ? done.done_reason : 'stop') : null;
      return { ok: true, value: { text, finishReason, stoppedEarly, model } };
    } catch (err) {
      return this.failed(toFailure(err, this.url, ex.signal.aborted ? ex.signal : undefined));
    } finally {
      ex.end(!done);
    }
  }

  async chat(req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>> {
    const info = await this.info(signal);
    if (!info.ok) return info;
    const model = info.value.id;
    const chars = req.messages.reduce((n, m) => n + messageText(m).length + 16, 0);
    const body = {
      model,
      messages: ollamaMessages(req.messages),
      ...(req.tools && req.tools.length > 0 ? { tools: req.tools } : {}),
      stream: true,
      ...keepAlive(this.cfg),
      options: { num_predict: req.maxTokens, temperature: req.temperature, ...(req.topP !== undefined ? { top_p: req.topP } : {}), ...(req.stop ? { stop: req.stop } : {}), num_ctx: this.numCtx(chars, req.maxTokens, info.value.contextWindow) },
    };
    const ex = this.exchange(signal);
    let text = '';
    let done: OllamaLine | undefined;
    const calls = new ToolCallAssembler();
    try {
      const res = await this.send('/api/chat', body, ex);
      if (!res.ok) return res;
      for await (const value of ndjson(res.value.body!)) {
        ex.touch();
        if (done) continue;
        const line = (value ?? {}) as OllamaLine;
        if (line.error !== undefined) return this.failed(streamErrorFailure(this.url, line));
        const delta = typeof line.message?.content === 'string' ? line.message.content : '';
        if (delta) {
          text += delta;
          req.onDelta?.(delta, text);
        }
        // Ollama sends each tool call whole, its arguments as an object.
        const pieces = calls.addWhole(line.message?.tool_calls);
        if (pieces) req.onToolCallDelta?.(pieces);
        if (line.done === true) done = line;
      }
      if (ex.signal.aborted) return this.failed(toFailure(ex.signal.reason, this.url, ex.signal));
      if (!done) return this.failed({ kind: 'stream', message: `the stream from ${this.url} ended before its final ("done": true) line` });
      const promptTokens = positive(done.prompt_eval_count);
      const completionTokens = typeof done.eval_count === 'number' ? done.eval_count : undefined;
      const assembled = calls.finish();
      if (!assembled.ok) return this.failed({ kind: 'bad_response', message: `${this.url} answered a malformed tool call: ${assembled.problem}` });
      return {
        ok: true,
        value: {
          text,
          ...(assembled.calls.length > 0 ? { toolCalls: assembled.calls } : {}),
          // Ollama says "stop" after tool calls; OpenAI's clients look for "tool_calls".
          finishReason: assembled.calls.length > 0 ? 'tool_calls' : typeof done.done_reason === 'string' ? done.done_reason : 'stop',
          model,
          ...(promptTokens !== undefined ? { usage: { promptTokens, completionTokens: completionTokens ?? 0 } } : {}),
        },
      };
    } catch (err) {
      return this.failed(toFailure(err, this.url, ex.signal.aborted ? ex.signal : undefined));
    } finally {
      ex.end(!done);
    }
  }

  /**
   * Ollama has no tokenizer endpoint: its own count is the prompt_eval_count of a raw generation
   * of the text (one token generated). A prompt Ollama finds in its cache may be counted short,
   * so a count of 0 is not trusted.
   */
  async countTokens(text: string, signal: AbortSignal): Promise<Outcome<number>> {
    const info = await this.info(signal);
    if (!info.ok) return info;
    const got = await this.json('/api/generate', { model: info.value.id, prompt: text, raw: true, stream: false, ...keepAlive(this.cfg), options: { num_predict: 1, temperature: 0, num_ctx: this.numCtx(text.length, 1, info.value.contextWindow) } }, signal);
    if (!got.ok) return got;
    const n = positive((got.value as OllamaLine | null)?.prompt_eval_count);
    return n === undefined ? { ok: false, failure: { kind: 'bad_response', message: `${this.url}/api/generate answered without prompt_eval_count` } } : { ok: true, value: n };
  }

  /** /api/version: answered by the server without touching a model. */
  probe(signal: AbortSignal): Promise<Outcome<{ latencyMs: number }>> {
    return this.probePath('/api/version', signal);
  }
}
