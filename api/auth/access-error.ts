// Reasons for rejecting a Cloudflare Access token. Messages name the check that failed and never
// contain the token or any claim value from it, so they are safe to return to the client and to log.

export type AccessFailure =
  /** The token is not three base64url parts with a JSON header and a JSON object payload. */
  | 'malformed'
  /** The header names an algorithm other than RS256, or a critical extension. */
  | 'unsupported_algorithm'
  /** No key in the team's key set has the header's kid, even after fetching the set again. */
  | 'unknown_key'
  | 'invalid_signature'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  /** The team's key set could not be fetched or read, so no token can be checked. */
  | 'keys_unavailable';

export class AccessError extends Error {
  readonly reason: AccessFailure;

  constructor(reason: AccessFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccessError';
    this.reason = reason;
  }
}
