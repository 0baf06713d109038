// Backends of kind `vllm` and `openai`: OpenAI-compatible servers reached through the `openai` package.
import { userInfo } from 'node:os';
import OpenAI from 'openai';
import type { Backend } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { errorBodyMessage, toFailure } from './errors.js';
import { nodeFetch, type Fetch } from './http.js';
import type { BackendFailure, CompletionBackend, FimRequest, FimResult, ModelInfo, Outcome } from './types.js';

/** Context window assumed when neither the server nor the config says (OpenAI's /v1/models does not). */
export const DEFAULT_CONTEXT_WINDOW = 8192;

/** OpenAI's API takes at most 4 stop strings; vLLM takes any number. The rest are applied locally. */
const OPENAI_MAX_STOPS = 4;

export interface BackendDeps {
  logger: Logger;
  env: NodeJS.ProcessEnv;
}

export function apiBaseUrl(b: Pick<Backend, 'kind' | 'url'>): string {
  const url = b.url.replace(/\/+$/, '');
  // vLLM is configured by its root (http://host:8000); its OpenAI routes live under /v1.
  return b.kind === 'vllm' && !/\/v1$/.test(url) ? `${url}/v1` : url;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export class OpenAICompatBackend implements CompletionBackend {
  readonly name: string;
  readonly url: string;
  readonly location: 'onprem' | 'cloud';
  private readonly client: OpenAI;
  private readonly log: Logger;
  private discovered: Promise<Outcome<ModelInfo>> | undefined;

  constructor(private readonly cfg: Backend, deps: BackendDeps) {
    this.name = cfg.name;
    this.url = apiBaseUrl(cfg);
    this.location = cfg.location;
    this.log = deps.logger.child(cfg.name);
    const key = cfg.apiKeyEnv ? deps.env[cfg.apiKeyEnv] : undefined;
    if (cfg.apiKeyEnv && !key) this.log.warn(`environment variable ${cfg.apiKeyEnv} (backends.${cfg.name}.apiKeyEnv) is not set; requests go without a key`);
    const headers: Record<string, string | null> = {};
    // Session affinity for on-prem routers (vLLM production stack, the gateway): one key per developer.
    if (cfg.location === 'onprem') headers['x-tandem-user'] = currentUser();
    Object.assign(headers, cfg.headers ?? {});
    // Without apiKeyEnv no Authorization header at all: never a placeholder, never OPENAI_API_KEY.
    if (!key) headers['Authorization'] = null;
    this.client = new OpenAI({
      baseURL: this.url,
      apiKey: key || 'no-key',
      organization: null,
      project: null,
      adminAPIKey: null,
      webhookSecret: null,
      maxRetries: 0,
      timeout: cfg.timeoutMs ?? 60_000,
      defaultHeaders: headers,
      logLevel: 'off',
      fetch: nestFlatErrors(nodeFetch()),
    });
  }

  info(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    if (!this.discovered) {
      const p = this.discover(signal);
      this.discovered = p;
      // A failed discovery is forgotten so the next request tries again.
      void p.then((o) => {
        if (!o.ok && this.discovered === p) this.discovered = undefined;
      });
    }
    return this.discovered;
  }

  /** Forget the discovered model (after failures: the server may have been restarted with another). */
  forget(): void {
    this.discovered = undefined;
  }

  private async discover(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    const cfg = this.cfg;
    try {
      const page = await this.client.models.list({ signal, maxRetries: 0 });
      const models = page.data as (OpenAI.Models.Model & { max_model_len?: unknown })[];
      const chosen = cfg.model ? models.find((m) => m.id === cfg.model) : models[0];
      if (!chosen && !cfg.model) return { ok: false, failure: { kind: 'bad_response', message: `${this.url}/models lists no model; set backends.${cfg.name}.model` } };
      const id = cfg.model ?? chosen!.id;
      const served = typeof chosen?.max_model_len === 'number' && chosen.max_model_len > 0 ? chosen.max_model_len : undefined;
      const info: ModelInfo = cfg.maxContextTokens
        ? { id, contextWindow: cfg.maxContextTokens, contextSource: 'config' }
        : served
          ? { id, contextWindow: served, contextSource: 'server' }
          : { id, contextWindow: DEFAULT_CONTEXT_WINDOW, contextSource: 'default' };
      this.log.debug(`model ${info.id}, context window ${info.contextWindow} (${info.contextSource})`);
      return { ok: true, value: info };
    } catch (err) {
      const failure = toFailure(err, this.url, signal);
      // A cloud API may not list models (or list hundreds); a configured model is enough.
      if (cfg.model && (failure.kind === 'not_found' || failure.kind === 'auth' || failure.kind === 'bad_request')) {
        return { ok: true, value: { id: cfg.model, contextWindow: cfg.maxContextTokens ?? DEFAULT_CONTEXT_WINDOW, contextSource: cfg.maxContextTokens ? 'config' : 'default' } };
      }
      return { ok: false, failure };
    }
  }

  async complete(req: FimRequest, signal: AbortSignal): Promise<Outcome<FimResult>> {
    const info = await this.info(signal);
    if (!info.ok) return info;
    const model = info.value.id;
    const stop = this.cfg.kind === 'openai' ? req.stop.slice(0, OPENAI_MAX_STOPS) : req.stop;
    // Our own controller, so that `enough` can end the stream (and the server's work) early.
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    let text = '';
    let finishReason: string | null = null;
    let stoppedEarly = false;
    try {
      const stream = await this.client.completions.create(
        { model, prompt: req.prompt, max_tokens: req.maxTokens, temperature: req.temperature, stop, stream: true },
        { signal: ctrl.signal, maxRetries: 0 },
      );
      for await (const chunk of stream) {
        const failure = inStreamFlatError(chunk, this.url);
        if (failure) return this.failed(failure);
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        text += choice.text ?? '';
        if (choice.finish_reason) finishReason = choice.finish_reason;
        if (req.enough?.(text)) {
          stoppedEarly = true;
          break; // leaving the loop aborts the HTTP request
        }
      }
      // The SDK's stream ends quietly when aborted: partial text from a cancelled or late request
      // is not a completion (it would be shown and cached as if whole).
      if (signal.aborted) return this.failed(toFailure(signal.reason, this.url, signal));
      return { ok: true, value: { text, finishReason, stoppedEarly, model } };
    } catch (err) {
      return this.failed(toFailure(err, this.url, signal.aborted ? signal : undefined));
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (stoppedEarly) ctrl.abort();
    }
  }

  private failed(failure: BackendFailure): Outcome<never> {
    if (failure.kind === 'unreachable' || failure.kind === 'not_found' || failure.kind === 'server') this.forget();
    return { ok: false, failure };
  }
}

/**
 * Older vLLM answers HTTP errors flat (`{"object":"error","message":…}`) and FastAPI with
 * `{"detail":…}`; the SDK keeps only a nested `error` member and would lose the message (and with
 * it a context-length error), so nest such bodies before the SDK reads them.
 */
function nestFlatErrors(fetch: Fetch): Fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return res;
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const flat = body && typeof body === 'object' && !('error' in body) ? errorBodyMessage(body) : undefined;
    const headers = new Headers(res.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    const out = flat !== undefined ? JSON.stringify({ error: { ...(body as object), message: flat } }) : text;
    return new Response(out, { status: res.status, statusText: res.statusText, headers });
  };
}

/** Older vLLM puts a flat `{"object":"error",…}` in the stream, which the SDK passes on as a chunk. */
function inStreamFlatError(chunk: unknown, url: string): BackendFailure | undefined {
  const c = chunk as { object?: unknown };
  if (c && c.object === 'error') {
    const msg = errorBodyMessage(chunk) ?? 'unknown error';
    return toFailure(Object.assign(new OpenAI.APIError(undefined, { message: msg }, undefined, undefined)), url);
  }
  return undefined;
}
