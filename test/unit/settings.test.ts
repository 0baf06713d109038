// The server's configuration in force: which editor channel fills which layer, and what a push replaces.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Settings } from '../../server/src/server/settings.js';

function settings(userFile: unknown): Settings {
  const home = mkdtempSync(join(tmpdir(), 'tandem-settings-'));
  mkdirSync(join(home, 'tandem'));
  writeFileSync(join(home, 'tandem', 'config.json'), JSON.stringify(userFile));
  return new Settings({ env: { XDG_CONFIG_HOME: home }, roots: () => [] });
}

const reload = (s: Settings) => {
  const r = s.reload();
  if (!r.ok) throw new Error(r.error);
  return r.warnings;
};

describe('Settings', () => {
  const userFile = { backends: { fim: { kind: 'vllm', url: 'http://gpu:8000' } }, inline: { maxTokens: 100 } };

  it('a push replaces the previous push only, never the user file or the pulled answer', () => {
    const s = settings(userFile);
    s.setInitializationOptions(undefined, false);
    s.setPulledSection({ inline: { maxLines: 4 } });
    s.setPushedSection({ inline: { maxTokens: 10 } });
    expect(reload(s)).toEqual([]);
    expect(s.config.inline).toMatchObject({ maxTokens: 10, maxLines: 4 });
    s.setPushedSection({ inline: { temperature: 0.5 } });
    reload(s);
    expect(s.config.inline).toMatchObject({ maxTokens: 100, maxLines: 4, temperature: 0.5 });
  });

  it('pushed defaults (routes: []) leave the user file in force: a warning at most, never an error', () => {
    const s = settings(userFile);
    s.setInitializationOptions(undefined, false);
    s.setPushedSection({ backends: {}, routes: { inline: [], action: [], multiFile: [] }, privacy: { airGapped: false, onPremOnly: [] }, audit: { enabled: true } });
    const warnings = reload(s);
    expect(s.config.backends.fim?.url).toBe('http://gpu:8000');
    expect(s.config.routes.inline).toEqual(['fim']);
    // The user file sets no routes: the push's are named where they differ from it.
    expect(warnings.map((w) => w.split(': ')[1])).toEqual(['routes']);
  });

  it('the scope capability decides whether {user} in the answer is user-level', () => {
    const foreign = { user: { backends: { fim: { kind: 'vllm', url: 'http://127.0.0.1:8123' } } } };
    const plain = settings(userFile);
    plain.setInitializationOptions(undefined, false);
    plain.setPulledSection(foreign);
    reload(plain);
    expect(plain.config.backends.fim?.url).toBe('http://gpu:8000');
    const vouched = settings(userFile);
    vouched.setInitializationOptions(undefined, true);
    vouched.setPulledSection(foreign);
    expect(reload(vouched)).toEqual([]);
    expect(vouched.config.backends.fim?.url).toBe('http://127.0.0.1:8123');
  });
});
