import type { Context } from 'hono';
import { accepts } from 'hono/accepts';
import type { AbuseDeps } from '../abuse/guard.ts';
import type { ApiConfig } from '../config.ts';
import type { ForgeClient } from '../forge/types.ts';
import type { CommentStore } from '../outbox/types.ts';
import type { Clock } from '../platform/clock.ts';
import type { CommentIndex, PostLookup } from '../platform/content-index.ts';
import type { IdGenerator } from '../platform/ids.ts';
import type { HealthReport } from '../monitor/checks.ts';
import type { Logger } from '../platform/logger.ts';
import type { Sites } from './sites.ts';

/** Every effect and lookup the routes use, passed in by the caller that builds the app. */
export interface AppDeps {
  config: ApiConfig;
  store: CommentStore;
  forge: ForgeClient;
  clock: Clock;
  logger: Logger;
  ids: IdGenerator;
  posts: PostLookup;
  /** Comments already in content/ when the API started; a reply's parent may be one of them. */
  knownComments?: CommentIndex;
  /** Renders comment markdown to sanitized HTML for the staff review list. */
  renderMarkdown: (markdown: string) => string;
  /** Called once per merge commit of a comment; the caller rebuilds the sites from it. */
  onMerged: (mergeSha: string) => void | Promise<void>;
  /**
   * Tells the delivery worker that a comment is waiting. The route awaits it before returning
   * "received", so a platform whose wake-up is a queue message can make the send part of that
   * promise.
   */
  wakeWorker: (commentId: string) => void | Promise<void>;
  /** Age of the oldest undelivered comment, in seconds, past which health reports degraded. */
  maxOutboxAgeSeconds?: number;
  /** The rate limiter, client address and siteverify fetch of the submission route. */
  abuse?: AbuseDeps;
  /** Evaluates the health checks (the monitor's report); the outbox checks alone when absent. */
  health?: () => Promise<HealthReport>;
}

/** Dependencies plus what the app derives from them once. */
export interface RouteDeps extends AppDeps {
  sites: Sites;
}

export type AppEnv = { Variables: { requestId: string } };

/** True when the client prefers HTML over JSON; clients that state no preference get JSON. */
export function prefersHtml(c: Context, fallback: 'application/json' | 'text/html'): boolean {
  const type = accepts(c, {
    header: 'Accept',
    supports: ['application/json', 'text/html'],
    default: fallback,
  });
  return type === 'text/html';
}

/** Runs a callback in the background without waiting for it, and logs its failure. */
export function runDetached(
  logger: Logger,
  description: string,
  fields: Record<string, string | number>,
  work: () => void | Promise<void>,
): void {
  Promise.resolve()
    .then(work)
    .catch((error: unknown) => {
      logger.error(`${description} failed`, {
        ...fields,
        error: error instanceof Error ? error.message : String(error),
      });
    });
}
