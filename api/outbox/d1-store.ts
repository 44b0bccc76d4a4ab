// The outbox and receipts on Cloudflare D1, with the semantics of the SQLite store
// (sqlite-store.ts). The tables come from the wrangler migrations in migrations/.
//
// D1 has no interactive transactions: a batch() runs its statements in one transaction, but the
// code cannot read a row and then decide what to write within it. So each multi-step operation
// is one batch whose statements carry their own conditions (INSERT ... SELECT ... WHERE NOT
// EXISTS, and a batch id for webhooks), and the outcome is read from the same batch's results.
// D1 acknowledges a write once it is durable, so accept() resolves only after that.
import { batchResult, type D1Database, type D1Statement } from '../platform/d1.ts';
import {
  intColumn,
  optionalInt,
  textColumn,
  toAddress,
  toComment,
  toDeadLetter,
  toDeliveryRecord,
} from './rows.ts';
import {
  type AcceptOptions,
  type AcceptResult,
  type CommentStore,
  type DeadLetterCause,
  type DeliveryRecord,
  type NewComment,
  type OutboxStats,
  type StoredAddress,
  type StoredComment,
  type WebhookRecord,
  type WebhookResult,
} from './types.ts';

/** The CommentStore on D1, with the listing the cron sweep needs. */
export interface D1CommentStore extends CommentStore {
  /** Ids of the received comments due at `now`, oldest first, at most `limit` of them. */
  listDue(now: Date, limit: number): Promise<string[]>;
}

const SQL = {
  byId: 'SELECT * FROM comments WHERE id = ?',
  byKey: 'SELECT * FROM comments WHERE idempotency_key = ?',
  byFingerprint:
    'SELECT * FROM comments WHERE fingerprint = ? AND created_at >= ? ORDER BY created_at LIMIT 1',
  // Inserts only when neither the idempotency key nor the fingerprint within the window was seen,
  // the two checks that the SQLite store makes before its INSERT in the same transaction.
  insertIfNew: `
    INSERT INTO comments (id, post, parent, author, author_url, visibility, source, body, date,
      status, attempts, next_attempt_at, fingerprint, idempotency_key, created_at, updated_at,
      canary)
    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', 0, ?, ?, ?, ?, ?, ?
    WHERE NOT EXISTS (SELECT 1 FROM comments WHERE idempotency_key = ?)
      AND NOT EXISTS (SELECT 1 FROM comments WHERE fingerprint = ? AND created_at >= ?)`,
  // The comment id is new to this request, so the row exists only when the insert above made it.
  insertAddressIfCreated: `
    INSERT INTO comment_addresses (comment_id, iv, ciphertext, created_at)
    SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM comments WHERE id = ? AND created_at = ?)
    ON CONFLICT DO NOTHING`,
  nextDue: `
    SELECT * FROM comments WHERE status = 'received' AND next_attempt_at <= ?
    ORDER BY next_attempt_at, id LIMIT 1`,
  listDue: `
    SELECT id FROM comments WHERE status = 'received' AND next_attempt_at <= ?
    ORDER BY next_attempt_at, id LIMIT ?`,
  nextAttempt: "SELECT MIN(next_attempt_at) AS at FROM comments WHERE status = 'received'",
  markProposed: `
    UPDATE comments SET pr_number = ?, pr_url = ?, last_error = NULL, next_attempt_at = NULL,
      status = CASE WHEN status IN ('received', 'dead') THEN 'proposed' ELSE status END,
      dead_at = NULL, dead_cause = NULL, proposed_at = COALESCE(proposed_at, ?),
      last_attempt_at = ?, updated_at = ?
    WHERE id = ?`,
  recordFailure: `
    UPDATE comments SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
      last_attempt_at = ?, updated_at = ?
    WHERE id = ? AND status = 'received'`,
  markDead: `
    UPDATE comments SET status = 'dead', attempts = attempts + 1, last_error = ?,
      next_attempt_at = NULL, last_attempt_at = ?, dead_at = ?, dead_cause = ?, updated_at = ?
    WHERE id = ? AND status = 'received'`,
  deadLetters: `
    SELECT id, post, attempts, last_error, dead_cause, COALESCE(dead_at, updated_at) AS dead_since
    FROM comments WHERE status = 'dead' ORDER BY dead_since, id`,
  countDead: "SELECT COUNT(*) AS count FROM comments WHERE status = 'dead'",
  requeueOne: `
    UPDATE comments SET status = 'received', attempts = 0, next_attempt_at = ?, dead_at = NULL,
      dead_cause = NULL, updated_at = ?
    WHERE id = ? AND status = 'dead' RETURNING id`,
  requeueAll: `
    UPDATE comments SET status = 'received', attempts = 0, next_attempt_at = ?, dead_at = NULL,
      dead_cause = NULL, updated_at = ?
    WHERE status = 'dead' RETURNING id`,
  requeueCause: `
    UPDATE comments SET status = 'received', attempts = 0, next_attempt_at = ?, dead_at = NULL,
      dead_cause = NULL, updated_at = ?
    WHERE status = 'dead' AND COALESCE(dead_cause, 'attempts') = ? RETURNING id`,
  markPublished: `
    UPDATE comments SET status = 'published', next_attempt_at = NULL, updated_at = ?
    WHERE id = ? AND status <> 'published'`,
  markDeclined: `
    UPDATE comments SET status = 'declined', next_attempt_at = NULL, updated_at = ?
    WHERE id = ? AND status IN ('received', 'proposed', 'dead')`,
  insertMerge:
    'INSERT INTO merges (sha, comment_id, merged_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  insertDelivery: `
    INSERT INTO webhook_deliveries (delivery_id, event, received_at, batch_id)
    VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  // Guard appended to the review statements of recordWebhook: true only in the batch that
  // inserted the delivery row.
  ownsDelivery: 'EXISTS (SELECT 1 FROM webhook_deliveries WHERE delivery_id = ? AND batch_id = ?)',
  stats:
    "SELECT COUNT(*) AS depth, MIN(created_at) AS oldest FROM comments WHERE status = 'received'",
  address: 'SELECT * FROM comment_addresses WHERE comment_id = ?',
  purgeAddresses: 'DELETE FROM comment_addresses WHERE created_at < ?',
  lastDelivery: `
    SELECT id, last_attempt_at, last_error FROM comments WHERE last_attempt_at IS NOT NULL
    ORDER BY last_attempt_at DESC LIMIT 1`,
  unsettled: `
    SELECT * FROM comments WHERE status IN ('received', 'dead', 'proposed') AND updated_at < ?
    ORDER BY updated_at, id`,
  lastProposed: 'SELECT MAX(proposed_at) AS at FROM comments',
  reviewStats: `
    SELECT COUNT(CASE WHEN COALESCE(proposed_at, updated_at) < ? THEN 1 END) AS overdue,
      MIN(COALESCE(proposed_at, updated_at)) AS oldest
    FROM comments WHERE status = 'proposed' AND canary = 0`,
  acceptedSince:
    'SELECT created_at FROM comments WHERE created_at >= ? AND canary = 0 ORDER BY created_at',
  getState: 'SELECT value FROM monitor_state WHERE key = ?',
  putState: `
    INSERT INTO monitor_state (key, value, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
} as const;

/** Creates the outbox over a D1 database to which migrations/ has been applied. */
export function createD1Store(db: D1Database): D1CommentStore {
  const statement = (sql: string, ...values: Parameters<D1Statement['bind']>): D1Statement =>
    db.prepare(sql).bind(...values);

  async function get(id: string): Promise<StoredComment | null> {
    const row = await statement(SQL.byId, id).first();
    return row === null ? null : toComment(row);
  }

  async function accept(comment: NewComment, options: AcceptOptions): Promise<AcceptResult> {
    const now = options.now.getTime();
    const since = now - options.duplicateWindowMs;
    const statements = [
      statement(
        SQL.insertIfNew,
        comment.id,
        comment.post,
        comment.parent,
        comment.author,
        comment.authorUrl,
        comment.visibility,
        comment.source,
        comment.body,
        comment.date,
        now,
        comment.fingerprint,
        comment.idempotencyKey,
        now,
        now,
        comment.canary === true ? 1 : 0,
        comment.idempotencyKey,
        comment.fingerprint,
        since,
      ),
      statement(SQL.byId, comment.id),
      statement(SQL.byKey, comment.idempotencyKey),
      statement(SQL.byFingerprint, comment.fingerprint, since),
    ];
    const address = options.address;
    if (address !== undefined) {
      statements.push(
        statement(
          SQL.insertAddressIfCreated,
          comment.id,
          address.iv,
          address.ciphertext,
          now,
          comment.id,
          now,
        ),
      );
    }
    const results = await db.batch(statements);
    const created = batchResult(results, 1).results[0];
    if (batchResult(results, 0).meta.changes > 0 && created !== undefined) {
      return { outcome: 'created', comment: toComment(created) };
    }
    // The key is checked before the fingerprint, as in the SQLite store.
    const keyRow = batchResult(results, 2).results[0];
    if (keyRow !== undefined) {
      const earlier = toComment(keyRow);
      const same = earlier.fingerprint === comment.fingerprint;
      return { outcome: same ? 'duplicate' : 'key_conflict', comment: earlier };
    }
    const repeat = batchResult(results, 3).results[0];
    if (repeat !== undefined) return { outcome: 'duplicate', comment: toComment(repeat) };
    throw new Error(`comment ${comment.id} was neither stored nor found as a repeat`);
  }

  async function recordWebhook(record: WebhookRecord): Promise<WebhookResult> {
    const at = record.receivedAt.getTime();
    const batchId = crypto.randomUUID();
    const review = record.review;
    const owns = [record.deliveryId, batchId] as const;
    const statements = [
      statement(SQL.insertDelivery, record.deliveryId, record.event, at, batchId),
    ];
    if (review !== null && review.merged) {
      statements.push(
        statement(`${SQL.markPublished} AND ${SQL.ownsDelivery}`, at, review.commentId, ...owns),
      );
      if (review.mergeSha !== null) {
        statements.push(
          statement(
            `INSERT INTO merges (sha, comment_id, merged_at) SELECT ?, ?, ?
             WHERE ${SQL.ownsDelivery} ON CONFLICT DO NOTHING`,
            review.mergeSha,
            review.commentId,
            at,
            ...owns,
          ),
        );
      }
    } else if (review !== null) {
      statements.push(
        statement(`${SQL.markDeclined} AND ${SQL.ownsDelivery}`, at, review.commentId, ...owns),
      );
    }
    const mergeIndex = review?.merged === true && review.mergeSha !== null ? 2 : -1;
    if (review !== null) statements.push(statement(SQL.byId, review.commentId));
    const results = await db.batch(statements);
    const duplicate = batchResult(results, 0).meta.changes === 0;
    const row = review === null ? undefined : results.at(-1)?.results[0];
    const comment = row === undefined ? null : toComment(row);
    if (duplicate) return { duplicate: true, newMerge: false, comment };
    if (review === null) return { duplicate: false, newMerge: false, comment: null };
    const newMerge = mergeIndex > 0 && batchResult(results, mergeIndex).meta.changes > 0;
    return { duplicate: false, newMerge, comment };
  }

  async function requeueDeadLetters(
    selection: readonly string[] | 'all' | { cause: DeadLetterCause },
    now: Date,
  ): Promise<string[]> {
    const at = now.getTime();
    let statements: D1Statement[];
    if (selection === 'all') statements = [statement(SQL.requeueAll, at, at)];
    else if ('cause' in selection) {
      statements = [statement(SQL.requeueCause, at, at, selection.cause)];
    } else statements = selection.map((id) => statement(SQL.requeueOne, at, at, id));
    if (statements.length === 0) return [];
    const results = await db.batch(statements);
    return results.flatMap((result) => result.results.map((row) => textColumn(row, 'id')));
  }

  async function outboxStats(now: Date): Promise<OutboxStats> {
    const row = await statement(SQL.stats).first();
    const depth = row === null ? 0 : intColumn(row, 'depth');
    const oldest = row === null ? null : optionalInt(row, 'oldest');
    const age = oldest === null ? 0 : Math.max(0, Math.floor((now.getTime() - oldest) / 1000));
    return { depth, oldestAgeSeconds: age };
  }

  async function lastDelivery(): Promise<DeliveryRecord | null> {
    const row = await statement(SQL.lastDelivery).first();
    return row === null ? null : toDeliveryRecord(row);
  }

  async function getAddress(commentId: string): Promise<StoredAddress | null> {
    const row = await statement(SQL.address, commentId).first();
    return row === null ? null : toAddress(row);
  }

  return {
    accept,
    get,
    async getMany(ids) {
      if (ids.length === 0) return [];
      const results = await db.batch(ids.map((id) => statement(SQL.byId, id)));
      return results.flatMap((result) => result.results.map(toComment));
    },
    async nextDue(now) {
      const row = await statement(SQL.nextDue, now.getTime()).first();
      return row === null ? null : toComment(row);
    },
    async listDue(now, limit) {
      const { results } = await statement(SQL.listDue, now.getTime(), limit).all();
      return results.map((row) => textColumn(row, 'id'));
    },
    async nextAttemptAt() {
      const row = await statement(SQL.nextAttempt).first();
      const at = row === null ? null : optionalInt(row, 'at');
      return at === null ? null : new Date(at);
    },
    async markProposed(id, pullRequest, now) {
      const at = now.getTime();
      const [, selected] = await db.batch([
        statement(SQL.markProposed, pullRequest.number, pullRequest.url, at, at, at, id),
        statement(SQL.byId, id),
      ]);
      const row = selected?.results[0];
      return row === undefined ? null : toComment(row);
    },
    async recordFailure(id, error, nextAttemptAt, now) {
      const at = now.getTime();
      await statement(SQL.recordFailure, error, nextAttemptAt.getTime(), at, at, id).run();
    },
    async markDead(id, error, now, cause) {
      const at = now.getTime();
      const result = await statement(SQL.markDead, error, at, at, cause, at, id).run();
      return result.meta.changes > 0;
    },
    async listDeadLetters() {
      const { results } = await statement(SQL.deadLetters).all();
      return results.map(toDeadLetter);
    },
    async countDeadLetters() {
      const row = await statement(SQL.countDead).first();
      return row === null ? 0 : intColumn(row, 'count');
    },
    requeueDeadLetters,
    async markPublished(id, now) {
      const [, selected] = await db.batch([
        statement(SQL.markPublished, now.getTime(), id),
        statement('SELECT 1 AS found FROM comments WHERE id = ?', id),
      ]);
      return (selected?.results.length ?? 0) > 0;
    },
    async markDeclined(id, now) {
      const result = await statement(SQL.markDeclined, now.getTime(), id).run();
      return result.meta.changes > 0;
    },
    async recordMerge(sha, commentId, now) {
      const result = await statement(SQL.insertMerge, sha, commentId, now.getTime()).run();
      return result.meta.changes > 0;
    },
    recordWebhook,
    outboxStats,
    lastDelivery,
    async listUnsettled(updatedBefore) {
      const { results } = await statement(SQL.unsettled, updatedBefore.getTime()).all();
      return results.map(toComment);
    },
    async lastProposedAt() {
      const row = await statement(SQL.lastProposed).first();
      const at = row === null ? null : optionalInt(row, 'at');
      return at === null ? null : new Date(at);
    },
    async reviewStats(cutoff) {
      const row = await statement(SQL.reviewStats, cutoff.getTime()).first();
      const oldest = row === null ? null : optionalInt(row, 'oldest');
      return {
        overdue: row === null ? 0 : intColumn(row, 'overdue'),
        oldestProposedAt: oldest === null ? null : new Date(oldest),
      };
    },
    async acceptedSince(since) {
      const { results } = await statement(SQL.acceptedSince, since.getTime()).all();
      return results.map((row) => new Date(intColumn(row, 'created_at')));
    },
    async getState(key) {
      const row = await statement(SQL.getState, key).first();
      return row === null ? null : textColumn(row, 'value');
    },
    async putState(key, value, now) {
      await statement(SQL.putState, key, value, now.getTime()).run();
    },
    getAddress,
    async purgeAddresses(cutoff) {
      const result = await statement(SQL.purgeAddresses, cutoff.getTime()).run();
      return result.meta.changes;
    },
    // The binding belongs to the Workers runtime, which closes it; there is nothing to release.
    close: async () => undefined,
  };
}
