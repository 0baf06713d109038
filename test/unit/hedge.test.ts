// Hedged requests: the delay (adaptive, fixed, off), the race between a silent backend and the
// route's next one, who wins, what is aborted and what health hears. Time is vitest's fake clock.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BackendFailure, Outcome } from '../../server/src/models/types.js';
import { HEDGE_CAP_MS, HEDGE_FLOOR_MS, HEDGE_INITIAL_MS, Hedger, type HedgeLeg } from '../../server/src/router/hedge.js';
import { resolveConfig } from '../../server/src/config/load.js';
import { CancelledError } from '../../server/src/util/abort.js';
import { LogHub } from '../../server/src/util/logger.js';

type Answer = { text: string };

/** A leg the test drives: it streams tokens and ends when told (or when its signal aborts). */
function leg(backend: string) {
  let end!: (o: Outcome<Answer>) => void;
  let token!: () => void;
  const state = { backend, started: false, signal: undefined as AbortSignal | undefined, claimed: 0 };
  const l: HedgeLeg<Answer> & { state: typeof state; token(): void; answer(text: string): void; fail(kind: BackendFailure['kind']): void } = {
    backend,
    state,
    run(signal, t) {
      state.started = true;
      state.signal = signal;
      token = t;
      return new Promise((resolve) => {
        end = resolve;
        // What a backend does when its signal aborts: a `cancelled` failure.
        signal.addEventListener('abort', () => resolve({ ok: false, failure: { kind: 'cancelled', message: `${backend} cancelled` } }), { once: true });
      });
    },
    token: () => token(),
    answer: (text) => end({ ok: true, value: { text } }),
    fail: (kind) => end({ ok: false, failure: { kind, message: `${kind} at ${backend}` } }),
  };
  return l;
}

function setup() {
  const reports: [string, BackendFailure][] = [];
  const hub = new LogHub('debug');
  const lines: string[] = [];
  hub.addSink({ write: (_l, line) => lines.push(line) });
  const hedger = new Hedger((name, f) => reports.push([name, f]), hub.logger('hedge'), () => Date.now());
  return { hedger, reports, lines };
}

const usable = (a: Answer) => a.text !== '';
/** Lets settled promises run their callbacks (the fake clock does not move). */
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Hedger.delayFor', () => {
  it('adaptive: the initial delay until five first tokens are known, then their p95 within floor and cap, at most half the deadline', async () => {
    const { hedger } = setup();
    expect(hedger.delayFor('a', undefined, 2000)).toBe(HEDGE_INITIAL_MS);
    expect(hedger.delayFor('a', 'adaptive', 400)).toBe(200);
    const ttft = async (ms: number) => {
      const a = leg('a');
      const done = hedger.race(a, undefined, undefined, new AbortController().signal, usable);
      await vi.advanceTimersByTimeAsync(ms);
      a.token();
      a.token(); // only the first piece is a first-token time
      a.answer('x');
      await done;
    };
    for (const ms of [200, 210, 220, 230]) await ttft(ms);
    expect(hedger.delayFor('a', 'adaptive', 2000)).toBe(HEDGE_INITIAL_MS);
    await ttft(240);
    expect(hedger.delayFor('a', 'adaptive', 2000)).toBe(240);
    // The last 100 first tokens count: older ones leave the window.
    for (let i = 0; i < 100; i++) await ttft(10);
    expect(hedger.delayFor('a', 'adaptive', 2000)).toBe(HEDGE_FLOOR_MS);
    for (let i = 0; i < 100; i++) await ttft(900);
    expect(hedger.delayFor('a', 'adaptive', 2000)).toBe(HEDGE_CAP_MS);
    expect(hedger.delayFor('b', 'adaptive', 2000)).toBe(HEDGE_INITIAL_MS);
  });

  it('a fixed number is used as given, "off" never hedges, and the snapshot lists both', () => {
    const { hedger } = setup();
    expect(hedger.delayFor('a', 0, 2000)).toBe(0);
    expect(hedger.delayFor('a', 700, 2000)).toBe(700);
    expect(hedger.delayFor('a', 'off', 2000)).toBeUndefined();
    const r = resolveConfig([{ origin: 'test', trust: 'user', data: { backends: { a: { kind: 'vllm', url: 'http://a:8000', hedgeMs: 'off' }, b: { kind: 'vllm', url: 'http://b:8000', hedgeMs: 80 }, c: { kind: 'vllm', url: 'http://c:8000' } } } }]);
    if (!r.ok) throw new Error(r.error);
    expect(hedger.snapshot(r.config)).toEqual({ started: 0, won: {}, delayMs: { b: 80, c: HEDGE_INITIAL_MS } });
  });
});

describe('Hedger.race', () => {
  it('a first backend that answers within its delay is never hedged', async () => {
    const { hedger } = setup();
    const a = leg('a');
    const next = vi.fn(async () => leg('b'));
    const done = hedger.race(a, next, 100, new AbortController().signal, usable);
    await vi.advanceTimersByTimeAsync(99);
    a.answer('from a');
    expect(await done).toEqual({ outcome: { ok: true, value: { text: 'from a' } }, backend: 'a', asked: ['a'] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(next).not.toHaveBeenCalled();
  });

  it('silent for the delay: the next backend is asked, its answer wins, the first is aborted and counted slow', async () => {
    const { hedger, reports, lines } = setup();
    const a = leg('a');
    const b = leg('b');
    const done = hedger.race(a, async () => b, 100, new AbortController().signal, usable);
    await vi.advanceTimersByTimeAsync(99);
    expect(b.state.started).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.state.started).toBe(true);
    b.answer('from b');
    expect(await done).toEqual({ outcome: { ok: true, value: { text: 'from b' } }, backend: 'b', asked: ['a', 'b'] });
    expect(a.state.signal!.aborted).toBe(true);
    expect(a.state.signal!.reason).toBeInstanceOf(CancelledError);
    expect(b.state.signal!.aborted).toBe(false);
    expect(reports).toEqual([['a', expect.objectContaining({ kind: 'slow', message: expect.stringContaining('sent no first token for 100 ms; b answered first') })]]);
    expect(hedger.snapshot(resolveConfigOf(['a', 'b']))).toMatchObject({ started: 1, won: { b: 1 } });
    expect(lines.join('\n')).toMatch(/hedge: a sent no first token for 100 ms; asking b too[\s\S]*hedge: b won after 100 ms; a aborted, no token/);
  });

  it('every streamed piece of the first backend starts its silence over; a stall mid-answer is hedged too', async () => {
    const { hedger, reports } = setup();
    const a = leg('a');
    const b = leg('b');
    const done = hedger.race(a, async () => b, 100, new AbortController().signal, usable);
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(90);
      a.token();
    }
    expect(b.state.started).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    expect(b.state.started).toBe(true);
    b.answer('from b');
    expect((await done).backend).toBe('b');
    expect(reports[0]![1].message).toContain('sent no further token for 100 ms');
  });

  it('the first backend may still win the race; then the hedge is aborted and nobody is counted slow', async () => {
    const { hedger, reports } = setup();
    const a = leg('a');
    const b = leg('b');
    const done = hedger.race(a, async () => b, 50, new AbortController().signal, usable);
    await vi.advanceTimersByTimeAsync(50);
    a.answer('from a');
    expect((await done).backend).toBe('a');
    expect(b.state.signal!.aborted).toBe(true);
    expect(reports).toEqual([]);
    expect(hedger.snapshot(resolveConfigOf(['a', 'b']))).toMatchObject({ started: 1, won: { a: 1 } });
  });

  it('a failure before the delay ends the race at once (the caller fails over); the next backend is not planned', async () => {
    const { hedger } = setup();
    const a = leg('a');
    const next = vi.fn(async () => leg('b'));
    const done = hedger.race(a, next, 100, new AbortController().signal, usable);
    a.fail('server');
    expect(await done).toEqual({ outcome: { ok: false, failure: { kind: 'server', message: 'server at a' } }, backend: 'a', asked: ['a'] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(next).not.toHaveBeenCalled();
  });

  it('one leg failing leaves the race to the other; an unusable answer waits for a usable one, and beats failures', async () => {
    const { hedger, reports } = setup();
    /** A race whose hedge has just started. */
    const hedged = async () => {
      const a = leg('a');
      const b = leg('b');
      const done = hedger.race(a, async () => b, 10, new AbortController().signal, usable);
      await vi.advanceTimersByTimeAsync(10);
      return { a, b, done };
    };
    // The first fails after the hedge started: the hedge's answer is taken, and the first backend is
    // not counted slow on top of its own failure.
    let r = await hedged();
    r.a.fail('server');
    await flush();
    r.b.answer('from b');
    expect(await r.done).toMatchObject({ backend: 'b', outcome: { ok: true } });
    expect(reports).toEqual([]);
    // The hedge fails: the first backend's late answer is still taken.
    r = await hedged();
    r.b.fail('unreachable');
    await flush();
    r.a.answer('late a');
    expect(await r.done).toMatchObject({ backend: 'a', outcome: { ok: true } });
    // The first answers with nothing worth showing: the hedge's answer wins.
    r = await hedged();
    r.a.answer('');
    await flush();
    expect(r.b.state.signal!.aborted).toBe(false);
    r.b.answer('from b');
    expect(await r.done).toMatchObject({ backend: 'b', outcome: { ok: true, value: { text: 'from b' } } });
    // Nothing usable at all: the empty answer, not the failure.
    r = await hedged();
    r.a.answer('');
    await flush();
    r.b.fail('timeout');
    expect(await r.done).toEqual({ outcome: { ok: true, value: { text: '' } }, backend: 'a', asked: ['a', 'b'] });
    // Both fail: the latest failure, with every backend asked.
    r = await hedged();
    r.a.fail('timeout');
    await flush();
    r.b.fail('server');
    expect(await r.done).toEqual({ outcome: { ok: false, failure: { kind: 'server', message: 'server at b' } }, backend: 'b', asked: ['a', 'b'] });
  });

  it('no other backend may serve, or its slot is taken: no hedge, the first backend keeps the request', async () => {
    const { hedger, lines } = setup();
    let a = leg('a');
    let done = hedger.race(a, async () => undefined, 10, new AbortController().signal, usable);
    await vi.advanceTimersByTimeAsync(10);
    a.answer('from a');
    expect((await done).asked).toEqual(['a']);
    expect(lines.join('\n')).toContain('hedge: a silent for 10 ms; no other backend of the route may serve now');
    a = leg('a');
    const b = leg('b');
    done = hedger.race(a, async () => ({ ...b, claim: () => false }), 10, new AbortController().signal, usable);
    await vi.advanceTimersByTimeAsync(10);
    a.answer('from a');
    expect((await done).asked).toEqual(['a']);
    expect(b.state.started).toBe(false);
    expect(hedger.snapshot(resolveConfigOf(['a']))).toMatchObject({ started: 0, won: {} });
  });

  it('a hedge no longer needed when its planning ends is never started, and its slot never claimed', async () => {
    const { hedger } = setup();
    const a = leg('a');
    const b = leg('b');
    let planned!: () => void;
    const claim = vi.fn(() => true);
    const done = hedger.race(
      a,
      () => new Promise<HedgeLeg<Answer>>((resolve) => (planned = () => resolve({ ...b, claim }))),
      10,
      new AbortController().signal,
      usable,
    );
    await vi.advanceTimersByTimeAsync(10);
    a.answer('from a');
    expect((await done).backend).toBe('a');
    planned();
    await flush();
    expect(claim).not.toHaveBeenCalled();
    expect(b.state.started).toBe(false);
  });

  it("the caller's cancellation aborts both legs with its reason", async () => {
    const { hedger } = setup();
    const a = leg('a');
    const b = leg('b');
    const ctrl = new AbortController();
    const done = hedger.race(a, async () => b, 10, ctrl.signal, usable);
    await vi.advanceTimersByTimeAsync(10);
    const reason = new CancelledError('superseded');
    ctrl.abort(reason);
    const r = await done;
    expect(r.outcome).toMatchObject({ ok: false, failure: { kind: 'cancelled' } });
    expect(a.state.signal!.reason).toBe(reason);
    expect(b.state.signal!.reason).toBe(reason);
  });

  it('a bug while planning the hedge rejects the race and aborts the first leg', async () => {
    const { hedger } = setup();
    const a = leg('a');
    const done = hedger.race(a, async () => { throw new TypeError('bug'); }, 10, new AbortController().signal, usable);
    const caught = done.catch((e) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await caught).toBeInstanceOf(TypeError);
    expect(a.state.signal!.aborted).toBe(true);
  });
});

function resolveConfigOf(names: string[]) {
  const r = resolveConfig([{ origin: 'test', trust: 'user', data: { backends: Object.fromEntries(names.map((n) => [n, { kind: 'vllm', url: `http://${n}:8000` }])) } }]);
  if (!r.ok) throw new Error(r.error);
  return r.config;
}
