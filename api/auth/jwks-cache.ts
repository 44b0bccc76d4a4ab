// The team's signing keys, fetched from the Access certs endpoint and kept for a while. A key id
// that is not in the set triggers one early fetch, because Access rotates its signing key (every
// six weeks by default). Fetches are at least `minRefreshIntervalMs` apart, so tokens with made-up
// key ids cannot turn into a stream of requests to the endpoint.
import * as v from 'valibot';
import type { Clock } from '../platform/clock.ts';
import { AccessError } from './access-error.ts';
import { decodeBase64Url } from './compact-jws.ts';

/** Maximum number of keys read from one set; Access publishes two (the current and the previous). */
export const MAX_KEYS = 16;
/**
 * How long past its TTL a key set is still used while fetching a new one fails, in milliseconds:
 * one day, well inside the seven days Access keeps a rotated-out key valid.
 */
export const STALE_GRACE_MS = 24 * 60 * 60 * 1000;
/** The smallest RSA modulus accepted, in bits, as RFC 7518 section 3.3 requires for RS256. */
export const MIN_RSA_BITS = 2048;

const Jwk = v.object({
  kty: v.string(),
  kid: v.optional(v.string()),
  alg: v.optional(v.string()),
  use: v.optional(v.string()),
  n: v.optional(v.string()),
  e: v.optional(v.string()),
});

const JwkSet = v.object({ keys: v.array(v.unknown()) });

const RS256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

export interface JwksCacheOptions {
  certsUrl: string;
  fetch: typeof fetch;
  clock: Clock;
  /** How long a fetched set is used before it is fetched again, in milliseconds. */
  cacheTtlMs: number;
  /** Minimum time between two fetches, successful or not, in milliseconds. */
  minRefreshIntervalMs: number;
  /** Timeout for the endpoint's response, in milliseconds. */
  fetchTimeoutMs: number;
}

export interface JwksCache {
  /** Returns the verification key with this id; raises AccessError when there is none. */
  key(kid: string): Promise<CryptoKey>;
}

/** Imports the usable RS256 keys of a JWK set, skipping keys of other types or uses. */
async function importKeySet(document: unknown): Promise<Map<string, CryptoKey>> {
  const set = v.safeParse(JwkSet, document);
  if (!set.success) throw new Error('the response is not a JWK set with a "keys" array');
  const keys = new Map<string, CryptoKey>();
  for (const entry of set.output.keys.slice(0, MAX_KEYS)) {
    const jwk = v.safeParse(Jwk, entry);
    if (!jwk.success) continue;
    const { kty, kid, alg, use, n, e } = jwk.output;
    if (kty !== 'RSA' || kid === undefined || n === undefined || e === undefined) continue;
    if ((alg !== undefined && alg !== 'RS256') || (use !== undefined && use !== 'sig')) continue;
    const modulus = decodeBase64Url(n);
    if (modulus === null || modulus.length * 8 < MIN_RSA_BITS) continue;
    try {
      const key = await crypto.subtle.importKey('jwk', { kty, n, e }, RS256, false, ['verify']);
      keys.set(kid, key);
    } catch {
      // A key WebCrypto cannot import cannot verify anything; the others may still be usable.
      continue;
    }
  }
  if (keys.size === 0) throw new Error('the JWK set contains no RSA signing key');
  return keys;
}

/** Creates a cache of the signing keys published at `certsUrl`. */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const { certsUrl, clock, cacheTtlMs, minRefreshIntervalMs, fetchTimeoutMs } = options;
  // Called unbound: Workers raise "Illegal invocation" when fetch runs with another `this`.
  const fetchJwks = options.fetch;
  let keys = new Map<string, CryptoKey>();
  let fetchedAt: number | null = null;
  let lastAttemptAt: number | null = null;
  let inFlight: Promise<void> | null = null;

  async function download(): Promise<void> {
    let response: Response;
    try {
      response = await fetchJwks(certsUrl, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(fetchTimeoutMs),
      });
    } catch (error) {
      throw unavailable(error instanceof Error ? error.message : String(error), error);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw unavailable(`the endpoint returned HTTP ${response.status}`);
    }
    try {
      keys = await importKeySet(await response.json());
    } catch (error) {
      throw unavailable(error instanceof Error ? error.message : String(error), error);
    }
    fetchedAt = clock.now().getTime();
  }

  function unavailable(detail: string, cause?: unknown): AccessError {
    return new AccessError(
      'keys_unavailable',
      `The Cloudflare Access signing keys could not be fetched from ${certsUrl}: ${detail}. ` +
        'Check that the team domain is right and the endpoint is reachable.',
      { cause },
    );
  }

  /** Fetches the set unless a fetch ran too recently; concurrent callers share one fetch. */
  function refresh(): Promise<void> | null {
    if (inFlight !== null) return inFlight;
    const now = clock.now().getTime();
    if (lastAttemptAt !== null && now - lastAttemptAt < minRefreshIntervalMs) return null;
    lastAttemptAt = now;
    inFlight = download().finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  function usableWhileStale(now: number): boolean {
    return fetchedAt !== null && now - fetchedAt < cacheTtlMs + STALE_GRACE_MS;
  }

  function unknownKey(): AccessError {
    return new AccessError(
      'unknown_key',
      "The Access token's key id (kid) is not one of the team's signing keys. " +
        'Sign in through Cloudflare Access again.',
    );
  }

  return {
    async key(kid) {
      const now = clock.now().getTime();
      const fresh = fetchedAt !== null && now - fetchedAt < cacheTtlMs;
      const cached = keys.get(kid);
      if (fresh && cached !== undefined) return cached;

      const pending = refresh();
      if (pending !== null) {
        try {
          await pending;
        } catch (error) {
          // Keys from an expired set are still Access keys, so a failed refresh falls back to
          // them for a day rather than locking staff out during an outage of the endpoint.
          if (cached !== undefined && usableWhileStale(now)) return cached;
          throw error;
        }
      } else if (fetchedAt === null || !usableWhileStale(now)) {
        throw unavailable(
          `the last fetch failed less than ${minRefreshIntervalMs / 1000} seconds ago, ` +
            'and the next is allowed after that',
        );
      }
      const key = keys.get(kid);
      if (key === undefined) throw unknownKey();
      return key;
    },
  };
}
