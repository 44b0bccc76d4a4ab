// The monitor over the real app and SQLite outbox, with the memory forge and a clock moved by
// hand, so each step of the canary, the recovery and the alerting can be checked in turn.
import { createServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForgeError } from '../../api/forge/types.ts';
import type { AlertEvent } from '../../api/monitor/alerts.ts';
import { CANARY_HEADER } from '../../api/monitor/canary.ts';
import { DEFAULT_THRESHOLDS } from '../../api/monitor/checks.ts';
import type { Monitor, MonitorOptions } from '../../api/monitor/monitor.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  CONFIG,
  PUBLIC_ORIGIN,
  POSTS,
  createHarness,
  submitComment,
  VALID_COMMENT,
  type Harness,
} from '../api/harness.ts';
import { createDeliveryWorker } from '../../api/delivery/worker.ts';
import { MINUTE, forgeError, harnessMonitor } from './support.ts';

let harness: Harness;
let sent: AlertEvent[];
let monitorLogs: Array<Record<string, unknown>>;

function monitorWith(overrides: Partial<MonitorOptions> = {}): Monitor {
  return harnessMonitor(
    harness,
    sent,
    { settings: { canaryIntervalMinutes: 5, thresholds: DEFAULT_THRESHOLDS }, ...overrides },
    (entry) => monitorLogs.push(entry),
  );
}

/** Makes the next `count` proposals fail with `status`. */
function failProposals(status: number, count: number): void {
  harness.forge.failNext(
    'proposeComment',
    ...Array.from({ length: count }, () => forgeError(status)),
  );
}

function proposeCalls(): number {
  return harness.forge.calls.filter((call) => call.method === 'proposeComment').length;
}

beforeEach(async () => {
  harness = await createHarness();
  sent = [];
  monitorLogs = [];
});

afterEach(async () => {
  await harness.close();
});

describe('canary', () => {
  it('sends a comment through the public route', async () => {
    const monitor = monitorWith();
    await monitor.tick();
    const [call] = harness.forge.calls.filter((item) => item.method === 'proposeComment');
    expect(call).toBeUndefined();
    await harness.worker.drain();
    const [pull] = harness.forge.pulls;
    expect(pull?.proposal.labels).toEqual(['canary']);
    expect(pull?.proposal.alwaysLabel).toBe(true);
    expect(pull?.title).toMatch(/^canary: /);
    expect(pull?.proposal.content).toContain('author: "Marginalia canary"');
  });

  it('passes and closes its pull request unmerged', async () => {
    const monitor = monitorWith();
    await monitor.tick();
    await harness.worker.drain();
    const report = await monitor.tick();
    expect(report.checks.canary.status).toBe('ok');
    const [pull] = harness.forge.pulls;
    expect(pull?.state).toBe('closed');
    expect(harness.forge.deletedBranches).toEqual([pull?.branch]);
    const comment = await harness.store.get(pull?.commentId ?? '');
    expect(comment?.status).toBe('declined');
  });

  it('fails when no pull request appears within the period', async () => {
    const monitor = monitorWith();
    await monitor.tick();
    harness.clock.advance(5 * MINUTE + 1);
    const report = await monitor.tick();
    expect(report.checks.canary.status).toBe('down');
    expect(report.checks.canary.detail).toMatch(/no pull request within 300 s/);
  });

  it('fails at once when its comment becomes a dead letter', async () => {
    const monitor = monitorWith();
    await monitor.tick();
    failProposals(401, 2);
    await harness.worker.runOnce();
    const report = await monitor.tick();
    expect(report.checks.canary.status).toBe('down');
    expect(report.checks.canary.detail).toMatch(/Bad credentials/);
  });

  it('closes a failed canary once it is delivered', async () => {
    const monitor = monitorWith();
    await monitor.tick();
    harness.clock.advance(5 * MINUTE + 1);
    await monitor.tick();
    await harness.worker.drain();
    await monitor.tick();
    expect(harness.forge.pulls.map((pull) => pull.state)).toContain('closed');
  });

  it('is left out of the staff review list', async () => {
    const monitor = monitorWith();
    await monitor.tick();
    const reader = await submitComment(harness);
    await harness.worker.drain();
    expect(harness.forge.pulls).toHaveLength(2);
    const response = await harness.app.request('/api/staff/comments', {
      headers: { authorization: `Bearer ${CONFIG.staffToken}` },
    });
    const { comments } = (await response.json()) as { comments: Array<{ receipt: string }> };
    expect(comments.map((item) => item.receipt)).toEqual([reader]);
  });

  it('cannot be approved by staff', async () => {
    const monitor = monitorWith();
    await monitor.tick();
    await harness.worker.drain();
    const canary = harness.forge.pulls[0]?.commentId ?? '';
    const response = await harness.app.request(`/api/staff/comments/${canary}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CONFIG.staffToken}` },
    });
    expect(response.status).toBe(409);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toBe('canary_comment');
    expect(harness.forge.pulls[0]?.state).toBe('open');
  });

  it('is exempt from rate limits but not from validation', async () => {
    const limited = await createHarness({
      config: { ...CONFIG, rateLimits: { addressPerMinute: 1, addressPerHour: 1, postPerHour: 1 } },
    });
    try {
      const request = (text: string) =>
        limited.app.request('/api/comments', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            origin: PUBLIC_ORIGIN,
            [CANARY_HEADER]: CONFIG.staffToken,
          },
          body: JSON.stringify({ post: 'hello-world', author: 'Marginalia canary', text }),
        });
      expect((await request('One.')).status).toBe(202);
      expect((await request('Two.')).status).toBe(202);
      expect((await request('   ')).status).toBe(422);
      const stored = await limited.store.acceptedSince(new Date(0));
      expect(stored).toEqual([]);
    } finally {
      await limited.close();
    }
  });

  it('rejects a wrong canary token', async () => {
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: PUBLIC_ORIGIN,
        [CANARY_HEADER]: 'not-the-staff-token',
      },
      body: JSON.stringify({ post: 'hello-world', author: 'Someone', text: 'Hi.' }),
    });
    expect(response.status).toBe(401);
    expect(await harness.store.acceptedSince(new Date(0))).toEqual([]);
  });

  it('pings the dead-man switch after each pass only', async () => {
    const pings: string[] = [];
    const server = createServer((request, response) => {
      pings.push(request.url ?? '');
      response.writeHead(200).end('OK');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const monitor = monitorWith({
        settings: {
          canaryIntervalMinutes: 5,
          deadmanUrl: `http://127.0.0.1:${port}/ping/abc`,
          thresholds: DEFAULT_THRESHOLDS,
        },
      });
      await monitor.tick();
      expect(pings).toEqual([]);
      await harness.worker.drain();
      await monitor.tick();
      expect(pings).toEqual(['/ping/abc']);
      harness.clock.advance(5 * MINUTE);
      failProposals(503, 1);
      await monitor.tick();
      await harness.worker.runOnce();
      harness.clock.advance(5 * MINUTE + 1);
      await monitor.tick();
      expect(pings).toEqual(['/ping/abc']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('is off at an interval of zero', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
    });
    const report = await monitor.tick();
    expect(report.checks.canary.value).toBe('off');
    expect(await harness.store.nextAttemptAt()).toBeNull();
  });
});

describe('alerts', () => {
  it('fire once per change of the overall status', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
    });
    await monitor.tick();
    expect(sent).toEqual([]);
    failProposals(401, 10);
    await submitComment(harness);
    await harness.worker.runOnce();
    await monitor.tick();
    await monitor.tick();
    await submitComment(harness, { ...VALID_COMMENT, text: 'A second comment.' });
    await harness.worker.runOnce();
    await monitor.tick();
    expect(sent.map((event) => event.state)).toEqual(['firing']);
    expect(sent[0]?.check).toBe('deadLetters');
    expect(sent[0]?.summary).toMatch(/^Comment pipeline is down\./);
  });

  it('resolve once when every check is ok again', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
      recoveryProbeMs: MINUTE,
    });
    failProposals(401, 2);
    await submitComment(harness);
    await harness.worker.runOnce();
    await monitor.tick();
    harness.clock.advance(MINUTE);
    await monitor.tick();
    // The improvement is alerted once the status has stayed ok for 5 minutes.
    harness.clock.advance(5 * MINUTE);
    await monitor.tick();
    await monitor.tick();
    expect(sent.map((event) => event.state)).toEqual(['firing', 'resolved']);
    expect(sent[1]?.check).toBe('deadLetters');
  });

  it('remember the alerted status across a restart', async () => {
    failProposals(401, 3);
    await submitComment(harness);
    await harness.worker.runOnce();
    const settings = { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS };
    await monitorWith({ settings }).tick();
    await monitorWith({ settings }).tick();
    expect(sent.map((event) => event.state)).toEqual(['firing']);
  });

  it('log each check that changes state', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
    });
    await submitComment(harness);
    harness.clock.advance(301_000);
    await monitor.tick();
    const changes = monitorLogs.filter((line) => line['message'] === 'health check failing');
    expect(changes.map((line) => line['check'])).toEqual(['outboxAge', 'lastDelivery']);
    expect(changes[0]).toMatchObject({ from: 'ok', to: 'down', value: 301, threshold: 300 });
  });
});

describe('dead letter recovery', () => {
  it('retries one recoverable dead letter per probe interval', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
      recoveryProbeMs: MINUTE,
    });
    failProposals(401, 10);
    const first = await submitComment(harness, { ...VALID_COMMENT, text: 'First.' });
    const second = await submitComment(harness, { ...VALID_COMMENT, text: 'Second.' });
    await harness.worker.drain();
    const afterDelivery = proposeCalls();
    await monitor.tick();
    expect(proposeCalls()).toBe(afterDelivery + 1);
    expect(harness.forge.calls.at(-1)?.argument).toBe(first);
    await monitor.tick();
    expect(proposeCalls()).toBe(afterDelivery + 1);
    harness.clock.advance(MINUTE);
    await monitor.tick();
    expect(proposeCalls()).toBe(afterDelivery + 2);
    expect((await harness.store.get(first))?.status).toBe('dead');
    expect((await harness.store.get(second))?.status).toBe('dead');
    const report = await monitor.report();
    expect(report.checks.deadLetters).toMatchObject({ status: 'down', value: 2 });
  });

  it('requeues every recoverable dead letter after a delivery succeeds', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
      recoveryProbeMs: MINUTE,
    });
    const receipts = [
      await submitComment(harness, { ...VALID_COMMENT, text: 'First.' }),
      await submitComment(harness, { ...VALID_COMMENT, text: 'Second.' }),
      await submitComment(harness, { ...VALID_COMMENT, text: 'Third.' }),
    ];
    harness.forge.failNext('proposeComment', forgeError(401), forgeError(403), forgeError(401));
    await harness.worker.drain();
    await monitor.tick();
    await harness.worker.drain();
    const statuses = await Promise.all(
      receipts.map(async (id) => (await harness.store.get(id))?.status),
    );
    expect(statuses).toEqual(['proposed', 'proposed', 'proposed']);
  });

  it('leaves dead letters of exhausted attempts to a person', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
      recoveryProbeMs: MINUTE,
    });
    const receipt = await submitComment(harness);
    const worker = createDeliveryWorker({
      store: harness.store,
      forge: harness.forge,
      posts: POSTS,
      clock: harness.clock,
      logger: createJsonLogger(
        () => undefined,
        () => harness.clock.now(),
      ),
      maxAttempts: 1,
    });
    harness.forge.failNext(
      'proposeComment',
      new ForgeError('GitHub open pull request failed with HTTP 503.', {
        operation: 'open pull request',
        status: 503,
        requestId: null,
        retryable: true,
        retryAfterMs: null,
      }),
    );
    await worker.runOnce();
    await submitComment(harness, { ...VALID_COMMENT, text: 'Delivered fine.' });
    await harness.worker.drain();
    await monitor.tick();
    harness.clock.advance(MINUTE);
    await monitor.tick();
    expect((await harness.store.get(receipt))?.status).toBe('dead');
  });
});

describe('rebuild check', () => {
  it('turns degraded when a site lags past the threshold', async () => {
    let reads = 0;
    let deployed = 'a'.repeat(40);
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
      deployments: {
        baseHead: async () => {
          reads += 1;
          return 'b'.repeat(40);
        },
        deployments: async () => [{ site: 'public', commit: deployed, at: null, error: null }],
      },
    });
    expect((await monitor.tick()).checks.rebuilds.status).toBe('ok');
    await monitor.tick();
    expect(reads).toBe(1);
    harness.clock.advance(16 * MINUTE);
    const lagging = await monitor.tick();
    expect(reads).toBe(2);
    expect(lagging.checks.rebuilds).toMatchObject({ status: 'degraded', value: 16, threshold: 15 });
    deployed = 'b'.repeat(40);
    harness.clock.advance(MINUTE);
    expect((await monitor.tick()).checks.rebuilds.status).toBe('ok');
  });

  it('reports a failed build', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS },
      deployments: {
        baseHead: async () => 'c'.repeat(40),
        deployments: async () => [
          { site: 'internal', commit: 'c'.repeat(40), at: null, error: 'astro build exited 1' },
        ],
      },
    });
    const report = await monitor.tick();
    expect(report.checks.rebuilds.status).toBe('degraded');
    expect(report.checks.rebuilds.detail).toContain('astro build exited 1');
  });
});

describe('delayed status for readers', () => {
  it('shows a comment past the outbox threshold as delayed', async () => {
    const receipt = await submitComment(harness);
    const before = await harness.app.request(`/api/comments/${receipt}`);
    expect(((await before.json()) as { delayed: boolean }).delayed).toBe(false);
    harness.clock.advance(301_000);
    const after = await harness.app.request(`/api/comments/${receipt}`);
    const json = (await after.json()) as { status: string; delayed: boolean; message: string };
    expect(json.status).toBe('received');
    expect(json.delayed).toBe(true);
    expect(json.message).toMatch(/stored safely/);
  });

  it('shows the delay on the reader page', async () => {
    const receipt = await submitComment(harness);
    harness.clock.advance(301_000);
    const page = await harness.app.request(`/api/comments/${receipt}`, {
      headers: { accept: 'text/html' },
    });
    expect(await page.text()).toContain('Received, delivery delayed');
  });
});
