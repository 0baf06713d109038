// What every backend client shares before its first byte: the fetch with the backend's trust
// (caFile) and proxy, and the request headers (key only with apiKeyEnv, x-tandem-user, extras).
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import type { Backend } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { nodeFetch, type Fetch, type HttpOptions } from './http.js';
import type { BackendFailure } from './types.js';

export interface BackendDeps {
  logger: Logger;
  /** Where apiKeyEnv and the proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) are read. */
  env: NodeJS.ProcessEnv;
}

export type Transport = { ok: true; fetch: Fetch } | { ok: false; failure: BackendFailure };

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

/**
 * The fetch for one backend. A caFile that cannot be read (or holds no certificate) is not thrown:
 * the backend answers every call with a failure naming the key and the path, and the rest of
 * the configuration keeps working.
 */
export function backendTransport(cfg: Pick<Backend, 'name' | 'url' | 'caFile' | 'proxy'>, env: NodeJS.ProcessEnv, http: Pick<HttpOptions, 'lightStreams'> = {}): Transport {
  let ca: string | undefined;
  if (cfg.caFile) {
    const path = expandHome(cfg.caFile);
    try {
      ca = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? String(err));
      return { ok: false, failure: { kind: 'unreachable', message: `backends.${cfg.name}.caFile: cannot read ${path} (${why}), so ${cfg.url} is not contacted` } };
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      return { ok: false, failure: { kind: 'unreachable', message: `backends.${cfg.name}.caFile: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----), so ${cfg.url} is not contacted` } };
    }
  }
  return { ok: true, fetch: nodeFetch({ ca, proxy: cfg.proxy, env, ...http }) };
}

export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * Azure OpenAI, which takes the key in an `api-key` header rather than as a Bearer token: its
 * hosts, and Azure-style URLs under another name (an API Management gateway in front of it): a
 * deployment path or an `api-version` query parameter.
 */
export function isAzureUrl(url: string): boolean {
  try {
    const u = new URL(url);
    if (/\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/i.test(u.hostname)) return true;
    return /\/openai\/deployments\//.test(u.pathname) || u.searchParams.has('api-version');
  } catch {
    return false;
  }
}

export interface BackendHeaders {
  /** Headers for every request: x-tandem-user (on-prem), the configured extras, the key header. */
  headers: Record<string, string>;
  /** The key from apiKeyEnv, when set there. */
  key: string | undefined;
  /** How the key travels. */
  keyHeader: 'authorization' | 'api-key';
}

export function backendHeaders(cfg: Backend, env: NodeJS.ProcessEnv, log: Logger): BackendHeaders {
  const key = cfg.apiKeyEnv ? env[cfg.apiKeyEnv] || undefined : undefined;
  if (cfg.apiKeyEnv && !key) log.warn(`environment variable ${cfg.apiKeyEnv} (backends.${cfg.name}.apiKeyEnv) is not set; requests go without a key`);
  const headers: Record<string, string> = {};
  // Session affinity for on-prem routers (vLLM production stack, the gateway): one key per developer.
  if (cfg.location === 'onprem') headers['x-tandem-user'] = currentUser();
  for (const [k, v] of Object.entries(cfg.headers ?? {})) headers[k.toLowerCase()] = v;
  const keyHeader = isAzureUrl(cfg.url) ? 'api-key' : 'authorization';
  // Without apiKeyEnv no key header at all: never a placeholder, never OPENAI_API_KEY.
  if (key) headers[keyHeader] = keyHeader === 'api-key' ? key : `Bearer ${key}`;
  return { headers, key, keyHeader };
}
