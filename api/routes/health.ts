// Health of the comment pipeline, as measured by this process. It reports degraded, with status 503
// so that plain HTTP monitors notice, when any check is past its threshold: a received comment has
// waited too long for delivery, or a comment has become a dead letter.
import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from './context.ts';

/** Default age of the oldest undelivered comment past which health is degraded: 5 minutes. */
export const DEFAULT_MAX_OUTBOX_AGE_SECONDS = 300;

/** Dead letters tolerated before health is degraded: none, because each waits for a person. */
export const MAX_DEAD_LETTERS = 0;

/** One measured value; the check is degraded when `value` is above `threshold`. */
export interface HealthCheck {
  status: 'ok' | 'degraded';
  value: number;
  threshold: number;
}

function check(value: number, threshold: number): HealthCheck {
  return { status: value > threshold ? 'degraded' : 'ok', value, threshold };
}

export function healthRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const maxAge = deps.maxOutboxAgeSeconds ?? DEFAULT_MAX_OUTBOX_AGE_SECONDS;

  app.get('/', async (c) => {
    const outbox = await deps.store.outboxStats(deps.clock.now());
    const deadLetters = await deps.store.countDeadLetters();
    const last = await deps.store.lastDelivery();
    const checks = {
      /** Age of the oldest received comment, in seconds. */
      outboxAge: check(outbox.oldestAgeSeconds, maxAge),
      /** Comments the worker stopped retrying; `npm run replay` sends them again. */
      deadLetters: check(deadLetters, MAX_DEAD_LETTERS),
    };
    const healthy = Object.values(checks).every((item) => item.status === 'ok');
    const status = healthy ? 'ok' : 'degraded';
    const lastDelivery =
      last === null
        ? null
        : { commentId: last.commentId, at: last.at.toISOString(), outcome: last.outcome };
    return c.json(
      { status, outbox, deadLetters, checks, lastDelivery },
      status === 'ok' ? 200 : 503,
    );
  });

  return app;
}
