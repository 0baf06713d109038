// Import resolution per language over the index's files: module paths to files, and exported names to definitions through re-exports.
import { basename, dirname, join, resolve } from 'node:path';
import type { LanguageName } from '../syntax/languages.js';
import type { Logger } from '../util/logger.js';
import type { ProjectManifests, WorkspacePackage } from './modules.js';
import type { ExportAlias, ImportRef, IndexedSymbol } from './types.js';

/** What the resolver reads of the index: plain lookups, no I/O. */
export interface IndexView {
  has(abs: string): boolean;
  /** Indexed files with this base name. */
  byBase(name: string): Iterable<string>;
  /** Indexed files directly in `dir`. */
  filesIn(dir: string): Iterable<string>;
  dirs(): Iterable<string>;
  entry(abs: string): { lang: LanguageName; symbols: readonly IndexedSymbol[]; imports: readonly ImportRef[]; exports?: readonly ExportAlias[] } | undefined;
  /** Top-level definitions named `name` in one file (through the index's by-name map: no scan of the file). */
  definedIn(abs: string, name: string): IndexedSymbol[];
  /** `resolve`, cached by the index. */
  resolved(fromAbs: string, lang: LanguageName, source: string): string[];
}

/** What a name exported by some files refers to: definitions, or whole modules (a namespace, a submodule). */
export interface ExportTarget {
  symbols: IndexedSymbol[];
  modules: string[];
}

const TS_EXTENSIONS = ['.ts', '.tsx', '.d.ts', '.mts', '.cts'];
const JS_EXTENSIONS = ['.js', '.jsx', '.mjs', '.cjs'];
/** Build output folders a package's entry often points into, while the index holds its sources. */
const BUILD_DIRS = /^(?:\.\/)?(dist|lib|build|out|esm|cjs|es)(\/|$)/;
/** Re-export hops followed for one name: real barrels are two or three deep. */
const MAX_HOPS = 8;
/** Files visited for one name: a wide `export *` fan-out stops here. */
const MAX_VISITS = 64;
/** Languages whose files re-export what they import (barrels, `__init__.py`, `pub use`). */
const REEXPORTING: ReadonlySet<LanguageName> = new Set(['typescript', 'tsx', 'javascript', 'python', 'rust']);

export class ImportResolver {
  /** Re-export cycles already logged (by file and name), so each is logged once. */
  private readonly cyclesLogged = new Set<string>();

  constructor(
    private readonly view: IndexView,
    private readonly manifests: ProjectManifests,
    private readonly logger: Logger,
  ) {}

  /** The indexed files an import's module refers to (a Go package or a Java wildcard: every file of it). */
  resolve(fromAbs: string, lang: LanguageName, source: string): string[] {
    switch (lang) {
      case 'typescript':
      case 'tsx':
      case 'javascript':
        return this.typescript(fromAbs, source);
      case 'python':
        return this.python(fromAbs, source);
      case 'go':
        return this.go(source);
      case 'rust':
        return this.rust(fromAbs, source);
      case 'java':
        return this.java(fromAbs, source);
    }
  }

  /**
   * What `name`, exported by `files` (an import's resolved files), refers to. Followed through
   * named re-exports and imports of the same binding (`export { x as y } from`, `import { x };
   * export { x }`, `from .x import f` in `__init__.py`, `pub use`), `export *` / `from .x import *`,
   * `export default`, namespaces (`export * as ns from`) and submodules (`from pkg import mod`,
   * Rust `mod`). Cycles end at the first file and name seen twice (logged once at debug level).
   */
  exported(files: readonly string[], name: string): ExportTarget {
    const out: ExportTarget = { symbols: [], modules: [] };
    const visited = new Map<string, boolean>();
    for (const f of files) this.visit(f, name, 0, visited, out);
    if (out.symbols.length === 0 && out.modules.length === 0) {
      // A member by its own name (a Java static import of a method, a Go method named like the call).
      for (const f of files) for (const s of this.view.entry(f)?.symbols ?? []) if (s.name === name) out.symbols.push(s);
    }
    out.modules = [...new Set(out.modules)];
    return out;
  }

  /** `visited`: each file and name asked, true while it is being followed (a cycle leads back to one of those). */
  private visit(file: string, name: string, hops: number, visited: Map<string, boolean>, out: ExportTarget): void {
    const key = `${file}\0${name}`;
    if (visited.has(key)) {
      // Reached again by another path (an import and a re-export of one name): nothing new. Reached
      // from itself: a cycle.
      if (visited.get(key) && !this.cyclesLogged.has(key) && this.cyclesLogged.size < 1000) {
        this.cyclesLogged.add(key);
        this.logger.debug(`re-exports of ${name} lead back to ${file}; followed no further`);
      }
      return;
    }
    if (hops > MAX_HOPS || visited.size >= MAX_VISITS) return;
    visited.set(key, true);
    this.follow(file, name, hops, visited, out);
    visited.set(key, false);
  }

  private follow(file: string, name: string, hops: number, visited: Map<string, boolean>, out: ExportTarget): void {
    const e = this.view.entry(file);
    if (!e) return;
    const own = this.view.definedIn(file, name);
    if (own.length > 0) {
      out.symbols.push(...own);
      return;
    }
    if (!REEXPORTING.has(e.lang)) return;
    const before = out.symbols.length + out.modules.length;
    // `export default f`, `export { a as b }`: the same file under its local name.
    for (const a of e.exports ?? []) if (a.name === name && a.local !== name) this.visit(file, a.local, hops, visited, out);
    for (const ref of e.imports) {
      if (ref.namespace === name) out.modules.push(...this.view.resolved(file, e.lang, ref.source));
      for (const n of ref.names) {
        if (n.local !== name) continue;
        const targets = this.view.resolved(file, e.lang, ref.source);
        const found = out.symbols.length + out.modules.length;
        // (`from . import json` in a package's __init__.py names its submodule, not itself.)
        for (const t of targets) if (t !== file) this.visit(t, n.imported, hops + 1, visited, out);
        // `from . import orders`, `pub use self::orders`: the name is a module.
        if (out.symbols.length + out.modules.length === found) out.modules.push(...this.submodule(file, e.lang, ref.source, n.imported));
      }
    }
    if (out.symbols.length + out.modules.length > before) return;
    const sub = this.submoduleOf(file, e.lang, name);
    if (sub.length > 0) {
      out.modules.push(...sub);
      return;
    }
    // The first `export *` that has it: two that both do are an error in TypeScript anyway.
    for (const ref of e.imports) {
      if (ref.namespace !== '*') continue;
      for (const t of this.view.resolved(file, e.lang, ref.source)) this.visit(t, name, hops + 1, visited, out);
      if (out.symbols.length + out.modules.length > before) return;
    }
  }

  /** `name` imported from module `source` as a module of its own (`from pkg import mod`, `use crate::a::b`). */
  private submodule(fromAbs: string, lang: LanguageName, source: string, name: string): string[] {
    if (lang === 'python') return this.python(fromAbs, source + (source.endsWith('.') ? '' : '.') + name);
    if (lang === 'rust') return this.rust(fromAbs, source ? `${source}::${name}` : name, true);
    return [];
  }

  /** A package's or module's child module by name: `pkg/__init__.py` → `pkg/name.py`; a Rust module → its `mod name`. */
  private submoduleOf(file: string, lang: LanguageName, name: string): string[] {
    if (lang === 'python' && /^__init__\.pyi?$/.test(basename(file))) return this.python(file, '.' + name);
    if (lang === 'rust') return this.rust(file, `self::${name}`, true);
    return [];
  }

  private typescript(fromAbs: string, source: string): string[] {
    const dir = dirname(fromAbs);
    if (source.startsWith('.') || source.startsWith('/')) return this.tsFile(resolve(dir, source), true, /\.[mc]?tsx?$/.test(fromAbs));
    const ts = this.manifests.tsPathsFor(fromAbs);
    if (ts) {
      for (const p of ts.patterns) {
        if (!source.startsWith(p.prefix) || !source.endsWith(p.suffix) || source.length < p.prefix.length + p.suffix.length) continue;
        if (!p.wildcard && source !== p.prefix) continue;
        const star = p.wildcard ? source.slice(p.prefix.length, source.length - p.suffix.length) : '';
        for (const t of p.targets) {
          const hit = this.tsFile(resolve(ts.pathsBase, t.replace('*', star)));
          if (hit.length) return hit;
        }
        // TypeScript tries only the best-matching pattern; the rest of the resolution still runs.
        break;
      }
      if (ts.baseUrl) {
        const hit = this.tsFile(resolve(ts.baseUrl, source));
        if (hit.length) return hit;
      }
    }
    const ws = this.manifests.packageOf(source);
    return ws ? this.packageEntry(ws.pkg, ws.subpath) : [];
  }

  /**
   * A file path as TypeScript would complete it: extensions, `.js` written for `.ts`, a folder's
   * index or package.json. `tsFirst` (a TypeScript importer, or a package's sources): `./x.js`
   * means x.ts or the types in x.d.ts before x.js itself, as tsc reads it.
   */
  private tsFile(base: string, viaPackage = true, tsFirst = true): string[] {
    const stem = base.replace(/\.d\.(m|c)?ts$|\.(m|c)?jsx?$/, '');
    const exts = tsFirst ? [...TS_EXTENSIONS, ...JS_EXTENSIONS] : [...JS_EXTENSIONS, ...TS_EXTENSIONS];
    const tries = [...(tsFirst ? [] : [base]), ...exts.map((e) => stem + e), ...(tsFirst ? [base] : []), ...exts.map((e) => join(base, 'index' + e))];
    const hit = tries.find((p) => this.view.has(p));
    if (hit) return [hit];
    const pkg = viaPackage ? this.manifests.packageIn(base) : undefined;
    return pkg ? this.packageEntry(pkg, '') : [];
  }

  /**
   * The source file a workspace package's entry leads to: `exports` (the `.` or subpath entry,
   * conditions in the order a bundler prefers sources), `module`, `main`, `types`; an entry into
   * build output (`dist/index.js`) is looked for under `src/` too, since the index holds sources.
   */
  private packageEntry(pkg: WorkspacePackage, subpath: string): string[] {
    const entries: string[] = [];
    const fromExports = exportsEntry(pkg.exports, subpath ? './' + subpath : '.');
    if (fromExports) entries.push(fromExports);
    if (subpath) entries.push(subpath);
    else for (const e of [pkg.module, pkg.main, pkg.types]) if (e) entries.push(e);
    // (Not through the package's own folder again: an entry of '.' would loop.)
    for (const e of entries) {
      // As written, with the build folder swapped for src/, and its file name directly in src/
      // (`lib/umd/main.js` is built from `src/main.ts`).
      for (const rel of [e, e.replace(BUILD_DIRS, 'src$2'), join('src', basename(e))]) {
        const hit = this.tsFile(resolve(pkg.dir, rel), false);
        if (hit.length) return hit;
      }
    }
    for (const rel of subpath ? [join('src', subpath), subpath] : ['src/index', 'index']) {
      const hit = this.tsFile(resolve(pkg.dir, rel), false);
      if (hit.length) return hit;
    }
    return [];
  }

  private python(fromAbs: string, source: string): string[] {
    const dots = /^\.*/.exec(source)![0].length;
    const rest = source.slice(dots).split('.').filter(Boolean);
    if (dots > 0) {
      let d = dirname(fromAbs);
      for (let i = 1; i < dots; i++) d = dirname(d);
      const base = join(d, ...rest);
      const hit = [base + '.py', base + '.pyi', join(base, '__init__.py')].find((p) => this.view.has(p));
      return hit ? [hit] : [];
    }
    if (rest.length === 0) return [];
    // An absolute import starts at a folder on the path, which is no package itself: `typing` is not
    // `flask/typing.py` (flask/ has an __init__.py), and `flask` not `tests/apps/flask.py` in a package.
    const p = rest.join('/');
    return this.bySuffix(fromAbs, [p + '.py', p + '.pyi', p + '/__init__.py'], (f, tail) => {
      const top = f.slice(0, f.length - tail.length - 1);
      return !this.view.has(join(top, '__init__.py'));
    });
  }

  /**
   * A Go package: under the module (go.mod, nested ones and local `replace`s) whose path is the
   * longest prefix of the import; without one, the directory sharing the longest tail with it.
   */
  private go(source: string): string[] {
    for (const m of this.manifests.goModules()) {
      if (source !== m.path && !source.startsWith(m.path + '/')) continue;
      const files = this.goFiles(join(m.dir, source.slice(m.path.length)));
      if (files.length) return files;
    }
    const segs = source.split('/');
    let best: string | undefined;
    let bestLen = 0;
    for (const d of this.view.dirs()) {
      if (basename(d) !== segs[segs.length - 1]) continue;
      const ds = d.split('/');
      let n = 0;
      while (n < segs.length && n < ds.length && ds[ds.length - 1 - n] === segs[segs.length - 1 - n]) n++;
      if (n > bestLen) {
        best = d;
        bestLen = n;
      }
    }
    return best ? this.goFiles(best) : [];
  }

  private goFiles(dir: string): string[] {
    return [...this.view.filesIn(dir)].filter((f) => f.endsWith('.go') && !f.endsWith('_test.go')).sort();
  }

  /**
   * A Rust module path: `crate::` from the crate's root (the `src` of the nearest Cargo.toml, or
   * the folder of a lib.rs/main.rs above), `self::` and `super::` from the file's own module, a
   * workspace crate by name, else a child module; each step `x.rs` or `x/mod.rs`. Steps that are
   * not files are items inside the last file reached (`strict`: none may be). Without a root, any
   * file ending in the path.
   */
  private rust(fromAbs: string, source: string, strict = false): string[] {
    const segs = source.split('::').filter(Boolean);
    let dir: string | undefined;
    let file: string | undefined;
    /** `crate::`, `self::`, `super::` or a workspace crate's name: the path starts at a known module. */
    let rooted = true;
    const first = segs[0];
    if (first === 'crate') {
      segs.shift();
      dir = this.crateRoot(fromAbs);
      // (A test or example file is its own crate's root.)
      file = dir ? (this.crateFile(dir) ?? (dirname(fromAbs) === dir ? fromAbs : undefined)) : undefined;
    } else if (first === 'self' || first === 'super') {
      dir = rustModuleDir(fromAbs);
      file = fromAbs;
      while (segs[0] === 'self' || segs[0] === 'super') {
        if (segs.shift() === 'super') {
          dir = dirname(dir);
          file = this.moduleFileOf(dir);
        }
      }
    } else if (first && this.manifests.crateSrc(first)) {
      segs.shift();
      dir = this.manifests.crateSrc(first)!;
      file = this.crateFile(dir);
    } else {
      // A child module of this one (2018 paths), or another crate: only a module file found counts.
      dir = rustModuleDir(fromAbs);
      rooted = false;
    }
    if (dir !== undefined) {
      let walked = 0;
      for (const s of segs) {
        const hit = [join(dir, s + '.rs'), join(dir, s, 'mod.rs')].find((p) => this.view.has(p));
        if (!hit) break;
        file = hit;
        dir = join(dir, s);
        walked++;
      }
      // Steps past the last module file are items (or inline `mod`s) inside it.
      if (file && this.view.has(file) && (rooted || walked > 0) && (!strict || walked === segs.length)) return [file];
    }
    if (strict) return [];
    const rest = segs.filter((s) => s !== 'self' && s !== 'super' && s !== 'crate');
    if (rest.length === 0) return [];
    for (let n = rest.length; n > 0; n--) {
      const p = rest.slice(0, n).join('/');
      const hit = this.bySuffix(fromAbs, [p + '.rs', p + '/mod.rs']);
      if (hit.length) return hit;
    }
    return [];
  }

  /**
   * The folder of a crate's root module: a test, example, bench or `src/bin` file is a crate of
   * its own (its modules beside it); otherwise the `src` of the nearest Cargo.toml, or the nearest
   * folder holding a lib.rs or main.rs.
   */
  private crateRoot(fromAbs: string): string | undefined {
    const own = ownCrateDir(fromAbs);
    if (own) return own;
    const cargo = this.manifests.cargoDirOf(fromAbs);
    if (cargo && this.crateFile(join(cargo, 'src'))) return join(cargo, 'src');
    for (let d = dirname(fromAbs), i = 0; i < 64; d = dirname(d), i++) {
      if (this.crateFile(d)) return d;
      if (dirname(d) === d) break;
    }
    return undefined;
  }

  private crateFile(dir: string): string | undefined {
    return [join(dir, 'lib.rs'), join(dir, 'main.rs')].find((p) => this.view.has(p));
  }

  /** The file of the module whose children live in `dir`. */
  private moduleFileOf(dir: string): string | undefined {
    return this.crateFile(dir) ?? [join(dir, 'mod.rs'), dir + '.rs'].find((p) => this.view.has(p));
  }

  private java(fromAbs: string, source: string): string[] {
    const segs = source.split('.');
    // `com.x.Outer.Inner` and `static com.x.Util.max`: the longest prefix that is a file.
    for (let n = segs.length; n > 1; n--) {
      const file = this.bySuffix(fromAbs, [segs.slice(0, n).join('/') + '.java']);
      if (file.length) return file;
    }
    // A wildcard or a package: every file of the directory.
    const p = '/' + segs.join('/');
    for (const d of this.view.dirs()) if (d.endsWith(p)) return [...this.view.filesIn(d)].sort();
    return [];
  }

  /** Indexed files whose path ends with one of `tails` (and that `accept`); the one sharing most of `fromAbs`'s directories first. */
  private bySuffix(fromAbs: string, tails: string[], accept?: (file: string, tail: string) => boolean): string[] {
    const hits: string[] = [];
    for (const tail of tails) {
      for (const f of this.view.byBase(basename(tail))) if (f.endsWith('/' + tail) && (!accept || accept(f, tail))) hits.push(f);
    }
    if (hits.length <= 1) return hits;
    const shared = (f: string) => {
      let i = 0;
      while (i < f.length && f[i] === fromAbs[i]) i++;
      return i;
    };
    return [hits.sort((a, b) => shared(b) - shared(a) || (a < b ? -1 : 1))[0]!];
  }
}

/** Folders whose .rs files are each a crate root (Cargo's targets besides lib and main). */
const TARGET_DIRS = /\/(tests|examples|benches|src\/bin)$/;

/** For a file inside a test, example, bench or bin target's folder: that folder. */
function ownCrateDir(file: string): string | undefined {
  for (let d = dirname(file), i = 0; i < 8; d = dirname(d), i++) {
    if (TARGET_DIRS.test(d)) return d;
    if (/\/src$/.test(d) || dirname(d) === d) return undefined;
  }
  return undefined;
}

/** The folder holding a Rust file's child modules: beside a crate root or mod.rs; `a/` for `a.rs`. */
function rustModuleDir(file: string): string {
  const b = basename(file);
  const root = b === 'mod.rs' || b === 'lib.rs' || b === 'main.rs' || TARGET_DIRS.test(dirname(file));
  return root ? dirname(file) : join(dirname(file), b.replace(/\.rs$/, ''));
}

/** Condition names in the order that leads to sources soonest. */
const CONDITIONS = ['source', 'types', 'import', 'module', 'default', 'require', 'node', 'browser'];

/** The target of `key` ('.' or './sub') in a package.json `exports` value (string, conditions, subpaths, `*` patterns). */
function exportsEntry(exports: unknown, key: string): string | undefined {
  if (exports === undefined || exports === null) return undefined;
  if (typeof exports === 'string' || Array.isArray(exports)) return key === '.' ? firstTarget(exports) : undefined;
  if (typeof exports !== 'object') return undefined;
  const map = exports as Record<string, unknown>;
  const keys = Object.keys(map);
  if (!keys.some((k) => k.startsWith('.'))) return key === '.' ? firstTarget(map) : undefined;
  if (key in map) return firstTarget(map[key]);
  for (const k of keys) {
    const star = k.indexOf('*');
    if (star < 0) continue;
    const pre = k.slice(0, star);
    const post = k.slice(star + 1);
    if (key.startsWith(pre) && key.endsWith(post) && key.length >= pre.length + post.length) {
      const t = firstTarget(map[k]);
      if (t) return t.replace('*', key.slice(pre.length, key.length - post.length));
    }
  }
  return undefined;
}

/** A target that is a source file (not a declaration file): what a package's custom "source" condition points at. */
const SOURCE_FILE = /(?<!\.d)\.(m|c)?tsx?$/;

/** The target an `exports` entry leads to: the first source file among its conditions, else the first target. */
function firstTarget(v: unknown): string | undefined {
  const all: string[] = [];
  targets(v, 0, all);
  return all.find((t) => SOURCE_FILE.test(t)) ?? all[0];
}

function targets(v: unknown, depth: number, out: string[]): void {
  if (typeof v === 'string') {
    out.push(v);
    return;
  }
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) targets(x, depth + 1, out);
    return;
  }
  const o = v as Record<string, unknown>;
  for (const c of [...CONDITIONS.filter((k) => k in o), ...Object.keys(o).filter((k) => !CONDITIONS.includes(k))]) targets(o[c], depth + 1, out);
}
