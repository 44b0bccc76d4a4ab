// The queue consumer and the cron handler, called with a message batch or a controller made by
// cloudflare:test and a queue binding that records what is sent, so the delays can be checked.
import {
  applyD1Migrations,
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  reset,
  type D1Migration,
} from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import type { NewComment } from '../../api/outbox/types.ts';
import type { DeliveryMessage, WorkerEnv } from '../../api/workers/env.ts';
import { handleDeliveryBatch } from '../../api/workers/index.ts';
import { MAX_QUEUE_DELAY_SECONDS, createRuntime } from '../../api/workers/runtime.ts';
import {
  SCHEDULED_TASKS,
  sweepDueComments,
  runScheduledTasks,
  type ScheduledTask,
} from '../../api/workers/scheduled.ts';
import { pullsFor, setFaults } from './support/control.ts';

const bindings = env as WorkerEnv & { TEST_MIGRATIONS: D1Migration[] };

interface SentMessage {
  body: DeliveryMessage;
  delaySeconds: number | undefined;
}

/** Copies the Worker's bindings, with a queue that records messages instead of delivering them. */
function recordingEnv(): { env: WorkerEnv; sent: SentMessage[] } {
  const sent: SentMessage[] = [];
  const queue = {
    async send(body: DeliveryMessage, options?: { delaySeconds?: number }) {
      sent.push({ body, delaySeconds: options?.delaySeconds });
    },
    async sendBatch(messages: Iterable<{ body: DeliveryMessage; delaySeconds?: number }>) {
      for (const message of messages) {
        sent.push({ body: message.body, delaySeconds: message.delaySeconds });
      }
    },
  };
  return {
    env: { ...bindings, DELIVERY_QUEUE: queue as unknown as WorkerEnv['DELIVERY_QUEUE'] },
    sent,
  };
}

function manualClock(start: number) {
  let now = start;
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

let sequence = 0;

function newComment(post: string): NewComment {
  sequence += 1;
  const id = `01m9${String(Date.now()).slice(-10)}${String(sequence).padStart(12, '0')}`;
  return {
    id,
    post,
    parent: null,
    author: 'Queue Reader',
    authorUrl: null,
    visibility: 'public',
    source: 'public',
    body: `Handler test comment ${id}`,
    date: new Date().toISOString(),
    fingerprint: `handlers-${id}`,
    idempotencyKey: null,
  };
}

function batchFor(messages: DeliveryMessage[]) {
  return createMessageBatch<DeliveryMessage>(
    'marginalia-delivery',
    messages.map((body, index) => ({ id: `m-${index}`, timestamp: Date.now(), attempts: 1, body })),
  );
}

beforeEach(async () => {
  await reset();
  await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
  await setFaults([]);
});

/** Builds a submission as the public site's script sends it. */
function submission(text: string): Request {
  return new Request('http://127.0.0.1:8787/api/comments', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      origin: 'http://127.0.0.1:4321',
      'cf-connecting-ip': '198.51.100.7',
    },
    body: JSON.stringify({ post: 'welcome', author: 'Queue Reader', text }),
  });
}

describe('submission and the queue', () => {
  it('answers received after the send completes', async () => {
    const completed: string[] = [];
    const slowQueue = {
      async send(body: DeliveryMessage) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        completed.push(body.commentId);
      },
    };
    const runtime = createRuntime({
      ...bindings,
      DELIVERY_QUEUE: slowQueue as unknown as WorkerEnv['DELIVERY_QUEUE'],
    });
    const response = await runtime.app.fetch(submission('Sent before the answer.'));
    expect(response.status).toBe(202);
    const { receipt } = (await response.json()) as { receipt: string };
    expect(completed).toEqual([receipt]);
  });

  it('returns 503 when the send fails, keeping the row', async () => {
    const failingQueue = {
      async send() {
        throw new Error('queue unavailable');
      },
    };
    const runtime = createRuntime({
      ...bindings,
      DELIVERY_QUEUE: failingQueue as unknown as WorkerEnv['DELIVERY_QUEUE'],
    });
    const response = await runtime.app.fetch(submission('Stored, but not announced.'));
    expect(response.status).toBe(503);
    // The cron sweep finds the stored comment and sends its wake-up.
    const due = await runtime.store.listDue(new Date(Date.now() + 1000), 10);
    expect(due).toHaveLength(1);
  });
});

describe('submission limits', () => {
  it('holds across isolates sharing D1', async () => {
    const { env: recording } = recordingEnv();
    const limited = { ...recording, MARGINALIA_RATE_LIMIT_ADDRESS_PER_MINUTE: '2' };
    // Two runtimes stand in for two isolates: they share only the D1 database.
    const first = createRuntime(limited);
    const second = createRuntime(limited);
    expect((await first.app.fetch(submission('First of three.'))).status).toBe(202);
    expect((await second.app.fetch(submission('Second of three.'))).status).toBe(202);
    const third = await first.app.fetch(submission('Third of three.'));
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('queue consumer', () => {
  it('delivers a due comment and acknowledges the batch', async () => {
    const { env: recording, sent } = recordingEnv();
    const runtime = createRuntime(recording);
    const comment = newComment('why-static');
    await runtime.store.accept(comment, { now: runtime.clock.now(), duplicateWindowMs: 0 });

    const batch = batchFor([{ commentId: comment.id }]);
    await handleDeliveryBatch(runtime, batch);
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.ackAll).toBe(true);
    expect(result.retryBatch.retry).toBe(false);
    expect((await runtime.store.get(comment.id))?.status).toBe('proposed');
    expect(await pullsFor(comment.id)).toHaveLength(1);
    expect(sent).toEqual([]);
  });

  it('sends the next attempt with the forge retry-after as delay', async () => {
    await setFaults([
      { operation: 'git/create-ref', kind: 'fail', status: 429, times: 1, retryAfterSeconds: 120 },
    ]);
    const { env: recording, sent } = recordingEnv();
    const clock = manualClock(Date.now());
    const runtime = createRuntime(recording, { clock });
    const comment = newComment('welcome');
    await runtime.store.accept(comment, { now: clock.now(), duplicateWindowMs: 0 });

    await handleDeliveryBatch(runtime, batchFor([{ commentId: comment.id }]));
    const stored = await runtime.store.get(comment.id);
    expect(stored?.status).toBe('received');
    expect(stored?.attempts).toBe(1);
    expect(sent).toEqual([{ body: { commentId: comment.id }, delaySeconds: 120 }]);
  });

  it('caps a long delay and forwards the early message', async () => {
    const retryAfterSeconds = MAX_QUEUE_DELAY_SECONDS + 3600;
    await setFaults([
      { operation: 'git/create-ref', kind: 'fail', status: 429, times: 1, retryAfterSeconds },
    ]);
    const { env: recording, sent } = recordingEnv();
    const clock = manualClock(Date.now());
    const runtime = createRuntime(recording, { clock });
    const comment = newComment('code-review-habits');
    await runtime.store.accept(comment, { now: clock.now(), duplicateWindowMs: 0 });

    await handleDeliveryBatch(runtime, batchFor([{ commentId: comment.id }]));
    const due = (await runtime.store.get(comment.id))?.nextAttemptAt?.getTime();
    expect(due).toBe(clock.now().getTime() + retryAfterSeconds * 1000);
    expect(sent).toEqual([
      { body: { commentId: comment.id, due }, delaySeconds: MAX_QUEUE_DELAY_SECONDS },
    ]);

    // The capped message arrives 12 hours later, an hour before the comment is due.
    sent.length = 0;
    clock.advance(MAX_QUEUE_DELAY_SECONDS * 1000);
    await handleDeliveryBatch(runtime, batchFor([{ commentId: comment.id, due: due ?? 0 }]));
    expect(sent).toEqual([{ body: { commentId: comment.id }, delaySeconds: 3600 }]);
    expect((await runtime.store.get(comment.id))?.attempts).toBe(1);
  });

  it('retries the batch when the store fails', async () => {
    const { env: recording } = recordingEnv();
    const runtime = createRuntime(recording);
    await bindings.DB.exec('DROP TABLE comments');
    const batch = batchFor([{ commentId: '01m90000000000000000000000' }]);
    await handleDeliveryBatch(runtime, batch);
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.ackAll).toBe(false);
    // The test batch of @cloudflare/vitest-plugin 1.5.1 drops retryAll's delaySeconds, so only
    // the retry itself can be checked.
    expect(result.retryBatch.retry).toBe(true);
  });
});

describe('scheduled handler', () => {
  it('requeues every due comment', async () => {
    const { env: recording, sent } = recordingEnv();
    const clock = manualClock(Date.now());
    const runtime = createRuntime(recording, { clock });
    const due = [newComment('welcome'), newComment('why-static')];
    for (const comment of due) {
      await runtime.store.accept(comment, { now: clock.now(), duplicateWindowMs: 0 });
    }
    const later = newComment('comments-as-prs');
    await runtime.store.accept(later, { now: clock.now(), duplicateWindowMs: 0 });
    await runtime.store.recordFailure(
      later.id,
      'HTTP 503',
      new Date(clock.now().getTime() + 60_000),
      clock.now(),
    );

    await runScheduledTasks(runtime, { cron: '*/5 * * * *', scheduledTime: clock.now() }, [
      sweepDueComments,
    ]);
    expect(sent.map((message) => message.body.commentId).sort()).toEqual(
      due.map((comment) => comment.id).sort(),
    );
    expect(sent.every((message) => message.delaySeconds === undefined)).toBe(true);
  });

  it('runs the remaining tasks after one fails', async () => {
    const { env: recording } = recordingEnv();
    const runtime = createRuntime(recording);
    const ran: string[] = [];
    const failing: ScheduledTask = {
      name: 'failing',
      run: async () => {
        throw new Error('task failed on purpose');
      },
    };
    const recordingTask: ScheduledTask = {
      name: 'recording',
      run: async () => {
        ran.push('recording');
      },
    };
    const run = runScheduledTasks(runtime, { cron: '*/5 * * * *', scheduledTime: new Date() }, [
      failing,
      recordingTask,
    ]);
    await expect(run).rejects.toThrow('scheduled tasks failed: failing');
    expect(ran).toEqual(['recording']);
  });

  it('runs the sweep after the tasks that requeue', () => {
    expect(SCHEDULED_TASKS.map((task) => task.name)).toEqual([
      'reconcile',
      'monitor',
      'sweep due comments',
      'purge expired addresses',
      'purge rate limit records',
    ]);
  });

  it('sends the canary and enqueues it', async () => {
    const { env: recording, sent } = recordingEnv();
    const runtime = createRuntime(recording);
    await runScheduledTasks(runtime, { cron: '*/5 * * * *', scheduledTime: new Date() });
    // One wake-up from the comment route, and one from the sweep that finds it due.
    const [message] = sent;
    expect(new Set(sent.map((item) => item.body.commentId)).size).toBe(1);
    const canary = await runtime.store.get(message?.body.commentId ?? '');
    expect(canary?.canary).toBe(true);
    expect(canary?.author).toBe('Marginalia canary');
    const report = await runtime.monitor.report();
    expect(report.checks.canary.detail).toMatch(/first canary has not finished/);
  });
});
