// Secret redaction: what is replaced by a placeholder before any text goes to a cloud backend.
//
// Every rule here is hand-written: the maintained JavaScript scanner (secretlint) needs Node 22
// where tandem supports 20.18, answers asynchronously, and has no rule for several kinds here (key
// slices without BEGIN/END, Stripe, Google OAuth, values by name or by entropy). Redaction runs on
// every cloud request, so each rule must stay linear in the text: every repeated part of a pattern
// is either bounded or starts only where the run it scans begins (a lookbehind), never both
// unbounded and free to start anywhere inside a run.

export interface Redaction {
  text: string;
  /** How many secrets were replaced. */
  count: number;
  /** Kinds found, for the audit log (never the secrets themselves). */
  kinds: string[];
}

/** Offsets [start, end) of one secret in a text. */
type Span = readonly [number, number];

export interface Rule {
  /** Unique, for tests and for reading this table. */
  name: string;
  /** What the placeholder says: `[REDACTED:kind]`. Several rules may share one. */
  kind: string;
  /** The secrets in `text`, in order and not overlapping. */
  find(text: string): Span[];
}

const MARKER = '[REDACTED:';
const placeholder = (kind: string) => `${MARKER}${kind}]`;

/**
 * A rule from a regex with the `g` and `d` flags. The named group `s` is the secret (the whole
 * match without one); `accept` can turn a candidate down.
 */
function regexRule(name: string, kind: string, re: RegExp, accept?: (secret: string) => boolean): Rule {
  return {
    name,
    kind,
    find(text) {
      const spans: Span[] = [];
      for (const m of text.matchAll(re)) {
        const span = m.indices?.groups?.s ?? m.indices![0]!;
        const secret = text.slice(span[0], span[1]);
        if (secret.length > 0 && !secret.includes(MARKER) && (!accept || accept(secret))) spans.push(span);
      }
      return spans;
    },
  };
}

/** `Basic` credentials and registry `auth` values are base64 of `user:password`: decode to check. */
function isBase64UserPass(b64: string): boolean {
  const text = Buffer.from(b64, 'base64').toString('latin1');
  return /^[\x21-\x7e]{1,256}:[\x20-\x7e]{1,256}$/.test(text);
}

/** A dotted path of identifiers (`process.env.TOKEN`, `cfg.auth.value`): code, not a secret. */
const IDENT_PATH = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;

const PEM_LABEL = String.raw`[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----`;
/**
 * One character of a key body: base64, line breaks (also as `\n` escapes), and what encrypted
 * keys' Proc-Type and DEK-Info headers hold. Dashes only alone, so a body stops at the next
 * `-----` marker and the scan from one BEGIN never runs past the next.
 */
const PEM_BODY = String.raw`(?:[A-Za-z0-9+/=\s:,]|-(?!----)|\\[nr])`;

// Token formats with a recognisable shape: replaced wherever they appear.
const TOKEN_RULES: Rule[] = [
  // A whole PEM private key, also inside JSON strings where the line breaks are written as \n.
  regexRule('private-key', 'private-key', new RegExp(String.raw`-----BEGIN ${PEM_LABEL}${PEM_BODY}*?-----END ${PEM_LABEL}`, 'gd')),
  // A slice that holds the BEGIN line but not the END line: the key runs on to where base64 stops.
  regexRule('private-key-begin', 'private-key', new RegExp(String.raw`-----BEGIN ${PEM_LABEL}${PEM_BODY}+`, 'gd')),
  // A slice that ends with the END line: the base64 before it (a run starts only where one begins).
  regexRule('private-key-end', 'private-key', new RegExp(String.raw`(?<![A-Za-z0-9+/=\s\\])(?:[A-Za-z0-9+/=\s]|\\[nr])+-----END ${PEM_LABEL}`, 'gd')),
  // A slice of a key with neither line: runs of 64- or 70-column base64 lines (see keyBodies).
  { name: 'private-key-body', kind: 'private-key', find: keyBodies },
  regexRule('aws-access-key', 'aws-access-key', /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/dg),
  // STS session tokens are long base64 that begins with one of a few fixed serialisation headers.
  regexRule('aws-session-token', 'aws-session-token', /(?<![A-Za-z0-9+/])(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz|AQoDYXdz)[A-Za-z0-9+/]{60,}={0,2}/dg),
  regexRule('gcp-api-key', 'gcp-api-key', /\bAIza[0-9A-Za-z_-]{35}\b/dg),
  regexRule('google-oauth-secret', 'google-oauth-secret', /\bGOCSPX-[A-Za-z0-9_-]{20,64}/dg),
  // Access tokens (ya29.) and refresh tokens (1//0...).
  regexRule('google-oauth-token', 'google-oauth-token', /\bya29\.[A-Za-z0-9_-]{20,}|(?<![\w/])1\/\/0[A-Za-z0-9_-]{40,}/dg),
  regexRule('azure-storage-key', 'azure-storage-key', /AccountKey=(?<s>[A-Za-z0-9+/]{86}==)/dg),
  // Shared access signatures: the `sig` parameter of a SAS URL or SharedAccessSignature string.
  regexRule('azure-sas', 'azure-sas', /[?&;]sig=(?<s>[A-Za-z0-9%+/=_-]{16,256})/dg),
  regexRule('github-token', 'github-token', /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/dg),
  regexRule('gitlab-token', 'gitlab-token', /\bgl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt)-[A-Za-z0-9_-]{20,255}\b/dg),
  // Bot, user, refresh (xoxe.xoxp-) and app-level (xapp-) tokens.
  regexRule('slack-token', 'slack-token', /\b(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})\b/dg),
  regexRule('slack-webhook', 'slack-webhook', /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{20,}/dg),
  // Starts only where a run of base64url starts: from `\b`, `eyJ-eyJ-…` would rescan the run from each `eyJ`.
  regexRule('jwt', 'jwt', /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}/dg),
  // OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), Stripe secret and restricted keys, live and test, Hugging Face.
  regexRule('api-key', 'api-key', /\b(?:sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{30,})\b/dg),
  // Stripe and Svix webhook signing secrets.
  regexRule('webhook-secret', 'webhook-secret', /\bwhsec_[A-Za-z0-9+/=_-]{20,}/dg),
  regexRule('npm-token', 'npm-token', /\bnpm_[A-Za-z0-9]{36}\b/dg),
  regexRule('sendgrid-key', 'sendgrid-key', /\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}\b/dg),
  // Credentials inside URLs: the password between `user:` and `@` after the scheme's `//`, the
  // user possibly empty (redis). The password runs to the last `@` of the URL, so it may hold `@`
  // and `/`; digits then `/` after the host's colon are a port (vite's `/@fs/` paths), not one.
  regexRule('url-credentials', 'url-credentials', /(?<![A-Za-z0-9+.-])[a-z][a-z0-9+.-]{0,30}:\/\/[^\s:/@'"`<>]{0,128}:(?<s>(?!\d{1,5}[/?#])[^\s'"`<>]{1,256})@(?=[\w[])/dgi),
  // Connection strings in key=value form (ADO.NET, JDBC properties, Azure Service Bus).
  // No spaces around `=` and a `;` or quote boundary: `password = f()` in code is not one.
  regexRule('connection-password', 'connection-password', /(?:^|[;'"`])[ \t]*(?:password|pwd|SharedAccessKey|AccountKey)=(?<s>[^;'"`\s]+)/dgim),
  // `Authorization: Bearer …` anywhere a bearer token is written; prose (`Bearer tokens`) has no digit.
  regexRule('authorization-bearer', 'authorization', /\b[Bb]earer[ \t]+(?<s>(?=[A-Za-z._~+/-]{0,256}\d)[A-Za-z0-9._~+/-]{12,}=*)/dg),
  // `Basic …`: only when it decodes to user:password (`Basic authentication` does not).
  regexRule('authorization-basic', 'authorization', /\bBasic[ \t]+(?<s>[A-Za-z0-9+/]{6,}={0,2})/dg, isBase64UserPass),
  // An Authorization header or key with any other scheme, or none.
  regexRule(
    'authorization-header',
    'authorization',
    /\bAuthorization["']?[ \t]*[:=,][ \t]*["'`]?(?:[A-Za-z]{2,20}[ \t]+)?(?<s>(?=[A-Za-z._~+/-]{0,256}\d)[A-Za-z0-9._~+/-]{8,}=*)/dgi,
    (s) => !IDENT_PATH.test(s),
  ),
  // Docker's ~/.docker/config.json `"auth"` and .npmrc's `_auth`: base64 of user:password.
  regexRule('registry-auth', 'registry-auth', /(?:"auth"[ \t]*:[ \t]*"|(?<![\w.-])_auth[ \t]*=[ \t]*"?)(?<s>[A-Za-z0-9+/]{4,}={0,2})/dg, isBase64UserPass),
];

/** What surrounds a line of a key body in code: indentation, quotes, separators. */
const EDGE = ' \t\r"\'`,;()';
const SPACE_OR_QUOTE = ' \t"\'`';

/**
 * PEM and OpenSSH key bodies without their BEGIN/END lines, as a slice of a file shows them.
 * Lines are split at line breaks and at `\n` escapes (keys inside JSON strings); a line's core is
 * what is left without indentation, quotes and string concatenation (`"…" +`). A body is two or
 * more full lines of base64 (64 columns for PEM, PuTTY and PGP armour, 70 for OpenSSH) with upper
 * and lower case and digits — hashes in hex never qualify — or one such line that opens a DER
 * structure (`MII`) or an OpenSSH key. The line before and after, when base64 too, are the
 * partial first line and the short last line. Lines that follow a visible BEGIN of something other
 * than a private key (a certificate, a public key) are left alone.
 */
function keyBodies(text: string): Span[] {
  interface Line {
    start: number;
    end: number;
    full: boolean;
    base64: boolean;
    empty: boolean;
    opensKey: boolean;
    publicArmour: boolean;
  }
  const lines: Line[] = [];
  const addLine = (from: number, to: number) => {
    let s = from;
    let e = to;
    // `+` is base64 too: only one with a space or quote beside it is concatenation.
    while (e > s && (EDGE.includes(text[e - 1]!) || (text[e - 1] === '+' && e - 2 >= s && SPACE_OR_QUOTE.includes(text[e - 2]!)))) e--;
    while (s < e && (EDGE.includes(text[s]!) || (text[s] === '+' && s + 1 < e && SPACE_OR_QUOTE.includes(text[s + 1]!)))) s++;
    const core = text.slice(s, e);
    const full = (e - s === 64 || e - s === 70) && /^[A-Za-z0-9+/]+$/.test(core) && /[A-Z]/.test(core) && /[a-z]/.test(core) && /\d/.test(core);
    lines.push({
      start: s,
      end: e,
      full,
      base64: /^[A-Za-z0-9+/]{1,76}={0,2}$/.test(core),
      empty: s === e,
      opensKey: full && (core.startsWith('MII') || core.startsWith('b3BlbnNzaC1rZXktdjE')),
      publicArmour: core.includes('-----BEGIN ') && !core.includes('PRIVATE KEY'),
    });
  };
  let from = 0;
  for (const m of text.matchAll(/\r?\n|\\r\\n|\\n/g)) {
    addLine(from, m.index);
    from = m.index + m[0].length;
  }
  addLine(from, text.length);

  const spans: Span[] = [];
  let i = 0;
  let before: Line | undefined; // the last non-empty line before i
  while (i < lines.length) {
    const line = lines[i]!;
    if (!line.full) {
      if (!line.empty) before = line;
      i++;
      continue;
    }
    // A run of full lines, empty lines allowed between them.
    const run: Line[] = [];
    let j = i;
    for (; j < lines.length && (lines[j]!.full || lines[j]!.empty); j++) if (lines[j]!.full) run.push(lines[j]!);
    const after = lines[j];
    const confirmed = run.length >= 2 || run[0]!.opensKey;
    if (confirmed && !before?.publicArmour) {
      // The line before may already close the previous body.
      const first = before?.base64 && before.start >= (spans.at(-1)?.[1] ?? 0) ? before : run[0]!;
      const last = after?.base64 ? after : run[run.length - 1]!;
      spans.push([first.start, last.end]);
    }
    before = run[run.length - 1];
    i = j;
  }
  return spans;
}

// ---------------------------------------------------------------------------------------------
// Assignments: `name = value`, `name: value`, `"name": "value"`, `NAME=value`, `--name=value`.
// One scan finds each name and its value; the first sub-rule that takes it redacts the value.

interface Assignment {
  name: string;
  value: string;
  quoted: boolean;
  /** `=` with nothing around it: shell, .env, Dockerfile ENV, a command line flag, a query string. */
  compact: boolean;
  /** The value is all that is left of its line (YAML, INI, properties), not part of an expression. */
  wholeLine: boolean;
  /** What ends a bare value: `(` or `[` make it a call or an index, code rather than a literal. */
  next: string;
  /** The character before the name, skipping spaces and a quote. */
  before: string;
  /** The line starts with `type ` (a TypeScript type alias: `type Creds = "a" | "b"`). */
  typeAlias: boolean;
}

interface AssignmentRule {
  name: string;
  kind: string;
  takes(a: Assignment): boolean;
}

/** Names that say their value is a secret, whatever it looks like. */
const STRONG_NAME = /password|passwd|passphrase|secret|api[_-]?key|access[_-]?key|access[_-]?token|auth[_-]?token|bearer[_-]?token|private[_-]?key/i;
/**
 * `DB_PASS`, `dbPass`, `$pass`, `smtp.pw`: a final word short for password. Not `pass` or `pwd`
 * alone: a test's outcome (`const pass = …`) and the working directory.
 */
const passWord = (name: string) => /[^A-Za-z](?:pass|pwd|pw)$/i.test(name) || /[a-z](?:Pass|Pwd|Pw)$/.test(name);
/** The last word of a name, lower case: `apiKeyHeader` → `header`, `DB_PASSWORD_FILE` → `file`. */
const lastWord = (name: string) => /[a-z0-9]+$/.exec(name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase())?.[0] ?? '';
/** Names about a secret rather than holding one: `apiKeyHeader`, `PASSWORD_FILE`, `secretName`, `API_KEY_ENV`. */
const ABOUT_SECRET = new Set(['name', 'names', 'env', 'var', 'variable', 'header', 'field', 'label', 'placeholder', 'path', 'file', 'dir', 'url', 'uri', 'type', 'kind', 'prompt', 'message', 'length', 'policy', 'hint', 'pattern', 'format', 'mode', 'ref', 'arn', 'id']);
const secretName = (name: string) => (STRONG_NAME.test(name) || passWord(name)) && !ABOUT_SECRET.has(lastWord(name));
/** Names whose values are secrets when they look like one: `token`, `GITHUB_TOKEN`, `basicAuth`, `credentials`. */
const WEAK_NAME = /(?:token|auth|credentials?)$/i;
/** Names of public digests and identifiers (`sha256`, `commitHash`, `"integrity"`, `id`): the high-entropy rule leaves their values alone. */
const DIGEST_WORDS = new Set(['hash', 'hashes', 'sha', 'sha1', 'sha256', 'sha384', 'sha512', 'md5', 'checksum', 'shasum', 'digest', 'integrity', 'rev', 'revision', 'commit', 'head', 'etag', 'ref', 'reference', 'resolved', 'uuid', 'guid', 'id', 'ids', 'fingerprint', 'nonce', 'version', 'crc32', 'sum']);

/** A number literal in any language's spelling: `12`, `-1.5e3`, `0x0B96`, `1_000n`. */
const NUMBER = /^[-+]?(?:0[xob][\da-f_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:e[-+]?\d+)?)[nlfu]?$/i;

/**
 * Bare values that are literals rather than code: not a number, a $reference, a call or an index,
 * nor a (negated) variable or path (`!this.result.issues`, `process.env.X`). A plain identifier
 * with a digit counts only as a whole line: `password: hunter2`, not `{ password: user1, … }`.
 */
function bareLiteral(a: Assignment): boolean {
  const v = a.value;
  if (v.startsWith('$') || a.next === '(' || a.next === '[' || NUMBER.test(v)) return false;
  if (!/^[!~-]*[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/.test(v)) return true;
  return /^[A-Za-z_]\w*$/.test(v) && /\d/.test(v) && a.wholeLine;
}

/** Values shaped like a token: no spaces, letters and digits, not code, not a template placeholder. */
function tokenLike(v: string): boolean {
  return v.length >= 8 && /^[\x21-\x7e]+$/.test(v) && /\d/.test(v) && /[A-Za-z]/.test(v) && !IDENT_PATH.test(v) && !/[${}<>()]/.test(v) && !v.includes('://');
}

function shannon(v: string): number {
  const counts = new Map<string, number>();
  for (const c of v) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / v.length) * Math.log2(n / v.length);
  return h;
}

/** The share of neighbouring characters that change class (upper, lower, digit, other). */
function classChanges(v: string): number {
  const cls = (c: string) => (c >= 'A' && c <= 'Z' ? 1 : c >= 'a' && c <= 'z' ? 2 : c >= '0' && c <= '9' ? 3 : 4);
  let changes = 0;
  for (let i = 1; i < v.length; i++) if (cls(v[i]!) !== cls(v[i - 1]!)) changes++;
  return changes / (v.length - 1);
}

/**
 * Random hex (32+ characters, one case, entropy ≥ 3 bits per character) or base64 (20+
 * characters with upper and lower case and digits). For base64 the entropy must reach what 95% of
 * random strings of that length reach (at most 4.2), and the class of character must change
 * between at least 40% of neighbours: random base64 changes about 64% of the time (under 2% of
 * random strings fall below 40%), camelCase names with digits (`X25519KeyPairOptions`) change
 * only at word boundaries, near 30%. A bare value counts only where it cannot be code: a whole
 * `key: value` line or a compact `KEY=value`, not a type annotation.
 *
 * Digests are not secrets and are left alone: values named like one (DIGEST_WORDS: hash,
 * checksum, integrity, commit, rev, id…), values with an algorithm prefix (`sha512-…`,
 * `sha256:…`, the form lockfiles write), and UUIDs. Any other hex of 32+ characters in an
 * assignment (an unnamed git commit, say) is redacted: the model loses nothing it needs.
 */
const MIN_RANDOM = 20;

function highEntropy(a: Assignment): boolean {
  const v = a.value;
  if (DIGEST_WORDS.has(lastWord(a.name)) || /^(?:sha\d*|md5)[-:]/i.test(v) || /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(v)) return false;
  if (!a.quoted && !a.compact && !a.wholeLine) return false;
  if (/^(?:[0-9a-f]{32,}|[0-9A-F]{32,})$/.test(v)) return /[a-f]/i.test(v) && /\d/.test(v) && shannon(v) >= 3;
  if (v.length < MIN_RANDOM || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(v) || !/[A-Z]/.test(v) || !/[a-z]/.test(v) || !/\d/.test(v)) return false;
  return shannon(v) >= Math.min(4.2, Math.log2(v.length) - 0.55) && classChanges(v) >= 0.4;
}

const ASSIGNMENT_RULES: AssignmentRule[] = [
  // Quoted values of secret names: `password = "…"`, `"apiKey": "…"`, `client_secret: '…'`.
  // Not `cond ? 'api-key' : 'other'` (a ternary) and not `type Secret = "a" | "b"`.
  { name: 'assignment-quoted', kind: 'assignment', takes: (a) => a.quoted && a.value.length >= 3 && secretName(a.name) && a.before !== '?' && !a.typeAlias },
  // Unquoted values of secret names when they are literals (a symbol or a digit in them), not type names or variables.
  { name: 'assignment-bare', kind: 'assignment', takes: (a) => !a.quoted && a.value.length >= 4 && secretName(a.name) && bareLiteral(a) },
  // `=` with nothing around it in shell, .env and Dockerfile lines (DB_PASS, export GITHUB_TOKEN),
  // flags (--password), query strings (?token) and properties files (a whole line): any value
  // but a $reference. Not a keyword argument in code: `connect(password=pw)`.
  {
    name: 'assignment-compact',
    kind: 'assignment',
    takes: (a) =>
      a.compact && a.value.length >= 1 && !a.value.startsWith('$') && (secretName(a.name) || WEAK_NAME.test(a.name)) && (/^[A-Z][A-Z0-9_]*$/.test(a.name) || /^[-?&]$/.test(a.before) || a.wholeLine),
  },
  // `token: "…"`, `authToken = '…'`, `"credentials": "…"` when the value looks like a token.
  { name: 'assignment-token', kind: 'assignment', takes: (a) => WEAK_NAME.test(a.name) && tokenLike(a.value) && a.before !== '?' && !a.typeAlias },
  // Random-looking hex or base64 assigned to any name.
  { name: 'high-entropy', kind: 'high-entropy', takes: highEntropy },
];

/**
 * The head of an assignment: a name (possibly quoted) and its operator. The name starts where a
 * run of name characters starts, so each run is tried once; the value is read by readValue.
 */
const ASSIGNMENT_HEAD = /(?<![\w$.])(["'`]?)([A-Za-z_$][\w$.-]{0,80})\1([ \t]*)(:=|=>|=(?![=~>])|:(?![:=]))([ \t]*)/g;

/** Values longer than this are not taken by assignment rules (a kubeconfig's base64 key is about 2300). */
const MAX_VALUE = 4096;
/** …nor, when the head sits inside the bare value of an earlier one (`a:b:c:…`), longer than this. */
const MAX_INNER = 512;
const BARE_END = ' \t\r\n,;\'"`()[]{}<>';

/**
 * Reads values for one scan: a quoted string (escapes honoured; one cut by the end of the text or
 * line counts) or a bare word. A quoted value ends at the next quote of its kind, so scans never
 * overlap. Heads found inside a bare word share its end, remembered here, so that a line of
 * `a:a:a:…` is read once, not once per head, and each of them takes a value of MAX_INNER at most.
 */
function valueReader(text: string) {
  let bareFrom = -1;
  let bareEnd = -1;
  return (at: number): { start: number; end: number; quoted: boolean } | undefined => {
    const q = text[at];
    if (q === '"' || q === "'" || q === '`') {
      let i = at + 1;
      const limit = Math.min(text.length, at + 1 + MAX_VALUE + 1);
      for (; i < limit; i++) {
        const c = text[i];
        if (c === '\\') i++;
        else if (c === q || c === '\n') break;
      }
      return i - at - 1 > MAX_VALUE ? undefined : { start: at + 1, end: Math.min(i, text.length), quoted: true };
    }
    let max = MAX_INNER;
    if (!(at > bareFrom && at < bareEnd)) {
      bareFrom = at;
      bareEnd = at;
      while (bareEnd < text.length && !BARE_END.includes(text[bareEnd]!)) bareEnd++;
      max = MAX_VALUE;
    }
    return bareEnd > at && bareEnd - at <= max ? { start: at, end: bareEnd, quoted: false } : undefined;
  };
}

/** How far scanAssignments looks along the line around an assignment (a longer line is not "whole"). */
const CONTEXT = 256;

/** The values that `rules` take, each with the kind of the first rule that takes it. */
function scanAssignments(text: string, rules: AssignmentRule[]): { span: Span; kind: string }[] {
  const found: { span: Span; kind: string }[] = [];
  let lastEnd = 0;
  const readValue = valueReader(text);
  for (const m of text.matchAll(ASSIGNMENT_HEAD)) {
    const valueAt = m.index + m[0].length;
    if (valueAt < lastEnd) continue;
    const v = readValue(valueAt);
    if (!v) continue;
    // Most heads in code are neither named like a secret nor long enough to be a random one.
    if (v.end - v.start < MIN_RANDOM && !secretName(m[2]!) && !WEAK_NAME.test(m[2]!)) continue;
    const value = text.slice(v.start, v.end);
    if (value.includes(MARKER)) continue;
    // The rest of the line on either side, looked at (no further than CONTEXT characters) only
    // by the rules that need it, once.
    let headText: string | undefined;
    const head = () => {
      if (headText === undefined) {
        let from = m.index;
        while (from > 0 && m.index - from < CONTEXT && text[from - 1] !== '\n') from--;
        headText = text.slice(from, m.index);
      }
      return headText;
    };
    const rest = () => {
      let to = v.end;
      while (to < text.length && to - v.end < CONTEXT && text[to] !== '\n') to++;
      return text.slice(v.end + (v.quoted ? 1 : 0), to);
    };
    const a: Assignment = {
      name: m[2]!,
      value,
      quoted: v.quoted,
      compact: m[4] === '=' && !m[3] && !m[5],
      next: text[v.end] ?? '',
      get wholeLine() {
        return /^[ \t]*(?:export[ \t]+|-[ \t]+)?["']?$/.test(head()) && /^[ \t]*(?:#.*|\/\/.*)?\r?$/.test(rest());
      },
      get before() {
        return head().replace(/["'`]?[ \t]*$/, '').slice(-1);
      },
      get typeAlias() {
        return /^[ \t]*(?:export[ \t]+)?(?:declare[ \t]+)?type[ \t]/.test(head());
      },
    };
    const rule = rules.find((r) => r.takes(a));
    if (rule) {
      found.push({ span: [v.start, v.end], kind: rule.kind });
      lastEnd = v.end;
    }
  }
  return found;
}

const assignmentRule = (r: AssignmentRule): Rule => ({ name: r.name, kind: r.kind, find: (text) => scanAssignments(text, [r]).map((f) => f.span) });

/** Any KEY=value line of a .env file. */
const ENV_LINE = /^[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.]*[ \t]*=[ \t]*(?<s>.+)$/dgm;
const envRule = regexRule('env-value', 'env-value', ENV_LINE, (v) => v.trim() !== '' && !v.trim().startsWith('#'));

/** Every rule, for tests: the token rules, then the assignment sub-rules, then .env values. */
export const RULES: readonly Rule[] = [...TOKEN_RULES, ...ASSIGNMENT_RULES.map(assignmentRule), envRule];

/** True for dotenv files (`.env`, `.env.local`, `prod.env`), whose every value is a secret. */
export function isEnvFile(path: string | undefined): boolean {
  if (!path) return false;
  const base = path.split(/[\\/]/).pop() ?? '';
  return /^\.env(\..+)?$/.test(base) || /\.env$/.test(base);
}

/**
 * Replaces secrets in `text` with `[REDACTED:kind]`. `path` (workspace-relative) marks .env
 * files. Placeholders keep the code's shape so the model still sees that a value is there.
 */
export function redact(text: string, path?: string): Redaction {
  let count = 0;
  const kinds = new Set<string>();
  const apply = (input: string, found: { span: Span; kind: string }[]): string => {
    if (found.length === 0) return input;
    let out = '';
    let last = 0;
    for (const { span, kind } of found) {
      out += input.slice(last, span[0]) + placeholder(kind);
      last = span[1];
      count++;
      kinds.add(kind);
    }
    return out + input.slice(last);
  };
  const withKind = (rule: Rule, input: string) => rule.find(input).map((span) => ({ span, kind: rule.kind }));
  let out = text;
  for (const rule of TOKEN_RULES) out = apply(out, withKind(rule, out));
  if (isEnvFile(path)) out = apply(out, withKind(envRule, out));
  // All assignment sub-rules in one scan: the first that takes a value names its kind.
  out = apply(out, scanAssignments(out, ASSIGNMENT_RULES));
  return { text: out, count, kinds: [...kinds].sort() };
}
