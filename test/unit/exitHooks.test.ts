// The ways out of a process: a request still in flight is in the audit log after each, and the process ends as it should.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The built modules: a child process runs the same code as the CLI and the server (tsc builds it before the tests). */
const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'server', 'out');

/** Runs a process that installs the exit hooks, starts one request, then ends by `ending`. */
function run(ending: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: { outcome: string }[] }> {
  if (!existsSync(join(OUT, 'cli', 'exitHooks.js'))) throw new Error(`${OUT} is not built: npx tsc -p tsconfig.json`);
  const dir = mkdtempSync(join(tmpdir(), 'tandem-exit-'));
  const path = join(dir, 'audit.jsonl');
  const script = join(dir, 'child.mjs');
  writeFileSync(
    script,
    [
      `import { AuditLog } from ${JSON.stringify(pathToFileURL(join(OUT, 'privacy', 'audit.js')).href)};`,
      `import { recordInFlightOnExit } from ${JSON.stringify(pathToFileURL(join(OUT, 'cli', 'exitHooks.js')).href)};`,
      `recordInFlightOnExit();`,
      `const log = new AuditLog({ path: ${JSON.stringify(path)}, maxBytes: 1e6, keep: 1 });`,
      `log.begin(() => ({ time: '', task: 'explain', backend: 'b', location: 'cloud', model: null, tokensIn: 1, tokensOut: 0, sources: [], redactions: 0, latencyMs: 0, outcome: 'interrupted' }));`,
      // A backend that never answers keeps the process alive until it is ended.
      `setInterval(() => undefined, 1000);`,
      ending,
    ].join('\n'),
  );
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.once('data', () => child.kill('SIGTERM'));
    child.on('close', (code, signal) => {
      const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
      resolve({ code, signal, lines });
    });
  });
}

describe('exit hooks', () => {
  it('an uncaught error: the request is written as interrupted, the process exits 1', async () => {
    const r = await run(`setTimeout(() => { throw new Error('a bug'); }, 0);`);
    expect(r.code).toBe(1);
    expect(r.lines.map((l) => l.outcome)).toEqual(['interrupted']);
  });

  it('an unhandled rejection: the same', async () => {
    const r = await run(`void Promise.reject(new Error('a bug'));`);
    expect(r.code).toBe(1);
    expect(r.lines.map((l) => l.outcome)).toEqual(['interrupted']);
  });

  it('process.exit (the LSP exit notification, stdin closing): the same, with the code given', async () => {
    const r = await run(`setTimeout(() => process.exit(0), 0);`);
    expect(r.code).toBe(0);
    expect(r.lines.map((l) => l.outcome)).toEqual(['interrupted']);
  });

  it('SIGTERM while another listener holds the signal: written, and the process still ends (143)', async () => {
    // The child says it is ready on stdout; the test then sends SIGTERM.
    const r = await run(`process.on('SIGTERM', () => undefined); console.log('ready');`);
    expect(r.code).toBe(143);
    expect(r.lines.map((l) => l.outcome)).toEqual(['interrupted']);
  });

  it('SIGTERM: written once, and the process dies of the signal', async () => {
    const r = await run(`console.log('ready');`);
    expect(r).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(r.lines.map((l) => l.outcome)).toEqual(['interrupted']);
  });
});
