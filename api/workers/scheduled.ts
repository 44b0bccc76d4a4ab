// Periodic work of the Worker, run by the cron triggers in wrangler.toml. Each task runs on every
// trigger, one after another; a failing task is logged and does not stop the ones after it.
// Add a task by appending it to SCHEDULED_TASKS.
import { purgeRateLimitHits } from '../abuse/d1-rate-limit.ts';
import { reconcile } from '../delivery/reconcile.ts';
import type { D1Database } from '../platform/d1.ts';
import { errorMessage } from '../platform/logger.ts';
import { retentionCutoff } from '../privacy/retention.ts';
import { DEFAULT_EMAIL_RETENTION_DAYS } from '../privacy/settings.ts';
import type { WorkerRuntime } from './runtime.ts';

/** The trigger that started a run. */
export interface ScheduledRun {
  /** The cron expression from wrangler.toml, such as "*\/5 * * * *". */
  cron: string;
  scheduledTime: Date;
}

export interface ScheduledTask {
  /** Name used in the logs. */
  name: string;
  run(runtime: WorkerRuntime, trigger: ScheduledRun): Promise<void>;
}

/** Most wake-ups one sweep sends; Queues takes at most 100 messages per sendBatch. */
export const SWEEP_BATCH_SIZE = 100;

/**
 * Sends a wake-up for every received comment that is due, so that a lost or dropped queue
 * message delays a delivery until the next trigger rather than forever.
 */
export const sweepDueComments: ScheduledTask = {
  name: 'sweep due comments',
  async run(runtime) {
    const ids = await runtime.store.listDue(runtime.clock.now(), SWEEP_BATCH_SIZE);
    if (ids.length === 0) return;
    await runtime.env.DELIVERY_QUEUE.sendBatch(ids.map((commentId) => ({ body: { commentId } })));
    runtime.logger.info('due comments requeued', { count: ids.length });
  },
};

/** Deletes the email addresses older than the retention limit. */
export const purgeExpiredAddresses: ScheduledTask = {
  name: 'purge expired addresses',
  async run(runtime) {
    const days = runtime.config.emailRetentionDays ?? DEFAULT_EMAIL_RETENTION_DAYS;
    const deleted = await runtime.store.purgeAddresses(retentionCutoff(runtime.clock.now(), days));
    if (deleted > 0) runtime.logger.info('expired email addresses deleted', { count: deleted });
  },
};

/** Deletes rate-limit records of keys that no request has used for a day. */
export const purgeOldRateLimitHits: ScheduledTask = {
  name: 'purge rate limit records',
  async run(runtime) {
    const db = runtime.env.DB as unknown as D1Database;
    await purgeRateLimitHits(db, runtime.clock.now());
  },
};

/** Maximum wait for alerts to be sent at the end of a scheduled run, in milliseconds. */
const ALERT_FLUSH_LIMIT_MS = 60_000;

/**
 * Runs the health checks, the canary and the recovery of dead letters, and sends an alert when
 * the pipeline's status changed (docs/operations.md).
 */
export const runMonitor: ScheduledTask = {
  name: 'monitor',
  async run(runtime) {
    await runtime.monitor.tick();
    const alerts = runtime.alerts;
    if (alerts === null) return;
    await Promise.race([
      alerts.flush(),
      new Promise((resolve) => setTimeout(resolve, ALERT_FLUSH_LIMIT_MS)),
    ]);
  },
};

/** Repairs what lost webhooks left: receipts of merged or closed pull requests. */
export const runReconciliation: ScheduledTask = {
  name: 'reconcile',
  async run(runtime) {
    await reconcile({
      store: runtime.store,
      forge: runtime.forge,
      clock: runtime.clock,
      logger: runtime.logger,
      onMerged: (mergeSha) => runtime.onMerged(mergeSha),
    });
  },
};

/** The tasks every cron trigger runs, in order; the sweep follows the tasks that requeue. */
export const SCHEDULED_TASKS: ScheduledTask[] = [
  runReconciliation,
  runMonitor,
  sweepDueComments,
  purgeExpiredAddresses,
  purgeOldRateLimitHits,
];

/** Runs `tasks` in order; raises after the last one when any of them failed. */
export async function runScheduledTasks(
  runtime: WorkerRuntime,
  trigger: ScheduledRun,
  tasks: readonly ScheduledTask[] = SCHEDULED_TASKS,
): Promise<void> {
  const failed: string[] = [];
  for (const task of tasks) {
    try {
      await task.run(runtime, trigger);
    } catch (error) {
      failed.push(task.name);
      runtime.logger.error('scheduled task failed', {
        task: task.name,
        cron: trigger.cron,
        error: errorMessage(error),
      });
    }
  }
  if (failed.length > 0) throw new Error(`scheduled tasks failed: ${failed.join(', ')}`);
}
