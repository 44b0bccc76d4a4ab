// The parts of the API that one Worker isolate builds once from its bindings and reuses for every
// request, queue batch and cron run: config, D1 store, forge client, delivery worker and app.
import { waitUntil } from 'cloudflare:workers';
import type { Hono } from 'hono';
import { createD1RateLimiter } from '../abuse/d1-rate-limit.ts';
import { createApp, type AppEnv } from '../app.ts';
import { parseConfig, type ApiConfig } from '../config.ts';
import { renderCommentMarkdown } from '../content/render.ts';
import { createDeliveryWorker, type DeliveryWorker } from '../delivery/worker.ts';
import { createAlertSender, type AlertSender } from '../monitor/alerts.ts';
import { createMonitor, type Monitor } from '../monitor/monitor.ts';
import { DEFAULT_MONITOR_SETTINGS } from '../monitor/settings.ts';
import { LOCAL_FORGE_SPACING } from '../forge/github.ts';
import {
  createForgeFromConfig,
  parseGitHubConfig,
  type GitHubConfig,
} from '../forge/github-config.ts';
import type { ForgeClient } from '../forge/types.ts';
import { createD1Store, type D1CommentStore } from '../outbox/d1-store.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import type { D1Database } from '../platform/d1.ts';
import { createIdGenerator } from '../platform/ids.ts';
import { createJsonLogger, errorMessage, type Logger } from '../platform/logger.ts';
import { createContentState, type ContentState } from './content-refresh.ts';
import { stringVariables, type DeliveryMessage, type WorkerEnv } from './env.ts';

/** Maximum delaySeconds of a Cloudflare Queues message: 12 hours (Cloudflare's Queues limits page). */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;

export interface WorkerRuntime {
  env: WorkerEnv;
  config: ApiConfig;
  forgeSettings: GitHubConfig;
  store: D1CommentStore;
  forge: ForgeClient;
  clock: Clock;
  logger: Logger;
  content: ContentState;
  worker: DeliveryWorker;
  monitor: Monitor;
  /** Alert delivery, or null when MARGINALIA_ALERT_WEBHOOK_URL is unset. */
  alerts: AlertSender | null;
  app: Hono<AppEnv>;
  /** Asks the deploy hooks to rebuild both sites from a merge commit, in the background. */
  onMerged(mergeSha: string): void;
  /** Sends a wake-up for `commentId`, delayed until `due` or by the Queues maximum at most. */
  enqueue(commentId: string, due?: Date): Promise<void>;
}

/** Options tests use to build a runtime with a clock or backoff of their own. */
export interface RuntimeOverrides {
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
}

/** Seconds from `now` until `at`, rounded up, between 0 and MAX_QUEUE_DELAY_SECONDS. */
export function queueDelaySeconds(at: Date, now: Date): number {
  const seconds = Math.ceil((at.getTime() - now.getTime()) / 1000);
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, seconds));
}

/** Runs `work` after the response without letting the runtime cancel it, and logs a failure. */
export function inBackground(logger: Logger, description: string, work: Promise<unknown>): void {
  waitUntil(
    work.catch((error: unknown) => {
      logger.error(`${description} failed`, { error: errorMessage(error) });
    }),
  );
}

/** Asks each configured deploy hook to rebuild its site; a hook is one POST without a body. */
async function callDeployHooks(env: WorkerEnv, logger: Logger, mergeSha: string): Promise<void> {
  const hooks = [
    ['public', env.MARGINALIA_PUBLIC_DEPLOY_HOOK_URL],
    ['internal', env.MARGINALIA_INTERNAL_DEPLOY_HOOK_URL],
  ] as const;
  for (const [site, url] of hooks) {
    if (url === undefined || url.trim() === '') continue;
    const response = await fetch(url, { method: 'POST' });
    if (!response.ok) {
      throw new Error(`the ${site} site's deploy hook returned HTTP ${response.status}`);
    }
    logger.info('site rebuild requested', { site, mergeSha });
  }
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

export function createRuntime(env: WorkerEnv, overrides: RuntimeOverrides = {}): WorkerRuntime {
  const clock = overrides.clock ?? systemClock;
  const logger =
    overrides.logger ??
    createJsonLogger(
      (line) => console.log(line.trimEnd()),
      () => clock.now(),
    );
  const variables = stringVariables(env);
  const config = parseConfig(variables);
  const forgeSettings = parseGitHubConfig(variables);
  // The binding has the methods of the local D1Database declaration and more.
  const db = env.DB as unknown as D1Database;
  const store = createD1Store(db);
  const github = createForgeFromConfig(forgeSettings, {
    logger,
    // GitHub's best practices call for spaced writes. A forge on loopback is the local one,
    // which has no such limit, and the Workers tests and `wrangler dev` use it.
    ...(isLoopback(forgeSettings.apiUrl) ? { octokit: LOCAL_FORGE_SPACING } : {}),
    client: { now: () => clock.now().getTime() },
  });
  // The webhook route deletes a closed branch without awaiting it. On Workers, such work must be
  // registered with waitUntil, because the runtime may cancel it once the response is sent.
  const forge: ForgeClient = {
    ...github,
    deleteBranch(branch) {
      const deleting = github.deleteBranch(branch);
      waitUntil(deleting.catch(() => undefined));
      return deleting;
    },
  };
  const content = createContentState({ db, forge, logger, clock });
  const worker = createDeliveryWorker({
    store,
    forge,
    posts: content.maps.posts,
    clock,
    logger,
    ...(config.maxDeliveryAttempts === undefined
      ? {}
      : { maxAttempts: config.maxDeliveryAttempts }),
    ...(overrides.random === undefined ? {} : { random: overrides.random }),
  });

  async function enqueue(commentId: string, due?: Date): Promise<void> {
    const delay = due === undefined ? 0 : queueDelaySeconds(due, clock.now());
    const capped = due !== undefined && due.getTime() - clock.now().getTime() > delay * 1000;
    const body: DeliveryMessage = capped ? { commentId, due: due.getTime() } : { commentId };
    await env.DELIVERY_QUEUE.send(body, delay > 0 ? { delaySeconds: delay } : {});
  }

  function onMerged(mergeSha: string): void {
    inBackground(logger, 'site rebuild', callDeployHooks(env, logger, mergeSha));
  }

  const settings = config.monitor ?? DEFAULT_MONITOR_SETTINGS;
  const alerts =
    settings.alertWebhookUrl === undefined
      ? null
      : createAlertSender({ url: settings.alertWebhookUrl, clock, logger });
  // The canary posts through the app itself: a Worker cannot make a request to its own route.
  // NOTE: the forge check and the alert sender's counts live in the isolate's memory, so a new
  // isolate reports the forge as not checked until its first scheduled run.
  let appFetch: (request: Request) => Promise<Response> = () => {
    throw new Error('the app is not built yet');
  };
  const monitor = createMonitor({
    store,
    forge,
    clock,
    logger,
    posts: content.maps.posts,
    config,
    settings,
    submit: (request) => appFetch(request),
    // The sweep that follows the monitor in each scheduled run enqueues the requeued comments.
    wakeWorker: () => undefined,
    retryDeadLetter: (id) => worker.retryDeadLetter(id),
    ...(alerts === null ? {} : { alerts }),
  });

  const app = createApp({
    config,
    store,
    forge,
    clock,
    logger,
    ids: createIdGenerator({ now: () => clock.now() }),
    health: () => monitor.report(),
    posts: content.maps.posts,
    knownComments: content.maps.comments,
    renderMarkdown: renderCommentMarkdown,
    onMerged,
    // The route awaits this, so "received" is returned only after D1 and the queue have both
    // accepted their writes.
    wakeWorker: (commentId) => enqueue(commentId),
    abuse: {
      rateLimiter: createD1RateLimiter(db),
      // Cloudflare's edge sets cf-connecting-ip on every request and overwrites a client's own.
      socketAddress: (c) => c.req.header('cf-connecting-ip'),
    },
  });

  appFetch = async (request) => app.fetch(request, env);

  return {
    env,
    config,
    forgeSettings,
    store,
    forge,
    clock,
    logger,
    content,
    worker,
    monitor,
    alerts,
    app,
    onMerged,
    enqueue,
  };
}

const runtimes = new WeakMap<object, WorkerRuntime>();

/** Returns the isolate's runtime for `env`, building it on first use. */
export function runtimeFor(env: WorkerEnv): WorkerRuntime {
  let runtime = runtimes.get(env);
  if (runtime === undefined) {
    runtime = createRuntime(env);
    runtimes.set(env, runtime);
  }
  return runtime;
}
