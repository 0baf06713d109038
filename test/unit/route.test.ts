// Routing as a pure function: privacy first, then budget, size and health; the reason says why.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../server/src/config/load.js';
import { chooseBackend } from '../../server/src/router/route.js';

function config(privacy: Record<string, unknown> = {}) {
  const r = resolveConfig([{ origin: 'test', trust: 'user', data: {
    backends: {
      fim: { kind: 'vllm', url: 'http://gpu:8000' },
      chat: { kind: 'vllm', url: 'http://gpu:8001' },
      cloud: { kind: 'openai', url: 'https://api.example.com/v1', model: 'gpt-4o' },
    },
    routes: { inline: ['fim'], action: ['chat', 'cloud'], multiFile: ['cloud', 'chat'] },
    privacy,
  } }]);
  if (!r.ok) throw new Error(r.error);
  return r.config;
}

describe('chooseBackend', () => {
  it.each([
    ['multiFile', {}, ['src/a.ts'], {}, 'cloud', 'first backend of routes.multiFile'],
    ['multiFile', { airGapped: true }, ['src/a.ts'], {}, 'chat', 'fallback 2 of routes.multiFile (skipped cloud: cloud, air-gapped)'],
    ['multiFile', { onPremOnly: ['**/secrets/**'] }, ['src/a.ts', 'src/secrets/k.ts'], {}, 'chat', 'fallback 2 of routes.multiFile (skipped cloud: cloud, prompt holds src/secrets/k.ts (privacy.onPremOnly))'],
    ['multiFile', {}, ['src/a.ts'], { budgetExhausted: true }, 'chat', 'fallback 2 of routes.multiFile (skipped cloud: cloud, daily budget spent (budget.dailyUsd))'],
    ['action', {}, ['src/a.ts'], { isHealthy: (n: string) => n !== 'chat' }, 'cloud', 'fallback 2 of routes.action (skipped chat: unhealthy)'],
    ['action', {}, ['src/a.ts'], { promptTokens: 20_000, contextWindow: (n: string) => (n === 'chat' ? 8192 : 128_000) }, 'cloud', 'fallback 2 of routes.action (skipped chat: prompt of ~20000 tokens exceeds its context window of 8192)'],
    ['inline', { airGapped: true }, ['a.ts'], {}, 'fim', 'first backend of routes.inline'],
  ] as const)('%s with %j, sources %j, %j -> %s', (task, privacy, paths, inputs, backend, reason) => {
    const c = chooseBackend(config(privacy), task, [...paths], inputs);
    expect(c.backend).toBe(backend);
    expect(c.reason).toBe(reason);
  });

  it('names every reason when nothing may serve, and lists fallbacks otherwise', () => {
    const none = chooseBackend(config({ airGapped: true }), 'multiFile', ['a.ts'], { isHealthy: () => false });
    expect(none).toEqual({ backend: undefined, reason: 'no backend of routes.multiFile may serve: cloud: cloud, air-gapped; chat: unhealthy', fallbacks: [] });
    expect(chooseBackend(config(), 'multiFile', ['a.ts']).fallbacks).toEqual(['chat']);
  });
});
