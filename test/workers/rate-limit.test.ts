// The D1 rate limiter: its decisions match the in-memory limiter's, and concurrent requests from
// many isolates cannot pass a limit, because each take() is one D1 transaction.
import { applyD1Migrations, reset, type D1Migration } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { createD1RateLimiter, purgeRateLimitHits } from '../../api/abuse/d1-rate-limit.ts';
import type { RateLimitBucket } from '../../api/abuse/rate-limit.ts';
import type { D1Database } from '../../api/platform/d1.ts';
import type { WorkerEnv } from '../../api/workers/env.ts';

const bindings = env as WorkerEnv & { TEST_MIGRATIONS: D1Migration[] };
const db = bindings.DB as unknown as D1Database;
const T0 = Date.parse('2026-06-01T12:00:00.000Z');
const MINUTE = 60_000;

function address(key: string, limit: number, windowMs = MINUTE): RateLimitBucket {
  return { key, rules: [{ limit, windowMs }] };
}

async function hitCount(key: string): Promise<number> {
  const row = await db
    .prepare('SELECT COUNT(*) AS count FROM rate_limit_hits WHERE key = ?')
    .bind(key)
    .first<{ count: number }>();
  return row?.count ?? 0;
}

beforeEach(async () => {
  await reset();
  await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
});

describe('D1 rate limiter', () => {
  it('allows up to the limit within a window', async () => {
    const limiter = createD1RateLimiter(db);
    const buckets = [address('addr:a', 2)];
    expect(await limiter.take(buckets, new Date(T0))).toEqual({ allowed: true });
    expect(await limiter.take(buckets, new Date(T0 + 1000))).toEqual({ allowed: true });
    const denied = await limiter.take(buckets, new Date(T0 + 2000));
    expect(denied).toEqual({
      allowed: false,
      key: 'addr:a',
      rule: { limit: 2, windowMs: MINUTE },
      retryAfterMs: MINUTE - 2000,
    });
    expect(await limiter.take(buckets, new Date(T0 + MINUTE + 1))).toEqual({ allowed: true });
  });

  it('records nothing when any bucket is full', async () => {
    const limiter = createD1RateLimiter(db);
    await limiter.take([address('post:p', 1, 60 * MINUTE)], new Date(T0));
    const decision = await limiter.take(
      [address('addr:b', 5), address('post:p', 1, 60 * MINUTE)],
      new Date(T0 + 1000),
    );
    expect(decision).toMatchObject({ allowed: false, key: 'post:p' });
    expect(await hitCount('addr:b')).toBe(0);
    expect(await hitCount('post:p')).toBe(1);
  });

  it('names the rule that waits longest', async () => {
    const limiter = createD1RateLimiter(db);
    const bucket: RateLimitBucket = {
      key: 'addr:c',
      rules: [
        { limit: 1, windowMs: MINUTE },
        { limit: 1, windowMs: 60 * MINUTE },
      ],
    };
    await limiter.take([bucket], new Date(T0));
    const decision = await limiter.take([bucket], new Date(T0 + 1000));
    expect(decision).toMatchObject({ allowed: false, retryAfterMs: 60 * MINUTE - 1000 });
  });

  it('lets no more than the limit through concurrently', async () => {
    // Separate limiter objects stand in for separate isolates: they share only the database.
    const takes = Array.from({ length: 8 }, () =>
      createD1RateLimiter(db).take([address('addr:d', 3)], new Date(T0)),
    );
    const decisions = await Promise.all(takes);
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(3);
    expect(await hitCount('addr:d')).toBe(3);
  });

  it('allows buckets without rules', async () => {
    const limiter = createD1RateLimiter(db);
    expect(await limiter.take([{ key: 'off', rules: [] }], new Date(T0))).toEqual({
      allowed: true,
    });
    expect(await hitCount('off')).toBe(0);
  });

  it('purges records older than the retention', async () => {
    const limiter = createD1RateLimiter(db);
    // A key's own old records go when it is next used; the purge covers keys not used again.
    await limiter.take([address('addr:e', 10)], new Date(T0));
    await limiter.take([address('addr:f', 10)], new Date(T0 + 2 * MINUTE));
    expect(await purgeRateLimitHits(db, new Date(T0 + 2 * MINUTE), MINUTE)).toBe(1);
    expect(await hitCount('addr:e')).toBe(0);
    expect(await hitCount('addr:f')).toBe(1);
  });
});
