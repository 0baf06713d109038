// Identifiers around the cursor, weighted by closeness: what the definitions source looks up.

/** Words of the languages we index that never name a workspace definition. */
const KEYWORDS = new Set(
  (
    'abstract as async await break case catch class const continue def default defer delete do elif else enum export extends false final finally for from func ' +
    'function go if impl implements import in instanceof interface is lambda let match mod module mut new nil none not null of or and package pass private protected ' +
    'pub public raise readonly return self static struct super switch this throw trait true try type typeof undefined use var void while with yield fn loop where ' +
    'crate ref string number boolean any unknown never object int float bool str byte rune error len print println range make map chan select fallthrough goto ' +
    'char long short double assert del global nonlocal True False None Self dyn unsafe extern'
  ).split(' '),
);

export interface NearIdentifiers {
  /** Identifier → weight in (0, 1]: 1 at the cursor, lower further away. */
  weights: Map<string, number>;
  /**
   * `qualifier.member` pairs (module or package aliases, receivers) → weight; in a chain `a.b.c`
   * (or Rust's `a::b::c`) every prefix qualifies the next name: `a`/`b` and `a.b`/`c`.
   */
  qualified: Map<string, { qualifier: string; member: string; weight: number }>;
  /** The word the cursor sits at the end of, when it is being typed (`parseOr├`). */
  partial: string;
  /** Identifiers of the near zone (the rest come from the wide zone only). */
  near: ReadonlySet<string>;
  /** Occurrences in the wide zone outside the near zone. */
  counts: ReadonlyMap<string, number>;
}

const IDENT = /[A-Za-z_$][A-Za-z0-9_$]*(?:\s*(?:\.|::)\s*[A-Za-z_$][A-Za-z0-9_$]*)*/g;
const CHAIN_SEP = /\s*(?:\.|::)\s*/;

/**
 * Identifiers of the text around `offset`: the near zone (a few lines each side) weighs
 * 0.6-1 by distance; the wide zone (a few thousand characters) 0.2-0.4 by frequency.
 * Reads at most `wideBefore + wideAfter` characters: cheap on any file size.
 */
export function nearIdentifiers(text: string, offset: number, opts: { nearLinesBefore?: number; nearLinesAfter?: number; wideBefore?: number; wideAfter?: number } = {}): NearIdentifiers {
  const nearBefore = opts.nearLinesBefore ?? 12;
  const nearAfter = opts.nearLinesAfter ?? 4;
  const wideStart = Math.max(0, offset - (opts.wideBefore ?? 24_000));
  const wideEnd = Math.min(text.length, offset + (opts.wideAfter ?? 6_000));
  let nearStart = offset;
  for (let i = 0; i < nearBefore && nearStart > 0; i++) nearStart = text.lastIndexOf('\n', nearStart - 2) + 1;
  let nearEnd = offset;
  for (let i = 0; i < nearAfter && nearEnd < text.length && nearEnd >= 0; i++) {
    const nl = text.indexOf('\n', nearEnd + 1);
    nearEnd = nl < 0 ? text.length : nl;
  }
  const weights = new Map<string, number>();
  const qualified = new Map<string, { qualifier: string; member: string; weight: number }>();
  const counts = new Map<string, number>();
  const zone = text.slice(wideStart, wideEnd);
  const base = wideStart;
  // Weights go by line, not character: typing along a line leaves them (and so the chosen
  // snippets and the prompt's head) unchanged until a word is complete.
  let cursorLine = 0;
  for (let i = zone.indexOf('\n'); i >= 0 && i < offset - base; i = zone.indexOf('\n', i + 1)) cursorLine++;
  let scanLine = 0;
  let scanPos = 0;
  IDENT.lastIndex = 0;
  for (let m = IDENT.exec(zone); m; m = IDENT.exec(zone)) {
    const at = base + m.index;
    let chain = m[0];
    if (at < offset && at + chain.length >= offset) {
      // The word being typed counts for nothing; the names before it in its chain do.
      chain = chain.slice(0, offset - at).replace(/\s*(?:\.|::)?\s*[A-Za-z0-9_$]*$/, '');
      if (!chain) continue;
    }
    const near = at >= nearStart && at < nearEnd;
    let w = 0;
    if (near) {
      for (let nl = zone.indexOf('\n', scanPos); nl >= 0 && nl < m.index; nl = zone.indexOf('\n', scanPos)) {
        scanLine++;
        scanPos = nl + 1;
      }
      const d = scanLine - cursorLine;
      w = 1 - (0.4 * Math.abs(d)) / ((d < 0 ? nearBefore : nearAfter) + 1);
    }
    const parts = chain.split(CHAIN_SEP);
    for (let i = 1; i < parts.length; i++) {
      const qualifier = parts.slice(0, i).join('.');
      const key = `${qualifier}.${parts[i]}`;
      const prev = qualified.get(key);
      const qw = near ? w : 0.3;
      if (!prev || prev.weight < qw) qualified.set(key, { qualifier, member: parts[i]!, weight: qw });
    }
    for (const p of parts) {
      if (p.length < 2 || KEYWORDS.has(p)) continue;
      if (near) weights.set(p, Math.max(weights.get(p) ?? 0, w));
      else counts.set(p, (counts.get(p) ?? 0) + 1);
    }
  }
  const nearSet = new Set<string>();
  for (const k of weights.keys()) nearSet.add(k);
  for (const [name, n] of counts) if (!nearSet.has(name)) weights.set(name, Math.min(0.4, 0.2 + 0.05 * Math.log2(1 + n)));
  return { weights, qualified, partial: partialWord(text, offset), near: nearSet, counts };
}

function partialWord(text: string, offset: number): string {
  let s = offset;
  while (s > 0 && /[A-Za-z0-9_$]/.test(text[s - 1]!)) s--;
  return /^[A-Za-z_$]/.test(text.slice(s, offset)) ? text.slice(s, offset) : '';
}
