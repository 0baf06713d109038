// A short seeded run of the fuzzer (bench/fuzz.js, its stream from bench/fuzzGen.js) against the built server: it survives, answers every request once, never with an internal error, writes only frames, and completes right at the end.
import { expect, it } from 'vitest';
import { FINAL_TEXT, handlerExceptions, runFuzz } from '../../bench/fuzz.js';
import { INLINE_UNHURRIED, STUCK_MS } from '../wait.js';

// The bound only a stuck run reaches: 1,500 messages, each waited on at most STUCK_MS by the run itself.
const RUN_BOUND_MS = 15 * STUCK_MS;

it('1,500 seeded valid, odd and malformed messages: no crash, every request answered once, no -32603, only frames on stdout, the final completion right', { timeout: RUN_BOUND_MS }, async () => {
  // No deadline in the way of the final completion on a loaded machine: speed is bench/fuzz.js's to report.
  const r = await runFuzz({ seed: 7, messages: 1500, inline: INLINE_UNHURRIED });
  expect(r.crashed).toBeUndefined();
  expect(r.exitCode).toBe(0);
  expect(r.unanswered).toEqual([]);
  expect([...r.duplicates, ...r.strayAnswers]).toEqual([]);
  expect(r.badErrors).toEqual([]);
  expect(r.internal).toEqual([]);
  expect(handlerExceptions(r)).toEqual([]);
  expect(r.protocolErrors).toEqual([]);
  expect(r.final).toEqual({ ok: true, got: JSON.stringify([FINAL_TEXT]) });
  // The stream reached the server's work, not only its parameter checks.
  expect(r.byCode.result).toBeGreaterThan(100);
  expect(r.completions).toBeGreaterThan(0);
  expect(r.backendCalls.chat).toBeGreaterThan(0);
});
