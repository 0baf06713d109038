// Test runner settings: unit, end-to-end (spawned server, real nginx, real editors) and deploy tests in one run.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setupSyntax.ts'],
    // End-to-end tests spawn servers and editors, and assert no speed (timing goals live in
    // bench/): this bound only catches a test that is stuck. A cell of the fault matrix takes
    // 10-15 s on a 2-core machine with both cores busy and five servers starting at once.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Servers started by tests write their audit log and spend ledger here, never to the
    // developer's own ~/.local/state.
    env: { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'tandem-test-state-')) },
  },
});
