// The privacy glob matcher: picomatch's answers on ordinary globs, bounded work on pathological ones.
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { compileGlob, expandBraces, MAX_ALTERNATIVES, type MatchWork } from '../../server/src/privacy/glob.js';

/** Globs and paths where the matcher must agree with picomatch (dot: true), as onPremOnly used it before. */
const AGREE: [glob: string, paths: string[]][] = [
  ['**/secrets/**', ['secrets/k.ts', 'a/secrets/b/c.ts', 'secrets', 'x/secrets', 'secretsx/k.ts', 'a/mysecrets/k.ts', 'a/secrets.ts']],
  ['secrets/**', ['secrets/k.ts', 'secrets', 'a/secrets/k.ts', 'secrets/a/b']],
  ['**/*.pem', ['a.pem', 'a/b/c.pem', 'a.pem.bak', '.pem', 'a/.x.pem']],
  ['*.pem', ['a.pem', 'a/b.pem']],
  ['**/.env*', ['.env', '.env.local', 'deploy/.env', 'deploy/env', 'x.env']],
  ['**', ['a', '.env', 'a/b/c']],
  ['src/*', ['src/a.ts', 'src/.hidden', 'src/a/b.ts', 'src']],
  ['a/**/b', ['a/b', 'a/x/b', 'a/x/y/b', 'ab', 'a/xb']],
  ['src/?.ts', ['src/a.ts', 'src/ab.ts', 'src//.ts']],
  ['{a,b}/*.{ts,js}', ['a/x.ts', 'b/y.js', 'c/x.ts', 'a/x.py']],
  ['a/{b,c{d,e}}/f', ['a/b/f', 'a/cd/f', 'a/ce/f', 'a/c/f']],
  ['[a-c]x/*', ['ax/1', 'bx/1', 'dx/1', 'Ax/1']],
  ['[^a]*', ['bc', 'ab']],
  ['file[0-9].txt', ['file1.txt', 'filea.txt']],
  ['\\*.ts', ['*.ts', 'a.ts']],
  ['config/{1..3}.json', ['config/2.json', 'config/4.json']],
  ['!**/*.md', ['a.md', 'a.ts']],
  ['./keys.ts', ['keys.ts', 'a/keys.ts']],
  ['**/secret*/**', ['a/secret-x/b', 'secrets/k.ts']],
  ['a{b}', ['a{b}', 'ab']],
];

describe('compileGlob', () => {
  for (const [glob, paths] of AGREE) {
    it(`agrees with picomatch on ${glob}`, () => {
      const m = compileGlob(glob);
      expect(m.error).toBeUndefined();
      for (const p of paths) expect(m.match(p), `${glob} on ${p}`).toBe(picomatch.isMatch(p, glob, { dot: true }));
    });
  }

  it('is stricter where picomatch is odd: a glob ending in / covers the directory, ** inside a name crosses directories, [!a] negates', () => {
    expect(compileGlob('secrets/').match('secrets/keys.ts')).toBe(true);
    expect(compileGlob('secrets/').match('secrets')).toBe(true);
    expect(compileGlob('**.pem').match('a/b/c.pem')).toBe(true);
    expect(compileGlob('a**b').match('ax/yb')).toBe(true);
    expect(compileGlob('[!a]*').match('bc')).toBe(true);
    expect(compileGlob('[!a]*').match('ac')).toBe(false);
    // picomatch lets `**/secrets/**` match the directory `secrets` but not `**/secret*/**` match `a/secrets`.
    expect(compileGlob('**/secret*/**').match('a/secrets')).toBe(true);
  });

  it('matches case-insensitively when asked (case-insensitive file systems)', () => {
    expect(compileGlob('**/secrets/**').match('Secrets/keys.ts')).toBe(false);
    expect(compileGlob('**/secrets/**', true).match('Secrets/keys.ts')).toBe(true);
    expect(compileGlob('**/[s]ECRETS/*.TS', true).match('a/SeCrEtS/k.ts')).toBe(true);
    expect(compileGlob('[A-C]x', true).match('bX')).toBe(true);
  });

  it('fails closed: a glob it cannot read matches every path, with the reason', () => {
    for (const [glob, why] of [
      ['+(a|b)/**', 'extended globs'],
      [`${'{a,b}'.repeat(9)}`, `more than ${MAX_ALTERNATIVES} alternatives`],
      ['{1..100000}', 'more than'],
      ['x'.repeat(2000), 'longer than'],
      ['[[:nope:]]', 'unknown character class'],
    ] as const) {
      const m = compileGlob(glob);
      expect(m.error, glob.slice(0, 20)).toContain(why);
      expect(m.match('src/anything.ts')).toBe(true);
    }
  });

  it('expands braces in order, nested, with ranges, leaving single-word braces literal', () => {
    expect(expandBraces('a{b,c{d,e}}f')).toEqual(['abf', 'acdf', 'acef']);
    expect(expandBraces('{x}{1..3}')).toEqual(['{x}1', '{x}2', '{x}3']);
    expect(expandBraces('[{]{a,b}')).toEqual(['[{]a', '[{]b']);
  });

  it('does bounded work on a glob that backtracks a regular expression: at most (tokens + 1) x (characters + 1) cells', () => {
    // The security pass's shape: a name of many `a`s beside a glob of many `a*`. A backtracking
    // regular expression explores exponentially many ways to split the name; the table fills each cell once.
    const glob = `**/${'a*'.repeat(24)}b/**`;
    const name = `${'a'.repeat(64)}/x.ts`;
    const work: MatchWork = { steps: 0 };
    const m = compileGlob(glob);
    expect(m.match(name, work)).toBe(false);
    expect(m.match(`${'a'.repeat(64)}b/x.ts`, work)).toBe(true);
    const tokens = 4 + 24 * 2 + 1 + 3; // `**/` (3 + the optional marker), 24 x `a*`, `b`, `/**` (3)
    const cells = (n: number) => (tokens + 1) * (n + 1);
    expect(work.steps).toBeLessThanOrEqual(cells(name.length) + cells(name.length + 1));
    // Twice the name, twice the work (not the square of it, nor an exponent).
    const long: MatchWork = { steps: 0 };
    m.match(`${'a'.repeat(128)}/x.ts`, long);
    const short: MatchWork = { steps: 0 };
    m.match(`${'a'.repeat(64)}/x.ts`, short);
    expect(long.steps).toBeLessThan(2 * short.steps + 2 * (tokens + 1));
  });
});
