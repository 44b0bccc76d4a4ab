// Runs reconciliation on Node: once at start, then `intervalMs` after each run ends, so two runs
// never overlap. On Workers a cron trigger calls reconcile() instead.
import { errorMessage, type Logger } from '../platform/logger.ts';

/** How often reconciliation runs when no interval is given: every 10 minutes. */
export const DEFAULT_RECONCILE_INTERVAL_MS = 10 * 60 * 1000;

export interface ReconcileSchedulerOptions {
  /** One reconciliation, such as `() => reconcile(options)`. */
  run: () => Promise<unknown>;
  logger: Logger;
  intervalMs?: number;
}

export interface ReconcileScheduler {
  /** Runs reconciliation now unless a run is in flight, and resolves when it has finished. */
  runNow(): Promise<void>;
  /** Stops the timer and waits for a run in flight. */
  stop(): Promise<void>;
}

export function startReconcileScheduler(options: ReconcileSchedulerOptions): ReconcileScheduler {
  const intervalMs = options.intervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new RangeError(
      `intervalMs is ${intervalMs}; set it to a positive number of milliseconds.`,
    );
  }
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> | null = null;
  let stopped = false;

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => void runNow(), intervalMs);
    // The API server keeps the process alive; this timer alone should not.
    timer.unref();
  }

  function runNow(): Promise<void> {
    if (current !== null) return current;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    current = options
      .run()
      .then(
        () => undefined,
        (error: unknown) => {
          options.logger.error('reconcile failed; it runs again at the next interval', {
            error: errorMessage(error),
            retryInMs: intervalMs,
          });
        },
      )
      .finally(() => {
        current = null;
        schedule();
      });
    return current;
  }

  void runNow();
  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await current;
    },
  };
}
