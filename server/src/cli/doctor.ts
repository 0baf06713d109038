// `tandem-lsp doctor`, and the CLI's account of a failed backend: what is wrong and what fixes it
// (the model served, the key's variable, the server's certificate, the file that set the value).
import { isIP } from 'node:net';
import tls from 'node:tls';
import { userConfigPath } from '../config/load.js';
import type { Backend, Config } from '../config/schema.js';
import type { BackendRegistry } from '../models/registry.js';
import { isServed, servedModels } from '../models/served.js';
import type { BackendFailure } from '../models/types.js';
import { nextEditFormatFor } from '../nextEdit/formats.js';
import { chooseBackend } from '../router/route.js';
import { deadlineSignal } from '../util/abort.js';
import { nearest } from '../util/nearest.js';

/** Which source set a configuration value (config/load.ts ConfigResult.origin); undefined: a built-in default. */
export type Origin = (path: readonly PropertyKey[]) => string | undefined;

const PROBE_TIMEOUT_MS = 5000;

/** "in /path/file.json" for the source of `backends.<name>.<key>`, or where to set it when a default is in force. */
function whereSet(origin: Origin | undefined, name: string, key: string): string {
  const src = origin?.([`backends`, name, key]) ?? origin?.(['backends', name]);
  if (src) return `in ${src}`;
  return `(now the built-in default) in a --config file, $TANDEM_CONFIG's file or ${userConfigPath()} (create it)`;
}

/** Drops a sentence's final period, so that another can follow it without "..". */
export function sentence(s: string): string {
  return s.replace(/[.\s]+$/, '');
}

const TLS_FAILURE = /CERT|certificate|SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify|ALTNAME|SSL|TLS/i;

/** `CN=tandem test, O=Acme` from a certificate's subject or issuer object. */
function distinguished(n: unknown): string {
  if (!n || typeof n !== 'object') return 'unknown';
  return Object.entries(n as Record<string, unknown>)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

/** The certificate a TLS server presents, read without verifying it (only to name it in a message). */
export function peerCertificate(url: string, timeoutMs = 3000): Promise<{ subject: string; issuer: string } | undefined> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.resolve(undefined);
  }
  if (u.protocol !== 'https:') return Promise.resolve(undefined);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port: Number(u.port || 443), rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const done = (v: { subject: string; issuer: string } | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('secureConnect', () => {
      const c = socket.getPeerCertificate();
      done(c && Object.keys(c).length > 0 ? { subject: distinguished(c.subject), issuer: distinguished(c.issuer) } : undefined);
    });
    socket.once('error', () => done(undefined));
  });
}

/**
 * What would make backend `name` work after `f`, as one sentence starting "Fix: " (empty when
 * there is nothing the user can set). Asks the server's listing for a model it did not know, and
 * the server's certificate for a TLS failure.
 */
export async function fixFor(f: BackendFailure, b: Backend, origin: Origin | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const key = (k: string) => `backends.${b.name}.${k}`;
  if (b.apiKeyEnv && !env[b.apiKeyEnv]) return `Fix: the environment variable ${b.apiKeyEnv} (${key('apiKeyEnv')}) is not set: export ${b.apiKeyEnv}=<your key> where tandem (or your editor) starts.`;
  if ((f.kind === 'unreachable' || f.kind === 'stream') && TLS_FAILURE.test(f.message) && b.url.startsWith('https:')) {
    const cert = await peerCertificate(b.url);
    const which = cert ? `its certificate (subject "${cert.subject}", issuer "${cert.issuer}")` : 'its certificate';
    const viaProxy = b.proxy ? `, or check ${key('proxy')} (${b.proxy}): a proxy that inspects TLS needs its own CA there` : `; behind a TLS-inspecting proxy, set ${key('proxy')} and trust the proxy's CA`;
    return `Fix: ${b.url} is not trusted: set ${key('caFile')} ${whereSet(origin, b.name, 'caFile')} to the PEM file of the CA that issued ${which}${viaProxy}.`;
  }
  if (f.kind === 'auth') {
    return b.apiKeyEnv
      ? `Fix: the server refused the key in ${b.apiKeyEnv} (${key('apiKeyEnv')}): check its value.`
      : `Fix: the server wants a key: set ${key('apiKeyEnv')} ${whereSet(origin, b.name, 'apiKeyEnv')} to the name of an environment variable that holds it.`;
  }
  if (f.kind === 'not_found' && b.model) {
    const listed = await servedModels(b, env, deadlineSignal(PROBE_TIMEOUT_MS));
    if (listed?.ok && !isServed(b.model, listed.value, b.kind)) return modelFix(b, listed.value.models, origin);
  }
  if (f.kind === 'unreachable' || f.kind === 'timeout') {
    return `Fix: start a server from deploy/ (deploy/README.md: deploy/vllm for GPU servers, deploy/ollama for CPU laptops), or set ${key('url')} ${whereSet(origin, b.name, 'url')} to a running one.`;
  }
  return '';
}

function modelFix(b: Backend, served: string[], origin: Origin | undefined): string {
  const near = nearest(b.model!, served);
  const list = served.length === 0 ? 'it lists none' : `it serves ${served.slice(0, 8).map((m) => `"${m}"`).join(', ')}${served.length > 8 ? ` and ${served.length - 8} more` : ''}`;
  const guess = near.length > 0 ? `did you mean "${near[0]}"? ` : '';
  return `Fix: ${guess}set backends.${b.name}.model ${whereSet(origin, b.name, 'model')} to a model the server serves (${list}).`;
}

/** The CLI's sentence for a request no backend could answer: the failure, then its fix. */
export async function noBackendMessage(f: BackendFailure, backend: string | undefined, config: Config, origin: Origin | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const b = backend ? config.backends[backend] : undefined;
  const what = b ? `backend "${backend}" (${b.kind} at ${b.url}${b.model ? `, model "${b.model}"` : ''})` : 'the backend';
  const fix = b ? await fixFor(f, b, origin, env) : '';
  return `no usable backend: ${what} failed: ${sentence(f.message)}.${fix ? ` ${fix}` : ''}`;
}

/**
 * One line per backend (and the fix under each that is not usable), then the `between` lines (the
 * syntax line), one per route; 0 when every route is served.
 */
export async function doctor(config: Config, backends: BackendRegistry, origin: Origin | undefined, env: NodeJS.ProcessEnv, write: (line: string) => void, between: string[] = []): Promise<number> {
  const healthy = new Set<string>();
  /** The model each reachable backend serves, for the next-edit format line. */
  const served = new Map<string, string>();
  const names = Object.keys(config.backends);
  const width = Math.max(...names.map((n) => n.length));
  const reports = await Promise.all(
    names.map(async (name): Promise<string[]> => {
      const b = config.backends[name]!;
      const head = `${name.padEnd(width)}  ${b.kind.padEnd(8)} ${b.location.padEnd(6)} ${b.url}`;
      if (b.location === 'cloud' && config.privacy.airGapped) return [`${head}  skipped: air-gapped, cloud backends are never contacted`];
      const keyMissing = b.apiKeyEnv && !env[b.apiKeyEnv];
      const start = performance.now();
      const o = await backends.get(name)!.info(deadlineSignal(PROBE_TIMEOUT_MS));
      const ms = Math.round(performance.now() - start);
      if (o.ok) served.set(name, o.value.id);
      if (!o.ok) {
        const fix = await fixFor(o.failure, b, origin, env);
        return [`${head}  unreachable: ${sentence(o.failure.message)}`, ...(fix ? [`  ${fix}`] : [])];
      }
      const line = `${head}  reachable  model ${o.value.id}  context ${o.value.contextWindow} (${o.value.contextSource})  latency ${ms} ms`;
      if (keyMissing) return [line, `  not usable: ${b.apiKeyEnv} is not set`, `  ${await fixFor({ kind: 'auth', message: '' }, b, origin, env)}`];
      // The model the requests will name must be one the server serves (vLLM, OpenAI and Ollama refuse others).
      const listed = await servedModels(b, env, deadlineSignal(PROBE_TIMEOUT_MS));
      // A configured model is enough for the lookup, so a refused key shows only here (an API that
      // lists no models answers 404 or 400, which is no fault).
      if (listed && !listed.ok && listed.failure.kind === 'auth') return [line, `  not usable: ${sentence(listed.failure.message)}`, `  ${await fixFor(listed.failure, b, origin, env)}`];
      if (b.model) {
        if (listed?.ok && !isServed(b.model, listed.value, b.kind)) {
          const fix = modelFix(b, listed.value.models, origin);
          if (listed.value.strict) return [line, `  not usable: model "${b.model}" is not served by ${listed.value.source}`, `  ${fix}`];
          healthy.add(name);
          return [line, `  note: the server has "${listed.value.models[0]}" loaded and answers any name; "${b.model}" only chooses the prompt template`];
        }
      }
      healthy.add(name);
      return [line];
    }),
  );
  for (const r of reports) for (const l of r) write(l);
  for (const l of between) write(l);
  let allServed = true;
  for (const task of ['inline', 'action', 'multiFile', 'chat'] as const) {
    const choice = chooseBackend(config, task, [], (n) => healthy.has(n));
    if (!choice.backend) allServed = false;
    write(`route ${task.padEnd(9)} ${choice.backend ? `-> ${choice.backend}` : '-> none'}  (${choice.reason})`);
  }
  // Next edits are optional: an empty route (the default when the inline route has no on-prem
  // backend) is a line of information, not a route left unserved.
  if (config.routes.nextEdit.length === 0) {
    write(`route nextEdit  -> none  (routes.nextEdit is empty: by default it is the inline route's on-prem backends, and there are none; next-edit suggestions are off until it names a backend)`);
  } else {
    const choice = chooseBackend(config, 'nextEdit', [], (n) => healthy.has(n));
    if (!choice.backend) allServed = false;
    write(`route nextEdit  ${choice.backend ? `-> ${choice.backend}` : '-> none'}  (${choice.reason})`);
    for (const name of config.routes.nextEdit) write(`  next-edit format on ${name}: ${nextEditFormatLine(config.backends[name]!, served.get(name))}`);
  }
  return allServed ? 0 : 1;
}

/** Which next-edit prompt format a backend gets, and why: its `nextEdit` setting, else its model's name. */
function nextEditFormatLine(b: Backend, servedModel: string | undefined): string {
  if (b.nextEdit) return `${b.nextEdit} (backends.${b.name}.nextEdit)`;
  const model = servedModel ?? b.model;
  if (model === undefined) return `not known until the server names its model (set backends.${b.name}.model or backends.${b.name}.nextEdit: zeta, sweep, instruct)`;
  const format = nextEditFormatFor(model).name;
  return format === 'instruct' ? `instruct (the model "${model}" is no known next-edit model: a chat prompt; set backends.${b.name}.nextEdit to zeta or sweep for a model trained on those)` : `${format} (from the model name "${model}")`;
}
