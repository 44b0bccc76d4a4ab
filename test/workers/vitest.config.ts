// The Workers tests: they run inside workerd through @cloudflare/vitest-plugin, with the Worker of
// wrangler.toml, a local D1 database and queue, and the local forge started on Node by
// global-setup.ts. `npm test` runs them as the project "workers" (test/vitest.config.ts), and
// `npm run test:workers` runs them alone.
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  plugins: [
    cloudflareTest(async ({ inject }) => ({
      wrangler: { configPath: `${root}/wrangler.toml` },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(`${root}/migrations`),
          MARGINALIA_PUBLIC_SITE_URL: 'http://127.0.0.1:4321',
          MARGINALIA_INTERNAL_SITE_URL: 'http://127.0.0.1:4322',
          MARGINALIA_API_PUBLIC_URL: 'http://127.0.0.1:8787',
          MARGINALIA_STAFF_TOKEN: 'workers-test-staff-token-0123456789',
          MARGINALIA_WEBHOOK_SECRET: inject<string>('webhookSecret'),
          MARGINALIA_GITHUB_OWNER: 'marginalia',
          MARGINALIA_GITHUB_REPO: 'blog',
          MARGINALIA_GITHUB_API_URL: inject<string>('forgeUrl'),
          MARGINALIA_GITHUB_TOKEN: inject<string>('forgeToken'),
          MARGINALIA_PUBLIC_DEPLOY_HOOK_URL: `${inject<string>('controlUrl')}/hooks/public`,
          MARGINALIA_INTERNAL_DEPLOY_HOOK_URL: `${inject<string>('controlUrl')}/hooks/internal`,
          // Each test sends from its own address; the limits are tested on their own.
          MARGINALIA_RATE_LIMIT_ADDRESS_PER_MINUTE: '1000',
          MARGINALIA_RATE_LIMIT_ADDRESS_PER_HOUR: '1000',
          MARGINALIA_RATE_LIMIT_POST_PER_HOUR: '1000',
        },
        // Wake-ups arrive as soon as they are due, rather than after wrangler.toml's batch timeout.
        queueConsumers: {
          'marginalia-delivery': { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries: 10 },
        },
      },
    })),
  ],
  test: {
    name: 'workers',
    root,
    include: ['test/workers/**/*.test.ts'],
    globalSetup: ['test/workers/global-setup.ts'],
    setupFiles: ['test/workers/support/apply-migrations.ts'],
    // The files share the local forge and its fault rules, so they run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    // The Worker logs JSON lines to the console; they are shown for failed tests only.
    silent: 'passed-only',
    hookTimeout: 60_000,
  },
});
