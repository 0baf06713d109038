// Backends of kind `vllm` and `openai`: OpenAI-compatible servers (vLLM, OpenAI, Azure OpenAI, the
// Hugging Face router, Anthropic's compatible API, LiteLLM). Completions and chats, the keystroke
// path, are requests of our own over node:http with the event stream read by models/sse.ts; the
// `openai` package serves only the model lookup (once per backend, models/sdk.ts).
import type OpenAI from 'openai';
import type { ClientOptions } from 'openai';
import type { Backend } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { VERSION } from '../version.js';
import { connectFailure, errorBodyMessage, httpFailure, openAIStreamFailure, toFailure } from './errors.js';
import { loadOpenai } from './sdk.js';
import type { Fetch } from './http.js';
import { DEFAULT_IDLE_MS, Discovery, Exchange } from './httpBackend.js';
import { SseParser } from './sse.js';
import { MalformedStreamError, openAIMessages, sampling, ToolCallAssembler } from './streams.js';
import { backendHeaders, backendTransport, isAzureUrl, type BackendDeps } from './transport.js';
import type { BackendFailure, ChatRequest, ChatResult, CompletionBackend, FimRequest, FimResult, ModelInfo, Outcome } from './types.js';

export type { BackendDeps } from './transport.js';

/** Context window assumed when neither the server nor the config says (OpenAI's /v1/models does not). */
export const DEFAULT_CONTEXT_WINDOW = 8192;

/** OpenAI's API takes at most 4 stop strings; vLLM takes any number. The rest are applied locally. */
const OPENAI_MAX_STOPS = 4;

/** The URL requests are made under: no query string, no trailing slash. */
export function apiBaseUrl(b: Pick<Backend, 'kind' | 'url'>): string {
  const u = new URL(b.url);
  const url = `${u.origin}${u.pathname}`.replace(/\/+$/, '');
  // vLLM is configured by its root (http://host:8000); its OpenAI routes live under /v1.
  return b.kind === 'vllm' && !/\/v1$/.test(url) ? `${url}/v1` : url;
}

/**
 * An Azure OpenAI deployment URL (`https://NAME.openai.azure.com/openai/deployments/DEPLOY?api-version=…`):
 * the deployment fixes the model, and `api-version` goes with every request as a query parameter.
 */
export interface AzureTarget {
  deployment?: string;
  apiVersion?: string;
}

export function azureTarget(url: string): AzureTarget | undefined {
  if (!isAzureUrl(url)) return undefined;
  const u = new URL(url);
  const apiVersion = u.searchParams.get('api-version') ?? undefined;
  const deployment = /\/openai\/deployments\/([^/]+)/.exec(u.pathname)?.[1];
  return { deployment: deployment ? decodeURIComponent(deployment) : undefined, apiVersion };
}

/**
 * OpenAI's own API and Azure take `max_completion_tokens` (their reasoning models refuse
 * `max_tokens`); other OpenAI-compatible servers may know only `max_tokens`.
 */
function usesMaxCompletionTokens(url: string): boolean {
  try {
    return new URL(url).hostname === 'api.openai.com' || isAzureUrl(url);
  } catch {
    return false;
  }
}

interface ChoiceState {
  text: string;
  finishReason: string | null;
  /** It finished, or `enough` said so: later pieces of it are ignored. */
  done: boolean;
  lpSum: number;
  lpCount: number;
}

/** Every one of the `n` choices has been seen and needs nothing more. */
function allDone(states: (ChoiceState | undefined)[], n: number): boolean {
  for (let i = 0; i < n; i++) if (!states[i]?.done) return false;
  return true;
}

export class OpenAICompatBackend implements CompletionBackend {
  readonly name: string;
  /** OpenAI's completions API and vLLM's take `n`; a server that ignores it gives one choice. */
  readonly choices = true;
  readonly url: string;
  readonly location: 'onprem' | 'cloud';
  /** The SDK's client, made on first use (the package is imported then: models/sdk.ts). */
  private client: OpenAI | undefined;
  private clientMade: Promise<OpenAI> | undefined;
  private readonly clientOptions: ClientOptions;
  private readonly log: Logger;
  private readonly azure: AzureTarget | undefined;
  /** Headers of every request, the key header included (for the requests made without the SDK). */
  private readonly headers: Record<string, string>;
  /**
   * The headers of a completion or chat request, made once: the ones above, plus what the openai
   * package sent that a server may look at (JSON in and out). Never changed after this.
   */
  private readonly postHeaders: Headers;
  private readonly completionsUrl: string;
  private readonly chatUrl: string;
  private readonly key: string | undefined;
  private readonly fetch: Fetch | undefined;
  /** Why nothing is ever sent (an unreadable caFile), when so. */
  private readonly broken: BackendFailure | undefined;
  private readonly discovery: Discovery;

  constructor(private readonly cfg: Backend, deps: BackendDeps) {
    this.name = cfg.name;
    this.url = apiBaseUrl(cfg);
    this.location = cfg.location;
    this.log = deps.logger.child(cfg.name);
    this.azure = azureTarget(cfg.url);
    this.discovery = new Discovery(this.url, (signal) => this.discover(signal));
    const { headers, key, keyHeader } = backendHeaders(cfg, deps.env, this.log);
    this.headers = headers;
    this.key = key;
    this.postHeaders = new Headers({ ...headers, accept: 'application/json', 'content-type': 'application/json', 'user-agent': `tandem-lsp/${VERSION}` });
    // Azure takes its api-version as a query parameter on every request.
    const query = this.azure?.apiVersion ? `?${new URLSearchParams({ 'api-version': this.azure.apiVersion }).toString()}` : '';
    this.completionsUrl = `${this.url}/completions${query}`;
    this.chatUrl = `${this.url}/chat/completions${query}`;
    // A streamed answer comes as a light response object: no Response, Headers and web stream per
    // keystroke (http.ts StreamResponse).
    const transport = backendTransport(cfg, deps.env, { lightStreams: true });
    if (transport.ok) this.fetch = transport.fetch;
    else {
      this.broken = transport.failure;
      this.log.error(transport.failure.message);
    }
    const sdkHeaders: Record<string, string | null> = { ...headers };
    // The SDK writes the Bearer header itself from apiKey; Azure's api-key rides in the headers.
    // Without apiKeyEnv no key header at all: never a placeholder, never OPENAI_API_KEY.
    delete sdkHeaders['authorization'];
    if (!key || keyHeader === 'api-key') sdkHeaders['Authorization'] = null;
    this.clientOptions = {
      baseURL: this.url,
      apiKey: key || 'no-key',
      organization: null,
      project: null,
      adminAPIKey: null,
      webhookSecret: null,
      maxRetries: 0,
      timeout: cfg.timeoutMs ?? DEFAULT_IDLE_MS,
      defaultHeaders: sdkHeaders,
      ...(this.azure?.apiVersion ? { defaultQuery: { 'api-version': this.azure.apiVersion } } : {}),
      logLevel: 'off',
      fetch: nestFlatErrors(this.fetch ?? (() => Promise.reject(new Error('unreachable: no transport')))),
    };
  }

  /**
   * Makes the SDK's client, importing the package first if no one has. Callers read `this.client`
   * first, so a request's path takes no extra turn once it is made.
   */
  private sdkClient(): Promise<OpenAI> {
    return (this.clientMade ??= loadOpenai().then((sdk) => (this.client = new sdk.OpenAI(this.clientOptions))));
  }

  info(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    if (this.broken) return Promise.resolve({ ok: false, failure: this.broken });
    return this.discovery.info(signal);
  }

  /** Forget the discovered model (after failures: the server may have been restarted with another). */
  forget(): void {
    this.discovery.forget();
  }

  private async discover(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    const cfg = this.cfg;
    // An Azure deployment serves one model and lists none under its URL: the deployment is the model.
    if (this.azure?.deployment) {
      const id = cfg.model ?? this.azure.deployment;
      return { ok: true, value: { id, contextWindow: cfg.maxContextTokens ?? DEFAULT_CONTEXT_WINDOW, contextSource: cfg.maxContextTokens ? 'config' : 'default' } };
    }
    try {
      const page = await (this.client ?? (await this.sdkClient())).models.list({ signal, maxRetries: 0 });
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
    if (this.broken) return { ok: false, failure: this.broken };
    const info = await this.info(signal);
    if (!info.ok) return info;
    const model = info.value.id;
    const stop = this.cfg.kind === 'openai' ? req.stop.slice(0, OPENAI_MAX_STOPS) : req.stop;
    const n = Math.max(1, req.n ?? 1);
    // Per choice, by index: its text, why it ended, and its tokens' log probabilities (ranking).
    const states: ChoiceState[] = [];
    let stoppedEarly = false;
    // timeoutMs bounds the silence before the first token and between two, as for chat: a server
    // that drips tokens fails with `timeout` (and opens its breaker) instead of holding the request.
    const ex = new Exchange(signal, this.cfg.timeoutMs ?? DEFAULT_IDLE_MS);
    try {
      // Several choices come with `logprobs: 0`: the sampled tokens' log probabilities only, which
      // rank them (OpenAI and vLLM both take 0).
      const several = n > 1 ? { n, logprobs: 0 } : {};
      const body = { model, prompt: req.prompt, max_tokens: req.maxTokens, temperature: req.temperature, stop, stream: true, ...several };
      const failure = await this.stream(this.completionsUrl, body, ex, (chunk: CompletionChunk) => {
        const choices = chunk.choices;
        if (!Array.isArray(choices)) return false;
        for (const choice of choices) {
          if (!choice || typeof choice !== 'object') continue;
          const i = typeof choice.index === 'number' ? choice.index : 0;
          if (i < 0 || i >= n) continue; // a choice nobody asked for
          const st = (states[i] ??= { text: '', finishReason: null, done: false, lpSum: 0, lpCount: 0 });
          if (st.done) continue;
          if (typeof choice.text === 'string') st.text += choice.text;
          const lps = choice.logprobs?.token_logprobs;
          if (Array.isArray(lps)) {
            for (const lp of lps) {
              if (typeof lp !== 'number' || !Number.isFinite(lp)) continue;
              st.lpSum += lp;
              st.lpCount++;
            }
          }
          if (choice.finish_reason) {
            st.finishReason = choice.finish_reason;
            st.done = true;
          }
          if (req.enough?.(st.text)) {
            st.done = true;
            stoppedEarly = true;
          }
        }
        // Only worth closing the connection once a choice was cut short and none is still wanted;
        // a stream whose choices all finished is read to its end (the socket stays reusable).
        return stoppedEarly && allDone(states, n);
      });
      if (failure) return this.failed(failure);
      const first = states[0] ?? { text: '', finishReason: null, lpSum: 0, lpCount: 0 };
      const value: FimResult = { text: first.text, finishReason: first.finishReason, stoppedEarly, model };
      // A server that gave fewer choices than asked (or ignored `n`) gives what it gave.
      if (n > 1) value.choices = states.filter((st) => st !== undefined).map((st) => ({ text: st.text, finishReason: st.finishReason, ...(st.lpCount > 0 ? { logprob: st.lpSum / st.lpCount } : {}) }));
      return { ok: true, value };
    } finally {
      ex.end();
    }
  }

  /** A streamed chat completion (code actions, explain, chat), tools passed through. */
  async chat(req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>> {
    if (this.broken) return { ok: false, failure: this.broken };
    const info = await this.info(signal);
    if (!info.ok) return info;
    const model = info.value.id;
    let text = '';
    let finishReason: string | null = null;
    let usage: ChatResult['usage'];
    const calls = new ToolCallAssembler();
    // timeoutMs is the longest wait for the headers and also the longest silence between two
    // chunks: a stream that stalls, or drips slower than that, would otherwise hold an action until
    // its own deadline and leave no time for the route's next backend (as for the other kinds,
    // httpBackend.ts).
    const ex = new Exchange(signal, this.cfg.timeoutMs ?? DEFAULT_IDLE_MS);
    try {
      const limit = usesMaxCompletionTokens(this.url) ? { max_completion_tokens: req.maxTokens } : { max_tokens: req.maxTokens };
      const tools = req.tools && req.tools.length > 0 ? { tools: req.tools, ...(req.toolChoice !== undefined ? { tool_choice: req.toolChoice } : {}) } : {};
      const body = { model, messages: openAIMessages(req.messages), ...limit, temperature: req.temperature, ...sampling(req), ...tools, stream: true, stream_options: { include_usage: true } };
      const failure = await this.stream(this.chatUrl, body, ex, (chunk: ChatChunk) => {
        const u = chunk.usage;
        if (u && typeof u.prompt_tokens === 'number') usage = { promptTokens: u.prompt_tokens, completionTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : 0 };
        const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
        if (!choice) return false;
        const delta = choice.delta?.content;
        if (typeof delta === 'string' && delta !== '') {
          text += delta;
          req.onDelta?.(delta, text);
        }
        const pieces = calls.add(choice.delta?.tool_calls);
        if (pieces) req.onToolCallDelta?.(pieces);
        if (choice.finish_reason) finishReason = choice.finish_reason;
        return false;
      });
      if (failure) return this.failed(failure);
      const done = calls.finish();
      if (!done.ok) return this.failed({ kind: 'bad_response', message: `${this.url} answered a malformed tool call: ${done.problem}` });
      return { ok: true, value: { text, ...(done.calls.length > 0 ? { toolCalls: done.calls } : {}), finishReason, model, ...(usage ? { usage } : {}) } };
    } finally {
      ex.end();
    }
  }

  /**
   * POSTs `body` to `url` and reads the answer's event stream, handing each event's JSON to
   * `onChunk` as it arrives; `onChunk` returning true means enough: the response is dropped, which
   * closes the connection (the server stops generating). What the openai package did on this path,
   * without its request building, header merging and stream wrappers per keystroke: the same body,
   * the key and configured headers, errors read the same way (an HTTP error in any server's shape,
   * an `error` object inside a 200 stream, older vLLM's flat one). Undefined when the answer was
   * read to its end (or to `enough`), else what went wrong.
   */
  private async stream<T>(url: string, body: object, ex: Exchange, onChunk: (chunk: T) => boolean): Promise<BackendFailure | undefined> {
    let res: Response;
    try {
      res = await this.fetch!(url, { method: 'POST', headers: this.postHeaders, body: JSON.stringify(body), signal: ex.signal });
    } catch (err) {
      return connectFailure(err, this.url, ex.signal);
    }
    ex.touch();
    const signal = ex.signal;
    try {
      if (!res.ok) {
        let text = '';
        try {
          text = await res.text();
        } catch (err) {
          // The status says enough, unless the request was given up meanwhile.
          if (signal.aborted) return toFailure(err, this.url, signal);
        }
        return httpFailure(this.url, res.status, text, res.headers);
      }
      let failure: BackendFailure | undefined;
      let done = false;
      let enough = false;
      let events = 0;
      const parser = new SseParser((_event, data) => {
        if (done || enough || failure) return;
        events++;
        // As the openai package reads it: `[DONE]` ends the answer; anything after it is ignored.
        if (data.startsWith('[DONE]')) {
          done = true;
          return;
        }
        let chunk: unknown;
        try {
          chunk = JSON.parse(data);
        } catch (err) {
          failure = toFailure(new MalformedStreamError(data, err instanceof Error ? err.message : String(err)), this.url);
          return;
        }
        failure = openAIStreamFailure(chunk, this.url);
        if (!failure && chunk !== null && typeof chunk === 'object' && onChunk(chunk as T)) enough = true;
      });
      // A light response (http.ts StreamResponse) for an event stream; a Response otherwise.
      // Leaving the loop early (enough, an error event) destroys the response and its socket.
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
        ex.touch();
        parser.push(piece);
        if (failure || enough) break;
      }
      if (!failure && !enough) parser.end();
      // A cancelled, late or silent request is not an answer, whatever arrived of it.
      if (signal.aborted) return toFailure(signal.reason, this.url, signal);
      if (failure) return failure;
      if (events === 0) return { kind: 'bad_response', message: `${this.url} answered ${res.status} without an event stream (content-type ${res.headers.get('content-type') ?? 'none'})` };
      return undefined;
    } catch (err) {
      return toFailure(err, this.url, signal.aborted ? signal : undefined);
    }
  }

  /**
   * vLLM's `POST /tokenize` (at the server root, beside /v1): `{count, max_model_len, tokens}`.
   * OpenAI's own API and the other compatible servers have none.
   */
  async countTokens(text: string, signal: AbortSignal): Promise<Outcome<number>> {
    if (this.broken) return { ok: false, failure: this.broken };
    if (this.cfg.kind !== 'vllm') return { ok: false, failure: { kind: 'not_found', message: `${this.url} has no tokenizer endpoint` } };
    const info = await this.info(signal);
    if (!info.ok) return info;
    const target = `${this.url.replace(/\/v1$/, '')}/tokenize`;
    const ex = new Exchange(signal, this.cfg.timeoutMs ?? DEFAULT_IDLE_MS);
    try {
      let res: Response;
      try {
        res = await this.fetch!(target, { method: 'POST', headers: { ...this.headers, 'content-type': 'application/json' }, body: JSON.stringify({ model: info.value.id, prompt: text, add_special_tokens: false }), signal: ex.signal });
      } catch (err) {
        return this.failed(connectFailure(err, this.url, ex.signal));
      }
      const body = await res.text();
      if (!res.ok) return { ok: false, failure: httpFailure(this.url, res.status, body, res.headers) };
      let parsed: { count?: unknown; tokens?: unknown };
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        return { ok: false, failure: { kind: 'bad_response', message: `${target} sent an answer that is not JSON: ${body.slice(0, 120)}` } };
      }
      const count = typeof parsed.count === 'number' ? parsed.count : Array.isArray(parsed.tokens) ? parsed.tokens.length : undefined;
      if (count === undefined || !Number.isSafeInteger(count) || count < 0) return { ok: false, failure: { kind: 'bad_response', message: `${target} answered without a token count` } };
      return { ok: true, value: count };
    } catch (err) {
      return { ok: false, failure: toFailure(err, this.url, ex.signal.aborted ? ex.signal : undefined) };
    } finally {
      ex.end();
    }
  }

  /**
   * A liveness check without a model call: vLLM's `GET /health` at the server root (not under
   * /v1); for an OpenAI-compatible API `GET /models` (for an Azure deployment, the resource's
   * `/openai/models`).
   */
  async probe(signal: AbortSignal): Promise<Outcome<{ latencyMs: number }>> {
    if (this.broken) return { ok: false, failure: this.broken };
    let target: string;
    if (this.cfg.kind === 'vllm') target = `${this.url.replace(/\/v1$/, '')}/health`;
    else if (this.azure?.deployment) target = `${new URL(this.cfg.url).origin}/openai/models`;
    else target = `${this.url}/models`;
    if (this.azure?.apiVersion) target += `?api-version=${encodeURIComponent(this.azure.apiVersion)}`;
    const headers = { ...this.headers };
    // Anthropic serves its OpenAI-compatible chat with a Bearer key, but its /v1/models is the
    // native API, which wants the key as x-api-key with a version header.
    if (this.key && new URL(this.url).hostname === 'api.anthropic.com') Object.assign(headers, { 'x-api-key': this.key, 'anthropic-version': '2023-06-01' });
    const start = performance.now();
    let res: Response;
    try {
      res = await this.fetch!(target, { method: 'GET', headers, signal });
    } catch (err) {
      return this.failed(connectFailure(err, this.url, signal));
    }
    let text = '';
    try {
      text = await res.text();
    } catch (err) {
      return this.failed(toFailure(err, this.url, signal.aborted ? signal : undefined));
    }
    if (!res.ok) return this.failed(httpFailure(this.url, res.status, text, res.headers));
    return { ok: true, value: { latencyMs: Math.round(performance.now() - start) } };
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

/** The part of a `/completions` stream event that is read. */
interface CompletionChunk {
  choices?: { index?: unknown; text?: unknown; finish_reason?: string | null; logprobs?: { token_logprobs?: unknown } | null }[];
}

/** The part of a `/chat/completions` stream event that is read. */
interface ChatChunk {
  choices?: { delta?: { content?: unknown; tool_calls?: unknown } | null; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
}
