// Incidents the monitor must get right: a status that flaps, an alert webhook that is down for a
// while, an outbox that cannot be read, and canaries that pile up during a long outage. The
// monitor runs over the real app and SQLite outbox, with the memory forge and a clock moved by
// hand; the alert webhook is a real HTTP server on 127.0.0.1.
import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForgeError } from '../../api/forge/types.ts';
import {
  createAlertSender,
  type AlertEvent,
  type AlertSender,
  type AlertSenderStatus,
} from '../../api/monitor/alerts.ts';
import { DEFAULT_THRESHOLDS } from '../../api/monitor/checks.ts';
import { createMonitor, type Monitor, type MonitorOptions } from '../../api/monitor/monitor.ts';
import type { CommentStore } from '../../api/outbox/types.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  CONFIG,
  POSTS,
  createHarness,
  submitComment,
  VALID_COMMENT,
  type Harness,
} from '../api/harness.ts';

const MINUTE = 60_000;
const NO_CANARY = { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS };

let harness: Harness;
let sent: AlertEvent[];

function recordingSender(): AlertSender {
  const status: AlertSenderStatus = {
    pending: 0,
    failedAttempts: 0,
    lastError: null,
    lastDeliveredAt: null,
    undeliverable: 0,
  };
  return {
    send: (event) => {
      sent.push(event);
    },
    status: () => status,
    flush: async () => undefined,
    stop: async () => undefined,
  };
}

function monitorWith(overrides: Partial<MonitorOptions> = {}): Monitor {
  return createMonitor({
    store: harness.store,
    forge: harness.forge,
    clock: harness.clock,
    logger: createJsonLogger(
      () => undefined,
      () => harness.clock.now(),
    ),
    posts: POSTS,
    config: CONFIG,
    settings: NO_CANARY,
    submit: async (request) => harness.app.fetch(request),
    wakeWorker: () => undefined,
    retryDeadLetter: (id) => harness.worker.retryDeadLetter(id),
    alerts: recordingSender(),
    recoveryProbeMs: MINUTE,
    ...overrides,
  });
}

function forgeError(status: number): ForgeError {
  return new ForgeError(`GitHub create branch failed with HTTP ${status}: Bad credentials.`, {
    operation: 'create branch',
    status,
    requestId: null,
    retryable: false,
    retryAfterMs: null,
  });
}

beforeEach(async () => {
  harness = await createHarness();
  sent = [];
});

afterEach(async () => {
  await harness.close();
});

describe('alerts on a flapping status', () => {
  it('fire once while the outbox depth flaps', async () => {
    const monitor = monitorWith({
      settings: { ...NO_CANARY, thresholds: { ...DEFAULT_THRESHOLDS, maxOutboxDepth: 1 } },
    });
    await submitComment(harness, { ...VALID_COMMENT, text: 'Comment 0.' });
    // A burst at the threshold: every tick one comment arrives or one is delivered, so the
    // depth moves between 2 (degraded) and 1 (ok) for 20 ticks of 15 s.
    for (let index = 1; index <= 20; index += 1) {
      if (index % 2 === 1) await submitComment(harness, { ...VALID_COMMENT, text: `C ${index}.` });
      else await harness.worker.runOnce();
      await monitor.tick();
      harness.clock.advance(15_000);
    }
    expect(sent.map((event) => event.state)).toEqual(['firing']);
  });

  it('resolve once the status has stayed ok', async () => {
    const monitor = monitorWith({
      settings: { ...NO_CANARY, thresholds: { ...DEFAULT_THRESHOLDS, maxOutboxDepth: 1 } },
    });
    await submitComment(harness, { ...VALID_COMMENT, text: 'One.' });
    await submitComment(harness, { ...VALID_COMMENT, text: 'Two.' });
    await monitor.tick();
    await harness.worker.drain();
    for (let index = 0; index < 40; index += 1) {
      harness.clock.advance(15_000);
      await monitor.tick();
    }
    expect(sent.map((event) => event.state)).toEqual(['firing', 'resolved']);
  });
});
