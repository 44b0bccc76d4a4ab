// The outbox: every accepted comment is a row here before the API returns "received", and stays
// until the delivery worker has proposed it as a pull request. The same rows serve as receipts.
// SQLite implements it on Node; the interface is asynchronous so that D1 can implement it too.
import type { CommentSource, Visibility } from '../content/schema.ts';

/**
 * Stage of a comment: stored and waiting for delivery (received), open as a pull
 * request (proposed), merged (published), or closed without merging (declined). A dead letter
 * (dead) is a received comment the worker stopped retrying, after too many failed attempts or a
 * permanent forge error. It stays stored until a replay puts it back to received.
 */
export type CommentStatus = 'received' | 'proposed' | 'published' | 'declined' | 'dead';

export const COMMENT_STATUSES = ['received', 'proposed', 'published', 'declined', 'dead'] as const;

export interface NewComment {
  id: string;
  post: string;
  parent: string | null;
  author: string;
  authorUrl: string | null;
  visibility: Visibility;
  source: CommentSource;
  /** The markdown text, after Unicode NFC, byte for byte as it will be committed. */
  body: string;
  /** RFC 3339 UTC timestamp written into the comment file. */
  date: string;
  /** Hash of post, parent, author, visibility and body, used to spot a resubmission. */
  fingerprint: string;
  idempotencyKey: string | null;
  /**
   * True for a synthetic comment the canary sends through the public route. Canary comments are
   * delivered like any other, then closed unmerged, and left out of comment-rate statistics.
   */
  canary?: boolean;
}

export interface PullRequestInfo {
  number: number;
  url: string;
}

export interface StoredComment extends NewComment {
  canary: boolean;
  status: CommentStatus;
  /** Failed delivery attempts so far. */
  attempts: number;
  /** When the worker may next try to deliver it; null once it is proposed. */
  nextAttemptAt: Date | null;
  lastError: string | null;
  pullRequest: PullRequestInfo | null;
  createdAt: Date;
  updatedAt: Date;
}

export type AcceptResult =
  | { outcome: 'created'; comment: StoredComment }
  /** The same idempotency key, or the same fingerprint within the window. */
  | { outcome: 'duplicate'; comment: StoredComment }
  /** The idempotency key was first used for a comment with different content. */
  | { outcome: 'key_conflict'; comment: StoredComment };

export interface AcceptOptions {
  now: Date;
  /** How far back a comment with the same fingerprint counts as the same submission. */
  duplicateWindowMs: number;
  /**
   * The reader's email address, encrypted for this comment's id. It is stored in the same
   * transaction as a created comment, and dropped when the submission repeats an earlier one.
   */
  address?: SealedAddress;
}

/**
 * An email address encrypted with AES-256-GCM, with the comment id as associated data. Addresses
 * live in their own table, apart from the comment rows, so that no StoredComment carries one.
 */
export interface SealedAddress {
  /** The 96-bit IV, random for each record. */
  iv: Uint8Array;
  /** The ciphertext followed by the 128-bit authentication tag. */
  ciphertext: Uint8Array;
}

export interface StoredAddress extends SealedAddress {
  commentId: string;
  createdAt: Date;
}

/** A closed comment pull request, as reported by a webhook. */
export interface ReviewOutcome {
  commentId: string;
  merged: boolean;
  /** The merge commit, when merged. */
  mergeSha: string | null;
}

export interface WebhookRecord {
  deliveryId: string;
  event: string;
  receivedAt: Date;
  review: ReviewOutcome | null;
}

export interface WebhookResult {
  /** True when this delivery id was seen before; nothing was changed. */
  duplicate: boolean;
  /** True when this merge sha was recorded for the first time by this call. */
  newMerge: boolean;
  /** The comment after the update, or null when the store does not hold it. */
  comment: StoredComment | null;
}

export interface OutboxStats {
  /** Comments received and not yet proposed. */
  depth: number;
  /** Age of the oldest of them in whole seconds; 0 when there is none. */
  oldestAgeSeconds: number;
}

/**
 * Why a comment became a dead letter: the forge rejected the credentials (401), refused access
 * (403 without rate-limit signs), could not find the repository or base branch (404), or every
 * allowed attempt failed. The first three clear up when an operator fixes the forge side, so the
 * monitor retries one of them now and then and requeues them all once a delivery succeeds.
 */
export type DeadLetterCause = 'credentials' | 'forbidden' | 'not_found' | 'attempts';

export const DEAD_LETTER_CAUSES = ['credentials', 'forbidden', 'not_found', 'attempts'] as const;

/** A comment the worker no longer retries, as `npm run replay` lists it. */
export interface DeadLetter {
  id: string;
  post: string;
  cause: DeadLetterCause;
  /** Failed delivery attempts, the last one included. */
  attempts: number;
  lastError: string | null;
  /** When the comment became a dead letter. */
  deadSince: Date;
}

/** Pull requests waiting for staff, for the review deadline check. Canary comments are left out. */
export interface ReviewStats {
  /** Comments proposed before the cutoff and still neither merged nor closed. */
  overdue: number;
  /** When the longest-waiting open comment was proposed, or null when none waits. */
  oldestProposedAt: Date | null;
}

export interface DeliveryRecord {
  commentId: string;
  at: Date;
  outcome: 'proposed' | 'failed';
}

export interface CommentStore {
  /** Stores a new comment unless it repeats an earlier one; returns only after it is durable. */
  accept(comment: NewComment, options: AcceptOptions): Promise<AcceptResult>;
  get(id: string): Promise<StoredComment | null>;
  getMany(ids: readonly string[]): Promise<StoredComment[]>;
  /** The received comment whose next attempt is due at `now`, oldest first, or null. */
  nextDue(now: Date): Promise<StoredComment | null>;
  /** The earliest next attempt of any received comment, or null when none waits. */
  nextAttemptAt(): Promise<Date | null>;
  /** Records the pull request; a received comment becomes proposed, a later status is kept. */
  markProposed(id: string, pullRequest: PullRequestInfo, now: Date): Promise<StoredComment | null>;
  /** Records a failed delivery attempt and when to try again. */
  recordFailure(id: string, error: string, nextAttemptAt: Date, now: Date): Promise<void>;
  /**
   * Records a failed attempt and moves a received comment to the dead letters, where the worker
   * no longer picks it. Returns false when the comment was not received.
   */
  markDead(id: string, error: string, now: Date, cause: DeadLetterCause): Promise<boolean>;
  /** Lists the dead letters, oldest first. */
  listDeadLetters(): Promise<DeadLetter[]>;
  countDeadLetters(): Promise<number>;
  /**
   * Puts dead letters back to received with no attempts, due at `now`. `selection` is a list of
   * ids, 'all', or every dead letter of one cause. Returns the ids requeued; ids of comments that
   * are not dead letters are skipped.
   */
  requeueDeadLetters(
    selection: readonly string[] | 'all' | { cause: DeadLetterCause },
    now: Date,
  ): Promise<string[]>;
  /** Marks a comment published; returns false when it is unknown. */
  markPublished(id: string, now: Date): Promise<boolean>;
  /** Marks a comment declined unless it was published; returns false when nothing changed. */
  markDeclined(id: string, now: Date): Promise<boolean>;
  /**
   * Lists comments that are received, dead or proposed and were last updated before
   * `updatedBefore`, least recently updated first. Reconciliation compares them with the forge.
   */
  listUnsettled(updatedBefore: Date): Promise<StoredComment[]>;
  /** Records a merge commit; returns true only the first time a sha is recorded. */
  recordMerge(sha: string, commentId: string, now: Date): Promise<boolean>;
  /** Records a webhook delivery and applies its review outcome in one transaction. */
  recordWebhook(record: WebhookRecord): Promise<WebhookResult>;
  outboxStats(now: Date): Promise<OutboxStats>;
  /** The most recent delivery attempt, or null before the first. */
  lastDelivery(): Promise<DeliveryRecord | null>;
  /** When the most recent comment was proposed, or null before the first. */
  lastProposedAt(): Promise<Date | null>;
  /** Open comment pull requests proposed before `cutoff`, canary comments left out. */
  reviewStats(cutoff: Date): Promise<ReviewStats>;
  /** Creation times of the comments accepted at or after `since`, canary comments left out. */
  acceptedSince(since: Date): Promise<Date[]>;
  /** Reads a small piece of monitor state (alert state, last canary) stored under `key`. */
  getState(key: string): Promise<string | null>;
  /** Stores a small piece of monitor state under `key`, replacing what was there. */
  putState(key: string, value: string, now: Date): Promise<void>;
  /** The encrypted email address kept for a comment, or null when none is kept. */
  getAddress(commentId: string): Promise<StoredAddress | null>;
  /** Deletes the addresses stored before `cutoff`; returns how many were deleted. */
  purgeAddresses(cutoff: Date): Promise<number>;
  close(): Promise<void>;
}
