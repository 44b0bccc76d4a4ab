// The Node entry point of the API: the app, its SQLite outbox and its delivery worker, served by
// @hono/node-server. The caller supplies the forge client and what to do after a merge.
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, Hono } from 'hono';
import type { RateLimiter } from '../abuse/rate-limit.ts';
import { createApp, type AppEnv } from '../app.ts';
import type { ApiConfig } from '../config.ts';
import { renderCommentMarkdown } from '../content/render.ts';
import { createDeliveryWorker, type DeliveryWorker } from '../delivery/worker.ts';
import type { BackoffOptions } from '../delivery/backoff.ts';
import { reconcile, type ReconcileSummary } from '../delivery/reconcile.ts';
import {
  startReconcileScheduler,
  type ReconcileScheduler,
} from '../delivery/reconcile-scheduler.ts';
import type { ForgeClient } from '../forge/types.ts';
import { openSqliteStore } from '../outbox/sqlite-store.ts';
import type { CommentStore } from '../outbox/types.ts';
import { sleep, systemClock, type Clock } from '../platform/clock.ts';
import { createAlertSender } from '../monitor/alerts.ts';
import { createMonitor, type DeploymentSource, type Monitor } from '../monitor/monitor.ts';
import { DEFAULT_MONITOR_SETTINGS } from '../monitor/settings.ts';
import { loadCommentDates, loadCommentIndex, loadPosts } from '../platform/content-index.ts';
import { createIdGenerator } from '../platform/ids.ts';
import { createStderrLogger, type Logger } from '../platform/logger.ts';
import { startAddressPurge } from '../privacy/retention.ts';
import type { SiteDeployment } from '../sites/deployments.ts';

export interface ApiServerOptions {
  config: ApiConfig;
  forge: ForgeClient;
  /** Folder for the outbox database (outbox.sqlite); created when absent. */
  dataDir: string;
  /** The content/ folder the posts and existing comments are read from at startup. */
  contentDir: string;
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  host?: string;
  onMerged?: (mergeSha: string) => void | Promise<void>;
  logger?: Logger;
  clock?: Clock;
  /** Whether to start the delivery worker; tests that drive it by hand pass false. */
  startWorker?: boolean;
  backoff?: BackoffOptions;
  /**
   * Failed delivery attempts after which a comment becomes a dead letter. It overrides
   * config.maxDeliveryAttempts, and the worker's default (12) applies when both are absent.
   */
  maxDeliveryAttempts?: number;
  synchronous?: 'FULL' | 'NORMAL';
  /** Keeps submission counts for the rate limits (config.rateLimits); in memory when absent. */
  rateLimiter?: RateLimiter;
  /**
   * Settings of the monitor (canary, checks, alerts). No monitor runs when absent or false, as in
   * tests that count pull requests, because they would find the canary's among them.
   */
  monitor?: false | ServerMonitorOptions;
  /**
   * Runs reconciliation at start and then every `intervalMs` (10 minutes when absent). Without
   * this option it runs only when `reconcile()` is called.
   */
  reconcile?: { intervalMs?: number };
  /** Deployed sites that reconciliation compares with the base branch. */
  sites?: readonly SiteDeployment[];
}

export interface ServerMonitorOptions {
  /** Time between runs of the checks, in milliseconds of the clock. */
  tickMs?: number;
  forgeCheckMs?: number;
  recoveryProbeMs?: number;
  deployments?: DeploymentSource;
  /** Sends alerts and dead-man pings; the global fetch when absent. */
  fetch?: typeof fetch;
  /** Attempts per alert before it counts as undeliverable. */
  alertAttempts?: number;
}

export interface ApiServer {
  /** Base URL of the listening server, such as http://127.0.0.1:40123 */
  url: string;
  port: number;
  app: Hono<AppEnv>;
  store: CommentStore;
  worker: DeliveryWorker;
  /** The monitor, or null when it was turned off. */
  monitor: Monitor | null;
  /**
   * Reads the posts and comment ids from the content folder again, after the base branch moved.
   * The maps are refilled in place, because the routes and the worker hold them.
   */
  reloadContent(contentDir?: string): Promise<void>;
  /** Runs one reconciliation with this server's store, forge and onMerged, and waits for it. */
  reconcile(overrides?: { minAgeMs?: number }): Promise<ReconcileSummary>;
  /** Stops the worker after its delivery in flight, closes the server, then the database. */
  close(): Promise<void>;
}

/**
 * Reports the deployed sites that reconciliation watches, and the base branch's head, for the
 * monitor's rebuild check.
 */
function watchedDeployments(
  forge: ForgeClient,
  sites: readonly SiteDeployment[],
): DeploymentSource {
  return {
    baseHead: () => forge.baseBranchSha(),
    async deployments() {
      const read = await Promise.all(
        sites.map(async (site) => ({ name: site.name, deployed: await site.deployed.read() })),
      );
      // A site whose commit cannot be read (a hosted site without a deployed-commit URL) is left
      // out, rather than counted as lagging forever.
      return read.flatMap(({ name, deployed }) =>
        deployed.known ? [{ site: name, commit: deployed.sha, at: null, error: null }] : [],
      );
    },
  };
}

/** Returns the TCP peer's address, or undefined for a request that came without a socket. */
function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // app.request() in a test passes no Node request, so getConnInfo finds no socket.
    return undefined;
  }
}

function refill<K, V>(target: Map<K, V>, source: ReadonlyMap<K, V>): void {
  target.clear();
  for (const [key, value] of source) target.set(key, value);
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createStderrLogger(() => clock.now());
  const host = options.host ?? '127.0.0.1';

  const [posts, knownComments] = await Promise.all([
    loadPosts(options.contentDir),
    loadCommentIndex(options.contentDir),
  ]);
  await mkdir(options.dataDir, { recursive: true });
  const store = openSqliteStore({
    path: join(options.dataDir, 'outbox.sqlite'),
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
  });
  // Runs with or without a key, so that addresses kept under an earlier key still expire.
  const addressPurge = startAddressPurge({
    store,
    clock,
    logger,
    ...(options.config.emailRetentionDays === undefined
      ? {}
      : { retentionDays: options.config.emailRetentionDays }),
  });
  const maxAttempts = options.maxDeliveryAttempts ?? options.config.maxDeliveryAttempts;
  const worker = createDeliveryWorker({
    store,
    forge: options.forge,
    posts,
    clock,
    logger,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
  const onMerged = options.onMerged ?? (() => undefined);
  let contentDir = options.contentDir;
  // The canary posts to this server's own address, filled in once it listens.
  let ownUrl: string | null = null;
  const monitorOptions =
    options.monitor === false || options.monitor === undefined ? null : options.monitor;
  const settings = options.config.monitor ?? DEFAULT_MONITOR_SETTINGS;
  const alerts =
    monitorOptions === null || settings.alertWebhookUrl === undefined
      ? undefined
      : createAlertSender({
          url: settings.alertWebhookUrl,
          clock,
          logger,
          sleep: (ms) => sleep(clock, ms),
          ...(monitorOptions.fetch === undefined ? {} : { fetch: monitorOptions.fetch }),
          ...(monitorOptions.alertAttempts === undefined
            ? {}
            : { maxAttempts: monitorOptions.alertAttempts }),
        });
  const monitor =
    monitorOptions === null
      ? null
      : createMonitor({
          store,
          forge: options.forge,
          clock,
          logger,
          posts,
          config: options.config,
          settings,
          submit: (request) => {
            if (ownUrl === null) throw new Error('the API server is not listening yet');
            const url = new URL(request.url);
            return fetch(new Request(new URL(url.pathname, ownUrl), request));
          },
          wakeWorker: () => worker.wake(),
          retryDeadLetter: (id) => worker.retryDeadLetter(id),
          commentHistory: () => loadCommentDates(contentDir),
          ...(alerts === undefined ? {} : { alerts }),
          ...(monitorOptions.tickMs === undefined ? {} : { tickMs: monitorOptions.tickMs }),
          ...(monitorOptions.forgeCheckMs === undefined
            ? {}
            : { forgeCheckMs: monitorOptions.forgeCheckMs }),
          ...(monitorOptions.recoveryProbeMs === undefined
            ? {}
            : { recoveryProbeMs: monitorOptions.recoveryProbeMs }),
          deployments:
            monitorOptions.deployments ?? watchedDeployments(options.forge, options.sites ?? []),
          ...(monitorOptions.fetch === undefined ? {} : { fetch: monitorOptions.fetch }),
        });
  const app = createApp({
    config: options.config,
    store,
    forge: options.forge,
    clock,
    logger,
    ids: createIdGenerator({ now: () => clock.now() }),
    posts,
    knownComments,
    renderMarkdown: renderCommentMarkdown,
    onMerged,
    wakeWorker: () => worker.wake(),
    ...(monitor === null ? {} : { health: () => monitor.report() }),
    abuse: {
      socketAddress,
      ...(options.rateLimiter === undefined ? {} : { rateLimiter: options.rateLimiter }),
    },
  });

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const listening = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: host }, () =>
      resolve(listening),
    );
    listening.once('error', reject);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    addressPurge.stop();
    await store.close();
    throw new Error(`the API server on ${host} did not report a TCP port`);
  }
  const port = (address satisfies AddressInfo).port;
  ownUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (options.startWorker !== false) worker.start();
  monitor?.start();
  const reconcileOnce = (overrides: { minAgeMs?: number } = {}) =>
    reconcile({
      store,
      forge: options.forge,
      clock,
      logger,
      onMerged,
      sites: options.sites ?? [],
      ...overrides,
    });
  const scheduler: ReconcileScheduler | null =
    options.reconcile === undefined
      ? null
      : startReconcileScheduler({
          run: () => reconcileOnce(),
          logger,
          ...(options.reconcile.intervalMs === undefined
            ? {}
            : { intervalMs: options.reconcile.intervalMs }),
        });
  logger.info('api listening', { url: `http://${host}:${port}`, posts: posts.size });

  return {
    url: `http://${host}:${port}`,
    port,
    app,
    store,
    worker,
    monitor,
    async reloadContent(freshDir = contentDir) {
      contentDir = freshDir;
      const [freshPosts, freshComments] = await Promise.all([
        loadPosts(freshDir),
        loadCommentIndex(freshDir),
      ]);
      refill(posts, freshPosts);
      refill(knownComments, freshComments);
      logger.info('content reloaded', { posts: posts.size, comments: knownComments.size });
    },
    reconcile: reconcileOnce,
    async close() {
      await monitor?.stop();
      await scheduler?.stop();
      await worker.stop();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
      });
      addressPurge.stop();
      await store.close();
    },
  };
}
