// One client per configured backend, by kind: every kind of the contract is built, none is a placeholder.
import { describe, expect, it } from 'vitest';
import type { Backend, Config } from '../../server/src/config/schema.js';
import { LlamaCppBackend } from '../../server/src/models/llamacpp.js';
import { OllamaBackend } from '../../server/src/models/ollama.js';
import { OpenAICompatBackend } from '../../server/src/models/openaiCompat.js';
import { BackendRegistry } from '../../server/src/models/registry.js';
import { resolveConfig } from '../../server/src/config/load.js';
import { PrivacyGate } from '../../server/src/privacy/gate.js';
import { TgiBackend } from '../../server/src/models/tgi.js';
import { HEDGE_FLOOR_MS, HEDGE_INITIAL_MS, HEDGE_MIN_SAMPLES } from '../../server/src/router/hedge.js';
import { silentLogger } from '../../server/src/util/logger.js';

const b = (name: string, kind: Backend['kind'], url: string, location: Backend['location'] = 'onprem'): Backend => ({ name, kind, url, location });

/** A whole configuration around these backends (defaults for the rest). */
function withBackends(backends: Record<string, Backend>): Config {
  const data = Object.fromEntries(Object.values(backends).map(({ name, ...rest }) => [name, rest]));
  const r = resolveConfig([{ origin: 'test', trust: 'user', data: { backends: data, audit: { enabled: false } } }]);
  if (!r.ok) throw new Error(r.error);
  return r.config;
}

describe('BackendRegistry', () => {
  it('builds the client of each kind, each with info, complete, chat and probe', () => {
    const backends = {
      fim: b('fim', 'vllm', 'http://gpu:8000'),
      cloud: b('cloud', 'openai', 'https://api.openai.com/v1', 'cloud'),
      legacy: b('legacy', 'tgi', 'http://tgi:8080'),
      laptop: b('laptop', 'ollama', 'http://127.0.0.1:11434'),
      cpu: b('cpu', 'llamacpp', 'http://127.0.0.1:8081'),
    };
    const reg = new BackendRegistry(silentLogger(), { audit: false });
    reg.update(withBackends(backends));
    const classes: [string, unknown][] = [
      ['fim', OpenAICompatBackend],
      ['cloud', OpenAICompatBackend],
      ['legacy', TgiBackend],
      ['laptop', OllamaBackend],
      ['cpu', LlamaCppBackend],
    ];
    for (const [name, cls] of classes) {
      const backend = reg.get(name)!;
      // Every client sits behind the privacy gate.
      expect(backend).toBeInstanceOf(PrivacyGate);
      expect((backend as PrivacyGate).inner).toBeInstanceOf(cls as new (...a: never[]) => unknown);
      expect(typeof backend.chat).toBe('function');
      expect(typeof backend.probe).toBe('function');
      expect(backend.name).toBe(name);
    }
    expect(reg.get('laptop')!.url).toBe('http://127.0.0.1:11434');
  });

  it('rebuilds only the backends whose settings changed', () => {
    const reg = new BackendRegistry(silentLogger(), { audit: false });
    const first = { a: b('a', 'tgi', 'http://x:1'), c: b('c', 'ollama', 'http://y:2') };
    reg.update(withBackends(first));
    const a = reg.get('a');
    const c = reg.get('c');
    reg.update(withBackends({ a: first.a, c: b('c', 'llamacpp', 'http://y:2') }));
    expect(reg.get('a')).toBe(a);
    expect(reg.get('c')).not.toBe(c);
    expect((reg.get('c') as PrivacyGate).inner).toBeInstanceOf(LlamaCppBackend);
  });

  it("keeps a backend's first-token times across updates that leave it alone, and drops them when it changes or goes", async () => {
    const reg = new BackendRegistry(silentLogger(), { audit: false });
    const a = b('a', 'vllm', 'http://a:8000');
    const c = b('c', 'vllm', 'http://c:8000');
    reg.update(withBackends({ a, c }));
    // Five quick first tokens each: the adaptive delays leave the initial value for the floor.
    for (const name of ['a', 'c']) {
      for (let i = 0; i < HEDGE_MIN_SAMPLES; i++) {
        await reg.hedge.race({ backend: name, run: async (_s, token) => (token(), { ok: true, value: 'x' }) }, undefined, undefined, new AbortController().signal, () => true);
      }
    }
    const delay = (name: string) => reg.hedge.delayFor(name, 'adaptive', 2000);
    expect([delay('a'), delay('c')]).toEqual([HEDGE_FLOOR_MS, HEDGE_FLOOR_MS]);
    reg.update(withBackends({ a, c: { ...c, url: 'http://elsewhere:8000' } }));
    expect([delay('a'), delay('c')]).toEqual([HEDGE_FLOOR_MS, HEDGE_INITIAL_MS]);
    reg.update(withBackends({ c }));
    reg.update(withBackends({ a, c }));
    expect(delay('a')).toBe(HEDGE_INITIAL_MS);
  });
});
