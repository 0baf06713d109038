// The inline deadline as the server itself reports it: an outcome that its deadline ended says so
// (deadlineMs), a backend that fails fast does not, and tandem.stats counts the former. The
// end-to-end tests read this count instead of timing requests from outside.
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../server/src/config/load.js';
import type { Config } from '../../server/src/config/schema.js';
import { onInlineCompletion } from '../../server/src/features/inlineCompletion.js';
import { BackendRegistry } from '../../server/src/models/registry.js';
import { InlinePipeline } from '../../server/src/pipeline/inline.js';
import { Stats } from '../../server/src/stats.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { Workspace } from '../../server/src/workspace.js';
import { startFakeVllm, type FakeVllm, type Reply } from '../fake/vllm.js';
import { until } from '../wait.js';
import { openAt } from './fixtures.js';

let fake: FakeVllm | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function setup(reply: Reply, inline: Record<string, unknown>) {
  return (async () => {
    fake = await startFakeVllm({ respond: () => reply });
    const r = resolveConfig([{ origin: 'test', trust: 'user', data: { backends: { fim: { kind: 'vllm', url: fake.url } }, inline, context: { enabled: false }, audit: { enabled: false } } }]);
    if (!r.ok) throw new Error(r.error);
    const config: Config = r.config;
    const backends = new BackendRegistry(silentLogger(), { audit: false });
    backends.update(config);
    const pipeline = new InlinePipeline({ config: () => config, backends, workspace: new Workspace([]), logger: silentLogger() });
    const { doc, offset, store } = openAt('export function add(a: number, b: number): number {\n  ├\n}\n', 'typescript');
    return { pipeline, doc, position: doc.text.positionAt(offset), store };
  })();
}

describe('the inline deadline, as the pipeline reports it', () => {
  it('a backend that never answers: the deadline ends the request, says so, and closes the connection', async () => {
    const { pipeline, doc, position } = await setup({ hang: true }, { debounceMs: 0, deadlineMs: 200 });
    const outcome = await pipeline.complete({ doc, position });
    expect(outcome).toMatchObject({ kind: 'failed', failure: { kind: 'timeout' }, deadlineMs: 200 });
    // On a starved machine the deadline may even pass before the request is out; whatever reached
    // the server was cut off when it did.
    await until(() => fake!.requests.every((r) => r.finished || r.closedAt !== null), 'every request to the hanging server to be closed');
  });

  it('a deadline that passes during the debounce ends the request empty, and says so', async () => {
    const { pipeline, doc, position } = await setup({ text: 'return a + b;' }, { debounceMs: 300, deadlineMs: 50 });
    expect(await pipeline.complete({ doc, position })).toMatchObject({ kind: 'empty', deadlineMs: 50 });
    expect(fake!.completions()).toHaveLength(0);
  });

  it('a backend that fails fast ends the request without the deadline', async () => {
    const { pipeline, doc, position } = await setup({ status: 500, error: { message: 'boom' } }, { debounceMs: 0, deadlineMs: 60_000 });
    const outcome = await pipeline.complete({ doc, position });
    expect(outcome).toMatchObject({ kind: 'failed', failure: { kind: 'server' } });
    expect(outcome).not.toHaveProperty('deadlineMs');
  });

  it('a completion carries no deadline', async () => {
    const { pipeline, doc, position } = await setup({ text: 'return a + b;' }, { debounceMs: 0, deadlineMs: 60_000 });
    const outcome = await pipeline.complete({ doc, position });
    expect(outcome).toMatchObject({ kind: 'completion', text: 'return a + b;' });
    expect(outcome).not.toHaveProperty('deadlineMs');
  });

  it('tandem.stats counts the requests that their deadline ended, and only those', async () => {
    const { pipeline, doc, position, store } = await setup({ hang: true }, { debounceMs: 0, deadlineMs: 100 });
    const stats = new Stats();
    const deps = { documents: store, pipeline, stats, logger: silentLogger() };
    expect(await onInlineCompletion(deps, { textDocument: { uri: doc.uri }, position })).toEqual({ items: [] });
    fake!.set({ respond: () => ({ status: 500, error: { message: 'boom' } }) });
    expect(await onInlineCompletion(deps, { textDocument: { uri: doc.uri }, position })).toEqual({ items: [] });
    expect(stats.snapshot()).toMatchObject({ requests: 2, shown: 0, deadlineExpired: 1 });
  });
});
