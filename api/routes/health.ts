// Health of the comment pipeline. The monitor, when one runs, measures the forge, the canary, the
// rebuilds and the comment rate on a schedule, and the outbox is read on every request. The
// status code is 503 when the pipeline is down, so that plain HTTP monitors notice, and 200
// otherwise.
import { Hono } from 'hono';
import { evaluateHealth, DEFAULT_THRESHOLDS } from '../monitor/checks.ts';
import { storeHealthInputs } from '../monitor/monitor.ts';
import type { AppEnv, RouteDeps } from './context.ts';

/** Default age of the oldest undelivered comment past which health is down: 5 minutes. */
export const DEFAULT_MAX_OUTBOX_AGE_SECONDS = DEFAULT_THRESHOLDS.maxOutboxAgeSeconds;

export function healthRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const thresholds = {
    ...(deps.config.monitor?.thresholds ?? DEFAULT_THRESHOLDS),
    ...(deps.maxOutboxAgeSeconds === undefined
      ? {}
      : { maxOutboxAgeSeconds: deps.maxOutboxAgeSeconds }),
  };

  app.get('/', async (c) => {
    const now = deps.clock.now();
    const report =
      deps.health === undefined
        ? evaluateHealth(await storeHealthInputs(deps.store, now, thresholds))
        : await deps.health();
    // The report already shows when the outbox cannot be read, so these figures become null.
    const [outbox, deadLetters, last] = await Promise.all([
      deps.store.outboxStats(now),
      deps.store.countDeadLetters(),
      deps.store.lastDelivery(),
    ]).catch(() => [null, null, null] as const);
    const lastDelivery =
      last === null
        ? null
        : { commentId: last.commentId, at: last.at.toISOString(), outcome: last.outcome };
    return c.json(
      {
        status: report.status,
        checkedAt: report.checkedAt,
        checks: report.checks,
        outbox,
        deadLetters,
        lastDelivery,
      },
      report.status === 'down' ? 503 : 200,
    );
  });

  return app;
}
