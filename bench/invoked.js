// @ts-check
// One round of the invoked-request benchmark, shared by bench/run.js --invoked and bench/abInvoked.js
// so that both measure the same gesture.

/** Pause between keys and before the invoked request, as a person typing then asking. */
export const KEY_MS = 90;

/**
 * Types 4 keys KEY_MS apart at `line`, each with the automatic request an editor sends (the
 * server's debounce holds each until the next key supersedes it), then sends an invoked request
 * (`triggerKind: 1`) KEY_MS after the last key; its end-to-end time goes to `s.e2e`.
 * @param {{ client: any, uri: string, col: number, version: number, e2e: number[] }} s
 * @param {number} line @param {number} round
 * @returns {Promise<any>} the invoked request's result
 */
export async function typeThenInvoke(s, line, round) {
  for (let k = 0; k < 4; k++) {
    s.client.change(s.uri, ++s.version, [{ range: { start: { line, character: s.col }, end: { line, character: s.col } }, text: 'abcdefghij'[(round + k) % 10] }]);
    s.col++;
    s.client.inline(s.uri, { line, character: s.col }).result.catch(() => undefined);
    await new Promise((r) => setTimeout(r, KEY_MS));
  }
  const t = performance.now();
  const res = await s.client.inline(s.uri, { line, character: s.col }, { triggerKind: 1 }).result;
  s.e2e.push(performance.now() - t);
  return res;
}
