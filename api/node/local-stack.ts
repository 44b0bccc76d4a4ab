// The whole pipeline on one machine, with no account anywhere: the local forge seeded from a
// content folder, the API with its outbox and delivery worker, and both sites built from the
// forge's base branch and served on loopback. `npm start`, the browser tests and the corpus
// replay all start it through startLocalStack.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { RateLimitSettings } from '../abuse/rate-limit.ts';
import type { OptionalSettings } from '../config.ts';
import { createGitHubForge, createOctokit, LOCAL_FORGE_SPACING } from '../forge/github.ts';
import { startLocalForge, type LocalForge } from '../forge/local/index.ts';
import type { ForgeClient } from '../forge/types.ts';
import { createStderrLogger, errorMessage, type Logger } from '../platform/logger.ts';
import { createSiteBuilder, type BuildRecord, type SiteBuilder } from '../sites/builder.ts';
import {
  createDeployHooks,
  type DeployHookConfig,
  type DeployHooks,
} from '../sites/deploy-hooks.ts';
import { openSqliteTriggerLog } from '../sites/deploy-trigger-log.ts';
import { builderDeployment, hostedDeployments } from '../sites/deployments.ts';
import { startStaticSiteServer, type StaticSiteServer } from '../sites/static-server.ts';
import { startApiServer, type ApiServer, type ServerMonitorOptions } from './server.ts';

export interface LocalStackOptions {
  /** Folder for everything the stack keeps: repository, outbox, builds, secrets. */
  dataDir: string;
  /** Files of the repository's first commit, used only when the forge has no repository yet. */
  seedContentDir: string;
  /** Ports to listen on; 0 picks a free one. */
  ports?: Partial<Record<'forge' | 'api' | 'public' | 'internal', number>>;
  owner?: string;
  repo?: string;
  baseBranch?: string;
  /** Rebuild both sites after every merge (on by default). */
  rebuildOnMerge?: boolean;
  logger?: Logger;
  /**
   * Submission limits of the API; DEFAULT_RATE_LIMITS when absent. Scripts that send many
   * comments from one address, such as the corpus replay, raise them.
   */
  rateLimits?: RateLimitSettings;
  /** AES-256 key for reader email addresses (ApiConfig.emailKey); none is kept when absent. */
  emailKey?: Uint8Array<ArrayBuffer>;
  /** Days a stored email address is kept (ApiConfig.emailRetentionDays). */
  emailRetentionDays?: number;
  /**
   * Optional API settings read from the environment (parseOptionalSettings); the fields above
   * take precedence over the same fields here.
   */
  settings?: OptionalSettings;
  /** Settings of the API's monitor; none runs when absent. Its rebuild check watches the builder. */
  monitor?: ServerMonitorOptions;
  /**
   * Milliseconds between reconciliation runs, which also run once at start; false runs them only
   * through `api.reconcile()`. Every 10 minutes when absent.
   */
  reconcileIntervalMs?: number | false;
  /** Deploy hooks of hosted sites, triggered on each merge besides the local rebuild. */
  deployHooks?: DeployHookConfig;
}

export interface LocalStack {
  urls: { forge: string; api: string; public: string; internal: string };
  staffToken: string;
  forgeToken: string;
  forge: LocalForge;
  forgeClient: ForgeClient;
  api: ApiServer;
  builder: SiteBuilder;
  /** The hosted sites' deploy hooks, when `deployHooks` was given. */
  deployHooks: DeployHooks | null;
  /** The first build of both sites, finished by the time startLocalStack returns. */
  firstBuild: Promise<BuildRecord>;
  close(): Promise<void>;
}

interface Secrets {
  staffToken: string;
  forgeToken: string;
  webhookSecret: string;
}

export const DEFAULT_PORTS = { forge: 4010, api: 8787, public: 4321, internal: 4322 } as const;

/** Reads the stack's generated secrets, creating them on first start (file mode 0600). */
async function loadSecrets(dataDir: string): Promise<Secrets> {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    return JSON.parse(await readFile(file, 'utf8')) as Secrets;
  }
  const secrets: Secrets = {
    staffToken: randomBytes(24).toString('base64url'),
    forgeToken: randomBytes(24).toString('base64url'),
    webhookSecret: randomBytes(32).toString('hex'),
  };
  await writeFile(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return secrets;
}

/** Picks a free loopback port when `port` is 0, so that URLs are known before servers start. */
function resolvePort(port: number): Promise<number> {
  if (port !== 0) return Promise.resolve(port);
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const free = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(free));
    });
  });
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const logger = options.logger ?? createStderrLogger();
  const owner = options.owner ?? 'marginalia';
  const repo = options.repo ?? 'blog';
  const baseBranch = options.baseBranch ?? 'main';
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const secrets = await loadSecrets(dataDir);

  const ports = { ...DEFAULT_PORTS, ...options.ports };
  const apiPort = await resolvePort(ports.api);
  const apiUrl = `http://127.0.0.1:${apiPort}`;

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      await close().catch((error: unknown) =>
        logger.error('closing a part of the stack failed', { error: errorMessage(error) }),
      );
    }
  };

  try {
    const forge = await startLocalForge({
      dataDir: path.join(dataDir, 'forge'),
      owner,
      repo,
      baseBranch,
      token: secrets.forgeToken,
      port: ports.forge,
      webhook: { url: `${apiUrl}/api/webhooks/forge`, secret: secrets.webhookSecret },
      seed: { directory: path.resolve(options.seedContentDir), prefix: 'content' },
      logger,
    });
    closers.push(() => forge.close());

    // The site servers start first so that their URLs can be built into the pages.
    let siteBuilder: SiteBuilder | null = null;
    const sites: Record<'public' | 'internal', StaticSiteServer> = {
      public: await startStaticSiteServer({
        root: () => siteBuilder?.current('public') ?? null,
        port: ports.public,
        apiOrigin: apiUrl,
      }),
      internal: await startStaticSiteServer({
        root: () => siteBuilder?.current('internal') ?? null,
        port: ports.internal,
        apiOrigin: apiUrl,
      }),
    };
    closers.push(
      () => sites.public.close(),
      () => sites.internal.close(),
    );
    const siteEnv = {
      PUBLIC_API_URL: apiUrl,
      PUBLIC_SITE_URL: sites.public.url,
      INTERNAL_SITE_URL: sites.internal.url,
    };
    const builder = createSiteBuilder({
      repository: forge.repoPath,
      baseBranch,
      workDir: path.join(dataDir, 'build'),
      siteEnv,
      logger,
      onBuilt: () => {
        // Posts added or closed by a merge reach the API's checks with the next build.
        api?.reloadContent().catch((error: unknown) => {
          logger.error('reloading content failed', { error: errorMessage(error) });
        });
      },
    });
    siteBuilder = builder;
    let api: ApiServer | null = null;

    // The API validates posts and reply targets against the base branch, so it starts from the
    // checkout that the first build makes.
    const firstBuild = builder.rebuild('start');
    await firstBuild;
    let deployHooks: DeployHooks | null = null;
    if (options.deployHooks !== undefined) {
      const triggerLog = openSqliteTriggerLog(path.join(dataDir, 'deploy-triggers.sqlite'));
      closers.push(async () => triggerLog.close());
      deployHooks = createDeployHooks({
        hooks: options.deployHooks.hooks,
        log: triggerLog,
        logger,
      });
    }
    const deployments = [
      builderDeployment(builder, logger),
      ...(deployHooks === null || options.deployHooks === undefined
        ? []
        : hostedDeployments(options.deployHooks, deployHooks)),
    ];
    const forgeClient = createGitHubForge({
      octokit: createOctokit({
        baseUrl: forge.url,
        token: secrets.forgeToken,
        ...LOCAL_FORGE_SPACING,
      }),
      owner,
      repo,
      baseBranch,
      committer: { name: 'Marginalia', email: 'marginalia@localhost' },
      logger,
    });
    api = await startApiServer({
      config: {
        publicSiteUrl: sites.public.url,
        internalSiteUrl: sites.internal.url,
        apiPublicUrl: apiUrl,
        staffToken: secrets.staffToken,
        webhookSecret: secrets.webhookSecret,
        ...options.settings,
        ...(options.rateLimits === undefined ? {} : { rateLimits: options.rateLimits }),
        ...(options.emailKey === undefined ? {} : { emailKey: options.emailKey }),
        ...(options.emailRetentionDays === undefined
          ? {}
          : { emailRetentionDays: options.emailRetentionDays }),
      },
      forge: forgeClient,
      dataDir: path.join(dataDir, 'api'),
      contentDir: builder.contentDir(),
      port: apiPort,
      logger,
      ...(options.monitor === undefined ? {} : { monitor: options.monitor }),
      onMerged: async (sha) => {
        if (options.rebuildOnMerge === false) return;
        builder.rebuild(`merge ${sha}`).catch((error: unknown) => {
          logger.error('site rebuild failed', { sha, error: errorMessage(error) });
        });
        await deployHooks?.trigger(sha, `merge ${sha}`);
      },
      sites: deployments,
      ...(options.reconcileIntervalMs === false
        ? {}
        : {
            reconcile:
              options.reconcileIntervalMs === undefined
                ? {}
                : { intervalMs: options.reconcileIntervalMs },
          }),
    });
    const startedApi = api;
    closers.push(() => startedApi.close());

    return {
      urls: {
        forge: forge.url,
        api: apiUrl,
        public: sites.public.url,
        internal: sites.internal.url,
      },
      staffToken: secrets.staffToken,
      forgeToken: secrets.forgeToken,
      forge,
      forgeClient,
      api: startedApi,
      builder,
      deployHooks,
      firstBuild,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
