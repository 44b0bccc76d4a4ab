// Health of the comment pipeline, as measured by this process. It reports degraded, with status 503
// so that plain HTTP monitors notice, when a received comment has waited too long for delivery.
import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from './context.ts';

/** Default age of the oldest undelivered comment past which health is degraded: 5 minutes. */
export const DEFAULT_MAX_OUTBOX_AGE_SECONDS = 300;

export function healthRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const maxAge = deps.maxOutboxAgeSeconds ?? DEFAULT_MAX_OUTBOX_AGE_SECONDS;

  app.get('/', async (c) => {
    const outbox = await deps.store.outboxStats(deps.clock.now());
    const last = await deps.store.lastDelivery();
    const status = outbox.oldestAgeSeconds > maxAge ? 'degraded' : 'ok';
    const lastDelivery =
      last === null
        ? null
        : { commentId: last.commentId, at: last.at.toISOString(), outcome: last.outcome };
    return c.json({ status, outbox, lastDelivery }, status === 'ok' ? 200 : 503);
  });

  return app;
}
