import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Browser and build suites start servers and Chromium; two cores run two files at a time.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'node',
          root: '.',
          include: ['test/**/*.test.ts'],
          // The Workers tests run inside workerd, in the project below.
          exclude: ['test/workers/**', '**/node_modules/**'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      'test/workers/vitest.config.ts',
    ],
  },
});
