// serve's bearer token file: made once (0600, whole or not at all), reused, tightened, checked.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authorized, ensureToken } from '../../server/src/serve/token.js';

const dir = () => join(mkdtempSync(join(tmpdir(), 'tandem-token-')), 'state', 'tandem');

describe('serve token', () => {
  it('is made once with mode 0600 in a 0700 directory, then read back unchanged', () => {
    const d = dir();
    const a = ensureToken(d);
    expect(a.created).toBe(true);
    expect(a.path).toBe(join(d, 'serve.token'));
    expect(statSync(a.path).mode & 0o777).toBe(0o600);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(a.token).toMatch(/^tdm_[A-Za-z0-9_-]{43}$/);
    const b = ensureToken(d);
    expect(b).toEqual({ token: a.token, path: a.path, created: false });
    expect(ensureToken(dir()).token).not.toBe(a.token);
  });

  it('a token file others can read is made 0600, and said so', () => {
    const d = dir();
    const a = ensureToken(d);
    chmodSync(a.path, 0o644);
    const b = ensureToken(d);
    expect(b.token).toBe(a.token);
    expect(b.tightened).toBe(`${a.path} was readable by other users (mode 644); made it 0600`);
    expect(statSync(a.path).mode & 0o777).toBe(0o600);
  });

  it('a file that holds no token is an error naming it, never replaced behind the user\'s back', () => {
    const d = dir();
    const a = ensureToken(d);
    writeFileSync(a.path, 'short\n', { mode: 0o600 });
    expect(() => ensureToken(d)).toThrow(`${a.path}: not a tandem token (expected 32 to 256 characters of A-Z a-z 0-9 _ -); delete the file to have a new one made`);
    expect(readFileSync(a.path, 'utf8')).toBe('short\n');
  });

  it('processes starting at the same moment all get the one token', async () => {
    const d = dir();
    const mod = join(import.meta.dirname, '..', '..', 'server', 'out', 'serve', 'token.js');
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', `import { ensureToken } from ${JSON.stringify(mod)}; process.stdout.write(ensureToken(${JSON.stringify(d)}).token);`]);
        let out = '';
        c.stdout.on('data', (x) => (out += x));
        c.on('error', reject);
        c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
      });
    const tokens = await Promise.all(Array.from({ length: 6 }, run));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toBe(readFileSync(join(d, 'serve.token'), 'utf8').trim());
  });

  it('authorized: the Bearer scheme in any case, the exact token, nothing else', () => {
    const t = 'tdm_' + 'a'.repeat(43);
    expect(authorized(`Bearer ${t}`, t)).toBe(true);
    expect(authorized(`bearer ${t}`, t)).toBe(true);
    expect(authorized(`Bearer ${t}x`, t)).toBe(false);
    expect(authorized(`Bearer ${t.slice(1)}`, t)).toBe(false);
    expect(authorized(t, t)).toBe(false);
    expect(authorized(`Basic ${t}`, t)).toBe(false);
    expect(authorized(`Bearer ${t} extra`, t)).toBe(false);
    expect(authorized(undefined, t)).toBe(false);
    expect(authorized('', t)).toBe(false);
  });
});
