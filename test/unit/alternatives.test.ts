// Ranking an alternatives request's choices: postprocessed, empties dropped, equals merged, best first.
import { describe, expect, it } from 'vitest';
import type { FimResult } from '../../server/src/models/types.js';
import { rankCandidates } from '../../server/src/pipeline/inline.js';

const result = (choices: { text: string; logprob?: number }[]): FimResult => ({ text: choices[0]?.text ?? '', finishReason: 'stop', stoppedEarly: false, model: 'm', choices: choices.map((c) => ({ ...c, finishReason: 'stop' })) });
const same = (t: string) => t;

describe('rankCandidates', () => {
  it('one choice (an automatic request) is itself, or nothing when it postprocesses to nothing', () => {
    expect(rankCandidates({ text: 'a', finishReason: 'stop', stoppedEarly: false, model: 'm' }, same)).toEqual(['a']);
    expect(rankCandidates({ text: 'a', finishReason: 'stop', stoppedEarly: false, model: 'm' }, () => '')).toEqual([]);
  });

  it('orders by mean log probability, the likeliest first', () => {
    expect(rankCandidates(result([{ text: 'a', logprob: -1.5 }, { text: 'b', logprob: -0.2 }, { text: 'c', logprob: -0.7 }]), same)).toEqual(['b', 'c', 'a']);
  });

  it('merges texts equal after postprocessing (up to trailing blanks); more choices beat a higher log probability', () => {
    const r = result([{ text: 'x', logprob: -0.1 }, { text: 'y  ', logprob: -3 }, { text: 'Y', logprob: -2 }]);
    // The postprocessing makes "Y" and "y  " one text; the first spelling stays.
    expect(rankCandidates(r, (t) => t.toLowerCase())).toEqual(['y  ', 'x']);
  });

  it('drops choices that come to nothing; without log probabilities the earlier choice leads', () => {
    expect(rankCandidates(result([{ text: '' }, { text: 'q' }, { text: 'p' }, { text: '  ' }]), (t) => t.trim())).toEqual(['q', 'p']);
    expect(rankCandidates(result([{ text: '' }, { text: '\n' }]), (t) => t.trim())).toEqual([]);
  });

  it('a choice with a log probability ranks above one without, among equal counts', () => {
    expect(rankCandidates(result([{ text: 'a' }, { text: 'b', logprob: -5 }]), same)).toEqual(['b', 'a']);
  });

  it('choices that came back the same are postprocessed (and syntax-checked) once, and still count as several', () => {
    const seen: string[] = [];
    const finish = (t: string) => {
      seen.push(t);
      return t.trim();
    };
    const r = result([{ text: ' b', logprob: -0.1 }, { text: 'a', logprob: -2 }, { text: 'a', logprob: -3 }, { text: ' b', logprob: -0.2 }, { text: 'a', logprob: -4 }]);
    // Three `a` beat two ` b`, whatever their log probabilities.
    expect(rankCandidates(r, finish)).toEqual(['a', 'b']);
    expect(seen).toEqual([' b', 'a']);
  });
});
