// The index kept on disk: round trips, only changed shards written, every kind of bad cache file
// (truncated, another version, garbage, two writers at once, a directory that cannot be written)
// costing a re-read and one log line, never a crash; and an index that re-reads only changed files.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WorkspaceIndex, type FileEntry } from '../../server/src/context/index.js';
import { IndexStore, storeDir, type StoredFile } from '../../server/src/context/indexStore.js';
import { packSymbols, unpackSymbols } from '../../server/src/context/packed.js';
import type { FileSymbols } from '../../server/src/context/types.js';
import { LogHub } from '../../server/src/util/logger.js';
import { Workspace } from '../../server/src/workspace.js';
import { until } from '../wait.js';
import { LIMITS, tempWorkspace } from './contextHelpers.js';
import { pool } from './fixtures.js';

function logger() {
  const lines: string[] = [];
  const hub = new LogHub('debug');
  hub.addSink({ write: (level, line) => level !== 'debug' && level !== 'trace' && lines.push(line) });
  return { log: hub.logger('context'), lines };
}

function tempState(): string {
  return mkdtempSync(join(tmpdir(), 'tandem-state-'));
}

/** A record's stamp and what the index read from its file (unpacked: `stored` packs it). */
function record(key: string, i: number, tag = 'a') {
  return {
    key,
    size: 100 + i,
    mtimeMs: 1_700_000_000_000 + i,
    hash: `${tag}${i}`,
    racy: false,
    lang: 'typescript' as const,
    bytes: 100 + i,
    symbols: [
      { name: `f${i}`, kind: 'function' as const, container: undefined, line: i, endLine: i + 2, runs: [{ start: i, text: `export function f${i}(a: number,\n  b: string): void {` }] },
      { name: 'm', kind: 'method' as const, container: 'C', line: 1, endLine: 1, runs: [] },
    ],
    imports: [{ source: './x', names: [{ imported: 'x', local: 'y' }] }, { source: './ns', names: [], namespace: 'ns' }],
    exports: [{ name: 'default', local: `f${i}` }],
  };
}

function stored(r: ReturnType<typeof record> & FileSymbols): StoredFile {
  const { symbols, imports, exports, ...stamp } = r;
  return { ...stamp, packed: packSymbols({ symbols, imports, exports }) };
}

/** A shard file of `lines` under `header`, with the checksum of its records. */
function shardText(header: string, lines: string[]): string {
  const body = lines.map((l) => `${l}\n`).join('');
  return `${header}\n${createHash('sha1').update(body).digest('base64')}\n${body}`;
}

function shardFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
}

describe('IndexStore', () => {
  it('round-trips records, writes only changed shards, and keeps its files 0600 in 0700 directories', async () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    const { log, lines } = logger();
    const store = IndexStore.open(root, { stateDir, logger: log })!;
    const files = Array.from({ length: 150 }, (_, i) => stored(record(`src/f${i}.ts`, i)));
    // 150 files: four shards of ~38.
    expect(await store.save(files)).toBe(4);
    expect(shardFiles(store.dir)).toEqual(['2-0.json', '2-1.json', '2-2.json', '2-3.json']);
    for (const n of shardFiles(store.dir)) expect(statSync(join(store.dir, n)).mode & 0o777).toBe(0o600);
    expect(statSync(store.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(store.dir, '..')).mode & 0o777).toBe(0o700);

    const again = IndexStore.open(root, { stateDir, logger: log })!;
    const loaded = await again.load();
    expect(loaded.size).toBe(150);
    const { packed, ...stamp } = loaded.get('src/f7.ts')!;
    const { packed: want, ...wantStamp } = stored(record('src/f7.ts', 7));
    expect(stamp).toEqual(wantStamp);
    expect({ ...packed, data: Buffer.from(packed.data).toString() }).toEqual({ ...want, data: Buffer.from(want.data).toString() });
    expect(unpackSymbols(packed, 'src/f7.ts')).toEqual(record('src/f7.ts', 7).symbols.map((s) => ({ ...s, path: 'src/f7.ts' })));
    expect(unpackSymbols(packed, 'src/f7.ts')[0]).toHaveProperty('container', undefined);
    // Nothing changed: nothing written. One record changed: its shard only.
    expect(await again.save(files)).toBe(0);
    files[7] = { ...files[7]!, hash: 'changed' };
    expect(await again.save(files)).toBe(1);
    // Fewer files: one shard, the old ones removed.
    expect(await again.save(files.slice(0, 10))).toBe(1);
    expect(shardFiles(store.dir)).toEqual(['0-0.json']);
    expect((await IndexStore.open(root, { stateDir, logger: log })!.load()).size).toBe(10);
    expect(lines).toEqual([]);
  });

  it('narrows a directory that exists with looser permissions to 0700', async () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    const store = IndexStore.open(root, { stateDir, logger: logger().log })!;
    mkdirSync(store.dir, { recursive: true, mode: 0o755 });
    chmodSync(store.dir, 0o755);
    await store.save([stored(record('a.ts', 1))]);
    expect(statSync(store.dir).mode & 0o777).toBe(0o700);
  });

  it('two spellings of a folder (a symbolic link) share one store', () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    const link = join(tempState(), 'link');
    symlinkSync(root, link);
    expect(IndexStore.open(link, { stateDir, logger: logger().log })!.dir).toBe(IndexStore.open(root, { stateDir, logger: logger().log })!.dir);
    expect(IndexStore.open(join(root, 'missing'), { stateDir, logger: logger().log })).toBeUndefined();
  });

  it('a truncated shard: its records are left out, said in one line, and it is rewritten on the next save', async () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    const files = Array.from({ length: 150 }, (_, i) => stored(record(`f${i}.ts`, i)));
    const first = IndexStore.open(root, { stateDir, logger: logger().log })!;
    await first.save(files);
    const victim = join(first.dir, '2-1.json');
    const text = readFileSync(victim, 'utf8');
    writeFileSync(victim, text.slice(0, Math.floor(text.length / 2)));
    const { log, lines } = logger();
    const store = IndexStore.open(root, { stateDir, logger: log })!;
    const loaded = await store.load();
    expect(loaded.size).toBeGreaterThan(0);
    expect(loaded.size).toBeLessThan(150);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\[warn\] context: index cache .*: 1 of 4 shard files damaged \(2-1\.json: .*\); their files are indexed again/);
    // Never code in the log: no line of any record.
    expect(lines[0]).not.toContain('export function');
    expect(store.stale).toBe(true);
    expect(await store.save(files)).toBe(1);
    expect(store.stale).toBe(false);
    expect((await IndexStore.open(root, { stateDir, logger: log })!.load()).size).toBe(150);
    expect(lines).toHaveLength(1);
  });

  it('garbage, a checksum that does not match, and records of the wrong shape are damaged shards', async () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    const first = IndexStore.open(root, { stateDir, logger: logger().log })!;
    await first.save([stored(record('a.ts', 1))]);
    const shard = join(first.dir, '0-0.json');
    const [header, sum, line] = readFileSync(shard, 'utf8').split('\n') as [string, string, string];
    const tab = line.indexOf('\t');
    const head = JSON.parse(line.slice(0, tab)) as unknown[];
    // A record whose first field (the key, stamp, language and names) is changed, checksum kept right.
    const bad = (mutate: (h: unknown[]) => void) => {
      const copy = structuredClone(head);
      mutate(copy);
      return shardText(header, [`${JSON.stringify(copy)}${line.slice(tab)}`]);
    };
    const cases: [string, string | Buffer][] = [
      ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
      ['empty file', ''],
      ['header only', `${header}\n`],
      ['checksum of other records', `${header}\n${sum}\n${line.replace('f1(a', 'f1(b')}\n`],
      ['truncated', `${header}\n${sum}\n${line.slice(0, 40)}`],
      ['not a record', shardText(header, ['{"a":1}'])],
      ['key climbing out', bad((h) => (h[0] = '../../etc/passwd.ts'))],
      ['language unknown', bad((h) => (h[5] = 'cobol'))],
      ['stamp missing', bad((h) => h.splice(2, 1))],
      ['names not strings', bad((h) => (h[8] = [1]))],
      // V8's own message would quote the input ("export fun"...): the log must not.
      ['code instead of records', shardText(header, ['export function secretThing(token: string) {}'])],
      ['code in a bad key', bad((h) => (h[0] = '../function secretThing() {}.ts'))],
      ['code in the first field', shardText(header, [`["export function secretThing(token${line.slice(tab)}`])],
    ];
    for (const [what, content] of cases) {
      writeFileSync(shard, content);
      const { log, lines } = logger();
      const store = IndexStore.open(root, { stateDir, logger: log })!;
      expect((await store.load()).size, what).toBe(0);
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(/\[warn\] .*1 of 1 shard files damaged/);
      expect(lines[0], what).not.toMatch(/secretThing|export fun/);
    }
    // The untouched shard loads.
    writeFileSync(shard, shardText(header, [line]));
    expect((await IndexStore.open(root, { stateDir, logger: logger().log })!.load()).size).toBe(1);
  });

  it('a shard from another format or grammar version is not used: one line, then rewritten', async () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    const first = IndexStore.open(root, { stateDir, logger: logger().log })!;
    await first.save([stored(record('a.ts', 1))]);
    const shard = join(first.dir, '0-0.json');
    const [header, ...rest] = readFileSync(shard, 'utf8').split('\n');
    for (const change of [{ format: 999 }, { grammars: { 'tree-sitter-typescript': '0.0.1' } }, { extractor: 'other' }]) {
      writeFileSync(shard, `${JSON.stringify({ ...JSON.parse(header!), ...change })}\n${rest.join('\n')}`);
      const { log, lines } = logger();
      const store = IndexStore.open(root, { stateDir, logger: log })!;
      expect((await store.load()).size).toBe(0);
      expect(lines).toEqual([expect.stringMatching(/\[info\] context: index cache .* was written by another version of tandem or of its grammars; rebuilding it/)]);
      expect(store.stale).toBe(true);
    }
    const store = IndexStore.open(root, { stateDir, logger: logger().log })!;
    await store.load();
    expect(await store.save([stored(record('a.ts', 1))])).toBe(1);
    expect(readFileSync(shard, 'utf8').split('\n')[0]).toBe(header);
  });

  it('a state directory that cannot be written: one line, the index in memory, no crash', async () => {
    const parent = tempState();
    // A file where the state directory should be: fails for every user, root included.
    const stateDir = join(parent, 'state');
    writeFileSync(stateDir, 'not a directory');
    const root = tempWorkspace({});
    const { log, lines } = logger();
    const store = IndexStore.open(root, { stateDir, logger: log })!;
    expect((await store.load()).size).toBe(0);
    expect(await store.save([stored(record('a.ts', 1))])).toBe(0);
    expect(await store.save([stored(record('a.ts', 2))])).toBe(0);
    expect(store.inMemoryOnly).toBe(true);
    expect(lines).toEqual([expect.stringMatching(/\[warn\] context: index cache .* cannot be written \(ENOTDIR\); the index is kept in memory only/)]);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only state directory: one line, the index in memory', async () => {
    const stateDir = tempState();
    chmodSync(stateDir, 0o500);
    const root = tempWorkspace({});
    const { log, lines } = logger();
    const store = IndexStore.open(root, { stateDir, logger: log })!;
    expect(await store.save([stored(record('a.ts', 1))])).toBe(0);
    expect(await store.save([stored(record('a.ts', 1))])).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/cannot be written \(EACCES\); the index is kept in memory only/)]);
    chmodSync(stateDir, 0o700);
  });

  it('removes temporary files of processes that died mid-write, not those of live ones', async () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    const store = IndexStore.open(root, { stateDir, logger: logger().log })!;
    await store.save([stored(record('a.ts', 1))]);
    const dead = await new Promise<number>((resolve) => {
      const c = spawn(process.execPath, ['-e', '0']);
      c.on('exit', () => resolve(c.pid!));
    });
    writeFileSync(join(store.dir, `0-0.json.${dead}.0.tmp`), '{"half');
    writeFileSync(join(store.dir, `0-0.json.${process.pid}.99999.tmp`), '{"half');
    const next = IndexStore.open(root, { stateDir, logger: logger().log })!;
    await next.load();
    await next.save([stored(record('a.ts', 2))]);
    expect(readdirSync(store.dir).sort()).toEqual(['0-0.json', `0-0.json.${process.pid}.99999.tmp`]);
  });

  it('a temporary file left under the name it is about to use (a dead process that had this pid) is replaced, not an error', async () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    const { log, lines } = logger();
    const store = IndexStore.open(root, { stateDir, logger: log })!;
    await store.save([stored(record('a.ts', 1))]);
    // Every name this process may use next.
    for (let n = 0; n < 2000; n++) writeFileSync(join(store.dir, `0-0.json.${process.pid}.${n}.tmp`), 'stale');
    expect(await store.save([stored(record('a.ts', 2))])).toBe(1);
    expect(lines).toEqual([]);
    expect((await IndexStore.open(root, { stateDir, logger: log })!.load()).get('a.ts')?.hash).toBe('a2');
  });

  it('two processes writing at once: every read sees one whole shard of one writer, and the last rename wins', async () => {
    const stateDir = tempState();
    const root = tempWorkspace({});
    // The built module (as the CLI and the server run it): the children run plain Node.
    const built = pathToFileURL(join(import.meta.dirname, '../../server/out/context/indexStore.js')).href;
    const { IndexStore: Built } = (await import(built)) as { IndexStore: typeof IndexStore };
    const builtPack = pathToFileURL(join(import.meta.dirname, '../../server/out/context/packed.js')).href;
    // Packed by the function given: the children have their own (this module's import is not in scope there).
    const rec = (tag: string, packWith: typeof packSymbols): StoredFile[] =>
      Array.from({ length: 60 }, (_, i) => {
        const r = record(`f${i}.ts`, i, tag);
        return { key: r.key, size: r.size, mtimeMs: r.mtimeMs, hash: r.hash, racy: r.racy, lang: r.lang, bytes: r.bytes, packed: packWith({ symbols: [{ ...r.symbols[0]!, runs: [{ start: 0, text: tag.repeat(500) }] }], imports: r.imports, exports: r.exports }) };
      });
    const { log, lines } = logger();
    const reader = Built.open(root, { stateDir, logger: log })!;
    await reader.save(rec('seed-', packSymbols));
    // Each writer saves until the reader has seen shards of both, then once more (its "last").
    const stop = join(stateDir, 'stop');
    const writer = (id: string) =>
      new Promise<number | null>((resolve) => {
        const script = `
          const { existsSync } = await import('node:fs');
          const { IndexStore } = await import(${JSON.stringify(built)});
          const { packSymbols: pack } = await import(${JSON.stringify(builtPack)});
          const silent = { error() {}, warn(m) { console.error(m); }, info() {}, debug() {}, trace() {}, enabled: () => false, child() { return this; } };
          const store = IndexStore.open(${JSON.stringify(root)}, { stateDir: ${JSON.stringify(stateDir)}, logger: silent });
          const rec = ${rec.toString()};
          const record = ${record.toString()};
          for (let n = 0; !existsSync(${JSON.stringify(stop)}); n++) store.saveSync(rec('${id}' + n + '-', pack));
          store.saveSync(rec('${id}last-', pack));
        `;
        const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
        c.on('exit', (code) => resolve(code));
      });
    let running = true;
    const done = Promise.all([writer('A'), writer('B')]).finally(() => (running = false));
    const seen = new Set<string>();
    // Whatever happens here, the writers are told to stop.
    try {
      while (running) {
        const got = Built.open(root, { stateDir, logger: log })!.loadSync();
        // One shard of 60 records: all of them, all from the same save.
        expect(got.size).toBe(60);
        const tags = new Set([...got.values()].map((r) => unpackSymbols(r.packed, '')[0]!.runs[0]!.text.slice(0, 8)));
        expect(tags.size).toBe(1);
        seen.add([...tags][0]!);
        const by = (w: string) => [...seen].filter((t) => t.startsWith(w)).length;
        if (by('A') >= 3 && by('B') >= 3 && !existsSync(stop)) writeFileSync(stop, '');
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      if (!existsSync(stop)) writeFileSync(stop, '');
    }
    expect(await done).toEqual([0, 0]);
    expect(lines).toEqual([]);
    const final = [...Built.open(root, { stateDir, logger: log })!.loadSync().values()];
    expect(unpackSymbols(final[0]!.packed, '')[0]!.runs[0]!.text).toMatch(/^(Alast-|Blast-)/);
    expect(readdirSync(storeDir(stateDir, root)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

/** An index kept under `stateDir`, built over `root` and idle. */
async function persisted(root: string, stateDir: string, log = logger().log, openDocument?: (abs: string) => { text: string } | undefined) {
  const workspace = new Workspace([root]);
  const index = new WorkspaceIndex({ parse: (l, t) => pool.parseNow(l, t), relativePath: (abs) => workspace.relativePath(abs), logger: log, sliceMs: 50, persist: { stateDir }, ...(openDocument ? { openDocument } : {}) });
  await index.build([root], LIMITS);
  await index.idle();
  return index;
}

/** Sets every file's mtime an hour back: stamps taken from them are not racy. */
function age(root: string, rels: string[]): void {
  const then = new Date(Date.now() - 3_600_000);
  for (const r of rels) utimesSync(join(root, r), then, then);
}

/** A workspace of `files` (an hour old) whose index was built and saved once under a fresh state directory. */
async function savedOnce(files: Record<string, string>): Promise<{ root: string; stateDir: string }> {
  const root = tempWorkspace(files);
  age(root, Object.keys(files));
  const stateDir = tempState();
  const first = await persisted(root, stateDir);
  await first.save();
  first.dispose();
  return { root, stateDir };
}

/** What an entry holds, its packed form and stamp left out. */
function comparable(e: FileEntry) {
  return { abs: e.abs, rel: e.rel, lang: e.lang, bytes: e.bytes, names: e.names, symbols: e.symbols, imports: e.imports, exports: e.exports };
}

describe('WorkspaceIndex kept on disk', () => {
  const FILES: Record<string, string> = {
    'src/orders.ts': "import { money } from './money';\nexport interface Order {\n  id: string;\n}\nexport function parseOrder(\n  raw: string,\n  strict = false,\n): Order {\n  return { id: raw };\n}\nexport default parseOrder;\n",
    'src/money.ts': 'export function money(n: number): string {\n  return `${n}`;\n}\nexport class Till {\n  add(n: number): void {}\n}\n',
    'app/main.py': 'from .util import helper\n\ndef run(a, b):\n    return helper(a)\n',
    'app/util.py': 'def helper(x):\n    return x\n',
    'pkg/go.go': 'package pkg\n\nfunc Sum(a, b int) int {\n\treturn a + b\n}\n',
  };

  it('a second index reads no file, and holds exactly what a fresh one does', async () => {
    const root = tempWorkspace(FILES);
    age(root, Object.keys(FILES));
    const stateDir = tempState();
    const first = await persisted(root, stateDir);
    expect(first.cacheCounts).toMatchObject({ fromCache: 0, read: 5 });
    await first.save();
    expect(first.cacheCounts.saves).toBe(1);
    const { log, lines } = logger();
    const second = await persisted(root, stateDir, log);
    expect(second.cacheCounts).toEqual({ fromCache: 5, verified: 0, read: 0, saves: 0 });
    const fresh = await persisted(root, tempState());
    const all = (i: WorkspaceIndex) => [...i.entries()].sort((a, b) => a.abs.localeCompare(b.abs)).map(comparable);
    expect(all(second)).toEqual(all(fresh));
    expect(second.lookup('parseOrder')).toEqual(fresh.lookup('parseOrder'));
    expect(second.exported([join(root, 'src/orders.ts')], 'default').symbols.map((s) => s.name)).toEqual(['parseOrder']);
    // Nothing changed: the save writes nothing.
    await second.save();
    expect(second.cacheCounts.saves).toBe(0);
    expect(lines).toEqual([]);
    for (const i of [first, second, fresh]) i.dispose();
  });

  it('re-reads only files changed, added or whose bytes may have changed; drops deleted ones from the index and the disk', async () => {
    const { root, stateDir } = await savedOnce(FILES);
    writeFileSync(join(root, 'src/money.ts'), 'export function cents(n: number): number {\n  return n * 100;\n}\n');
    writeFileSync(join(root, 'src/new.ts'), 'export function fresh(): void {}\n');
    rmSync(join(root, 'app/util.py'));
    // Touched (mtime moved) but the same bytes: read to compare, not parsed.
    const later = new Date(Date.now() - 1_800_000);
    utimesSync(join(root, 'pkg/go.go'), later, later);
    const second = await persisted(root, stateDir);
    expect(second.cacheCounts).toEqual({ fromCache: 3, verified: 1, read: 2, saves: 0 });
    expect(second.lookup('money')).toEqual([]);
    expect(second.lookup('cents')).toHaveLength(1);
    expect(second.lookup('fresh')).toHaveLength(1);
    expect(second.lookup('helper')).toEqual([]);
    await second.save();
    second.dispose();
    const third = await persisted(root, stateDir);
    // Every stamp saved: nothing is read, the deleted file is not on disk any more.
    expect(third.cacheCounts).toMatchObject({ read: 0, fromCache: 5 });
    const onDisk = [...(await IndexStore.open(root, { stateDir, logger: logger().log })!.load()).keys()].sort();
    expect(onDisk).toEqual(['app/main.py', 'pkg/go.go', 'src/money.ts', 'src/new.ts', 'src/orders.ts']);
    third.dispose();
  });

  it('a file rewritten with the same size in the tick it was read is caught by its content', async () => {
    const root = tempWorkspace({ 'a.ts': 'export function alpha(): void {}\n' });
    const stateDir = tempState();
    // An mtime of the moment of reading (whole milliseconds, so that utimes can set it again exactly): the stamp is racy.
    const now = new Date();
    utimesSync(join(root, 'a.ts'), now, now);
    const stamped = statSync(join(root, 'a.ts')).mtimeMs;
    const first = await persisted(root, stateDir);
    await first.save();
    first.dispose();
    writeFileSync(join(root, 'a.ts'), 'export function omega(): void {}\n');
    utimesSync(join(root, 'a.ts'), now, now);
    expect(statSync(join(root, 'a.ts')).mtimeMs).toBe(stamped);
    const second = await persisted(root, stateDir);
    expect(second.cacheCounts).toMatchObject({ read: 1, fromCache: 0 });
    expect(second.lookup('omega')).toHaveLength(1);
    expect(second.lookup('alpha')).toEqual([]);
    second.dispose();
  });

  it("an open document's entry is saved by its hash and used only when the disk holds the same bytes", async () => {
    const root = tempWorkspace({ 'a.ts': 'export function onDisk(): void {}\n', 'b.ts': 'export function same(): void {}\n' });
    age(root, ['a.ts', 'b.ts']);
    const stateDir = tempState();
    const texts = new Map([
      [join(root, 'a.ts'), 'export function unsaved(): void {}\n'],
      [join(root, 'b.ts'), 'export function same(): void {}\n'],
    ]);
    const first = await persisted(root, stateDir, logger().log, (abs) => (texts.has(abs) ? { text: texts.get(abs)! } : undefined));
    expect(first.lookup('unsaved')).toHaveLength(1);
    await first.save();
    first.dispose();
    const second = await persisted(root, stateDir);
    expect(second.cacheCounts).toMatchObject({ read: 1, fromCache: 1, verified: 1 });
    expect(second.lookup('onDisk')).toHaveLength(1);
    expect(second.lookup('unsaved')).toEqual([]);
    expect(second.lookup('same')).toHaveLength(1);
    await second.save();
    second.dispose();
    // Opened unchanged over a record read from disk: the record keeps the disk's stamp, so the
    // next start trusts the file's size and mtime again without reading it.
    const withOpen = await persisted(root, stateDir, logger().log, (abs) => (abs === join(root, 'b.ts') ? { text: 'export function same(): void {}\n' } : undefined));
    expect(withOpen.cacheCounts).toMatchObject({ read: 0, fromCache: 2 });
    await withOpen.save();
    withOpen.dispose();
    const third = await persisted(root, stateDir);
    expect(third.cacheCounts).toEqual({ fromCache: 2, verified: 0, read: 0, saves: 0 });
    third.dispose();
  });

  it('a saved record never adds a file the walk does not index (excluded, ignored, or over the limits)', async () => {
    const { root, stateDir } = await savedOnce({ 'src/a.ts': 'export function kept(): void {}\n', 'gen/b.ts': 'export function generated(): void {}\n' });
    const workspace = new Workspace([root]);
    const index = new WorkspaceIndex({ parse: (l, t) => pool.parseNow(l, t), relativePath: (abs) => workspace.relativePath(abs), logger: logger().log, sliceMs: 50, persist: { stateDir } });
    await index.build([root], { ...LIMITS, exclude: ['gen/**'] });
    await index.idle();
    expect(index.lookup('generated')).toEqual([]);
    expect(index.lookup('kept')).toHaveLength(1);
    expect(index.cacheCounts).toMatchObject({ fromCache: 1, read: 0 });
    // Over the size limit now: skipped as a read file would be.
    const small = new WorkspaceIndex({ parse: (l, t) => pool.parseNow(l, t), relativePath: (abs) => workspace.relativePath(abs), logger: logger().log, sliceMs: 50, persist: { stateDir } });
    await small.build([root], { ...LIMITS, maxFileBytes: 10 });
    await small.idle();
    expect(small.stats().files).toBe(0);
    index.dispose();
    small.dispose();
  });

  it('a damaged cache costs a re-read and one log line; the server-side save happens by itself once idle', async () => {
    const { root, stateDir } = await savedOnce(FILES);
    const dir = storeDir(stateDir, root);
    for (const n of shardFiles(dir)) writeFileSync(join(dir, n), 'garbage');
    const { log, lines } = logger();
    const second = await persisted(root, stateDir, log);
    expect(second.cacheCounts).toMatchObject({ read: 5, fromCache: 0 });
    expect(second.lookup('parseOrder')).toHaveLength(1);
    expect(lines).toHaveLength(1);
    for (const f of Object.values(FILES)) for (const l of f.split('\n')) if (l.length > 8) expect(lines[0]).not.toContain(l);
    // No explicit save: the index writes what changed a moment after going idle.
    await until(() => second.cacheCounts.saves > 0, 'the index to save itself');
    expect(second.cacheCounts.saves).toBe(1);
    second.dispose();
    const third = await persisted(root, stateDir);
    expect(third.cacheCounts).toMatchObject({ read: 0, fromCache: 5 });
    third.dispose();
  });

  it('a record that passes its checksum but does not unpack: one line when a request first reads it, and its file is read again', async () => {
    const { root, stateDir } = await savedOnce(FILES);
    const dir = storeDir(stateDir, root);
    const mine = (l: string) => l.startsWith('["src/orders.ts"');
    for (const n of shardFiles(dir)) {
      const [header, , ...recs] = readFileSync(join(dir, n), 'utf8').split('\n').filter((l) => l.length > 0);
      if (recs.some(mine)) writeFileSync(join(dir, n), shardText(header!, recs.map((l) => (mine(l) ? l.replace('"kind":"function"', '"kind":"macro"') : l))));
    }
    const { log, lines } = logger();
    const second = await persisted(root, stateDir, log);
    // Loading does not unpack: nothing is found wrong yet.
    expect(second.cacheCounts).toMatchObject({ fromCache: 5, read: 0 });
    expect(lines).toEqual([]);
    expect(second.lookup('parseOrder')).toEqual([]);
    expect(lines).toEqual([expect.stringMatching(/^\[warn\] context: index record of src\/orders\.ts cannot be read \(bad definition\); indexing the file again$/)]);
    await second.idle();
    expect(second.lookup('parseOrder').map((s) => s.path)).toEqual(['src/orders.ts']);
    expect(second.cacheCounts.read).toBe(1);
    expect(lines).toHaveLength(1);
    second.dispose();
  });

  it('an unwritable state directory leaves a working index in memory', async () => {
    const root = tempWorkspace(FILES);
    const parent = tempState();
    writeFileSync(join(parent, 'state'), '');
    const { log, lines } = logger();
    const index = await persisted(root, join(parent, 'state'), log);
    await index.save();
    await index.save();
    expect(index.lookup('parseOrder')).toHaveLength(1);
    expect(index.stats().files).toBe(5);
    expect(lines).toEqual([expect.stringMatching(/cannot be written \(ENOTDIR\); the index is kept in memory only/)]);
    expect(existsSync(join(parent, 'state', 'index'))).toBe(false);
    index.dispose();
  });
});
