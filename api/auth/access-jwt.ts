// Verification of the application tokens Cloudflare Access adds to each request it lets through
// (header Cf-Access-Jwt-Assertion). A token is accepted when it is signed with RS256 by one of the
// team's keys, names this application's AUD tag in "aud", was issued by the team domain, and is
// within its validity period. Claims are read only after the signature has been verified.
import type { Clock } from '../platform/clock.ts';
import { AccessError } from './access-error.ts';
import { decodeJws } from './compact-jws.ts';
import { createJwksCache } from './jwks-cache.ts';

export { AccessError, type AccessFailure } from './access-error.ts';

/** The request header Access puts the application token in. */
export const ACCESS_JWT_HEADER = 'cf-access-jwt-assertion';
/** Path of the team's JWK set below the team domain. */
export const ACCESS_CERTS_PATH = '/cdn-cgi/access/certs';

export const DEFAULT_CACHE_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 60 * 1000;
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;
export const DEFAULT_FETCH_TIMEOUT_MS = 5_000;

export interface AccessVerifierOptions {
  /** The team domain as an origin, such as https://myteam.cloudflareaccess.com; "iss" must equal it. */
  teamDomain: string;
  /** The application's Audience (AUD) tag; "aud" must contain it. */
  audience: string;
  fetch: typeof fetch;
  clock: Clock;
  /** How long fetched keys are used before they are fetched again, in milliseconds; one hour when absent. */
  cacheTtlMs?: number;
  /** Minimum time between two fetches of the keys, in milliseconds; one minute when absent. */
  minRefreshIntervalMs?: number;
  /** Leeway for "exp", "nbf" and "iat" against the clock, in seconds; 60 when absent. */
  clockSkewSeconds?: number;
  /** Timeout for the certs endpoint's response, in milliseconds; 5,000 when absent. */
  fetchTimeoutMs?: number;
}

/** The verified caller. Identity logins carry an email; service tokens carry a common name. */
export interface AccessIdentity {
  /** The user's id; empty for service tokens. */
  sub: string;
  email?: string;
  /** The client id of the service token that signed in. */
  commonName?: string;
  /** The token kind Access reports, such as "app". */
  type?: string;
  expiresAt: Date;
}

export interface AccessVerifier {
  /** The URL the team's signing keys are fetched from. */
  readonly certsUrl: string;
  /** Returns the identity in a valid token; raises AccessError with the reason otherwise. */
  verify(token: string): Promise<AccessIdentity>;
}

const RS256 = { name: 'RSASSA-PKCS1-v1_5' } as const;

/** Returns the team domain as an origin without a trailing slash; raises on anything else. */
export function teamOrigin(teamDomain: string): string {
  const url = URL.canParse(teamDomain) ? new URL(teamDomain) : null;
  if (
    url === null ||
    !/^https?:$/.test(url.protocol) ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== ''
  ) {
    throw new TypeError(
      `teamDomain must be an origin such as https://myteam.cloudflareaccess.com, got ${teamDomain}`,
    );
  }
  return url.origin;
}

function numericClaim(payload: Record<string, unknown>, name: string): number | undefined {
  const value = payload[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new AccessError('malformed', `The Access token's "${name}" claim is not a number.`);
  }
  return value;
}

function optionalText(payload: Record<string, unknown>, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Checks the claims of a token whose signature is already verified. */
function checkClaims(
  payload: Record<string, unknown>,
  expected: { issuer: string; audience: string; nowSeconds: number; skewSeconds: number },
): AccessIdentity {
  const { issuer, audience, nowSeconds, skewSeconds } = expected;
  if (payload.iss !== issuer) {
    throw new AccessError(
      'wrong_issuer',
      'The Access token was not issued by the configured team domain ' +
        '(MARGINALIA_ACCESS_TEAM_DOMAIN).',
    );
  }
  const aud = payload.aud;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(audience)) {
    throw new AccessError(
      'wrong_audience',
      "The Access token is for another application: its audience does not contain this API's " +
        'AUD tag (MARGINALIA_ACCESS_AUD).',
    );
  }

  const exp = numericClaim(payload, 'exp');
  if (exp === undefined) {
    throw new AccessError('malformed', 'The Access token has no expiry ("exp" claim).');
  }
  if (nowSeconds >= exp + skewSeconds) {
    throw new AccessError('expired', 'The Access token has expired. Sign in again.');
  }
  const nbf = numericClaim(payload, 'nbf');
  if (nbf !== undefined && nowSeconds + skewSeconds < nbf) {
    throw new AccessError(
      'not_yet_valid',
      'The Access token is not valid yet ("nbf" is in the future). Check the server clock.',
    );
  }
  const iat = numericClaim(payload, 'iat');
  if (iat !== undefined && nowSeconds + skewSeconds < iat) {
    throw new AccessError(
      'issued_in_future',
      'The Access token was issued in the future ("iat"). Check the server clock.',
    );
  }

  const identity: AccessIdentity = {
    sub: typeof payload.sub === 'string' ? payload.sub : '',
    expiresAt: new Date(exp * 1000),
  };
  const email = optionalText(payload, 'email');
  if (email !== undefined) identity.email = email;
  const commonName = optionalText(payload, 'common_name');
  if (commonName !== undefined) identity.commonName = commonName;
  const type = optionalText(payload, 'type');
  if (type !== undefined) identity.type = type;
  return identity;
}

/** Creates a verifier for one Access application; its key cache lives as long as it does. */
export function createAccessVerifier(options: AccessVerifierOptions): AccessVerifier {
  const issuer = teamOrigin(options.teamDomain);
  const certsUrl = `${issuer}${ACCESS_CERTS_PATH}`;
  const { audience, clock } = options;
  const skewSeconds = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const jwks = createJwksCache({
    certsUrl,
    fetch: options.fetch,
    clock,
    cacheTtlMs: options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS,
    minRefreshIntervalMs: options.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS,
    fetchTimeoutMs: options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
  });

  return {
    certsUrl,
    async verify(token) {
      const jws = decodeJws(token);
      const key = await jwks.key(jws.kid);
      const valid = await crypto.subtle.verify(RS256, key, jws.signature, jws.signingInput);
      if (!valid) {
        throw new AccessError(
          'invalid_signature',
          "The Access token's signature does not match any of the team's signing keys.",
        );
      }
      return checkClaims(jws.payload, {
        issuer,
        audience,
        nowSeconds: clock.now().getTime() / 1000,
        skewSeconds,
      });
    },
  };
}
