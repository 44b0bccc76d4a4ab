// Starts the local forge from environment variables and prints its URL (`npm run forge`).
//
//   FORGE_TOKEN           required; the token clients send (Authorization: token <FORGE_TOKEN>)
//   FORGE_DATA_DIR        folder for the bare repository and pull requests (.marginalia/forge)
//   FORGE_OWNER           repository owner (marginalia)
//   FORGE_REPO            repository name (blog)
//   FORGE_BASE_BRANCH     branch that pull requests merge into (main)
//   FORGE_HOST            address to listen on (127.0.0.1)
//   FORGE_PORT            TCP port, 0 for any free one (4010)
//   FORGE_SEED_DIR        folder whose files form the first commit, under its own name, when the
//                         repository does not exist yet (content)
//   FORGE_WEBHOOK_URL     where pull_request and push events are POSTed (none when unset)
//   FORGE_WEBHOOK_SECRET  HMAC secret for X-Hub-Signature-256; required with FORGE_WEBHOOK_URL
//
// Logs are JSON lines on stderr; the URL is the one line on stdout.

import { existsSync } from 'node:fs';
import type { ForgeLogger } from '../types.ts';
import { startLocalForge } from './server.ts';

function jsonLineLogger(): ForgeLogger {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`,
    );
  };
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

function readPort(value: string | undefined): number {
  if (value === undefined || value === '') return 4010;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(
      `FORGE_PORT is ${JSON.stringify(value)}; set it to a TCP port from 0 to 65535.`,
    );
  }
  return port;
}

async function main(): Promise<void> {
  const env = process.env;
  const token = env['FORGE_TOKEN'];
  if (token === undefined || token === '') {
    throw new Error('FORGE_TOKEN is not set; set it to the token the forge clients will send.');
  }
  const webhookUrl = env['FORGE_WEBHOOK_URL'];
  const webhookSecret = env['FORGE_WEBHOOK_SECRET'];
  if (
    webhookUrl !== undefined &&
    webhookUrl !== '' &&
    (webhookSecret === undefined || webhookSecret === '')
  ) {
    throw new Error(
      'FORGE_WEBHOOK_SECRET is not set; webhooks must be signed, so set it with FORGE_WEBHOOK_URL.',
    );
  }
  const seedDir = env['FORGE_SEED_DIR'] ?? 'content';
  const logger = jsonLineLogger();
  const forge = await startLocalForge({
    dataDir: env['FORGE_DATA_DIR'] ?? '.marginalia/forge',
    owner: env['FORGE_OWNER'] ?? 'marginalia',
    repo: env['FORGE_REPO'] ?? 'blog',
    baseBranch: env['FORGE_BASE_BRANCH'] ?? 'main',
    host: env['FORGE_HOST'] ?? '127.0.0.1',
    port: readPort(env['FORGE_PORT']),
    token,
    ...(webhookUrl !== undefined && webhookUrl !== '' && webhookSecret !== undefined
      ? { webhook: { url: webhookUrl, secret: webhookSecret } }
      : {}),
    ...(existsSync(seedDir) ? { seed: { directory: seedDir } } : {}),
    logger,
  });
  process.stdout.write(`${forge.url}\n`);
  const stop = () => {
    forge.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('local forge failed to stop', { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
