// Incidents the monitor must get right: a status that flaps, an alert webhook that is down for a
// while, an outbox that cannot be read, and canaries that pile up during a long outage. The
// monitor runs over the real app and SQLite outbox, with the memory forge and a clock moved by
// hand. The alert webhook is a real HTTP server on 127.0.0.1.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubForge, createOctokit } from '../../api/forge/github.ts';
import type { FaultDecision, FaultHook } from '../../api/forge/local/faults.ts';
import { startLocalForge, type LocalForge } from '../../api/forge/local/index.ts';
import { createDeliveryWorker } from '../../api/delivery/worker.ts';
import { ForgeError, type ForgeClient } from '../../api/forge/types.ts';
import { createAlertSender, type AlertEvent } from '../../api/monitor/alerts.ts';
import { CANARY_HEADER } from '../../api/monitor/canary.ts';
import { DEFAULT_THRESHOLDS } from '../../api/monitor/checks.ts';
import type { Monitor, MonitorOptions } from '../../api/monitor/monitor.ts';
import { MINUTE, forgeError, harnessMonitor } from './support.ts';
import { monitorSettingsFrom } from '../../api/monitor/settings.ts';
import type { CommentStore } from '../../api/outbox/types.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  CONFIG,
  INTERNAL_ORIGIN,
  PUBLIC_ORIGIN,
  POSTS,
  createHarness,
  submitComment,
  VALID_COMMENT,
  type Harness,
} from '../api/harness.ts';

const NO_CANARY = { canaryIntervalMinutes: 0, thresholds: DEFAULT_THRESHOLDS };

let harness: Harness;
let sent: AlertEvent[];

function monitorWith(overrides: Partial<MonitorOptions> = {}): Monitor {
  return harnessMonitor(harness, sent, {
    settings: NO_CANARY,
    recoveryProbeMs: MINUTE,
    ...overrides,
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
  it('stay few while the worker stalls repeatedly', async () => {
    const monitor = monitorWith({
      settings: { canaryIntervalMinutes: 5, thresholds: DEFAULT_THRESHOLDS },
    });
    // Two hours of ticks. The worker delivers during the first 5 minutes of every 15, so the
    // outbox age and the canary fail for about 5 minutes each quarter hour.
    for (let tick = 0; tick < 480; tick += 1) {
      if (tick % 60 < 20) await harness.worker.drain();
      await monitor.tick();
      harness.clock.advance(15_000);
    }
    expect(sent.map((event) => event.state)).toEqual(['firing', 'resolved', 'firing']);
  });

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

describe('alerts after the webhook was down', () => {
  let webhook: Server;
  let webhookUrl: string;
  let webhookUp: boolean;
  let received: string[];

  beforeEach(async () => {
    webhookUp = false;
    received = [];
    webhook = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (!webhookUp) {
          response.writeHead(503).end();
          return;
        }
        received.push((JSON.parse(Buffer.concat(chunks).toString()) as { text: string }).text);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const address = webhook.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    webhookUrl = `http://127.0.0.1:${address.port}`;
  });

  afterEach(async () => {
    await new Promise((resolve) => webhook.close(resolve));
  });

  it('are sent after a restart while still queued', async () => {
    const senderFor = (sleep?: (ms: number) => Promise<void>) =>
      createAlertSender({
        url: webhookUrl,
        clock: harness.clock,
        logger: createJsonLogger(
          () => undefined,
          () => harness.clock.now(),
        ),
        ...(sleep === undefined ? {} : { sleep }),
      });
    // The forge fails, and the firing alert waits for the webhook when the process stops.
    harness.forge.failNext('proposeComment', ...Array.from({ length: 3 }, () => forgeError(401)));
    await submitComment(harness);
    await harness.worker.runOnce();
    // The default sleep waits 5 s of real time before the second attempt, and stop ends it.
    const before = senderFor();
    await monitorWith({ alerts: before }).tick();
    await before.stop();
    expect(before.status().pending).toBe(1);

    // After the restart the webhook works; the incident is still on and was never alerted.
    webhookUp = true;
    const after = senderFor(async () => undefined);
    await monitorWith({ alerts: after }).tick();
    await after.flush();
    await after.stop();
    expect(received).toHaveLength(1);
    expect(received[0]).toMatch(/^\[FIRING\] deadLetters/);
  });

  it('resolve when the webhook returns after the forge', async () => {
    const alerts = createAlertSender({
      url: webhookUrl,
      clock: harness.clock,
      logger: createJsonLogger(
        () => undefined,
        () => harness.clock.now(),
      ),
      maxAttempts: 2,
      sleep: async () => undefined,
    });
    const monitor = monitorWith({ alerts });
    harness.forge.failNext('proposeComment', forgeError(401), forgeError(401));
    await submitComment(harness);
    await harness.worker.runOnce();
    expect((await monitor.tick()).status).toBe('down');
    await alerts.flush();

    // The forge recovers while the webhook is still down, for an hour of ticks.
    for (let index = 0; index < 240; index += 1) {
      harness.clock.advance(15_000);
      await monitor.tick();
      await harness.worker.drain();
      await alerts.flush();
    }
    expect(await harness.store.countDeadLetters()).toBe(0);

    // The webhook returns. Within another hour the pipeline must be ok and alert it.
    webhookUp = true;
    let status = 'degraded';
    const resolved = () => received.at(-1)?.startsWith('[RESOLVED]') === true;
    for (let index = 0; index < 240 && !resolved(); index += 1) {
      harness.clock.advance(15_000);
      status = (await monitor.tick()).status;
      await alerts.flush();
    }
    await alerts.stop();
    expect(status).toBe('ok');
    expect(received.at(-1)).toMatch(/^\[RESOLVED\]/);
  });

  it('resolve once the webhook and forge are back', async () => {
    const alerts = createAlertSender({
      url: webhookUrl,
      clock: harness.clock,
      logger: createJsonLogger(
        () => undefined,
        () => harness.clock.now(),
      ),
      maxAttempts: 2,
      sleep: async () => undefined,
    });
    const monitor = monitorWith({ alerts });
    // The forge rejects the comment and the webhook is down: the firing alert is given up.
    harness.forge.failNext('proposeComment', forgeError(401), forgeError(401));
    await submitComment(harness);
    await harness.worker.runOnce();
    expect((await monitor.tick()).status).toBe('down');
    await alerts.flush();
    expect(alerts.status().undeliverable).toBe(1);

    // Both come back. Within an hour of ticks the pipeline must be ok and alert it.
    webhookUp = true;
    let status = 'down';
    for (
      let index = 0;
      index < 240 && received.at(-1)?.startsWith('[RESOLVED]') !== true;
      index += 1
    ) {
      harness.clock.advance(15_000);
      status = (await monitor.tick()).status;
      await harness.worker.drain();
      await alerts.flush();
    }
    await alerts.stop();
    expect(status).toBe('ok');
    expect(received.at(-1)).toMatch(/^\[RESOLVED\]/);
  });
});

describe('health with an unreadable outbox', () => {
  /** Returns the harness store, whose every method but close throws while `broken.now` is set. */
  function breakableStore(broken: { now: boolean }): CommentStore {
    return new Proxy(harness.store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || property === 'close') return value;
        return (...args: unknown[]) => {
          if (broken.now) return Promise.reject(new Error('SQLITE_IOERR: disk I/O error'));
          return (value as (...inner: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  it('turns down and fires an alert', async () => {
    const broken = { now: false };
    const monitor = monitorWith({ store: breakableStore(broken) });
    expect((await monitor.tick()).status).toBe('ok');
    broken.now = true;
    const report = await monitor.tick();
    expect(report.status).toBe('down');
    expect(report.checks.outboxAge.detail).toMatch(/disk I\/O error/);
    expect(sent.map((event) => event.state)).toEqual(['firing']);
  });

  it('answers 503 with the error', async () => {
    const broken = { now: true };
    const other = await createHarness({ store: breakableStore(broken) });
    try {
      const response = await other.app.request('/api/health');
      expect(response.status).toBe(503);
      const json = (await response.json()) as {
        status: string;
        checks: Record<string, { detail: string }>;
      };
      expect(json.status).toBe('down');
      expect(json.checks['deadLetters']?.detail).toMatch(/disk I\/O error/);
    } finally {
      await other.close();
    }
  });
});

describe('canary pull requests', () => {
  const WITH_CANARY = { canaryIntervalMinutes: 5, thresholds: DEFAULT_THRESHOLDS };

  it('are all closed after a long outage', async () => {
    const monitor = monitorWith({ settings: WITH_CANARY });
    // The worker delivers nothing for 60 canary periods (5 hours), so every canary times out.
    for (let index = 0; index < 60; index += 1) {
      await monitor.tick();
      harness.clock.advance(5 * MINUTE + 1);
    }
    await harness.worker.drain();
    expect(harness.forge.pulls.length).toBeGreaterThanOrEqual(60);
    for (let index = 0; index < 3; index += 1) {
      await monitor.tick();
      await harness.worker.drain();
      harness.clock.advance(5 * MINUTE + 1);
    }
    await monitor.tick();
    const open = harness.forge.pulls.filter((pull) => pull.state === 'open');
    expect(open.map((pull) => pull.title)).toEqual([]);
  });

  it('lose their branch when the webhook closed them first', async () => {
    const monitor = monitorWith({ settings: WITH_CANARY });
    await monitor.tick();
    await harness.worker.drain();
    // The pull request closes, but deleting its branch fails; the closed webhook then marks the
    // comment declined, and its own branch deletion fails too.
    harness.forge.failNext('deleteBranch', forgeError(403));
    await monitor.tick();
    const [pull] = harness.forge.pulls;
    expect(pull?.state).toBe('closed');
    expect(harness.forge.deletedBranches).toEqual([]);
    await harness.store.markDeclined(pull?.commentId ?? '', harness.clock.now());

    harness.clock.advance(15_000);
    await monitor.tick();
    expect(harness.forge.deletedBranches).toEqual([pull?.branch]);
  });

  it('is closed when the monitor stopped before recording it', async () => {
    // The monitor sent a canary and the process ended before it stored the canary's id.
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: CONFIG.publicSiteUrl,
        [CANARY_HEADER]: CONFIG.staffToken,
      },
      body: JSON.stringify({ post: 'hello-world', author: 'Marginalia canary', text: 'Canary.' }),
    });
    expect(response.status).toBe(202);
    await harness.worker.drain();
    const monitor = monitorWith({ settings: WITH_CANARY });
    for (let index = 0; index < 3; index += 1) {
      await monitor.tick();
      await harness.worker.drain();
      harness.clock.advance(5 * MINUTE + 1);
    }
    await monitor.tick();
    const open = harness.forge.pulls.filter((pull) => pull.state === 'open');
    expect(open.map((pull) => pull.title)).toEqual([]);
  });
});

describe('alerts while already degraded', () => {
  it('fire for a check that starts failing', async () => {
    const monitor = monitorWith({
      settings: { ...NO_CANARY, thresholds: { ...DEFAULT_THRESHOLDS, maxOutboxDepth: 1 } },
    });
    // A comment waits for review past the deadline: degraded, alerted once.
    await submitComment(harness, { ...VALID_COMMENT, text: 'Waiting for review.' });
    await harness.worker.drain();
    harness.clock.advance(73 * 60 * MINUTE);
    expect((await monitor.tick()).checks.reviewDeadline.status).toBe('degraded');
    await monitor.tick();

    // A second, unrelated problem starts: the outbox backs up. The status stays degraded.
    await submitComment(harness, { ...VALID_COMMENT, text: 'One.' });
    await submitComment(harness, { ...VALID_COMMENT, text: 'Two.' });
    const report = await monitor.tick();
    expect(report.checks.outboxDepth.status).toBe('degraded');
    await monitor.tick();
    expect(sent.map((event) => `${event.state} ${event.check}`)).toEqual([
      'firing reviewDeadline',
      'firing outboxDepth',
    ]);
  });

  it('follow degraded, down and degraded again', async () => {
    const monitor = monitorWith();
    await submitComment(harness, { ...VALID_COMMENT, text: 'Waiting for review.' });
    await harness.worker.drain();
    harness.clock.advance(73 * 60 * MINUTE);
    await monitor.tick();

    // The forge rejects the credentials for 10 minutes, then works again.
    harness.forge.failNext('proposeComment', ...Array.from({ length: 11 }, () => forgeError(401)));
    await submitComment(harness, { ...VALID_COMMENT, text: 'During the outage.' });
    await harness.worker.drain();
    for (let index = 0; index < 80; index += 1) {
      harness.clock.advance(15_000);
      await monitor.tick();
      await harness.worker.drain();
    }
    expect(await harness.store.countDeadLetters()).toBe(0);
    expect(sent.map((event) => `${event.state} ${event.check}`)).toEqual([
      'firing reviewDeadline',
      'firing deadLetters',
      'firing reviewDeadline',
    ]);
    expect(sent[2]?.summary).toMatch(/^Comment pipeline is degraded\./);
  });

  it('fire once for a check that flaps', async () => {
    const monitor = monitorWith({
      settings: { ...NO_CANARY, thresholds: { ...DEFAULT_THRESHOLDS, maxOutboxDepth: 1 } },
    });
    await submitComment(harness, { ...VALID_COMMENT, text: 'Waiting for review.' });
    await harness.worker.drain();
    harness.clock.advance(73 * 60 * MINUTE);
    await monitor.tick();

    // The outbox depth moves between 2 (degraded) and 1 (ok) on every tick.
    await submitComment(harness, { ...VALID_COMMENT, text: 'Comment 0.' });
    for (let index = 1; index <= 20; index += 1) {
      if (index % 2 === 1) await submitComment(harness, { ...VALID_COMMENT, text: `C ${index}.` });
      else await harness.worker.runOnce();
      await monitor.tick();
      harness.clock.advance(15_000);
    }
    expect(sent.map((event) => `${event.state} ${event.check}`)).toEqual([
      'firing reviewDeadline',
      'firing outboxDepth',
    ]);
  });
});

describe('canary header', () => {
  async function postWithCanaryHeader(origin: string, token: string): Promise<number> {
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, [CANARY_HEADER]: token },
      body: JSON.stringify({ post: 'hello-world', author: 'Marginalia canary', text: 'Canary.' }),
    });
    return response.status;
  }

  it('is rejected from the internal site', async () => {
    expect(await postWithCanaryHeader(INTERNAL_ORIGIN, CONFIG.staffToken)).toBe(401);
    expect(await harness.store.listUnsettled(new Date(8.64e15))).toEqual([]);
  });

  it('is rejected when empty', async () => {
    expect(await postWithCanaryHeader(PUBLIC_ORIGIN, '')).toBe(401);
    expect(await harness.store.listUnsettled(new Date(8.64e15))).toEqual([]);
  });
});

describe('monitor against the local forge', () => {
  let dir: string;
  let localForge: LocalForge;
  let fault: FaultDecision | undefined;
  let writeFault: FaultHook | undefined;
  let client: ForgeClient;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'forge-check-'));
    const content = path.join(dir, 'content');
    await mkdir(path.join(content, 'posts'), { recursive: true });
    await writeFile(
      path.join(content, 'posts', 'hello-world.md'),
      '---\nid: hello-world\ntitle: Hello, world\ndate: 2026-11-01T09:00:00Z\n' +
        'visibility: public\ncomments: open\n---\n\nHello.\n',
    );
    fault = undefined;
    writeFault = undefined;
    localForge = await startLocalForge({
      dataDir: path.join(dir, 'forge'),
      owner: 'marginalia',
      repo: 'blog',
      baseBranch: 'main',
      token: 'forge-token',
      seed: { directory: content, prefix: 'content' },
      faults: (request) => (request.method === 'GET' ? fault : writeFault?.(request)),
    });
    client = createGitHubForge({
      octokit: createOctokit({ baseUrl: localForge.url, token: 'forge-token' }),
      owner: 'marginalia',
      repo: 'blog',
      baseBranch: 'main',
      committer: { name: 'Marginalia', email: 'marginalia@localhost' },
    });
  });

  afterEach(async () => {
    await localForge.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('closes a canary once the forge allows it', async () => {
    const worker = createDeliveryWorker({
      store: harness.store,
      forge: client,
      posts: POSTS,
      clock: harness.clock,
      logger: createJsonLogger(
        () => undefined,
        () => harness.clock.now(),
      ),
    });
    const monitor = monitorWith({
      forge: client,
      settings: { canaryIntervalMinutes: 5, thresholds: DEFAULT_THRESHOLDS },
    });
    await monitor.tick();
    await worker.drain();
    // Closing the pull request and deleting the branch are denied for two ticks.
    writeFault = (request) =>
      request.method === 'PATCH' || request.method === 'DELETE'
        ? { kind: 'deny', status: 403 }
        : undefined;
    expect((await monitor.tick()).checks.canary.status).toBe('ok');
    harness.clock.advance(15_000);
    await monitor.tick();
    const pullsUrl = `${localForge.url}/repos/marginalia/blog/pulls?state=all`;
    const headers = { authorization: 'token forge-token' };
    const before = (await (await fetch(pullsUrl, { headers })).json()) as Array<{
      state: string;
      head: { ref: string };
    }>;
    expect(before.map((pull) => pull.state)).toEqual(['open']);

    writeFault = undefined;
    harness.clock.advance(15_000);
    await monitor.tick();
    const after = (await (await fetch(pullsUrl, { headers })).json()) as typeof before;
    expect(after.map((pull) => pull.state)).toEqual(['closed']);
    const branch = await fetch(
      `${localForge.url}/repos/marginalia/blog/git/ref/heads/${after[0]?.head.ref ?? ''}`,
      { headers },
    );
    expect(branch.status).toBe(404);
  });

  it('ignores one failed request', async () => {
    const monitor = monitorWith({ forge: client });
    expect((await monitor.tick()).checks.forge.status).toBe('ok');
    harness.clock.advance(5 * MINUTE);
    fault = { kind: 'fail', status: 503 };
    await monitor.tick();
    fault = undefined;
    harness.clock.advance(15_000);
    await monitor.tick();
    expect(sent).toEqual([]);
  });

  it.each([
    { kind: 'fail', status: 503 },
    { kind: 'fail', status: 429, retryAfterSeconds: 60 },
    { kind: 'fail', status: 403, retryAfterSeconds: 60 },
  ] as const)('blames the forge, not the repository, for %o', async (decision) => {
    const monitor = monitorWith({ forge: client });
    fault = decision;
    await monitor.tick();
    harness.clock.advance(15_000);
    const report = await monitor.tick();
    expect(report.checks.forge.status).toBe('down');
    expect(report.checks.forge.value).toBe('unreachable');
    expect(report.checks.forge.detail).not.toMatch(/check the owner and name/);
  });
});

describe('alerts while already down', () => {
  it('fire for a new failure in an old incident', async () => {
    const monitor = monitorWith();
    // A comment ran out of attempts and waits for a person: down, alerted once.
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
    await submitComment(harness);
    await worker.runOnce();
    expect((await monitor.tick()).checks.deadLetters.status).toBe('down');

    // A day later it is still not replayed, and the forge stops accepting the credentials.
    harness.clock.advance(24 * 60 * MINUTE);
    await monitor.tick();
    const revoked = forgeError(401);
    harness.forge.failNext('checkAccess', revoked, revoked, revoked);
    for (let index = 0; index < 40; index += 1) {
      harness.clock.advance(15_000);
      await monitor.tick();
    }
    expect((await monitor.report()).checks.forge.status).toBe('down');
    expect(sent.map((event) => `${event.state} ${event.check}`)).toEqual([
      'firing deadLetters',
      'firing forge',
    ]);
  });
});

describe('health after the monitor stopped', () => {
  it('does not keep reporting the forge ok', async () => {
    const monitor = monitorWith();
    expect((await monitor.tick()).checks.forge.status).toBe('ok');
    // The loop stops running ticks, while the health route still requests the report.
    harness.clock.advance(60 * MINUTE);
    const report = await monitor.report();
    expect(report.checks.forge.status).toBe('degraded');
    expect(report.checks.forge.detail).toMatch(/monitor/);
  });
});

describe('thresholds from the environment', () => {
  it('apply to health and the reader status', async () => {
    const parsed = monitorSettingsFrom({
      MARGINALIA_MAX_OUTBOX_AGE_SECONDS: '60',
      MARGINALIA_REVIEW_DEADLINE_HOURS: '2',
    });
    if (!parsed.ok) throw new Error(parsed.message);
    const configured = await createHarness({ config: { ...CONFIG, monitor: parsed.settings } });
    try {
      const waiting = await submitComment(configured);
      configured.clock.advance(61_000);
      const health = (await (await configured.app.request('/api/health')).json()) as {
        checks: Record<string, { status: string; threshold: unknown }>;
      };
      expect(health.checks['outboxAge']).toMatchObject({ status: 'down', threshold: 60 });
      const receipt = await configured.app.request(`/api/comments/${waiting}`);
      expect(((await receipt.json()) as { delayed: boolean }).delayed).toBe(true);

      await configured.worker.drain();
      configured.clock.advance(2 * 60 * MINUTE + 1_000);
      const later = (await (await configured.app.request('/api/health')).json()) as {
        checks: Record<string, { status: string }>;
      };
      expect(later.checks['reviewDeadline']?.status).toBe('degraded');
    } finally {
      await configured.close();
    }
  });
});
