// Live backend objects for the configuration in force, each behind the privacy gate, with their health.
import type { Backend, Config } from '../config/schema.js';
import { AuditLog, defaultAuditPath } from '../privacy/audit.js';
import { PrivacyGate } from '../privacy/gate.js';
import { PathPolicy } from '../privacy/paths.js';
import { SpendLedger } from '../router/budget.js';
import { HealthMonitor } from '../router/health.js';
import { Hedger } from '../router/hedge.js';
import type { Logger } from '../util/logger.js';
import { LlamaCppBackend } from './llamacpp.js';
import { OllamaBackend } from './ollama.js';
import { OpenAICompatBackend } from './openaiCompat.js';
import { TgiBackend } from './tgi.js';
import type { BackendDeps } from './transport.js';
import type { BackendFailure, CompletionBackend, Outcome } from './types.js';

/** One client for one configured backend, by its wire protocol. */
export function createBackend(b: Backend, deps: BackendDeps): CompletionBackend {
  switch (b.kind) {
    case 'vllm':
    case 'openai':
      return new OpenAICompatBackend(b, deps);
    case 'tgi':
      return new TgiBackend(b, deps);
    case 'ollama':
      return new OllamaBackend(b, deps);
    case 'llamacpp':
      return new LlamaCppBackend(b, deps);
  }
}

/** Shorter values would cut ordinary words out of messages; real keys are long (as in LogHub). */
const MIN_KEY_LENGTH = 8;

/**
 * Failure messages quote what servers answer, and a server or a proxy in front of it may echo the
 * request's Authorization header back (a 401 body, an error event in the stream). The key is cut
 * out of every failure of the backend it was sent to, here, before health, logs, tandem/status,
 * LSP errors, the audit log or the CLI's output can carry it.
 */
export function withoutKey(backend: CompletionBackend, key: string | undefined): CompletionBackend {
  if (!key || key.length < MIN_KEY_LENGTH) return backend;
  const scrub = <T>(o: Outcome<T>): Outcome<T> => (o.ok || !o.failure.message.includes(key) ? o : { ok: false, failure: { ...o.failure, message: o.failure.message.split(key).join('<redacted>') } });
  const { chat, probe, countTokens } = backend;
  return {
    name: backend.name,
    url: backend.url,
    location: backend.location,
    ...(backend.choices ? { choices: backend.choices } : {}),
    info: (signal) => backend.info(signal).then(scrub),
    complete: (req, signal) => backend.complete(req, signal).then(scrub),
    ...(chat ? { chat: (req, signal) => chat.call(backend, req, signal).then(scrub) } : {}),
    ...(probe ? { probe: (signal) => probe.call(backend, signal).then(scrub) } : {}),
    ...(countTokens ? { countTokens: (text, signal) => countTokens.call(backend, text, signal).then(scrub) } : {}),
  };
}

/** Latency samples kept per backend for the p50/p95 of `tandem.stats`. */
const LATENCY_SAMPLES = 500;

export interface RegistryOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the days' cloud spend is kept (undefined: memory only, as in unit tests). */
  spendDir?: string;
  /** Write audit records (the CLI and the server do; unit tests may not). */
  audit?: boolean;
  /** Where source files really are, for the gates (the workspace folders); default: no folders, paths matched as written. */
  paths?: PathPolicy;
}

export class BackendRegistry {
  private readonly live = new Map<string, { key: string; backend: CompletionBackend }>();
  /** Backends whose last request failed: their next failure is logged at debug, not again as a warning. */
  private readonly failing = new Set<string>();
  private readonly latencies = new Map<string, number[]>();
  readonly health = new HealthMonitor();
  /** Hedged inline requests: first-token times per backend, the delays they give, what the hedges won. */
  readonly hedge: Hedger;
  readonly spend: SpendLedger;
  /** The path rules every gate applies; routing asks the same object, so the two never disagree. */
  readonly paths: PathPolicy;
  private config: Config | undefined;
  private audit: AuditLog | undefined;
  private auditKey: string | undefined;
  private readonly env: NodeJS.ProcessEnv;

  private readonly auditOn: boolean;

  constructor(private readonly logger: Logger, opts: RegistryOptions = {}) {
    this.env = opts.env ?? process.env;
    this.spend = new SpendLedger(opts.spendDir, undefined, (m) => this.logger.warn(m));
    this.auditOn = opts.audit ?? true;
    this.paths = opts.paths ?? new PathPolicy({ roots: () => [] });
    this.hedge = new Hedger((name, failure) => this.report(name, failure), logger.child('hedge'));
  }

  update(config: Config): void {
    this.config = config;
    this.updateAudit(config);
    for (const name of [...this.live.keys()]) if (!config.backends[name]) this.live.delete(name);
    this.health.retain(Object.keys(config.backends));
    // A backend whose settings changed may be another server: its first-token times start over.
    this.hedge.forget((name) => config.backends[name] !== undefined && this.live.get(name)?.key === JSON.stringify(config.backends[name]));
    for (const b of Object.values(config.backends)) {
      const key = JSON.stringify(b);
      if (this.live.get(b.name)?.key === key) continue;
      const inner = withoutKey(createBackend(b, { logger: this.logger, env: this.env }), b.apiKeyEnv ? this.env[b.apiKeyEnv] : undefined);
      // Every call, from every caller, goes through the gate: privacy is enforced in one place.
      const backend = new PrivacyGate(inner, {
        policy: () => this.config!.privacy,
        paths: this.paths,
        audit: this.audit,
        onUsage: (tokensIn, tokensOut) => this.spend.record(b.name, b, tokensIn, tokensOut),
      });
      this.live.set(b.name, { key, backend });
      this.failing.delete(b.name);
    }
  }

  private updateAudit(config: Config): void {
    const path = config.audit.path ?? defaultAuditPath(this.env);
    const key = JSON.stringify([this.auditOn && config.audit.enabled, path, config.audit.maxBytes, config.audit.keep]);
    if (this.auditKey === key) return;
    this.auditKey = key;
    this.audit?.close();
    this.audit = this.auditOn && config.audit.enabled ? new AuditLog({ path, maxBytes: config.audit.maxBytes, keep: config.audit.keep, onError: (m) => this.logger.warn(m) }) : undefined;
    // Gates hold the log they were built with: rebuild them all.
    this.live.clear();
  }

  get(name: string): CompletionBackend | undefined {
    return this.live.get(name)?.backend;
  }

  /**
   * Records a request's outcome for health and latency; a failure is logged once per outage,
   * not once per keystroke.
   */
  report(name: string, failure: BackendFailure | undefined, latencyMs?: number, fromProbe = false): void {
    if (!failure) {
      this.health.success(name, latencyMs);
      // Probes feed health, not the request latency figures of tandem.stats.
      if (latencyMs !== undefined && !fromProbe) {
        const xs = this.latencies.get(name) ?? [];
        xs.push(latencyMs);
        if (xs.length > LATENCY_SAMPLES) xs.shift();
        this.latencies.set(name, xs);
      }
      if (this.failing.delete(name)) this.logger.info(`backend ${name} answers again`);
      return;
    }
    this.health.failure(name, failure);
    // A cancelled request says nothing about the server (health only frees its trial slot).
    if (failure.kind === 'cancelled') return;
    if (this.failing.has(name)) this.logger.debug(`backend ${name}: ${failure.message}`);
    else {
      this.failing.add(name);
      this.logger.warn(`backend ${name}: ${failure.message}`);
    }
  }

  /** p50/p95 of recent successful requests, per backend. */
  latencyPercentiles(): Record<string, { p50: number; p95: number; samples: number }> {
    const out: Record<string, { p50: number; p95: number; samples: number }> = {};
    for (const [name, xs] of this.latencies) {
      const s = [...xs].sort((a, b) => a - b);
      const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
      out[name] = { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), samples: s.length };
    }
    return out;
  }
}
