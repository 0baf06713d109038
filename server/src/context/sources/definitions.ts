// Definitions of the identifiers around the cursor: through the file's imports first, then by name.
import { dirname } from 'node:path';
import { FileTables } from '../fileTables.js';
import { nearIdentifiers, WIDE_QUALIFIED } from '../identifiers.js';
import { declaredTypeBefore, receiverBefore, receiverMethods } from '../receivers.js';
import type { WorkspaceIndex } from '../index.js';
import { wallClock, type Candidate, type ContextRequest, type ContextSource, type IndexedSymbol } from '../types.js';

/** A name defined in more places than this says little about which one the cursor means. */
const MAX_SAME_NAME = 4;
const IMPORTED_BASE = 0.25;
const PARTIAL_STEM = 2;
/** By-name lookups per request: the identifiers weighed highest. */
const MAX_LOOKUPS = 200;
const TYPE_KINDS = new Set(['class', 'interface', 'type', 'enum', 'struct', 'trait']);
const SAME_PACKAGE_BASE = 0.2;
/** The callee of the call being written, resolved through an import: nothing is likelier needed. */
const CALLEE = 1;
/** The callee found by name only: its nearest definitions, less sure, but above every other name (imported ones reach 0.95). */
const CALLEE_BY_NAME = 0.99;
/** How much an overload signature ranks below its implementation (less than a group's step). */
const OVERLOAD_STEP = 0.001;
/** Characters looked back for the call the cursor is in. */
const CALLEE_SCAN = 600;

export class DefinitionsSource implements ContextSource {
  readonly name = 'definitions';

  /** `tables`: the documents' prepared imports and identifier counts (the context service shares its own). */
  constructor(
    private readonly index: () => WorkspaceIndex | undefined,
    private readonly tables: FileTables = new FileTables(index),
  ) {}

  /**
   * The work goes in the order of how likely it finds what the cursor needs, checking the deadline
   * in every loop: what the cursor is at (`x.├`), then the names of the near zone through the
   * file's imports, then their definitions by name anywhere, then the rest of the file's names and
   * imports, and last the wide scans (a Go or Java package's other files, the word being typed).
   */
  gather(req: ContextRequest, deadline: number, now: () => number = wallClock): Candidate[] {
    const index = this.index();
    if (!index || !req.lang) return [];
    const late = () => now() > deadline;
    let stopped = false;
    let ticks = 0;
    /** For the inner loops (a module's hundreds of symbols): the clock is read every 32 steps; once past the deadline, always true. */
    const spent = () => stopped || ((++ticks & 31) === 0 && (stopped = late()));
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
    const prepared = this.tables.importsFor(req);
    if (!prepared) return [];
    const { table, known } = prepared;
    const { local, namespaces } = table;
    const near = nearIdentifiers(req.text, req.offset, {}, this.tables.identifiersOf(req.uri));
    const dir = req.abs ? dirname(req.abs) : undefined;
    // An imported name seen once in the wide zone is seen in its import only: no evidence of use.
    const used = (name: string) => near.near.has(name) || near.count(name) >= (local.has(name) ? 2 : 1);
    const weight = (name: string) => (used(name) ? near.weight(name) : 0);
    // (Only while the file's imports are known: before its first parse, names are all there is.)
    const importBased = known && (req.lang === 'typescript' || req.lang === 'tsx' || req.lang === 'javascript' || req.lang === 'python');
    const stem = near.partial.slice(0, PARTIAL_STEM);
    // The function whose arguments are being written (`orders.parseOrder(├` or `f(a, ├`): its
    // parameter list is what the next tokens need most, so its definitions rank above all else.
    // It changes only when a call opens or closes, not per keystroke.
    const call = calleeAt(req.text, req.offset);
    const callee = call?.name;
    const afterNew = /\bnew\s+[\w$]*$/.test(req.text.slice(Math.max(0, req.offset - 40), req.offset));

    // What the cursor is at: `orders.├` or `orders.Pa├`, the members of the module or package being typed into.
    const member = /((?:[A-Za-z_$][\w$]*\s*\.\s*)*)([A-Za-z_$][\w$]*)\s*\.\s*([A-Za-z_$][\w$]*)?$/.exec(req.text.slice(Math.max(0, req.offset - 200), req.offset));
    if (member) {
      const [, chain = '', last, typedWord = ''] = member;
      const typed = typedWord.slice(0, 1); // one letter narrows enough; more would reshuffle per keystroke
      // `pkg.mod.├` after `import pkg.mod`: the dotted qualifier names the module.
      const dottedQualifier = (chain + last).replace(/\s+/g, '');
      const qualifier = namespaces.has(dottedQualifier) ? dottedQualifier : last;
      const ref = namespaces.get(qualifier!) ?? local.get(qualifier!)?.ref;
      const type = ref ? undefined : declaredTypeBefore(req.text, req.offset, req.lang, qualifier!);
      if (type) {
        // `hub.├` after `const hub = new LogHub(…)` or `hub: LogHub`: that type's members.
        const defs = table.imported(type)?.hits ?? rankByProximity(index.lookup(type), req.relPath).slice(0, 2);
        for (const s of defs) if (TYPE_KINDS.has(s.kind)) add(s, 0.8, `type of ${qualifier}`);
      }
      if (ref) {
        const files = namespaces.has(qualifier!) ? table.filesOf(ref.source) : table.moduleFiles(ref, local.get(qualifier!)!.imported);
        for (let i = 0; i < files.length && (i === 0 || !late()); i++) {
          for (const s of index.get(files[i]!)?.symbols ?? []) {
            if (!s.name.startsWith(typed) || (req.lang === 'go' && !/^[A-Z]/.test(s.name)) || (req.lang === 'python' && s.name.startsWith('_'))) continue;
            add(s, s.container === undefined ? 0.7 : 0.5, `member of ${qualifier}`);
          }
        }
      }
    }

    // `this.client.send(├`, `conn.send(├`: the receiver's type (declared, constructed, a field's,
    // the enclosing class) settles which `send` it is, where the name alone has many.
    let calleeTyped = false;
    if (call && !late()) {
      const receiver = receiverBefore(req.text, call.start);
      const typed = receiver ? receiverMethods(req, index, table, receiver, call.name, late) : undefined;
      for (const s of typed?.symbols ?? []) add(s, s.endLine > s.line ? CALLEE : CALLEE - OVERLOAD_STEP, `method of ${typed!.type}`);
      // An interface's signatures leave the implementation to find by name.
      calleeTyped = typed !== undefined && !typed.abstract;
    }

    let lookups = 0;
    /**
     * A name by its definitions anywhere in the workspace, nearest the current file first.
     * `unresolved`: it is imported from a workspace file that (re-exports followed) does not define
     * it, so a bare use of it counts too.
     */
    const byName = (name: string, w: number, unresolved = false) => {
      lookups++;
      // A bare name is a function, type or variable; a method is only meant where it follows a dot.
      // Where another file's names must be imported (TS, JS, Python), a bare name that is not is
      // local: only its use after a dot can mean a definition elsewhere.
      const dotted = near.isMember(name);
      // A module alias's members come through the qualified names; but `import json` does not make
      // `response.json(` the module's: after a dot it is a method like any other.
      if (namespaces.has(name) && !dotted) return;
      if (importBased && !dotted && !unresolved) return;
      const all = dotted ? index.lookup(name) : index.lookup(name).filter((s) => s.kind !== 'method');
      if (all.length === 0) return;
      // One definition per file and type: a method's overload signatures and its implementation
      // are one, and count as one place the name is defined.
      const groups = groupByOwner(rankByProximity(all, req.relPath));
      const confidence = (groups.length === 1 ? 0.5 : groups.length <= MAX_SAME_NAME ? 0.4 : 0.25) * (near.near.has(name) ? 1 : 0.6);
      groups.slice(0, MAX_SAME_NAME).forEach((g, i) => {
        const score = name === callee && !calleeTyped ? CALLEE_BY_NAME - 0.01 * i : (confidence + 0.35 * w) * (i === 0 ? 1 : 0.7);
        // The implementation (a body: more than one line) before its overload signatures, which
        // may be dozens: it takes every argument the overloads do.
        for (const s of g) add(s, s.endLine > s.line ? score : score - OVERLOAD_STEP, `defined as ${name}`, !near.near.has(name));
      });
    };
    /**
     * A name through the file's imports; true when it is imported: the import settles what it is
     * (its definitions through re-exports, or a module whose members come through the qualified
     * pairs; from outside the workspace, nothing here), and when it resolves to workspace files that
     * define neither, its definitions are looked up by name.
     */
    const throughImport = (name: string, w: number) => {
      const r = table.imported(name);
      if (!r) return false;
      for (const s of r.hits) add(s, name === callee ? CALLEE : 0.6 + 0.35 * w, `imported ${name}`, !near.near.has(name));
      if (r.hits.length === 0 && r.modules.length === 0 && r.files.length > 0) byName(name, w, true);
      return true;
    };
    /** `qualifier.member` through the import that binds the qualifier (`pkg.mod` for `import pkg.mod`). */
    const qualifiedThroughImport = (qualifier: string, member: string, w: number) => {
      const imp = local.get(qualifier);
      const ref = namespaces.get(qualifier) ?? imp?.ref;
      if (!ref) return;
      // A named import (`from pkg import mod`, `use crate::a::b`) as a module first; a namespace import is one.
      let files = imp ? table.moduleFiles(imp.ref, imp.imported) : [];
      if (files.length === 0) files = table.filesOf(ref.source);
      for (const s of table.inFiles(files, member)) add(s, member === callee ? CALLEE : 0.6 + 0.35 * w, `${qualifier}.${member}`);
    };

    // The near zone through the imports: first the names of the cursor's line before it, nearest
    // first (`orders.parseOrder(├`: the callee), then the others by weight, each with the
    // `module.member` pairs it is part of. The first is looked at even past the deadline, through
    // the imports or else by name: it is the likeliest callee, and a few map lookups are all it
    // costs. (This orders the work only: scores still go by line, so the chosen snippets do not
    // change along a line.)
    const settled = new Set<string>();
    // The near zone's pairs now; the rest of the file's (thousands in a long test file) one at a
    // time later, as time allows: not all made into objects up front.
    const pairs = near.qualified()[Symbol.iterator]();
    let pair = pairs.next();
    const nearPairs: { qualifier: string; member: string; weight: number }[] = [];
    for (; !pair.done && pair.value.weight > WIDE_QUALIFIED; pair = pairs.next()) nearPairs.push(pair.value);
    const pairDone = new Set<object>();
    const byWeight: string[] = [];
    for (const name of near.ranked()) {
      if (!near.near.has(name)) break; // the near zone's come first; the rest of the file's are many
      byWeight.push(name);
    }
    const order = cursorFirst(req, near.near, byWeight);
    for (let i = 0; i < order.length && (i === 0 || !late()); i++) {
      const name = order[i]!;
      for (const q of nearPairs) {
        if ((q.member !== name && q.qualifier !== name) || pairDone.has(q)) continue;
        pairDone.add(q);
        qualifiedThroughImport(q.qualifier, q.member, q.weight);
      }
      if (throughImport(name, near.weight(name))) settled.add(name);
      else if (i === 0) {
        // Not imported (Go's `c.JSON(`, a Python method): the likeliest callee is found by name, now.
        byName(name, near.weight(name));
        settled.add(name);
      }
    }
    // The near names the imports did not settle, by name, in the same order.
    for (const name of order) {
      if (lookups >= MAX_LOOKUPS || late()) break;
      if (!settled.has(name)) byName(name, near.weight(name));
    }
    // The rest of the file's names, most used first, and `module.member` pairs further away.
    for (const name of near.ranked()) {
      if (lookups >= MAX_LOOKUPS || late()) break;
      if (near.near.has(name) || !used(name)) continue;
      if (!throughImport(name, near.weight(name))) byName(name, near.weight(name));
    }
    for (const q of nearPairs) {
      if (late()) break;
      if (!pairDone.has(q)) qualifiedThroughImport(q.qualifier, q.member, q.weight);
    }
    for (; !pair.done && !late(); pair = pairs.next()) qualifiedThroughImport(pair.value.qualifier, pair.value.member, pair.value.weight);
    // Everything imported is a likely callee even when not named near the cursor (the hole may be
    // the call itself): ranked below what is, by how often the file uses it. The word being typed
    // narrows by its first letters only, so that the chosen snippets (and the prompt's cached head)
    // stay the same for the rest of the word.
    for (const [localName, { imported }] of local) {
      if (late() || stopped) break;
      const w = weight(localName);
      const partialHit = stem.length === PARTIAL_STEM && localName.startsWith(stem);
      const score = IMPORTED_BASE + 0.3 * w + (partialHit ? 0.35 : 0);
      const { files, hits, modules } = table.imported(localName)!;
      // After `new`, a class: most likely one the file has not constructed yet.
      const newBoost = afterNew ? (used(localName) ? 0.3 : 0.45) : 0;
      if (hits.length) for (const s of hits) add(s, score + (s.kind === 'class' ? newBoost : 0), `imported ${localName}`, !near.near.has(localName));
      else {
        for (const f of modules) {
          for (const s of index.get(f)?.symbols ?? []) {
            if (spent()) break;
            if (s.container === undefined) add(s, IMPORTED_BASE * 0.6, `module ${localName}`);
          }
        }
      }
      // Resolved to a workspace file that does not define it (a re-export we cannot follow): by name.
      if (hits.length === 0 && modules.length === 0 && files.length > 0) {
        const all = index.lookup(imported === 'default' ? localName : imported).filter((s) => s.kind !== 'method');
        if (all.length <= MAX_SAME_NAME) for (const s of rankByProximity(all, req.relPath).slice(0, 1)) add(s, score * 0.8, `defined as ${localName}`, !near.near.has(localName));
      }
    }
    // Go and Java see the other files of their package without importing them.
    if ((req.lang === 'go' || req.lang === 'java') && dir) {
      for (const e of index.filesIn(dir)) {
        if (late()) break;
        if (e.rel === req.relPath || e.rel.endsWith('_test.go')) continue;
        for (const s of e.symbols) {
          if (spent()) break;
          if (s.container === undefined) add(s, SAME_PACKAGE_BASE + 0.3 * weight(s.name), 'same package', !used(s.name));
        }
      }
    }
    if (stem.length === PARTIAL_STEM) {
      // The word being typed: same-directory definitions it begins (Go packages, Java packages).
      for (const e of dir ? index.filesIn(dir) : []) {
        if (late()) break;
        if (e.rel === req.relPath) continue;
        for (const s of e.symbols) {
          if (spent()) break;
          if (s.container === undefined && s.name.startsWith(stem)) add(s, 0.5, `begins with ${stem}`);
        }
      }
    }
    // After `new` only a class can follow: everything else steps back.
    if (afterNew) for (const c of out.values()) if (!classes.has(c)) c.score *= 0.6;
    return [...out.values()];
  }
}

/**
 * The name of the function whose argument list the cursor is in (`a.b.f(x, ├` → `f`) and where the
 * name starts, read back from the cursor over balanced brackets; undefined at statement level (a
 * `;`, a block's brace or Python's block colon comes first) or further back than CALLEE_SCAN
 * characters.
 */
export function calleeAt(text: string, offset: number): { name: string; start: number } | undefined {
  let depth = 0;
  const stop = Math.max(0, offset - CALLEE_SCAN);
  for (let i = offset - 1; i >= stop; i--) {
    const ch = text[i];
    if (ch === ')' || ch === ']') depth++;
    else if (ch === '[') depth = Math.max(0, depth - 1);
    else if (ch === '(') {
      if (depth > 0) {
        depth--;
        continue;
      }
      let e = i;
      while (e > 0 && (text[e - 1] === ' ' || text[e - 1] === '\t')) e--;
      let b = e;
      while (b > 0 && /[\w$]/.test(text[b - 1]!)) b--;
      const name = text.slice(b, e);
      return /^[A-Za-z_$][\w$]*$/.test(name) && !CALL_KEYWORDS.has(name) ? { name, start: b } : undefined;
    } else if (depth === 0 && (ch === ';' || ch === '{' || ch === '}')) return undefined;
    else if (depth === 0 && ch === '\n' && /:\s*$/.test(text.slice(Math.max(0, i - 80), i))) return undefined;
  }
  return undefined;
}

/** Words a `(` follows that are no call. */
const CALL_KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'function', 'elif', 'and', 'or', 'not', 'in', 'typeof', 'await', 'yield', 'print', 'func']);

/** The near names in the order to look them up: those of the cursor's line before it, nearest first, then the rest as given. */
function cursorFirst(req: ContextRequest, near: ReadonlySet<string>, byWeight: readonly string[]): string[] {
  const lineStart = req.text.lastIndexOf('\n', req.offset - 1) + 1;
  const onLine = [...req.text.slice(Math.max(lineStart, req.offset - 400), req.offset).matchAll(/[A-Za-z_$][\w$]*/g)].map((m) => m[0]).reverse();
  const first = [...new Set(onLine.filter((n) => near.has(n)))];
  return [...first, ...byWeight.filter((n) => !first.includes(n))];
}

/** Definitions grouped by file and containing type, in the order of each group's first. */
function groupByOwner(ranked: readonly IndexedSymbol[]): IndexedSymbol[][] {
  const groups = new Map<string, IndexedSymbol[]>();
  for (const s of ranked) {
    const key = `${s.path}\0${s.container ?? ''}`;
    const g = groups.get(key);
    if (g) g.push(s);
    else groups.set(key, [s]);
  }
  return [...groups.values()];
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
