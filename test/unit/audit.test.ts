// The audit log: ordered JSON lines, size rotation, and no code in it.
import { existsSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog, defaultAuditPath, sha256, type AuditRecord } from '../../server/src/privacy/audit.js';

const record = (i: number, code: string): AuditRecord => ({
  time: new Date(0).toISOString(), task: 'inline', backend: 'fim', location: 'onprem', model: 'm', tokensIn: 100 + i, tokensOut: 10,
  sources: [{ path: 'src/a.ts', sha256: sha256(code) }], redactions: 0, latencyMs: 40, outcome: 'ok',
});

describe('AuditLog', () => {
  it('writes one JSON line per record, in order, with hashes instead of code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-audit-'));
    const log = new AuditLog({ path: join(dir, 'sub', 'audit.jsonl'), maxBytes: 1_000_000, keep: 3 });
    const code = 'const secretSauce = 42;';
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.write(record(i, code))));
    const lines = readFileSync(join(dir, 'sub', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.tokensIn)).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(lines[0].sources[0].sha256).toBe(sha256(code));
    expect(readFileSync(join(dir, 'sub', 'audit.jsonl'), 'utf8')).not.toContain('secretSauce');
  });

  it('rotates by size and keeps N old files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-audit-'));
    const path = join(dir, 'audit.jsonl');
    const lineBytes = JSON.stringify(record(0, 'x')).length + 1;
    const log = new AuditLog({ path, maxBytes: lineBytes * 2, keep: 2 });
    for (let i = 0; i < 7; i++) await log.write(record(i, 'x'));
    const read = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l).tokensIn);
    expect(read(path)).toEqual([106]);
    expect(read(`${path}.1`)).toEqual([104, 105]);
    expect(read(`${path}.2`)).toEqual([102, 103]);
    expect(existsSync(`${path}.3`)).toBe(false);
  });

  it('reports a write failure once per outage and recovers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-audit-'));
    // A file where the log's folder should be: no mkdir can succeed, not even as root.
    writeFileSync(join(dir, 'blocker'), '');
    const path = join(dir, 'blocker', 'audit.jsonl');
    const errors: string[] = [];
    const log = new AuditLog({ path, maxBytes: 1000, keep: 1, onError: (m) => errors.push(m) });
    await log.write(record(0, 'x'));
    await log.write(record(1, 'x'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(path);
    unlinkSync(join(dir, 'blocker'));
    await log.write(record(2, 'x'));
    expect(readFileSync(path, 'utf8')).toContain('"tokensIn":102');
  });

  it('defaults under XDG_STATE_HOME', () => {
    expect(defaultAuditPath({ XDG_STATE_HOME: '/s' })).toBe('/s/tandem/audit.jsonl');
  });
});
