// Definitions of the identifiers around the cursor: through the file's imports first, then by name.
import { dirname } from 'node:path';
import type { WorkspaceIndex } from '../index.js';
import { nearIdentifiers } from '../identifiers.js';
import type { Candidate, ContextRequest, ContextSource, ImportRef, IndexedSymbol } from '../types.js';
import { extractImports } from '../tags.js';

/** A name defined in more places than this says little about which one the cursor means. */
const MAX_SAME_NAME = 4;
const IMPORTED_BASE = 0.25;

export class DefinitionsSource implements ContextSource {
  readonly name = 'definitions';

  constructor(private readonly index: () => WorkspaceIndex | undefined) {}

  gather(req: ContextRequest, deadline: number): Candidate[] {
    const index = this.index();
    if (!index || !req.lang) return [];
    const out = new Map<string, Candidate>();
    const add = (s: IndexedSymbol, score: number, why: string) => {
      if (s.path === req.relPath) return; // the current file is the prefix and suffix's business
      const key = `${s.path}:${s.line}`;
      const prev = out.get(key);
      if (!prev || prev.score < score) out.set(key, { kind: 'definition', path: s.path, runs: s.runs, score, why });
    };
    const imports = this.imports(req, index);
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
    const sorted = [...near.weights].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (const [name, w] of sorted) {
      if (performance.now() > deadline) break;
      const imp = local.get(name);
      if (imp) {
        const files = filesOf(imp.ref);
        const hits = inFiles(files, imp.imported === 'default' ? name : imp.imported);
        for (const s of hits) add(s, 0.6 + 0.4 * w, `imported ${name}`);
        if (hits.length > 0 || files.length > 0) continue;
      }
      if (namespaces.has(name)) continue; // its members come through the qualified names below
      const all = index.lookup(name);
      if (all.length === 0) continue;
      const ranked = rankByProximity(all, req.relPath);
      const take = ranked.slice(0, MAX_SAME_NAME);
      const confidence = all.length === 1 ? 0.5 : all.length <= MAX_SAME_NAME ? 0.4 : 0.25;
      take.forEach((s, i) => add(s, (confidence + 0.35 * w) * (i === 0 ? 1 : 0.7), `defined as ${name}`));
    }
    for (const { qualifier, member, weight } of near.qualified.values()) {
      if (performance.now() > deadline) break;
      const ref = namespaces.get(qualifier) ?? (local.has(qualifier) ? local.get(qualifier)!.ref : undefined);
      if (!ref) continue;
      let files = namespaces.has(qualifier) ? filesOf(ref) : moduleFiles(ref, local.get(qualifier)!.imported);
      if (files.length === 0 && !namespaces.has(qualifier)) files = filesOf(ref);
      for (const s of inFiles(files, member)) add(s, 0.6 + 0.4 * weight, `${qualifier}.${member}`);
    }
    // Everything imported is a likely callee even when not named near the cursor (the hole may be
    // the call itself): ranked below what is, by how often the file uses it.
    for (const [localName, { ref, imported }] of local) {
      if (performance.now() > deadline) break;
      const w = near.weights.get(localName) ?? 0;
      const partialHit = near.partial.length >= 2 && localName.startsWith(near.partial);
      const score = IMPORTED_BASE + 0.3 * w + (partialHit ? 0.35 : 0);
      const files = filesOf(ref);
      const hits = inFiles(files, imported === 'default' ? localName : imported);
      if (hits.length) for (const s of hits) add(s, score, `imported ${localName}`);
      else for (const f of moduleFiles(ref, imported)) for (const s of index.get(f)?.symbols ?? []) if (s.container === undefined) add(s, IMPORTED_BASE * 0.6, `module ${localName}`);
    }
    if (near.partial.length >= 3) {
      // The word being typed: same-directory definitions it begins (Go packages, Java packages).
      for (const e of dir ? index.filesIn(dir) : []) for (const s of e.symbols) if (s.name.startsWith(near.partial) && s.name !== near.partial) add(s, 0.5, `begins with ${near.partial}`);
    }
    return [...out.values()];
  }

  private imports(req: ContextRequest, index: WorkspaceIndex): ImportRef[] {
    const entry = req.abs ? index.get(req.abs) : undefined;
    if (entry) return entry.imports;
    // Not indexed yet (new file, not saved): the top of its own tree, which is cheap to read.
    return req.tree && req.lang ? extractImports(req.tree.rootNode, req.lang, 200) : [];
  }
}

/** Definitions nearest the current file (most shared leading directories) first; ties by path. */
function rankByProximity(all: readonly IndexedSymbol[], relPath: string): IndexedSymbol[] {
  const shared = (p: string) => {
    const a = p.split('/');
    const b = relPath.split('/');
    let n = 0;
    while (n < a.length - 1 && n < b.length - 1 && a[n] === b[n]) n++;
    return n;
  };
  return [...all].sort((x, y) => shared(y.path) - shared(x.path) || (x.path < y.path ? -1 : x.path > y.path ? 1 : x.line - y.line));
}
