// Live backend objects for the configuration in force, rebuilt only where a backend's settings changed.
import type { Backend, Config } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { LlamaCppBackend } from './llamacpp.js';
import { OllamaBackend } from './ollama.js';
import { OpenAICompatBackend } from './openaiCompat.js';
import { TgiBackend } from './tgi.js';
import type { BackendDeps } from './transport.js';
import type { BackendFailure, CompletionBackend } from './types.js';

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
      const backend = createBackend(b, { logger: this.logger, env: this.env });
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
