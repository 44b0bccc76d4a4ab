// The Cloudflare Workers entry of the API: the same Hono app as on Node (api/app.ts) over D1 and
// a Queue. `fetch` serves the routes, `queue` runs the delivery worker when a wake-up arrives, and
// `scheduled` runs SCHEDULED_TASKS on each cron trigger.
//
// The queue carries no comment data: a message only signals that a comment may be due. The
// consumer (one at a time, max_concurrency = 1 in wrangler.toml, so there is one writer to the
// forge) delivers every due comment through createDeliveryWorker, and sends a delayed message
// for each comment that failed, for its next attempt. The cron sweep sends a message for any
// comment that is due, so a lost message only delays a delivery.
import type { MessageBatch, ScheduledController } from '@cloudflare/workers-types';
import type { ExecutionContext } from 'hono';
import { errorMessage } from '../platform/logger.ts';
import { parsePushEvent } from './content-refresh.ts';
import type { DeliveryMessage, WorkerEnv } from './env.ts';
import { inBackground, runtimeFor, type WorkerRuntime } from './runtime.ts';
import { runScheduledTasks } from './scheduled.ts';

export { SCHEDULED_TASKS, type ScheduledTask } from './scheduled.ts';

const WEBHOOK_PATH = '/api/webhooks/forge';

/** Seconds before a batch is redelivered after the store or the queue failed. */
const BATCH_RETRY_SECONDS = 30;

function configErrorResponse(error: unknown): Response {
  console.error(
    JSON.stringify({
      level: 'error',
      message: 'worker configuration is invalid',
      error: errorMessage(error),
    }),
  );
  return Response.json(
    { error: { code: 'internal_error', message: 'The comment service is misconfigured.' } },
    { status: 500 },
  );
}

/** Updates the content index after a push that the webhook route verified and recorded. */
async function refreshAfterPush(runtime: WorkerRuntime, request: Request): Promise<void> {
  const push = parsePushEvent(await request.json());
  if (push === null) return;
  await runtime.content.applyPush(push, runtime.forgeSettings.baseBranch);
}

/** Delivers every due comment and schedules the next attempt of each one that failed. */
export async function handleDeliveryBatch(
  runtime: WorkerRuntime,
  batch: MessageBatch<DeliveryMessage>,
): Promise<void> {
  const { logger, clock } = runtime;
  try {
    await runtime.content.ensureFresh();
    const outcomes = await runtime.worker.drain();
    for (const outcome of outcomes) {
      if (outcome.outcome === 'failed')
        await runtime.enqueue(outcome.commentId, outcome.nextAttemptAt);
    }
    // A message whose delay was cut to the Queues maximum arrives before its comment is due.
    const now = clock.now().getTime();
    for (const message of batch.messages) {
      const due = message.body.due;
      if (due !== undefined && due > now)
        await runtime.enqueue(message.body.commentId, new Date(due));
    }
    batch.ackAll();
  } catch (error) {
    logger.error('delivery batch failed, retrying', {
      messages: batch.messages.length,
      retryInSeconds: BATCH_RETRY_SECONDS,
      error: errorMessage(error),
    });
    batch.retryAll({ delaySeconds: BATCH_RETRY_SECONDS });
  }
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let runtime: WorkerRuntime;
    try {
      runtime = runtimeFor(env);
    } catch (error) {
      return configErrorResponse(error);
    }
    await runtime.content.ensureFresh();
    const isPush =
      request.method === 'POST' &&
      request.headers.get('x-github-event') === 'push' &&
      new URL(request.url).pathname === WEBHOOK_PATH;
    const copy = isPush ? request.clone() : null;
    const response = await runtime.app.fetch(request, env, ctx);
    // The route returns 202 for an event it verified, recorded for the first time and ignored.
    if (copy !== null && response.status === 202) {
      inBackground(runtime.logger, 'updating the content index', refreshAfterPush(runtime, copy));
    }
    return response;
  },

  async queue(batch: MessageBatch<DeliveryMessage>, env: WorkerEnv): Promise<void> {
    await handleDeliveryBatch(runtimeFor(env), batch);
  },

  async scheduled(controller: ScheduledController, env: WorkerEnv): Promise<void> {
    await runScheduledTasks(runtimeFor(env), {
      cron: controller.cron,
      scheduledTime: new Date(controller.scheduledTime),
    });
  },
};
