// Silence check: learns how many comments a blog normally receives in each hour of the week and
// flags a gap since the last comment that would be improbable under that rate. Comments arrive
// roughly as a Poisson process whose rate depends on the hour of the week, so the probability
// of seeing no comment during a gap is exp(-λ), where λ is the expected count over the gap.
//
// Hour-of-week buckets are in UTC and start on Monday: bucket 0 is Monday 00:00-01:00 UTC and
// bucket 167 is Sunday 23:00-24:00 UTC. All arithmetic uses UTC milliseconds, so daylight
// saving time never shifts a bucket.

export const HOURS_PER_WEEK = 168;

const HOUR_MS = 3_600_000;
const WEEK_MS = HOURS_PER_WEEK * HOUR_MS;

/** Epoch milliseconds of Monday 1970-01-05 00:00 UTC, the first Monday after the epoch. */
const MONDAY_EPOCH_MS = 4 * 24 * HOUR_MS;

const DEFAULT_WEEKS = 8;
const DEFAULT_THRESHOLD = 0.001;
const DEFAULT_MIN_HISTORY_COMMENTS = 20;

/**
 * Weights of the circular moving average over neighbouring hours, centre first. A single busy
 * or empty hour then moves its bucket by half as much, while a pattern that spans several hours
 * (a working day, a night) keeps its shape.
 */
const NEIGHBOUR_WEIGHTS = [0.5, 0.25] as const;

/**
 * Weight of the overall mean rate, in comments. Each bucket's estimate is
 * (comments + PRIOR_COMMENTS) / (observed hours + PRIOR_COMMENTS / mean rate), so no bucket of
 * a blog with comments has a rate of exactly zero. The pull is kept small because it raises
 * quiet night hours towards the daytime mean. With a weight of 1 comment, the false-alarm rate
 * on the weekday/daytime histories of test/monitor/silence.test.ts rose to 2-4 times the
 * threshold. With 0.1 it stays near the threshold.
 */
const PRIOR_COMMENTS = 0.1;

/** Expected comments per hour for each UTC hour of the week, learned from a comment history. */
export interface HourOfWeekRates {
  /** 168 rates in comments per hour, indexed by hourOfWeek(). */
  readonly ratesPerHour: readonly number[];
  /** Comments counted: those inside the learning window and not after `now`. */
  readonly comments: number;
  /** Start of the span the rates cover: the window start, or the first comment if later. */
  readonly since: Date;
  /** End of the span the rates cover (the `now` passed to learnHourOfWeekRates). */
  readonly until: Date;
}

export interface LearnOptions {
  now: Date;
  /** Length of the learning window in weeks (default 8). */
  weeks?: number;
}

export type SilenceStatus = 'ok' | 'silent' | 'insufficient_history';

export interface SilenceCheckOptions {
  /** Time of the newest comment, or null when there is none (the gap then starts at `since`). */
  lastCommentAt: Date | null;
  now: Date;
  /** Probability of the gap below which it counts as silent (default 0.001). */
  threshold?: number;
  /** Minimum number of comments in the learned history for a verdict (default 20). */
  minHistoryComments?: number;
}

export interface SilenceCheckResult {
  status: SilenceStatus;
  /** Expected number of comments during the gap (λ). */
  expected: number;
  /** Probability of no comment during the gap under the learned rates: exp(-λ). */
  probability: number;
  threshold: number;
  /** Length of the gap in milliseconds, or null when there is no comment to measure from. */
  silentSinceMs: number | null;
}

/** Returns the UTC hour-of-week bucket of a time: 0 for Monday 00:00 UTC to 167 for Sunday 23:00. */
export function hourOfWeek(time: Date | number): number {
  const ms = typeof time === 'number' ? time : time.getTime();
  const hours = Math.floor((ms - MONDAY_EPOCH_MS) / HOUR_MS);
  return ((hours % HOURS_PER_WEEK) + HOURS_PER_WEEK) % HOURS_PER_WEEK;
}

/**
 * Learns expected comments per hour for each hour of the week from comment times. Only comments
 * in the last `weeks` weeks before `now` count. When the history starts later than the window
 * (a new blog), the span from the first comment to `now` is used, so each bucket is divided by
 * the hours actually observed in it rather than by the full window.
 */
export function learnHourOfWeekRates(
  timestamps: readonly Date[],
  options: LearnOptions,
): HourOfWeekRates {
  const weeks = options.weeks ?? DEFAULT_WEEKS;
  if (!Number.isFinite(weeks) || weeks <= 0) {
    throw new RangeError(`weeks must be a positive number, got ${weeks}`);
  }
  const untilMs = options.now.getTime();
  const windowStartMs = untilMs - weeks * WEEK_MS;

  const counts = new Array<number>(HOURS_PER_WEEK).fill(0);
  let comments = 0;
  let earliestMs = Number.POSITIVE_INFINITY;
  let historyBeforeWindow = false;
  for (const timestamp of timestamps) {
    const ms = timestamp.getTime();
    if (Number.isNaN(ms) || ms > untilMs) continue;
    if (ms < windowStartMs) {
      historyBeforeWindow = true;
      continue;
    }
    counts[hourOfWeek(ms)]! += 1;
    comments += 1;
    earliestMs = Math.min(earliestMs, ms);
  }

  const sinceMs = historyBeforeWindow || comments === 0 ? windowStartMs : earliestMs;
  const exposure = observedHoursPerBucket(sinceMs, untilMs);
  return {
    ratesPerHour: smoothRates(counts, exposure),
    comments,
    since: new Date(sinceMs),
    until: new Date(untilMs),
  };
}

/**
 * Checks whether the gap since the last comment is improbable under the learned rates. The
 * expected count λ sums the hourly rates across the gap, with partial hours pro rata.
 *
 * NOTE: the learned rates are used as if exact. Their estimation error makes false alarms
 * somewhat more frequent than `threshold`: about 1.4 times as often on the eight-week busy-blog
 * histories of test/monitor/silence.test.ts.
 */
export function silenceCheck(
  rates: HourOfWeekRates,
  options: SilenceCheckOptions,
): SilenceCheckResult {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const minHistoryComments = options.minHistoryComments ?? DEFAULT_MIN_HISTORY_COMMENTS;
  const nowMs = options.now.getTime();
  const gapStartMs = options.lastCommentAt?.getTime() ?? rates.since.getTime();
  const silentSinceMs = options.lastCommentAt === null ? null : Math.max(0, nowMs - gapStartMs);

  const expected = expectedComments(rates.ratesPerHour, gapStartMs, nowMs);
  const probability = Math.exp(-expected);
  let status: SilenceStatus;
  if (rates.comments < minHistoryComments) status = 'insufficient_history';
  else if (probability < threshold) status = 'silent';
  else status = 'ok';
  return { status, expected, probability, threshold, silentSinceMs };
}

/** Sums rate × hours over [fromMs, toMs), splitting the span at hour boundaries. */
export function expectedComments(
  ratesPerHour: readonly number[],
  fromMs: number,
  toMs: number,
): number {
  if (toMs <= fromMs) return 0;
  const weekTotal = ratesPerHour.reduce((sum, rate) => sum + rate, 0);
  const fullWeeks = Math.floor((toMs - fromMs) / WEEK_MS);
  let expected = fullWeeks * weekTotal;
  let cursor = fromMs + fullWeeks * WEEK_MS;
  while (cursor < toMs) {
    const hourEnd = Math.min(toMs, (Math.floor(cursor / HOUR_MS) + 1) * HOUR_MS);
    expected += (ratesPerHour[hourOfWeek(cursor)] ?? 0) * ((hourEnd - cursor) / HOUR_MS);
    cursor = hourEnd;
  }
  return expected;
}

/** Hours of [fromMs, toMs) that fall in each hour-of-week bucket, partial hours included. */
function observedHoursPerBucket(fromMs: number, toMs: number): number[] {
  const hours = new Array<number>(HOURS_PER_WEEK).fill(0);
  if (toMs <= fromMs) return hours;
  const fullWeeks = Math.floor((toMs - fromMs) / WEEK_MS);
  hours.fill(fullWeeks);
  let cursor = fromMs + fullWeeks * WEEK_MS;
  while (cursor < toMs) {
    const hourEnd = Math.min(toMs, (Math.floor(cursor / HOUR_MS) + 1) * HOUR_MS);
    hours[hourOfWeek(cursor)]! += (hourEnd - cursor) / HOUR_MS;
    cursor = hourEnd;
  }
  return hours;
}

/** Turns counts and observed hours into smoothed rates (see NEIGHBOUR_WEIGHTS, PRIOR_COMMENTS). */
function smoothRates(counts: readonly number[], exposure: readonly number[]): number[] {
  const totalCount = counts.reduce((sum, count) => sum + count, 0);
  const totalHours = exposure.reduce((sum, hours) => sum + hours, 0);
  if (totalCount === 0 || totalHours === 0) return new Array<number>(HOURS_PER_WEEK).fill(0);
  const meanRate = totalCount / totalHours;

  const rates: number[] = [];
  for (let bucket = 0; bucket < HOURS_PER_WEEK; bucket++) {
    const pooledCount = neighbourAverage(counts, bucket);
    const pooledHours = neighbourAverage(exposure, bucket);
    rates.push((pooledCount + PRIOR_COMMENTS) / (pooledHours + PRIOR_COMMENTS / meanRate));
  }
  return rates;
}

/** Weighted average of a bucket and its neighbours, wrapping from Sunday 23:00 to Monday 00:00. */
function neighbourAverage(values: readonly number[], bucket: number): number {
  const [centre, side] = NEIGHBOUR_WEIGHTS;
  const previous = values[(bucket + HOURS_PER_WEEK - 1) % HOURS_PER_WEEK]!;
  const next = values[(bucket + 1) % HOURS_PER_WEEK]!;
  return centre * values[bucket]! + side * (previous + next);
}
