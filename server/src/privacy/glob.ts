// Glob matchers for privacy rules: one pass of a table over (pattern token, path character), never a backtracking regular expression.
//
// A repository can add `privacy.onPremOnly` globs (its tandem.json may tighten), so a glob is
// untrusted input that runs on every request. A regular expression built from `a*a*a*…b` takes
// exponential time on a long name of `a`s; this matcher fills a table of at most
// (tokens + 1) × (characters + 1) cells per alternative, whatever the glob and the path.

/** Counts the table cells a match fills: the work it did, for tests and for the policy's accounting. */
export interface MatchWork {
  steps: number;
}

export interface GlobMatcher {
  readonly glob: string;
  /**
   * Why the glob could not be compiled. Such a glob matches every path: a privacy rule that
   * cannot be read must not let anything through (fail closed).
   */
  readonly error?: string;
  match(path: string, work?: MatchWork): boolean;
}

/** Brace alternatives of one glob, at most: `{a,b}{c,d}…` grows as a product. */
export const MAX_ALTERNATIVES = 256;
/** Longest glob read. */
export const MAX_GLOB_LENGTH = 1024;

type Tok =
  | { t: 'lit'; c: string }
  /** `?`: one character, not `/`. */
  | { t: 'one' }
  /** `*`: any run of characters without `/`. */
  | { t: 'star' }
  /** Any run of characters, `/` included (`**`). */
  | { t: 'any' }
  | { t: 'class'; neg: boolean; test: (c: string) => boolean }
  /** The next `len` tokens are optional (a whole-segment `**` may match no directory at all). */
  | { t: 'opt'; len: number };

class GlobError extends Error {}

const POSIX: Record<string, (c: string) => boolean> = {
  alpha: (c) => /\p{L}/u.test(c),
  digit: (c) => c >= '0' && c <= '9',
  alnum: (c) => /[\p{L}\p{N}]/u.test(c),
  upper: (c) => c !== c.toLowerCase(),
  lower: (c) => c !== c.toUpperCase(),
  space: (c) => /\s/.test(c),
  xdigit: (c) => /[0-9a-fA-F]/.test(c),
  word: (c) => /[\p{L}\p{N}_]/u.test(c),
};

/**
 * Compiles a glob with the features `privacy.onPremOnly` documents: `**` (any number of
 * directories; not a whole segment, it matches across `/` too), `*`, `?`, `{a,b}` (nested, and
 * `{1..3}` ranges), `[abc]`, `[a-z]`, `[!a]`/`[^a]`, `[[:alpha:]]`, `\` escapes, a leading `!`
 * (negation) and `./`. Dotfiles match like any other name. A glob ending in `/` means everything
 * under that directory. `nocase` compares case-insensitively (for case-insensitive file systems).
 */
export function compileGlob(glob: string, nocase = false): GlobMatcher {
  try {
    if (glob.length > MAX_GLOB_LENGTH) throw new GlobError(`longer than ${MAX_GLOB_LENGTH} characters`);
    let body = glob;
    let negate = false;
    while (body.startsWith('!') && !body.startsWith('!(')) {
      negate = !negate;
      body = body.slice(1);
    }
    while (body.startsWith('./')) body = body.slice(2);
    if (body.endsWith('/')) body += '**';
    if (/(^|[^\\])[@!+*?]\(/.test(body)) throw new GlobError('extended globs such as *(a|b) or @(a|b) are not supported; use {a,b}');
    const programs = expandBraces(body).map((alt) => tokenize(nocase ? alt.toLowerCase() : alt, nocase));
    return {
      glob,
      match(path: string, work?: MatchWork): boolean {
        const p = nocase ? path.toLowerCase() : path;
        let hit = false;
        for (const prog of programs) {
          if (run(prog, p, work)) {
            hit = true;
            break;
          }
        }
        return hit !== negate;
      },
    };
  } catch (err) {
    if (!(err instanceof GlobError)) throw err;
    return { glob, error: err.message, match: () => true };
  }
}

/**
 * Whether `tokens` match all of `s`: `m[i][j]` says tokens i.. match s[j..]. Rows are filled from
 * the last token back, each from the last character back, every cell once.
 */
function run(tokens: Tok[], s: string, work?: MatchWork): boolean {
  const T = tokens.length;
  const C = s.length;
  const rows: Uint8Array[] = new Array(T + 1);
  rows[T] = new Uint8Array(C + 1);
  rows[T]![C] = 1;
  let steps = C + 1;
  for (let i = T - 1; i >= 0; i--) {
    const row = new Uint8Array(C + 1);
    const next = rows[i + 1]!;
    const tok = tokens[i]!;
    for (let j = C; j >= 0; j--) {
      const c = j < C ? s[j]! : '';
      let v = 0;
      switch (tok.t) {
        case 'lit':
          v = j < C && c === tok.c ? next[j + 1]! : 0;
          break;
        case 'one':
          v = j < C && c !== '/' ? next[j + 1]! : 0;
          break;
        case 'class':
          v = j < C && c !== '/' && tok.test(c) !== tok.neg ? next[j + 1]! : 0;
          break;
        case 'star':
          v = next[j]! || (j < C && c !== '/' ? row[j + 1]! : 0);
          break;
        case 'any':
          v = next[j]! || (j < C ? row[j + 1]! : 0);
          break;
        case 'opt':
          v = next[j]! || rows[i + 1 + tok.len]![j]!;
          break;
      }
      row[j] = v;
      steps++;
    }
    rows[i] = row;
  }
  if (work) work.steps += steps;
  return rows[0]![0] === 1;
}

function tokenize(p: string, nocase: boolean): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < p.length) {
    const ch = p[i]!;
    if (ch === '*') {
      let k = i;
      while (p[k] === '*') k++;
      const whole = k - i >= 2 && (i === 0 || p[i - 1] === '/') && (k === p.length || p[k] === '/');
      if (whole) {
        if (k < p.length) {
          // `**/`: no directory, or any run that ends with `/`.
          out.push({ t: 'opt', len: 2 }, { t: 'any' }, { t: 'lit', c: '/' });
          i = k + 1;
        } else if (out.length === 0) {
          out.push({ t: 'any' });
          i = k;
        } else {
          // A trailing `/**`: the directory itself, or anything under it.
          out.pop();
          out.push({ t: 'opt', len: 2 }, { t: 'lit', c: '/' }, { t: 'any' });
          i = k;
        }
        continue;
      }
      // `**` inside a segment crosses directories: for a privacy rule, matching more is the safe side.
      out.push(k - i >= 2 ? { t: 'any' } : { t: 'star' });
      i = k;
    } else if (ch === '?') {
      out.push({ t: 'one' });
      i++;
    } else if (ch === '[') {
      const cls = readClass(p, i, nocase);
      if (cls) {
        out.push(cls.tok);
        i = cls.end;
      } else {
        out.push({ t: 'lit', c: '[' });
        i++;
      }
    } else if (ch === '\\' && i + 1 < p.length) {
      out.push({ t: 'lit', c: p[i + 1]! });
      i += 2;
    } else {
      out.push({ t: 'lit', c: ch });
      i++;
    }
  }
  return out;
}

/** `[...]` at `start`: its test and the index after `]`; undefined when it never closes (then `[` is literal). */
function readClass(p: string, start: number, nocase: boolean): { tok: Tok; end: number } | undefined {
  let i = start + 1;
  let neg = false;
  if (p[i] === '!' || p[i] === '^') {
    neg = true;
    i++;
  }
  const tests: ((c: string) => boolean)[] = [];
  let first = true;
  while (i < p.length) {
    let ch = p[i]!;
    if (ch === ']' && !first) {
      const test = (c: string) => tests.some((t) => t(c)) || (nocase && tests.some((t) => t(c.toUpperCase())));
      return { tok: { t: 'class', neg, test }, end: i + 1 };
    }
    first = false;
    if (ch === '[' && p[i + 1] === ':') {
      const close = p.indexOf(':]', i + 2);
      if (close < 0) return undefined;
      const name = p.slice(i + 2, close);
      const posix = POSIX[name];
      if (!posix) throw new GlobError(`unknown character class [:${name}:]`);
      tests.push(posix);
      i = close + 2;
      continue;
    }
    if (ch === '\\' && i + 1 < p.length) ch = p[++i]!;
    if (p[i + 1] === '-' && p[i + 2] !== undefined && p[i + 2] !== ']') {
      let hi = p[i + 2]!;
      let after = i + 3;
      if (hi === '\\' && p[i + 3] !== undefined) {
        hi = p[i + 3]!;
        after = i + 4;
      }
      const lo = ch;
      tests.push((c) => c >= lo && c <= hi);
      i = after;
      continue;
    }
    const lit = ch;
    tests.push((c) => c === lit);
    i++;
  }
  return undefined;
}

/** Every alternative of a glob's braces, in order; more than MAX_ALTERNATIVES is an error. */
export function expandBraces(glob: string): string[] {
  const out: string[] = [];
  const expand = (s: string, from: number): void => {
    const open = findBrace(s, from);
    if (!open) {
      if (out.length >= MAX_ALTERNATIVES) throw new GlobError(`its braces expand to more than ${MAX_ALTERNATIVES} alternatives`);
      out.push(s);
      return;
    }
    const prefix = s.slice(0, open.start);
    const suffix = s.slice(open.end + 1);
    const parts = open.parts.length > 1 ? open.parts : range(open.parts[0]!);
    if (!parts) return expand(s, open.start + 1); // `{x}`: literal braces
    for (const part of parts) expand(prefix + part + suffix, prefix.length);
  };
  expand(glob, 0);
  return out;
}

/** The first `{` at or after `from` with a matching `}`, split at its top-level commas. */
function findBrace(s: string, from: number): { start: number; end: number; parts: string[] } | undefined {
  for (let i = from; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '[') {
      // Braces inside a character class are characters.
      const close = s.indexOf(']', i + 2);
      if (close > 0) i = close;
      continue;
    }
    if (ch !== '{') continue;
    let depth = 0;
    const parts: string[] = [];
    let partStart = i + 1;
    for (let k = i; k < s.length; k++) {
      const c = s[k]!;
      if (c === '\\') {
        k++;
        continue;
      }
      if (c === '{') depth++;
      else if (c === '}') {
        depth--;
        if (depth === 0) {
          parts.push(s.slice(partStart, k));
          return { start: i, end: k, parts };
        }
      } else if (c === ',' && depth === 1) {
        parts.push(s.slice(partStart, k));
        partStart = k + 1;
      }
    }
  }
  return undefined;
}

/** `1..5`, `5..1`, `a..e`: the values; undefined for anything else. */
function range(body: string): string[] | undefined {
  const num = /^(-?\d+)\.\.(-?\d+)$/.exec(body);
  const chr = /^([a-zA-Z])\.\.([a-zA-Z])$/.exec(body);
  if (!num && !chr) return undefined;
  const [a, b] = num ? [Number(num[1]), Number(num[2])] : [chr![1]!.charCodeAt(0), chr![2]!.charCodeAt(0)];
  if (Math.abs(b - a) + 1 > MAX_ALTERNATIVES) throw new GlobError(`the range {${body}} has more than ${MAX_ALTERNATIVES} values`);
  const step = a <= b ? 1 : -1;
  const out: string[] = [];
  for (let v = a; v !== b + step; v += step) out.push(num ? String(v) : String.fromCharCode(v));
  return out;
}
