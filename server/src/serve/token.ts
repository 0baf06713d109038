// The bearer token of `tandem-lsp serve`: random, written once to <stateDir>/serve.token (0600) and
// reused by every later start, so that the clients configured with it keep working.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { TOKEN_FILE } from './defaults.js';
export { TOKEN_FILE };
const SHAPE = /^[A-Za-z0-9_-]{32,256}$/;

export interface TokenFile {
  token: string;
  path: string;
  /** True when this call created it. */
  created: boolean;
  /** Set when the file had looser permissions and was made 0600. */
  tightened?: string;
}

/**
 * Reads the token, creating it first when there is none. The file appears whole or not at all
 * (written under another name, then linked), so a second process starting at the same moment
 * reads the same token. Throws an Error with one sentence naming the file when it cannot.
 */
export function ensureToken(stateDir: string): TokenFile {
  const path = join(stateDir, TOKEN_FILE);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  let created = false;
  try {
    statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${path}: cannot read the token file (${(err as NodeJS.ErrnoException).code})`);
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, `tdm_${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(tmp, path);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${path}: cannot create the token file (${(e as NodeJS.ErrnoException).code})`);
    } finally {
      unlinkSync(tmp);
    }
  }
  let tightened: string | undefined;
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
    tightened = `${path} was readable by other users (mode ${(st.mode & 0o777).toString(8)}); made it 0600`;
  }
  const token = readFileSync(path, 'utf8').trim();
  if (!SHAPE.test(token)) throw new Error(`${path}: not a tandem token (expected 32 to 256 characters of A-Z a-z 0-9 _ -); delete the file to have a new one made`);
  return { token, path, created, ...(tightened ? { tightened } : {}) };
}

/** Whether an Authorization header carries this token (compared in constant time). */
export function authorized(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}
