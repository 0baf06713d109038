// Secret redaction: every listed kind is replaced, ordinary code is left alone.
import { describe, expect, it } from 'vitest';
import { isEnvFile, redact } from '../../server/src/privacy/redact.js';
import { SECRETS } from '../plantedSecrets.js';


describe('redact', () => {
  it.each(SECRETS)('%s: %s', (kind, input, secret) => {
    const r = redact(input);
    expect(r.text).not.toContain(secret);
    expect(r.text).toContain(`[REDACTED:`);
    expect(r.kinds).toContain(kind);
    expect(r.count).toBeGreaterThanOrEqual(1);
  });

  it('replaces every value of a .env file', () => {
    const env = 'API_URL=https://api.internal\n# comment\nexport TOKEN=abc\nEMPTY=\nNAME="payments"\n';
    const r = redact(env, 'config/.env.production');
    expect(r.text).toBe('API_URL=[REDACTED:env-value]\n# comment\nexport TOKEN=[REDACTED:env-value]\nEMPTY=\nNAME=[REDACTED:env-value]\n');
    expect(r.count).toBe(3);
    expect(isEnvFile('a/.env')).toBe(true);
    expect(isEnvFile('a/prod.env')).toBe(true);
    expect(isEnvFile('a/env.ts')).toBe(false);
  });

  it.each([
    'const password = getPassword();',
    'if (user.password === input) return true;',
    'function resetPassword(token: string) {',
    'const apiKey = process.env.OPENAI_API_KEY;',
    'let secret = await vault.read(path);',
    'const url = "https://example.com/path?q=1";',
    'const skipped = "sk-short";',
    'export const tokenizer = new Tokenizer();',
  ])('leaves ordinary code alone: %s', (code) => {
    const r = redact(code);
    expect(r.text).toBe(code);
    expect(r.count).toBe(0);
  });

  it('keeps the text around a secret intact', () => {
    const r = redact(`const conn = "postgres://u:pw1234@h/db"; // keep me`);
    expect(r.text).toBe('const conn = "postgres://u:[REDACTED:url-credentials]@h/db"; // keep me');
  });
});
