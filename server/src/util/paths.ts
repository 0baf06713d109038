// Where tandem keeps its own files: $XDG_STATE_HOME/tandem, else ~/.local/state/tandem.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.length > 0 ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'tandem');
}
