// The path policy on a real file system: symbolic links, case, folders opened inside protected directories, files outside every folder.
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { detectCaseInsensitive, PathPolicy, type PathRules } from '../../server/src/privacy/paths.js';

let base: string;
let root: string;
let elsewhere: string;

function file(abs: string, text = 'x'): string {
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
  return abs;
}

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-paths-')));
  root = join(base, 'repo');
  elsewhere = join(base, 'elsewhere');
  file(join(root, 'secrets', 'keys.ts'));
  file(join(root, 'src', 'app.ts'));
  file(join(elsewhere, 'target.ts'));
});

const rules = (onPremOnly: string[], allowOutsideWorkspace = false): PathRules => ({ onPremOnly, allowOutsideWorkspace });
const policy = (roots: string[], more: Partial<ConstructorParameters<typeof PathPolicy>[0]> = {}) => new PathPolicy({ roots: () => roots, ...more });

describe('PathPolicy.cloudRefusal', () => {
  it('matches the real path: a symlinked file, a symlinked directory, each spelled relative or absolute', () => {
    symlinkSync('../secrets/keys.ts', join(root, 'src', 'keys-link.ts'));
    symlinkSync('secrets', join(root, 'aaa'));
    const p = policy([root]);
    const r = rules(['**/secrets/**']);
    for (const path of ['src/keys-link.ts', 'aaa/keys.ts', join(root, 'aaa', 'keys.ts'), pathToFileURL(join(root, 'src', 'keys-link.ts')).href]) {
      const hit = p.cloudRefusal([path], r);
      expect(hit, path).toMatchObject({ path, rule: 'onPremOnly', glob: '**/secrets/**', real: join(root, 'secrets', 'keys.ts') });
      expect(hit!.why).toContain(`(really ${join(root, 'secrets', 'keys.ts')}), which privacy.onPremOnly ("**/secrets/**") keeps on-prem`);
    }
    expect(p.cloudRefusal(['src/app.ts'], r)).toBeUndefined();
  });

  it('a folder opened at the protected directory itself, or inside it, is still protected', () => {
    file(join(root, 'secrets', 'deep', 'more.ts'));
    for (const glob of ['**/secrets/**', 'secrets/**', 'repo/secrets/**']) {
      expect(policy([join(root, 'secrets')]).cloudRefusal(['keys.ts'], rules([glob])), glob).toMatchObject({ rule: 'onPremOnly', glob });
      expect(policy([join(root, 'secrets', 'deep')]).cloudRefusal(['more.ts'], rules([glob])), glob).toMatchObject({ rule: 'onPremOnly', glob });
    }
    // A glob for the folder's own files still means the folder's own files.
    expect(policy([join(root, 'secrets')]).cloudRefusal(['keys.ts'], rules(['*.py']))).toBeUndefined();
  });

  it('a differently-cased path matches on a case-insensitive file system (detection injected), not on a case-sensitive one', () => {
    const r = rules(['**/secrets/**']);
    const insensitive = policy([root], { caseInsensitive: () => true });
    expect(insensitive.cloudRefusal(['Secrets/keys.ts'], r)).toMatchObject({ rule: 'onPremOnly' });
    expect(insensitive.cloudRefusal([join(root, 'SECRETS', 'KEYS.TS')], r)).toMatchObject({ rule: 'onPremOnly' });
    // Case-sensitive (this machine's file system): `Secrets/` is another directory, which does not exist.
    expect(policy([root], { caseInsensitive: () => false }).cloudRefusal(['Secrets/keys.ts'], r)).toBeUndefined();
  });

  it('the real detection: this file system tells names apart by case, and a directory reached with its case flipped is the same one where it is not', () => {
    expect(detectCaseInsensitive(root)).toBe(false);
    expect(policy([root]).cloudRefusal(['Secrets/keys.ts'], rules(['**/secrets/**']))).toBeUndefined();
    // On a case-insensitive system `REPO` stats to the same inode as `repo`: here a link stands in for that.
    const ci = join(base, 'ci');
    mkdirSync(ci);
    symlinkSync('ci', join(base, 'CI'));
    expect(detectCaseInsensitive(ci)).toBe(true);
  });

  it('text from outside every folder is refused for the cloud unless allowed, and so is every file when no folder is open', () => {
    symlinkSync(join(elsewhere, 'target.ts'), join(root, 'src', 'ext.ts'));
    const p = policy([root]);
    const none = rules([]);
    expect(p.cloudRefusal([join(elsewhere, 'target.ts')], none)).toMatchObject({ rule: 'outsideWorkspace', short: 'outside the workspace folders, privacy.allowOutsideWorkspace' });
    expect(p.cloudRefusal(['/etc/passwd'], none)!.why).toBe(', which lies outside every workspace folder (privacy.allowOutsideWorkspace is off)');
    expect(p.cloudRefusal(['src/ext.ts'], none)).toMatchObject({ rule: 'outsideWorkspace', real: join(elsewhere, 'target.ts') });
    expect(p.cloudRefusal(['untitled:Untitled-1'], none)!.why).toContain('not a file in a workspace folder');
    expect(policy([]).cloudRefusal([join(root, 'src', 'app.ts')], none)!.why).toContain('no workspace folder is open');
    expect(p.cloudRefusal([join(elsewhere, 'target.ts'), 'untitled:x'], rules([], true))).toBeUndefined();
    // Allowed outside, the globs still hold there.
    expect(p.cloudRefusal([join(elsewhere, 'target.ts')], rules(['**/elsewhere/**'], true))).toMatchObject({ rule: 'onPremOnly' });
    expect(p.cloudRefusal(['src/app.ts', 'src/ext.ts'], none)).toMatchObject({ path: 'src/ext.ts' });
  });

  it('a file that does not exist yet resolves through its directory: inside the folder, matched as it would be created', () => {
    const p = policy([root]);
    expect(p.cloudRefusal(['src/new.ts'], rules(['**/secrets/**']))).toBeUndefined();
    expect(p.cloudRefusal(['secrets/new.ts'], rules(['**/secrets/**']))).toMatchObject({ rule: 'onPremOnly' });
    symlinkSync('secrets', join(root, 'bbb'));
    expect(p.cloudRefusal(['bbb/new/later.ts'], rules(['**/secrets/**']))).toMatchObject({ rule: 'onPremOnly' });
  });

  it('fails closed: a path whose real path cannot be resolved is refused, naming the error', () => {
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));
    const p = policy([root]);
    expect(p.cloudRefusal(['loop-a/x.ts'], rules([]))).toMatchObject({ rule: 'unresolved', short: 'real path unresolved: ELOOP' });
    const denied = policy([root], { realpath: (q) => (q.includes('src') ? fail('EACCES') : q) });
    expect(denied.cloudRefusal(['src/app.ts'], rules([]))).toMatchObject({ rule: 'unresolved' });
    expect(denied.outsideWorkspace('src/app.ts')).toBe(true);
  });

  it('a file under a thousand directories that do not exist: the nearest existing one is found by bisection, not one level at a time', () => {
    let calls = 0;
    const p = policy([root], { realpath: (q) => (calls++, realpathSync(q)) });
    const deep = `src/${'d/'.repeat(1000)}new.ts`;
    expect(p.cloudRefusal([deep], rules(['**/secrets/**']))).toBeUndefined();
    expect(p.cloudRefusal([`secrets/${'d/'.repeat(1000)}new.ts`], rules(['**/secrets/**']))).toMatchObject({ rule: 'onPremOnly' });
    // Each path: one try of the whole path, then ~log2(1,000 + the base's depth) prefixes, plus the root's own.
    expect(calls).toBeLessThan(2 * (2 + Math.ceil(Math.log2(1100))) + 4);
    // Longer than any OS accepts: it cannot be resolved, so it counts as protected (fails closed).
    expect(p.cloudRefusal([`src/${'d/'.repeat(2100)}new.ts`], rules([]))).toMatchObject({ rule: 'unresolved', short: 'real path unresolved: ENAMETOOLONG' });
    // Without matching any glob on its 2,000 tails (quadratic in its depth).
    const steps = p.work.steps;
    expect(p.cloudRefusal([`secrets/${'d/'.repeat(2100)}new.ts`], rules(['**/secrets/**', '**/*.pem']))).toMatchObject({ rule: 'unresolved' });
    expect(p.work.steps).toBe(steps);
    expect(p.outsideWorkspace(`src/${'d/'.repeat(2100)}new.ts`)).toBe(true);
  });

  it('matches each path once: verdicts are kept until a file event (invalidate) or a change of rules', () => {
    let calls = 0;
    const p = policy([root], { realpath: (q) => (calls++, realpathSync(q)) });
    const r = rules(['**/secrets/**', '**/*.pem']);
    p.cloudRefusal(['src/app.ts', 'secrets/keys.ts'], r);
    const [steps, resolved] = [p.work.steps, calls];
    expect(steps).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) p.cloudRefusal(['src/app.ts', 'secrets/keys.ts'], { ...r });
    expect([p.work.steps, calls]).toEqual([steps, resolved]);
    // The link changes and a file event says so: the new target counts.
    symlinkSync('../secrets/keys.ts', join(root, 'src', 'later.ts'));
    expect(p.cloudRefusal(['src/later.ts'], r)).toMatchObject({ rule: 'onPremOnly' });
    p.invalidate();
    p.cloudRefusal(['src/app.ts'], r);
    expect(calls).toBeGreaterThan(resolved);
  });

  it('a backtracking glob a repository added, beside a folder of `a`s: bounded work on the first request, none on the next ones', () => {
    const name = 'a'.repeat(40);
    file(join(root, name, 'x.ts'));
    const glob = `**/${'a*'.repeat(20)}b/**`;
    const p = policy([root]);
    expect(p.cloudRefusal([`${name}/x.ts`, 'src/app.ts'], rules([glob]))).toBeUndefined();
    // Each name tried is at most the path's length; each try fills at most (tokens + 1) x (characters + 1) cells.
    const tokens = 4 + 40 + 1 + 3;
    // A path's names: its tails from the folder's relative path up, and the absolute path; none is longer than that.
    const longest = join(root, name, 'x.ts').length;
    const names = join(root, name, 'x.ts').split('/').filter(Boolean).length + 1;
    const first = p.work.steps;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(2 * names * (tokens + 1) * (longest + 1));
    for (let i = 0; i < 100; i++) p.cloudRefusal([`${name}/x.ts`, 'src/app.ts'], rules([glob]));
    expect(p.work.steps).toBe(first);
  });

  it('a glob it cannot read protects every file, and says so once', () => {
    const warnings: string[] = [];
    const p = policy([root], { warn: (m) => warnings.push(m) });
    expect(p.cloudRefusal(['src/app.ts'], rules(['+(a|b)']))).toMatchObject({ rule: 'onPremOnly', glob: '+(a|b)' });
    p.cloudRefusal(['src/other.ts'], rules(['+(a|b)']));
    expect(warnings).toEqual(['privacy.onPremOnly glob "+(a|b)" cannot be used: extended globs such as *(a|b) or @(a|b) are not supported; use {a,b}; until it is fixed it matches every file, so no file\'s text goes to a cloud backend']);
  });
});

describe('PathPolicy.outsideWorkspace and resolvesInside', () => {
  it('a link leading out is outside; a link within, and any file without folders, is not', () => {
    symlinkSync(join(elsewhere, 'target.ts'), join(root, 'src', 'ext.ts'));
    symlinkSync('app.ts', join(root, 'src', 'inner.ts'));
    const p = policy([root]);
    expect(p.outsideWorkspace('src/ext.ts')).toBe(true);
    expect(p.outsideWorkspace(join(root, 'src', 'ext.ts'))).toBe(true);
    expect(p.outsideWorkspace('src/inner.ts')).toBe(false);
    expect(p.outsideWorkspace('src/app.ts')).toBe(false);
    expect(policy([]).outsideWorkspace(join(elsewhere, 'target.ts'))).toBe(false);
    expect(p.mayJoin('src/ext.ts', 'src/app.ts', false, rules([]))).toBe(false);
    expect(p.mayJoin('secrets/keys.ts', 'src/app.ts', false, rules(['**/secrets/**']))).toBe(true);
    expect(p.mayJoin('secrets/keys.ts', 'src/app.ts', true, rules(['**/secrets/**']))).toBe(false);
  });

  it('a new file under a directory link that leads out would not be created inside', () => {
    symlinkSync(elsewhere, join(root, 'tests'));
    const p = policy([root]);
    expect(p.resolvesInside(join(root, 'tests', 'app.test.ts'), root)).toEqual({ inside: false, real: join(elsewhere, 'app.test.ts') });
    expect(p.resolvesInside(join(root, 'src', 'new', 'app.test.ts'), root)).toEqual({ inside: true });
  });
});

function fail(code: string): never {
  throw Object.assign(new Error(code), { code });
}
