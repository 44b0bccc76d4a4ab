// The abuse controls of the submission route. The Origin allowlist runs before the body is read.
// The route then checks the honeypot and validates the comment, and only then come the rate
// limits and Turnstile, so nothing is stored unless every control let the comment through.
import type { Context } from 'hono';
import type { ApiConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { resolveClientAddress, type ClientAddress } from './client-address.ts';
import { checkRequestOrigin, originRejection } from './origin.ts';
import {
  createMemoryRateLimiter,
  DEFAULT_RATE_LIMITS,
  submissionRules,
  type RateLimiter,
  type RateLimitRule,
} from './rate-limit.ts';
import { TURNSTILE_FIELD, turnstileRejection, verifyTurnstileToken } from './turnstile.ts';

/** Platform parts the abuse controls use; each has a default suitable for one Node process. */
export interface AbuseDeps {
  /** Keeps the submission counts; an in-memory limiter when absent. */
  rateLimiter?: RateLimiter;
  /** Returns the address of the TCP peer; on Node, from @hono/node-server's getConnInfo. */
  socketAddress?: (c: Context) => string | undefined;
  /** The fetch used to call Turnstile's siteverify; the global fetch when absent. */
  fetch?: typeof fetch;
}

export interface SubmissionGuardDeps {
  config: ApiConfig;
  /** Exact origins a submission may come from: the two sites and the API's own form pages. */
  allowedOrigins: ReadonlySet<string>;
  /** Hostnames a Turnstile token may have been issued on: those of the two sites. */
  siteHostnames: ReadonlySet<string>;
  clock: Clock;
  logger: Logger;
  abuse?: AbuseDeps;
}

/** A submission over a rate limit; `retryAfterSeconds` goes into the Retry-After header. */
export class RateLimitedError extends ApiError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('rate_limited', { message });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface SubmissionGuard {
  /** Returns the origin the submission came from; raises ApiError when it is not allowed. */
  checkOrigin(c: Context, requestId: string): string;
  /** Logs a submission dropped because its honeypot field was filled, with a running count. */
  recordSpam(requestId: string): void;
  /**
   * Counts the submission against the rate limits of its client address and its post, then
   * verifies its Turnstile token when Turnstile is configured. Raises ApiError on a rejection.
   */
  admit(
    c: Context,
    submission: { post: string; turnstileToken: string | undefined; requestId: string },
  ): Promise<void>;
}

/** Describes a wait for a reader: "30 seconds", "1 minute", "12 minutes". */
export function describeWait(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

function describeWindow(rule: RateLimitRule): string {
  if (rule.windowMs === 60_000) return 'a minute';
  if (rule.windowMs === 3_600_000) return 'an hour';
  return describeWait(Math.ceil(rule.windowMs / 1000));
}

export function createSubmissionGuard(deps: SubmissionGuardDeps): SubmissionGuard {
  const { config, clock, logger } = deps;
  const limiter = deps.abuse?.rateLimiter ?? createMemoryRateLimiter();
  const rules = submissionRules(config.rateLimits ?? DEFAULT_RATE_LIMITS);
  const fetchSiteverify = deps.abuse?.fetch ?? fetch;
  let spamDropped = 0;

  function clientOf(c: Context): ClientAddress {
    const header = config.clientAddressHeader;
    return resolveClientAddress(
      deps.abuse?.socketAddress?.(c),
      header === undefined ? undefined : c.req.header(header),
    );
  }

  async function checkRateLimits(client: ClientAddress, post: string, requestId: string) {
    const decision = await limiter.take(
      [
        { key: `address:${client.key}`, rules: rules.address },
        { key: `post:${post}`, rules: rules.post },
      ],
      clock.now(),
    );
    if (decision.allowed) return;
    const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    const scope = decision.key.startsWith('post:') ? 'post' : 'address';
    logger.warn('submission rate limited', {
      scope,
      limit: decision.rule.limit,
      windowSeconds: decision.rule.windowMs / 1000,
      retryAfterSeconds,
      requestId,
    });
    const reason =
      scope === 'post'
        ? `This post received ${decision.rule.limit} comments within ${describeWindow(decision.rule)}`
        : `${decision.rule.limit} comments were sent from your network within ` +
          describeWindow(decision.rule);
    throw new RateLimitedError(
      `${reason}, which is the most the blog accepts, so this comment was not sent. ` +
        `Send it again in ${describeWait(retryAfterSeconds)}.`,
      retryAfterSeconds,
    );
  }

  return {
    checkOrigin(c, requestId) {
      const check = checkRequestOrigin(c.req.header('origin'), deps.allowedOrigins);
      if (check.ok) return check.origin;
      logger.warn('submission origin rejected', { reason: check.reason, requestId });
      throw new ApiError('origin_not_allowed', {
        message: originRejection(check.reason),
        field: 'Origin',
      });
    },

    recordSpam(requestId) {
      spamDropped += 1;
      logger.warn('submission dropped as spam', {
        reason: 'honeypot',
        droppedSinceStart: spamDropped,
        requestId,
      });
    },

    async admit(c, submission) {
      const client = clientOf(c);
      await checkRateLimits(client, submission.post, submission.requestId);

      const turnstile = config.turnstile;
      if (turnstile === undefined) return;
      const outcome = await verifyTurnstileToken({
        config: turnstile,
        token: submission.turnstileToken,
        remoteIp: client.address ?? undefined,
        hostnames: deps.siteHostnames,
        fetch: fetchSiteverify,
      });
      if (outcome.ok) return;
      if (outcome.failure === 'unavailable') {
        logger.error('turnstile verification unavailable', {
          error: outcome.detail,
          requestId: submission.requestId,
        });
        throw new ApiError('turnstile_unavailable', {
          message: turnstileRejection('unavailable'),
        });
      }
      logger.warn('turnstile verification failed', {
        failure: outcome.failure,
        errorCodes: outcome.errorCodes.join(','),
        requestId: submission.requestId,
      });
      throw new ApiError('turnstile_failed', {
        message: turnstileRejection(outcome.failure),
        field: TURNSTILE_FIELD,
      });
    },
  };
}
