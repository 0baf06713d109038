// Test runner settings: unit, end-to-end (spawned server, real nginx) and deploy tests in one run.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests spawn servers and editors; on a loaded 2-core CI machine they need headroom.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
