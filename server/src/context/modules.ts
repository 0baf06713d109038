// Project manifests that decide where a non-relative import leads: tsconfig paths, workspace packages, go.mod, Cargo.toml.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from '../util/logger.js';
import { parseJsonc } from '../util/jsonc.js';

/** File names the workspace walk hands to `ProjectManifests` (they are not source files, so not indexed). */
export const MANIFEST_NAMES: ReadonlySet<string> = new Set(['tsconfig.json', 'jsconfig.json', 'package.json', 'go.mod', 'Cargo.toml']);

/** A tsconfig's `paths` and `baseUrl`, `extends` applied, as absolute directories. */
export interface TsPaths {
  /** Where `paths` targets are relative to: `baseUrl`, else the directory of the file that set `paths`. */
  pathsBase: string;
  patterns: { prefix: string; suffix: string; wildcard: boolean; targets: string[] }[];
  /** Bare specifiers also resolve under `baseUrl` (TypeScript's classic alias form). */
  baseUrl?: string;
}

/** A package.json inside the workspace: a bare import of its name resolves into its directory. */
export interface WorkspacePackage {
  name: string;
  dir: string;
  exports?: unknown;
  module?: string;
  main?: string;
  types?: string;
}

export interface GoModule {
  /** The `module` line's path. */
  path: string;
  dir: string;
}

/** Nested `extends` chains longer than this are a loop or a mistake. */
const MAX_EXTENDS = 10;

type Parsed =
  | { kind: 'ts'; dir: string; paths?: TsPaths }
  | { kind: 'package'; pkg?: WorkspacePackage }
  | { kind: 'go'; module?: GoModule; replaces: GoModule[] }
  | { kind: 'cargo'; crate?: string; dir: string };

/**
 * The manifests found in the workspace, read once when the index is built (and again when one
 * changes), so that resolving an import on a request's path reads no file. A manifest that
 * cannot be read or parsed is logged and left out: imports it would have mapped resolve as if it
 * were absent (relative imports and by-name lookups keep working).
 */
export class ProjectManifests {
  private readonly parsed = new Map<string, Parsed>();
  private derived: { tsByDir: Map<string, TsPaths | undefined>; packages: Map<string, WorkspacePackage>; packageDirs: Map<string, WorkspacePackage>; goModules: GoModule[]; crates: Map<string, string>; cargoDirs: Set<string> } | undefined;

  constructor(private readonly logger: Logger) {}

  static isManifest(abs: string): boolean {
    return MANIFEST_NAMES.has(basename(abs));
  }

  /** Reads these manifests (replacing what was read from the same paths before). */
  async load(files: readonly string[]): Promise<void> {
    await Promise.all(files.map((f) => this.update(f)));
  }

  /** One manifest was created or changed. */
  async update(abs: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch {
      return this.remove(abs);
    }
    const p = await this.parse(abs, text);
    this.parsed.set(abs, p);
    this.derived = undefined;
  }

  remove(abs: string): void {
    if (this.parsed.delete(abs)) this.derived = undefined;
  }

  /** A workspace folder went away: its manifests with it. */
  removeUnder(prefix: string): void {
    for (const abs of [...this.parsed.keys()]) if (abs.startsWith(prefix)) this.remove(abs);
  }

  /** The `paths`/`baseUrl` of the nearest tsconfig.json (or jsconfig.json) above `fromAbs`, if it has any. */
  tsPathsFor(fromAbs: string): TsPaths | undefined {
    const { tsByDir } = this.view();
    for (let d = dirname(fromAbs), i = 0; i < 64; d = dirname(d), i++) {
      if (tsByDir.has(d)) return tsByDir.get(d);
      if (dirname(d) === d) break;
    }
    return undefined;
  }

  /** The workspace package a bare specifier names (`@scope/pkg/sub` → `@scope/pkg` and `sub`). */
  packageOf(specifier: string): { pkg: WorkspacePackage; subpath: string } | undefined {
    const segs = specifier.split('/');
    const n = specifier.startsWith('@') ? 2 : 1;
    const pkg = this.view().packages.get(segs.slice(0, n).join('/'));
    return pkg ? { pkg, subpath: segs.slice(n).join('/') } : undefined;
  }

  /** The workspace package whose package.json is in `dir`. */
  packageIn(dir: string): WorkspacePackage | undefined {
    return this.view().packageDirs.get(dir);
  }

  /** Go modules (own and `replace`d to local directories), longest path first. */
  goModules(): readonly GoModule[] {
    return this.view().goModules;
  }

  /** The `src` directory of a workspace crate by its name as `use` spells it (dashes as underscores). */
  crateSrc(name: string): string | undefined {
    return this.view().crates.get(name);
  }

  /** The nearest directory above `fromAbs` holding a Cargo.toml. */
  cargoDirOf(fromAbs: string): string | undefined {
    const { cargoDirs } = this.view();
    for (let d = dirname(fromAbs), i = 0; i < 64; d = dirname(d), i++) {
      if (cargoDirs.has(d)) return d;
      if (dirname(d) === d) break;
    }
    return undefined;
  }

  private view(): NonNullable<ProjectManifests['derived']> {
    if (this.derived) return this.derived;
    const tsByDir = new Map<string, TsPaths | undefined>();
    const packages = new Map<string, WorkspacePackage>();
    const packageDirs = new Map<string, WorkspacePackage>();
    const goModules: GoModule[] = [];
    const crates = new Map<string, string>();
    const cargoDirs = new Set<string>();
    // Sorted, so that two manifests claiming one name give the same answer every time.
    for (const [abs, p] of [...this.parsed].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (p.kind === 'ts') {
        // tsconfig.json wins over a jsconfig.json beside it.
        if (!tsByDir.has(p.dir) || basename(abs) === 'tsconfig.json') tsByDir.set(p.dir, p.paths);
      } else if (p.kind === 'package' && p.pkg) {
        if (!packages.has(p.pkg.name)) packages.set(p.pkg.name, p.pkg);
        packageDirs.set(p.pkg.dir, p.pkg);
      } else if (p.kind === 'go') {
        if (p.module) goModules.push(p.module);
        goModules.push(...p.replaces);
      } else if (p.kind === 'cargo') {
        cargoDirs.add(p.dir);
        if (p.crate && !crates.has(p.crate)) crates.set(p.crate, join(p.dir, 'src'));
      }
    }
    goModules.sort((a, b) => b.path.length - a.path.length || (a.dir < b.dir ? -1 : 1));
    this.derived = { tsByDir, packages, packageDirs, goModules, crates, cargoDirs };
    return this.derived;
  }

  private async parse(abs: string, text: string): Promise<Parsed> {
    const dir = dirname(abs);
    switch (basename(abs)) {
      case 'tsconfig.json':
      case 'jsconfig.json':
        return { kind: 'ts', dir, paths: await this.tsPaths(abs, text) };
      case 'package.json':
        return { kind: 'package', pkg: this.packageJson(abs, text) };
      case 'go.mod':
        return { kind: 'go', ...(await this.goMod(abs, text)) };
      default:
        return { kind: 'cargo', dir, crate: cargoName(text) };
    }
  }

  /** `compilerOptions.baseUrl` and `paths` of a tsconfig, through its `extends` chain (relative files and packages). */
  private async tsPaths(abs: string, text: string): Promise<TsPaths | undefined> {
    let baseUrl: string | undefined;
    let paths: { base: string; map: Record<string, unknown> } | undefined;
    // Nearest first: what a file sets wins over what it extends.
    const chain: { abs: string; json: Record<string, unknown> }[] = [];
    const seen = new Set<string>();
    const queue: { abs: string; text?: string; from?: string }[] = [{ abs, text }];
    while (queue.length > 0 && chain.length < MAX_EXTENDS) {
      const next = queue.shift()!;
      if (seen.has(next.abs)) {
        this.logger.warn(`${next.from}: "extends" leads back to ${next.abs}; the loop is cut there`);
        continue;
      }
      seen.add(next.abs);
      let body = next.text;
      if (body === undefined) {
        try {
          body = await readFile(next.abs, 'utf8');
        } catch {
          this.logger.warn(`${next.from}: "extends" names ${next.abs}, which cannot be read; its compilerOptions are not used for imports`);
          continue;
        }
      }
      const r = parseJsonc(body);
      if (!r.ok || typeof r.value !== 'object' || r.value === null || Array.isArray(r.value)) {
        this.logger.warn(`${next.abs} is not valid JSON (${r.ok ? 'not an object' : r.error}); its paths and baseUrl are not used for imports`);
        continue;
      }
      const json = r.value as Record<string, unknown>;
      chain.push({ abs: next.abs, json });
      const ext = json['extends'];
      for (const e of typeof ext === 'string' ? [ext] : Array.isArray(ext) ? ext.filter((x): x is string => typeof x === 'string') : []) {
        const target = await extendsTarget(dirname(next.abs), e);
        if (target) queue.push({ abs: target, from: next.abs });
        else if (e.startsWith('.') || e.startsWith('/')) this.logger.warn(`${next.abs}: "extends" names ${e}, which does not exist; its compilerOptions are not used for imports`);
        else this.logger.debug(`${next.abs}: "extends" names the package ${e}, not installed here; its compilerOptions are not used for imports`);
      }
    }
    for (const { abs: file, json } of chain) {
      const opts = json['compilerOptions'];
      if (typeof opts !== 'object' || opts === null) continue;
      const o = opts as Record<string, unknown>;
      if (baseUrl === undefined && typeof o['baseUrl'] === 'string') baseUrl = resolve(dirname(file), o['baseUrl']);
      if (paths === undefined && typeof o['paths'] === 'object' && o['paths'] !== null && !Array.isArray(o['paths'])) paths = { base: dirname(file), map: o['paths'] as Record<string, unknown> };
    }
    if (baseUrl === undefined && paths === undefined) return undefined;
    const patterns: TsPaths['patterns'] = [];
    for (const [key, value] of Object.entries(paths?.map ?? {})) {
      const targets = Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
      const star = key.indexOf('*');
      if (star >= 0 && key.indexOf('*', star + 1) >= 0) continue; // TypeScript rejects two wildcards too
      patterns.push(star < 0 ? { prefix: key, suffix: '', wildcard: false, targets } : { prefix: key.slice(0, star), suffix: key.slice(star + 1), wildcard: true, targets });
    }
    // An exact key first, then the longest prefix: TypeScript's order.
    patterns.sort((a, b) => Number(a.wildcard) - Number(b.wildcard) || b.prefix.length - a.prefix.length);
    return { pathsBase: baseUrl ?? paths?.base ?? dirname(abs), patterns, ...(baseUrl ? { baseUrl } : {}) };
  }

  private packageJson(abs: string, text: string): WorkspacePackage | undefined {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      this.logger.warn(`${abs} is not valid JSON (${err instanceof Error ? err.message.replace(/, ".*" is not valid JSON$/s, '') : String(err)}); imports of its package resolve by name only`);
      return undefined;
    }
    if (typeof json !== 'object' || json === null) return undefined;
    const j = json as Record<string, unknown>;
    if (typeof j['name'] !== 'string' || !j['name']) return undefined;
    const str = (k: string) => (typeof j[k] === 'string' ? (j[k] as string) : undefined);
    return { name: j['name'], dir: dirname(abs), exports: j['exports'], module: str('module'), main: str('main'), types: str('types') ?? str('typings') };
  }

  /** The `module` line and the `replace` directives that point at local directories. */
  private async goMod(abs: string, text: string): Promise<{ module?: GoModule; replaces: GoModule[] }> {
    const dir = dirname(abs);
    const lines = text.split('\n').map((l) => l.replace(/\/\/.*$/, '').trim());
    let module: GoModule | undefined;
    const replaces: GoModule[] = [];
    let inReplace = false;
    for (const line of lines) {
      if (!line) continue;
      const m = /^module\s+"?([^\s"]+)"?/.exec(line);
      if (m) module = { path: m[1]!, dir };
      if (/^replace\s*\($/.test(line)) {
        inReplace = true;
        continue;
      }
      if (inReplace && line === ')') {
        inReplace = false;
        continue;
      }
      const spec = inReplace ? line : /^replace\s+(.*)$/.exec(line)?.[1];
      if (!spec) continue;
      const [left, right] = spec.split('=>').map((s) => s.trim());
      const from = left?.split(/\s+/)[0];
      const to = right?.split(/\s+/)[0];
      // Only a replacement by a directory changes where the code is; by another module path, it is outside the workspace.
      if (!from || !to || !/^(\.\.?\/|\/)/.test(to)) continue;
      const target = resolve(dir, to);
      const ok = await stat(target).then((s) => s.isDirectory(), () => false);
      if (ok) replaces.push({ path: from.replace(/^"|"$/g, ''), dir: target });
      else this.logger.warn(`${abs}: replace ${from} => ${to}: ${target} is not a directory; imports of ${from} resolve by package name only`);
    }
    if (!module) this.logger.warn(`${abs} has no module line; imports of its packages resolve by directory name only`);
    return { module, replaces };
  }
}

/** Where an `extends` points: a relative file (".json" optional), or a package's file under a node_modules above. */
async function extendsTarget(dir: string, spec: string): Promise<string | undefined> {
  const isFile = (p: string) => stat(p).then((s) => s.isFile(), () => false);
  const withJson = (p: string) => (p.endsWith('.json') ? [p] : [p, p + '.json', join(p, 'tsconfig.json')]);
  if (spec.startsWith('.') || spec.startsWith('/')) {
    for (const p of withJson(resolve(dir, spec))) if (await isFile(p)) return p;
    return undefined;
  }
  for (let d = dir, i = 0; i < 32; d = dirname(d), i++) {
    for (const p of withJson(join(d, 'node_modules', spec))) if (await isFile(p)) return p;
    if (dirname(d) === d) break;
  }
  return undefined;
}

/** The crate name of a Cargo.toml (`[lib] name`, else `[package] name`), as `use` spells it. */
function cargoName(text: string): string | undefined {
  let section = '';
  let pkg: string | undefined;
  let lib: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const s = /^\[([^\]]+)\]$/.exec(line);
    if (s) {
      section = s[1]!.trim();
      continue;
    }
    const m = /^name\s*=\s*"([^"]+)"/.exec(line);
    if (m && section === 'package') pkg = m[1];
    if (m && section === 'lib') lib = m[1];
  }
  const name = lib ?? pkg;
  return name?.replace(/-/g, '_');
}
