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
  /** Identifiers of the near zone (a few lines around the cursor). */
  near: ReadonlySet<string>;
  /** In (0, 1]: 1 at the cursor, 0.6-1 in the near zone by distance, 0.2-0.4 elsewhere by frequency, 0 if absent. */
  weight(name: string): number;
  /** Occurrences outside the near zone. */
  count(name: string): number;
  /** Whether the name follows a dot (or Rust's `::`) somewhere (`x.name`): a member, perhaps a method. */
  isMember(name: string): boolean;
  /** Every weighed name: the near zone's by weight (ties by name), then the others most frequent first. */
  ranked(): Iterable<string>;
  /**
   * `qualifier.member` pairs (module or package aliases, receivers): the near zone's by weight, then
   * the others (0.3). In a chain `a.b.c` (or Rust's `a::b::c`) every prefix qualifies the next name:
   * `a`/`b` and `a.b`/`c`.
   */
  qualified(): Iterable<{ qualifier: string; member: string; weight: number }>;
  /** The word the cursor sits at the end of, when it is being typed (`parseOr├`). */
  partial: string;
}

const IDENT = /[A-Za-z_$][A-Za-z0-9_$]*(?:\s*(?:\.|::)\s*[A-Za-z_$][A-Za-z0-9_$]*)*/g;
const CHAIN_SEP = /\s*(?:\.|::)\s*/;
/** A `qualifier.member` pair's weight outside the near zone. */
export const WIDE_QUALIFIED = 0.3;

/**
 * A document's identifiers counted once, when it settles: what the wide zone of every request would
 * otherwise scan again.
 */
export interface IdentifierTable {
  counts: ReadonlyMap<string, number>;
  /** The names, most frequent first (ties by name). */
  byCount: readonly string[];
  /** `qualifier.member` pairs of the document, by `qualifier.member`. */
  qualified: ReadonlyMap<string, { qualifier: string; member: string }>;
  members: ReadonlySet<string>;
}

/** Documents larger than this get no table: their requests scan the wide zone instead. */
export const MAX_TABLE_CHARS = 400_000;

/** The identifier table of a document's text; undefined when the text is too large to count at once. */
export function identifierTable(text: string): IdentifierTable | undefined {
  if (text.length > MAX_TABLE_CHARS) return undefined;
  const counts = new Map<string, number>();
  const qualified = new Map<string, { qualifier: string; member: string }>();
  const members = new Set<string>();
  IDENT.lastIndex = 0;
  for (let m = IDENT.exec(text); m; m = IDENT.exec(text)) {
    const parts = m[0].split(CHAIN_SEP);
    for (const q of chainPairs(parts)) {
      qualified.set(`${q.qualifier}.${q.member}`, q);
      members.add(q.member);
    }
    if (afterDot(text, m.index)) members.add(parts[0]!);
    for (const p of parts) if (p.length >= 2 && !KEYWORDS.has(p)) counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  const byCount = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : 1));
  return { counts, byCount, qualified, members };
}

/**
 * Names of a chain that get qualified: real chains are a few names long (`a.b.c.d`), and every
 * prefix of a chain of n names is a string of up to n names, so a generated or minified
 * `a.a.a.…` of 100,000 names would cost 10^10 characters (measured: 1.6 s for 200 kB).
 */
export const MAX_CHAIN = 8;

/** A chain's `qualifier.member` pairs: every prefix (joined with dots) qualifies the next name, up to MAX_CHAIN names. */
function chainPairs(parts: readonly string[]): { qualifier: string; member: string }[] {
  const out: { qualifier: string; member: string }[] = [];
  let qualifier = parts[0] ?? '';
  for (let i = 1; i < Math.min(parts.length, MAX_CHAIN); i++) {
    out.push({ qualifier, member: parts[i]! });
    qualifier = `${qualifier}.${parts[i]!}`;
  }
  return out;
}

/**
 * The near zone's reach in characters as well as lines: on a minified file or a one-line
 * document, 12 lines are the whole text, and a request would scan all of it (183 ms for 350 kB).
 * Twelve lines of 160 characters before the cursor, four after.
 */
const NEAR_MAX_BEFORE = 12 * 160;
const NEAR_MAX_AFTER = 4 * 160;

const wideWeight = (n: number) => (n > 0 ? Math.min(0.4, 0.2 + 0.05 * Math.log2(1 + n)) : 0);

/**
 * Identifiers of the text around `offset`: the near zone (a few lines each side, a few thousand
 * characters at most) weighs
 * 0.6-1 by distance; the wide zone (a few thousand characters) 0.2-0.4 by frequency.
 * Reads at most `wideBefore + wideAfter` characters: cheap on any file size. Given the document's
 * `table` (counted when it settled), it reads the near zone only, and the rest comes from the
 * table without copying it: a request allocates for the near zone only.
 */
export function nearIdentifiers(text: string, offset: number, opts: { nearLinesBefore?: number; nearLinesAfter?: number; wideBefore?: number; wideAfter?: number } = {}, table?: IdentifierTable): NearIdentifiers {
  const nearBefore = opts.nearLinesBefore ?? 12;
  const nearAfter = opts.nearLinesAfter ?? 4;
  const nearFloor = Math.max(0, offset - NEAR_MAX_BEFORE);
  const nearCeiling = Math.min(text.length, offset + NEAR_MAX_AFTER);
  let nearStart = offset;
  for (let i = 0; i < nearBefore && nearStart > nearFloor; i++) nearStart = Math.max(nearFloor, text.lastIndexOf('\n', nearStart - 2) + 1);
  let nearEnd = offset;
  for (let i = 0; i < nearAfter && nearEnd < nearCeiling && nearEnd >= 0; i++) {
    const nl = text.indexOf('\n', nearEnd + 1);
    nearEnd = nl < 0 || nl > nearCeiling ? nearCeiling : nl;
  }
  const zoneStart = table ? nearStart : Math.max(0, offset - (opts.wideBefore ?? 24_000));
  const zoneEnd = table ? nearEnd : Math.min(text.length, offset + (opts.wideAfter ?? 6_000));
  const nearWeights = new Map<string, number>();
  const nearQualified = new Map<string, { qualifier: string; member: string; weight: number }>();
  /** Without a table: the wide zone's pairs and counts. With one: the near zone's counts, which the table has too. */
  const wideQualified = new Map<string, { qualifier: string; member: string; weight: number }>();
  const counted = new Map<string, number>();
  const members = new Set<string>();
  const zone = text.slice(zoneStart, zoneEnd);
  // Weights go by line, not character: typing along a line leaves them (and so the chosen
  // snippets and the prompt's head) unchanged until a word is complete.
  let cursorLine = 0;
  for (let i = zone.indexOf('\n'); i >= 0 && i < offset - zoneStart; i = zone.indexOf('\n', i + 1)) cursorLine++;
  let scanLine = 0;
  let scanPos = 0;
  IDENT.lastIndex = 0;
  for (let m = IDENT.exec(zone); m; m = IDENT.exec(zone)) {
    const at = zoneStart + m.index;
    let parts = m[0].split(CHAIN_SEP);
    if (at < offset && at + m[0].length >= offset) {
      // The word being typed is no evidence of anything (the table, counted earlier, may hold it:
      // its count is taken off); the names before it in its chain are.
      const prefix = m[0].slice(0, offset - at).replace(/\s*(?:\.|::)?\s*[A-Za-z0-9_$]*$/, '');
      const kept = prefix ? prefix.split(CHAIN_SEP) : [];
      if (table) for (const p of parts.slice(kept.length)) counted.set(p, (counted.get(p) ?? 0) + 1);
      if (kept.length === 0) continue;
      parts = kept;
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
    if (afterDot(zone, m.index)) members.add(parts[0]!);
    for (const { qualifier, member } of chainPairs(parts)) {
      const key = `${qualifier}.${member}`;
      members.add(member);
      if (near) {
        const prev = nearQualified.get(key);
        if (!prev || prev.weight < w) nearQualified.set(key, { qualifier, member, weight: w });
      } else wideQualified.set(key, { qualifier, member, weight: WIDE_QUALIFIED });
    }
    for (const p of parts) {
      if (p.length < 2 || KEYWORDS.has(p)) continue;
      if (near) nearWeights.set(p, Math.max(nearWeights.get(p) ?? 0, w));
      // Outside the near zone without a table; inside it with one (to take off the table's counts).
      if (!near !== Boolean(table)) counted.set(p, (counted.get(p) ?? 0) + 1);
    }
  }
  const near: ReadonlySet<string> = new Set(nearWeights.keys());
  const count = table ? (name: string) => Math.max(0, (table.counts.get(name) ?? 0) - (counted.get(name) ?? 0)) : (name: string) => counted.get(name) ?? 0;
  const weight = (name: string) => nearWeights.get(name) ?? wideWeight(count(name));
  const byWeight = (a: string, b: string) => weight(b) - weight(a) || (a < b ? -1 : 1);
  return {
    near,
    weight,
    count,
    isMember: (name) => members.has(name) || (table?.members.has(name) ?? false),
    *ranked() {
      yield* [...near].sort(byWeight);
      // The table's names come most frequent first already: the order of their weights but for the
      // few the near zone took occurrences from, not worth a sort of every name per request.
      for (const name of table ? table.byCount : [...counted.keys()].sort(byWeight)) if (!near.has(name) && count(name) > 0) yield name;
    },
    *qualified() {
      yield* [...nearQualified.values()].sort((a, b) => b.weight - a.weight);
      for (const [key, q] of table ? table.qualified : wideQualified) if (!nearQualified.has(key)) yield { qualifier: q.qualifier, member: q.member, weight: WIDE_QUALIFIED };
    },
    partial: partialWord(text, offset),
  };
}

/**
 * Whether the chain starting at `at` follows a dot that no name precedes (`f(x).name`, `a[0].name`,
 * `a!.name`, `a?.name`): its first name is a member then, though no name qualifies it. (A spread's
 * `...name` is no member.)
 */
function afterDot(text: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  return text[i] === '.' && text[i - 1] !== '.';
}

function partialWord(text: string, offset: number): string {
  let s = offset;
  while (s > 0 && /[A-Za-z0-9_$]/.test(text[s - 1]!)) s--;
  return /^[A-Za-z_$]/.test(text.slice(s, offset)) ? text.slice(s, offset) : '';
}
