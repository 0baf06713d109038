// @ts-check
// `npm run bench:fuzz`: the built server against a seeded stream of valid, odd and malformed LSP
// messages (bench/fuzzGen.js), with the fake vLLM behind it. Per seed: crashes, requests answered
// not exactly once, internal errors (-32603), answer times, stray stdout, memory, and a final
// completion that must still be right. Prints a Markdown table (also bench/out/fuzz.md); exits 1
// when a target fails. `runFuzz` is also what test/e2e/fuzz.test.ts runs, shorter.
//   node bench/fuzz.js [--seeds 1,2,3] [--messages 20000] [--log debug] [--node-arg FLAG]... [--list-over MS]
// --messages N also replays a seed's stream up to message N (the stream does not depend on the
// answers), and --in-flight N sends at most N requests at a time (32 by default; 1 tells each
// request's own work apart). --list-over MS writes every answer slower than MS, or for which the
// server's main thread was on a CPU more than MS, to
// bench/out/fuzz-over-SEED.json with its sending and answer time on the monotonic clock (µs, the
// clock of a --cpu-prof profile: bench/profileSum.js --window reads the server's work in between).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startFakeVllm } from '../test/fake/vllm.js';
import { BIN_ENV, BIN_NODE_FLAGS, LspClient, STUCK_MS } from '../test/lsp-client.js';
import { FuzzGenerator, hash, Rng } from './fuzzGen.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, '..', 'test', 'fixtures', 'context');
/** Requests in flight at most: beyond this the fuzzer waits for answers, so it measures the server, not its own queue. */
const MAX_IN_FLIGHT = 32;
/** An answer later than this is a target missed. */
export const SLOW_MS = 2000;
/** A request unanswered this long is counted as never answered (a hang), and the run goes on. */
const HANG_MS = 3 * STUCK_MS;
/** The final check: a clean document, the fake's answer, and the text the editor must get. */
const FINAL_DOC = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');
const FINAL_CURSOR = { line: 1, character: 2 };
export const FINAL_TEXT = 'return a + b;';

/** @param {number[]} xs @param {number} p */
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

/**
 * What the fake answers to a FIM prompt: chosen from the prompt's content, so the same stream gets
 * the same answers; odd text included (unbalanced, multi-line, surrogates, NUL, long).
 * @param {import('../test/fake/vllm.js').RecordedRequest} req @returns {import('../test/fake/vllm.js').Reply}
 */
function fimReply(req) {
  const body = req.body ?? {};
  const prompt = typeof body.prompt === 'string' ? body.prompt : JSON.stringify(body.messages ?? '');
  const h = hash(prompt);
  // A context-length error now and then: the pipeline shrinks and retries; it never opens a breaker.
  if (h % 50 === 0) return { status: 400, error: { message: "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens (39872 in the messages, 128 in the completion). Please reduce the length of the messages or completion.", code: 400 } };
  return { text: ['return a + b;', '\n  const x = 1;\n  return x;\n}\n', '((((', 'é😀 \ud800x', '', 'x'.repeat(3000), 'a\r\nb\r\n', 'a\u0000b', '}\n}\n}', '`${'][h % 10] ?? '' };
}

/**
 * What the chat fake answers: for an edit, a SEARCH/REPLACE block on the first line of the code
 * sent (so some edits apply), else prose; now and then a server error or a broken stream.
 * @param {import('../test/fake/vllm.js').RecordedRequest} req @returns {import('../test/fake/vllm.js').Reply}
 */
function chatReply(req) {
  const messages = Array.isArray(req.body?.messages) ? req.body.messages : [];
  const user = String(messages.findLast?.((/** @type {any} */ m) => m?.role === 'user')?.content ?? '');
  const h = hash(user);
  if (h % 40 === 0) return { status: 500, error: { message: 'CUDA out of memory' } };
  if (h % 40 === 1) return { malformed: '{"choices": [', after: 'partial' };
  const system = String(messages[0]?.content ?? '');
  if (!system.startsWith('You edit code')) return { text: 'It adds the numbers.\n\n```ts\nconst x = 1;\n```' };
  const code = /```[^\n]*\n([\s\S]*?)```/.exec(user)?.[1] ?? '';
  const line = code.split('\n').find((l) => l.trim() !== '') ?? '';
  if (h % 5 === 0) return { text: 'No SEARCH block here, just prose.' };
  const comment = user.includes('Language: python') ? '  # checked' : ' // checked';
  return { text: ['<<<<<<< SEARCH', line, '=======', line + comment, '>>>>>>> REPLACE'].join('\n') };
}

/** Source files of the fixture projects (TypeScript, Python, Go), copied into the run's workspace. */
function copyWorkspace(/** @type {string} */ root) {
  for (const d of ['ts', 'py', 'go']) cpSync(join(FIXTURES, d), join(root, d), { recursive: true });
  /** @type {{rel: string, text: string}[]} */
  const files = [];
  const walk = (/** @type {string} */ dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|py|go)$/.test(name)) files.push({ rel: relative(root, p), text: readFileSync(p, 'utf8') });
    }
  };
  walk(root);
  // Interleaved by language, so the first dozen (the URIs opened most) hold all three.
  const by = (/** @type {string} */ ext) => files.filter((f) => f.rel.endsWith(ext));
  const [ts, py, go] = [by('.ts'), by('.py'), by('.go')];
  return Array.from({ length: Math.max(ts.length, py.length, go.length) }, (_, i) => [ts[i], py[i], go[i]]).flat().filter((f) => f !== undefined);
}

/** The file system work a step describes (writes, deletes, links), done before its message is sent. */
function applyFs(/** @type {import('./fuzzGen.js').FsOp[] | undefined} */ ops) {
  for (const op of ops ?? []) {
    try {
      rmSync(op.path, { force: true, recursive: op.op !== 'write' });
      if (op.op === 'write') {
        mkdirSync(dirname(op.path), { recursive: true });
        writeFileSync(op.path, op.text);
      } else if (op.op === 'symlink') {
        mkdirSync(dirname(op.path), { recursive: true });
        symlinkSync(op.target, op.path);
      }
    } catch {
      /* the events go out anyway: a watcher may report what the disk no longer shows */
    }
  }
}

/**
 * The server's main thread (its event loop) as the scheduler saw it (Linux): nanoseconds on a CPU
 * and nanoseconds runnable but waiting for one. Between a request and its answer, the first is the
 * server's own work (for that request or any other) and the second the machine's load; what is
 * left of the wall time the server spent waiting (timers, a backend, the index worker).
 * @param {number | undefined} pid @returns {[number, number] | undefined}
 */
function schedstat(pid) {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return run !== undefined && wait !== undefined && Number.isFinite(run) && Number.isFinite(wait) ? [run, wait] : undefined;
  } catch {
    return undefined;
  }
}

/** The monotonic clock in µs (CLOCK_MONOTONIC, as V8's profiler's timestamps on Linux). */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

/** Peak resident memory of a process (Linux), in bytes. */
function peakRss(/** @type {number | undefined} */ pid) {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @typedef {{ method: string, note: string, index: number, ms: number, cpuMs?: number, runQueueMs?: number, inFlight?: number, fromUs?: number, toUs?: number }} Timed
 *   cpuMs / runQueueMs: the server's main thread on a CPU / waiting for one while the request was
 *   out (see schedstat); inFlight: the requests already out when it was sent; fromUs / toUs: sent
 *   and answered on the monotonic clock, in µs (listed answers only, see `listOverMs`).
 * @typedef {{ method: string, note: string, index: number, sent: number, sentUs: number, sched: [number, number] | undefined, inFlight: number }} Sent
 * @typedef {{
 *   seed: number, messages: number, requests: number, notifications: number, skipped: number, sentBy: Record<string, number>,
 *   completions: number, backendCalls: { fim: number, chat: number }, memory: { at: number, rss: number | undefined, heap: number | undefined, load: number }[], wallS: number,
 *   crashed: string | undefined, stderrTail: string, unanswered: Timed[], duplicates: string[], strayAnswers: string[],
 *   badErrors: string[], byCode: Record<string, number>, internal: { method: string, message: string, count: number, first: Timed }[],
 *   maxMs: number, p99Ms: number, slow: Timed[], slowest: Timed[], over: Timed[], protocolErrors: string[], loggedErrors: { line: string, count: number }[],
 *   rssEnd: number | undefined, rssPeak: number | undefined, loopMaxMs: number | undefined, ownLoopMaxMs: number, final: { ok: boolean, got: string }, exitCode: number | null,
 * }} FuzzReport
 */

/**
 * One seed's run: a workspace, the fakes, the server, `messages` messages, the final check.
 * @param {{ seed: number, messages: number, listOverMs?: number, maxInFlight?: number, inline?: Record<string, unknown>, nodeArgs?: string[], logLevel?: string, onStderr?: (text: string) => void, onProgress?: (done: number) => void, onStall?: (what: string) => void }} opts
 * @returns {Promise<FuzzReport>}
 */
export async function runFuzz(opts) {
  const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'tandem-fuzz-')));
  /** What to close however the run ends: the fakes, and the server if it is still there. */
  const open = /** @type {{ close(): Promise<void> | void }[]} */ ([]);
  try {
    return await fuzzIn(tmp, open, opts);
  } finally {
    await Promise.all(open.map((o) => o.close()));
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * @param {string} tmp @param {{ close(): Promise<void> | void }[]} open
 * @param {Parameters<typeof runFuzz>[0]} opts @returns {Promise<FuzzReport>}
 */
async function fuzzIn(tmp, open, opts) {
  const started = performance.now();
  // Our own event loop's delays: the fakes answer from it and answers are timed on it, so a
  // slow answer is the server's only where this stays small.
  const ownLoop = monitorEventLoopDelay({ resolution: 10 });
  ownLoop.enable();
  open.push({ close: () => void ownLoop.disable() });
  const root = join(tmp, 'ws');
  const other = join(tmp, 'other');
  mkdirSync(other, { recursive: true });
  writeFileSync(join(other, 'elsewhere.ts'), 'export const elsewhere = 1;\n');
  const files = copyWorkspace(root);
  const fim = await startFakeVllm({ respond: fimReply });
  open.push(fim);
  const chat = await startFakeVllm({ respond: chatReply });
  open.push(chat);
  // The editor's side of the server's own requests; its answers, now and then odd, come from their own stream.
  const answers = new Rng(opts.seed ^ 0x5bd1e995);
  /** @type {unknown} */
  let editorSection;
  const pull = opts.seed % 2 === 1; // odd seeds: a client the server asks (workspace/configuration); even: one that pushes
  const odd = () => answers.pick([null, {}, 'yes', 42, { applied: 'yes' }, { success: 1 }]);
  const client = new LspClient({
    // The bin's own Node flags and environment (its shebang's), as an editor starts it, and any extra flags.
    nodeArgs: [...BIN_NODE_FLAGS, ...(opts.nodeArgs ?? [])],
    env: { ...BIN_ENV, XDG_CONFIG_HOME: join(tmp, 'home'), XDG_STATE_HOME: join(tmp, 'state'), TANDEM_CONFIG: '', TANDEM_LOG: opts.logLevel ?? 'info', TANDEM_LOOP_MONITOR_MS: '10' },
    onRequest: (method, params) => {
      if (method === 'workspace/configuration') return (params?.items ?? [null]).map(() => editorSection ?? null);
      if (method === 'workspace/applyEdit') return answers.weighted(/** @type {[number, () => unknown][]} */ ([[85, () => ({ applied: true })], [8, () => ({ applied: false, failureReason: 'the user declined' })], [7, odd]]))();
      if (method === 'window/showDocument') return answers.chance(0.9) ? { success: true } : odd();
      return null;
    },
  });
  // A fuzzer stopped half-way (Ctrl-C, a test's timeout) must not leave its server behind.
  const killServer = () => client.child.kill('SIGKILL');
  process.once('exit', killServer);
  open.push({
    close: () => {
      process.off('exit', killServer);
      if (client.child.exitCode === null && client.child.signalCode === null) killServer();
    },
  });
  let exitedEarly = /** @type {string | undefined} */ (undefined);
  let stopping = false;
  client.child.on('exit', (code, signal) => {
    if (!stopping) exitedEarly = `exited with ${signal ?? `code ${code}`}`;
  });

  /** @type {Map<number | string, Sent>} */
  const pending = new Map();
  /**
   * Requests answered, or given up as hung: a second answer to one of them is a duplicate.
   * @type {Map<number | string, { rec: Sent, timed: Timed, hung: boolean }>}
   */
  const settled = new Map();
  /** @type {Record<string, number>} */
  const byCode = {};
  /** @type {Map<string, { method: string, message: string, count: number, first: Timed }>} */
  const internal = new Map();
  /** @type {Timed[]} */
  const timed = [];
  /** @type {Timed[]} */
  const hung = [];
  const duplicates = /** @type {string[]} */ ([]);
  const strayAnswers = /** @type {string[]} */ ([]);
  const badErrors = /** @type {string[]} */ ([]);
  let wake = () => {};
  let loopMaxMs = 0;
  /** Completion answers with an item: the stream reaches the model, not only the checks. */
  let completions = 0;
  const onAnswer = (/** @type {any} */ msg) => {
    let rec = pending.get(msg.id);
    if (rec) pending.delete(msg.id);
    else {
      const s = settled.get(msg.id);
      if (!s?.hung) return void duplicates.push(`${JSON.stringify(msg.id)} (${s?.rec.method})`);
      // Late, not lost: it counts by its time below.
      s.hung = false;
      hung.splice(hung.indexOf(s.timed), 1);
      rec = s.rec;
    }
    /** @type {Timed} */
    const t = { method: rec.method, note: rec.note, index: rec.index, ms: performance.now() - rec.sent, inFlight: rec.inFlight };
    const sched = rec.sched && (t.ms > SLOW_MS / 4 || opts.listOverMs !== undefined) ? schedstat(client.child.pid) : undefined;
    if (rec.sched && sched) {
      t.cpuMs = (sched[0] - rec.sched[0]) / 1e6;
      t.runQueueMs = (sched[1] - rec.sched[1]) / 1e6;
    }
    if (opts.listOverMs !== undefined && (t.ms > opts.listOverMs || (t.cpuMs ?? 0) > opts.listOverMs)) Object.assign(t, { fromUs: rec.sentUs, toUs: monoUs() });
    settled.set(msg.id, { rec, timed: t, hung: false });
    timed.push(t);
    if (msg.error !== undefined) {
      const code = msg.error?.code;
      if (!Number.isInteger(code) || typeof msg.error?.message !== 'string') badErrors.push(`${rec.method}: ${JSON.stringify(msg.error).slice(0, 200)}`);
      byCode[String(code)] = (byCode[String(code)] ?? 0) + 1;
      if (code === -32603) {
        const key = `${rec.method}\u0000${msg.error.message}`;
        const seen = internal.get(key);
        if (seen) seen.count++;
        else internal.set(key, { method: rec.method, message: String(msg.error.message), count: 1, first: t });
      }
    } else {
      byCode.result = (byCode.result ?? 0) + 1;
      // tandem.stats answers (the stream sends some): the event loop's worst delay since the previous one.
      if (Array.isArray(msg.result?.items) && msg.result.items.length > 0) completions++;
      const loop = msg.result?.process?.eventLoop?.maxMs;
      if (typeof loop === 'number') loopMaxMs = Math.max(loopMaxMs, loop);
    }
    wake();
  };
  const dispatch = client.dispatch.bind(client);
  client.dispatch = (/** @type {any} */ msg) => {
    const isAnswer = msg !== null && typeof msg === 'object' && msg.method === undefined && ('result' in msg || 'error' in msg);
    if (isAnswer && (pending.has(msg.id) || settled.has(msg.id))) return onAnswer(msg);
    if (isAnswer && !client.pending.has(msg.id)) return void strayAnswers.push(JSON.stringify(msg).slice(0, 200));
    dispatch(msg);
  };

  const init = await client.initialize({
    rootUri: pathToFileURL(root).href,
    workspaceFolders: [{ uri: pathToFileURL(root).href, name: 'ws' }],
    capabilities: {
      textDocument: { inlineCompletion: {}, codeAction: { resolveSupport: { properties: ['edit'] } } },
      workspace: { configuration: pull, didChangeConfiguration: { dynamicRegistration: true }, didChangeWatchedFiles: { dynamicRegistration: true }, workspaceFolders: true, workspaceEdit: { documentChanges: true, resourceOperations: ['create'] } },
      window: { workDoneProgress: true, showDocument: { support: true } },
    },
    initializationOptions: {
      backends: { fim: { kind: 'vllm', url: fim.url }, chat: { kind: 'vllm', url: chat.url } },
      routes: { inline: ['fim'], action: ['chat', 'fim'], multiFile: ['chat'] },
      ...(opts.inline ? { inline: opts.inline } : {}),
    },
  });
  const { ACTION_KINDS } = await import('../server/out/actions/list.js');
  const gen = new FuzzGenerator({
    seed: opts.seed,
    root,
    other,
    files,
    commands: init.capabilities.executeCommandProvider.commands,
    actionIds: ['edit', ...Object.keys(ACTION_KINDS)],
    actionKinds: init.capabilities.codeActionProvider.codeActionKinds,
  });

  const stdin = client.child.stdin;
  // A server that dies mid-write: its exit is what the run reports, not our write's EPIPE.
  stdin.on('error', () => undefined);
  const gone = client.exited.then(() => undefined);
  /** The last steps sent, for the log line of a stall. */
  const recent = /** @type {string[]} */ ([]);
  let lastStallReport = 0;
  /** Waits for an answer, a second, or the server's end; gives up on requests older than HANG_MS. */
  const settle = async () => {
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    await Promise.race([new Promise((r) => ((wake = () => r(undefined)), (timer = setTimeout(r, 1000)))), gone]);
    clearTimeout(timer);
    const now = performance.now();
    const oldest = pending.values().next().value;
    if (oldest && now - oldest.sent > 10_000 && now - lastStallReport > 10_000) {
      lastStallReport = now;
      opts.onStall?.(`no answer for ${((now - oldest.sent) / 1000).toFixed(0)} s to ${oldest.method} at message ${oldest.index} (${oldest.note}); the last messages: ${recent.join(' | ')}`);
    }
    for (const [id, p] of pending) {
      if (now - p.sent < HANG_MS) continue;
      pending.delete(id);
      const t = { method: p.method, note: p.note, index: p.index, ms: now - p.sent };
      settled.set(id, { rec: p, timed: t, hung: true });
      hung.push(t);
    }
  };
  /** @type {Record<string, number>} */
  const sentBy = {};
  /** @type {{ at: number, rss: number | undefined, heap: number | undefined, load: number }[]} */
  const memory = [];
  let requests = 0;
  let notifications = 0;
  let skipped = 0;
  for (let i = 0; i < opts.messages && exitedEarly === undefined; i++) {
    const step = gen.next();
    recent.push(`#${i} ${step.note}`);
    if (recent.length > 6) recent.shift();
    applyFs(step.fs);
    if ('config' in step) editorSection = step.config;
    if (step.type === 'request') while (pending.size >= (opts.maxInFlight ?? MAX_IN_FLIGHT) && exitedEarly === undefined) await settle();
    const msg = step.type === 'request' ? { jsonrpc: '2.0', id: step.id, method: step.method, params: step.params } : { jsonrpc: '2.0', method: step.method, params: step.params };
    let body;
    try {
      body = Buffer.from(JSON.stringify(msg), 'utf8');
    } catch {
      skipped++; // too deep for our own JSON.stringify: not a message we can send
      continue;
    }
    sentBy[step.method] = (sentBy[step.method] ?? 0) + 1;
    if (step.type === 'request') {
      pending.set(step.id, { method: step.method, note: step.note, index: i, sent: performance.now(), sentUs: monoUs(), sched: schedstat(client.child.pid), inFlight: pending.size });
      requests++;
    } else notifications++;
    stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    const more = stdin.write(body);
    // The pipe's backpressure: the server reads at its own pace, and our buffer stays small.
    if (!more) {
      let drained = false;
      stdin.once('drain', () => (drained = true));
      for (let waited = 0; !drained && exitedEarly === undefined; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        if (waited > 0 && waited % 10_000 === 0) opts.onStall?.(`the server has read nothing for ${waited / 1000} s; the last messages: ${recent.join(' | ')}`);
      }
    }
    // Answers and the fakes' work run between messages.
    await new Promise((r) => setImmediate(r));
    if (i % 500 === 0) {
      client.notifications.length = 0; // log lines and progress: not kept, the run is long
      opts.onProgress?.(i);
    }
    // The server's memory along the way, outside the stream (its answer is not one of the fuzz's).
    if (i % 1000 === 0) {
      const at = i;
      client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }).then(
        (/** @type {any} */ r) => {
          memory.push({ at, rss: r?.process?.rssBytes, heap: r?.process?.heapUsedBytes, load: loadavg()[0] ?? NaN });
          loopMaxMs = Math.max(loopMaxMs, r?.process?.eventLoop?.maxMs ?? 0);
        },
        () => undefined,
      );
    }
  }
  while (pending.size > 0 && exitedEarly === undefined) await settle();

  // The final check: every fuzz document closed, then a normal completion on a clean one.
  /** @type {{ ok: boolean, got: string }} */
  let final = { ok: false, got: 'not run: the server is gone' };
  /** @type {any} */
  let stats;
  if (exitedEarly === undefined) {
    for (const uri of gen.docs.keys()) client.notify('textDocument/didClose', { textDocument: { uri } });
    fim.set({ respond: () => ({ text: FINAL_TEXT }) });
    const uri = pathToFileURL(join(root, 'ts', 'src', 'fuzzFinal.ts')).href;
    const withStuck = (/** @type {Promise<any>} */ p, /** @type {string} */ what) => {
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      const stuck = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${STUCK_MS} ms`)), STUCK_MS)));
      return Promise.race([p, stuck]).finally(() => clearTimeout(timer));
    };
    try {
      // A round trip first: everything sent before has been read.
      // The stream may have snoozed ghost text (tandem.snooze with a number among its junk): the
      // final check is about a server that serves, so it resumes first, as a user would.
      await withStuck(client.request('workspace/executeCommand', { command: 'tandem.snooze', arguments: [0] }), 'tandem.snooze');
      const before = await withStuck(client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }), 'tandem.stats');
      loopMaxMs = Math.max(loopMaxMs, before?.process?.eventLoop?.maxMs ?? 0);
      client.open(uri, 'typescript', FINAL_DOC);
      const res = await withStuck(client.inline(uri, FINAL_CURSOR).result, 'the final completion');
      const got = res?.items?.[0]?.insertText;
      stats = await withStuck(client.request('workspace/executeCommand', { command: 'tandem.stats', arguments: [] }), 'tandem.stats');
      loopMaxMs = Math.max(loopMaxMs, stats?.process?.eventLoop?.maxMs ?? 0);
      // An empty answer because the server was still too busy for its deadline, or for another reason.
      const late = stats?.deadlineExpired > before?.deadlineExpired ? ' (the request\'s deadline expired)' : '';
      final = { ok: got === FINAL_TEXT && res.items.length === 1, got: JSON.stringify(res?.items?.map((/** @type {any} */ i) => i.insertText)) + late };
    } catch (err) {
      final = { ok: false, got: err instanceof Error ? err.message : String(err) };
    }
  }
  const rssPeak = peakRss(client.child.pid);
  const backendCalls = { fim: fim.completions().length, chat: chat.requests.filter((q) => q.path === '/v1/chat/completions').length + fim.requests.filter((q) => q.path === '/v1/chat/completions').length };
  stopping = exitedEarly === undefined;
  const exitCode = await client.stop();
  if (opts.onStderr) {
    // What it wrote on its way out too: the pipe drains after the exit event.
    const err = client.child.stderr;
    await new Promise((r) => (err.closed ? r(undefined) : (err.once('close', r), setTimeout(r, 2000).unref())));
    opts.onStderr(client.stderr);
  }

  const errorLines = new Map();
  for (const line of client.stderr.split('\n')) {
    if (!line.startsWith('[error]')) continue;
    const key = line.slice(0, 240);
    errorLines.set(key, (errorLines.get(key) ?? 0) + 1);
  }
  const ms = timed.map((t) => t.ms);
  return {
    seed: opts.seed,
    messages: requests + notifications,
    requests,
    notifications,
    skipped,
    sentBy,
    completions,
    backendCalls,
    memory,
    wallS: (performance.now() - started) / 1000,
    crashed: exitedEarly ?? (exitCode !== 0 ? `exited with ${client.child.signalCode ?? `code ${exitCode}`} after shutdown` : undefined),
    stderrTail: client.stderr.slice(-4000),
    unanswered: [...hung, ...[...pending.values()].map((p) => ({ method: p.method, note: p.note, index: p.index, ms: NaN }))],
    duplicates,
    strayAnswers,
    badErrors,
    byCode,
    internal: [...internal.values()],
    maxMs: ms.length ? Math.max(...ms) : 0,
    p99Ms: ms.length ? pct(ms, 99) : 0,
    slow: timed.filter((t) => t.ms > SLOW_MS),
    slowest: [...timed].sort((a, b) => b.ms - a.ms).slice(0, 8),
    over: timed.filter((t) => t.fromUs !== undefined),
    protocolErrors: client.protocolErrors,
    loggedErrors: [...errorLines].map(([line, count]) => ({ line, count })),
    rssEnd: stats?.process?.rssBytes,
    rssPeak,
    loopMaxMs: stats ? loopMaxMs : undefined,
    ownLoopMaxMs: ownLoop.max / 1e6,
    final,
    exitCode,
  };
}

/**
 * Exceptions the server logged from a handler or inside the JSON-RPC library: for notifications,
 * which have no answer to carry a -32603, this is how a bug shows.
 * @param {FuzzReport} r
 */
export function handlerExceptions(r) {
  return r.loggedErrors.filter((l) => /^\[error\] [\w.]+: ([\w$/]+ failed: |reading a message failed: )/.test(l.line));
}

/** The targets one seed's run missed, in words; none means it passed. @param {FuzzReport} r */
export function failures(r) {
  const out = [];
  const thrown = handlerExceptions(r);
  if (thrown.length) out.push(`${thrown.reduce((s, l) => s + l.count, 0)} exceptions logged by handlers`);
  if (r.crashed) out.push(`the server ${r.crashed}`);
  if (r.unanswered.length) out.push(`${r.unanswered.length} requests never answered`);
  if (r.duplicates.length || r.strayAnswers.length) out.push(`${r.duplicates.length + r.strayAnswers.length} answers to no request or answered twice`);
  if (r.badErrors.length) out.push(`${r.badErrors.length} error answers without a numeric code`);
  if (r.internal.length) out.push(`${r.internal.reduce((s, i) => s + i.count, 0)} internal errors (-32603)`);
  if (r.slow.length) out.push(`${r.slow.length} answers slower than ${SLOW_MS} ms`);
  if (r.protocolErrors.length) out.push(`${r.protocolErrors.length} stray writes on stdout`);
  if (!r.final.ok) out.push(`final completion wrong: ${r.final.got}`);
  return out;
}

const mb = (/** @type {number | undefined} */ b) => (b === undefined ? '?' : `${Math.round(b / 2 ** 20)}`);
const f0 = (/** @type {number | undefined} */ x) => (x === undefined || Number.isNaN(x) ? '?' : x.toFixed(0));

/** How many slow answers the Markdown lists one by one (all of them go to bench/out/fuzz-slow-SEED.json). */
const MAX_SLOW_LISTED = 200;

const pctOf = (/** @type {number} */ part, /** @type {number} */ whole) => (whole > 0 ? `${Math.round((100 * part) / whole)} %` : '?');

/** One timed answer in words. @param {Timed} t */
function timedLine(t) {
  const sched = t.cpuMs !== undefined ? `, cpu ${f0(t.cpuMs)} / run queue ${f0(t.runQueueMs)}` : '';
  return `${t.ms.toFixed(0)} ms \`${t.method}\` at message ${t.index} (${t.note})${sched}, ${t.inFlight ?? '?'} in flight`;
}

/** The Markdown report of several seeds' runs. @param {FuzzReport[]} reports @param {string[]} load */
export function markdown(reports, load) {
  const lines = [
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. ${new Date().toISOString().slice(0, 10)}. Load average ${load.join(' → ')}.`,
    '',
    '| seed | messages (req / notif) | wall s | crashed | unanswered | dup / stray answers | -32603 | answers by code | max ms | p99 ms | > 2 s | stray stdout | logged errors | RSS end / peak MB | loop max ms (server / fuzzer) | final completion | verdict |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of reports) {
    const codes = Object.entries(r.byCode).sort(([a], [b]) => a.localeCompare(b)).map(([c, n]) => `${c}: ${n}`).join(', ');
    const internal = r.internal.reduce((s, i) => s + i.count, 0);
    const logged = r.loggedErrors.reduce((s, l) => s + l.count, 0);
    lines.push(`| ${r.seed} | ${r.messages} (${r.requests} / ${r.notifications}) | ${r.wallS.toFixed(0)} | ${r.crashed ?? 'no'} | ${r.unanswered.length} | ${r.duplicates.length} / ${r.strayAnswers.length} | ${internal} | ${codes} | ${f0(r.maxMs)} | ${f0(r.p99Ms)} | ${r.slow.length} | ${r.protocolErrors.length} | ${logged} | ${mb(r.rssEnd)} / ${mb(r.rssPeak)} | ${f0(r.loopMaxMs)} / ${f0(r.ownLoopMaxMs)} | ${r.final.ok ? 'right' : `WRONG ${r.final.got.slice(0, 60)}`} | ${failures(r).length ? 'FAILED' : 'passed'} |`);
  }
  for (const r of reports) {
    const detail = [];
    for (const i of r.internal) detail.push(`- -32603 ×${i.count} on \`${i.method}\` (first at message ${i.first.index}, ${i.first.note}): ${i.message.slice(0, 300)}`);
    for (const u of r.unanswered.slice(0, 10)) detail.push(`- unanswered: \`${u.method}\` at message ${u.index} (${u.note})`);
    for (const d of [...r.duplicates, ...r.strayAnswers].slice(0, 10)) detail.push(`- answer to no pending request: ${d}`);
    for (const b of r.badErrors.slice(0, 10)) detail.push(`- error answer without a numeric code: ${b}`);
    for (const p of r.protocolErrors.slice(0, 10)) detail.push(`- stdout: ${p}`);
    if (r.slow.length) {
      const byMethod = new Map();
      for (const s of r.slow) byMethod.set(s.method, (byMethod.get(s.method) ?? 0) + 1);
      detail.push(`- slower than ${SLOW_MS} ms by method: ${[...byMethod].map(([m, n]) => `${m} ${n}`).join(', ')}`);
      const sum = (/** @type {(t: Timed) => number | undefined} */ f) => r.slow.reduce((a, t) => a + (f(t) ?? 0), 0);
      const wall = sum((t) => t.ms);
      detail.push(`- their time (${(wall / 1000).toFixed(1)} s in all): the server's main thread on a CPU ${pctOf(sum((t) => t.cpuMs), wall)}, runnable but waiting for a CPU (the machine's load) ${pctOf(sum((t) => t.runQueueMs), wall)}, the rest waiting (timers, backends, the worker)`);
    }
    for (const s of r.slowest) detail.push(`- slowest: ${timedLine(s)}`);
    if (r.slow.length) {
      detail.push('', `Every answer slower than ${SLOW_MS} ms (ms; the server's main thread on a CPU / waiting for one, ms; requests already in flight):`, '');
      for (const s of r.slow.slice(0, MAX_SLOW_LISTED)) detail.push(`- ${timedLine(s)}`);
      if (r.slow.length > MAX_SLOW_LISTED) detail.push(`- … ${r.slow.length - MAX_SLOW_LISTED} more in bench/out/fuzz-slow-${r.seed}.json`);
    }
    for (const l of r.loggedErrors.slice(0, 12)) detail.push(`- logged ×${l.count}: ${l.line}`);
    if (r.crashed) detail.push('', '```', r.stderrTail, '```');
    detail.push(`- completions with an item: ${r.completions}; the fakes got ${r.backendCalls.fim} FIM and ${r.backendCalls.chat} chat requests`);
    detail.push(`- memory (RSS / heap MB) and the machine's 1-minute load average, by message: ${r.memory.map((m) => `${m.at}: ${mb(m.rss)} / ${mb(m.heap)} (${m.load.toFixed(1)})`).join(', ')}`);
    detail.push(`- sent: ${Object.entries(r.sentBy).sort(([, a], [, b]) => b - a).map(([m, n]) => `${m || '""'} ${n}`).join(', ')}`);
    if (r.skipped) detail.push(`- ${r.skipped} generated messages too deep to serialize, not sent`);
    lines.push('', `### seed ${r.seed}`, '', ...detail);
  }
  return lines.join('\n') + '\n';
}

/** @param {string[]} argv */
function parseArgs(argv) {
  const out = { seeds: [1, 2, 3], messages: 20_000, log: /** @type {string | undefined} */ (undefined), nodeArgs: /** @type {string[]} */ ([]), listOverMs: /** @type {number | undefined} */ (undefined), maxInFlight: MAX_IN_FLIGHT };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (a === '--seeds' && v && /^\d+(,\d+)*$/.test(v)) out.seeds = v.split(',').map(Number);
    else if (a === '--messages' && v && /^\d+$/.test(v)) out.messages = Number(v);
    else if (a === '--log' && v && /^(error|warn|info|debug)$/.test(v)) out.log = v;
    else if (a === '--node-arg' && v) out.nodeArgs.push(v);
    else if (a === '--list-over' && v && /^\d+$/.test(v)) out.listOverMs = Number(v);
    else if (a === '--in-flight' && v && /^[1-9]\d*$/.test(v)) out.maxInFlight = Number(v);
    else throw new Error(`usage: node bench/fuzz.js [--seeds 1,2,3] [--messages 20000] [--log debug] [--node-arg --cpu-prof ...] [--list-over MS] [--in-flight N] (got ${JSON.stringify(a)} ${JSON.stringify(v ?? '')})`);
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const load = [loadavg().map((x) => x.toFixed(2)).join(' ')];
  const reports = [];
  for (const seed of args.seeds) {
    process.stderr.write(`seed ${seed}: `);
    const t0 = performance.now();
    const r = await runFuzz({
      seed,
      messages: args.messages,
      nodeArgs: args.nodeArgs,
      ...(args.listOverMs !== undefined ? { listOverMs: args.listOverMs } : {}),
      maxInFlight: args.maxInFlight,
      // The server's log at that level, whole, in bench/out/fuzz-stderr-SEED.log.
      ...(args.log ? { logLevel: args.log, onStderr: (text) => writeFileSync(join(HERE, 'out', `fuzz-stderr-${seed}.log`), text) } : {}),
      onProgress: (n) => n % 1000 === 0 && process.stderr.write(`${n} (${((performance.now() - t0) / 1000).toFixed(0)} s) `),
      onStall: (what) => process.stderr.write(`\n  stalled: ${what}\n`),
    });
    process.stderr.write(`done in ${r.wallS.toFixed(0)} s${failures(r).length ? `: ${failures(r).join('; ')}` : ''}\n`);
    reports.push(r);
  }
  load.push(loadavg().map((x) => x.toFixed(2)).join(' '));
  const md = markdown(reports, load);
  mkdirSync(join(HERE, 'out'), { recursive: true });
  writeFileSync(join(HERE, 'out', 'fuzz.md'), md);
  for (const r of reports) {
    writeFileSync(join(HERE, 'out', `fuzz-slow-${r.seed}.json`), JSON.stringify(r.slow, null, 1));
    if (args.listOverMs !== undefined) writeFileSync(join(HERE, 'out', `fuzz-over-${r.seed}.json`), JSON.stringify(r.over, null, 1));
  }
  process.stdout.write(md);
  if (reports.some((r) => failures(r).length > 0)) process.exitCode = 1;
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`fuzz failed: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  });
}
