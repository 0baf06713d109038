// Backend of kind `tgi`: Hugging Face Text Generation Inference, through its own /generate_stream
// (FIM prompts rendered by us: TGI rejects `suffix`), /info, /health and its OpenAI-style chat.
import { streamErrorFailure, toFailure } from './errors.js';
import { cutAtStop, FALLBACK_CONTEXT_WINDOW, HttpBackend } from './httpBackend.js';
import { parseJsonLine, sseEvents } from './streams.js';
import type { ChatRequest, ChatResult, FimRequest, FimResult, ModelInfo, Outcome } from './types.js';

/** TGI's default `--max-stop-sequences`; /info says the server's own. */
const DEFAULT_MAX_STOPS = 4;

interface TgiInfo {
  model_id?: unknown;
  max_input_tokens?: unknown;
  /** The name before TGI 2.1. */
  max_input_length?: unknown;
  max_total_tokens?: unknown;
  max_stop_sequences?: unknown;
}

interface TgiStreamEvent {
  token?: { id?: number; text?: string; special?: boolean };
  generated_text?: string | null;
  details?: { finish_reason?: string } | null;
  error?: unknown;
}

const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

export class TgiBackend extends HttpBackend {
  private maxStops = DEFAULT_MAX_STOPS;

  protected async discover(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    const got = await this.json('/info', undefined, signal);
    if (!got.ok) return got;
    const info = (got.value ?? {}) as TgiInfo;
    this.maxStops = positive(info.max_stop_sequences) ?? DEFAULT_MAX_STOPS;
    const id = this.cfg.model ?? (typeof info.model_id === 'string' ? info.model_id : undefined);
    if (!id) return { ok: false, failure: { kind: 'bad_response', message: `${this.url}/info names no model_id; set backends.${this.name}.model` } };
    // TGI checks the prompt alone against max_input_tokens and prompt + max_new_tokens against
    // max_total_tokens. The pipeline budgets prompt + completion within one window, so the
    // smaller bound keeps both checks true.
    const total = positive(info.max_total_tokens);
    const input = positive(info.max_input_tokens) ?? positive(info.max_input_length);
    const served = total && input ? Math.min(total, input) : (total ?? input);
    const value: ModelInfo = this.cfg.maxContextTokens
      ? { id, contextWindow: this.cfg.maxContextTokens, contextSource: 'config' }
      : served
        ? { id, contextWindow: served, contextSource: 'server' }
        : { id, contextWindow: FALLBACK_CONTEXT_WINDOW, contextSource: 'default' };
    this.log.debug(`model ${value.id}, context window ${value.contextWindow} (${value.contextSource}), ${this.maxStops} stop sequences`);
    return { ok: true, value };
  }

  async complete(req: FimRequest, signal: AbortSignal): Promise<Outcome<FimResult>> {
    const info = await this.info(signal);
    if (!info.ok) return info;
    const model = info.value.id;
    // TGI rejects temperature 0 ("must be strictly positive"); greedy decoding is do_sample false.
    const sampling = req.temperature > 0 ? { temperature: req.temperature, do_sample: true } : { do_sample: false };
    const body = {
      inputs: req.prompt,
      parameters: {
        max_new_tokens: req.maxTokens,
        ...sampling,
        // More stop strings than the server takes are a validation error; the rest are cut here.
        stop: req.stop.slice(0, this.maxStops),
        details: false,
        return_full_text: false,
      },
    };
    const ex = this.exchange(signal);
    let text = '';
    let tokens = 0;
    let final: TgiStreamEvent | undefined;
    let stoppedEarly = false;
    try {
      const res = await this.send('/generate_stream', body, ex);
      if (!res.ok) return res;
      for await (const ev of sseEvents(res.value.body!)) {
        ex.touch();
        if (final) continue; // nothing follows the final event; reading to the end keeps the socket reusable
        const event = parseJsonLine(ev.data) as TgiStreamEvent;
        if (!event || typeof event !== 'object') continue;
        if (event.error !== undefined || ev.event === 'error') return this.failed(streamErrorFailure(this.url, event));
        if (event.token) {
          tokens++;
          // Special tokens (end of text, FIM markers) are not part of the completion.
          if (!event.token.special && typeof event.token.text === 'string') text += event.token.text;
        }
        if (event.generated_text !== undefined && event.generated_text !== null) {
          final = event;
          continue;
        }
        if (req.enough?.(cutAtStop(text, req.stop).text)) {
          stoppedEarly = true;
          break;
        }
      }
      if (ex.signal.aborted) return this.failed(toFailure(ex.signal.reason, this.url, ex.signal));
      if (!final && !stoppedEarly) return this.failed({ kind: 'stream', message: `the stream from ${this.url} ended before its final event` });
      // TGI leaves a matched stop sequence in the text.
      const cut = cutAtStop(text, req.stop);
      const details = final?.details?.finish_reason;
      const finishReason = stoppedEarly ? null : details ? (details === 'length' ? 'length' : 'stop') : cut.hit || tokens < req.maxTokens ? 'stop' : 'length';
      return { ok: true, value: { text: cut.text, finishReason, stoppedEarly, model } };
    } catch (err) {
      return this.failed(toFailure(err, this.url, ex.signal.aborted ? ex.signal : undefined));
    } finally {
      ex.end(!final);
    }
  }

  async chat(req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>> {
    const info = await this.info(signal);
    if (!info.ok) return info;
    // TGI reads any other `model` as the name of a LoRA adapter to load; "tgi" means the served model.
    return this.openAIChat('/v1/chat/completions', 'tgi', info.value.id, req, signal);
  }

  /** TGI's `POST /tokenize` `{inputs}`: a list of `{id, text, start, stop}`, one per token. */
  countTokens(text: string, signal: AbortSignal): Promise<Outcome<number>> {
    return this.tokenize('/tokenize', { inputs: text, add_special_tokens: false }, (a) => (Array.isArray(a) ? a.length : undefined), signal);
  }

  probe(signal: AbortSignal): Promise<Outcome<{ latencyMs: number }>> {
    return this.probePath('/health', signal);
  }
}
