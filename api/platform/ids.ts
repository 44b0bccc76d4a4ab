// Comment ids are ULIDs (https://github.com/ulid/spec) written in lowercase: 10 characters of
// millisecond timestamp then 16 of randomness, in Crockford's base32. They sort by creation time
// as plain strings, and they match ID_PATTERN, so they are safe in file names and URLs.

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
const TIME_LENGTH = 10;
const RANDOM_LENGTH = 16;
const MAX_TIME = 2 ** 48 - 1;

export interface IdGenerator {
  /** A new comment id: 26 lowercase characters, later ids sorting after earlier ones. */
  commentId(): string;
  /** A new id for one HTTP request, used in logs and error bodies. */
  requestId(): string;
}

export interface IdGeneratorOptions {
  now: () => Date;
  /** Returns `size` random bytes; Web Crypto's getRandomValues unless a test passes its own. */
  random?: (size: number) => Uint8Array;
}

function encodeTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIME) {
    throw new RangeError(`cannot encode time ${ms} in a ULID: it must be 0 to 2^48-1 ms`);
  }
  let out = '';
  let rest = ms;
  for (let i = 0; i < TIME_LENGTH; i++) {
    out = CROCKFORD.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

/** Turns random bytes into 16 base32 digits (5 bits each), kept as numbers for incrementing. */
function randomDigits(random: (size: number) => Uint8Array): number[] {
  const bytes = random(RANDOM_LENGTH);
  return Array.from({ length: RANDOM_LENGTH }, (_, i) => (bytes[i] ?? 0) % 32);
}

/**
 * Adds one to the random part. Within one millisecond the spec increments the previous random
 * part, so ids made in the same millisecond still sort in the order they were made.
 */
function increment(digits: number[]): number[] | null {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i--) {
    const digit = next[i] ?? 0;
    if (digit < 31) {
      next[i] = digit + 1;
      return next;
    }
    next[i] = 0;
  }
  return null;
}

export function createIdGenerator(options: IdGeneratorOptions): IdGenerator {
  const random = options.random ?? ((size: number) => crypto.getRandomValues(new Uint8Array(size)));
  let lastTime = -1;
  let lastDigits: number[] = [];

  const commentId = (): string => {
    // A clock that steps backwards keeps the last time, so the order of ids never goes backwards.
    const time = Math.max(options.now().getTime(), lastTime);
    const digits = time === lastTime ? increment(lastDigits) : randomDigits(random);
    if (digits === null) {
      throw new RangeError('more than 2^80 ids were requested in one millisecond');
    }
    lastTime = time;
    lastDigits = digits;
    return encodeTime(time) + digits.map((digit) => CROCKFORD.charAt(digit)).join('');
  };

  return {
    commentId,
    requestId: commentId,
  };
}
