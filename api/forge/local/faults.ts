// Fault injection for tests: a hook receives each authenticated request before it runs and may
// make the forge fail it the ways GitHub and the network do.

/** Request details passed to the fault hook. */
export interface FaultRequest {
  method: string;
  /** Path without the query string, as received (percent-encoded). */
  path: string;
  /** GitHub's OpenAPI operation id, such as `git/create-ref`, or null for an unknown route. */
  operation: string | null;
  /** Counts requests from 1 across the forge's lifetime, so a hook can fail the Nth one. */
  sequence: number;
}

export type FaultDecision =
  /** Responds with this status before any effect, like an outage or a rate limit. */
  | {
      kind: 'fail';
      status: 403 | 409 | 422 | 429 | 500 | 502 | 503;
      message?: string;
      /** Sent as `retry-after`; for 403 and 429 also sets `x-ratelimit-remaining: 0`. */
      retryAfterSeconds?: number;
      /** Sent as `x-ratelimit-reset`: when the rate limit resets, in seconds since the epoch. */
      rateLimitResetSeconds?: number;
    }
  /**
   * Rejects the credentials (401 "Bad credentials") or the permission (403 "Resource not
   * accessible by integration"), without rate-limit headers, as GitHub does for a revoked token
   * or an App whose permissions were reduced.
   */
  | { kind: 'deny'; status: 401 | 403 }
  /** Performs the request, then responds with this status, as a gateway that timed out does. */
  | { kind: 'fail-after-effect'; status: 500 | 502 | 503 | 504 }
  /** Performs the request, then closes the connection without a response (a client time-out). */
  | { kind: 'drop-after-effect' };

export type FaultHook = (request: FaultRequest) => FaultDecision | undefined;

export function defaultFaultMessage(status: number): string {
  switch (status) {
    case 403:
      return 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.';
    case 409:
      return 'Conflict';
    case 422:
      return 'Validation Failed';
    case 429:
      return 'API rate limit exceeded.';
    case 502:
      return 'Server Error';
    case 503:
      return 'Service Unavailable';
    case 504:
      return "We couldn't respond to your request in time. Sorry about that.";
    default:
      return 'Internal Server Error';
  }
}
