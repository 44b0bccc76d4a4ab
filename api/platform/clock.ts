/** The source of the current time; tests pass a clock they can move by hand. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = {
  now: () => new Date(),
};
