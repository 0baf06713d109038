// The audit log: ordered JSON lines on disk when write returns, size rotation shared by processes, and no code in it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AuditLog, defaultAuditPath, sha256, writeInFlight, type AuditRecord } from '../../server/src/privacy/audit.js';

const record = (i: number, code: string, backend = 'fim'): AuditRecord => ({
  time: new Date(0).toISOString(), task: 'inline', backend, location: 'onprem', model: 'm', tokensIn: 100 + i, tokensOut: 10,
  sources: [{ path: 'src/a.ts', sha256: sha256(code) }], redactions: 0, latencyMs: 40, outcome: 'ok',
});
const lines = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const tempLog = () => join(mkdtempSync(join(tmpdir(), 'tandem-audit-')), 'audit.jsonl');

/** The built module: a child process runs the same code as the server (tsc builds it before the tests). */
const BUILT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'server', 'out', 'privacy', 'audit.js');

describe('AuditLog', () => {
  it('writes one JSON line per record, in order, with hashes instead of code, before write returns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-audit-'));
    const path = join(dir, 'sub', 'audit.jsonl');
    const log = new AuditLog({ path, maxBytes: 1_000_000, keep: 3 });
    const code = 'const secretSauce = 42;';
    for (let i = 0; i < 20; i++) {
      log.write(record(i, code));
      expect(lines(path)).toHaveLength(i + 1);
    }
    expect(lines(path).map((l) => l.tokensIn)).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(lines(path)[0].sources[0].sha256).toBe(sha256(code));
    expect(readFileSync(path, 'utf8')).not.toContain('secretSauce');
  });

  it('rotates by size and keeps N old files', () => {
    const path = tempLog();
    const lineBytes = JSON.stringify(record(0, 'x')).length + 1;
    const log = new AuditLog({ path, maxBytes: lineBytes * 2, keep: 2 });
    for (let i = 0; i < 7; i++) log.write(record(i, 'x'));
    const read = (p: string) => lines(p).map((l) => l.tokensIn);
    expect(read(path)).toEqual([106]);
    expect(read(`${path}.1`)).toEqual([104, 105]);
    expect(read(`${path}.2`)).toEqual([102, 103]);
    expect(existsSync(`${path}.3`)).toBe(false);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('notices a file rotated by another process or removed: the next record goes to the file at the path', () => {
    const path = tempLog();
    const log = new AuditLog({ path, maxBytes: 1e6, keep: 2 });
    log.write(record(0, 'x'));
    // Checked ahead, as the gate does while a backend works; then another process rotates.
    log.prepare();
    renameSync(path, `${path}.1`);
    log.write(record(1, 'x'));
    log.write(record(2, 'x'));
    expect(lines(`${path}.1`).map((l) => l.tokensIn)).toEqual([100, 101]);
    expect(lines(path).map((l) => l.tokensIn)).toEqual([102]);
    unlinkSync(path);
    log.write(record(3, 'x'));
    expect(lines(path).map((l) => l.tokensIn)).toEqual([103]);
  });

  it('two logs on one file and two other processes: only whole lines, none lost, across rotations', async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: build first (npx tsc -p tsconfig.json)`);
    const path = tempLog();
    const N = 250;
    const lineBytes = JSON.stringify(record(N, 'x', 'child-1')).length + 1;
    const maxBytes = lineBytes * 12;
    // Enough old files that none is deleted: every rotated file holds more than maxBytes - one line.
    const keep = Math.ceil((4 * N) / 10) + 10;
    const opts = { path, maxBytes, keep };
    const script = join(dirname(path), 'writer.mjs');
    writeFileSync(
      script,
      [
        `import { AuditLog } from ${JSON.stringify(pathToFileURL(BUILT).href)};`,
        `const [who, n] = process.argv.slice(2);`,
        `const log = new AuditLog({ ...${JSON.stringify(opts)}, onError: (m) => { console.error(m); process.exitCode = 1; } });`,
        `const template = ${JSON.stringify(record(0, 'x'))};`,
        `const record = (i, code, backend) => ({ ...template, backend, tokensIn: 100 + i });`,
        // Written all at once after "go", so the children and this process write at the same time.
        `process.stdin.once('data', () => { for (let i = 0; i < Number(n); i++) log.write(record(i, 'x', who)); process.stdin.destroy(); });`,
        `console.log('ready');`,
      ].join('\n'),
    );
    const children = ['child-1', 'child-2'].map((who) => spawn(process.execPath, [script, who, String(N)], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const exits = children.map((c) => {
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      return new Promise<{ code: number | null; stderr: string }>((resolve) => c.on('close', (code) => resolve({ code, stderr })));
    });
    await Promise.all(children.map((c) => new Promise((resolve) => c.stdout.once('data', resolve))));
    for (const c of children) c.stdin.write('go\n');
    const errors: string[] = [];
    const mine = ['here-1', 'here-2'].map((who) => ({ who, log: new AuditLog({ ...opts, onError: (m) => errors.push(m) }) }));
    for (let i = 0; i < N; i++) {
      for (const { who, log } of mine) log.write(record(i, 'x', who));
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    for (const e of await Promise.all(exits)) expect(e).toEqual({ code: 0, stderr: '' });
    expect(errors).toEqual([]);

    const files = [path, ...Array.from({ length: keep }, (_, i) => `${path}.${i + 1}`)].filter(existsSync);
    // Rotated many times (files grow past maxBytes only by what others append during a rotation).
    expect(files.length).toBeGreaterThan(5);
    expect(existsSync(`${path}.${keep}`)).toBe(false);
    const seen: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      // JSON.parse throws on a line cut or interleaved with another.
      for (const l of text.split('\n').filter(Boolean)) {
        const r = JSON.parse(l) as AuditRecord;
        seen.push(`${r.backend}:${r.tokensIn - 100}`);
      }
    }
    const expected = ['child-1', 'child-2', 'here-1', 'here-2'].flatMap((who) => Array.from({ length: N }, (_, i) => `${who}:${i}`));
    expect(seen.sort()).toEqual(expected.sort());
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('a lock left by a dead process is taken over; a live one is waited for by no one', () => {
    const path = tempLog();
    const lineBytes = JSON.stringify(record(0, 'x')).length + 1;
    const log = new AuditLog({ path, maxBytes: lineBytes * 2, keep: 3 });
    log.write(record(0, 'x'));
    log.write(record(1, 'x'));
    // Held by this (live) process: the next writes append in place, past maxBytes, without waiting.
    writeFileSync(`${path}.lock`, `${process.pid} held\n`);
    log.write(record(2, 'x'));
    log.write(record(3, 'x'));
    expect(lines(path).map((l) => l.tokensIn)).toEqual([100, 101, 102, 103]);
    expect(existsSync(`${path}.1`)).toBe(false);
    // The holder died mid-rotation (its pid no longer exists): the next write rotates.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(`${path}.lock`, `${dead} gone\n`);
    log.write(record(4, 'x'));
    expect(lines(`${path}.1`).map((l) => l.tokensIn)).toEqual([100, 101, 102, 103]);
    expect(lines(path).map((l) => l.tokensIn)).toEqual([104]);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('a request still in flight when the process ends is written once, as interrupted', () => {
    const path = tempLog();
    const log = new AuditLog({ path, maxBytes: 1e6, keep: 1 });
    const answered = log.begin(() => ({ ...record(0, 'x'), outcome: 'interrupted' }));
    answered(record(0, 'x'));
    const pending = log.begin(() => ({ ...record(1, 'x'), outcome: 'interrupted' }));
    writeInFlight();
    writeInFlight();
    // An answer that comes after all the same adds no second line.
    pending(record(1, 'x'));
    expect(lines(path).map((l) => [l.tokensIn, l.outcome])).toEqual([[100, 'ok'], [101, 'interrupted']]);
  });

  it('reports a write failure once per outage, never throws, and recovers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-audit-'));
    // A file where the log's folder should be: no mkdir can succeed, not even as root.
    writeFileSync(join(dir, 'blocker'), '');
    const path = join(dir, 'blocker', 'audit.jsonl');
    const errors: string[] = [];
    const log = new AuditLog({ path, maxBytes: 1000, keep: 1, onError: (m) => errors.push(m) });
    log.write(record(0, 'x'));
    log.write(record(1, 'x'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(path);
    unlinkSync(join(dir, 'blocker'));
    log.write(record(2, 'x'));
    expect(readFileSync(path, 'utf8')).toContain('"tokensIn":102');
    expect(errors).toHaveLength(1);
  });

  it('defaults under XDG_STATE_HOME', () => {
    expect(defaultAuditPath({ XDG_STATE_HOME: '/s' })).toBe('/s/tandem/audit.jsonl');
  });
});
