// Where a file really is, for privacy: its real path, the workspace folders around it, their case rules, and the verdict for a cloud backend.
//
// Requests carry each file's path as shown to the model (workspace-relative, or absolute when the
// file is outside every folder). A rule matched on that spelling alone is dodged by a symbolic
// link (`src/keys-link.ts -> ../secrets/keys.ts`, `aaa -> secrets`), by a differently-cased URI on
// a case-insensitive file system, or by opening the protected directory itself as the folder.
// So every path is resolved to its real path and matched in every form that names it.
import { realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { uriToPath } from '../workspace.js';
import { compileGlob, type GlobMatcher, type MatchWork } from './glob.js';

/** The privacy settings a path's verdict depends on. */
export interface PathRules {
  onPremOnly: readonly string[];
  /** Text from files outside every workspace folder may go to a cloud backend (default: no). */
  allowOutsideWorkspace?: boolean;
}

/** Why a file's text may not go to a cloud backend. */
export interface Refusal {
  /** The path as the request carries it. */
  path: string;
  rule: 'onPremOnly' | 'outsideWorkspace' | 'unresolved';
  /** The onPremOnly glob that matched. */
  glob?: string;
  /** For messages: what the path really is, when that differs from its spelling. */
  real?: string;
  /** The whole reason, after the path: "which privacy.onPremOnly ("**\/secrets/**") keeps on-prem". */
  why: string;
  /** The rule in a few words, for the router's list of skipped backends. */
  short: string;
}

export interface PathPolicyDeps {
  /** The workspace folders (absolute paths), read on every call: they change at run time. */
  roots: () => readonly string[];
  /** Resolves symbolic links; default `fs.realpathSync.native`. */
  realpath?: (path: string) => string;
  /** Whether names in `dir` are compared case-insensitively by its file system; default: detected. */
  caseInsensitive?: (dir: string) => boolean;
  /** Told once per glob that cannot be compiled (it then matches every file). */
  warn?: (message: string) => void;
}

/** A path's place: the strings globs are tried on, and where it lies relative to the folders. */
interface Place {
  names: string[];
  nocase: boolean;
  /** Outside every workspace folder, by real path; or not a file at all. */
  outside: boolean;
  /** A `file:` URI or a path (not an `untitled:` buffer or another scheme). */
  file: boolean;
  /** The real path could not be resolved (a loop, no permission): the error code. */
  error?: string;
  real?: string;
}

interface Root {
  path: string;
  real: string;
  nocase: boolean;
}

/** `exists`: false when the path resolved through an ancestor (it does not exist yet). */
type Resolved = { real: string; exists: boolean } | { error: string };

/** Caches hold at most this many paths; past that they start over. */
const CACHE_MAX = 50_000;

/**
 * The one place that decides, from a file's path, whether its text may go to a cloud backend
 * (`cloudRefusal`) and whether it belongs to the workspace at all (`outsideWorkspace`: its text
 * is never context for another file's prompt, and a multi-file action never edits it).
 *
 * Real paths are cached until `invalidate()` (the server calls it on every file event: a link
 * can be replaced); verdicts are cached per path until then or until the rules change, so a
 * path is matched once, not once per request.
 */
export class PathPolicy {
  /** Table cells the glob matchers filled, all calls together: tests bound the work with it. */
  readonly work: MatchWork = { steps: 0 };
  private readonly reals = new Map<string, Resolved>();
  private readonly cases = new Map<string, boolean>();
  private readonly places = new Map<string, Place>();
  private readonly verdicts = new Map<string, Refusal | null>();
  private readonly matchers = new Map<string, GlobMatcher>();
  private readonly warned = new Set<string>();
  private rootsSeen: readonly string[] | undefined;
  private rootsKey = '';
  private rootInfo: Root[] = [];
  private rulesSeen: PathRules | undefined;
  private rulesKey = '';

  constructor(private readonly deps: PathPolicyDeps) {}

  /** Forget real paths and verdicts: a file event may have replaced a link or a directory. */
  invalidate(): void {
    this.reals.clear();
    this.places.clear();
    this.verdicts.clear();
    this.rootsKey = '';
    this.rootsSeen = undefined;
  }

  /** The first of `paths` whose text must not go to a cloud backend, with the reason; undefined when all may. */
  cloudRefusal(paths: readonly string[], rules: PathRules): Refusal | undefined {
    if (paths.length === 0) return undefined;
    this.sync(rules);
    for (const path of paths) {
      let v = this.verdicts.get(path);
      if (v === undefined) {
        v = this.verdict(path, rules) ?? null;
        if (this.verdicts.size >= CACHE_MAX) this.verdicts.clear();
        this.verdicts.set(path, v);
      }
      if (v) return v;
    }
    return undefined;
  }

  /**
   * A file whose real path lies outside every workspace folder (or cannot be resolved), while
   * there are folders: never read as context for another file, never edited by a multi-file
   * action. Without folders nothing is "outside" here; cloudRefusal is strict on its own.
   */
  outsideWorkspace(path: string): boolean {
    this.sync(undefined);
    if (this.rootInfo.length === 0) return false;
    const place = this.place(path);
    return place.file && place.outside;
  }

  /** The real path of a file whose spelling is a link (undefined when it is what it says), for rules that go by a file's name. */
  realPath(path: string): string | undefined {
    this.sync(undefined);
    return this.place(path).real;
  }

  /**
   * Whether another file's text (a context snippet) may join a prompt about the file `own`:
   * never a file outside the workspace; and, for a prompt that may go to a cloud backend, never
   * one refused for it (so context never changes where a request may go).
   */
  mayJoin(path: string, own: string, cloudBound: boolean, rules: PathRules): boolean {
    if (path === own) return true;
    if (this.outsideWorkspace(path)) return false;
    return !cloudBound || this.cloudRefusal([path], rules) === undefined;
  }

  /**
   * Whether `abs` (which need not exist yet) would really be created inside the folder `root`:
   * its nearest existing ancestor is resolved afresh, not from the cache, since this guards a write.
   */
  resolvesInside(abs: string, root: string): { inside: true } | { inside: false; real: string } {
    const rootReal = realOf(root, this.realpath, new Map());
    const real = realOf(abs, this.realpath, new Map());
    if ('error' in real || 'error' in rootReal) return { inside: false, real: 'error' in real ? `${abs} (${real.error})` : abs };
    const nocase = this.caseAt(rootReal.real);
    return within(real.real, rootReal.real, nocase) !== undefined ? { inside: true } : { inside: false, real: real.real };
  }

  private get realpath(): (p: string) => string {
    return this.deps.realpath ?? realpathSync.native;
  }

  /** Roots and rules changed since the last call: drop what depended on them. */
  private sync(rules: PathRules | undefined): void {
    const roots = this.deps.roots();
    if (roots !== this.rootsSeen) {
      this.rootsSeen = roots;
      const key = roots.join('\0');
      if (key !== this.rootsKey) {
        this.rootsKey = key;
        this.rootInfo = roots.map((path) => {
          const r = this.resolve(path);
          const real = 'real' in r ? r.real : path;
          return { path, real, nocase: this.caseAt(real) };
        });
        this.places.clear();
        this.verdicts.clear();
      }
    }
    if (rules && rules !== this.rulesSeen) {
      this.rulesSeen = rules;
      const key = JSON.stringify([rules.onPremOnly, rules.allowOutsideWorkspace === true]);
      if (key !== this.rulesKey) {
        this.rulesKey = key;
        this.verdicts.clear();
      }
    }
  }

  private verdict(path: string, rules: PathRules): Refusal | undefined {
    const place = this.place(path);
    const really = place.real ? ` (really ${place.real})` : '';
    for (const glob of rules.onPremOnly) {
      const m = this.matcher(glob, place.nocase);
      if (place.names.some((n) => m.match(n, this.work))) {
        return { path, rule: 'onPremOnly', glob, ...(place.real ? { real: place.real } : {}), why: `${really}, which privacy.onPremOnly ("${glob}") keeps on-prem`, short: 'privacy.onPremOnly' };
      }
    }
    if (place.error) return { path, rule: 'unresolved', why: `, whose real path cannot be resolved (${place.error}), which counts as protected`, short: `real path unresolved: ${place.error}` };
    if (place.outside && rules.allowOutsideWorkspace !== true) {
      const where = !place.file ? ', which is not a file in a workspace folder' : this.rootInfo.length === 0 ? `${really}, and no workspace folder is open` : `${really}, which lies outside every workspace folder`;
      return { path, rule: 'outsideWorkspace', ...(place.real ? { real: place.real } : {}), why: `${where} (privacy.allowOutsideWorkspace is off)`, short: 'outside the workspace folders, privacy.allowOutsideWorkspace' };
    }
    return undefined;
  }

  private matcher(glob: string, nocase: boolean): GlobMatcher {
    const key = `${nocase ? 'i' : 's'}${glob}`;
    let m = this.matchers.get(key);
    if (!m) {
      m = compileGlob(glob, nocase);
      this.matchers.set(key, m);
      if (m.error && !this.warned.has(glob)) {
        this.warned.add(glob);
        this.deps.warn?.(`privacy.onPremOnly glob "${glob}" cannot be used: ${m.error}; until it is fixed it matches every file, so no file's text goes to a cloud backend`);
      }
    }
    return m;
  }

  private place(path: string): Place {
    let p = this.places.get(path);
    if (!p) {
      p = this.locate(path);
      if (this.places.size >= CACHE_MAX) this.places.clear();
      this.places.set(path, p);
    }
    return p;
  }

  private locate(path: string): Place {
    if (/^[a-zA-Z][\w+.-]+:/.test(path) && !/^[a-zA-Z]:[\\/]/.test(path)) {
      const abs = path.startsWith('file:') ? uriToPath(path) : undefined;
      if (abs) return this.placeOf([abs]);
      // An unsaved buffer or another scheme: its text is in no workspace folder.
      let pathname = '';
      try {
        pathname = decodeURIComponent(new URL(path).pathname);
      } catch {
        pathname = path;
      }
      return { names: suffixes(pathname.split('/').filter(Boolean), 1), nocase: true, outside: true, file: false };
    }
    if (isAbsolute(path)) return this.placeOf([path]);
    // A workspace-relative path: the folders where such a file exists (all of them when none
    // does: an unsaved new file), and every one that counts.
    if (this.rootInfo.length === 0) return { names: [path], nocase: false, outside: false, file: true };
    const all = this.rootInfo.map((r) => join(r.path, ...path.split('/')));
    const existing = all.filter((abs) => {
      const r = this.resolve(abs);
      return 'error' in r || r.exists;
    });
    return this.placeOf(existing.length > 0 ? existing : all);
  }

  /** The place of a path that may be any of `candidates`: the strictest of theirs. */
  private placeOf(candidates: string[]): Place {
    const names = new Set<string>();
    let nocase = false;
    let outside = false;
    let error: string | undefined;
    let real: string | undefined;
    for (const abs of candidates) {
      const r = this.resolve(abs);
      if ('error' in r && r.error === 'ENAMETOOLONG') {
        // Refused whatever its name (it fails closed); its thousands of tails are not worth
        // building and matching, again after every file event (tens of ms each time).
        error ??= r.error;
        outside = true;
        continue;
      }
      for (const form of 'real' in r && r.real !== abs ? [abs, r.real] : [abs]) {
        const n = this.namesOf(form);
        for (const s of n.names) names.add(s);
        nocase ||= n.nocase;
      }
      if ('error' in r) {
        error ??= r.error;
        outside = true;
        continue;
      }
      if (r.real !== abs) real ??= r.real;
      if (!this.rootInfo.some((root) => within(r.real, root.real, root.nocase) !== undefined || within(r.real, root.path, root.nocase) !== undefined)) outside = true;
    }
    return { names: [...names], nocase, outside, file: true, ...(error ? { error } : {}), ...(real ? { real } : {}) };
  }

  /**
   * The strings a glob is tried on for one absolute path: relative to each workspace folder that
   * holds it, and to every directory above that folder (so a folder opened inside a protected
   * directory is still caught), and the absolute path itself. Outside every folder: every tail.
   */
  private namesOf(abs: string): { names: string[]; nocase: boolean } {
    const segs = abs.split(sep).filter(Boolean);
    let shortest = segs.length;
    let nocase = false;
    let held = false;
    for (const root of this.rootInfo) {
      for (const base of root.real === root.path ? [root.path] : [root.path, root.real]) {
        const rel = within(abs, base, root.nocase);
        if (rel === undefined) continue;
        held = true;
        nocase ||= root.nocase;
        shortest = Math.min(shortest, Math.max(1, rel.split(sep).filter(Boolean).length));
      }
    }
    if (!held) {
      shortest = 1;
      nocase = this.caseAt(dirname(abs));
    }
    return { names: [...suffixes(segs, shortest), `/${segs.join('/')}`], nocase };
  }

  private resolve(abs: string): Resolved {
    if (this.reals.size >= CACHE_MAX) this.reals.clear();
    return realOf(abs, this.realpath, this.reals);
  }

  private caseAt(dir: string): boolean {
    let v = this.cases.get(dir);
    if (v === undefined) {
      if (this.cases.size >= CACHE_MAX) this.cases.clear();
      v = (this.deps.caseInsensitive ?? detectCaseInsensitive)(dir);
      this.cases.set(dir, v);
    }
    return v;
  }
}

/** Paths longer than this are refused by the OS anyway; answering an error (protected) fails closed. */
const PATH_MAX = 4096;

/**
 * The real path of `abs`. A path that does not exist (yet) resolves through its nearest existing
 * ancestor, where it would be created; any other error (a loop, no permission) is returned.
 * The nearest existing ancestor is found by bisection over the path's prefixes (a prefix of an
 * existing path exists), not one level at a time: each failed realpath costs the path's depth, so
 * a walk up 2,500 missing directories took 0.7 s per request.
 */
function realOf(abs: string, realpath: (p: string) => string, cache: Map<string, Resolved>): Resolved {
  const hit = cache.get(abs);
  if (hit) return hit;
  const r = resolveReal(abs, realpath);
  cache.set(abs, r);
  return r;
}

function resolveReal(abs: string, realpath: (p: string) => string): Resolved {
  if (abs.length > PATH_MAX) return { error: 'ENAMETOOLONG' };
  const tryReal = (p: string): Resolved | 'missing' => {
    try {
      return { real: realpath(p), exists: true };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : { error: code ?? String(err) };
    }
  };
  const whole = tryReal(abs);
  if (whole !== 'missing') return whole;
  let error: Resolved | undefined;
  const found = longestPrefix(abs, (p) => {
    if (error) return undefined;
    const r = tryReal(p);
    if (r === 'missing') return undefined;
    if ('error' in r) error = r;
    return r;
  });
  if (error) return error;
  if (!found || 'error' in found.value) return { real: abs, exists: false };
  return { real: join(found.value.real, relative(found.prefix, abs)), exists: false };
}

/**
 * The longest prefix of `path` (itself excluded: callers tried it) that `probe` accepts, found by
 * bisection: every prefix of an existing path exists.
 */
function longestPrefix<T>(path: string, probe: (p: string) => T | undefined): { prefix: string; value: T } | undefined {
  const prefixes: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    prefixes.push(p);
    if (dirname(p) === p) break;
  }
  prefixes.reverse();
  let lo = -1;
  let hi = prefixes.length - 1;
  let best: { prefix: string; value: T } | undefined;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const value = probe(prefixes[mid]!);
    if (value === undefined) hi = mid;
    else {
      lo = mid;
      best = { prefix: prefixes[mid]!, value };
    }
  }
  return best;
}

/** `abs` relative to `base` when `base` holds it (the base itself: ""), else undefined. */
function within(abs: string, base: string, nocase: boolean): string | undefined {
  const rel = nocase ? relative(base.toLowerCase(), abs.toLowerCase()) : relative(base, abs);
  if (rel === '') return '';
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return rel;
}

/** `a/b/c` and longer tails of `segs` with at least `min` segments, joined with `/`. */
function suffixes(segs: string[], min: number): string[] {
  const out: string[] = [];
  for (let n = Math.max(1, min); n <= segs.length; n++) out.push(segs.slice(segs.length - n).join('/'));
  return out;
}

/**
 * Whether the file system holding `dir` compares names case-insensitively: the same directory
 * reached with its last cased name flipped (`Tandem` → `tANDEM`) is the same inode. Where it
 * cannot tell (no letter in the path, nothing exists), it answers true: matching privacy globs
 * case-insensitively only ever protects more.
 */
export function detectCaseInsensitive(dir: string): boolean {
  const d = nearestExisting(dir);
  if (d === undefined) return true;
  const segs = d.split(sep);
  for (let i = segs.length - 1; i >= 0; i--) {
    const s = segs[i]!;
    const flipped = [...s].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
    if (flipped === s) continue;
    const other = [...segs.slice(0, i), flipped, ...segs.slice(i + 1)].join(sep);
    try {
      const a = statSync(d, { bigint: true });
      const b = statSync(other, { bigint: true });
      return a.dev === b.dev && a.ino === b.ino;
    } catch {
      return false;
    }
  }
  return true;
}

/** The longest prefix of `dir` that exists (`dir` itself included); undefined when none. */
function nearestExisting(dir: string): string | undefined {
  if (dir.length > PATH_MAX) return undefined;
  const exists = (p: string) => {
    try {
      statSync(p);
      return true;
    } catch {
      return undefined;
    }
  };
  if (exists(dir)) return dir;
  return longestPrefix(dir, exists)?.prefix;
}
