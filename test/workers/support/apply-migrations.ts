// Applies migrations/ to the test D1 database before each test file runs.
import { applyD1Migrations, type D1Migration } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import type { WorkerEnv } from '../../../api/workers/env.ts';

const bindings = env as WorkerEnv & { TEST_MIGRATIONS: D1Migration[] };
await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
