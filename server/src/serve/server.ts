// `tandem-lsp serve`: a local OpenAI-compatible HTTP endpoint (node:http) in front of tandem's
// router and privacy gate. Every request needs the bearer token; nothing is read or forwarded
// before it is checked.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Outcome } from '../models/types.js';
import { estimateTokens } from '../prompt/tokens.js';
import { errorText, type Logger } from '../util/logger.js';
import { readJsonBody } from './body.js';
import { completionId, runChat, taskRequest, type ChatService } from './chat.js';
import { runCompletion, type CompletionDeps, type CompletionResult } from './completions.js';
import { ApiError, fromFailure, sendError, sendJson } from './errors.js';
import { SseWriter } from './sse.js';
import { authorized } from './token.js';
import { chatBody, completionBody, pinnedBackend } from './validate.js';

/** One entry of GET /v1/models, OpenAI's fields first, then what tandem knows of it. */
export interface ServeModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  [extra: string]: unknown;
}

export interface ServeDeps extends CompletionDeps {
  token: string;
  maxBodyBytes: number;
  /** The chat pipeline; without it POST /v1/chat/completions answers 503. */
  chat?: ChatService;
  /** GET /v1/models. */
  models: () => Promise<ServeModel[]>;
}

const seconds = () => Math.floor(Date.now() / 1000);

export function createServeServer(deps: ServeDeps): Server {
  const log = deps.logger;
  const server = createServer({ noDelay: true, keepAliveTimeout: 30_000 }, (req, res) => {
    const started = performance.now();
    // The client went away before the answer was complete: whatever it asked for stops, and the
    // backend's connection is closed (which stops generation).
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client disconnected'));
      if (log.enabled('info')) log.info(`${req.method} ${req.url?.split('?')[0]} ${res.statusCode}${res.writableFinished ? '' : ' (client went away)'} ${Math.round(performance.now() - started)} ms`);
    });
    handle(deps, req, res, ac.signal).catch((err) => {
      log.error(`${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) sendError(res, new ApiError(500, `internal error: ${errorText(err)}`, 'server_error', null, 'internal_error'));
      else res.destroy();
    });
  });
  // `Expect: 100-continue` (curl's way with large bodies): the body is asked for only when the
  // token is right and the size allowed; otherwise the 401 or 413 comes before any of it is sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (authorized(req.headers.authorization, deps.token) && !(declared > deps.maxBodyBytes)) res.writeContinue();
    server.emit('request', req, res);
  });
  // A stream lasts as long as the model writes; only the request itself is bounded.
  server.requestTimeout = 120_000;
  return server;
}

async function handle(deps: ServeDeps, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  if (!authorized(req.headers.authorization, deps.token)) {
    const why = req.headers.authorization ? 'the bearer token is wrong' : 'no bearer token (Authorization: Bearer <token>)';
    sendError(res, new ApiError(401, `${why}: the token is in tandem's state directory, file serve.token (tandem-lsp serve prints its path)`, 'authentication_error', null, 'invalid_api_key'), true);
    return;
  }
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
  const method = req.method ?? 'GET';
  const routes: Record<string, string> = { '/v1/models': 'GET', '/v1/chat/completions': 'POST', '/v1/completions': 'POST' };
  const want = routes[path];
  if (!want) {
    sendError(res, new ApiError(404, `${method} ${path}: no such endpoint (tandem serves GET /v1/models, POST /v1/chat/completions, POST /v1/completions)`, 'invalid_request_error', null, 'unknown_url'), true);
    return;
  }
  if (method !== want) {
    sendError(res, new ApiError(405, `${method} ${path}: use ${want}`, 'invalid_request_error', null, 'method_not_allowed'), true);
    return;
  }
  if (path === '/v1/models') {
    sendJson(res, 200, { object: 'list', data: await deps.models() });
    return;
  }
  let raw: Record<string, unknown>;
  try {
    raw = await readJsonBody(req, deps.maxBodyBytes);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    sendError(res, err, err.status === 413);
    return;
  }
  try {
    if (path === '/v1/completions') await completions(deps, raw, res, signal);
    else await chat(deps, raw, res, signal);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    sendError(res, err);
  }
}

async function completions(deps: ServeDeps, raw: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const body = completionBody(raw);
  const pinned = pinnedBackend(body.model, Object.keys(deps.config().backends));
  const cid = completionId('cmpl');
  const created = seconds();
  const chunk = (text: string, finish: string | null) => ({ id: cid, object: 'text_completion', created, model: body.model, choices: [{ text, index: 0, logprobs: null, finish_reason: finish }] });
  const usage = (r: CompletionResult) => {
    const p = estimateTokens(body.prompt);
    const c = estimateTokens(r.text);
    return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
  };
  if (!body.stream) {
    const o = await runCompletion(deps, body, pinned, signal);
    if (!o.ok) return failed(res, o);
    sendJson(res, 200, { id: cid, object: 'text_completion', created, model: body.model, choices: [{ text: o.value.text, index: 0, logprobs: null, finish_reason: o.value.finishReason ?? 'stop' }], usage: usage(o.value) });
    return;
  }
  const sse = new SseWriter(res);
  const o = await runCompletion(deps, body, pinned, signal, (delta) => sse.event(chunk(delta, null)));
  if (!o.ok) return failed(res, o, sse);
  const tail: unknown[] = [chunk('', o.value.finishReason ?? 'stop')];
  if (body.includeUsage) tail.push({ id: cid, object: 'text_completion', created, model: body.model, choices: [], usage: usage(o.value) });
  sse.done(...tail);
}

async function chat(deps: ServeDeps, raw: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const body = chatBody(raw);
  pinnedBackend(body.model, Object.keys(deps.config().backends));
  const req = taskRequest(raw, body);
  if (!req.ok) throw fromFailure(req.failure);
  if (!deps.chat) throw new ApiError(503, 'chat is not available in this build', 'server_error', null, 'chat_unavailable');
  await runChat(deps.chat, req.value, body, res, signal);
}

/** A failed outcome: a JSON error, or (a stream already begun) an error event. Nothing for a client that left. */
export function failed(res: ServerResponse, o: Outcome<unknown> & { ok: false }, sse?: SseWriter): void {
  if (o.failure.kind === 'cancelled' && res.destroyed) return;
  const err = fromFailure(o.failure);
  if (sse?.isStarted) sse.fail(err);
  else sendError(res, err);
}
