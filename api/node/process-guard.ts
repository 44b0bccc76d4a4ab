// A Node process that serves the API ends on an unhandled promise rejection or an uncaught
// exception rather than running on in an unknown state. The handler logs the error with the
// process's context and exits non-zero, so that its supervisor (systemd, a container runtime, or
// a person running npm start) restarts it. The outbox makes the restart safe, because every
// comment acknowledged as received is already on disk.
import type { Logger } from '../platform/logger.ts';

/** Exit code after an unhandled rejection or uncaught exception (EX_SOFTWARE in sysexits.h). */
export const CRASH_EXIT_CODE = 70;

export interface ProcessGuardOptions {
  logger: Logger;
  /** Runs before the process exits, such as flushing a log file; bounded by `flushTimeoutMs`. */
  beforeExit?: () => Promise<void>;
  /** Maximum wait for `beforeExit`, in milliseconds; 2 seconds when absent. */
  flushTimeoutMs?: number;
}

function describe(reason: unknown): { error: string; stack: string | null; kind: string } {
  if (reason instanceof Error) {
    const frames = reason.stack?.split('\n').slice(1, 6).join(' | ').trim() ?? null;
    return { error: reason.message, stack: frames, kind: reason.name };
  }
  return { error: String(reason), stack: null, kind: typeof reason };
}

/** Installs the handlers on `process`; returns a function that removes them. */
export function installProcessGuard(options: ProcessGuardOptions): () => void {
  let exiting = false;

  function fail(event: string, reason: unknown): void {
    if (exiting) return;
    exiting = true;
    options.logger.error(`${event}; exiting so that the supervisor restarts the process`, {
      event,
      pid: process.pid,
      uptimeSeconds: Math.round(process.uptime()),
      ...describe(reason),
    });
    const flush = options.beforeExit?.() ?? Promise.resolve();
    const timeout = new Promise((resolve) => setTimeout(resolve, options.flushTimeoutMs ?? 2_000));
    void Promise.race([flush.catch(() => undefined), timeout]).then(() => {
      process.exit(CRASH_EXIT_CODE);
    });
  }

  const onRejection = (reason: unknown) => fail('unhandled promise rejection', reason);
  const onException = (error: Error) => fail('uncaught exception', error);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
