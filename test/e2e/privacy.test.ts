// Privacy proven on the wire across every task: a recording fake cloud, first on every route,
// gets no request at all when air-gapped, no byte of an onPremOnly file, and no planted secret.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

function workspace(): string {
  const root = mkdtempSync(join(tmpdir(), 'tandem-privacy-'));
  for (const [rel, text] of Object.entries({ 'secrets/keys.ts': KEYS, 'src/app.ts': APP, 'src/use.ts': USE })) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
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

async function setup(privacy: unknown) {
  const root = workspace();
  // The cloud answers nothing usable: each action is retried once, so it is asked twice as often.
  const cloud = await startFakeVllm({ model: 'big', respond: () => ({ text: 'no edit here' }) });
  const local = await startFakeVllm({ respond: () => ({ text: 'no edit here' }) });
  fakes.push(cloud, local);
  const started = await startServer({
    init: {
      backends: { cloud: { kind: 'openai', url: `${cloud.url}/v1`, location: 'cloud', model: 'big' }, local: { kind: 'vllm', url: local.url } },
      routes: { inline: ['cloud', 'local'], action: ['cloud', 'local'], multiFile: ['cloud', 'local'] },
      privacy,
      inline: INLINE_UNHURRIED,
    },
    rootUri: pathToFileURL(root).href,
    capabilities: { ...RESOLVE_CAPS, workspace: { workspaceEdit: { documentChanges: true, resourceOperations: ['create'] } } },
    onRequest: (m) => (m === 'workspace/applyEdit' ? { applied: false } : null),
  });
  client = started.client;
  await client.waitForNotification((n) => n.method === '$/progress' && n.params?.value?.kind === 'end');
  const uri = (rel: string) => pathToFileURL(join(root, rel)).href;
  client.open(uri('secrets/keys.ts'), 'typescript', KEYS);
  client.open(uri('src/app.ts'), 'typescript', APP);
  return { cloud, local, c: client, uri };
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
