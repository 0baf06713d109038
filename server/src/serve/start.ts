// Starting `tandem-lsp serve`: configuration, backends, token, the HTTP server on its port.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import type { BackendRegistry } from '../models/registry.js';
import { loadOpenai } from '../models/sdk.js';
import type { Logger } from '../util/logger.js';
import type { ChatService } from './chat.js';
import type { CompletionDeps } from './completions.js';
import { createServeServer, type ServeModel } from './server.js';
import { ensureToken } from './token.js';

export { DEFAULT_HOST, DEFAULT_PORT } from './defaults.js';

export interface ServeOptions {
  port: number;
  host: string;
  maxBodyBytes: number;
  stateDir: string;
  config: () => Config;
  backends: BackendRegistry;
  chat?: ChatService;
  sourcesOf?: CompletionDeps['sourcesOf'];
  /** The model list; default: tandem/auto and tandem/<backend> for each backend, from the configuration. */
  models?: () => Promise<ServeModel[]>;
  logger: Logger;
}

export interface Serving {
  server: Server;
  /** The base URL clients are given, e.g. http://127.0.0.1:8770/v1. */
  url: string;
  tokenPath: string;
  /** Things to tell the user once (a token file made private). */
  notes: string[];
  close(): Promise<void>;
}

/** The model list from the configuration alone. */
export function configModels(config: () => Config, created: number): () => Promise<ServeModel[]> {
  return async () => {
    const c = config();
    const auto: ServeModel = { id: 'tandem/auto', object: 'model', created, owned_by: 'tandem', name: 'tandem · auto (routes.chat)' };
    return [auto, ...Object.values(c.backends).map((b): ServeModel => ({ id: `tandem/${b.name}`, object: 'model', created, owned_by: 'tandem', name: `tandem · ${b.name} (${b.location === 'cloud' ? 'cloud' : 'on-prem'})`, backend: b.name, location: b.location }))];
  };
}

export async function startServe(opts: ServeOptions): Promise<Serving> {
  const token = ensureToken(opts.stateDir);
  const notes: string[] = [];
  if (token.tightened) notes.push(token.tightened);
  const server = createServeServer({
    token: token.token,
    maxBodyBytes: opts.maxBodyBytes,
    config: opts.config,
    backends: opts.backends,
    ...(opts.chat ? { chat: opts.chat } : {}),
    ...(opts.sourcesOf ? { sourcesOf: opts.sourcesOf } : {}),
    models: opts.models ?? configModels(opts.config, Math.floor(Date.now() / 1000)),
    logger: opts.logger,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `--port ${opts.port}: ${opts.host}:${opts.port} is in use (another tandem-lsp serve?); pick another port, or --port 0 for any free one` : `cannot listen on ${opts.host}:${opts.port}: ${err.message}`)),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  // The openai package is imported on first use (models/sdk.ts): loaded now, in the background,
  // so that the first request does not wait for it.
  loadOpenai().catch((err: unknown) => opts.logger.warn(`cannot load the openai package: ${err instanceof Error ? err.message : String(err)}`));
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${host}:${addr.port}/v1`,
    tokenPath: token.path,
    notes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
