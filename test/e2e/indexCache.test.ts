// End to end: the workspace index kept on disk. A second CLI run reads only what changed since the
// first; a restarted server starts from what the first saved; the CLI starts from what a server
// saved; and a damaged or unwritable cache costs a re-read, never the answer.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, LspClient } from '../lsp-client.js';
import { SOURCES_UNHURRIED, until } from '../wait.js';

const FILES = 24;
let dir: string;
let root: string;
let state: string;
let clients: LspClient[] = [];
let configs = 0;

interface IndexCounts {
  files: number;
  fromCache: number;
  verified: number;
  read: number;
  saves: number;
}

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'home'), XDG_STATE_HOME: state, TANDEM_CONFIG: '', TANDEM_LOG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A config file: the context sources' budgets out of the way (a cold process on a loaded machine
 * overruns the defaults, and what a test asserts is the index, not their speed).
 */
function configFile(extra: Record<string, unknown> = {}): string {
  const f = join(dir, `config-${++configs}.json`);
  writeFileSync(f, JSON.stringify({ context: { sources: SOURCES_UNHURRIED }, ...extra }));
  return f;
}

/** `prompt --json` at the call in src/main.ts: the prompt and where the index came from. */
async function prompt(env: Record<string, string> = {}): Promise<{ prompt: string; index: IndexCounts }> {
  const r = await run(['prompt', `${join(root, 'src', 'main.ts')}:3:20`, '--workspace', root, '--config', configFile(), '--json'], env);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { prompt: string; index: IndexCounts };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tandem-idx-'));
  root = join(dir, 'ws');
  state = join(dir, 'state');
  mkdirSync(join(root, 'src'), { recursive: true });
  mkdirSync(join(root, '.git'));
  writeFileSync(join(root, 'src', 'orders.ts'), 'export function parseOrder(\n  raw: string,\n  strict = false,\n): number {\n  return raw.length;\n}\n');
  for (let i = 0; i < FILES - 2; i++) writeFileSync(join(root, 'src', `f${i}.ts`), `export function helper${i}(n: number): number {\n  return n + ${i};\n}\n`);
  writeFileSync(join(root, 'src', 'main.ts'), "import { parseOrder } from './orders';\n\nconst n = parseOrder(\n");
  // Files an hour old: their stamps are trusted by size and mtime (a file written in the second
  // it is read is checked by its content instead).
  const then = new Date(Date.now() - 3_600_000);
  for (const f of readdirSync(join(root, 'src'))) utimesSync(join(root, 'src', f), then, then);
});

afterEach(async () => {
  for (const c of clients.splice(0)) {
    await c.stop();
    expect(c.protocolErrors).toEqual([]);
  }
});

describe('the index kept on disk, from the command line', () => {
  it('a second run reads no file, a third only the one changed; the answer is the same', async () => {
    const first = await prompt();
    expect(first.index).toMatchObject({ files: FILES, fromCache: 0, read: FILES, saves: 1 });
    expect(first.prompt).toContain('export function parseOrder(\n  raw: string,\n  strict = false,\n): number {');

    const second = await prompt();
    expect(second.index).toMatchObject({ files: FILES, fromCache: FILES, read: 0, saves: 0 });
    expect(second.prompt).toBe(first.prompt);

    writeFileSync(join(root, 'src', 'orders.ts'), 'export function parseOrder(raw: string, currency: string): number {\n  return raw.length;\n}\n');
    const third = await prompt();
    expect(third.index).toMatchObject({ files: FILES, fromCache: FILES - 1, read: 1 });
    expect(third.prompt).toContain('export function parseOrder(raw: string, currency: string): number {');

    // The store: a 0700 directory of 0600 files under $XDG_STATE_HOME/tandem/index.
    const stores = readdirSync(join(state, 'tandem', 'index'));
    expect(stores).toHaveLength(1);
    const store = join(state, 'tandem', 'index', stores[0]!);
    expect(statSync(store).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(store)) expect(statSync(join(store, f)).mode & 0o777).toBe(0o600);
  });

  it('a damaged cache is rebuilt, and an unwritable state directory leaves the index in memory: the same answer, exit 0', async () => {
    const first = await prompt();
    const store = join(state, 'tandem', 'index', readdirSync(join(state, 'tandem', 'index'))[0]!);
    for (const f of readdirSync(store)) writeFileSync(join(store, f), '{"truncated": [');
    const damaged = await prompt();
    expect(damaged.index).toMatchObject({ fromCache: 0, read: FILES });
    expect(damaged.prompt).toBe(first.prompt);
    expect((await prompt()).index).toMatchObject({ fromCache: FILES, read: 0 });

    // A file where the state directory should be: said in one line (when asked for warnings).
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, '');
    const r = await run(['prompt', `${join(root, 'src', 'main.ts')}:3:20`, '--workspace', root, '--config', configFile(), '--json'], { XDG_STATE_HOME: blocked, TANDEM_LOG: 'warn' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ prompt: first.prompt, index: { read: FILES, saves: 0 } });
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^\[warn\] context: index cache .* cannot be written \(ENOTDIR\); the index is kept in memory only$/)]);
  });
});

describe('privacy with the index kept on disk', () => {
  it('an onPremOnly file is indexed and saved as before: its definition joins an on-prem prompt, never a cloud one, cold or warm', async () => {
    mkdirSync(join(root, 'src', 'secret'));
    writeFileSync(join(root, 'src', 'secret', 'vault.ts'), 'export function sealToken(secretKey: string, rounds: number): string {\n  return secretKey;\n}\n');
    writeFileSync(join(root, 'src', 'main.ts'), "import { parseOrder } from './orders';\nimport { sealToken } from './secret/vault';\nconst n = parseOrder(sealToken(\n");
    const config = (route: string) => configFile({ backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9', location: 'onprem', model: 'Qwen/Qwen2.5-Coder-7B' }, cloud: { kind: 'openai', url: 'http://127.0.0.1:9/v1', location: 'cloud', model: 'gpt-4o', apiKeyEnv: 'TANDEM_TEST_UNSET_KEY' } }, routes: { inline: [route] }, privacy: { onPremOnly: ['src/secret/**'] } });
    const ask = async (route: string) => {
      const r = await run(['prompt', `${join(root, 'src', 'main.ts')}:3:31`, '--workspace', root, '--config', config(route), '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { prompt: string; route: { backend: string }; index: IndexCounts };
    };
    const secret = 'export function sealToken(secretKey: string, rounds: number): string {';
    for (const pass of ['cold', 'warm']) {
      const cloud = await ask('cloud');
      expect(cloud.route.backend, pass).toBe('cloud');
      expect(cloud.prompt, pass).toContain('export function parseOrder(');
      expect(cloud.prompt, pass).not.toContain(secret);
      const onprem = await ask('fim');
      expect(onprem.route.backend, pass).toBe('fim');
      expect(onprem.prompt, pass).toContain(secret);
      if (pass === 'warm') expect(onprem.index).toMatchObject({ read: 0, fromCache: FILES + 1 });
    }
  });
});

describe('the index kept on disk, in the server', () => {
  async function server(): Promise<LspClient> {
    const c = new LspClient({ env: { XDG_CONFIG_HOME: join(dir, 'home'), XDG_STATE_HOME: state, TANDEM_CONFIG: '' } });
    clients.push(c);
    await c.initialize({ initializationOptions: { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:9' } } }, capabilities: { textDocument: { inlineCompletion: {} } }, workspaceFolders: [{ uri: pathToFileURL(root).href, name: 'ws' }] });
    return c;
  }
  const indexOf = async (c: LspClient) => ((await c.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] })) as { index: (IndexCounts & { finished: boolean }) | null }).index;

  it('a restarted server starts from what the first saved, and so does the command line', async () => {
    const a = await server();
    // The server saves by itself once indexing is idle.
    const saved = await until(async () => {
      const i = await indexOf(a);
      return i?.finished && i.saves > 0 ? i : undefined;
    }, 'the first server to save its index');
    expect(saved).toMatchObject({ files: FILES, read: FILES, fromCache: 0 });
    await a.stop();
    clients = clients.filter((c) => c !== a);

    const b = await server();
    const warm = await until(async () => {
      const i = await indexOf(b);
      return i?.finished && i.files === FILES ? i : undefined;
    }, 'the second server to finish indexing');
    expect(warm).toMatchObject({ files: FILES, fromCache: FILES, read: 0 });

    expect((await prompt()).index).toMatchObject({ files: FILES, fromCache: FILES, read: 0 });
  });
});
