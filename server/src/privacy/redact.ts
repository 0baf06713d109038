// Secret redaction: what is replaced by a placeholder before any text goes to a cloud backend.

export interface Redaction {
  text: string;
  /** How many secrets were replaced. */
  count: number;
  /** Kinds found, for the audit log (never the secrets themselves). */
  kinds: string[];
}

interface Rule {
  kind: string;
  re: RegExp;
  /** Index of the capture group holding the secret; 0 = the whole match. */
  group: number;
}

const placeholder = (kind: string) => `[REDACTED:${kind}]`;

// Token formats with a recognisable shape: replaced wherever they appear.
const TOKEN_RULES: Rule[] = [
  // PEM private keys, also inside JSON strings where the line breaks are written as \n.
  { kind: 'private-key', re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g, group: 0 },
  { kind: 'aws-access-key', re: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g, group: 0 },
  { kind: 'gcp-api-key', re: /\bAIza[0-9A-Za-z_-]{35}\b/g, group: 0 },
  { kind: 'azure-storage-key', re: /(AccountKey=)([A-Za-z0-9+/]{86}==)/g, group: 2 },
  { kind: 'github-token', re: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g, group: 0 },
  { kind: 'gitlab-token', re: /\bgl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt)-[A-Za-z0-9_-]{20,}\b/g, group: 0 },
  { kind: 'slack-token', re: /\bxox[abposre]-[A-Za-z0-9-]{10,}\b/g, group: 0 },
  { kind: 'slack-webhook', re: /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{20,}/g, group: 0 },
  { kind: 'jwt', re: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}/g, group: 0 },
  // OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), Stripe live keys, Hugging Face.
  { kind: 'api-key', re: /\b(?:sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}|[sr]k_live_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{30,})\b/g, group: 0 },
  // Credentials inside URLs and connection strings: scheme://user:password@host.
  { kind: 'url-credentials', re: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"`]+:)([^\s@/'"`]+)(@)/gi, group: 2 },
  // Connection strings in key=value form (ADO.NET, JDBC properties, Azure).
  // No spaces around `=` and a `;` or quote boundary: `password = f()` in code is not one.
  { kind: 'connection-password', re: /((?:^|[;'"`])\s*(?:password|pwd)=)([^;'"`\s]+)/gim, group: 2 },
];

// `password = "..."`, `"apiKey": "..."`, `DB_SECRET=...`: the value of a key whose name says secret.
const SECRET_NAME = String.raw`[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|api[_-]?key|apikey|access[_-]?key|access[_-]?token|auth[_-]?token|bearer[_-]?token|client[_-]?secret|private[_-]?key|credentials?)[A-Za-z0-9_.-]*`;
const QUOTED_ASSIGNMENT = new RegExp(String.raw`(${SECRET_NAME}["']?\s*(?::=|=>|[:=])\s*)(["'\`])([^"'\`\n]{3,})\2`, 'gi');
// Unquoted values only when they look like a literal, not code: `password = getPassword()` stays.
const BARE_ASSIGNMENT = new RegExp(String.raw`(${SECRET_NAME}\s*(?::=|=|:)\s*)((?=[^\s,;'"\`()]*[0-9!@#$%^&*+/=~-])[^\s,;'"\`()]{6,})`, 'gi');
// Any KEY=value line of a .env file.
const ENV_LINE = /^([ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.]*[ \t]*=[ \t]*)(.+)$/gm;

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
  const hit = (kind: string) => {
    count++;
    kinds.add(kind);
    return placeholder(kind);
  };
  let out = text;
  for (const rule of TOKEN_RULES) {
    out = out.replace(rule.re, (...m: string[]) => {
      if (rule.group === 0) return hit(rule.kind);
      // Rebuild the match with only the secret group replaced.
      const groups = m.slice(1, -2);
      return groups.map((g, i) => (i + 1 === rule.group ? hit(rule.kind) : (g ?? ''))).join('');
    });
  }
  out = out.replace(QUOTED_ASSIGNMENT, (_m, head: string, q: string, value: string) => (value.startsWith('[REDACTED:') ? _m : `${head}${q}${hit('assignment')}${q}`));
  out = out.replace(BARE_ASSIGNMENT, (_m, head: string, value: string) => (value.startsWith('[REDACTED:') ? _m : `${head}${hit('assignment')}`));
  if (isEnvFile(path)) {
    out = out.replace(ENV_LINE, (m, head: string, value: string) => (value.trim() === '' || value.includes('[REDACTED:') || value.trim().startsWith('#') ? m : `${head}${hit('env-value')}`));
  }
  return { text: out, count, kinds: [...kinds].sort() };
}
