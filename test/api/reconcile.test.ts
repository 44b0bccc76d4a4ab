// Reconciliation against the real local forge. The forge's webhooks go to a receiver that returns
// 503, as an API that is down does, so no merge or close reaches the store by webhook; only
// reconcile() can repair the receipts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildProposal } from '../../api/delivery/proposal.ts';
import { reconcile, type ReconcileSummary } from '../../api/delivery/reconcile.ts';
import { createDeliveryWorker, type DeliveryWorker } from '../../api/delivery/worker.ts';
import type { ForgeClient } from '../../api/forge/types.ts';
import { openSqliteStore } from '../../api/outbox/sqlite-store.ts';
import type { CommentStore, NewComment } from '../../api/outbox/types.ts';
import type { PostInfo } from '../../api/platform/content-index.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import type { DeployedCommit, SiteDeployment } from '../../api/sites/deployments.ts';
import {
  createOpenApiChecker,
  problemsOf,
  startForgeFixture,
  writesOf,
  type ForgeFixture,
} from '../forge/harness.ts';
import { manualClock, type ManualClock } from './harness.ts';

const checker = createOpenApiChecker({ unlistedStatuses: [401, 403, 429, 500, 502, 503, 504] });
const POSTS = new Map<string, PostInfo>([
  [
    'hello',
    {
      id: 'hello',
      title: 'Hello',
      visibility: 'public',
      comments: 'open',
      path: '/posts/hello/',
    },
  ],
]);
const TWO_MINUTES = 120_000;

let fixture: ForgeFixture;
let forge: ForgeClient;
let store: CommentStore;
let clock: ManualClock;
let worker: DeliveryWorker;
let dir: string;
let logs: string[];
let merged: string[];

function newComment(id: string): NewComment {
  return {
    id,
    post: 'hello',
    parent: null,
    author: 'Ada Reader',
    authorUrl: null,
    visibility: 'public',
    source: 'public',
    body: `Comment ${id}.`,
    date: clock.now().toISOString(),
    fingerprint: `fingerprint-${id}`,
    idempotencyKey: null,
  };
}

/** Accepts a comment and lets the worker propose it; returns its pull request number. */
async function proposed(id: string): Promise<number> {
  await store.accept(newComment(id), { now: clock.now(), duplicateWindowMs: 0 });
  const [outcome] = await worker.drain();
  if (outcome?.outcome !== 'proposed') throw new Error(`comment ${id} was not proposed`);
  return outcome.pullRequest.number;
}

function run(sites: SiteDeployment[] = []): Promise<ReconcileSummary> {
  return reconcile({
    store,
    forge,
    clock,
    logger: createJsonLogger(
      (line) => logs.push(line),
      () => clock.now(),
    ),
    onMerged: (sha) => {
      merged.push(sha);
    },
    sites,
  });
}

async function commentBranches(): Promise<string> {
  return fixture.git('for-each-ref', '--format=%(refname:short)', 'refs/heads/comments/');
}

/** Pull requests on the forge whose head is the comment's branch, in any state. */
async function pullsFor(commentId: string): Promise<Array<{ number: number; state: string }>> {
  const response = await fixture.fetch(
    `${fixture.forge.url}/repos/marginalia/blog/pulls?state=all&per_page=100`,
    { headers: { authorization: 'token local-test-token' } },
  );
  const pulls = (await response.json()) as Array<{
    number: number;
    state: string;
    head: { ref: string };
  }>;
  return pulls
    .filter((pull) => pull.head.ref === `comments/${commentId}`)
    .map((pull) => ({ number: pull.number, state: pull.state }));
}

function repairs(summary: ReconcileSummary): number {
  return (
    summary.proposed +
    summary.published +
    summary.declined +
    summary.mergesRecorded +
    summary.branchesDeleted +
    summary.sitesRebuilt
  );
}

beforeEach(async () => {
  fixture = await startForgeFixture({ checker });
  // The API is down for the whole test: every webhook delivery fails.
  fixture.receiver.failNext = Number.MAX_SAFE_INTEGER;
  forge = fixture.client();
  dir = await mkdtemp(join(tmpdir(), 'marginalia-reconcile-'));
  store = openSqliteStore({ path: join(dir, 'outbox.sqlite') });
  clock = manualClock(new Date().toISOString());
  logs = [];
  merged = [];
  worker = createDeliveryWorker({
    store,
    forge,
    posts: POSTS,
    clock,
    logger: createJsonLogger(
      (line) => logs.push(line),
      () => clock.now(),
    ),
    random: () => 0.5,
  });
});

afterEach(async () => {
  await worker.stop();
  await store.close();
  await fixture.close();
  await rm(dir, { recursive: true, force: true });
});

describe('reconcile with lost webhooks', () => {
  test('publishes a merge whose webhook was lost', async () => {
    const number = await proposed('merged-while-down');
    const merge = await forge.mergePullRequest(number);
    await fixture.forge.webhooksIdle();
    const closedEvents = fixture.forge
      .deliveries()
      .filter((delivery) => delivery.event === 'pull_request');
    expect(closedEvents.length).toBeGreaterThan(0);
    expect(closedEvents.every((delivery) => !delivery.delivered)).toBe(true);
    expect((await store.get('merged-while-down'))?.status).toBe('proposed');

    clock.advance(TWO_MINUTES);
    const summary = await run();

    expect(summary.published).toBe(1);
    expect(summary.mergesRecorded).toBe(1);
    expect(summary.branchesDeleted).toBe(1);
    expect((await store.get('merged-while-down'))?.status).toBe('published');
    expect(merged).toEqual([merge.sha]);
    expect(await commentBranches()).toBe('');
    expect(problemsOf(fixture.exchanges)).toEqual([]);
  });

  test('logs the summary as one JSON line', async () => {
    await proposed('summary-line');
    clock.advance(TWO_MINUTES);
    await run();
    const lines = logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry['message'] === 'reconcile finished');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.['checked']).toBe(1);
    expect(lines[0]?.['openPullRequests']).toBe(1);
  });

  test('declines a pull request closed while down', async () => {
    const number = await proposed('closed-while-down');
    await forge.closePullRequest(number);
    clock.advance(TWO_MINUTES);

    const summary = await run();

    expect(summary.declined).toBe(1);
    expect(summary.published).toBe(0);
    expect(summary.branchesDeleted).toBe(1);
    expect((await store.get('closed-while-down'))?.status).toBe('declined');
    expect(merged).toEqual([]);
    expect(await commentBranches()).toBe('');
  });

  test('leaves receipts younger than a minute alone', async () => {
    const number = await proposed('too-recent');
    await forge.mergePullRequest(number);
    clock.advance(30_000);

    const summary = await run();

    expect(summary.checked).toBe(0);
    expect(repairs(summary)).toBe(0);
    expect((await store.get('too-recent'))?.status).toBe('proposed');
  });

  test('leaves an open pull request proposed', async () => {
    await proposed('still-open');
    clock.advance(TWO_MINUTES);
    const before = fixture.exchanges.length;

    const summary = await run();

    expect(repairs(summary)).toBe(0);
    expect((await store.get('still-open'))?.status).toBe('proposed');
    // One page of open pull requests and nothing else.
    const sent = fixture.exchanges.slice(before);
    expect(sent.map((exchange) => exchange.method)).toEqual(['GET']);
    expect(new URL(sent[0]?.url ?? '').searchParams.get('per_page')).toBe('100');
  });
});

describe('reconcile after a crash', () => {
  test('records a pull request opened before a crash', async () => {
    await store.accept(newComment('crashed-after-open'), {
      now: clock.now(),
      duplicateWindowMs: 0,
    });
    const stored = await store.get('crashed-after-open');
    if (stored === null) throw new Error('comment not stored');
    // The worker's forge call succeeded, and the process died before markProposed.
    const pull = await forge.proposeComment(buildProposal(stored, 'Hello'));
    expect((await store.get('crashed-after-open'))?.status).toBe('received');
    clock.advance(TWO_MINUTES);

    const summary = await run();

    expect(summary.proposed).toBe(1);
    const after = await store.get('crashed-after-open');
    expect(after?.status).toBe('proposed');
    expect(after?.pullRequest?.number).toBe(pull.number);
    expect(await worker.drain()).toEqual([]);
    expect(await pullsFor('crashed-after-open')).toEqual([{ number: pull.number, state: 'open' }]);
  });

  test('records a pull request whose response was lost', async () => {
    await store.accept(newComment('response-lost'), { now: clock.now(), duplicateWindowMs: 0 });
    fixture.setFaults((request) =>
      request.operation === 'pulls/create' ? { kind: 'drop-after-effect' } : undefined,
    );
    const [outcome] = await worker.drain();
    fixture.setFaults(undefined);
    expect(outcome?.outcome).toBe('failed');
    clock.advance(TWO_MINUTES);

    const summary = await run();

    expect(summary.proposed).toBe(1);
    expect((await store.get('response-lost'))?.status).toBe('proposed');
    clock.advance(60 * 60_000);
    expect(await worker.drain()).toEqual([]);
    expect(await pullsFor('response-lost')).toHaveLength(1);
  });
});

describe('reconcile twice', () => {
  test('the second run changes nothing', async () => {
    const mergedNumber = await proposed('twice-merged');
    const closedNumber = await proposed('twice-closed');
    await proposed('twice-open');
    await forge.mergePullRequest(mergedNumber);
    await forge.closePullRequest(closedNumber);
    clock.advance(TWO_MINUTES);

    const first = await run();
    const writesAfterFirst = writesOf(fixture.exchanges).length;
    const second = await run();

    expect(first.published).toBe(1);
    expect(first.declined).toBe(1);
    expect(first.mergesRecorded).toBe(1);
    expect(repairs(second)).toBe(0);
    expect(second.errors).toBe(0);
    expect(writesOf(fixture.exchanges).length).toBe(writesAfterFirst);
    expect(merged).toHaveLength(1);
  });

  test('a webhook arriving after reconcile records no second merge', async () => {
    const number = await proposed('late-webhook');
    const merge = await forge.mergePullRequest(number);
    clock.advance(TWO_MINUTES);
    await run();

    const late = await store.recordWebhook({
      deliveryId: 'late-delivery',
      event: 'pull_request',
      receivedAt: clock.now(),
      review: { commentId: 'late-webhook', merged: true, mergeSha: merge.sha },
    });

    expect(late.duplicate).toBe(false);
    expect(late.newMerge).toBe(false);
    expect(late.comment?.status).toBe('published');
  });
});

describe('reconcile with a rate limit', () => {
  test('stops reading pull requests after a 429', async () => {
    const first = await proposed('limited-one');
    const second = await proposed('limited-two');
    await forge.closePullRequest(first);
    await forge.closePullRequest(second);
    clock.advance(TWO_MINUTES);
    fixture.setFaults((request) =>
      request.operation === 'pulls/get'
        ? { kind: 'fail', status: 429, retryAfterSeconds: 60 }
        : undefined,
    );

    const limited = await run();
    fixture.setFaults(undefined);
    const reads = fixture.exchanges.filter(
      (exchange) =>
        exchange.method === 'GET' && /\/pulls\/\d+$/.test(new URL(exchange.url).pathname),
    );

    expect(limited.errors).toBe(1);
    expect(limited.deferred).toBe(1);
    expect(reads).toHaveLength(1);
    const after = await run();
    expect(after.declined).toBe(2);
  });
});

describe('reconcile of deployed sites', () => {
  function site(commit: () => DeployedCommit, rebuilds: string[]): SiteDeployment {
    return {
      name: 'test site',
      deployed: { read: async () => commit() },
      rebuild: async (headSha) => {
        rebuilds.push(headSha);
        return true;
      },
    };
  }

  test('rebuilds a site behind the base branch', async () => {
    const number = await proposed('site-lags');
    const merge = await forge.mergePullRequest(number);
    const rebuilds: string[] = [];
    let deployed: string | null = null;
    const lagging = site(() => ({ known: true, sha: deployed }), rebuilds);
    clock.advance(TWO_MINUTES);

    const first = await run([lagging]);
    deployed = merge.sha;
    const second = await run([lagging]);

    expect(first.sitesRebuilt).toBe(1);
    expect(rebuilds).toEqual([merge.sha]);
    expect(second.sitesRebuilt).toBe(0);
  });

  test('skips a site whose commit is unknown', async () => {
    const rebuilds: string[] = [];
    const unknown = site(() => ({ known: false, reason: 'no commit URL configured' }), rebuilds);

    const summary = await run([unknown]);

    expect(summary.sitesSkipped).toBe(1);
    expect(rebuilds).toEqual([]);
    expect(logs.some((line) => line.includes('no commit URL configured'))).toBe(true);
  });
});
