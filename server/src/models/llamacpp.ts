// Backend of kind `llamacpp`: llama.cpp's llama-server, through /infill (the server places the
// model's FIM tokens, with context snippets as `input_extra`), /props, /health and its chat.
import { streamErrorFailure, toFailure } from './errors.js';
import { FALLBACK_CONTEXT_WINDOW, HttpBackend } from './httpBackend.js';
import { parseJsonLine, sseEvents } from './streams.js';
import type { ChatRequest, ChatResult, FimRequest, FimResult, ModelInfo, Outcome } from './types.js';

interface Props {
  default_generation_settings?: { n_ctx?: unknown };
  n_ctx?: unknown;
  model_alias?: unknown;
  model_path?: unknown;
}

interface Chunk {
  content?: unknown;
  stop?: unknown;
  stop_type?: unknown;
  error?: unknown;
}

const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

export class LlamaCppBackend extends HttpBackend {
  protected async discover(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    const got = await this.json('/props', undefined, signal);
    if (!got.ok) return got;
    const props = (got.value ?? {}) as Props;
    // Recent servers report the per-slot context in default_generation_settings, older ones at the top.
    const served = positive(props.default_generation_settings?.n_ctx) ?? positive(props.n_ctx);
    // The alias (--alias) or, as servers without one report it, the model's path: named by its file.
    const named = [props.model_alias, props.model_path].find((v): v is string => typeof v === 'string' && v !== '');
    const id = this.cfg.model ?? (named ? named.split(/[\\/]/).pop()! : 'llama.cpp');
    const value: ModelInfo = this.cfg.maxContextTokens
      ? { id, contextWindow: this.cfg.maxContextTokens, contextSource: 'config' }
      : served
        ? { id, contextWindow: served, contextSource: 'server' }
        : { id, contextWindow: FALLBACK_CONTEXT_WINDOW, contextSource: 'default' };
    this.log.debug(`model ${value.id}, context window ${value.contextWindow} (${value.contextSource})`);
    return { ok: true, value };
  }

  async complete(req: FimRequest, signal: AbortSignal): Promise<Outcome<FimResult>> {
    const info = await this.info(signal);
    if (!info.ok) return info;
    const model = info.value.id;
    const common = { n_predict: req.maxTokens, temperature: req.temperature, stop: req.stop, stream: true, cache_prompt: true };
    // With the parts the server lays out the model's own FIM tokens and puts each snippet under
    // its file name; without them our rendered prompt goes to /completion as it is.
    const [path, body] = req.parts
      ? [
          '/infill',
          {
            input_prefix: req.parts.prefix,
            input_suffix: req.parts.suffix,
            input_extra: req.parts.snippets.map((s) => ({ filename: s.path, text: s.text })),
            prompt: '',
            ...common,
          },
        ]
      : ['/completion', { prompt: req.prompt, ...common }];
    const ex = this.exchange(signal);
    let text = '';
    let last: Chunk | undefined;
    let stoppedEarly = false;
    try {
      const res = await this.send(path, body, ex);
      if (!res.ok) return res;
      for await (const ev of sseEvents(res.value.body!)) {
        ex.touch();
        if (last) continue; // reading to the end keeps the socket reusable
        const chunk = (parseJsonLine(ev.data) ?? {}) as Chunk;
        if (ev.event === 'error' || chunk.error !== undefined) return this.failed(streamErrorFailure(this.url, chunk));
        if (typeof chunk.content === 'string') text += chunk.content;
        if (chunk.stop === true) {
          last = chunk;
          continue;
        }
        if (req.enough?.(text)) {
          stoppedEarly = true;
          break;
        }
      }
      if (ex.signal.aborted) return this.failed(toFailure(ex.signal.reason, this.url, ex.signal));
      if (!last && !stoppedEarly) return this.failed({ kind: 'stream', message: `the stream from ${this.url} ended before its final ("stop": true) event` });
      const finishReason = last ? (last.stop_type === 'limit' ? 'length' : 'stop') : null;
      return { ok: true, value: { text, finishReason, stoppedEarly, model } };
    } catch (err) {
      return this.failed(toFailure(err, this.url, ex.signal.aborted ? ex.signal : undefined));
    } finally {
      ex.end(!last);
    }
  }

  async chat(req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>> {
    const info = await this.info(signal);
    if (!info.ok) return info;
    return this.openAIChat('/v1/chat/completions', info.value.id, info.value.id, req, signal);
  }

  /** llama-server's `POST /tokenize` `{content}`: `{tokens: [...]}`. */
  countTokens(text: string, signal: AbortSignal): Promise<Outcome<number>> {
    return this.tokenize('/tokenize', { content: text, add_special: false }, (a) => {
      const tokens = (a as { tokens?: unknown } | null)?.tokens;
      return Array.isArray(tokens) ? tokens.length : undefined;
    }, signal);
  }

  /** /health: 200 once the model is loaded, 503 while it loads. */
  probe(signal: AbortSignal): Promise<Outcome<{ latencyMs: number }>> {
    return this.probePath('/health', signal);
  }
}
