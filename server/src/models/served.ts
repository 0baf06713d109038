// Which models a backend's server serves, by the server's own listing (vLLM/OpenAI /v1/models,
// Ollama /api/tags, TGI /info, llama.cpp /props): for `doctor` and for a 404's "did you mean".
import type { Backend } from '../config/schema.js';
import { connectFailure, httpFailure } from './errors.js';
import { apiBaseUrl } from './openaiCompat.js';
import { backendHeaders, backendTransport, isAzureUrl } from './transport.js';
import type { Outcome } from './types.js';
import type { Logger } from '../util/logger.js';

export interface Served {
  /** The names the server answers to (TGI and llama.cpp: the one model loaded). */
  models: string[];
  /** The listing asked (a URL), for messages. */
  source: string;
  /** Whether a request naming another model is refused (vLLM, OpenAI, Ollama) or served anyway (TGI, llama.cpp). */
  strict: boolean;
}

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, trace() {}, enabled: () => false, child: () => quiet };

/** The served models, or undefined where the server has no listing to ask (an Azure deployment). */
export async function servedModels(cfg: Backend, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<Outcome<Served> | undefined> {
  const transport = backendTransport(cfg, env);
  if (!transport.ok) return { ok: false, failure: transport.failure };
  const { headers, key } = backendHeaders(cfg, env, quiet);
  // Anthropic's /v1/models is its native API: the key as x-api-key, with a version (as the backend's probe sends it).
  if (key && new URL(cfg.url).hostname === 'api.anthropic.com') Object.assign(headers, { 'x-api-key': key, 'anthropic-version': '2023-06-01' });
  const root = cfg.url.replace(/\/+$/, '');
  let target: string;
  if (cfg.kind === 'vllm' || cfg.kind === 'openai') {
    if (isAzureUrl(cfg.url)) return undefined;
    target = `${apiBaseUrl(cfg)}/models`;
  } else if (cfg.kind === 'ollama') target = `${root}/api/tags`;
  else if (cfg.kind === 'tgi') target = `${root}/info`;
  else target = `${root}/props`;
  let res: Response;
  try {
    res = await transport.fetch(target, { headers, signal });
  } catch (err) {
    return { ok: false, failure: connectFailure(err, target, signal) };
  }
  const text = await res.text();
  if (!res.ok) return { ok: false, failure: httpFailure(target, res.status, text, res.headers) };
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, failure: { kind: 'bad_response', message: `${target} sent an answer that is not valid JSON` } };
  }
  const str = (v: unknown): v is string => typeof v === 'string' && v !== '';
  let models: string[];
  if (cfg.kind === 'vllm' || cfg.kind === 'openai') models = Array.isArray(body?.data) ? body.data.map((m: any) => m?.id).filter(str) : [];
  else if (cfg.kind === 'ollama') models = Array.isArray(body?.models) ? body.models.map((m: any) => (str(m?.name) ? m.name : m?.model)).filter(str) : [];
  else if (cfg.kind === 'tgi') models = [body?.model_id].filter(str);
  else {
    const named = [body?.model_alias, body?.model_path].find(str);
    models = named ? [named.split(/[\\/]/).pop()!] : [];
  }
  return { ok: true, value: { models, source: target, strict: cfg.kind === 'vllm' || cfg.kind === 'openai' || cfg.kind === 'ollama' } };
}

/** Whether `model` is among `served` (Ollama's `name` means `name:latest`). */
export function isServed(model: string, served: Served, kind: Backend['kind']): boolean {
  return served.models.some((m) => m === model || (kind === 'ollama' && (m === `${model}:latest` || `${m}:latest` === model)));
}
