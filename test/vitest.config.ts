import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: '.',
    include: ['test/**/*.test.ts'],
    // The Workers tests run inside workerd with their own config: npm run test:workers.
    exclude: ['test/workers/**', '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Browser and build suites start servers and Chromium; two cores run two files at a time.
    maxWorkers: 2,
  },
});
