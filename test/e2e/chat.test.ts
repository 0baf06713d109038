// Chat over stdio (tandem/chat, tandem/chatModels, tandem/countTokens) against the fakes: streaming,
// tool calls both ways, cancel, failover, privacy (a recording fake cloud), bad input.
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type RecordedRequest, type Reply } from '../fake/vllm.js';
import type { LspClient } from '../lsp-client.js';
import { SECRETS } from '../plantedSecrets.js';
import { failure, startServer, stopChecked, type Started } from './servers.js';

const fakes: { close(): Promise<void> }[] = [];
let client: LspClient | undefined;

afterEach(async () => {
  await stopChecked(client, fakes);
  client = undefined;
});

function workspace(files: Record<string, string>): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-chat-')));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

async function vllm(respond: (req: RecordedRequest) => Reply | Promise<Reply>, opts: Parameters<typeof startFakeVllm>[0] = {}): Promise<FakeVllm> {
  const f = await startFakeVllm({ respond, ...opts });
  fakes.push(f);
  return f;
}

async function start(init: unknown, root?: string, env?: Record<string, string>): Promise<Started> {
  const s = await startServer({ init, rootUri: root ? pathToFileURL(root).href : null, ...(env ? { env } : {}) });
  client = s.client;
  return s;
}

const chats = (f: FakeVllm) => f.requests.filter((r) => r.path === '/v1/chat/completions');
/** The $/progress values sent for one partial result token, in order. */
const progress = (c: LspClient, token: string) => c.notifications.filter((n) => n.method === '$/progress' && n.params?.token === token).map((n) => n.params.value);

describe('tandem/chat', () => {
  it('streams the answer as $/progress partial results, in order, and answers the whole result', async () => {
    const f = await vllm(() => ({ text: 'Hello from the fake model.', chunks: ['Hello', ' from', ' the fake', ' model.'] }));
    await start({ backends: { local: { kind: 'vllm', url: f.url } }, context: { enabled: false } });
    const r = await client!.request('tandem/chat', { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }], partialResultToken: 'p1' });
    expect(r).toMatchObject({ text: 'Hello from the fake model.', finishReason: 'stop', backend: 'local', location: 'onprem', model: 'Qwen/Qwen2.5-Coder-7B' });
    expect(r.usage.promptTokens).toBeGreaterThan(0);
    expect(progress(client!, 'p1').map((v: { text?: string }) => v.text)).toEqual(['Hello', ' from', ' the fake', ' model.']);
    const sent = chats(f)[0]!.body;
    expect(sent.messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }]);
    expect(sent.stream).toBe(true);
    expect(sent.tools).toBeUndefined();
  });
});
