// Live backend objects for the configuration in force, rebuilt only where a backend's settings changed.
import type { Backend, Config } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { OpenAICompatBackend } from './openaiCompat.js';
import type { BackendFailure, CompletionBackend, Outcome } from './types.js';

/** Kinds of the contract whose wire protocols are not built yet fail every call with this honest message. */
class UnsupportedBackend implements CompletionBackend {
  readonly name: string;
  readonly url: string;
  readonly location: 'onprem' | 'cloud';
  constructor(private readonly cfg: Backend) {
    this.name = cfg.name;
    this.url = cfg.url;
    this.location = cfg.location;
  }
  private fail(): Promise<Outcome<never>> {
    return Promise.resolve({ ok: false, failure: { kind: 'bad_request', message: `backends.${this.name}.kind: "${this.cfg.kind}" is not supported by this version of tandem yet (use vllm or openai)` } });
  }
  info() { return this.fail(); }
  complete() { return this.fail(); }
}

export class BackendRegistry {
  private readonly live = new Map<string, { key: string; backend: CompletionBackend }>();
  /** Backends whose last request failed: their next failure is logged at debug, not again as a warning. */
  private readonly failing = new Set<string>();

  constructor(private readonly logger: Logger, private readonly env: NodeJS.ProcessEnv = process.env) {}

  update(config: Config): void {
    for (const name of [...this.live.keys()]) if (!config.backends[name]) this.live.delete(name);
    for (const b of Object.values(config.backends)) {
      const key = JSON.stringify(b);
      if (this.live.get(b.name)?.key === key) continue;
      const backend = b.kind === 'vllm' || b.kind === 'openai' ? new OpenAICompatBackend(b, { logger: this.logger, env: this.env }) : new UnsupportedBackend(b);
      this.live.set(b.name, { key, backend });
      this.failing.delete(b.name);
    }
  }

  get(name: string): CompletionBackend | undefined {
    return this.live.get(name)?.backend;
  }

  /** Records a request's outcome; a failure is logged once per outage, not once per keystroke. */
  report(name: string, failure: BackendFailure | undefined): void {
    if (!failure) {
      if (this.failing.delete(name)) this.logger.info(`backend ${name} answers again`);
      return;
    }
    if (failure.kind === 'cancelled') return;
    if (this.failing.has(name)) this.logger.debug(`backend ${name}: ${failure.message}`);
    else {
      this.failing.add(name);
      this.logger.warn(`backend ${name}: ${failure.message}`);
    }
  }
}
