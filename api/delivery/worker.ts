// The delivery worker moves comments from the outbox to the forge, one at a time. It is the only
// writer to the forge in a process. A comment stays "received" until the forge has returned its
// pull request, and the forge client is idempotent by comment id, so a crash at any point leads
// to a retry that finds the earlier work rather than repeating it. A comment that fails
// maxAttempts times, or fails with a permanent forge error, becomes a dead letter: it stays in the
// outbox, counted by health, and the worker skips it until `npm run replay` requeues it.
import type { ForgeClient, PullRequestRef } from '../forge/types.ts';
import type { CommentStore, DeadLetterCause, StoredComment } from '../outbox/types.ts';
import { setClockTimer, type Clock } from '../platform/clock.ts';
import type { PostLookup } from '../platform/content-index.ts';
import { errorMessage, type Logger } from '../platform/logger.ts';
import {
  DEFAULT_BACKOFF,
  DEFAULT_MAX_DELIVERY_ATTEMPTS,
  isRetryable,
  permanentFailure,
  retryAfterFrom,
  retryDelayMs,
  type BackoffOptions,
} from './backoff.ts';
import { buildProposal } from './proposal.ts';

/** Longest stored error message, in characters. */
const ERROR_LIMIT = 1_000;

export interface DeliveryWorkerOptions {
  store: CommentStore;
  forge: ForgeClient;
  posts: PostLookup;
  clock: Clock;
  logger: Logger;
  backoff?: BackoffOptions;
  /** Failed attempts after which a comment becomes a dead letter; DEFAULT_MAX_DELIVERY_ATTEMPTS. */
  maxAttempts?: number;
  /** Returns a number in [0, 1) for retry jitter; Math.random unless a test passes its own. */
  random?: () => number;
  /** Maximum wait between checks of the outbox while idle, in milliseconds. */
  idleMs?: number;
}

export type DeliveryOutcome =
  | { commentId: string; outcome: 'proposed'; pullRequest: PullRequestRef }
  | { commentId: string; outcome: 'failed'; error: string; nextAttemptAt: Date }
  | {
      commentId: string;
      outcome: 'dead';
      error: string;
      reason: string;
      cause: DeadLetterCause;
    };

export interface DeliveryWorker {
  /** Starts the loop in the background; calling it again while running does nothing. */
  start(): void;
  /** Stops the loop after the delivery in flight, if any, has finished. */
  stop(): Promise<void>;
  /** Ends an idle wait now, because a comment was just accepted. */
  wake(): void;
  /** Delivers the next due comment, if any. */
  runOnce(): Promise<DeliveryOutcome | null>;
  /** Delivers due comments until none is due, and returns what happened to each. */
  drain(): Promise<DeliveryOutcome[]>;
  /**
   * Tries once to deliver a dead letter, which stays a dead letter when the attempt fails, so
   * that a probe of the forge does not hide the failure from health. Returns true once the
   * comment is proposed, false when it failed or is not a dead letter.
   */
  retryDeadLetter(id: string): Promise<boolean>;
}

function forgeRequestId(error: unknown): string | null {
  if (typeof error !== 'object' || error === null || !('requestId' in error)) return null;
  return typeof error.requestId === 'string' ? error.requestId : null;
}

export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const { store, forge, posts, clock, logger } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const idleMs = options.idleMs ?? 30_000;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_DELIVERY_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts is ${maxAttempts}; set it to a whole number of 1 or more.`);
  }

  let running = false;
  let loopDone: Promise<void> = Promise.resolve();
  let wakeRequested = false;
  let endWait: (() => void) | null = null;
  // Deliveries run one after another, whether started by the loop or by runOnce.
  let queue: Promise<unknown> = Promise.resolve();

  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = queue.then(work, work);
    queue = result.catch(() => undefined);
    return result;
  }

  async function deliver(comment: StoredComment): Promise<DeliveryOutcome> {
    const started = clock.now().getTime();
    const attempt = comment.attempts + 1;
    try {
      const title = posts.get(comment.post)?.title ?? comment.post;
      const pullRequest = await forge.proposeComment(buildProposal(comment, title));
      await store.markProposed(comment.id, pullRequest, clock.now());
      logger.info('comment proposed', {
        commentId: comment.id,
        outcome: 'proposed',
        pullRequest: pullRequest.number,
        attempt,
        ms: clock.now().getTime() - started,
      });
      return { commentId: comment.id, outcome: 'proposed', pullRequest };
    } catch (error) {
      const message = errorMessage(error).slice(0, ERROR_LIMIT);
      const now = clock.now();
      const permanent = permanentFailure(error);
      if (permanent !== null || attempt >= maxAttempts) {
        const reason = permanent?.reason ?? `${attempt} failed attempts`;
        const cause = permanent?.cause ?? 'attempts';
        await store.markDead(comment.id, message, now, cause);
        logger.error('comment moved to dead letters; run npm run replay once the cause is fixed', {
          commentId: comment.id,
          outcome: 'dead',
          attempts: attempt,
          cause,
          reason,
          ms: now.getTime() - started,
          forgeRequestId: forgeRequestId(error),
          error: message,
        });
        return { commentId: comment.id, outcome: 'dead', error: message, reason, cause };
      }
      // Any other failure the forge calls permanent (such as an ambiguous 422) is retried at the
      // longest interval, until the attempt limit makes it a dead letter.
      const retryable = isRetryable(error);
      const delay = retryable
        ? retryDelayMs(attempt, backoff, random, retryAfterFrom(error))
        : Math.max(backoff.maxMs, retryAfterFrom(error) ?? 0);
      const nextAttemptAt = new Date(now.getTime() + delay);
      await store.recordFailure(comment.id, message, nextAttemptAt, now);
      const fields = {
        commentId: comment.id,
        outcome: 'failed',
        attempt,
        retryInMs: delay,
        nextAttemptAt: nextAttemptAt.toISOString(),
        ms: now.getTime() - started,
        forgeRequestId: forgeRequestId(error),
        error: message,
      };
      if (retryable) logger.warn('comment delivery failed, will retry', fields);
      else logger.error('comment delivery failed and needs attention, will retry', fields);
      return { commentId: comment.id, outcome: 'failed', error: message, nextAttemptAt };
    }
  }

  function runOnce(): Promise<DeliveryOutcome | null> {
    return exclusive(async () => {
      const comment = await store.nextDue(clock.now());
      return comment === null ? null : deliver(comment);
    });
  }

  function retryDeadLetter(id: string): Promise<boolean> {
    return exclusive(async () => {
      const comment = await store.get(id);
      if (comment?.status !== 'dead') return false;
      try {
        const title = posts.get(comment.post)?.title ?? comment.post;
        const pullRequest = await forge.proposeComment(buildProposal(comment, title));
        await store.markProposed(comment.id, pullRequest, clock.now());
        logger.info('dead letter delivered on retry', {
          commentId: comment.id,
          pullRequest: pullRequest.number,
        });
        return true;
      } catch (error) {
        logger.warn('dead letter retry failed; it stays a dead letter', {
          commentId: comment.id,
          forgeRequestId: forgeRequestId(error),
          error: errorMessage(error).slice(0, ERROR_LIMIT),
        });
        return false;
      }
    });
  }

  async function drain(): Promise<DeliveryOutcome[]> {
    const outcomes: DeliveryOutcome[] = [];
    const seen = new Set<string>();
    for (;;) {
      const outcome = await runOnce();
      if (outcome === null) return outcomes;
      outcomes.push(outcome);
      // A comment due again at once (a zero backoff) would otherwise keep the loop going forever.
      if (seen.has(outcome.commentId)) return outcomes;
      seen.add(outcome.commentId);
    }
  }

  function wait(ms: number): Promise<void> {
    if (wakeRequested || !running) return Promise.resolve();
    return new Promise((resolve) => {
      const cancel = setClockTimer(clock, finish, ms);
      function finish(): void {
        cancel();
        endWait = null;
        resolve();
      }
      endWait = finish;
    });
  }

  async function idleWaitMs(): Promise<number> {
    const next = await store.nextAttemptAt();
    if (next === null) return idleMs;
    return Math.min(idleMs, Math.max(10, next.getTime() - clock.now().getTime()));
  }

  async function loop(): Promise<void> {
    logger.info('delivery worker started');
    while (running) {
      wakeRequested = false;
      try {
        if ((await runOnce()) !== null) continue;
        await wait(await idleWaitMs());
      } catch (error) {
        // The store itself failed (disk full, file locked); the comments are still in it.
        logger.error('delivery loop failed, retrying', { error: errorMessage(error) });
        await wait(Math.min(idleMs, backoff.maxMs));
      }
    }
    logger.info('delivery worker stopped');
  }

  return {
    start() {
      if (running) return;
      running = true;
      loopDone = loop();
    },
    async stop() {
      running = false;
      endWait?.();
      await loopDone;
      await queue;
    },
    wake() {
      wakeRequested = true;
      endWait?.();
    },
    runOnce,
    drain,
    retryDeadLetter,
  };
}
