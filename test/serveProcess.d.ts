import type { ChildProcess } from 'node:child_process';
export interface ServeProcess {
  /** e.g. http://127.0.0.1:41234/v1 */
  url: string;
  token: string;
  tokenPath: string;
  state: string;
  /** The --config file it was started with. */
  configFile: string;
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  stop(): Promise<number | string | null>;
}
export function startServeProcess(opts: { config: unknown; workspace: string; env?: Record<string, string>; args?: string[]; state?: string }): Promise<ServeProcess>;
