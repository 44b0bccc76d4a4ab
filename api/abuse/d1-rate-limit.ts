// The sliding-window rate limiter on D1, so that every isolate of the Worker counts against the
// same limits. KV cannot hold these counts: its writes become visible elsewhere only after up to a
// minute, so a burst spread over isolates would pass. The decision follows the in-memory limiter
// (rate-limit.ts): one request is recorded in every bucket when all rules allow it, else nothing.
import { batchResult, type D1Database, type D1Statement } from '../platform/d1.ts';
import {
  waitFor,
  type RateLimitBucket,
  type RateLimitDecision,
  type RateLimiter,
} from './rate-limit.ts';

/** Age after which purgeRateLimitHits deletes a record when the caller passes none: one day. */
export const RATE_LIMIT_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Creates a limiter that keeps request times in the rate_limit_hits table. Each take() is one
 * D1 batch, so the check and the insert run in one transaction: two isolates cannot both take
 * the last slot.
 */
export function createD1RateLimiter(db: D1Database): RateLimiter {
  return {
    async take(buckets: readonly RateLimitBucket[], date: Date): Promise<RateLimitDecision> {
      const now = date.getTime();
      const active = buckets.filter((bucket) => bucket.rules.length > 0);
      if (active.length === 0) return { allowed: true };

      const statements: D1Statement[] = [];
      // Times older than a bucket's longest window no longer count, so they are deleted first.
      for (const bucket of active) {
        const horizonMs = Math.max(...bucket.rules.map((rule) => rule.windowMs));
        statements.push(
          db
            .prepare('DELETE FROM rate_limit_hits WHERE key = ? AND at <= ?')
            .bind(bucket.key, now - horizonMs),
        );
      }
      // One INSERT ... SELECT records the request in every bucket when every rule has room.
      // SQLite computes the whole SELECT before inserting the first row, because it reads the
      // table being written, so every count is taken over the rows from before this request.
      const conditions: string[] = [];
      const conditionValues: Array<string | number> = [];
      for (const bucket of active) {
        for (const rule of bucket.rules) {
          conditions.push('(SELECT COUNT(*) FROM rate_limit_hits WHERE key = ? AND at > ?) < ?');
          conditionValues.push(bucket.key, now - rule.windowMs, rule.limit);
        }
      }
      const keys = active.map(() => 'SELECT ? AS key').join(' UNION ALL ');
      statements.push(
        db
          .prepare(
            `INSERT INTO rate_limit_hits (key, at) SELECT key, ? FROM (${keys})
             WHERE ${conditions.join(' AND ')}`,
          )
          .bind(now, ...active.map((bucket) => bucket.key), ...conditionValues),
      );
      const placeholders = active.map(() => '?').join(', ');
      statements.push(
        db
          .prepare(`SELECT key, at FROM rate_limit_hits WHERE key IN (${placeholders}) ORDER BY at`)
          .bind(...active.map((bucket) => bucket.key)),
      );

      const results = await db.batch<{ key: string; at: number }>(statements);
      const insertIndex = active.length;
      if (batchResult(results, insertIndex).meta.changes > 0) return { allowed: true };

      // Denied: nothing was inserted, so the times read are those the conditions counted.
      const times = new Map<string, number[]>();
      for (const row of batchResult(results, insertIndex + 1).results) {
        const list = times.get(row.key) ?? [];
        list.push(row.at);
        times.set(row.key, list);
      }
      let denied: Extract<RateLimitDecision, { allowed: false }> | null = null;
      for (const bucket of active) {
        for (const rule of bucket.rules) {
          const retryAfterMs = waitFor(times.get(bucket.key) ?? [], rule, now);
          if (retryAfterMs > 0 && (denied === null || retryAfterMs > denied.retryAfterMs)) {
            denied = { allowed: false, key: bucket.key, rule, retryAfterMs };
          }
        }
      }
      // The insert failed only because some count reached its limit, and waitFor finds that
      // rule from the same rows, so `denied` is set here.
      if (denied === null)
        throw new Error('rate limit insert failed although every rule allows it');
      return denied;
    },
  };
}

/** Deletes recorded request times older than `retentionMs` before `now`; returns how many. */
export async function purgeRateLimitHits(
  db: D1Database,
  now: Date,
  retentionMs: number = RATE_LIMIT_RETENTION_MS,
): Promise<number> {
  const result = await db
    .prepare('DELETE FROM rate_limit_hits WHERE at <= ?')
    .bind(now.getTime() - retentionMs)
    .run();
  return result.meta.changes;
}
