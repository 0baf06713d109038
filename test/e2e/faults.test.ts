// The fault matrix of issue #4, end to end over stdio: every (fault, task) cell starts the built
// server with a faulty primary backend (a wire-exact fake) and, in the "backup" shape, a healthy
// second backend on the same route. Each request must answer within its deadline, the answer must
// come from the backup when there is one, the fault must be reported (tandem/status naming the
// backend as unhealthy, or the LSP error naming it when nothing else may serve), and once the
// breaker has opened the faulty backend gets no further request. An inline request whose primary
// falls silent is hedged to the backup instead of waiting for its deadline (router/hedge.ts).
//
// "Within its deadline" is what the server reports, not a stopwatch in the test (CI is a loaded
// 2-core machine): a fault that eats the deadline must end by that deadline (tandem.stats counts
// inline requests their deadline ended; the status names the timeout with its milliseconds; the
// fake sees the connection closed), and every other request must end without any deadline firing.
// Deadlines that are not the fault's to eat are set so long that only a stuck server reaches them.
//
// Tasks are drivers: a function that, given a started client, issues one request and returns its
// outcome. Adding a task is one entry in DRIVERS.
import { describe, expect, it } from 'vitest';
import { startFakeVllm, type FakeVllm, type Reply as VllmReply, type RecordedRequest } from '../fake/vllm.js';
import { startFakeOllama } from '../fake/ollama.js';
import { startFakeTgi } from '../fake/tgi.js';
import type { Reply as RecorderReply } from '../fake/recorder.js';
import type { LspClient } from '../lsp-client.js';
import { STUCK_MS, until } from '../wait.js';
import { block, breakerSurelyOpen, deadlinesExpired, RESOLVE_CAPS, startServer } from './servers.js';

/**
 * inline.deadlineMs where the fault eats it: it is waited out once per such cell, and it must leave
 * the healthy backup, on a starved machine, time to answer the requests that follow.
 */
const INLINE_DEADLINE_MS = 3000;
/**
 * backends.primary.timeoutMs where the fault eats it: the deadline of one non-inline request to
 * that backend. The action pipeline's own deadline (ACTION_DEADLINE_MS, 120 s, not configurable)
 * spans failover; what a faulty backend may cost an action is its timeoutMs.
 */
const BACKEND_TIMEOUT_MS = 500;
/** health.ts: three flaky failures (5xx, broken streams) in a row open the breaker. */
const FLAKY_THRESHOLD = 3;

type Outcome = { kind: 'text'; text: string } | { kind: 'empty' } | { kind: 'error'; code?: number; message: string };

interface Driver {
  name: string;
  /** The route the task goes by. */
  task: 'inline' | 'action' | 'multiFile';
  /** What ends a request that the fault leaves unanswered: inline.deadlineMs, or for chat tasks the faulty backend's timeoutMs. */
  deadlineMs: number;
  /** What the healthy backup answers; the outcome must then be `expected`. */
  backupReply: (req: RecordedRequest) => VllmReply;
  expected: string;
  /** Opens documents and waits until the task can be asked for. */
  prepare(c: LspClient): Promise<void>;
  /** Request number `i` (each distinct, so no cache answers it). */
  run(c: LspClient, i: number): Promise<Outcome>;
}

// --- Drivers ---------------------------------------------------------------------------------------

const INLINE_URI = 'file:///w/src/add.ts';
const INLINE_DOC = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const GEO_URI = 'file:///w/src/geo.ts';
const GEO_DOC = ['export function area(r: number): number {', '  if (r < 0) {', '    return 0;', '  }', '  return 3.14 * r * r;', '}', ''].join('\n');
const IN_BODY = { start: { line: 4, character: 4 }, end: { line: 4, character: 4 } };
const DOC_COMMENT = '/** The area of a circle of radius `r`; 0 for a negative radius. */';

/** Lists the actions under IN_BODY until the first parse has landed (listing reads the tree). */
async function offered(c: LspClient, id: string): Promise<any> {
  const list = async () => ((await c.request('textDocument/codeAction', { textDocument: { uri: GEO_URI }, range: IN_BODY, context: { diagnostics: [] } })) as any[]).find((a) => a.data?.id === id);
  return until(list, `action ${id} to be offered`);
}

const lspOutcome = async (p: Promise<unknown>, text: (r: any) => string): Promise<Outcome> => {
  try {
    return { kind: 'text', text: text(await p) };
  } catch (e) {
    const err = e as { code?: number; message: string };
    return { kind: 'error', code: err.code, message: err.message };
  }
};

/** The backup answers `text`, and the task's outcome is `expected` (by default that text). */
const answering = (text: string, expected = text) => ({ backupReply: () => ({ text }), expected });

/** Chat tasks on routes.action: what a faulty backend may cost them is its timeoutMs. */
const ACTION_ROUTE = { task: 'action', deadlineMs: BACKEND_TIMEOUT_MS } as const;

const inline: Driver = {
  name: 'inline',
  task: 'inline',
  deadlineMs: INLINE_DEADLINE_MS,
  // No timeoutMs (60 s by default, far above any inline deadline), as configured in practice: the
  // inline deadline is what ends a silent backend.
  ...answering('return a + b;'),
  async prepare(c) {
    c.open(INLINE_URI, 'typescript', INLINE_DOC);
  },
  async run(c, i) {
    // A keystroke before every request after the first: a new text, so the cache cannot answer.
    if (i > 0) c.change(INLINE_URI, i + 1, [{ range: { start: { line: 1, character: 1 + i }, end: { line: 1, character: 1 + i } }, text: ' ' }]);
    const res = await c.inline(INLINE_URI, { line: 1, character: 2 + i }).result;
    const text = res.items[0]?.insertText;
    return text === undefined ? { kind: 'empty' } : { kind: 'text', text };
  },
};

const documentAction: Driver = {
  name: 'action: document',
  ...ACTION_ROUTE,
  ...answering(block(['export function area(r: number): number {'], [DOC_COMMENT, 'export function area(r: number): number {']), `${DOC_COMMENT}\n`),
  async prepare(c) {
    c.open(GEO_URI, 'typescript', GEO_DOC);
    await offered(c, 'document');
  },
  async run(c) {
    const action = await offered(c, 'document');
    return lspOutcome(c.request('codeAction/resolve', action), (r) => r.edit.documentChanges[0].edits.map((e: { newText: string }) => e.newText).join(''));
  },
};

const explain: Driver = {
  name: 'action: tandem.explain',
  ...ACTION_ROUTE,
  ...answering('It computes **the area** of a circle.'),
  async prepare(c) {
    c.open(GEO_URI, 'typescript', GEO_DOC);
  },
  async run(c, i) {
    return lspOutcome(c.request('workspace/executeCommand', { command: 'tandem.explain', arguments: [{ uri: GEO_URI, range: IN_BODY }], workDoneToken: `explain-${i}` }), (r) => r.markdown);
  },
};

/** tandem.edit with scope "workspace": a multi-file edit, routed by routes.multiFile, applied via workspace/applyEdit. */
const workspaceEdit: Driver = {
  name: 'multiFile: tandem.edit workspace',
  ...ACTION_ROUTE,
  task: 'multiFile',
  // The multi-file answer format: the path of the file on the line before its block.
  ...answering(`src/geo.ts\n${block(['export function area(r: number): number {'], [DOC_COMMENT, 'export function area(r: number): number {'])}`, `${DOC_COMMENT}\n`),
  async prepare(c) {
    c.open(GEO_URI, 'typescript', GEO_DOC);
  },
  async run(c) {
    const before = c.serverRequests.length;
    const edit = (r: { applied: boolean }) => {
      const applied = c.serverRequests.slice(before).filter((q) => q.method === 'workspace/applyEdit');
      expect(r).toEqual({ applied: true });
      expect(applied).toHaveLength(1);
      return applied[0]!.params.edit.documentChanges.flatMap((d: { edits: { newText: string }[] }) => d.edits.map((e) => e.newText)).join('');
    };
    return lspOutcome(c.request('workspace/executeCommand', { command: 'tandem.edit', arguments: [{ uri: GEO_URI, range: IN_BODY, instruction: 'document area', scope: 'workspace' }] }), edit);
  },
};

const DRIVERS: Driver[] = [inline, documentAction, explain, workspaceEdit];

// --- Faults ----------------------------------------------------------------------------------------

type FakeKind = 'vllm' | 'ollama' | 'tgi';

interface Fault {
  name: string;
  /** Wire protocol of the faulty primary. */
  kind: FakeKind;
  /** The primary's answer to every generation request; 'refused' for a closed port. */
  reply: VllmReply | RecorderReply | 'refused';
  /** Delay between streamed pieces. */
  tokenIntervalMs?: number;
  /** Failures in a row that open the breaker (health.ts): 1 for a dead or silent server and a 429, 3 for flaky ones. */
  toOpen: number;
  /**
   * Only a deadline ends the fault: the whole inline deadline (nothing to fall over to within it;
   * that request answers empty, and the breaker sends the next one to the backup; with a backup the
   * silence is hedged instead), or for chat
   * tasks the backend's timeoutMs inside a much longer deadline, so they fall over within the same
   * request.
   */
  eatsDeadline?: boolean;
}

const PARTIAL = 'return a';
const FAULTS: Fault[] = [
  { name: 'connection refused', kind: 'vllm', reply: 'refused', toOpen: 1 },
  { name: 'HTTP 500', kind: 'vllm', reply: { status: 500, error: { message: 'CUDA error: an illegal memory access was encountered' } }, toOpen: FLAKY_THRESHOLD },
  { name: 'HTTP 503', kind: 'vllm', reply: { status: 503, error: { message: 'The server is overloaded' } }, toOpen: FLAKY_THRESHOLD },
  // A 429 cools the backend down for its Retry-After at once.
  { name: 'HTTP 429 + Retry-After', kind: 'vllm', reply: { status: 429, error: { message: 'Too many requests' }, headers: { 'retry-after': '30' } }, toOpen: 1 },
  // No headers, ever: the inline deadline, or for chat the backend's timeoutMs, ends it.
  { name: 'timeout (no answer)', kind: 'vllm', reply: { hang: true }, toOpen: 1, eatsDeadline: true },
  // Headers and a few tokens, then silence.
  { name: 'stream stalls midway', kind: 'vllm', reply: { hang: true, after: PARTIAL }, toOpen: 1, eatsDeadline: true },
  // Tokens keep coming, each later than the backend's timeoutMs after the last, and the whole answer
  // (40 tokens) later than the inline deadline.
  { name: 'slow drip of tokens', kind: 'vllm', reply: { text: 'x'.repeat(40) }, tokenIntervalMs: BACKEND_TIMEOUT_MS + 200, toOpen: 1, eatsDeadline: true },
  { name: 'connection reset midway', kind: 'vllm', reply: { destroy: true, after: PARTIAL }, toOpen: FLAKY_THRESHOLD },
  { name: 'malformed SSE', kind: 'vllm', reply: { malformed: '{"id":"cmpl-7","object":"text_completion","choices":[{"index":0,"te', after: PARTIAL }, toOpen: FLAKY_THRESHOLD },
  { name: 'error inside a 200 stream', kind: 'vllm', reply: { streamError: { message: 'CUDA out of memory', type: 'InternalServerError', code: 500 }, after: PARTIAL }, toOpen: FLAKY_THRESHOLD },
  // TGI writes `data:` without the space (the fake frames the line so); its events are read by our
  // own SSE parser, not the SDK's.
  { name: 'malformed SSE (TGI)', kind: 'tgi', reply: { malformed: '{"index":3,"token":{"id":1003,"te', after: PARTIAL }, toOpen: FLAKY_THRESHOLD },
  { name: 'malformed NDJSON (Ollama)', kind: 'ollama', reply: { malformed: '{"model":"qwen2.5-coder:1.5b-base","created_at":"2025-10-01T09:00:00Z","respo', after: PARTIAL }, toOpen: FLAKY_THRESHOLD },
  { name: 'error inside a 200 stream (Ollama)', kind: 'ollama', reply: { streamError: { message: 'an error was encountered while running the model: CUDA error' }, after: PARTIAL }, toOpen: FLAKY_THRESHOLD },
];

/** Generation requests (not discovery or probes) by wire protocol. */
const GENERATION: Record<FakeKind, string[]> = {
  vllm: ['/v1/completions', '/v1/chat/completions'],
  tgi: ['/generate_stream', '/v1/chat/completions'],
  ollama: ['/api/generate', '/api/chat'],
};

interface Primary {
  url: string;
  generations(): number;
  /** Generation requests whose connection is still open. */
  open(): number;
  close(): Promise<void>;
}

async function startPrimary(f: Fault): Promise<Primary> {
  const opts = { respond: () => f.reply as never, tokenIntervalMs: f.tokenIntervalMs ?? 0 };
  const fake = f.kind === 'ollama' ? await startFakeOllama(opts) : f.kind === 'tgi' ? await startFakeTgi(opts) : await startFakeVllm(opts);
  if (f.reply === 'refused') {
    // A port that was just listening and is now closed: connect() is refused at once.
    await fake.close();
    return { url: fake.url, generations: () => 0, open: () => 0, close: async () => undefined };
  }
  const generations = () => (fake.requests as { method: string; path: string; finished: boolean; closedAt: number | null }[]).filter((r) => r.method === 'POST' && GENERATION[f.kind].includes(r.path));
  return {
    url: fake.url,
    generations: () => generations().length,
    open: () => generations().filter((r) => !r.finished && r.closedAt === null).length,
    close: () => fake.close(),
  };
}

// --- The matrix ------------------------------------------------------------------------------------

const primaryDown = (n: { method: string; params: any }) =>
  n.method === 'tandem/status' && n.params.state !== 'ok' && n.params.backends.some((b: { name: string; healthy: boolean }) => b.name === 'primary' && !b.healthy) && String(n.params.message).includes('primary');

async function runCell(fault: Fault, driver: Driver, shape: 'backup' | 'solo') {
  const closers: (() => Promise<unknown>)[] = [];
  try {
    await cell(fault, driver, shape, closers);
  } finally {
    // The server first: it must not see its backends go away before it stops.
    for (const c of closers.reverse()) await c();
  }
}

async function cell(fault: Fault, driver: Driver, shape: 'backup' | 'solo', closers: (() => Promise<unknown>)[]) {
  const primary = await startPrimary(fault);
  closers.push(primary.close);
  let backup: FakeVllm | undefined;
  if (shape === 'backup') {
    backup = await startFakeVllm({ respond: driver.backupReply });
    closers.push(() => backup!.close());
  }
  // Only the driver's own route holds the faulty backend in the backup shape: a task that went by
  // another route would never meet the fault, and the count of requests the primary received fails it.
  const route = shape === 'backup' ? ['primary', 'backup'] : ['primary'];
  const others = shape === 'backup' ? ['backup'] : ['primary'];
  const routes = Object.fromEntries((['inline', 'action', 'multiFile'] as const).map((t) => [t, t === driver.task ? route : others]));
  // The deadline the fault eats is short; every other deadline is one only a stuck server reaches,
  // so that a starved machine cannot turn a fast failure into a timeout.
  const eats = fault.eatsDeadline === true;
  const spawned = performance.now();
  const { client } = await startServer({
    capabilities: RESOLVE_CAPS,
    onRequest: (method) => (method === 'workspace/applyEdit' ? { applied: true } : null),
    rootUri: 'file:///w',
    init: {
      backends: {
        primary: { kind: fault.kind, url: primary.url, location: 'onprem', ...(eats && driver.task !== 'inline' ? { timeoutMs: BACKEND_TIMEOUT_MS } : {}) },
        ...(backup ? { backup: { kind: 'vllm', url: backup.url } } : {}),
      },
      routes,
      inline: { debounceMs: 0, deadlineMs: eats && driver.task === 'inline' ? INLINE_DEADLINE_MS : STUCK_MS },
      context: { enabled: false },
    },
  });
  closers.push(() => client.stop());
  await driver.prepare(client);

  // Inline with a backup: a primary left silent by the fault is hedged (router/hedge.ts), so the
  // backup answers every request and no deadline is eaten; each hedge the primary loses while
  // silent is a slow strike, and three in a row open its breaker.
  const hedged = eats && driver.task === 'inline' && shape === 'backup';
  const toOpen = hedged ? FLAKY_THRESHOLD : fault.toOpen;
  /** The fault eats the deadline of this request: the first inline one without a hedge (after it the breaker is open). */
  const eaten = (i: number) => eats && driver.task === 'inline' && !hedged && i === 0;
  const ask = async (i: number) => {
    const before = await deadlinesExpired(client);
    const outcome = await driver.run(client, i);
    // The server's own account of how the request ended: by its deadline exactly when the fault
    // ate it, else before any deadline fired.
    expect((await deadlinesExpired(client)) - before, `inline requests that their deadline ended, request ${i}`).toBe(eaten(i) ? 1 : 0);
    return outcome;
  };
  const fromBackup = (o: Outcome, i: number) => expect(o, `request ${i}`).toEqual({ kind: 'text', text: driver.expected });
  const noBackend = (o: Outcome, i: number) => {
    if (driver.task === 'inline') expect(o, `request ${i}`).toEqual({ kind: 'empty' });
    else {
      // No fallback: the error names the backend that failed (and why).
      expect(o, `request ${i}`).toMatchObject({ kind: 'error', code: -32803 });
      expect((o as { message: string }).message).toContain('primary');
    }
  };

  // Until the breaker opens: each request meets the fault once (a refused port is known from the start-up probe).
  let opening = spawned;
  for (let i = 0; i < toOpen; i++) {
    if (fault.reply !== 'refused') opening = performance.now();
    const o = await ask(i);
    if (shape === 'solo') noBackend(o, i);
    else if (eaten(i)) expect(o, 'the request whose deadline the fault ate').toEqual({ kind: 'empty' });
    else fromBackup(o, i);
  }
  const status = await client.waitForNotification(primaryDown);
  if (shape === 'backup') {
    expect(status.params.state).toBe('degraded');
    expect(status.params.backends).toContainEqual(expect.objectContaining({ name: 'backup', healthy: true }));
  }
  // Why the breaker opened, as the server tells it: the deadline the fault ate, with its length,
  // or the fault itself, never a deadline.
  if (hedged) expect(status.params.message).toMatch(/primary: sent no (first|further) token for \d+ ms; backup answered first/);
  else if (eats) expect(status.params.message).toContain(`did not answer within ${driver.deadlineMs} ms`);
  else expect(status.params.message).not.toContain('did not answer');
  expect(primary.generations(), 'generation requests the faulty backend received').toBe(fault.reply === 'refused' ? 0 : toOpen);
  // A request ended by a deadline closed its connection, so the server stops generating.
  await until(() => primary.open() === 0, 'the faulty backend to see every generation request closed or answered');

  // The breaker is open: the next request does not touch the faulty backend at all.
  const after = await ask(toOpen);
  const done = performance.now();
  if (shape === 'solo') noBackend(after, toOpen);
  else fromBackup(after, toOpen);
  const received = fault.reply === 'refused' ? 0 : toOpen;
  if (breakerSurelyOpen({ spawned, opened: opening, done })) expect(primary.generations(), 'a request to the backend whose breaker is open').toBe(received);
  else expect(primary.generations(), 'at most one trial request once the breaker had waited').toBeLessThanOrEqual(received + 1);
  expect(client.protocolErrors).toEqual([]);
}

describe.concurrent('fault matrix', () => {
  for (const fault of FAULTS) {
    for (const driver of DRIVERS) {
      it(`${fault.name} × ${driver.name}: falls over to the backup and reports status`, () => runCell(fault, driver, 'backup'));
      it(`${fault.name} × ${driver.name}, no fallback: answers in time and names the backend`, () => runCell(fault, driver, 'solo'));
    }
  }
});
