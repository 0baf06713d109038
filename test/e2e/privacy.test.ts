// Privacy proven on the wire across every task: a recording fake cloud, first on every route,
// gets no request at all when air-gapped, no byte of an onPremOnly file, and no planted secret.
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { SECRETS } from '../plantedSecrets.js';
import { INLINE_UNHURRIED } from '../wait.js';
import { failure, RESOLVE_CAPS, startServer } from './servers.js';

/** Text that only the protected file holds. */
const MARK = 'protectedMarker7f3a';
const KEYS = [`export function helper(n: number): number {`, `  const ${MARK} = n * 31;`, `  return ${MARK} ^ 0x5bd1;`, '}', ''].join('\n');
/** A file that is not protected but holds a secret of every kind, and uses the protected helper. */
const APP = [
  "import { helper } from '../secrets/keys.js';",
  '',
  'export function total(items: number[]): number {',
  '  return items.reduce((a, b) => a + helper(b), 0);',
  '}',
  '',
  'export function settings() {',
  ...SECRETS.map(([, line]) => `  ${line.replace(/\n/g, '\n  ')}`),
  '}',
  '',
].join('\n');
const USE = ["import { total } from './app.js';", '', 'export const sum = total([1, 2]);', ''].join('\n');

const fakes: FakeVllm[] = [];
let client: LspClient | undefined;

afterEach(async () => {
  await client?.stop();
  client = undefined;
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

/** Files and symbolic links (path -> target as written in the link) under a new directory. */
interface Layout {
  files: Record<string, string>;
  links?: Record<string, string>;
}

const STANDARD: Layout = { files: { 'secrets/keys.ts': KEYS, 'src/app.ts': APP, 'src/use.ts': USE } };

function workspace(layout: Layout = STANDARD): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-privacy-')));
  for (const [rel, text] of Object.entries(layout.files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  for (const [rel, target] of Object.entries(layout.links ?? {})) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    symlinkSync(target, join(root, rel));
  }
  return root;
}

/** Every task a user can start on a document, each one awaited (its outcome does not matter here). */
async function everyTask(c: LspClient, uri: string, line: number): Promise<void> {
  const at = { line, character: 4 };
  const range = { start: at, end: at };
  await c.inline(uri, at).result.catch(() => undefined);
  const actions = (await c.request('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics: [{ range, message: 'Unexpected any.', severity: 1 }] } })) as any[];
  for (const a of actions) {
    if (a.command?.command === 'tandem.explain') await failure(c.request('workspace/executeCommand', a.command));
    else await failure(c.request('codeAction/resolve', a));
  }
  const whole = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  await failure(c.request('workspace/executeCommand', { command: 'tandem.edit', arguments: [{ uri, range: whole, instruction: 'tidy up', scope: 'file' }] }));
  await failure(c.request('workspace/executeCommand', { command: 'tandem.edit', arguments: [{ uri, range: whole, instruction: 'tidy up', scope: 'workspace' }] }));
  await failure(c.request('workspace/executeCommand', { command: 'tandem.compare', arguments: [{ uri, range }] }));
  await failure(c.request('workspace/executeCommand', { command: 'tandem.compare', arguments: [{ uri, range, backends: ['cloud', 'local'] }] }));
}

interface SetupOptions {
  layout?: Layout;
  /** The folder opened, relative to the layout's directory ('' = the directory itself); null: no folder at all. */
  folder?: string | null;
  /** Settings from the user's own file (TANDEM_CONFIG), beside the editor's. */
  user?: object;
  /** Documents the editor opens: path (relative to the layout's directory, or absolute) -> text. */
  open?: Record<string, string>;
  /** Runs on the layout's directory before the server starts. */
  prepare?: (root: string) => void;
}

async function setup(privacy: unknown, opts: SetupOptions = {}) {
  const root = workspace(opts.layout);
  opts.prepare?.(root);
  // The cloud answers nothing usable: each action is retried once, so it is asked twice as often.
  const cloud = await startFakeVllm({ model: 'big', respond: () => ({ text: 'no edit here' }) });
  const local = await startFakeVllm({ respond: () => ({ text: 'no edit here' }) });
  fakes.push(cloud, local);
  const folder = opts.folder === undefined ? '' : opts.folder;
  let userFile: string | undefined;
  if (opts.user) {
    userFile = join(mkdtempSync(join(tmpdir(), 'tandem-privacy-user-')), 'config.json');
    writeFileSync(userFile, JSON.stringify(opts.user));
  }
  const started = await startServer({
    init: {
      backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'big' }, local: { kind: 'vllm', url: local.url } },
      routes: { inline: ['cloud', 'local'], action: ['cloud', 'local'], multiFile: ['cloud', 'local'] },
      privacy,
      inline: INLINE_UNHURRIED,
    },
    rootUri: folder === null ? null : pathToFileURL(join(root, folder)).href,
    capabilities: { ...RESOLVE_CAPS, workspace: { workspaceEdit: { documentChanges: true, resourceOperations: ['create'] } } },
    onRequest: (m) => (m === 'workspace/applyEdit' ? { applied: false } : null),
    ...(userFile ? { env: { TANDEM_CONFIG: userFile } } : {}),
  });
  client = started.client;
  if (folder !== null) await client.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end');
  const uri = (rel: string) => pathToFileURL(isAbsolute(rel) ? rel : join(root, rel)).href;
  for (const [rel, text] of Object.entries(opts.open ?? { 'secrets/keys.ts': KEYS, 'src/app.ts': APP })) client.open(uri(rel), 'typescript', text);
  return { cloud, local, c: client, uri, root };
}

const posts = (f: FakeVllm) => f.requests.filter((r) => r.method === 'POST');

/** The cloud got requests (so the check has something to check) and not one byte of `marker`; on-prem got it instead. */
function expectOnPremOnly(cloud: FakeVllm, local: FakeVllm, marker: string, opts: { cloudUsed?: boolean } = {}) {
  if (opts.cloudUsed !== false) expect(posts(cloud).length).toBeGreaterThan(0);
  expect(posts(local).filter((r) => r.rawBody.includes(marker)).length).toBeGreaterThan(0);
  for (const r of posts(cloud)) expect(r.rawBody).not.toContain(marker);
}

describe('privacy across every task, on the wire', () => {
  it('onPremOnly: the cloud never gets a byte of the protected file, whether it is edited or only imported; planted secrets of every kind never leave', async () => {
    const { cloud, local, c, uri } = await setup({ onPremOnly: ['secrets/**'] });
    await everyTask(c, uri('secrets/keys.ts'), 1);
    await everyTask(c, uri('src/app.ts'), 3);
    const sent = cloud.requests.filter((r) => r.method === 'POST');
    // Tasks on app.ts went to the cloud (so the check below has something to check) ...
    expect(sent.length).toBeGreaterThan(5);
    expect(sent.some((r) => r.rawBody.includes('export function total('))).toBe(true);
    // ... and the protected file's tasks, and the workspace edit that would have held it, went on-prem.
    expect(local.requests.filter((r) => r.method === 'POST' && r.rawBody.includes(MARK)).length).toBeGreaterThan(5);
    for (const r of sent) {
      expect(r.rawBody).not.toContain(MARK);
      expect(r.rawBody).not.toContain('secrets/keys.ts');
      for (const [kind, , secret] of SECRETS) expect(r.rawBody, `${kind} secret in ${r.path}`).not.toContain(secret);
    }
    expect(sent.some((r) => r.rawBody.includes('[REDACTED:'))).toBe(true);
  });

  it('air-gapped: the cloud gets no request at all, probes and model discovery included, across every task', async () => {
    const { cloud, local, c, uri } = await setup({ airGapped: true });
    await everyTask(c, uri('src/app.ts'), 3);
    await everyTask(c, uri('secrets/keys.ts'), 1);
    // Probes go to every backend in one round: once the on-prem one has been probed, the cloud
    // one would have been too.
    await local.waitFor((r) => r.path === '/health');
    expect(cloud.requests).toEqual([]);
    expect(local.requests.filter((r) => r.method === 'POST').length).toBeGreaterThan(5);
  });
});

/** A file that uses the protected helper through an import the context stage resolves. */
const VIA = (from: string) => [`import { helper } from '${from}';`, '', 'export function twice(n: number): number {', '  return helper(n) + helper(n);', '}', ''].join('\n');

describe('privacy rules that a path\'s spelling cannot dodge (security findings 4-6)', () => {
  it('a symbolic link to a protected file, one to its directory, and an import through the linked directory: matched on the real path', async () => {
    const layout: Layout = {
      files: { 'secrets/keys.ts': KEYS, 'src/via.ts': VIA('../aaa/keys.js') },
      links: { 'src/keys-link.ts': '../secrets/keys.ts', aaa: 'secrets' },
    };
    const { cloud, local, c, uri } = await setup({ onPremOnly: ['**/secrets/**'] }, { layout, open: { 'src/keys-link.ts': KEYS, 'aaa/keys.ts': KEYS, 'src/via.ts': VIA('../aaa/keys.js') } });
    await everyTask(c, uri('src/keys-link.ts'), 1);
    await everyTask(c, uri('aaa/keys.ts'), 1);
    await everyTask(c, uri('src/via.ts'), 3);
    expectOnPremOnly(cloud, local, MARK);
    // The import was resolved (through `aaa`) and its definition went where it may: on-prem, beside via.ts.
    expect(posts(local).some((r) => r.rawBody.includes('export function twice(') && r.rawBody.includes(MARK))).toBe(true);
  });

  it('a differently-cased URI on a case-insensitive file system', async () => {
    // What a case-insensitive file system answers, on this case-sensitive one: the folder's name
    // with its case flipped is the same directory. The server's own detection finds that out.
    const flip = (root: string) => symlinkSync(basename(root), join(dirname(root), [...basename(root)].map((ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase())).join('')));
    const { cloud, local, c, uri } = await setup({ onPremOnly: ['**/secrets/**'] }, { prepare: flip, layout: { files: { 'secrets/keys.ts': KEYS, 'src/app.ts': APP } }, open: { 'Secrets/keys.ts': KEYS, 'src/app.ts': APP } });
    await everyTask(c, uri('Secrets/keys.ts'), 1);
    await everyTask(c, uri('src/app.ts'), 3);
    expectOnPremOnly(cloud, local, MARK);
  });

  it('the folder opened at the protected directory itself', async () => {
    const { cloud, local, c, uri } = await setup({ onPremOnly: ['**/secrets/**'] }, { folder: 'secrets', layout: { files: { 'secrets/keys.ts': KEYS, 'secrets/plain.ts': APP } }, open: { 'secrets/keys.ts': KEYS } });
    await everyTask(c, uri('secrets/keys.ts'), 1);
    expectOnPremOnly(cloud, local, MARK, { cloudUsed: false });
    expect(posts(cloud)).toEqual([]);
  });
});

describe('text from outside the workspace folders (security finding 3)', () => {
  const OUTSIDE = 'outsideMarker51c2';
  const PASSWD = ['export const users = [', `  'root:x:0:0:${OUTSIDE}:/root:/bin/bash',`, '];', ''].join('\n');

  it('a file outside every folder, opened by the editor, is served on-prem only and is never context for a workspace file', async () => {
    const other = join(realpathSync(mkdtempSync(join(tmpdir(), 'tandem-outside-'))), 'passwd.ts');
    writeFileSync(other, PASSWD);
    const { cloud, local, c, uri } = await setup({}, { open: { 'src/app.ts': APP, [other]: PASSWD } });
    const explained = await failure(c.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: uri(other), range: { start: { line: 0, character: 0 }, end: { line: 2, character: 2 } } }] }));
    expect(explained).toBeUndefined();
    await everyTask(c, uri(other), 1);
    await everyTask(c, uri('src/app.ts'), 3);
    expectOnPremOnly(cloud, local, OUTSIDE);
    // Not even as context of a workspace file, on-prem included.
    for (const r of posts(local).filter((x) => x.rawBody.includes('export function total('))) expect(r.rawBody).not.toContain(OUTSIDE);
  });

  it('privacy.allowOutsideWorkspace from the user\'s own file lets it go to the cloud', async () => {
    const other = join(realpathSync(mkdtempSync(join(tmpdir(), 'tandem-outside-'))), 'passwd.ts');
    writeFileSync(other, PASSWD);
    const { cloud, local, c, uri } = await setup({}, { user: { privacy: { allowOutsideWorkspace: true } }, open: { [other]: PASSWD } });
    await failure(c.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: uri(other), range: { start: { line: 0, character: 0 }, end: { line: 2, character: 2 } } }] }));
    expect(posts(cloud).filter((r) => r.rawBody.includes(OUTSIDE))).toHaveLength(1);
    expect(posts(local)).toEqual([]);
  });

  it('with no folder open at all, every file counts as outside: nothing goes to the cloud', async () => {
    const { cloud, local, c, uri } = await setup({}, { folder: null, open: { 'src/app.ts': APP } });
    await everyTask(c, uri('src/app.ts'), 3);
    expect(posts(cloud)).toEqual([]);
    expect(posts(local).some((r) => r.rawBody.includes('export function total('))).toBe(true);
  });
});
