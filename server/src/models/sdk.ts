// The `openai` package, imported on first use: it is ~150 module files (~100-200 ms of a cold
// process's start), which a CLI run that calls no model (`prompt`, `--version`) never needs. The
// server starts loading it in the background when it starts (server.ts), so its first request
// finds it loaded.
import type * as OpenAIModule from 'openai';

export type OpenAISdk = typeof OpenAIModule;

let sdk: OpenAISdk | undefined;
let loading: Promise<OpenAISdk> | undefined;

/** The package, importing it on the first call. */
export function loadOpenai(): Promise<OpenAISdk> {
  return (loading ??= import('openai').then((m) => (sdk = m)));
}

/**
 * The package if it was imported already, else undefined: then no object of its classes can
 * exist in this process (only code that loaded it makes them), so a check for one is false.
 */
export function loadedOpenai(): OpenAISdk | undefined {
  return sdk;
}
