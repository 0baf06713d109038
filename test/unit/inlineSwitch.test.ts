// The switches in front of ghost text: inline.languages per language id, and the snooze, on a given clock and timer.
import { describe, expect, it } from 'vitest';
import { languageEnabled } from '../../server/src/config/schema.js';
import { inlineOff, Snooze } from '../../server/src/pipeline/inlineSwitch.js';
import { withSnooze, type Status } from '../../server/src/router/status.js';
import { defaultConfig } from './fixtures.js';

describe('inline.languages', () => {
  const rows: [string, Record<string, boolean> | undefined, string, boolean][] = [
    ['no map: every language', undefined, 'markdown', true],
    ['an empty map: every language', {}, 'markdown', true],
    ['a language switched off', { markdown: false }, 'markdown', false],
    ['another language stays on', { markdown: false }, 'typescript', true],
    ['"*" off switches off the languages not named', { '*': false, python: true }, 'typescript', false],
    ['a named language wins over "*"', { '*': false, python: true }, 'python', true],
    ['"*" on, one off', { '*': true, plaintext: false }, 'plaintext', false],
    ['ids are matched exactly (LSP ids are case-sensitive)', { markdown: false }, 'Markdown', true],
    ['inherited keys are not entries', { '*': false }, 'constructor', false],
    ['inherited keys are not entries (on)', {}, 'toString', true],
  ];
  it.each(rows)('%s', (_name, languages, id, expected) => {
    expect(languageEnabled(languages, id)).toBe(expected);
  });

  it('says why a request is off, inline.enabled first, then the language, then the snooze', () => {
    const on = defaultConfig().inline;
    expect(inlineOff(on, 'typescript', undefined)).toBeUndefined();
    expect(inlineOff({ ...on, enabled: false }, 'markdown', 0)).toBe('inline completions are switched off (inline.enabled)');
    expect(inlineOff({ ...on, languages: { markdown: false } }, 'markdown', 0)).toBe('inline completions are switched off for language "markdown" (inline.languages)');
    expect(inlineOff(on, 'markdown', Date.UTC(2030, 0, 2, 3, 4))).toBe('inline completions are snoozed until 2030-01-02T03:04:00.000Z (tandem.snooze)');
  });
});

/** A clock and a timer the test moves by hand. */
function fakeTime(start = Date.UTC(2030, 0, 1, 12, 0)) {
  let now = start;
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  return {
    now: () => now,
    schedule: (fn: () => void, ms: number) => {
      const t = { at: now + ms, fn, cancelled: false };
      timers.push(t);
      return () => {
        t.cancelled = true;
      };
    },
    /** Timers not cancelled and not yet run. */
    pending: () => timers.filter((t) => !t.cancelled).map((t) => t.at),
    /**
     * Moves the clock to `to` and runs the timers due by then; `early` runs those already set that
     * many ms before their time, as a real timer may (the ones they set are on time).
     */
    advance(to: number, early = 0) {
      now = to;
      const set = new Set(timers);
      for (;;) {
        const due = timers.find((t) => !t.cancelled && t.at - (set.has(t) ? early : 0) <= now);
        if (!due) return;
        due.cancelled = true;
        due.fn();
      }
    },
  };
}

describe('Snooze', () => {
  it('ends by the clock; the timer at the end tells the status once', () => {
    const time = fakeTime();
    let changes = 0;
    const s = new Snooze({ now: time.now, schedule: time.schedule, onChange: () => changes++ });
    expect(s.endsAt).toBeUndefined();
    const start = time.now();
    expect(s.set(30)).toBe(start + 30 * 60_000);
    expect(s.endsAt).toBe(start + 30 * 60_000);
    expect(changes).toBe(1);
    expect(time.pending()).toEqual([start + 30 * 60_000]);
    time.advance(start + 30 * 60_000 - 1);
    expect(s.endsAt).toBe(start + 30 * 60_000);
    time.advance(start + 30 * 60_000);
    expect(s.endsAt).toBeUndefined();
    expect(changes).toBe(2);
    expect(time.pending()).toEqual([]);
  });

  it('a timer that fires before the clock reaches the end waits the rest', () => {
    const time = fakeTime();
    let changes = 0;
    const s = new Snooze({ now: time.now, schedule: time.schedule, onChange: () => changes++ });
    const end = s.set(1)!;
    time.advance(end - 5, 10); // fires 5 ms before the end
    expect(s.endsAt).toBe(end);
    expect(changes).toBe(1);
    expect(time.pending()).toEqual([end]);
    time.advance(end);
    expect(s.endsAt).toBeUndefined();
    expect(changes).toBe(2);
  });

  it('0 resumes at once; a new snooze moves the end and drops the old timer; fractions of minutes count', () => {
    const time = fakeTime();
    const s = new Snooze({ now: time.now, schedule: time.schedule });
    const start = time.now();
    s.set(10);
    expect(s.set(0)).toBeUndefined();
    expect(s.endsAt).toBeUndefined();
    expect(time.pending()).toEqual([]);
    s.set(10);
    expect(s.set(0.5)).toBe(start + 30_000);
    expect(time.pending()).toEqual([start + 30_000]);
    s.dispose();
    expect(time.pending()).toEqual([]);
  });

  it('the status says until when, in its message and as a date', () => {
    const base: Status = { state: 'ok', message: 'inline via fim (12 ms)', backends: [] };
    expect(withSnooze(base, undefined)).toBe(base);
    const now = new Date(2030, 0, 1, 9, 0).getTime(); // local time, as the message is
    const later = new Date(2030, 0, 1, 14, 5).getTime();
    expect(withSnooze(base, later, now)).toEqual({ ...base, message: 'inline via fim (12 ms); inline completions snoozed until 14:05', snoozedUntil: new Date(later).toISOString() });
    const tomorrow = new Date(2030, 0, 2, 8, 30).getTime();
    expect(withSnooze(base, tomorrow, now).message).toBe('inline via fim (12 ms); inline completions snoozed until 2030-01-02 08:30');
  });
});
