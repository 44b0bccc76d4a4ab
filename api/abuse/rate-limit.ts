// Sliding-window rate limits on comment submissions. The limiter is an interface because each
// platform keeps the counts where all of its instances can share them. The in-memory one below
// serves a single Node process.

/** At most `limit` requests within any span of `windowMs` milliseconds. */
export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

/** One counter, such as one client address, and the rules that apply to it. */
export interface RateLimitBucket {
  key: string;
  rules: readonly RateLimitRule[];
}

export type RateLimitDecision =
  { allowed: true } | { allowed: false; key: string; rule: RateLimitRule; retryAfterMs: number };

export interface RateLimiter {
  /**
   * Records one request in every bucket when all of their rules allow it, and records nothing
   * when any rule is exceeded. A denial names the bucket and rule that wait longest.
   */
  take(buckets: readonly RateLimitBucket[], now: Date): Promise<RateLimitDecision>;
}

/** Submission limits; 0 turns a limit off. */
export interface RateLimitSettings {
  /** Comments accepted from one client address in any 60 seconds. */
  addressPerMinute: number;
  /** Comments accepted from one client address in any hour. */
  addressPerHour: number;
  /** Comments accepted on one post in any hour, from all addresses together. */
  postPerHour: number;
}

/**
 * Limits for a blog: a reader can post a few comments in a row and a busy post still takes a
 * comment a minute, while one script cannot fill the review queue.
 */
export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  addressPerMinute: 5,
  addressPerHour: 30,
  postPerHour: 60,
};

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

function rules(entries: Array<[number, number]>): RateLimitRule[] {
  return entries.filter(([limit]) => limit > 0).map(([limit, windowMs]) => ({ limit, windowMs }));
}

/** Converts the settings into the rules of the two kinds of bucket; disabled limits are left out. */
export function submissionRules(settings: RateLimitSettings): {
  address: RateLimitRule[];
  post: RateLimitRule[];
} {
  return {
    address: rules([
      [settings.addressPerMinute, MINUTE_MS],
      [settings.addressPerHour, HOUR_MS],
    ]),
    post: rules([[settings.postPerHour, HOUR_MS]]),
  };
}

export interface MemoryRateLimiterOptions {
  /**
   * Keys kept at most. When a new key would pass this, keys whose requests have all left their
   * windows are dropped, and then the least recently created keys.
   */
  maxKeys?: number;
}

interface Counter {
  /** Times of the recorded requests, in milliseconds, oldest first. */
  times: number[];
  /** Largest windowMs of the rules last applied; older times no longer count. */
  horizonMs: number;
}

/**
 * Finds how long until `rule` allows one more request, or 0 when it allows one now. `times` are
 * the bucket's recorded request times in milliseconds, oldest first.
 */
export function waitFor(times: readonly number[], rule: RateLimitRule, now: number): number {
  const windowStart = now - rule.windowMs;
  const inWindow = times.filter((time) => time > windowStart);
  if (inWindow.length < rule.limit) return 0;
  // The request that must leave the window before the count drops below the limit.
  const blocking = inWindow[inWindow.length - rule.limit] ?? now;
  return Math.max(1, blocking + rule.windowMs - now);
}

/** Creates a limiter that keeps each key's request times in this process's memory. */
export function createMemoryRateLimiter(options: MemoryRateLimiterOptions = {}): RateLimiter {
  const maxKeys = options.maxKeys ?? 50_000;
  const counters = new Map<string, Counter>();

  function dropExpired(now: number): void {
    for (const [key, counter] of counters) {
      const last = counter.times.at(-1);
      if (last === undefined || last <= now - counter.horizonMs) counters.delete(key);
    }
  }

  function makeRoom(now: number): void {
    if (counters.size < maxKeys) return;
    dropExpired(now);
    // NOTE: when every kept key is still active, the oldest keys are forgotten, so a flood from
    // more than maxKeys addresses lets the earliest of them submit again.
    for (const key of counters.keys()) {
      if (counters.size < maxKeys) break;
      counters.delete(key);
    }
  }

  return {
    take(buckets, date) {
      const now = date.getTime();
      let denied: Extract<RateLimitDecision, { allowed: false }> | null = null;

      for (const bucket of buckets) {
        const counter = counters.get(bucket.key);
        if (counter === undefined) continue;
        for (const rule of bucket.rules) {
          const retryAfterMs = waitFor(counter.times, rule, now);
          if (retryAfterMs > 0 && (denied === null || retryAfterMs > denied.retryAfterMs)) {
            denied = { allowed: false, key: bucket.key, rule, retryAfterMs };
          }
        }
      }
      if (denied !== null) return Promise.resolve(denied);

      for (const bucket of buckets) {
        if (bucket.rules.length === 0) continue;
        const horizonMs = Math.max(...bucket.rules.map((rule) => rule.windowMs));
        let counter = counters.get(bucket.key);
        if (counter === undefined) {
          makeRoom(now);
          counter = { times: [], horizonMs };
          counters.set(bucket.key, counter);
        }
        counter.horizonMs = horizonMs;
        counter.times = counter.times.filter((time) => time > now - horizonMs);
        counter.times.push(now);
      }
      return Promise.resolve({ allowed: true });
    },
  };
}
