// The D1 outbox against a real D1 database in workerd, case by case as the SQLite store behaves.
import { applyD1Migrations, reset, type D1Migration } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { createD1Store, type D1CommentStore } from '../../api/outbox/d1-store.ts';
import type { NewComment, SealedAddress } from '../../api/outbox/types.ts';
import type { WorkerEnv } from '../../api/workers/env.ts';

const bindings = env as WorkerEnv & { TEST_MIGRATIONS: D1Migration[] };
const T0 = new Date('2026-06-01T12:00:00.000Z');
const WINDOW_MS = 10 * 60_000;

let store: D1CommentStore;
let sequence = 0;

function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

function comment(overrides: Partial<NewComment> = {}): NewComment {
  sequence += 1;
  return {
    id: `01m0000000000000000000${String(sequence).padStart(4, '0')}`,
    post: 'welcome',
    parent: null,
    author: 'Ada',
    authorUrl: null,
    visibility: 'public',
    source: 'public',
    body: `Comment ${sequence}`,
    date: T0.toISOString(),
    fingerprint: `fingerprint-${sequence}`,
    idempotencyKey: null,
    ...overrides,
  };
}

async function accepted(value: NewComment, now = T0, address?: SealedAddress) {
  return store.accept(value, {
    now,
    duplicateWindowMs: WINDOW_MS,
    ...(address === undefined ? {} : { address }),
  });
}

beforeEach(async () => {
  await reset();
  await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
  store = createD1Store(bindings.DB);
});

describe('accept', () => {
  it('stores a new comment as received and due', async () => {
    const result = await accepted(comment({ body: 'Hello' }));
    expect(result.outcome).toBe('created');
    expect(result.comment.status).toBe('received');
    expect(result.comment.attempts).toBe(0);
    expect(result.comment.nextAttemptAt).toEqual(T0);
    expect((await store.get(result.comment.id))?.body).toBe('Hello');
  });

  it('returns the first comment for a repeated key', async () => {
    const first = await accepted(comment({ idempotencyKey: 'key-1', fingerprint: 'same' }));
    const again = await accepted(
      comment({ idempotencyKey: 'key-1', fingerprint: 'same' }),
      at(WINDOW_MS * 2),
    );
    expect(again.outcome).toBe('duplicate');
    expect(again.comment.id).toBe(first.comment.id);
  });

  it('reports a key reused for other content', async () => {
    const first = await accepted(comment({ idempotencyKey: 'key-2', fingerprint: 'one' }));
    const second = comment({ idempotencyKey: 'key-2', fingerprint: 'two' });
    const other = await accepted(second);
    expect(other.outcome).toBe('key_conflict');
    expect(other.comment.id).toBe(first.comment.id);
    expect(await store.get(second.id)).toBeNull();
  });

  it('treats a fingerprint within the window as a repeat', async () => {
    const first = await accepted(comment({ fingerprint: 'repeat' }));
    const inside = await accepted(comment({ fingerprint: 'repeat' }), at(WINDOW_MS - 1));
    expect(inside.outcome).toBe('duplicate');
    expect(inside.comment.id).toBe(first.comment.id);
  });

  it('stores a fingerprint again after the window', async () => {
    await accepted(comment({ fingerprint: 'later' }));
    const outside = await accepted(comment({ fingerprint: 'later' }), at(WINDOW_MS + 1));
    expect(outside.outcome).toBe('created');
  });

  it('keeps the address of a created comment only', async () => {
    const address = { iv: new Uint8Array([1, 2, 3]), ciphertext: new Uint8Array([4, 5, 6, 7]) };
    const first = await accepted(comment({ fingerprint: 'with-address' }), T0, address);
    const stored = await store.getAddress(first.comment.id);
    expect(stored?.iv).toEqual(new Uint8Array([1, 2, 3]));
    expect(stored?.ciphertext).toEqual(new Uint8Array([4, 5, 6, 7]));
    expect(stored?.createdAt).toEqual(T0);

    const repeat = comment({ fingerprint: 'with-address' });
    const second = await accepted(repeat, at(1), {
      iv: new Uint8Array([9]),
      ciphertext: new Uint8Array([9]),
    });
    expect(second.outcome).toBe('duplicate');
    expect(await store.getAddress(repeat.id)).toBeNull();
    expect((await store.getAddress(first.comment.id))?.iv).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('purges addresses older than the cutoff', async () => {
    const address = { iv: new Uint8Array([1]), ciphertext: new Uint8Array([2]) };
    const old = await accepted(comment(), T0, address);
    const fresh = await accepted(comment(), at(1000), address);
    expect(await store.purgeAddresses(at(500))).toBe(1);
    expect(await store.getAddress(old.comment.id)).toBeNull();
    expect(await store.getAddress(fresh.comment.id)).not.toBeNull();
  });
});

describe('delivery state', () => {
  it('picks the oldest due comment', async () => {
    const first = await accepted(comment(), T0);
    await accepted(comment(), at(1000));
    expect((await store.nextDue(at(500)))?.id).toBe(first.comment.id);
    expect(await store.nextDue(at(-1))).toBeNull();
    expect(await store.listDue(at(2000), 10)).toHaveLength(2);
    expect(await store.nextAttemptAt()).toEqual(T0);
  });

  it('records a failure and its next attempt', async () => {
    const { comment: stored } = await accepted(comment());
    await store.recordFailure(stored.id, 'HTTP 503', at(60_000), at(1));
    const failed = await store.get(stored.id);
    expect(failed?.attempts).toBe(1);
    expect(failed?.lastError).toBe('HTTP 503');
    expect(failed?.nextAttemptAt).toEqual(at(60_000));
    expect(await store.nextDue(at(59_999))).toBeNull();
    expect(await store.lastDelivery()).toEqual({
      commentId: stored.id,
      at: at(1),
      outcome: 'failed',
    });
  });

  it('marks a comment proposed and keeps a later status', async () => {
    const { comment: stored } = await accepted(comment());
    const proposed = await store.markProposed(stored.id, { number: 7, url: 'http://pr/7' }, at(1));
    expect(proposed?.status).toBe('proposed');
    expect(proposed?.pullRequest).toEqual({ number: 7, url: 'http://pr/7' });
    expect(proposed?.nextAttemptAt).toBeNull();
    expect(await store.markPublished(stored.id, at(2))).toBe(true);
    const again = await store.markProposed(stored.id, { number: 8, url: 'http://pr/8' }, at(3));
    expect(again?.status).toBe('published');
    expect(
      await store.markProposed('01m0000000000000000000zzzz', { number: 1, url: 'u' }, T0),
    ).toBeNull();
  });

  it('reports outbox depth and age', async () => {
    await accepted(comment(), T0);
    await accepted(comment(), at(5000));
    expect(await store.outboxStats(at(10_500))).toEqual({ depth: 2, oldestAgeSeconds: 10 });
  });
});

describe('dead letters', () => {
  it('moves only a received comment to the dead letters', async () => {
    const { comment: stored } = await accepted(comment());
    expect(await store.markDead(stored.id, 'Bad credentials', at(1), 'credentials')).toBe(true);
    expect(await store.markDead(stored.id, 'again', at(2), 'credentials')).toBe(false);
    const dead = await store.get(stored.id);
    expect(dead?.status).toBe('dead');
    expect(dead?.attempts).toBe(1);
    expect(await store.nextDue(at(10))).toBeNull();
    expect(await store.countDeadLetters()).toBe(1);
    expect(await store.listDeadLetters()).toEqual([
      {
        id: stored.id,
        post: 'welcome',
        attempts: 1,
        lastError: 'Bad credentials',
        deadSince: at(1),
        cause: 'credentials',
      },
    ]);
  });

  it('requeues dead letters by id, by cause and all', async () => {
    const a = (await accepted(comment())).comment.id;
    const b = (await accepted(comment())).comment.id;
    const c = (await accepted(comment())).comment.id;
    const live = (await accepted(comment())).comment.id;
    await store.markDead(a, 'gone', at(1), 'not_found');
    await store.markDead(b, 'no access', at(1), 'forbidden');
    await store.markDead(c, 'tried too often', at(1), 'attempts');

    expect(await store.requeueDeadLetters([a, live], at(2))).toEqual([a]);
    const requeued = await store.get(a);
    expect(requeued?.status).toBe('received');
    expect(requeued?.attempts).toBe(0);
    expect(requeued?.nextAttemptAt).toEqual(at(2));

    expect(await store.requeueDeadLetters({ cause: 'forbidden' }, at(3))).toEqual([b]);
    expect(await store.requeueDeadLetters('all', at(4))).toEqual([c]);
    expect(await store.countDeadLetters()).toBe(0);
    expect(await store.requeueDeadLetters([], at(5))).toEqual([]);
  });
});

describe('webhooks', () => {
  it('publishes once per delivery id and merge', async () => {
    const { comment: stored } = await accepted(comment());
    const review = { commentId: stored.id, merged: true, mergeSha: 'a'.repeat(40) };
    const first = await store.recordWebhook({
      deliveryId: 'd-1',
      event: 'pull_request',
      receivedAt: at(1),
      review,
    });
    expect(first).toMatchObject({ duplicate: false, newMerge: true });
    expect(first.comment?.status).toBe('published');

    const redelivered = await store.recordWebhook({
      deliveryId: 'd-1',
      event: 'pull_request',
      receivedAt: at(2),
      review,
    });
    expect(redelivered.duplicate).toBe(true);
    expect(redelivered.newMerge).toBe(false);
    expect(redelivered.comment?.updatedAt).toEqual(at(1));

    const sameSha = await store.recordWebhook({
      deliveryId: 'd-2',
      event: 'pull_request',
      receivedAt: at(3),
      review,
    });
    expect(sameSha).toMatchObject({ duplicate: false, newMerge: false });
  });

  it('does not decline a published comment', async () => {
    const { comment: stored } = await accepted(comment());
    await store.markPublished(stored.id, at(1));
    const declined = await store.recordWebhook({
      deliveryId: 'd-3',
      event: 'pull_request',
      receivedAt: at(2),
      review: { commentId: stored.id, merged: false, mergeSha: null },
    });
    expect(declined.duplicate).toBe(false);
    expect(declined.comment?.status).toBe('published');
    expect(await store.markDeclined(stored.id, at(3))).toBe(false);
  });

  it('declines a proposed comment', async () => {
    const { comment: stored } = await accepted(comment());
    await store.markProposed(stored.id, { number: 3, url: 'http://pr/3' }, at(1));
    const result = await store.recordWebhook({
      deliveryId: 'd-4',
      event: 'pull_request',
      receivedAt: at(2),
      review: { commentId: stored.id, merged: false, mergeSha: null },
    });
    expect(result.comment?.status).toBe('declined');
    expect(result.newMerge).toBe(false);
  });

  it('records an event without a review', async () => {
    const push = { deliveryId: 'd-5', event: 'push', receivedAt: at(1), review: null };
    expect(await store.recordWebhook(push)).toEqual({
      duplicate: false,
      newMerge: false,
      comment: null,
    });
    expect(await store.recordWebhook(push)).toEqual({
      duplicate: true,
      newMerge: false,
      comment: null,
    });
  });

  it('returns null for an unknown comment', async () => {
    const result = await store.recordWebhook({
      deliveryId: 'd-6',
      event: 'pull_request',
      receivedAt: at(1),
      review: { commentId: '01m0000000000000000000yyyy', merged: true, mergeSha: 'b'.repeat(40) },
    });
    expect(result.comment).toBeNull();
    expect(result.newMerge).toBe(true);
    expect(await store.markPublished('01m0000000000000000000yyyy', at(2))).toBe(false);
    expect(await store.recordMerge('c'.repeat(40), 'x', at(3))).toBe(true);
    expect(await store.recordMerge('c'.repeat(40), 'x', at(4))).toBe(false);
  });
});
