// The outbox and receipts in one SQLite file, through node:sqlite (built into Node 22.5 and
// later, so nothing is compiled at install).
//
// Durability: the database runs in WAL mode. With synchronous=FULL, SQLite syncs the WAL to disk
// at every commit, so a comment for which the API has returned "received" survives a process crash,
// a kill -9, and a power loss or kernel panic. With synchronous=NORMAL the WAL is synced only at
// checkpoints: a committed row still survives a crash of the process (it is in the OS page cache)
// but the last commits can be lost if the machine itself goes down. FULL is the default because
// "received" is a promise; NORMAL is available for hosts that accept that trade for throughput.
import { DatabaseSync, type SQLOutputValue } from 'node:sqlite';
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
  type PullRequestInfo,
  type SealedAddress,
  type StoredAddress,
  type StoredComment,
  type WebhookRecord,
  type WebhookResult,
} from './types.ts';

export interface SqliteStoreOptions {
  /** Path of the database file; created with its tables when absent. */
  path: string;
  synchronous?: 'FULL' | 'NORMAL';
  /** How long a write waits for another connection's lock before failing, in milliseconds. */
  busyTimeoutMs?: number;
}

// Version 1: comments, webhook_deliveries, merges. Version 2 adds comment_addresses. Version 3
// adds comments.dead_at, the time a comment became a dead letter. Version 4 adds dead_cause,
// canary and proposed_at to comments, and the monitor_state table. Every statement is idempotent
// (IF NOT EXISTS), so the same script creates a new file and upgrades a file of any earlier
// version. ALTER TABLE has no IF NOT EXISTS, so ADDED_COLUMNS are added where table_info lacks them.
const SCHEMA_VERSION = 4;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS comments (
  id TEXT PRIMARY KEY,
  post TEXT NOT NULL,
  parent TEXT,
  author TEXT NOT NULL,
  author_url TEXT,
  visibility TEXT NOT NULL,
  source TEXT NOT NULL,
  body TEXT NOT NULL,
  date TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  last_attempt_at INTEGER,
  last_error TEXT,
  pr_number INTEGER,
  pr_url TEXT,
  fingerprint TEXT NOT NULL,
  idempotency_key TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  dead_at INTEGER,
  dead_cause TEXT,
  canary INTEGER NOT NULL DEFAULT 0,
  proposed_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS comments_due ON comments (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS comments_fingerprint ON comments (fingerprint, created_at);
CREATE INDEX IF NOT EXISTS comments_last_attempt ON comments (last_attempt_at);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  delivery_id TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  received_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS merges (
  sha TEXT PRIMARY KEY,
  comment_id TEXT NOT NULL,
  merged_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS comment_addresses (
  comment_id TEXT PRIMARY KEY,
  iv BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS comment_addresses_created ON comment_addresses (created_at);
CREATE TABLE IF NOT EXISTS monitor_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
`;

// Indexes on columns added after version 1 run after addMissingColumns, because a file of an
// earlier version does not have the columns when SCHEMA runs.
const LATE_INDEXES = `
CREATE INDEX IF NOT EXISTS comments_created ON comments (created_at);
`;

/** Columns added to existing tables after version 1, with their definitions. */
const ADDED_COLUMNS = [
  { table: 'comments', column: 'dead_at', definition: 'INTEGER' },
  { table: 'comments', column: 'dead_cause', definition: 'TEXT' },
  { table: 'comments', column: 'canary', definition: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'comments', column: 'proposed_at', definition: 'INTEGER' },
] as const;

type Row = Record<string, SQLOutputValue>;

interface PendingAccept {
  comment: NewComment;
  options: AcceptOptions;
  resolve: (result: AcceptResult) => void;
  reject: (error: unknown) => void;
}

/** Adds each of ADDED_COLUMNS that a file made by an earlier version lacks. */
function addMissingColumns(db: DatabaseSync): void {
  for (const { table, column, definition } of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all();
    if (columns.some((row) => row['name'] === column)) continue;
    db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}

/** Opens (creating when needed) the SQLite outbox at `options.path`. */
export function openSqliteStore(options: SqliteStoreOptions): CommentStore {
  const db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
  // Deleted rows are overwritten with zeros rather than left in free pages, so a purged address
  // leaves no ciphertext behind in the database file once the WAL is checkpointed.
  db.exec('PRAGMA secure_delete = ON');
  const version = db.prepare('PRAGMA user_version').get();
  const current = version === undefined ? 0 : intColumn(version, 'user_version');
  if (current > SCHEMA_VERSION) {
    db.close();
    throw new Error(
      `the outbox at ${options.path} has schema version ${current}, newer than this API ` +
        `(${SCHEMA_VERSION}); run a newer API or restore a matching backup`,
    );
  }
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(SCHEMA);
    addMissingColumns(db);
    db.exec(LATE_INDEXES);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    db.close();
    throw error;
  }

  const statements = {
    byId: db.prepare('SELECT * FROM comments WHERE id = ?'),
    byKey: db.prepare('SELECT * FROM comments WHERE idempotency_key = ?'),
    byFingerprint: db.prepare(
      'SELECT * FROM comments WHERE fingerprint = ? AND created_at >= ? ORDER BY created_at LIMIT 1',
    ),
    insert: db.prepare(`
      INSERT INTO comments (id, post, parent, author, author_url, visibility, source, body, date,
        status, attempts, next_attempt_at, fingerprint, idempotency_key, created_at, updated_at, canary)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', 0, ?, ?, ?, ?, ?, ?)`),
    nextDue: db.prepare(`
      SELECT * FROM comments WHERE status = 'received' AND next_attempt_at <= ?
      ORDER BY next_attempt_at, id LIMIT 1`),
    nextAttempt: db.prepare(
      "SELECT MIN(next_attempt_at) AS at FROM comments WHERE status = 'received'",
    ),
    markProposed: db.prepare(`
      UPDATE comments SET pr_number = ?, pr_url = ?, last_error = NULL, next_attempt_at = NULL,
        status = CASE WHEN status IN ('received', 'dead') THEN 'proposed' ELSE status END,
        dead_at = NULL, dead_cause = NULL, proposed_at = COALESCE(proposed_at, ?),
        last_attempt_at = ?, updated_at = ?
      WHERE id = ?`),
    recordFailure: db.prepare(`
      UPDATE comments SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
        last_attempt_at = ?, updated_at = ?
      WHERE id = ? AND status = 'received'`),
    markDead: db.prepare(`
      UPDATE comments SET status = 'dead', attempts = attempts + 1, last_error = ?,
        next_attempt_at = NULL, last_attempt_at = ?, dead_at = ?, dead_cause = ?, updated_at = ?
      WHERE id = ? AND status = 'received'`),
    deadLetters: db.prepare(`
      SELECT id, post, attempts, last_error, dead_cause, COALESCE(dead_at, updated_at) AS dead_since
      FROM comments WHERE status = 'dead' ORDER BY dead_since, id`),
    countDead: db.prepare("SELECT COUNT(*) AS count FROM comments WHERE status = 'dead'"),
    requeueOne: db.prepare(`
      UPDATE comments SET status = 'received', attempts = 0, next_attempt_at = ?, dead_at = NULL,
        dead_cause = NULL, updated_at = ?
      WHERE id = ? AND status = 'dead' RETURNING id`),
    requeueAll: db.prepare(`
      UPDATE comments SET status = 'received', attempts = 0, next_attempt_at = ?, dead_at = NULL,
        dead_cause = NULL, updated_at = ?
      WHERE status = 'dead' RETURNING id`),
    requeueCause: db.prepare(`
      UPDATE comments SET status = 'received', attempts = 0, next_attempt_at = ?, dead_at = NULL,
        dead_cause = NULL, updated_at = ?
      WHERE status = 'dead' AND COALESCE(dead_cause, 'attempts') = ? RETURNING id`),
    lastProposed: db.prepare('SELECT MAX(proposed_at) AS at FROM comments'),
    reviewStats: db.prepare(`
      SELECT COUNT(*) FILTER (WHERE COALESCE(proposed_at, updated_at) < ?) AS overdue,
        MIN(COALESCE(proposed_at, updated_at)) AS oldest
      FROM comments WHERE status = 'proposed' AND canary = 0`),
    acceptedSince: db.prepare(
      'SELECT created_at FROM comments WHERE created_at >= ? AND canary = 0 ORDER BY created_at',
    ),
    getState: db.prepare('SELECT value FROM monitor_state WHERE key = ?'),
    putState: db.prepare(`
      INSERT INTO monitor_state (key, value, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
    markPublished: db.prepare(`
      UPDATE comments SET status = 'published', next_attempt_at = NULL, updated_at = ?
      WHERE id = ? AND status <> 'published'`),
    markDeclined: db.prepare(`
      UPDATE comments SET status = 'declined', next_attempt_at = NULL, updated_at = ?
      WHERE id = ? AND status IN ('received', 'proposed', 'dead')`),
    unsettled: db.prepare(`
      SELECT * FROM comments WHERE status IN ('received', 'dead', 'proposed') AND updated_at < ?
      ORDER BY updated_at, id`),
    insertMerge: db.prepare(
      'INSERT INTO merges (sha, comment_id, merged_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    insertDelivery: db.prepare(`
      INSERT INTO webhook_deliveries (delivery_id, event, received_at) VALUES (?, ?, ?)
      ON CONFLICT DO NOTHING`),
    stats: db.prepare(
      "SELECT COUNT(*) AS depth, MIN(created_at) AS oldest FROM comments WHERE status = 'received'",
    ),
    insertAddress: db.prepare(
      'INSERT INTO comment_addresses (comment_id, iv, ciphertext, created_at) VALUES (?, ?, ?, ?)',
    ),
    address: db.prepare('SELECT * FROM comment_addresses WHERE comment_id = ?'),
    purgeAddresses: db.prepare('DELETE FROM comment_addresses WHERE created_at < ?'),
    lastDelivery: db.prepare(`
      SELECT id, last_attempt_at, last_error FROM comments WHERE last_attempt_at IS NOT NULL
      ORDER BY last_attempt_at DESC LIMIT 1`),
  };

  /** Runs `work` in one write transaction, rolling back when it throws. */
  function transaction<T>(work: () => T): T {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  }

  function get(id: string): StoredComment | null {
    const row = statements.byId.get(id);
    return row === undefined ? null : toComment(row);
  }

  function insertAddress(commentId: string, sealed: SealedAddress, now: number): void {
    statements.insertAddress.run(commentId, sealed.iv, sealed.ciphertext, now);
  }

  function getAddress(commentId: string): StoredAddress | null {
    const row = statements.address.get(commentId);
    return row === undefined ? null : toAddress(row);
  }

  /** Stores one comment unless it repeats an earlier one; runs inside a transaction. */
  function acceptOne(comment: NewComment, options: AcceptOptions): AcceptResult {
    if (comment.idempotencyKey !== null) {
      const row = statements.byKey.get(comment.idempotencyKey);
      if (row !== undefined) {
        const earlier = toComment(row);
        const same = earlier.fingerprint === comment.fingerprint;
        return { outcome: same ? 'duplicate' : 'key_conflict', comment: earlier };
      }
    }
    const since = options.now.getTime() - options.duplicateWindowMs;
    const repeat = statements.byFingerprint.get(comment.fingerprint, since);
    if (repeat !== undefined) return { outcome: 'duplicate', comment: toComment(repeat) };

    const now = options.now.getTime();
    statements.insert.run(
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
    );
    if (options.address !== undefined) insertAddress(comment.id, options.address, now);
    const stored = get(comment.id);
    if (stored === null) throw new Error(`comment ${comment.id} was not found after insert`);
    return { outcome: 'created', comment: stored };
  }

  // Group commit: submissions that arrive in the same turn of the event loop are stored in one
  // transaction, so one WAL sync covers them all. Each caller's promise settles only after COMMIT.
  let waiting: PendingAccept[] = [];

  function flushAccepts(): void {
    const batch = waiting;
    waiting = [];
    let results: AcceptResult[];
    try {
      results = transaction(() => batch.map((item) => acceptOne(item.comment, item.options)));
    } catch {
      // One failing row must not fail the others, so each is retried in its own transaction.
      for (const item of batch) {
        try {
          item.resolve(transaction(() => acceptOne(item.comment, item.options)));
        } catch (error) {
          item.reject(error);
        }
      }
      return;
    }
    batch.forEach((item, index) => {
      const result = results[index];
      if (result === undefined) item.reject(new Error('group commit lost a result'));
      else item.resolve(result);
    });
  }

  function accept(comment: NewComment, options: AcceptOptions): Promise<AcceptResult> {
    return new Promise((resolve, reject) => {
      waiting.push({ comment, options, resolve, reject });
      if (waiting.length === 1) setImmediate(flushAccepts);
    });
  }

  function markPublished(id: string, now: Date): boolean {
    statements.markPublished.run(now.getTime(), id);
    return get(id) !== null;
  }

  function markDeclined(id: string, now: Date): boolean {
    return Number(statements.markDeclined.run(now.getTime(), id).changes) > 0;
  }

  function recordMerge(sha: string, commentId: string, now: Date): boolean {
    return Number(statements.insertMerge.run(sha, commentId, now.getTime()).changes) > 0;
  }

  function recordWebhook(record: WebhookRecord): WebhookResult {
    return transaction(() => {
      const at = record.receivedAt.getTime();
      const inserted = statements.insertDelivery.run(record.deliveryId, record.event, at);
      const review = record.review;
      if (Number(inserted.changes) === 0) {
        return {
          duplicate: true,
          newMerge: false,
          comment: review === null ? null : get(review.commentId),
        };
      }
      if (review === null) return { duplicate: false, newMerge: false, comment: null };
      let newMerge = false;
      if (review.merged) {
        markPublished(review.commentId, record.receivedAt);
        if (review.mergeSha !== null) {
          newMerge = recordMerge(review.mergeSha, review.commentId, record.receivedAt);
        }
      } else {
        markDeclined(review.commentId, record.receivedAt);
      }
      return { duplicate: false, newMerge, comment: get(review.commentId) };
    });
  }

  function requeueDeadLetters(
    selection: readonly string[] | 'all' | { cause: DeadLetterCause },
    now: Date,
  ): string[] {
    const at = now.getTime();
    return transaction(() => {
      let rows: Row[];
      if (selection === 'all') rows = statements.requeueAll.all(at, at);
      else if ('cause' in selection) rows = statements.requeueCause.all(at, at, selection.cause);
      else rows = selection.flatMap((id) => statements.requeueOne.all(at, at, id));
      return rows.map((row) => textColumn(row, 'id'));
    });
  }

  function outboxStats(now: Date): OutboxStats {
    const row = statements.stats.get();
    const depth = row === undefined ? 0 : intColumn(row, 'depth');
    const oldest = row === undefined ? null : optionalInt(row, 'oldest');
    const age = oldest === null ? 0 : Math.max(0, Math.floor((now.getTime() - oldest) / 1000));
    return { depth, oldestAgeSeconds: age };
  }

  function lastDelivery(): DeliveryRecord | null {
    const row = statements.lastDelivery.get();
    return row === undefined ? null : toDeliveryRecord(row);
  }

  // Apart from accept, the methods are synchronous underneath. Each returns a promise to fit the
  // CommentStore interface, which D1 implements asynchronously.
  return {
    accept,
    get: async (id) => get(id),
    getMany: async (ids) =>
      ids.map((id) => get(id)).filter((comment): comment is StoredComment => comment !== null),
    nextDue: async (now) => {
      const row = statements.nextDue.get(now.getTime());
      return row === undefined ? null : toComment(row);
    },
    nextAttemptAt: async () => {
      const row = statements.nextAttempt.get();
      const at = row === undefined ? null : optionalInt(row, 'at');
      return at === null ? null : new Date(at);
    },
    markProposed: async (id, pullRequest: PullRequestInfo, now) => {
      const at = now.getTime();
      statements.markProposed.run(pullRequest.number, pullRequest.url, at, at, at, id);
      return get(id);
    },
    recordFailure: async (id, error, nextAttemptAt, now) => {
      const at = now.getTime();
      statements.recordFailure.run(error, nextAttemptAt.getTime(), at, at, id);
    },
    markDead: async (id, error, now, cause) => {
      const at = now.getTime();
      return Number(statements.markDead.run(error, at, at, cause, at, id).changes) > 0;
    },
    listDeadLetters: async () => statements.deadLetters.all().map(toDeadLetter),
    countDeadLetters: async () => {
      const row = statements.countDead.get();
      return row === undefined ? 0 : intColumn(row, 'count');
    },
    requeueDeadLetters: async (ids, now) => requeueDeadLetters(ids, now),
    markPublished: async (id, now) => markPublished(id, now),
    markDeclined: async (id, now) => markDeclined(id, now),
    listUnsettled: async (updatedBefore) =>
      statements.unsettled.all(updatedBefore.getTime()).map(toComment),
    recordMerge: async (sha, commentId, now) => recordMerge(sha, commentId, now),
    recordWebhook: async (record) => recordWebhook(record),
    outboxStats: async (now) => outboxStats(now),
    lastDelivery: async () => lastDelivery(),
    lastProposedAt: async () => {
      const row = statements.lastProposed.get();
      const at = row === undefined ? null : optionalInt(row, 'at');
      return at === null ? null : new Date(at);
    },
    reviewStats: async (cutoff) => {
      const row = statements.reviewStats.get(cutoff.getTime());
      const oldest = row === undefined ? null : optionalInt(row, 'oldest');
      return {
        overdue: row === undefined ? 0 : intColumn(row, 'overdue'),
        oldestProposedAt: oldest === null ? null : new Date(oldest),
      };
    },
    acceptedSince: async (since) =>
      statements.acceptedSince
        .all(since.getTime())
        .map((row) => new Date(intColumn(row, 'created_at'))),
    getState: async (key) => {
      const row = statements.getState.get(key);
      return row === undefined ? null : textColumn(row, 'value');
    },
    putState: async (key, value, now) => {
      statements.putState.run(key, value, now.getTime());
    },
    getAddress: async (commentId) => getAddress(commentId),
    purgeAddresses: async (cutoff) =>
      Number(statements.purgeAddresses.run(cutoff.getTime()).changes),
    close: async () => {
      if (waiting.length > 0) flushAccepts();
      if (db.isOpen) db.close();
    },
  };
}
