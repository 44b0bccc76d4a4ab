// Deletes stored email addresses once they are older than the retention limit: once when the API
// starts, then at a fixed interval. The clock and the timer are injected, so a test moves time by
// hand.
import type { CommentStore } from '../outbox/types.ts';
import type { Clock } from '../platform/clock.ts';
import { errorMessage, type Logger } from '../platform/logger.ts';
import { DEFAULT_EMAIL_RETENTION_DAYS } from './settings.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often the purge runs when no interval is given: hourly. */
export const DEFAULT_PURGE_INTERVAL_MS = 60 * 60 * 1000;

/** Starts a repeating timer and returns the function that stops it. */
export type IntervalTimer = (run: () => void, intervalMs: number) => () => void;

/** Runs a Node interval that does not keep the process alive on its own. */
export const nodeIntervalTimer: IntervalTimer = (run, intervalMs) => {
  const handle = setInterval(run, intervalMs);
  handle.unref();
  return () => clearInterval(handle);
};

/** Returns the instant before which a stored address has expired. */
export function retentionCutoff(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - retentionDays * DAY_MS);
}

export interface AddressPurgeOptions {
  store: Pick<CommentStore, 'purgeAddresses'>;
  clock: Clock;
  logger: Logger;
  /** Days an address is kept; DEFAULT_EMAIL_RETENTION_DAYS when absent. */
  retentionDays?: number;
  intervalMs?: number;
  timer?: IntervalTimer;
}

export interface AddressPurge {
  /** Deletes the expired addresses now; returns how many were deleted. */
  runOnce(): Promise<number>;
  /** Stops the timer; a purge in flight still finishes. */
  stop(): void;
}

/** Purges expired addresses now and then every `intervalMs`, logging counts and failures. */
export function startAddressPurge(options: AddressPurgeOptions): AddressPurge {
  const { store, clock, logger } = options;
  const retentionDays = options.retentionDays ?? DEFAULT_EMAIL_RETENTION_DAYS;

  async function runOnce(): Promise<number> {
    const deleted = await store.purgeAddresses(retentionCutoff(clock.now(), retentionDays));
    if (deleted > 0) logger.info('expired email addresses deleted', { deleted, retentionDays });
    return deleted;
  }

  function runLogged(): void {
    runOnce().catch((error: unknown) => {
      logger.error('deleting expired email addresses failed', { error: errorMessage(error) });
    });
  }

  runLogged();
  const timer = options.timer ?? nodeIntervalTimer;
  const stop = timer(runLogged, options.intervalMs ?? DEFAULT_PURGE_INTERVAL_MS);
  return { runOnce, stop };
}
