// `npm run serve`: the API on Node against GitHub, for self-hosting behind a reverse proxy. It
// reads every setting of docs/configuration.md from the environment, the GitHub ones included,
// and stops with exit code 2 naming the first missing or invalid variable. Besides those:
//
//   MARGINALIA_DATA_DIR     folder of the outbox and deploy-trigger databases (data)
//   MARGINALIA_CONTENT_DIR  a checkout of the site repository's content/ folder (content); the
//                           deployment keeps it current, and the API reads it again every minute
//   MARGINALIA_HOST         address to listen on (127.0.0.1)
//   MARGINALIA_PORT         TCP port (8787)
//
// The monitor (canary, health checks, alerts) and reconciliation run in the process. Logs are
// JSON lines on stderr. SIGINT or SIGTERM stops it after the delivery in flight.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, parseConfig, type ApiConfig } from '../config.ts';
import {
  createForgeFromConfig,
  parseGitHubConfig,
  type GitHubConfig,
} from '../forge/github-config.ts';
import { errorMessage, createStderrLogger } from '../platform/logger.ts';
import {
  createDeployHooks,
  parseDeployHookConfig,
  type DeployHookConfig,
} from '../sites/deploy-hooks.ts';
import { openSqliteTriggerLog } from '../sites/deploy-trigger-log.ts';
import { hostedDeployments } from '../sites/deployments.ts';
import { installProcessGuard } from './process-guard.ts';
import { startApiServer } from './server.ts';

/** Time between reads of the content folder, in milliseconds. */
const CONTENT_RELOAD_MS = 60_000;

const EXIT_CONFIG = 2;

interface Settings {
  config: ApiConfig;
  github: GitHubConfig;
  deployHooks: DeployHookConfig;
  host: string;
  port: number;
  dataDir: string;
  contentDir: string;
}

function readPort(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 8787;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError('MARGINALIA_PORT', 'must be a TCP port from 1 to 65535');
  }
  return port;
}

function readSettings(env: Record<string, string | undefined>): Settings {
  return {
    config: parseConfig(env),
    github: parseGitHubConfig(env),
    deployHooks: parseDeployHookConfig(env),
    host: env['MARGINALIA_HOST']?.trim() || '127.0.0.1',
    port: readPort(env['MARGINALIA_PORT']),
    dataDir: path.resolve(env['MARGINALIA_DATA_DIR']?.trim() || 'data'),
    contentDir: path.resolve(env['MARGINALIA_CONTENT_DIR']?.trim() || 'content'),
  };
}

async function main(): Promise<void> {
  const logger = createStderrLogger();
  installProcessGuard({ logger });
  let settings: Settings;
  try {
    settings = readSettings(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}. See docs/configuration.md.\n`);
    process.exit(EXIT_CONFIG);
  }

  await mkdir(settings.dataDir, { recursive: true });
  const forge = createForgeFromConfig(settings.github, { logger });
  const triggerLog = openSqliteTriggerLog(path.join(settings.dataDir, 'deploy-triggers.sqlite'));
  const deployHooks = createDeployHooks({
    hooks: settings.deployHooks.hooks,
    log: triggerLog,
    logger,
  });
  const api = await startApiServer({
    config: settings.config,
    forge,
    dataDir: settings.dataDir,
    contentDir: settings.contentDir,
    host: settings.host,
    port: settings.port,
    logger,
    monitor: {},
    reconcile: {},
    sites: hostedDeployments(settings.deployHooks, deployHooks),
    onMerged: async (sha) => {
      await deployHooks.trigger(sha, `merge ${sha}`);
    },
  });
  const reload = setInterval(() => {
    api.reloadContent().catch((error: unknown) => {
      logger.error('reloading content failed', { error: errorMessage(error) });
    });
  }, CONTENT_RELOAD_MS);

  const shutdown = async (signal: string) => {
    clearInterval(reload);
    await api.close();
    triggerLog.close();
    logger.info('marginalia stopped', { signal });
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
