// Reading outbox rows into the store's types. The SQLite store (node:sqlite) and the D1 store
// share the table layout, so both read their rows here; only the driver's value types differ.
import { COMMENT_SOURCES, VISIBILITIES } from '../content/schema.ts';
import {
  COMMENT_STATUSES,
  DEAD_LETTER_CAUSES,
  type DeadLetter,
  type DeliveryRecord,
  type StoredAddress,
  type StoredComment,
} from './types.ts';

/** One result row, by column name, as either driver returns it. */
export type OutboxRow = Readonly<Record<string, unknown>>;

export function textColumn(row: OutboxRow, key: string): string {
  const value = row[key];
  if (typeof value !== 'string') throw new TypeError(`column ${key} is not text in the outbox`);
  return value;
}

export function optionalText(row: OutboxRow, key: string): string | null {
  const value = row[key];
  return value === null || value === undefined ? null : textColumn(row, key);
}

export function intColumn(row: OutboxRow, key: string): number {
  const value = row[key];
  if (typeof value !== 'number') {
    throw new TypeError(`column ${key} is not an integer in the outbox`);
  }
  return value;
}

export function optionalInt(row: OutboxRow, key: string): number | null {
  const value = row[key];
  return value === null || value === undefined ? null : intColumn(row, key);
}

/** Reads a BLOB column: node:sqlite returns a Uint8Array, D1 an array of byte values. */
export function blobColumn(row: OutboxRow, key: string): Uint8Array {
  const value = row[key];
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (Array.isArray(value) && value.every((byte) => typeof byte === 'number')) {
    return Uint8Array.from(value);
  }
  throw new TypeError(`column ${key} is not a blob in the outbox`);
}

function oneOf<T extends string>(row: OutboxRow, key: string, allowed: readonly T[]): T {
  const value = textColumn(row, key);
  const match = allowed.find((item) => item === value);
  if (match === undefined) {
    throw new TypeError(`column ${key} contains "${value}", expected one of ${allowed.join(', ')}`);
  }
  return match;
}

/** Reads a `SELECT *` row of the comments table. */
export function toComment(row: OutboxRow): StoredComment {
  const prNumber = optionalInt(row, 'pr_number');
  const prUrl = optionalText(row, 'pr_url');
  const nextAttempt = optionalInt(row, 'next_attempt_at');
  return {
    id: textColumn(row, 'id'),
    post: textColumn(row, 'post'),
    parent: optionalText(row, 'parent'),
    author: textColumn(row, 'author'),
    authorUrl: optionalText(row, 'author_url'),
    visibility: oneOf(row, 'visibility', VISIBILITIES),
    source: oneOf(row, 'source', COMMENT_SOURCES),
    body: textColumn(row, 'body'),
    date: textColumn(row, 'date'),
    fingerprint: textColumn(row, 'fingerprint'),
    idempotencyKey: optionalText(row, 'idempotency_key'),
    canary: intColumn(row, 'canary') === 1,
    status: oneOf(row, 'status', COMMENT_STATUSES),
    attempts: intColumn(row, 'attempts'),
    nextAttemptAt: nextAttempt === null ? null : new Date(nextAttempt),
    lastError: optionalText(row, 'last_error'),
    pullRequest: prNumber !== null && prUrl !== null ? { number: prNumber, url: prUrl } : null,
    createdAt: new Date(intColumn(row, 'created_at')),
    updatedAt: new Date(intColumn(row, 'updated_at')),
  };
}

/** Reads a dead-letter row: id, post, attempts, last_error, dead_cause and dead_since. */
export function toDeadLetter(row: OutboxRow): DeadLetter {
  return {
    id: textColumn(row, 'id'),
    post: textColumn(row, 'post'),
    // A dead letter recorded without a cause (schema version 3) waits for a person, like one out
    // of attempts.
    cause:
      row['dead_cause'] === null || row['dead_cause'] === undefined
        ? 'attempts'
        : oneOf(row, 'dead_cause', DEAD_LETTER_CAUSES),
    attempts: intColumn(row, 'attempts'),
    lastError: optionalText(row, 'last_error'),
    deadSince: new Date(intColumn(row, 'dead_since')),
  };
}

/** Reads a `SELECT *` row of the comment_addresses table. */
export function toAddress(row: OutboxRow): StoredAddress {
  return {
    commentId: textColumn(row, 'comment_id'),
    iv: blobColumn(row, 'iv'),
    ciphertext: blobColumn(row, 'ciphertext'),
    createdAt: new Date(intColumn(row, 'created_at')),
  };
}

/** Reads the last-delivery row: id, last_attempt_at and last_error. */
export function toDeliveryRecord(row: OutboxRow): DeliveryRecord {
  return {
    commentId: textColumn(row, 'id'),
    at: new Date(intColumn(row, 'last_attempt_at')),
    outcome: optionalText(row, 'last_error') === null ? 'proposed' : 'failed',
  };
}
