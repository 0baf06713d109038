// The privacy gate, watched on the wire: a recording fake cloud sees nothing it must not.
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../server/src/config/schema.js';
import { OpenAICompatBackend } from '../../server/src/models/openaiCompat.js';
import { AuditLog, writeInFlight } from '../../server/src/privacy/audit.js';
import { PrivacyGate, type PrivacyPolicy } from '../../server/src/privacy/gate.js';
import { PathPolicy } from '../../server/src/privacy/paths.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';

let cloud: FakeVllm;
let policy: PrivacyPolicy;
let auditPath: string;

const j = (...p: string[]) => p.join('');
const GH = j('ghp_', 'Q'.repeat(36));

function gate(location: 'cloud' | 'onprem' = 'cloud', onUsage?: (tokensIn: number, tokensOut: number) => void) {
  const cfg: Backend = { name: 'cloud', kind: 'openai', url: `${cloud.url}/v1`, location, model: 'Qwen/Qwen2.5-Coder-7B', apiKeyEnv: 'CLOUD_KEY' };
  const inner = new OpenAICompatBackend(cfg, { logger: silentLogger(), env: { CLOUD_KEY: 'k-123456789' } });
  return new PrivacyGate(inner, { policy: () => policy, audit: new AuditLog({ path: auditPath, maxBytes: 1e6, keep: 1 }), onUsage });
}
const req = (prompt: string, sources: { path: string; text: string }[] | undefined) => ({ prompt, sources, stop: [], maxTokens: 16, temperature: 0.1, task: 'inline' });
const signal = () => new AbortController().signal;
const auditLines = () => readFileSync(auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
beforeEach(async () => {
  cloud = await startFakeVllm({ respond: () => ({ text: 'done();' }) });
  policy = { airGapped: false, onPremOnly: ['**/secrets/**', '**/*.pem', '**/.env*'] };
  auditPath = join(mkdtempSync(join(tmpdir(), 'tandem-gate-')), 'audit.jsonl');
});
afterEach(async () => {
  await cloud.close();
});

describe('PrivacyGate', () => {
  it('air-gapped: not one connection to a cloud backend, discovery and probes included', async () => {
    policy.airGapped = true;
    const g = gate();
    const outcomes = [await g.info(signal()), await g.complete(req('x', [{ path: 'a.ts', text: 'x' }]), signal())];
    if (g.chat) outcomes.push(await g.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 5, temperature: 0, sources: [] }, signal()));
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.failure.kind).toBe('denied');
    }
    if (g.probe) expect((await g.probe(signal())).ok).toBe(false);
    expect(cloud.requests).toHaveLength(0);
  });

  it('onPremOnly: a prompt with text from a protected file never reaches the cloud', async () => {
    const g = gate();
    const pem = 'MIIB-not-a-real-key';
    for (const path of ['certs/server.pem', 'app/secrets/db.ts', '.env.local']) {
      const o = await g.complete(req(`// ${path}\n${pem}`, [{ path: 'src/main.ts', text: '' }, { path, text: pem }]), signal());
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.failure.message).toContain(path);
    }
    expect(cloud.requests).toHaveLength(0);
    // The same text from an unprotected file goes.
    expect((await g.complete(req('plain code', [{ path: 'src/main.ts', text: 'plain code' }]), signal())).ok).toBe(true);
    expect(cloud.requests.map((r) => r.path)).toEqual(['/v1/models', '/v1/completions']);
  });

  it('fails closed: a cloud request that does not declare its sources is refused', async () => {
    const o = await gate().complete(req('code', undefined), signal());
    expect(o.ok).toBe(false);
    expect(cloud.requests).toHaveLength(0);
  });

  it('redacts planted secrets before the cloud sees them, and audits without code', async () => {
    policy.onPremOnly = [];
    const code = `const token = "${GH}";\nconst db = "postgres://app:Hunter22@db/x";\n`;
    const env = 'STRIPE=live-value-1\n';
    const g = gate();
    const o = await g.complete(req(code + env, [{ path: 'src/config.ts', text: code }, { path: 'deploy/.env', text: env }]), signal());
    expect(o.ok).toBe(true);
    const sent = cloud.completions()[0]!.body.prompt as string;
    expect(sent).not.toContain(GH);
    expect(sent).not.toContain('Hunter22');
    expect(sent).not.toContain('live-value-1');
    expect(sent).toContain('[REDACTED:github-token]');
    const lines = auditLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ task: 'inline', backend: 'cloud', location: 'cloud', model: 'Qwen/Qwen2.5-Coder-7B', outcome: 'ok', redactions: 3 });
    expect(lines[0].sources.map((s: { path: string }) => s.path)).toEqual(['src/config.ts', 'deploy/.env']);
    const raw = readFileSync(auditPath, 'utf8');
    expect(raw).not.toContain('Hunter22');
    expect(raw).not.toContain('const token');
  });

  it('refuses a FIM request whose cursor splits a secret (each half alone would leak its piece); a secret before the cursor is redacted as usual', async () => {
    policy.onPremOnly = [];
    const g = gate();
    const fim = (prefix: string, suffix: string) => ({ ...req(prefix + '<FIM>' + suffix, [{ path: 'src/config.ts', text: prefix + suffix }]), parts: { prefix, suffix, snippets: [] } });
    for (const [prefix, suffix] of [
      [`const token = "${GH.slice(0, 20)}`, `${GH.slice(20)}";\n`],
      ['const db = "postgres://app:Hunt', 'er22@db/x";\n'],
      ['password = ', '"Hunter22-correct-horse";\n'],
    ] as const) {
      const o = await g.complete(fim(prefix, suffix), signal());
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.failure).toMatchObject({ kind: 'denied', message: expect.stringContaining('the cursor is inside a secret') });
    }
    expect(cloud.completions()).toHaveLength(0);
    const o = await g.complete(fim(`const token = "${GH}";\nconst x = `, ';\n'), signal());
    expect(o.ok).toBe(true);
    const sent = cloud.completions()[0]!.body.prompt as string;
    expect(sent).not.toContain(GH);
    expect(sent).toContain('[REDACTED:github-token]');
  });

  it('a link to a .env file is redacted as the .env file it really is (every value), not by its spelled name', async () => {
    policy.onPremOnly = [];
    const ws = mkdtempSync(join(tmpdir(), 'tandem-gate-ws-'));
    const env = 'STRIPE=live-value-1\n';
    writeFileSync(join(ws, '.env'), env);
    symlinkSync(join(ws, '.env'), join(ws, 'cfg.txt'));
    const cfg: Backend = { name: 'cloud', kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'Qwen/Qwen2.5-Coder-7B', apiKeyEnv: 'CLOUD_KEY' };
    const inner = new OpenAICompatBackend(cfg, { logger: silentLogger(), env: { CLOUD_KEY: 'k-123456789' } });
    const g = new PrivacyGate(inner, { policy: () => policy, paths: new PathPolicy({ roots: () => [ws] }) });
    expect((await g.complete(req(env, [{ path: 'cfg.txt', text: env }]), signal())).ok).toBe(true);
    const sent = cloud.completions()[0]!.body.prompt as string;
    expect(sent).not.toContain('live-value-1');
    expect(sent).toContain('STRIPE=');
  });

  it('redacts chat messages for the cloud', async () => {
    policy.onPremOnly = [];
    const code = `const token = "${GH}";`;
    const g = gate();
    const o = await g.chat!({ messages: [{ role: 'user', content: `explain ${code}` }], maxTokens: 5, temperature: 0, sources: [{ path: 'src/config.ts', text: code }] }, signal());
    expect(o.ok).toBe(true);
    expect(JSON.stringify(cloud.requests.at(-1)!.body)).not.toContain(GH);
  });

  it('on-prem backends get the text as written (no redaction) and are audited too', async () => {
    policy.airGapped = true;
    const code = `const token = "${GH}";`;
    const g = gate('onprem');
    const o = await g.complete(req(code, [{ path: 'certs/x.pem', text: code }]), signal());
    expect(o.ok).toBe(true);
    expect(cloud.completions()[0]!.body.prompt).toBe(code);
    expect(auditLines()[0]).toMatchObject({ location: 'onprem', redactions: 0 });
  });

  it('the audit line and the spend are recorded before the answer is handed back', async () => {
    const usage: number[][] = [];
    const g = gate('onprem', (i, o) => usage.push([i, o]));
    const o = await g.chat!({ messages: [{ role: 'user', content: 'explain x' }], maxTokens: 5, temperature: 0, sources: [{ path: 'src/x.ts', text: 'x' }], task: 'explain' }, signal());
    expect(o.ok).toBe(true);
    // Read at once, no waiting: on disk when the answer came back.
    expect(auditLines()).toMatchObject([{ task: 'explain', backend: 'cloud', outcome: 'ok', sources: [{ path: 'src/x.ts' }] }]);
    expect(usage).toHaveLength(1);
  });

  it('a request the backend is still answering when the process ends is written as interrupted, once', async () => {
    cloud.set({ respond: () => ({ hang: true }) });
    const g = gate('onprem');
    const ac = new AbortController();
    const answer = g.complete(req('code', [{ path: 'src/a.ts', text: 'code' }]), ac.signal);
    await cloud.waitFor((r) => r.path === '/v1/completions');
    writeInFlight();
    expect(auditLines()).toMatchObject([{ task: 'inline', outcome: 'interrupted', tokensOut: 0, sources: [{ path: 'src/a.ts' }] }]);
    ac.abort();
    expect((await answer).ok).toBe(false);
    expect(auditLines()).toHaveLength(1);
  });
});
