// @ts-check
// `node bench/heapDiff.js A.heapsnapshot B.heapsnapshot [--top N] [--retained] [--retainers NAME
// [--depth D]]`: what grew between two heap snapshots of one process (bench:soak --snapshots DIR
// writes them). Per constructor (V8's node type and name): count and self size in each, and of the
// objects alive in B that were not in A (snapshot ids are stable within a process), how many and
// how big. `--retained`: retained sizes (dominator tree) per constructor, and the objects present
// in both whose retained size grew most: which holder grew. `--retainers NAME`: for B's new objects
// of that constructor, who holds them (retainer's constructor and edge name), D levels up.
import { readFileSync } from 'node:fs';

/** @param {string} name @param {string} [fallback] */
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

/**
 * The parts of a .heapsnapshot this needs, with the flat arrays decoded per node.
 * @param {string} file
 */
function load(file) {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const meta = j.snapshot.meta;
  const nf = meta.node_fields;
  const ef = meta.edge_fields;
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const N = nf.length;
  const E = ef.length;
  const [iType, iName, iId, iSize, iEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => nf.indexOf(f));
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f));
  /** @type {number[]} */
  const nodes = j.nodes;
  /** @type {number[]} */
  const edges = j.edges;
  /** @type {string[]} */
  const strings = j.strings;
  const count = nodes.length / N;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += /** @type {number} */ (nodes[i * N + iEdges]) * E;
    firstEdge[i + 1] = e;
  }
  /** @param {number} i */
  const type = (i) => nodeTypes[/** @type {number} */ (nodes[i * N + iType])];
  /** @param {number} i */
  const name = (i) => strings[/** @type {number} */ (nodes[i * N + iName])];
  /** @param {number} i */
  const key = (i) => {
    const t = type(i);
    // Strings and code are grouped by kind, not by their text.
    if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return `(${t})`;
    if (t === 'code' || t === 'hidden' || t === 'array' || t === 'number') return `(${t}) ${String(name(i)).slice(0, 60)}`;
    if (t === 'closure') return `(closure) ${String(name(i)).slice(0, 60)}`;
    return `${t === 'object' ? '' : `(${t}) `}${String(name(i)).slice(0, 80)}`;
  };
  /** @param {number} i */
  const id = (i) => /** @type {number} */ (nodes[i * N + iId]);
  /** @param {number} i */
  const size = (i) => /** @type {number} */ (nodes[i * N + iSize]);
  /** Where node i's edges start and end in `edges`. @param {number} i */
  const edgeStart = (i) => firstEdge[i] ?? 0;
  /** @param {number} i */
  const edgeEnd = (i) => firstEdge[i + 1] ?? 0;
  return { count, key, id, size, type, name, edgeStart, edgeEnd, edges, E, eType, eName, eTo, N, edgeTypes, strings };
}

/**
 * Retained size of every node (the bytes that would be freed with it): the dominator tree by
 * Cooper, Harvey and Kennedy's iteration over a reverse post-order, weak edges left out.
 * @param {ReturnType<typeof load>} s
 */
function retained(s) {
  const n = s.count;
  /** @param {number} i @param {(to: number) => void} f */
  const eachChild = (i, f) => {
    for (let e = s.edgeStart(i); e < s.edgeEnd(i); e += s.E) {
      if (s.edgeTypes[/** @type {number} */ (s.edges[e + s.eType])] === 'weak') continue;
      f(/** @type {number} */ (s.edges[e + s.eTo]) / s.N);
    }
  };
  const order = new Int32Array(n).fill(-1); // post-order number
  const rpo = [];
  const stack = [0];
  const next = new Uint32Array(n);
  const onStack = new Uint8Array(n);
  onStack[0] = 1;
  for (let i = 0; i < n; i++) next[i] = s.edgeStart(i);
  let post = 0;
  while (stack.length) {
    const v = /** @type {number} */ (stack[stack.length - 1]);
    let pushed = false;
    while (/** @type {number} */ (next[v]) < s.edgeEnd(v)) {
      const e = /** @type {number} */ (next[v]);
      next[v] = e + s.E;
      if (s.edgeTypes[/** @type {number} */ (s.edges[e + s.eType])] === 'weak') continue;
      const to = /** @type {number} */ (s.edges[e + s.eTo]) / s.N;
      if (onStack[to]) continue;
      onStack[to] = 1;
      stack.push(to);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      order[v] = post++;
      rpo.push(v);
    }
  }
  rpo.reverse();
  /** @type {number[][]} */
  const preds = Array.from({ length: n }, () => []);
  for (const v of rpo) eachChild(v, (to) => /** @type {number[]} */ (preds[to]).push(v));
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (/** @type {number} */ a, /** @type {number} */ b) => {
    while (a !== b) {
      while (/** @type {number} */ (order[a]) < /** @type {number} */ (order[b])) a = /** @type {number} */ (idom[a]);
      while (/** @type {number} */ (order[b]) < /** @type {number} */ (order[a])) b = /** @type {number} */ (idom[b]);
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const v of rpo) {
      if (v === 0) continue;
      let d = -1;
      for (const p of /** @type {number[]} */ (preds[v])) {
        if (idom[p] === -1) continue;
        d = d === -1 ? p : intersect(p, d);
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  const size = new Float64Array(n);
  for (const v of rpo) size[v] = s.size(v);
  for (let k = rpo.length - 1; k > 0; k--) {
    const v = /** @type {number} */ (rpo[k]);
    const d = /** @type {number} */ (idom[v]);
    if (d >= 0 && d !== v) size[d] = /** @type {number} */ (size[d]) + /** @type {number} */ (size[v]);
  }
  return size;
}

/** Retained size summed per constructor of plain objects (V8 type "object"), and their count. @param {ReturnType<typeof load>} s */
function retainedByClass(s) {
  const r = retained(s);
  /** @type {Map<string, { n: number, bytes: number }>} */
  const m = new Map();
  for (let i = 0; i < s.count; i++) {
    if (s.type(i) !== 'object') continue;
    const k = String(s.name(i));
    const e = m.get(k) ?? { n: 0, bytes: 0 };
    e.n++;
    e.bytes += /** @type {number} */ (r[i]);
    m.set(k, e);
  }
  return m;
}

/** @param {ReturnType<typeof load>} s */
function byKey(s) {
  /** @type {Map<string, { n: number, bytes: number }>} */
  const m = new Map();
  for (let i = 0; i < s.count; i++) {
    const k = s.key(i);
    const e = m.get(k) ?? { n: 0, bytes: 0 };
    e.n++;
    e.bytes += s.size(i);
    m.set(k, e);
  }
  return m;
}

const [fa, fb] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
if (!fa || !fb) throw new Error('usage: node bench/heapDiff.js A.heapsnapshot B.heapsnapshot [--top N] [--retainers NAME]');
const TOP = Number(arg('top', '40'));
const a = load(fa);
const b = load(fb);
const ka = byKey(a);
const kb = byKey(b);
const idsA = new Set();
for (let i = 0; i < a.count; i++) idsA.add(a.id(i));
/** Objects of B not in A, per key. @type {Map<string, { n: number, bytes: number }>} */
const fresh = new Map();
/** @type {Uint8Array} */
const isNew = new Uint8Array(b.count);
for (let i = 0; i < b.count; i++) {
  if (idsA.has(b.id(i))) continue;
  isNew[i] = 1;
  const k = b.key(i);
  const e = fresh.get(k) ?? { n: 0, bytes: 0 };
  e.n++;
  e.bytes += b.size(i);
  fresh.set(k, e);
}
const kb2 = (/** @type {number} */ x) => `${(x / 1024).toFixed(0)} kB`;
const totals = (/** @type {Map<string, {n: number, bytes: number}>} */ m) => [...m.values()].reduce((t, e) => ({ n: t.n + e.n, bytes: t.bytes + e.bytes }), { n: 0, bytes: 0 });
const ta = totals(ka);
const tb = totals(kb);
const tf = totals(fresh);
console.log(`A: ${ta.n} objects, ${kb2(ta.bytes)}; B: ${tb.n} objects, ${kb2(tb.bytes)}; in B and not in A: ${tf.n}, ${kb2(tf.bytes)}`);
console.log('\nBy growth of self size (B - A):');
console.log('| constructor | count A | count B | size A | size B | new in B (count, size) |');
console.log('|---|---|---|---|---|---|');
const keys = new Set([...ka.keys(), ...kb.keys()]);
const rows = [...keys].map((k) => ({ k, a: ka.get(k) ?? { n: 0, bytes: 0 }, b: kb.get(k) ?? { n: 0, bytes: 0 }, f: fresh.get(k) ?? { n: 0, bytes: 0 } }));
rows.sort((x, y) => y.b.bytes - y.a.bytes - (x.b.bytes - x.a.bytes));
for (const r of rows.slice(0, TOP)) console.log(`| ${r.k} | ${r.a.n} | ${r.b.n} | ${kb2(r.a.bytes)} | ${kb2(r.b.bytes)} | ${r.f.n}, ${kb2(r.f.bytes)} |`);
console.log('\nBy growth of count (B - A):');
rows.sort((x, y) => y.b.n - y.a.n - (x.b.n - x.a.n));
for (const r of rows.slice(0, TOP)) console.log(`| ${r.k} | ${r.a.n} | ${r.b.n} | ${kb2(r.a.bytes)} | ${kb2(r.b.bytes)} | ${r.f.n}, ${kb2(r.f.bytes)} |`);

if (process.argv.includes('--retained')) {
  // Which holder grew: retained sizes (nested holders count in each of their owners too).
  const ra = retainedByClass(a);
  const rb = retainedByClass(b);
  const names = [...new Set([...ra.keys(), ...rb.keys()])].map((k) => ({ k, a: ra.get(k) ?? { n: 0, bytes: 0 }, b: rb.get(k) ?? { n: 0, bytes: 0 } }));
  names.sort((x, y) => y.b.bytes - y.a.bytes - (x.b.bytes - x.a.bytes));
  console.log('\nRetained size per constructor (objects only), by growth:');
  console.log('| constructor | count A | count B | retained A | retained B |');
  console.log('|---|---|---|---|---|');
  for (const r of names.slice(0, TOP)) console.log(`| ${r.k} | ${r.a.n} | ${r.b.n} | ${kb2(r.a.bytes)} | ${kb2(r.b.bytes)} |`);
  // The same objects (by id) in both: whose retained size grew most.
  const sa = retained(a);
  const sb = retained(b);
  /** @type {Map<number, number>} */
  const atA = new Map();
  for (let i = 0; i < a.count; i++) atA.set(a.id(i), /** @type {number} */ (sa[i]));
  const grown = [];
  for (let i = 0; i < b.count; i++) {
    const before = atA.get(b.id(i));
    if (before === undefined) continue;
    const d = /** @type {number} */ (sb[i]) - before;
    if (d > 50 * 1024) grown.push({ i, d, before });
  }
  grown.sort((x, y) => y.d - x.d);
  console.log('\nObjects in both whose retained size grew most:');
  for (const g of grown.slice(0, TOP)) console.log(`+${kb2(g.d)} (${kb2(g.before)} → ${kb2(/** @type {number} */ (sb[g.i]))}) @${b.id(g.i)} ${b.key(g.i)}`);
}

const who = arg('retainers');
if (who !== undefined) {
  // Reverse edges of B (weak ones left out: they retain nothing).
  /** @type {number[][]} */
  const retainers = Array.from({ length: b.count }, () => []);
  for (let i = 0; i < b.count; i++) {
    for (let e = b.edgeStart(i); e < b.edgeEnd(i); e += b.E) {
      if (b.edgeTypes[/** @type {number} */ (b.edges[e + b.eType])] === 'weak') continue;
      const to = /** @type {number} */ (b.edges[e + b.eTo]) / b.N;
      /** @type {number[]} */ (retainers[to]).push(i, e);
    }
  }
  /** @param {number} e */
  const edgeName = (e) => {
    const t = b.edgeTypes[/** @type {number} */ (b.edges[e + b.eType])];
    const v = /** @type {number} */ (b.edges[e + b.eName]);
    // Indices differ per object; grouped as one.
    return t === 'element' || t === 'hidden' || /^\d+$/.test(String(b.strings[v])) ? '[]' : String(b.strings[v]);
  };
  const depth = Number(arg('depth', '6'));
  /** @type {Map<string, { n: number, bytes: number }>} */
  const paths = new Map();
  let seen = 0;
  for (let i = 0; i < b.count; i++) {
    if (!isNew[i] || b.key(i) !== who) continue;
    seen++;
    // One chain per object: each step to the first retainer that is not the object's own context or a system node.
    const chain = [];
    let at = i;
    const visited = new Set([i]);
    for (let d = 0; d < depth; d++) {
      const r = /** @type {number[]} */ (retainers[at]);
      let pick = -1;
      let via = -1;
      for (let k = 0; k < r.length; k += 2) {
        const from = /** @type {number} */ (r[k]);
        if (visited.has(from)) continue;
        const t = b.type(from);
        if (t === 'synthetic') continue;
        pick = from;
        via = /** @type {number} */ (r[k + 1]);
        if (t !== 'hidden' && t !== 'code') break;
      }
      if (pick < 0) break;
      chain.push(`${edgeName(via)} of ${b.key(pick)}`);
      visited.add(pick);
      at = pick;
    }
    const p = chain.join(' ← ');
    const e = paths.get(p) ?? { n: 0, bytes: 0 };
    e.n++;
    e.bytes += b.size(i);
    paths.set(p, e);
  }
  console.log(`\nRetainer chains of ${seen} new "${who}" objects in B (largest total self size first):`);
  for (const [p, e] of [...paths].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, TOP)) console.log(`${e.n} x ${who} (${kb2(e.bytes)}) ← ${p}`);
}
