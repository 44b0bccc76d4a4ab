import { describe, expect, it } from 'vitest';
import {
  HOURS_PER_WEEK,
  expectedComments,
  hourOfWeek,
  learnHourOfWeekRates,
  silenceCheck,
  type HourOfWeekRates,
} from '../../api/monitor/silence.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;

/** Monday 2026-01-05 00:00 UTC: every generated history starts at a week boundary. */
const HISTORY_START_MS = Date.UTC(2026, 0, 5);
const DEFAULT_THRESHOLD = 0.001;

/** Mulberry32: a small seeded generator, so that every history can be regenerated exactly. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Draws a Poisson-distributed count by Knuth's multiplication method (fine for mean < 30). */
function poisson(random: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let count = -1;
  let product = 1;
  do {
    count += 1;
    product *= random();
  } while (product > limit);
  return count;
}

/**
 * True rate of a busy blog in comments per hour: 6 during weekday working hours (08-18 UTC), 2 in
 * weekday evenings, 1 during weekend days and close to zero at night.
 */
function busyBlogRate(bucket: number): number {
  const day = Math.floor(bucket / 24);
  const hour = bucket % 24;
  if (day < 5) {
    if (hour >= 8 && hour < 18) return 6;
    if (hour === 7 || (hour >= 18 && hour < 23)) return 2;
    return 0.15;
  }
  if (hour >= 10 && hour < 21) return 1;
  return 0.1;
}

/** Generates sorted comment times (epoch ms) of a Poisson process with an hour-of-week rate. */
function generateHistory(
  random: () => number,
  fromMs: number,
  toMs: number,
  rate: (bucket: number) => number,
): number[] {
  const times: number[] = [];
  for (let hourStart = fromMs; hourStart < toMs; hourStart += HOUR_MS) {
    const count = poisson(random, rate(hourOfWeek(hourStart)));
    const inHour: number[] = [];
    for (let i = 0; i < count; i++) inHour.push(hourStart + Math.floor(random() * HOUR_MS));
    inHour.sort((a, b) => a - b);
    times.push(...inHour.filter((time) => time < toMs));
  }
  return times;
}

/** Latest time in a sorted list that is at or before `atMs`, or null. */
function lastAtOrBefore(sortedTimes: readonly number[], atMs: number): number | null {
  let low = 0;
  let high = sortedTimes.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sortedTimes[middle]! <= atMs) low = middle + 1;
    else high = middle;
  }
  return low === 0 ? null : sortedTimes[low - 1]!;
}

function toDates(times: readonly number[]): Date[] {
  return times.map((time) => new Date(time));
}

/** Rates built by hand, for arithmetic tests that must not depend on learning. */
function fixedRates(ratesPerHour: number[], comments = 1000): HourOfWeekRates {
  return {
    ratesPerHour,
    comments,
    since: new Date(HISTORY_START_MS),
    until: new Date(HISTORY_START_MS + 8 * WEEK_MS),
  };
}

describe('hourOfWeek', () => {
  it('starts the week on Monday 00:00 UTC', () => {
    expect(hourOfWeek(new Date('2026-01-05T00:00:00Z'))).toBe(0);
    expect(hourOfWeek(new Date('2026-01-05T00:59:59.999Z'))).toBe(0);
    expect(hourOfWeek(new Date('2026-01-06T12:30:00Z'))).toBe(36);
    expect(hourOfWeek(new Date('2026-01-11T23:59:59.999Z'))).toBe(167);
    expect(hourOfWeek(new Date('2026-01-12T00:00:00Z'))).toBe(0);
  });

  it('handles times before the epoch', () => {
    // 1969-12-29 was a Monday.
    expect(hourOfWeek(new Date('1969-12-29T00:00:00Z'))).toBe(0);
    expect(hourOfWeek(new Date('1969-12-28T23:00:00Z'))).toBe(167);
  });

  it('ignores daylight saving time', () => {
    // Europe moves its clocks at 2026-03-29 01:00 UTC and the United States at 2026-03-08 10:00
    // UTC. Neither shifts a UTC bucket.
    expect(hourOfWeek(new Date('2026-03-29T00:30:00Z'))).toBe(144);
    expect(hourOfWeek(new Date('2026-03-29T01:30:00Z'))).toBe(145);
    expect(hourOfWeek(new Date('2026-03-29T02:30:00Z'))).toBe(146);
    expect(hourOfWeek(new Date('2026-03-08T10:30:00Z'))).toBe(154);
  });
});

describe('expectedComments', () => {
  it('sums partial hours across the week boundary', () => {
    const rates = new Array<number>(HOURS_PER_WEEK).fill(0);
    rates[167] = 2;
    rates[0] = 4;
    const from = Date.parse('2026-01-11T23:30:00Z');
    const to = Date.parse('2026-01-12T00:30:00Z');

    expect(expectedComments(rates, from, to)).toBeCloseTo(0.5 * 2 + 0.5 * 4, 10);
  });

  it('adds whole weeks and the remainder', () => {
    const rates = Array.from({ length: HOURS_PER_WEEK }, (_, bucket) => bucket % 3);
    const weekTotal = rates.reduce((sum, rate) => sum + rate, 0);
    const from = Date.parse('2026-01-07T10:15:00Z');
    const to = from + 3 * WEEK_MS + 2 * HOUR_MS;
    // Wednesday 10:15 is bucket 58, so the remainder covers 0.75 h of 58, 59 and 0.25 h of 60.
    const remainder = 0.75 * rates[58]! + rates[59]! + 0.25 * rates[60]!;

    expect(expectedComments(rates, from, to)).toBeCloseTo(3 * weekTotal + remainder, 10);
  });

  it('counts exact hours across a daylight saving change', () => {
    const rates = new Array<number>(HOURS_PER_WEEK).fill(1);
    const from = Date.parse('2026-03-29T00:30:00Z');
    const to = Date.parse('2026-03-29T03:30:00Z');

    expect(expectedComments(rates, from, to)).toBeCloseTo(3, 10);
  });

  it('returns zero for an empty or reversed span', () => {
    const rates = new Array<number>(HOURS_PER_WEEK).fill(5);
    const at = Date.parse('2026-01-07T10:00:00Z');

    expect(expectedComments(rates, at, at)).toBe(0);
    expect(expectedComments(rates, at, at - HOUR_MS)).toBe(0);
  });
});

describe('learnHourOfWeekRates', () => {
  it('returns zero rates for an empty history', () => {
    const now = new Date(HISTORY_START_MS + 8 * WEEK_MS);
    const rates = learnHourOfWeekRates([], { now });

    expect(rates.comments).toBe(0);
    expect(rates.ratesPerHour).toHaveLength(HOURS_PER_WEEK);
    expect(rates.ratesPerHour.every((rate) => rate === 0)).toBe(true);
    expect(rates.since.getTime()).toBe(now.getTime() - 8 * WEEK_MS);
    expect(rates.until.getTime()).toBe(now.getTime());
  });

  it('ignores timestamps in the future', () => {
    const random = seededRandom(7);
    const nowMs = HISTORY_START_MS + 8 * WEEK_MS;
    const past = generateHistory(random, HISTORY_START_MS, nowMs, busyBlogRate);
    const future = generateHistory(random, nowMs + 1, nowMs + WEEK_MS, () => 50);

    const withFuture = learnHourOfWeekRates(toDates([...past, ...future]), {
      now: new Date(nowMs),
    });
    const pastOnly = learnHourOfWeekRates(toDates(past), { now: new Date(nowMs) });

    expect(future.length).toBeGreaterThan(1000);
    expect(withFuture.comments).toBe(past.length);
    expect(withFuture.ratesPerHour).toEqual(pastOnly.ratesPerHour);
  });

  it('ignores timestamps before the window', () => {
    const nowMs = HISTORY_START_MS + 10 * WEEK_MS;
    const random = seededRandom(8);
    const old = generateHistory(random, HISTORY_START_MS, nowMs - 4 * WEEK_MS, () => 3);
    const recent = generateHistory(random, nowMs - 4 * WEEK_MS, nowMs, () => 3);

    const rates = learnHourOfWeekRates(toDates([...old, ...recent]), {
      now: new Date(nowMs),
      weeks: 4,
    });

    expect(rates.comments).toBe(recent.length);
    expect(rates.since.getTime()).toBe(nowMs - 4 * WEEK_MS);
  });

  it('divides by the weeks actually observed', () => {
    // A blog that started three weeks ago, learned with the default eight-week window.
    const nowMs = HISTORY_START_MS + 8 * WEEK_MS;
    const random = seededRandom(9);
    const history = generateHistory(random, nowMs - 3 * WEEK_MS, nowMs, () => 3);

    const rates = learnHourOfWeekRates(toDates(history), { now: new Date(nowMs) });
    const meanRate = rates.ratesPerHour.reduce((sum, rate) => sum + rate, 0) / HOURS_PER_WEEK;

    expect(rates.since.getTime()).toBe(history[0]);
    expect(meanRate).toBeGreaterThan(2.8);
    expect(meanRate).toBeLessThan(3.2);
  });

  it('keeps the weekday daytime pattern', () => {
    const nowMs = HISTORY_START_MS + 8 * WEEK_MS;
    const history = generateHistory(seededRandom(10), HISTORY_START_MS, nowMs, busyBlogRate);
    const rates = learnHourOfWeekRates(toDates(history), { now: new Date(nowMs) });

    const tuesdayNoon = rates.ratesPerHour[hourOfWeek(Date.parse('2026-03-03T12:00:00Z'))]!;
    const sundayThree = rates.ratesPerHour[hourOfWeek(Date.parse('2026-03-08T03:00:00Z'))]!;
    expect(tuesdayNoon).toBeGreaterThan(5);
    expect(tuesdayNoon).toBeLessThan(7);
    expect(sundayThree).toBeGreaterThan(0);
    expect(sundayThree).toBeLessThan(0.3);
  });

  it('damps a single busy hour with its neighbours', () => {
    // One burst of 40 comments on one Wednesday at 14:00 over an otherwise flat 2 per hour.
    const nowMs = HISTORY_START_MS + 8 * WEEK_MS;
    const random = seededRandom(11);
    const flat = generateHistory(random, HISTORY_START_MS, nowMs, () => 2);
    const burstStart = HISTORY_START_MS + 2 * WEEK_MS + 2 * DAY_MS + 14 * HOUR_MS;
    const burst = Array.from({ length: 40 }, (_, i) => burstStart + i * 60_000);

    const rates = learnHourOfWeekRates(toDates([...flat, ...burst]), { now: new Date(nowMs) });
    const burstBucket = hourOfWeek(burstStart);

    // Unsmoothed, the bucket would be (16 + 40) / 8 = 7 per hour.
    expect(rates.ratesPerHour[burstBucket]!).toBeLessThan(5);
    expect(rates.ratesPerHour[burstBucket - 1]!).toBeGreaterThan(2.5);
  });

  it('smooths across the week boundary', () => {
    // Comments only on Mondays at 00:xx: the neighbour on Sunday 23:00 gets a share.
    const nowMs = HISTORY_START_MS + 8 * WEEK_MS;
    const history = Array.from({ length: 8 }, (_, week) =>
      Array.from({ length: 5 }, (_, i) => HISTORY_START_MS + week * WEEK_MS + i * 600_000),
    ).flat();

    const rates = learnHourOfWeekRates(toDates(history), { now: new Date(nowMs) });

    expect(rates.ratesPerHour[167]!).toBeGreaterThan(rates.ratesPerHour[166]! * 10);
    expect(rates.ratesPerHour[1]!).toBeGreaterThan(rates.ratesPerHour[2]! * 10);
    expect(rates.ratesPerHour[167]!).toBeCloseTo(rates.ratesPerHour[1]!, 10);
  });

  it('rejects a non-positive window', () => {
    expect(() => learnHourOfWeekRates([], { now: new Date(), weeks: 0 })).toThrow(RangeError);
  });
});

describe('silenceCheck', () => {
  /** Learns from eight weeks of busy history before `gapStart`, ending with a comment there. */
  function busyRatesBefore(gapStartMs: number, seed: number): HourOfWeekRates {
    const history = generateHistory(
      seededRandom(seed),
      gapStartMs - 8 * WEEK_MS,
      gapStartMs,
      busyBlogRate,
    );
    history.push(gapStartMs);
    return learnHourOfWeekRates(toDates(history), { now: new Date(gapStartMs) });
  }

  it('flags a two-hour gap at Tuesday noon', () => {
    const gapStart = Date.parse('2026-03-03T11:00:00Z');
    const rates = busyRatesBefore(gapStart, 21);

    const result = silenceCheck(rates, {
      lastCommentAt: new Date(gapStart),
      now: new Date(gapStart + 2 * HOUR_MS),
    });

    expect(result.status).toBe('silent');
    expect(result.expected).toBeGreaterThan(10);
    expect(result.probability).toBeLessThan(DEFAULT_THRESHOLD);
    expect(result.threshold).toBe(DEFAULT_THRESHOLD);
    expect(result.silentSinceMs).toBe(2 * HOUR_MS);
  });

  it('accepts a two-hour gap at Sunday 3 am', () => {
    const gapStart = Date.parse('2026-03-08T02:00:00Z');
    const rates = busyRatesBefore(gapStart, 22);

    const result = silenceCheck(rates, {
      lastCommentAt: new Date(gapStart),
      now: new Date(gapStart + 2 * HOUR_MS),
    });

    expect(result.status).toBe('ok');
    expect(result.expected).toBeLessThan(1);
    expect(result.probability).toBeGreaterThan(0.3);
  });

  it('uses the threshold passed in', () => {
    const gapStart = Date.parse('2026-03-03T11:00:00Z');
    const rates = busyRatesBefore(gapStart, 23);
    const options = { lastCommentAt: new Date(gapStart), now: new Date(gapStart + 20 * 60_000) };

    // About 2 comments are expected in 20 minutes, so exp(-2) ≈ 0.14.
    expect(silenceCheck(rates, options).status).toBe('ok');
    expect(silenceCheck(rates, { ...options, threshold: 0.5 }).status).toBe('silent');
    expect(silenceCheck(rates, { ...options, threshold: 0.5 }).threshold).toBe(0.5);
  });

  it('reports insufficient history for an empty history', () => {
    const now = new Date(HISTORY_START_MS + 8 * WEEK_MS);
    const rates = learnHourOfWeekRates([], { now });

    const result = silenceCheck(rates, { lastCommentAt: null, now });

    expect(result.status).toBe('insufficient_history');
    expect(result.expected).toBe(0);
    expect(result.probability).toBe(1);
    expect(result.silentSinceMs).toBeNull();
  });

  it('treats a last comment after now as no gap', () => {
    const gapStart = Date.parse('2026-03-03T11:00:00Z');
    const rates = busyRatesBefore(gapStart, 24);

    const result = silenceCheck(rates, {
      lastCommentAt: new Date(gapStart + HOUR_MS),
      now: new Date(gapStart),
    });

    expect(result.status).toBe('ok');
    expect(result.expected).toBe(0);
    expect(result.silentSinceMs).toBe(0);
  });

  describe('quiet blog with 2 comments a week', () => {
    const quietHistory = (weeks: number, endMs: number, seed: number): number[] => {
      const random = seededRandom(seed);
      const times: number[] = [];
      for (let week = weeks; week > 0; week--) {
        const weekStart = endMs - week * WEEK_MS;
        times.push(weekStart + random() * WEEK_MS, weekStart + random() * WEEK_MS);
      }
      return times.sort((a, b) => a - b);
    };

    it('reports insufficient history below the minimum', () => {
      const nowMs = HISTORY_START_MS + 8 * WEEK_MS;
      const history = quietHistory(8, nowMs, 31);
      const rates = learnHourOfWeekRates(toDates(history), { now: new Date(nowMs) });

      // Even a week without comments gets no verdict from 16 comments.
      const result = silenceCheck(rates, {
        lastCommentAt: new Date(nowMs - WEEK_MS),
        now: new Date(nowMs),
      });

      expect(rates.comments).toBe(16);
      expect(result.status).toBe('insufficient_history');
    });

    it('never flags gaps of up to a day', () => {
      const nowMs = HISTORY_START_MS + 26 * WEEK_MS;
      const history = quietHistory(26, nowMs, 32);
      const rates = learnHourOfWeekRates(toDates(history), { now: new Date(nowMs), weeks: 26 });
      const random = seededRandom(33);

      expect(rates.comments).toBe(52);
      const statuses = new Set<string>();
      for (let i = 0; i < 2000; i++) {
        const checkMs = nowMs + random() * WEEK_MS;
        const gapMs = random() * DAY_MS;
        const result = silenceCheck(rates, {
          lastCommentAt: new Date(checkMs - gapMs),
          now: new Date(checkMs),
        });
        statuses.add(result.status);
      }
      expect([...statuses]).toEqual(['ok']);
    });
  });

  describe('generated Poisson histories', () => {
    // Each history is learned over 8 weeks, then checked at random times in a 9th week drawn
    // from the same process, so every alarm is a false alarm. Under the exact rates the
    // probability of an alarm at a random time equals the threshold. The learned rates carry
    // estimation error, which raised the busy blog's alarm rate to about 1.4 times the threshold
    // over 100,000 checks of this generator, so the bound is 1.5 times the threshold plus 4
    // binomial standard deviations. Checks that fall into the same gap are correlated, so each
    // history gets only a few checks.
    const cases = [
      { name: 'busy blog', scale: 1, firstSeed: 10_000 },
      { name: 'blog ten times quieter', scale: 0.1, firstSeed: 20_000 },
    ];

    for (const { name, scale, firstSeed } of cases) {
      it(`keeps false alarms near the threshold for a ${name}`, () => {
        const histories = 1000;
        const checksPerHistory = 20;
        const rate = (bucket: number) => busyBlogRate(bucket) * scale;
        let alarms = 0;

        for (let seed = firstSeed; seed < firstSeed + histories; seed++) {
          const random = seededRandom(seed);
          const learnedUntil = HISTORY_START_MS + 8 * WEEK_MS;
          const times = generateHistory(random, HISTORY_START_MS, learnedUntil + WEEK_MS, rate);
          const learned = times.filter((time) => time <= learnedUntil);
          const rates = learnHourOfWeekRates(toDates(learned), { now: new Date(learnedUntil) });

          for (let i = 0; i < checksPerHistory; i++) {
            const checkMs = learnedUntil + random() * WEEK_MS;
            const last = lastAtOrBefore(times, checkMs);
            const result = silenceCheck(rates, {
              lastCommentAt: last === null ? null : new Date(last),
              now: new Date(checkMs),
            });
            if (result.status === 'silent') alarms += 1;
          }
        }

        const checks = histories * checksPerHistory;
        const allowedMean = 1.5 * checks * DEFAULT_THRESHOLD;
        expect(alarms).toBeLessThanOrEqual(allowedMean + 4 * Math.sqrt(allowedMean));
      });
    }

    // Outage starts: a busy weekday morning, a weekday evening before the night, and a weekend
    // night before a quiet Sunday.
    const outages = [
      { name: 'Wednesday 10:00', startIso: '2026-03-04T10:00:00Z', seed: 41 },
      { name: 'Thursday 20:00', startIso: '2026-03-05T20:00:00Z', seed: 42 },
      { name: 'Saturday 23:00', startIso: '2026-03-07T23:00:00Z', seed: 43 },
    ];

    for (const { name, startIso, seed } of outages) {
      it(`flags an outage starting ${name} in the expected time`, () => {
        const outageStart = Date.parse(startIso);
        const outageHours = 36;
        const random = seededRandom(seed);
        const history = generateHistory(
          random,
          outageStart - 8 * WEEK_MS,
          outageStart,
          busyBlogRate,
        );
        const rates = learnHourOfWeekRates(toDates(history), { now: new Date(outageStart) });
        const lastComment = history.at(-1)!;

        // The time by which the true expected count reaches 1.25 × ln(1 / threshold): an alarm
        // must come by then, allowing 25% for the error of the learned rates.
        const trueRates = Array.from({ length: HOURS_PER_WEEK }, (_, b) => busyBlogRate(b));
        const target = 1.25 * Math.log(1 / DEFAULT_THRESHOLD);
        let deadline = outageStart;
        while (expectedComments(trueRates, lastComment, deadline) < target) {
          deadline += 5 * 60_000;
        }

        let detectedAt: number | null = null;
        for (let at = outageStart; at <= outageStart + outageHours * HOUR_MS; at += 5 * 60_000) {
          const result = silenceCheck(rates, {
            lastCommentAt: new Date(lastComment),
            now: new Date(at),
          });
          if (result.status === 'silent') {
            detectedAt = at;
            break;
          }
        }

        expect(deadline).toBeLessThan(outageStart + outageHours * HOUR_MS);
        expect(detectedAt).not.toBeNull();
        expect(detectedAt!).toBeLessThanOrEqual(deadline);
      });
    }
  });
});
