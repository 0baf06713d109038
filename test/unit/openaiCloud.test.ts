// Kinds vllm and openai beyond FIM: streamed chat, probes, Azure OpenAI (deployment URL, api-version,
// api-key), key headers, caFile and proxy, against the loopback fake vLLM.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../server/src/config/schema.js';
import { azureTarget, OpenAICompatBackend } from '../../server/src/models/openaiCompat.js';
import { createBackend } from '../../server/src/models/registry.js';
import { isAzureUrl } from '../../server/src/models/transport.js';
import type { ChatRequest } from '../../server/src/models/types.js';
import { CancelledError } from '../../server/src/util/abort.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { startFakeVllm, type FakeVllm, type Reply } from '../fake/vllm.js';
import { capturingLogger, freePort, never, selfSignedCert, startProxy, startRewriter, startTlsTerminator, type Cert } from './backendKit.js';

const MODEL = 'Qwen/Qwen2.5-Coder-7B-Instruct';
let fake: FakeVllm;
beforeEach(async () => {
  fake = await startFakeVllm({ model: MODEL, maxModelLen: 16384 });
});
afterEach(async () => {
  await fake.close();
});

function backend(over: Partial<Backend> = {}, env: NodeJS.ProcessEnv = {}): OpenAICompatBackend {
  return new OpenAICompatBackend({ name: 'cloud', kind: 'openai', url: `${fake.url}/v1`, location: 'cloud', ...over }, { logger: silentLogger(), env });
}

const CHAT: ChatRequest = { messages: [{ role: 'system', content: 'You explain code.' }, { role: 'user', content: 'What does f do?' }], maxTokens: 200, temperature: 0.2 };
const chats = () => fake.requests.filter((r) => r.path === '/v1/chat/completions');

describe('chat', () => {
  it('streams deltas to onDelta and reports usage', async () => {
    fake.set({ respond: () => ({ text: 'f returns the answer.' }) });
    const deltas: string[] = [];
    const r = await backend({ model: MODEL }).chat({ ...CHAT, onDelta: (d, soFar) => deltas.push(`${d}|${soFar.length}`) }, never());
    expect(r).toEqual({ ok: true, value: { text: 'f returns the answer.', finishReason: 'stop', model: MODEL, usage: { promptTokens: 8, completionTokens: 6 } } });
    expect(deltas[0]).toBe('f re|4');
    expect(chats()[0]!.body).toMatchObject({ model: MODEL, messages: CHAT.messages, max_tokens: 200, temperature: 0.2, stream: true, stream_options: { include_usage: true } });
  });

  it('vLLM chat works the same (kind vllm, root URL)', async () => {
    fake.set({ respond: () => ({ text: 'ok' }) });
    const b = new OpenAICompatBackend({ name: 'chat', kind: 'vllm', url: fake.url, location: 'onprem' }, { logger: silentLogger(), env: {} });
    expect(await b.chat(CHAT, never())).toMatchObject({ ok: true, value: { text: 'ok', model: MODEL } });
  });

  it('errors: in-stream (both shapes), 429 with Retry-After, context length', async () => {
    const b = backend({ model: MODEL });
    fake.set({ respond: (): Reply => ({ streamError: { message: 'engine died', code: 500 }, after: 'f ' }) });
    expect(await b.chat(CHAT, never())).toEqual({ ok: false, failure: { kind: 'stream', message: `${fake.url}/v1 reported an error in the stream: engine died` } });
    fake.set({ respond: (): Reply => ({ streamError: { message: 'engine died' }, shape: 'flat' }) });
    expect(await b.chat(CHAT, never())).toMatchObject({ ok: false, failure: { kind: 'stream' } });
    fake.set({ respond: (): Reply => ({ status: 429, error: { message: 'Rate limit reached' }, headers: { 'retry-after': '7' } }) });
    expect(await b.chat(CHAT, never())).toMatchObject({ ok: false, failure: { kind: 'rate_limited', status: 429, retryAfterMs: 7000 } });
    fake.set({ maxModelLen: 50 });
    expect(await b.chat(CHAT, never())).toMatchObject({ ok: false, failure: { kind: 'context_length', limit: 50 } });
  });

  it('a chat cancelled in the middle of its stream closes the connection', async () => {
    fake.set({ respond: (): Reply => ({ text: 'x'.repeat(400) }), tokenIntervalMs: 10 });
    const ctrl = new AbortController();
    const pending = backend({ model: MODEL }).chat(CHAT, ctrl.signal);
    await fake.waitFor((r) => r.path === '/v1/chat/completions');
    setTimeout(() => ctrl.abort(new CancelledError()), 40);
    expect(await pending).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    await fake.waitFor((r) => r.path === '/v1/chat/completions' && r.closedAt !== null);
  });
});

describe('probe', () => {
  it('vllm: GET /health at the server root, not under /v1', async () => {
    const b = new OpenAICompatBackend({ name: 'fim', kind: 'vllm', url: `${fake.url}/v1`, location: 'onprem' }, { logger: silentLogger(), env: {} });
    const r = await b.probe(never());
    expect(r.ok && r.value.latencyMs >= 0).toBe(true);
    expect(fake.requests.map((q) => q.path)).toEqual(['/health']);
  });

  it('openai: GET /models with the key', async () => {
    expect((await backend({ apiKeyEnv: 'CLOUD_KEY' }, { CLOUD_KEY: 'sk-probe-1234567890' }).probe(never())).ok).toBe(true);
    expect(fake.requests.map((q) => [q.path, q.headers.authorization])).toEqual([['/v1/models', 'Bearer sk-probe-1234567890']]);
  });

  it('a failing probe is a failure value with the status', async () => {
    fake.set({ models: { status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } } } });
    expect(await backend().probe(never())).toEqual({ ok: false, failure: { kind: 'auth', status: 401, message: `${fake.url}/v1 answered 401: Incorrect API key provided` } });
    const port = await freePort();
    expect(await backend({ url: `http://127.0.0.1:${port}/v1` }).probe(never())).toEqual({ ok: false, failure: { kind: 'unreachable', message: `could not reach http://127.0.0.1:${port}/v1 (connection refused)` } });
  });
});

describe('Azure OpenAI', () => {
  it('recognises Azure by host, deployment path or api-version', () => {
    expect(isAzureUrl('https://acme.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-10-21')).toBe(true);
    expect(isAzureUrl('https://acme.cognitiveservices.azure.com/openai/v1')).toBe(true);
    expect(isAzureUrl('https://apim.acme.example/openai/deployments/gpt-4o')).toBe(true);
    expect(isAzureUrl('https://api.openai.com/v1')).toBe(false);
    expect(isAzureUrl('https://router.huggingface.co/v1')).toBe(false);
    expect(azureTarget('https://acme.openai.azure.com/openai/deployments/gpt%2D4o?api-version=2024-10-21')).toEqual({ deployment: 'gpt-4o', apiVersion: '2024-10-21' });
    expect(azureTarget('https://api.anthropic.com/v1')).toBeUndefined();
  });

  it('a deployment URL: api-version on every request, the key as api-key (no Bearer), the deployment as the model', async () => {
    fake.set({ model: 'gpt-4o', respond: () => ({ text: 'Explained.' }) });
    const gw = await startRewriter(fake.url, (p) => p.replace(/^\/openai\/deployments\/[^/]+/, '/v1').replace(/^\/openai\/models$/, '/v1/models'));
    try {
      const { logger, lines } = capturingLogger();
      const b = new OpenAICompatBackend(
        { name: 'azure', kind: 'openai', url: `${gw.url}/openai/deployments/gpt-4o?api-version=2024-10-21`, location: 'cloud', apiKeyEnv: 'AZURE_OPENAI_API_KEY' },
        { logger, env: { AZURE_OPENAI_API_KEY: 'azure-key-0123456789' } },
      );
      expect(await b.info(never())).toEqual({ ok: true, value: { id: 'gpt-4o', contextWindow: 8192, contextSource: 'default' } });
      expect(await b.chat(CHAT, never())).toMatchObject({ ok: true, value: { text: 'Explained.', model: 'gpt-4o' } });
      expect((await b.probe(never())).ok).toBe(true);
      expect(gw.seen.map((s) => [s.method, s.path, s.query])).toEqual([
        ['POST', '/openai/deployments/gpt-4o/chat/completions', 'api-version=2024-10-21'],
        ['GET', '/openai/models', 'api-version=2024-10-21'],
      ]);
      for (const s of gw.seen) {
        expect(s.headers['api-key']).toBe('azure-key-0123456789');
        expect(s.headers.authorization).toBeUndefined();
      }
      // Azure takes max_completion_tokens.
      expect(chats()[0]!.body).toMatchObject({ model: 'gpt-4o', max_completion_tokens: 200 });
      expect(chats()[0]!.body.max_tokens).toBeUndefined();
      expect(lines.join('\n')).not.toContain('azure-key-0123456789');
    } finally {
      await gw.close();
    }
  });

  it('maxContextTokens gives the window the API does not say', async () => {
    const b = backend({ url: 'https://acme.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-10-21', maxContextTokens: 128000 });
    expect(await b.info(never())).toEqual({ ok: true, value: { id: 'gpt-4o', contextWindow: 128000, contextSource: 'config' } });
  });
});

describe('other OpenAI-compatible clouds', () => {
  // The Hugging Face router, Anthropic's compatible endpoint and LiteLLM all take a Bearer key at a
  // /v1 base and may not list models usefully: the configured model is used when /models fails.
  const rows: [string, string][] = [
    ['Hugging Face router', 'HF_TOKEN'],
    ['Anthropic OpenAI-compatible endpoint', 'ANTHROPIC_API_KEY'],
    ['LiteLLM', 'LITELLM_KEY'],
  ];
  it.each(rows)('%s: Bearer from apiKeyEnv, configured model when /models refuses', async (_n, envName) => {
    fake.set({ model: 'claude-sonnet-4-5', respond: () => ({ text: 'done' }), models: { status: 404, body: { error: { message: 'Not Found' } } } });
    const b = backend({ model: 'claude-sonnet-4-5', apiKeyEnv: envName }, { [envName]: 'key-abcdefghijklmnop' });
    expect(await b.chat(CHAT, never())).toMatchObject({ ok: true, value: { text: 'done', model: 'claude-sonnet-4-5' } });
    expect(chats()[0]!.headers.authorization).toBe('Bearer key-abcdefghijklmnop');
    expect(chats()[0]!.headers['api-key']).toBeUndefined();
    // Not api.openai.com: the widely known max_tokens.
    expect(chats()[0]!.body.max_tokens).toBe(200);
  });
});

describe('headers', () => {
  it('no apiKeyEnv: no key header on chat and probe, even with OPENAI_API_KEY set; extra headers always', async () => {
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'sk-from-the-process-env';
    try {
      fake.set({ respond: () => ({ text: 'x' }) });
      const b = backend({ model: MODEL, headers: { 'X-Org-Route': 'eu' } }, { OPENAI_API_KEY: 'sk-leak' });
      await b.chat(CHAT, never());
      await b.probe(never());
      for (const r of fake.requests) {
        expect(r.headers.authorization).toBeUndefined();
        expect(r.headers['api-key']).toBeUndefined();
        expect(r.headers['x-org-route']).toBe('eu');
        expect(r.headers['x-tandem-user']).toBeUndefined();
      }
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
    }
  });
});

describe('trust and proxy for cloud backends', () => {
  let cert: Cert;
  beforeAll(() => {
    cert = selfSignedCert();
  });
  afterAll(() => cert.cleanup());

  it('caFile: chat over TLS to a server with a private CA; without it, refused before any request', async () => {
    const tls = await startTlsTerminator(fake.port, cert);
    try {
      fake.set({ respond: () => ({ text: 'secure' }) });
      expect(await backend({ url: `${tls.url}/v1`, model: MODEL, caFile: cert.certPath }).chat(CHAT, never())).toMatchObject({ ok: true, value: { text: 'secure' } });
      const r = await backend({ url: `${tls.url}/v1`, model: MODEL }).chat(CHAT, never());
      expect(r).toMatchObject({ ok: false, failure: { kind: 'unreachable' } });
      expect(!r.ok && r.failure.message).toMatch(/self[- ]signed certificate/);
      const missing = backend({ url: `${tls.url}/v1`, model: MODEL, caFile: '/nonexistent/corp-ca.pem' });
      const failure = { kind: 'unreachable', message: `backends.cloud.caFile: cannot read /nonexistent/corp-ca.pem (no such file), so ${tls.url}/v1 is not contacted` };
      expect(await missing.chat(CHAT, never())).toEqual({ ok: false, failure });
      expect(await missing.complete({ prompt: 'x', stop: [], maxTokens: 4, temperature: 0 }, never())).toEqual({ ok: false, failure });
      expect(await missing.probe(never())).toEqual({ ok: false, failure });
      expect(chats()).toHaveLength(1);
    } finally {
      await tls.close();
    }
  });

  it('HTTPS_PROXY: the SDK requests go through a CONNECT tunnel; NO_PROXY bypasses it', async () => {
    const tls = await startTlsTerminator(fake.port, cert);
    const proxy = await startProxy();
    try {
      fake.set({ respond: () => ({ text: 'tunnelled' }) });
      const env = { HTTPS_PROXY: proxy.url };
      expect(await backend({ url: `${tls.url}/v1`, model: MODEL, caFile: cert.certPath }, env).chat(CHAT, never())).toMatchObject({ ok: true, value: { text: 'tunnelled' } });
      expect(proxy.connects).toEqual([`127.0.0.1:${new URL(tls.url).port}`]);
      const direct = createBackend({ name: 'cloud', kind: 'openai', url: `${tls.url}/v1`, location: 'cloud', model: MODEL, caFile: cert.certPath }, { logger: silentLogger(), env: { ...env, NO_PROXY: '127.0.0.1' } });
      expect(await direct.chat!(CHAT, never())).toMatchObject({ ok: true });
      expect(proxy.connects).toHaveLength(1);
    } finally {
      await Promise.all([tls.close(), proxy.close()]);
    }
  });
});

describe("Anthropic's OpenAI-compatible endpoint", () => {
  it('the probe asks its native /v1/models with x-api-key and a version; chat keeps the Bearer key (through a proxy, names kept)', async () => {
    const cert = selfSignedCert(['api.anthropic.com']);
    const tls = await startTlsTerminator(fake.port, cert);
    const proxy = await startProxy();
    // The tunnel to api.anthropic.com:443 ends at the loopback TLS fake: nothing leaves the machine.
    proxy.route = () => `127.0.0.1:${new URL(tls.url).port}`;
    try {
      fake.set({ model: 'claude-sonnet-4-5', respond: () => ({ text: 'ok' }) });
      const b = createBackend(
        { name: 'claude', kind: 'openai', url: 'https://api.anthropic.com/v1', location: 'cloud', model: 'claude-sonnet-4-5', apiKeyEnv: 'ANTHROPIC_API_KEY', caFile: cert.certPath },
        { logger: silentLogger(), env: { ANTHROPIC_API_KEY: 'sk-ant-0123456789', HTTPS_PROXY: proxy.url } },
      );
      expect((await b.probe!(never())).ok).toBe(true);
      expect(await b.chat!(CHAT, never())).toMatchObject({ ok: true, value: { text: 'ok' } });
      expect(proxy.connects[0]).toBe('api.anthropic.com:443');
      const models = fake.requests.find((r) => r.path === '/v1/models' && r.headers['x-api-key'])!;
      expect(models.headers['anthropic-version']).toBe('2023-06-01');
      expect(models.headers['x-api-key']).toBe('sk-ant-0123456789');
      const chat = chats().at(-1)!;
      expect(chat.headers.authorization).toBe('Bearer sk-ant-0123456789');
      expect(chat.headers['x-api-key']).toBeUndefined();
    } finally {
      await Promise.all([tls.close(), proxy.close()]);
      cert.cleanup();
    }
  });
});
