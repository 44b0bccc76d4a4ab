// The failure this product exists to prevent, replayed end to end: the forge starts rejecting
// every write, as a mail server once began rejecting the comment relay. Real processes run here:
// the local forge over a real git repository, the API over HTTP with its SQLite outbox, worker,
// monitor and canary, and an HTTP server standing in for the alert webhook. They run on a clock
// 120 times faster than real time, so a 5-minute canary period takes 2.5 seconds.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiConfig } from '../../api/config.ts';
import { createGitHubForge, createOctokit, LOCAL_FORGE_SPACING } from '../../api/forge/github.ts';
import type { FaultHook } from '../../api/forge/local/faults.ts';
import { startLocalForge, type LocalForge } from '../../api/forge/local/index.ts';
import { DEFAULT_THRESHOLDS } from '../../api/monitor/checks.ts';
import { startApiServer, type ApiServer } from '../../api/node/server.ts';
import { acceleratedClock, type Clock } from '../../api/platform/clock.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';

const SPEED = 120;
const CANARY_MINUTES = 5;
const CANARY_PERIOD_MS = CANARY_MINUTES * 60_000;
const TOKEN = 'forge-token-original-failure';
const PUBLIC_SITE = 'http://127.0.0.1:9';
const READERS = 5;

interface ReceivedAlert {
  text: string;
  content: string;
  /** Accelerated time at which the webhook received it. */
  at: number;
}

interface Fixture {
  dir: string;
  forge: LocalForge;
  api: ApiServer;
  clock: Clock;
  alerts: ReceivedAlert[];
  alertServer: Server;
  logs: Array<Record<string, unknown>>;
  setFaults(hook: FaultHook | undefined): void;
  /** Stops the API and starts it again on the same outbox, as a supervisor does after a crash. */
  restartApi(): Promise<void>;
}

let fixture: Fixture;

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

/** Waits in real time until `condition` holds; fails naming `what` after `limitMs`. */
async function waitFor(what: string, condition: () => Promise<boolean>, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function health(): Promise<{
  code: number;
  status: string;
  checks: Record<string, { status: string }>;
}> {
  const response = await fetch(`${fixture.api.url}/api/health`);
  const json = (await response.json()) as {
    status: string;
    checks: Record<string, { status: string }>;
  };
  return { code: response.status, status: json.status, checks: json.checks };
}

async function submit(text: string): Promise<{ status: number; receipt: string }> {
  const response = await fetch(`${fixture.api.url}/api/comments`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      origin: PUBLIC_SITE,
      accept: 'application/json',
    },
    body: JSON.stringify({ post: 'first-post', author: 'Reader', text }),
  });
  const json = (await response.json()) as { receipt: string };
  return { status: response.status, receipt: json.receipt };
}

async function openPullsByBranch(): Promise<Map<string, number>> {
  const response = await fetch(
    `${fixture.forge.url}/repos/marginalia/blog/pulls?state=all&per_page=100`,
    { headers: { authorization: `token ${TOKEN}` } },
  );
  const pulls = (await response.json()) as Array<{ head: { ref: string }; number: number }>;
  const counts = new Map<string, number>();
  for (const pull of pulls) counts.set(pull.head.ref, (counts.get(pull.head.ref) ?? 0) + 1);
  return counts;
}

beforeEach(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'original-failure-'));
  const content = path.join(dir, 'content');
  await mkdir(path.join(content, 'posts'), { recursive: true });
  await writeFile(
    path.join(content, 'posts', 'first-post.md'),
    '---\nid: first-post\ntitle: First post\ndate: 2026-11-01T09:00:00Z\nvisibility: public\n' +
      'comments: open\n---\n\nHello.\n',
  );

  const alerts: ReceivedAlert[] = [];
  const clock = acceleratedClock(SPEED);
  const alertServer = createServer((request, response) => {
    void readBody(request).then((body) => {
      const json = JSON.parse(body) as { text: string; content: string };
      alerts.push({ text: json.text, content: json.content, at: clock.now().getTime() });
      response.writeHead(204).end();
    });
  });
  const alertUrl = await listen(alertServer);

  let faults: FaultHook | undefined;
  const forge = await startLocalForge({
    dataDir: path.join(dir, 'forge'),
    owner: 'marginalia',
    repo: 'blog',
    baseBranch: 'main',
    token: TOKEN,
    seed: { directory: content, prefix: 'content' },
    faults: (request) => faults?.(request),
  });

  const logs: Array<Record<string, unknown>> = [];
  const logger = createJsonLogger(
    (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
    () => clock.now(),
  );
  const config: ApiConfig = {
    publicSiteUrl: PUBLIC_SITE,
    internalSiteUrl: 'http://127.0.0.1:10',
    apiPublicUrl: 'http://127.0.0.1:11',
    staffToken: 's'.repeat(32),
    webhookSecret: 'w'.repeat(32),
    rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
    monitor: {
      canaryIntervalMinutes: CANARY_MINUTES,
      alertWebhookUrl: alertUrl,
      thresholds: DEFAULT_THRESHOLDS,
    },
  };
  const startApi = () =>
    startApiServer({
      config,
      forge: createGitHubForge({
        octokit: createOctokit({ baseUrl: forge.url, token: TOKEN, ...LOCAL_FORGE_SPACING }),
        owner: 'marginalia',
        repo: 'blog',
        baseBranch: 'main',
        committer: { name: 'Marginalia', email: 'marginalia@localhost' },
      }),
      dataDir: path.join(dir, 'api'),
      contentDir: content,
      clock,
      logger,
      monitor: {},
    });
  fixture = {
    dir,
    forge,
    api: await startApi(),
    clock,
    alerts,
    alertServer,
    logs,
    setFaults(hook) {
      faults = hook;
    },
    async restartApi() {
      await fixture.api.close();
      fixture.api = await startApi();
    },
  };
});

afterEach(async () => {
  await fixture.api.close();
  await fixture.forge.close();
  await new Promise((resolve) => fixture.alertServer.close(resolve));
  await rm(fixture.dir, { recursive: true, force: true });
});

// Each test runs for several canary periods, at least 5 s of real time, so it gets 60 s.
describe.each([401, 403] as const)('forge rejecting every write with %i', (status) => {
  it('alerts once, keeps every comment, delivers after recovery', async () => {
    // A healthy start: the first canary passes, nothing is alerted.
    await waitFor('the first canary to pass', async () => {
      const { checks } = await health();
      return (
        checks['canary']?.status === 'ok' &&
        fixture.logs.some((l) => l['message'] === 'canary passed')
      );
    });
    expect((await health()).status).toBe('ok');
    expect(fixture.alerts).toEqual([]);

    // The forge starts rejecting every write, the way the mail server began rejecting the relay.
    const failureStart = fixture.clock.now().getTime();
    fixture.setFaults((request) =>
      request.method === 'GET' ? undefined : { kind: 'deny', status },
    );
    const receipts: string[] = [];
    for (let index = 0; index < READERS; index += 1) {
      const answer = await submit(`Comment ${index} while the forge rejects writes.`);
      expect(answer.status).toBe(202);
      receipts.push(answer.receipt);
    }

    await waitFor('the pipeline to go down', async () => (await health()).status === 'down');
    await waitFor('the firing alert', async () => fixture.alerts.length > 0);
    const firing = fixture.alerts[0];
    expect(firing?.text).toMatch(/^\[FIRING\]/);
    expect((firing?.at ?? Infinity) - failureStart).toBeLessThanOrEqual(CANARY_PERIOD_MS);
    expect((await health()).code).toBe(503);

    // Two canary periods later, still one alert, and every comment is kept.
    const settled = fixture.clock.now().getTime() + 2 * CANARY_PERIOD_MS;
    await waitFor('two canary periods', async () => fixture.clock.now().getTime() > settled);
    expect(fixture.alerts).toHaveLength(1);
    const canaryFailed = fixture.logs.some((line) => line['message'] === 'canary failed');
    expect(canaryFailed).toBe(true);
    for (const receipt of receipts) {
      const stored = await fixture.api.store.get(receipt);
      expect(stored?.status).toBe('dead');
      expect(stored?.pullRequest).toBeNull();
    }
    const lookup = await fetch(`${fixture.api.url}/api/comments/${receipts[0]}`, {
      headers: { accept: 'application/json' },
    });
    const receiptJson = (await lookup.json()) as {
      status: string;
      delayed: boolean;
      message: string;
    };
    expect(receiptJson.status).toBe('received');
    expect(receiptJson.delayed).toBe(true);
    expect(receiptJson.message).toMatch(/delayed/);
    expect(receiptJson.message).toMatch(/stored safely/);

    // The forge recovers: every waiting comment is delivered once, and one alert resolves.
    fixture.setFaults(undefined);
    await waitFor('every comment to be delivered', async () => {
      const stored = await fixture.api.store.getMany(receipts);
      return stored.every((comment) => comment.status === 'proposed');
    });
    await waitFor('the resolved alert', async () => fixture.alerts.length > 1);
    await waitFor('health to be ok', async () => (await health()).status === 'ok');
    expect(fixture.alerts).toHaveLength(2);
    expect(fixture.alerts[1]?.text).toMatch(/^\[RESOLVED\]/);

    const pulls = await openPullsByBranch();
    for (const receipt of receipts) expect(pulls.get(`comments/${receipt}`)).toBe(1);
    const changes = fixture.logs.filter((line) => line['message'] === 'pipeline status changed');
    expect(changes.map((line) => line['to'])).toEqual(['down', 'ok']);
  }, 60_000);
});

describe('a restart during the incident', () => {
  it('alerts once and delivers each comment once', async () => {
    await waitFor('the first canary to pass', async () =>
      fixture.logs.some((line) => line['message'] === 'canary passed'),
    );
    fixture.setFaults((request) =>
      request.method === 'GET' ? undefined : { kind: 'deny', status: 401 },
    );
    const receipts: string[] = [];
    for (let index = 0; index < READERS; index += 1) {
      const answer = await submit(`Comment ${index} before the restart.`);
      expect(answer.status).toBe(202);
      receipts.push(answer.receipt);
    }
    await waitFor('the firing alert', async () => fixture.alerts.length > 0);

    // The process restarts mid-incident, with a canary possibly in flight.
    await fixture.restartApi();
    const settled = fixture.clock.now().getTime() + 2 * CANARY_PERIOD_MS;
    await waitFor('two canary periods', async () => fixture.clock.now().getTime() > settled);
    expect(fixture.alerts).toHaveLength(1);
    expect((await health()).status).toBe('down');

    fixture.setFaults(undefined);
    await waitFor('every comment to be delivered', async () => {
      const stored = await fixture.api.store.getMany(receipts);
      return stored.every((comment) => comment.status === 'proposed');
    });
    await waitFor('the resolved alert', async () => fixture.alerts.length > 1);
    expect(fixture.alerts.map((alert) => alert.text.slice(0, 10))).toEqual([
      '[FIRING] d',
      '[RESOLVED]',
    ]);
    const pulls = await openPullsByBranch();
    for (const receipt of receipts) expect(pulls.get(`comments/${receipt}`)).toBe(1);
    const canaryBranches = [...pulls.keys()].filter(
      (branch) => !receipts.includes(branch.replace('comments/', '')),
    );
    for (const branch of canaryBranches) expect(pulls.get(branch)).toBe(1);
    await waitFor('every canary pull request to be closed', async () => {
      const response = await fetch(
        `${fixture.forge.url}/repos/marginalia/blog/pulls?state=open&per_page=100`,
        { headers: { authorization: `token ${TOKEN}` } },
      );
      const open = (await response.json()) as Array<{ title: string }>;
      return open.every((pull) => !pull.title.startsWith('canary:'));
    });
  }, 60_000);
});
