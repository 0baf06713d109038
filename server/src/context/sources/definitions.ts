// Definitions of the identifiers around the cursor: through the file's imports first, then by name.
import { dirname } from 'node:path';
import type { WorkspaceIndex } from '../index.js';
import { nearIdentifiers } from '../identifiers.js';
import { wallClock, type Candidate, type ContextRequest, type ContextSource, type ImportRef, type IndexedSymbol } from '../types.js';
import { extractImports } from '../tags.js';

/** A name defined in more places than this says little about which one the cursor means. */
const MAX_SAME_NAME = 4;
const IMPORTED_BASE = 0.25;
const PARTIAL_STEM = 2;
/** By-name lookups per request: the identifiers weighed highest. */
const MAX_LOOKUPS = 200;
const TYPE_KINDS = new Set(['class', 'interface', 'type', 'enum', 'struct', 'trait']);
const SAME_PACKAGE_BASE = 0.2;

export class DefinitionsSource implements ContextSource {
  readonly name = 'definitions';

  constructor(private readonly index: () => WorkspaceIndex | undefined) {}

  gather(req: ContextRequest, deadline: number, now: () => number = wallClock): Candidate[] {
    const index = this.index();
    if (!index || !req.lang) return [];
    const out = new Map<string, Candidate>();
    const classes = new Set<Candidate>();
    /**
     * `brief`: the evidence is only that the file imports it (the name is not near the cursor), so
     * a type is shown by its first line, not all its members: many of them then fit the budget.
     */
    const add = (s: IndexedSymbol, score: number, why: string, brief = false) => {
      if (s.path === req.relPath) return; // the current file is the prefix and suffix's business
      const key = `${s.path}:${s.line}`;
      const prev = out.get(key);
      if (prev && prev.score >= score) return;
      const runs = brief && TYPE_KINDS.has(s.kind) && s.runs.length > 0 ? [{ start: s.runs[0]!.start, text: s.runs[0]!.text.split('\n')[0]! }] : s.runs;
      const c: Candidate = { kind: 'definition', path: s.path, runs, score, why };
      out.set(key, c);
      if (s.kind === 'class') classes.add(c);
    };
    const { imports, known } = this.imports(req, index);
    const local = new Map<string, { ref: ImportRef; imported: string }>();
    const namespaces = new Map<string, ImportRef>();
    for (const ref of imports) {
      for (const n of ref.names) local.set(n.local, { ref, imported: n.imported });
      if (ref.namespace && ref.namespace !== '*') namespaces.set(ref.namespace, ref);
    }
    const filesOf = (ref: ImportRef) => (req.abs ? index.resolveImport(req.abs, req.lang!, ref.source) : []);
    const inFiles = (files: string[], name: string) => {
      const hits: IndexedSymbol[] = [];
      for (const f of files) for (const s of index.get(f)?.symbols ?? []) if (s.name === name && s.container === undefined) hits.push(s);
      if (hits.length === 0) for (const f of files) for (const s of index.get(f)?.symbols ?? []) if (s.name === name) hits.push(s);
      return hits;
    };
    /** A Python `from pkg import mod` or Rust `use crate::orders` names a module, not a symbol. */
    const moduleFiles = (ref: ImportRef, name: string) => {
      const sep = req.lang === 'python' ? (ref.source.endsWith('.') ? '' : '.') : req.lang === 'rust' ? '::' : undefined;
      return sep === undefined || !req.abs ? [] : index.resolveImport(req.abs, req.lang!, ref.source + sep + name);
    };

    const near = nearIdentifiers(req.text, req.offset);
    const dir = req.abs ? dirname(req.abs) : undefined;
    // An imported name seen once in the wide zone is seen in its import only: no evidence of use.
    const used = (name: string) => near.near.has(name) || (near.counts.get(name) ?? 0) >= (local.has(name) ? 2 : 1);
    const weight = (name: string) => (used(name) ? (near.weights.get(name) ?? 0) : 0);
    const sorted = [...near.weights].filter(([name]) => used(name)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    // (Only while the file's imports are known: before its first parse, names are all there is.)
    const importBased = known && (req.lang === 'typescript' || req.lang === 'tsx' || req.lang === 'javascript' || req.lang === 'python');
    const members = new Set<string>();
    for (const q of near.qualified.values()) members.add(q.member);
    let lookups = 0;
    for (const [name, w] of sorted) {
      if (lookups++ >= MAX_LOOKUPS || now() > deadline) break;
      const imp = local.get(name);
      if (imp) {
        const files = filesOf(imp.ref);
        const hits = inFiles(files, imp.imported === 'default' ? name : imp.imported);
        for (const s of hits) add(s, 0.6 + 0.4 * w, `imported ${name}`, !near.near.has(name));
        if (hits.length > 0 || files.length > 0) continue;
      }
      if (namespaces.has(name)) continue; // its members come through the qualified names below
      // A bare name is a function, type or variable; a method is only meant where it follows a dot.
      // Where another file's names must be imported (TS, JS, Python), a bare name that is not is
      // local: only its use after a dot can mean a definition elsewhere.
      const dotted = members.has(name);
      if (importBased && !dotted) continue;
      const all = dotted ? index.lookup(name) : index.lookup(name).filter((s) => s.kind !== 'method');
      if (all.length === 0) continue;
      const ranked = rankByProximity(all, req.relPath);
      const take = ranked.slice(0, MAX_SAME_NAME);
      const confidence = (all.length === 1 ? 0.5 : all.length <= MAX_SAME_NAME ? 0.4 : 0.25) * (near.near.has(name) ? 1 : 0.6);
      take.forEach((s, i) => add(s, (confidence + 0.35 * w) * (i === 0 ? 1 : 0.7), `defined as ${name}`, !near.near.has(name)));
    }
    for (const { qualifier, member, weight } of near.qualified.values()) {
      if (now() > deadline) break;
      const ref = namespaces.get(qualifier) ?? (local.has(qualifier) ? local.get(qualifier)!.ref : undefined);
      if (!ref) continue;
      let files = namespaces.has(qualifier) ? filesOf(ref) : moduleFiles(ref, local.get(qualifier)!.imported);
      if (files.length === 0 && !namespaces.has(qualifier)) files = filesOf(ref);
      for (const s of inFiles(files, member)) add(s, 0.6 + 0.4 * weight, `${qualifier}.${member}`);
    }
    // Everything imported is a likely callee even when not named near the cursor (the hole may be
    // the call itself): ranked below what is, by how often the file uses it. The word being typed
    // narrows by its first letters only, so that the chosen snippets (and the prompt's cached head)
    // stay the same for the rest of the word.
    const stem = near.partial.slice(0, PARTIAL_STEM);
    const afterNew = /\bnew\s+[\w$]*$/.test(req.text.slice(Math.max(0, req.offset - 40), req.offset));
    for (const [localName, { ref, imported }] of local) {
      if (now() > deadline) break;
      const w = weight(localName);
      const partialHit = stem.length === PARTIAL_STEM && localName.startsWith(stem);
      const score = IMPORTED_BASE + 0.3 * w + (partialHit ? 0.35 : 0);
      const files = filesOf(ref);
      const hits = inFiles(files, imported === 'default' ? localName : imported);
      // After `new`, a class: most likely one the file has not constructed yet.
      const newBoost = afterNew ? (used(localName) ? 0.3 : 0.45) : 0;
      if (hits.length) for (const s of hits) add(s, score + (s.kind === 'class' ? newBoost : 0), `imported ${localName}`, !near.near.has(localName));
      else for (const f of moduleFiles(ref, imported)) for (const s of index.get(f)?.symbols ?? []) if (s.container === undefined) add(s, IMPORTED_BASE * 0.6, `module ${localName}`);
    }
    // `orders.├` or `orders.Pa├`: the members of the module or package being typed into.
    const member = /([A-Za-z_$][\w$]*)\s*\.\s*([A-Za-z_$][\w$]*)?$/.exec(req.text.slice(Math.max(0, req.offset - 200), req.offset));
    if (member && now() <= deadline) {
      const [, qualifier, typedWord = ''] = member;
      const typed = typedWord.slice(0, 1); // one letter narrows enough; more would reshuffle per keystroke
      const ref = namespaces.get(qualifier!) ?? local.get(qualifier!)?.ref;
      const type = ref ? undefined : declaredType(req.text, req.offset, qualifier!);
      if (type) {
        // `hub.├` after `const hub = new LogHub(…)` or `hub: LogHub`: that type's members.
        const imp = local.get(type);
        const defs = imp ? inFiles(filesOf(imp.ref), imp.imported) : rankByProximity(index.lookup(type), req.relPath).slice(0, 2);
        for (const s of defs) if (TYPE_KINDS.has(s.kind)) add(s, 0.8, `type of ${qualifier}`);
      }
      if (ref) {
        const files = namespaces.has(qualifier!) ? filesOf(ref) : moduleFiles(ref, local.get(qualifier!)!.imported);
        for (const f of files) {
          for (const s of index.get(f)?.symbols ?? []) {
            if (!s.name.startsWith(typed) || (req.lang === 'go' && !/^[A-Z]/.test(s.name)) || (req.lang === 'python' && s.name.startsWith('_'))) continue;
            add(s, s.container === undefined ? 0.7 : 0.5, `member of ${qualifier}`);
          }
        }
      }
    }
    // Go and Java see the other files of their package without importing them.
    if ((req.lang === 'go' || req.lang === 'java') && dir) {
      for (const e of index.filesIn(dir)) {
        if (e.rel === req.relPath || e.rel.endsWith('_test.go') || now() > deadline) continue;
        for (const s of e.symbols) if (s.container === undefined) add(s, SAME_PACKAGE_BASE + 0.3 * weight(s.name), 'same package', !used(s.name));
      }
    }
    if (stem.length === PARTIAL_STEM) {
      // The word being typed: same-directory definitions it begins (Go packages, Java packages).
      for (const e of dir ? index.filesIn(dir) : []) {
        if (e.rel === req.relPath) continue;
        for (const s of e.symbols) if (s.container === undefined && s.name.startsWith(stem)) add(s, 0.5, `begins with ${stem}`);
      }
    }
    // After `new` only a class can follow: everything else steps back.
    if (afterNew) for (const c of out.values()) if (!classes.has(c)) c.score *= 0.6;
    return [...out.values()];
  }

  private imports(req: ContextRequest, index: WorkspaceIndex): { imports: ImportRef[]; known: boolean } {
    // The document's own tree first: it has the imports as typed, the index as last settled.
    if (req.tree && req.lang) return { imports: extractImports(req.tree.rootNode, req.lang, 200), known: true };
    const entry = req.abs ? index.get(req.abs) : undefined;
    return entry ? { imports: entry.imports, known: true } : { imports: [], known: false };
  }
}

/** The type a variable was declared with or constructed from, in the text before the cursor. */
function declaredType(text: string, offset: number, name: string): string | undefined {
  if (name === 'this' || name === 'self' || !/^[A-Za-z_$][\w$]*$/.test(name)) return undefined;
  const zone = text.slice(Math.max(0, offset - 24_000), offset);
  const esc = name.replace(/\$/g, '\\$');
  const re = new RegExp(`\\b${esc}\\s*(?::\\s*([A-Z][\\w$]*)|:?=\\s*(?:await\\s+)?(?:new\\s+)?&?([A-Z][\\w$]*)\\s*[({])`, 'g');
  let last: string | undefined;
  for (let m = re.exec(zone); m; m = re.exec(zone)) last = m[1] ?? m[2];
  return last;
}

/** Definitions nearest the current file (most shared leading directories) first; ties by path. */
function rankByProximity(all: readonly IndexedSymbol[], relPath: string): IndexedSymbol[] {
  if (all.length === 1) return [...all];
  const b = relPath.split('/');
  const shared = new Map<string, number>();
  for (const s of all) {
    if (shared.has(s.path)) continue;
    const a = s.path.split('/');
    let n = 0;
    while (n < a.length - 1 && n < b.length - 1 && a[n] === b[n]) n++;
    shared.set(s.path, n);
  }
  return [...all].sort((x, y) => shared.get(y.path)! - shared.get(x.path)! || (x.path < y.path ? -1 : x.path > y.path ? 1 : x.line - y.line));
}
