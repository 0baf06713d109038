// The index's worker thread: real symbols from the built worker; a worker that cannot start or
// dies hands its files to the main thread's fallback, and after three failures stays off.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SymbolHost } from '../../server/src/context/symbolHost.js';
import { packSymbols, unpackExports, unpackImports, unpackSymbols, type PackedSymbols } from '../../server/src/context/packed.js';
import { LogHub } from '../../server/src/util/logger.js';
import { until } from '../wait.js';

/** The worker as the server runs it: compiled by `tsc` (npm test builds first). */
const BUILT = pathToFileURL(join(import.meta.dirname, '../../server/out/context/symbolWorker.js'));

function logger() {
  const lines: string[] = [];
  const hub = new LogHub('debug');
  hub.addSink({ write: (_level, line) => lines.push(line) });
  return { log: hub.logger('context'), lines };
}

/** Tree-sitter's error recovery takes a parse of this to its budget (~400 ms): long enough to be caught in it. */
const PATHOLOGICAL = '((((\n' + 'const q = "ab" + 1; '.repeat(15_000);

const NOT_USED = async (): Promise<PackedSymbols | undefined> => {
  throw new Error('the fallback ran although the worker answered');
};

describe('SymbolHost', () => {
  it('the index switched off: its files not yet parsed are dropped, checks still answered, by the same worker', async () => {
    const { log } = logger();
    const host = new SymbolHost(log, BUILT);
    try {
      // One pathological file keeps the worker busy while the rest wait in its queue.
      const slow = host.symbols('typescript', PATHOLOGICAL, NOT_USED);
      await until(() => host.busy, 'the worker inside the pathological parse');
      const worker = (host as unknown as { worker: unknown }).worker;
      const queued = Array.from({ length: 10 }, (_, i) => host.symbols('python', `def f${i}(x):\n    return x\n`, NOT_USED));
      const text = 'export function area(r: number): number {\n  return 3.14 * r * r;\n}\n';
      const at = text.indexOf('3.14');
      const check = host.check('typescript', text, [{ start: at, end: at + 4, newText: '(Math.PI' }]);
      host.dropSymbols();
      // Dropped: answered with nothing at once (not by the fallback, which would throw).
      expect(await Promise.all(queued)).toEqual(Array.from({ length: 10 }, () => undefined));
      expect(await slow).toBeUndefined();
      const r = await check;
      expect((r as { added: number }).added).toBeGreaterThan(0);
      // The same worker goes on answering.
      expect((await host.symbols('python', 'def g(x):\n    return x\n', NOT_USED))?.names).toBe('g');
      expect((host as unknown as { worker: unknown }).worker).toBe(worker);
    } finally {
      host.dispose();
    }
  });

  it('reads definitions, imports and exports in the worker', async () => {
    const { log } = logger();
    const host = new SymbolHost(log, BUILT);
    try {
      const text = "import { b } from './b';\nexport function area(r: number): number {\n  return r * r;\n}\nexport default area;\n";
      const out = await host.symbols('typescript', text, NOT_USED);
      // Packed in the worker (the bytes transferred), unpacked here.
      expect(unpackSymbols(out!, 'a.ts').map((s) => s.name)).toContain('area');
      expect(out?.names.split('\n')).toContain('area');
      expect(unpackImports(out!).map((i) => i.source)).toEqual(['./b']);
      expect(unpackExports(out!)).toEqual([{ name: 'default', local: 'area' }]);
      // Many at once come back each to its own caller.
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => host.symbols('python', `def f${i}(x):\n    return x\n`, NOT_USED)));
      expect(many.map((m) => m?.names)).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`));
      expect(host.inWorker).toBe(true);
    } finally {
      host.dispose();
    }
  });

  it('dropped while it parses (the index switched off), the worker is not stopped inside tree-sitter: it ends itself between steps', async () => {
    const { log } = logger();
    const host = new SymbolHost(log, BUILT);
    // Tree-sitter's error recovery on this takes the parse to its budget (~400 ms): long enough to be caught in it.
    const slow = host.symbols('javascript', PATHOLOGICAL, NOT_USED);
    await until(() => host.busy, 'the worker in tree-sitter');
    // Stopping the thread inside a step would abort this whole process (the binding throws from C).
    const ended = host.dispose();
    expect(await slow).toBeUndefined(); // answered at once: nobody waits for a dropped host's work
    await ended;
    expect(host.busy).toBe(false);
    // A host dropped while idle stops its worker at once.
    const idle = new SymbolHost(log, BUILT);
    expect((await idle.symbols('python', 'def f(x):\n    return x\n', NOT_USED))?.names).toBe('f');
    await idle.dispose();
  });

  it('on the way out, waits for the step of a parse in progress, not for the parse: the worker starts no step after it', async () => {
    const { log } = logger();
    const host = new SymbolHost(log, BUILT);
    const slow = host.symbols('javascript', PATHOLOGICAL, NOT_USED);
    await until(() => host.busy, 'the worker in tree-sitter');
    host.quiesce(); // what the process's exit hook runs
    expect(host.busy).toBe(false);
    // Node stops the worker now, as at the process's exit: between steps, that is safe.
    await host.dispose();
    expect(await slow).toBeUndefined();
  });

  it('dropped at any point of a file\'s parse or tag queries, the worker never aborts the process (stopping a thread inside any tree-sitter call does)', async () => {
    const { log } = logger();
    // ~250 kB of clean code: a parse and tag queries of ~100 ms each, so the drops below land in both.
    const big = Array.from({ length: 4000 }, (_, i) => `export function f${i}(a: number, b: string): number {\n  return a + b.length * ${i};\n}\n`).join('');
    // -1: at once, while the worker is still loading the binding.
    for (let delay = -1; delay <= 280; delay += 40) {
      const host = new SymbolHost(log, BUILT);
      const pending = host.symbols('typescript', big, NOT_USED);
      if (delay >= 0) {
        await until(() => host.busy, 'the worker in tree-sitter');
        await new Promise((r) => setTimeout(r, delay));
      }
      await host.dispose();
      // Answered either way: with the symbols when the file was done before the drop, else without.
      // The file parses cleanly, so its tag query has no clock (tags.ts): all 4,000 however
      // starved the machine.
      const out = await pending;
      expect(out === undefined || out.count === 4000).toBe(true);
    }
  });

  it('checks a code action\'s edits of a whole file in the worker: the errors they add, and where the first one is', async () => {
    const { log } = logger();
    const host = new SymbolHost(log, BUILT);
    try {
      const text = ['export function area(r: number): number {', '  return 3.14 * r * r;', '}', ''].join('\n');
      const at = text.indexOf('3.14');
      expect(await host.check('typescript', text, [{ start: at, end: at + 4, newText: 'Math.PI' }])).toEqual({ added: 0 });
      const broken = await host.check('typescript', text, [{ start: at, end: at + 4, newText: '(Math.PI' }]);
      expect(broken).toMatchObject({ first: expect.stringMatching(/line 2/) });
      expect((broken as { added: number }).added).toBeGreaterThan(0);
      // A fix of an existing error adds none (fewer than before).
      expect(await host.check('typescript', 'let a = (1;\n', [{ start: 8, end: 9, newText: '' }])).toEqual({ added: -1 });
      // Nothing to check against: a file whose parse is given up.
      expect(await host.check('javascript', PATHOLOGICAL, [{ start: 0, end: 1, newText: '' }])).toBeNull();
    } finally {
      await host.dispose();
    }
  });

  it('a check (a request waits for it) goes ahead of the index\'s files waiting in the worker', async () => {
    const { log } = logger();
    const host = new SymbolHost(log, BUILT);
    try {
      const big = Array.from({ length: 3000 }, (_, i) => `export function f${i}(a: number): number {\n  return a * ${i};\n}\n`).join('');
      const order: string[] = [];
      const files = [1, 2, 3, 4].map((i) => host.symbols('typescript', big, NOT_USED).then(() => order.push(`file ${i}`)));
      const checked = host.check('typescript', 'let a = 1;\n', [{ start: 0, end: 3, newText: 'const' }]).then(() => order.push('check'));
      await Promise.all([...files, checked]);
      // The first file may be under way when the check comes; the others wait for it.
      expect(order.indexOf('check')).toBeLessThanOrEqual(1);
    } finally {
      await host.dispose();
    }
  });

  it('a check with no worker to run it is "unavailable" (the caller checks on its own thread)', async () => {
    const { log } = logger();
    const host = new SymbolHost(log, pathToFileURL(join(tmpdir(), 'no-such-tandem-worker.mjs')));
    expect(await host.check('typescript', 'let a = 1;\n', [{ start: 0, end: 3, newText: 'const' }])).toBe('unavailable');
    await host.dispose();
  });

  it('a dropped host leaves no exit listener behind once its worker has ended', async () => {
    const { log } = logger();
    const before = process.listenerCount('exit');
    for (let i = 0; i < 3; i++) {
      const host = new SymbolHost(log, BUILT);
      await host.symbols('python', 'def f(x):\n    return x\n', NOT_USED);
      expect(process.listenerCount('exit')).toBe(before + 1);
      await host.dispose();
      expect(process.listenerCount('exit')).toBe(before);
    }
  });

  it('a worker that dies hands what it had to the fallback; after three failures the index stays on this thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-worker-'));
    const dying = join(dir, 'dying.mjs');
    writeFileSync(dying, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(3));\n");
    const { log, lines } = logger();
    const host = new SymbolHost(log, pathToFileURL(dying));
    let fallbacks = 0;
    const nothing = packSymbols({ symbols: [], imports: [], exports: [] });
    const fallback = async (): Promise<PackedSymbols> => {
      fallbacks++;
      return nothing;
    };
    for (let i = 0; i < 3; i++) expect(await host.symbols('typescript', 'let a = 1;\n', fallback)).toBe(nothing);
    expect(fallbacks).toBe(3);
    expect(host.inWorker).toBe(false);
    expect(lines.join('\n')).toMatch(/index worker exited \(status 3\); starting a new one/);
    expect(lines.join('\n')).toMatch(/index worker exited \(status 3\); indexing on the main thread from now on/);
    // From now on, straight to the fallback.
    await host.symbols('typescript', 'let b = 2;\n', fallback);
    expect(fallbacks).toBe(4);
    host.dispose();
  });

  it('a worker script that cannot load counts as a failure, and its file still gets read', async () => {
    const { log, lines } = logger();
    const host = new SymbolHost(log, pathToFileURL(join(tmpdir(), 'no-such-tandem-worker.mjs')));
    const nothing = packSymbols({ symbols: [], imports: [], exports: [] });
    const out = await host.symbols('typescript', 'let a = 1;\n', async () => nothing);
    expect(out).toBe(nothing);
    expect(lines.join('\n')).toMatch(/index worker (failed|exited)/);
    host.dispose();
  });

  describe('the way out, in a process of its own (as the server exits)', () => {
    const OUT = pathToFileURL(join(import.meta.dirname, '../../server/out/')).href;
    const dir = mkdtempSync(join(tmpdir(), 'tandem-exit-'));
    /** A worker that says it is inside tree-sitter and never comes out (the host starts it BUSY). */
    const stuck = join(dir, 'stuck.mjs');
    writeFileSync(stuck, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => undefined);\n");
    /**
     * A process with a host whose worker runs `script` (on `text`), and a SIGTERM listener as the
     * server's audit hook has; it exits once the worker is busy (`delayMs` later). Resolves with
     * how it ended; `onExiting` runs when it is about to exit.
     */
    function exitWith(script: string, maxMs: number, text: string, delayMs: number, onExiting?: (child: import('node:child_process').ChildProcess) => void) {
      const main = join(dir, `main-${Math.random().toString(36).slice(2)}.mjs`);
      writeFileSync(
        main,
        [
          `import { SymbolHost } from '${OUT}context/symbolHost.js';`,
          `import { LogHub } from '${OUT}util/logger.js';`,
          "const hub = new LogHub('debug');",
          "hub.addSink({ write: (_level, line) => process.stderr.write(line + '\\n') });",
          "process.on('SIGTERM', () => process.stderr.write('the listener ran\\n'));",
          `const host = new SymbolHost(hub.logger('context'), new URL(${JSON.stringify(pathToFileURL(script).href)}), ${maxMs});`,
          `void host.symbols('typescript', ${JSON.stringify(text)}, async () => undefined);`,
          'const wait = () => (host.busy ? setTimeout(exit, ' + delayMs + ') : setTimeout(wait, 5));',
          "const exit = () => { process.stderr.write('exiting\\n'); process.exit(0); };",
          'wait();',
        ].join('\n'),
      );
      const child = spawn(process.execPath, [main], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('exiting\n') && onExiting) {
          const f = onExiting;
          onExiting = undefined;
          f(child);
        }
      });
      return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
    }

    it('a unit that outlasts the wait: the process ends by SIGKILL, never by Node stopping the thread inside tree-sitter (SIGABRT)', async () => {
      const r = await exitWith(stuck, 200, 'let a = 1;\n', 0);
      expect(r.signal).toBe('SIGKILL');
      expect(r.stderr).toMatch(/still inside tree-sitter after 0 s; ending the process with SIGKILL/);
    });

    it('while it waits, SIGTERM ends the process at once (its listener cannot run then)', async () => {
      // The wait's own bound is far off: only the signal can end this process before the test's timeout.
      let timer: NodeJS.Timeout | undefined;
      const r = await exitWith(stuck, 600_000, 'let a = 1;\n', 0, (child) => {
        // Again until it ends: the first may come before the process is in the wait.
        timer = setInterval(() => child.kill('SIGTERM'), 50);
      });
      clearInterval(timer);
      expect(r.signal).toBe('SIGTERM');
      expect(r.stderr).not.toMatch(/the listener ran/);
    });

    it('the real worker, in a parse or its tag queries: the exit waits for the unit and the status is 0', async () => {
      const big = Array.from({ length: 4000 }, (_, i) => `export function f${i}(a: number, b: string): number {\n  return a + b.length * ${i};\n}\n`).join('');
      for (const delay of [0, 60, 150]) {
        const r = await exitWith(fileURLToPath(BUILT), 60_000, big, delay);
        expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
      }
    });
  });
});
