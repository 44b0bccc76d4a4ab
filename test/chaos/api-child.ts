// Starts the API for the fault-injection harness as its own process, so that the harness can kill
// it with SIGKILL and start it again on the same outbox folder and port. Settings come from the
// environment (CHAOS_*); the process prints one JSON line `{"url": …}` on stdout once it listens.
import { createGitHubForge, createOctokit, LOCAL_FORGE_SPACING } from '../../api/forge/github.ts';
import { startApiServer } from '../../api/node/server.ts';
import { createStderrLogger, errorMessage } from '../../api/platform/logger.ts';

/** Failed attempts before a dead letter: high, so that no comment stops retrying under faults. */
const MAX_DELIVERY_ATTEMPTS = 10_000;

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is missing; the chaos harness sets it before starting this script`);
  }
  return value;
}

async function main(): Promise<void> {
  const logger = createStderrLogger();
  const forgeUrl = required('CHAOS_FORGE_URL');
  const publicSiteUrl = required('CHAOS_PUBLIC_SITE_URL');
  const port = Number(required('CHAOS_PORT'));
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`CHAOS_PORT must be a port number from 0 to 65535, not ${String(port)}`);
  }
  const forge = createGitHubForge({
    octokit: createOctokit({
      baseUrl: forgeUrl,
      token: required('CHAOS_FORGE_TOKEN'),
      ...LOCAL_FORGE_SPACING,
      // Short waits between the retry plugin's attempts keep a run with 30% failures short.
      retryBaseDelayMs: 20,
    }),
    owner: required('CHAOS_OWNER'),
    repo: required('CHAOS_REPO'),
    baseBranch: required('CHAOS_BASE_BRANCH'),
    committer: { name: 'Marginalia', email: 'marginalia@localhost' },
    requestTimeoutMs: 5_000,
    logger,
  });
  const api = await startApiServer({
    config: {
      publicSiteUrl,
      internalSiteUrl: required('CHAOS_INTERNAL_SITE_URL'),
      apiPublicUrl: `http://127.0.0.1:${port}`,
      staffToken: 'chaos-staff-token-0123456789',
      webhookSecret: 'chaos-webhook-secret-0123456789',
      rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
    },
    forge,
    dataDir: required('CHAOS_DATA_DIR'),
    contentDir: required('CHAOS_CONTENT_DIR'),
    port,
    logger,
    backoff: { baseMs: 50, maxMs: 1_000 },
    maxDeliveryAttempts: MAX_DELIVERY_ATTEMPTS,
  });
  process.stdout.write(JSON.stringify({ url: api.url }) + '\n');
  process.once('SIGTERM', () => {
    api.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('closing the API failed', { error: errorMessage(error) });
        process.exit(1);
      },
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos API child failed to start: ${errorMessage(error)}\n`);
  process.exit(1);
});
