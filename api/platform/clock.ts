/** The source of the current time; tests pass a clock they can move by hand. */
export interface Clock {
  now(): Date;
  /**
   * Runs `callback` once `ms` milliseconds of this clock's time have passed, and returns a
   * function that cancels it. Clocks without it use the system timer (see `setClockTimer`).
   */
  setTimer?(callback: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => new Date(),
};

/** Runs `callback` after `ms` milliseconds of `clock`'s time; returns a function that cancels it. */
export function setClockTimer(clock: Clock, callback: () => void, ms: number): () => void {
  if (clock.setTimer !== undefined) return clock.setTimer(callback, ms);
  const handle = setTimeout(callback, ms);
  return () => clearTimeout(handle);
}

/** Waits `ms` milliseconds of `clock`'s time, or less when `signal` aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const finish = () => {
      cancel();
      signal?.removeEventListener('abort', finish);
      resolve();
    };
    const cancel = setClockTimer(clock, finish, ms);
    signal?.addEventListener('abort', finish, { once: true });
  });
}

/**
 * Creates a clock that runs `factor` times faster than real time, from `start` onwards, with timers that
 * fire after 1/factor of their delay. Tests of schedules measured in minutes (the canary, backoff,
 * alert retries) use it to run the real processes in seconds.
 */
export function acceleratedClock(factor: number, start: Date = new Date()): Clock {
  if (!(factor >= 1)) throw new RangeError(`factor is ${factor}; use a number of 1 or more`);
  const realStart = performance.now();
  return {
    now: () => new Date(start.getTime() + (performance.now() - realStart) * factor),
    setTimer(callback, ms) {
      const handle = setTimeout(callback, Math.max(0, ms) / factor);
      return () => clearTimeout(handle);
    },
  };
}
