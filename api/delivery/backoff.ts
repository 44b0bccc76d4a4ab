import { ForgeError } from '../forge/types.ts';
import type { DeadLetterCause } from '../outbox/types.ts';

export interface BackoffOptions {
  /** Delay after the first failure, in milliseconds. */
  baseMs: number;
  /** Largest delay the doubling reaches, in milliseconds. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 5 * 60_000 };

/**
 * Computes the wait before the next attempt, in milliseconds: the base doubled per earlier
 * failure up to the cap, with the upper half randomized so that many comments failing together
 * do not retry together. A `retryAfterMs` the forge asked for is always waited out in full.
 */
export function retryDelayMs(
  attempts: number,
  options: BackoffOptions,
  random: () => number,
  retryAfterMs: number | null,
): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  const jittered = Math.round(ceiling / 2 + random() * (ceiling / 2));
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** Reads a numeric `retryAfterMs` property from a thrown value, as forge clients attach it. */
export function retryAfterFrom(error: unknown): number | null {
  if (typeof error !== 'object' || error === null || !('retryAfterMs' in error)) return null;
  const value = error.retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

/** False when a thrown value reports that the same call cannot succeed until a person acts. */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('retryable' in error)) return true;
  return error.retryable !== false;
}

/** Failed attempts after which a comment becomes a dead letter, unless configured otherwise. */
export const DEFAULT_MAX_DELIVERY_ATTEMPTS = 12;

/** A forge failure that a retry cannot fix: why, and the dead-letter cause it is filed under. */
export interface PermanentFailure {
  cause: Exclude<DeadLetterCause, 'attempts'>;
  reason: string;
}

/**
 * Returns why a forge failure cannot succeed on a retry, or null when a retry may help. Permanent
 * are 401 (invalid or expired token), a 404 the client did not mark retryable, and a 403 without
 * rate-limit signs. GitHub returns 404 for a missing repository or base branch and for a
 * repository the token cannot see, while the client reads a missing file as absent, so no 404 of
 * a comment file reaches here. The GitHub client (github.ts) marks a rate-limited 403 retryable.
 * Rate limits (403, 429), 5xx, 409, 422 and failures with no response stay retryable.
 */
export function permanentFailure(error: unknown): PermanentFailure | null {
  if (!(error instanceof ForgeError)) return null;
  if (error.status === 401) {
    return { cause: 'credentials', reason: 'forge credentials rejected (HTTP 401)' };
  }
  if (error.status === 404 && !error.retryable) {
    return { cause: 'not_found', reason: 'repository not found (HTTP 404)' };
  }
  if (error.status === 403 && !error.retryable && error.retryAfterMs === null) {
    return { cause: 'forbidden', reason: 'forge access forbidden (HTTP 403)' };
  }
  return null;
}
