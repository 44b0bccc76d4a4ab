// The monitor built over an API test harness (test/api/harness.ts): the real app and SQLite
// outbox, the memory forge and a clock moved by hand, with alerts recorded instead of sent.
import { ForgeError } from '../../api/forge/types.ts';
import type { AlertEvent, AlertSender, AlertSenderStatus } from '../../api/monitor/alerts.ts';
import { createMonitor, type Monitor, type MonitorOptions } from '../../api/monitor/monitor.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { CONFIG, POSTS, type Harness } from '../api/harness.ts';

export const MINUTE = 60_000;

/** Creates an alert sender that appends each alert to `sent` and reports it delivered. */
export function recordingSender(sent: AlertEvent[]): AlertSender {
  const status: AlertSenderStatus = {
    pending: 0,
    failedAttempts: 0,
    lastError: null,
    lastDeliveredAt: null,
    undeliverable: 0,
  };
  return {
    send: async (event) => {
      sent.push(event);
      return true;
    },
    status: () => status,
    flush: async () => undefined,
    stop: async () => undefined,
  };
}

/**
 * Creates a monitor over `harness` whose alerts go to `sent` and whose log lines go to `log`;
 * `overrides` replace any option.
 */
export function harnessMonitor(
  harness: Harness,
  sent: AlertEvent[],
  overrides: Partial<MonitorOptions> = {},
  log: (entry: Record<string, unknown>) => void = () => undefined,
): Monitor {
  return createMonitor({
    store: harness.store,
    forge: harness.forge,
    clock: harness.clock,
    logger: createJsonLogger(
      (line) => log(JSON.parse(line) as Record<string, unknown>),
      () => harness.clock.now(),
    ),
    posts: POSTS,
    config: CONFIG,
    submit: async (request) => harness.app.fetch(request),
    wakeWorker: () => undefined,
    retryDeadLetter: (id) => harness.worker.retryDeadLetter(id),
    alerts: recordingSender(sent),
    ...overrides,
  });
}

/** Creates the error the GitHub client raises when the forge rejects a write with `status`. */
export function forgeError(status: number): ForgeError {
  return new ForgeError(`GitHub create branch failed with HTTP ${status}: Bad credentials.`, {
    operation: 'create branch',
    status,
    requestId: null,
    retryable: false,
    retryAfterMs: null,
  });
}
