// The common part of the clients that speak a server's own protocol (TGI, Ollama, llama.cpp):
// headers, trust and proxy, cached discovery, deadlines, HTTP errors, OpenAI-style chat streams.
import type { Backend } from '../config/schema.js';
import { DeadlineError, SharedWork } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import { connectFailure, httpFailure, streamErrorFailure, toFailure } from './errors.js';
import type { Fetch } from './http.js';
import { openAIMessages, parseJsonLine, sampling, sseEvents, ToolCallAssembler } from './streams.js';
import { backendHeaders, backendTransport, type BackendDeps } from './transport.js';
import type { BackendFailure, ChatRequest, ChatResult, CompletionBackend, FimRequest, FimResult, ModelInfo, Outcome } from './types.js';

/** Context window assumed when neither the server nor the config says. */
export const FALLBACK_CONTEXT_WINDOW = 4096;
/** A request that goes silent this long (no headers, no next chunk) fails with `timeout`. */
export const DEFAULT_IDLE_MS = 60_000;

/**
 * One request's signal: aborts when the caller's does, or when the server stays silent for
 * `idleMs` (before the headers or between two chunks; `touch()` restarts the clock). An idle
 * deadline rather than a total one, so a long explanation that keeps streaming is never cut.
 */
export class Exchange {
  private readonly ctrl = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onOuter = () => this.ctrl.abort(this.outer.reason);

  constructor(private readonly outer: AbortSignal, private readonly idleMs: number) {
    if (outer.aborted) this.ctrl.abort(outer.reason);
    else outer.addEventListener('abort', this.onOuter, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.ctrl.signal;
  }

  touch(): void {
    if (this.ctrl.signal.aborted) return;
    // Called per streamed piece: re-arming the one timer is cheaper than a new one each time.
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => this.ctrl.abort(new DeadlineError(this.idleMs)), this.idleMs);
      this.timer.unref?.();
    }
  }

  /** Ends the exchange; `abort` also drops the connection (an early stop). */
  end(abort = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.outer.removeEventListener('abort', this.onOuter);
    if (abort && !this.ctrl.signal.aborted) this.ctrl.abort(new DOMException('stopped early', 'AbortError'));
  }
}

/**
 * A backend's model lookup, shared by every request that needs it while it runs (SharedWork): a
 * request that is cancelled stops waiting with `cancelled` (or `timeout`, its own deadline) and
 * the others still get the model. Kept once found; a failed lookup is tried again next time.
 */
export class Discovery {
  private readonly work: SharedWork<Outcome<ModelInfo>>;

  constructor(private readonly url: string, discover: (signal: AbortSignal) => Promise<Outcome<ModelInfo>>) {
    this.work = new SharedWork(discover, (o) => o.ok);
  }

  info(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    return this.work.join(signal, (reason) => ({ ok: false, failure: toFailure(reason, this.url, signal) }));
  }

  forget(): void {
    this.work.forget();
  }
}

/** Cuts `text` before the first stop string (for servers that leave the stop string in the output). */
export function cutAtStop(text: string, stops: readonly string[]): { text: string; hit: boolean } {
  let at = -1;
  for (const s of stops) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? { text, hit: false } : { text: text.slice(0, at), hit: true };
}

export abstract class HttpBackend implements CompletionBackend {
  readonly name: string;
  /** The server's root URL, without a trailing slash: every path is appended to it. */
  readonly url: string;
  readonly location: 'onprem' | 'cloud';
  protected readonly log: Logger;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: Fetch | undefined;
  /** Why nothing is ever sent (an unreadable caFile), when so. */
  private readonly broken: BackendFailure | undefined;
  private readonly idleMs: number;
  private readonly discovery: Discovery;

  constructor(protected readonly cfg: Backend, deps: BackendDeps) {
    this.name = cfg.name;
    this.url = cfg.url.replace(/\/+$/, '');
    this.location = cfg.location;
    this.log = deps.logger.child(cfg.name);
    this.headers = backendHeaders(cfg, deps.env, this.log).headers;
    this.idleMs = cfg.timeoutMs ?? DEFAULT_IDLE_MS;
    this.discovery = new Discovery(this.url, (signal) => this.discover(signal));
    const transport = backendTransport(cfg, deps.env);
    if (transport.ok) this.fetchImpl = transport.fetch;
    else {
      this.broken = transport.failure;
      this.log.error(transport.failure.message);
    }
  }

  abstract complete(req: FimRequest, signal: AbortSignal): Promise<Outcome<FimResult>>;
  abstract chat(req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>>;
  abstract probe(signal: AbortSignal): Promise<Outcome<{ latencyMs: number }>>;
  /** Finds the model and its context window; `info()` caches the answer. */
  protected abstract discover(signal: AbortSignal): Promise<Outcome<ModelInfo>>;

  info(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    if (this.broken) return Promise.resolve({ ok: false, failure: this.broken });
    return this.discovery.info(signal);
  }

  /** Forget the discovered model (after failures: the server may have been restarted with another). */
  forget(): void {
    this.discovery.forget();
  }

  protected failed(failure: BackendFailure): Outcome<never> {
    if (failure.kind === 'unreachable' || failure.kind === 'not_found' || failure.kind === 'server') this.forget();
    return { ok: false, failure };
  }

  protected exchange(signal: AbortSignal): Exchange {
    return new Exchange(signal, this.idleMs);
  }

  /**
   * Sends one request and waits for the answer's headers. A non-2xx answer becomes its failure
   * (body read in every server's error shape); so does a connection that never answered.
   */
  protected async send(path: string, body: unknown, ex: Exchange, method = body === undefined ? 'GET' : 'POST'): Promise<Outcome<Response>> {
    if (this.broken) return { ok: false, failure: this.broken };
    const url = this.url + path;
    const headers: Record<string, string> = { ...this.headers, accept: 'application/json, text/event-stream, application/x-ndjson' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl!(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ex.signal });
    } catch (err) {
      return this.failed(connectFailure(err, this.url, ex.signal));
    }
    ex.touch();
    if (!res.ok) {
      let text = '';
      try {
        text = await res.text();
      } catch {
        // The status says enough.
      }
      return this.failed(httpFailure(this.url, res.status, text, res.headers));
    }
    return { ok: true, value: res };
  }

  /** GET or POST a small JSON document (discovery): the parsed body, or a failure. */
  protected async json(path: string, body: unknown, signal: AbortSignal): Promise<Outcome<unknown>> {
    const ex = this.exchange(signal);
    try {
      const res = await this.send(path, body, ex);
      if (!res.ok) return res;
      const text = await res.value.text();
      try {
        return { ok: true, value: JSON.parse(text) };
      } catch {
        return this.failed({ kind: 'bad_response', message: `${this.url}${path} sent an answer that is not JSON: ${text.slice(0, 120)}` });
      }
    } catch (err) {
      return this.failed(toFailure(err, this.url, ex.signal));
    } finally {
      ex.end();
    }
  }

  /** POSTs `body` to a tokenizer endpoint and reads the count out of its answer with `count`. */
  protected async tokenize(path: string, body: unknown, count: (answer: unknown) => number | undefined, signal: AbortSignal): Promise<Outcome<number>> {
    const got = await this.json(path, body, signal);
    if (!got.ok) return got;
    const n = count(got.value);
    if (n === undefined || !Number.isSafeInteger(n) || n < 0) return { ok: false, failure: { kind: 'bad_response', message: `${this.url}${path} answered without a token count` } };
    return { ok: true, value: n };
  }

  /** A GET whose status is the answer (health endpoints), timed. */
  protected async probePath(path: string, signal: AbortSignal): Promise<Outcome<{ latencyMs: number }>> {
    const start = performance.now();
    const ex = this.exchange(signal);
    try {
      const res = await this.send(path, undefined, ex);
      if (!res.ok) return res;
      await res.value.arrayBuffer();
      return { ok: true, value: { latencyMs: Math.round(performance.now() - start) } };
    } catch (err) {
      return this.failed(toFailure(err, this.url, ex.signal));
    } finally {
      ex.end();
    }
  }

  /**
   * A streamed chat through the server's OpenAI-compatible `/v1/chat/completions` (TGI, llama.cpp).
   * Read with our own SSE parser rather than the SDK's, because these servers put errors in the
   * stream in their own shapes (TGI `{"error":"…","error_type":…}`, llama.cpp `error:` lines).
   */
  protected async openAIChat(path: string, model: string, reportedModel: string, req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>> {
    const ex = this.exchange(signal);
    const body = {
      model,
      messages: openAIMessages(req.messages),
      max_tokens: req.maxTokens,
      temperature: req.temperature,
      ...sampling(req),
      ...(req.tools && req.tools.length > 0 ? { tools: req.tools, ...(req.toolChoice !== undefined ? { tool_choice: req.toolChoice } : {}) } : {}),
      stream: true,
      stream_options: { include_usage: true },
    };
    let text = '';
    let finishReason: string | null = null;
    let usage: ChatResult['usage'];
    let done = false;
    const calls = new ToolCallAssembler();
    try {
      const res = await this.send(path, body, ex);
      if (!res.ok) return res;
      for await (const ev of sseEvents(res.value.body!)) {
        ex.touch();
        if (done) continue; // nothing follows [DONE]; reading to the end keeps the socket reusable
        if (ev.data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = parseJsonLine(ev.data) as ChatChunk;
        if (ev.event === 'error' || (chunk && typeof chunk === 'object' && 'error' in chunk)) return this.failed(streamErrorFailure(this.url, chunk));
        const choice = chunk?.choices?.[0];
        const delta = typeof choice?.delta?.content === 'string' ? choice.delta.content : '';
        if (delta) {
          text += delta;
          req.onDelta?.(delta, text);
        }
        const pieces = calls.add(choice?.delta?.tool_calls);
        if (pieces) req.onToolCallDelta?.(pieces);
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk?.usage && typeof chunk.usage.prompt_tokens === 'number') usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens ?? 0 };
      }
      if (ex.signal.aborted) return this.failed(toFailure(ex.signal.reason, this.url, ex.signal));
      if (!done && !finishReason) return this.failed({ kind: 'stream', message: `the stream from ${this.url} ended before the answer was complete` });
      const assembled = calls.finish();
      if (!assembled.ok) return this.failed({ kind: 'bad_response', message: `${this.url} answered a malformed tool call: ${assembled.problem}` });
      // TGI ends a tool call with a plain "stop"; OpenAI's clients look for "tool_calls".
      const finish = assembled.calls.length > 0 && finishReason === 'stop' ? 'tool_calls' : finishReason;
      return { ok: true, value: { text, ...(assembled.calls.length > 0 ? { toolCalls: assembled.calls } : {}), finishReason: finish, model: reportedModel, ...(usage ? { usage } : {}) } };
    } catch (err) {
      return this.failed(toFailure(err, this.url, ex.signal.aborted ? ex.signal : undefined));
    } finally {
      ex.end(!done);
    }
  }
}

interface ChatChunk {
  choices?: { delta?: { content?: unknown; tool_calls?: unknown }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}
