// Secret redaction: every rule finds its planted secret and leaves its near miss alone, and
// ordinary code (this repository's own server) comes through unchanged.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEnvFile, redact, RULES } from '../../server/src/privacy/redact.js';
import { SECRETS } from '../plantedSecrets.js';

const rule = (name: string) => {
  const r = RULES.find((x) => x.name === name);
  if (!r) throw new Error(`no redaction rule named ${name}`);
  return r;
};

const sha256Lines = ['9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', '60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752', 'fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13'];
const certBody = ['MIIBszCCAVmgAwIBAgIUE7Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi5Rt3Ey7QwLm', 'CgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTI0MDEwMTAwMDAw'];

/** For each rule, text that comes near it but holds no secret: redaction must leave it as it is. */
const NEAR_MISSES: Record<string, string[]> = {
  'private-key': ["const BEGIN = '-----BEGIN PRIVATE KEY-----', END = '-----END PRIVATE KEY-----';"],
  'private-key-begin': ["if (text.startsWith('-----BEGIN RSA PRIVATE KEY-----')) return 'rsa';"],
  'private-key-end': ["const footer = '-----END RSA PRIVATE KEY-----';"],
  'private-key-body': [sha256Lines.join('\n'), ['-----BEGIN CERTIFICATE-----', ...certBody].join('\n')],
  'aws-access-key': ["const prefix = 'AKIA'; // access key ids start with AKIA"],
  'aws-session-token': ["if (token.startsWith('IQoJb3JpZ2luX2Vj')) {"],
  'gcp-api-key': ["if (key.startsWith('AIzaSy')) {"],
  'google-oauth-secret': ["if (secret.startsWith('GOCSPX-')) {"],
  'google-oauth-token': ["if (t.startsWith('ya29.')) {", 'x = 1//0'],
  'azure-storage-key': ['// the AccountKey= part of the connection string'],
  'azure-sas': ["fetch('https://example.com/search?q=sig&sig=abc')"],
  'github-token': ["const prefix = 'ghp_';"],
  'gitlab-token': ["const prefix = 'glpat-';"],
  'slack-token': ["const kinds = ['xoxb-', 'xapp-1-'];"],
  'slack-webhook': ["const base = 'https://hooks.slack.com/services/';"],
  jwt: ["if (t.startsWith('eyJ')) {"],
  'api-key': ["loadStripe('pk_test_51HxQ2bLm9ZrT7vNc1bYd4sHf8');", 'const skipped = "sk-short";'],
  'webhook-secret': ["if (s.startsWith('whsec_')) {"],
  'npm-token': ['npm_config_registry=https://registry.npmjs.org/'],
  'sendgrid-key': ['const client = new SG.Client(options.apiKeyRef);'],
  'url-credentials': ['open http://localhost:3000/@fs/src/main.ts', "const url = 'https://user@example.com/path';", 'const url = "https://example.com/path?q=1";'],
  'connection-password': ['const password = getPassword();', 'if (user.password === input) return true;'],
  'authorization-bearer': ['// Bearer tokens go in the Authorization header', 'headers.Authorization = `Bearer ${token}`;'],
  'authorization-basic': ['// Basic authentication is disabled'],
  'authorization-header': ['authorization: process.env.API_AUTH_2,', "req.header('Authorization', `Bearer ${await getToken()}`)"],
  'registry-auth': ['{"auth": "required"}'],
  'assignment-quoted': [
    "const keyHeader = isAzureUrl(cfg.url) ? 'api-key' : 'authorization';",
    'type RequestCredentials = "include" | "omit";',
    "fetch(url, { credentials: 'include' })",
    "const API_KEY_PLACEHOLDER = 'workload-identity-auth';",
    "passwordField: 'password',",
    "{ pass: 'passed', fail: 'failed' }",
    "PWD: '/Users/me',",
  ],
  'assignment-bare': ['password: string;', 'credentialId: Base64URLString;', 'passwordMinLength: 12', 'readonly STENCIL_PASS_DEPTH_PASS: 0x0B96;', '  password: user1,', 'const apiKey = process.env.OPENAI_API_KEY;', 'let secret = await vault.read(path);', 'const pass = !this.result.issues || this.result.issues.length === 0;'],
  'assignment-compact': ['DB_PASS=$DB_PASS_FROM_VAULT mysqld', 'connect(password=password)'],
  'assignment-token': ["{ token: 'keyword.control' }", 'const token = tokens[0];', 'let cancellationToken = source.token;', 'export const tokenizer = new Tokenizer();', 'function resetPassword(token: string) {'],
  'high-entropy': [
    '"integrity": "sha512-Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi5Rt3Ey7QwLm3Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi5Rt3Ey7Qw==",',
    'checksum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
    '"rev": "60303ae22b998861bce3b28f33eec1be758a213c",',
    '"gitHead": "2bd066d87f5bafd315be9f40889d0a60b9e58e0b",',
    "const name = 'X25519KeyPairOptions';",
    'options: ED25519KeyPairOptions<"pem", "pem">,',
    "id: '550e8400-e29b-41d4-a716-446655440000',",
  ],
};

/** Every file under `dir` whose name ends with `ext`. */
function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : []));
}

describe('redact', () => {
  it('every rule has a planted secret (in the wire-level matrix too) and a near miss', () => {
    const planted = new Set(SECRETS.map(([name]) => name));
    const withoutCase = RULES.map((r) => r.name).filter((n) => n !== 'env-value' && (!planted.has(n) || !NEAR_MISSES[n]?.length));
    expect(withoutCase).toEqual([]);
    expect(Object.keys(NEAR_MISSES).filter((n) => !RULES.some((r) => r.name === n))).toEqual([]);
  });

  it('planted secrets are written the same inside a JSON body, so the wire check can see them', () => {
    for (const [, , secret] of SECRETS) expect(JSON.stringify(secret)).toBe(`"${secret}"`);
  });

  it.each(SECRETS)('%s: %s', (name, input, secret) => {
    const r = redact(input);
    expect(r.text).not.toContain(secret);
    expect(r.kinds).toContain(rule(name).kind);
    expect(r.count).toBeGreaterThanOrEqual(1);
    // The rule named finds it on its own, not only some rule that happens to run first.
    const at = input.indexOf(secret);
    expect(rule(name).find(input).some(([s, e]) => s <= at && at + secret.length <= e)).toBe(true);
  });

  it.each(Object.entries(NEAR_MISSES).flatMap(([name, texts]) => texts.map((t) => [name, t])))('%s leaves alone: %s', (_name, text) => {
    const r = redact(text);
    expect(r.text).toBe(text);
    expect(r.count).toBe(0);
  });

  it('replaces every value of a .env file', () => {
    const env = 'API_URL=https://api.internal\n# comment\nexport TOKEN=abc\nEMPTY=\nNAME="payments"\n';
    const r = redact(env, 'config/.env.production');
    expect(r.text).toBe('API_URL=[REDACTED:env-value]\n# comment\nexport TOKEN=[REDACTED:env-value]\nEMPTY=\nNAME=[REDACTED:env-value]\n');
    expect(r.count).toBe(3);
    expect(redact(env, 'config/env.ts').text).toBe(env.replace('TOKEN=abc', 'TOKEN=[REDACTED:assignment]'));
    expect(isEnvFile('a/.env')).toBe(true);
    expect(isEnvFile('a/prod.env')).toBe(true);
    expect(isEnvFile('a/env.ts')).toBe(false);
  });

  it('keeps the text around a secret intact', () => {
    const r = redact(`const conn = "postgres://u:pw1234@h/db"; // keep me`);
    expect(r.text).toBe('const conn = "postgres://u:[REDACTED:url-credentials]@h/db"; // keep me');
  });

  it('a key body in string concatenation becomes one placeholder, and the code around it stays code', () => {
    const lines = SECRETS.find(([n]) => n === 'private-key-body')![1].split('\n');
    const code = `const key =\n${lines.map((l) => `  "${l}\\n" +`).join('\n')}\n  "";\nsign(key);`;
    expect(redact(code).text).toBe('const key =\n  "[REDACTED:private-key]\\n" +\n  "";\nsign(key);');
  });

  it('two key bodies with one short line between them are two placeholders', () => {
    const body = SECRETS.find(([n]) => n === 'private-key-body')![1].split('\n');
    const r = redact([body[0], body[1], 'QUJD', body[2], body[3]].join('\n'));
    expect(r.text).toBe('[REDACTED:private-key]\n[REDACTED:private-key]');
    expect(r.count).toBe(2);
  });

  it("this repository's own server source comes through unchanged", () => {
    const root = join(import.meta.dirname, '../../server/src');
    const files = filesUnder(root, '.ts');
    expect(files.length).toBeGreaterThan(50);
    const changed: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const after = redact(text, relative(root, file)).text.split('\n');
      text.split('\n').forEach((line, i) => {
        if (after[i] !== line) changed.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(changed).toEqual([]);
  });
});
