// The delivery worker and the webhook route with the real GitHub client (retry and throttling
// plugins included), built from settings by createForgeFromConfig, against the local forge.

import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createDeliveryWorker, type DeliveryWorker } from '../../api/delivery/worker.ts';
import { LOCAL_FORGE_SPACING } from '../../api/forge/github.ts';
import {
  DEFAULT_COMMITTER,
  GITHUB_ENV,
  createForgeFromConfig,
  parseGitHubConfig,
} from '../../api/forge/github-config.ts';
import type { ForgeClient } from '../../api/forge/types.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  CONFIG,
  POSTS,
  VALID_COMMENT,
  createHarness,
  submitComment,
  type Harness,
} from '../api/harness.ts';
import {
  OWNER,
  REPO,
  TOKEN,
  createOpenApiChecker,
  problemsOf,
  startForgeFixture,
  writesOf,
  type ForgeFixture,
} from './harness.ts';

const checker = createOpenApiChecker({ unlistedStatuses: [401, 403, 429, 500, 502, 503, 504] });

let fixture: ForgeFixture;
let api: Harness;
let client: ForgeClient;
let worker: DeliveryWorker;

beforeEach(async () => {
  fixture = await startForgeFixture({ checker, webhookSecret: CONFIG.webhookSecret });
  const config = parseGitHubConfig({
    [GITHUB_ENV.owner]: OWNER,
    [GITHUB_ENV.repo]: REPO,
    [GITHUB_ENV.apiUrl]: fixture.forge.url,
    [GITHUB_ENV.token]: TOKEN,
  });
  const logs: string[] = [];
  const logger = createJsonLogger(
    (line) => logs.push(line),
    () => new Date(),
  );
  client = createForgeFromConfig(config, {
    logger,
    fetch: fixture.fetch,
    octokit: { ...LOCAL_FORGE_SPACING, retryBaseDelayMs: 1 },
  });
  api = await createHarness({ forge: client });
  worker = createDeliveryWorker({
    store: api.store,
    forge: client,
    posts: POSTS,
    clock: api.clock,
    logger,
    random: () => 0.5,
  });
});

afterEach(async () => {
  const problems = problemsOf(fixture.exchanges);
  await worker.stop();
  await api.close();
  await fixture.close();
  expect(problems).toEqual([]);
});

function createRefs() {
  return fixture.exchanges.filter((exchange) => exchange.operation === 'git/create-ref');
}

describe('rate limits', () => {
  test.each([
    { status: 429 as const, retryAfterSeconds: 120, waitMs: 120_000 },
    { status: 403 as const, retryAfterSeconds: undefined, waitMs: 60_000 },
  ])(
    'put a comment back for the forge wait ($status)',
    async ({ status, retryAfterSeconds, waitMs }) => {
      fixture.setFaults((request) =>
        request.operation === 'git/create-ref'
          ? {
              kind: 'fail',
              status,
              ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
            }
          : undefined,
      );
      const receipt = await submitComment(api);

      const [outcome] = await worker.drain();

      expect(outcome?.outcome).toBe('failed');
      const stored = await api.store.get(receipt);
      expect(stored?.status).toBe('received');
      expect(stored?.nextAttemptAt?.getTime()).toBe(api.clock.now().getTime() + waitMs);
      expect(createRefs().length).toBe(1);

      fixture.setFaults(undefined);
      api.clock.advance(waitMs - 1);
      expect(await worker.runOnce()).toBeNull();
      api.clock.advance(1);
      expect((await worker.runOnce())?.outcome).toBe('proposed');
    },
  );

  test('wait until x-ratelimit-reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 300;
    fixture.setFaults((request) =>
      request.operation === 'git/create-ref'
        ? { kind: 'fail', status: 403, rateLimitResetSeconds: reset }
        : undefined,
    );
    const receipt = await submitComment(api);

    await worker.drain();

    const wait =
      ((await api.store.get(receipt))?.nextAttemptAt?.getTime() ?? 0) - api.clock.now().getTime();
    expect(wait).toBeGreaterThan(240_000);
    expect(wait).toBeLessThanOrEqual(300_000);
  });
});

describe('delivery through the worker', () => {
  test('costs at most 4 requests and 3 writes per comment', async () => {
    const perComment: { requests: number; writes: number }[] = [];
    for (const text of ['First.', 'Second.', 'Third.']) {
      const before = fixture.exchanges.slice();
      await submitComment(api, { ...VALID_COMMENT, text });
      const [outcome] = await worker.drain();
      expect(outcome?.outcome).toBe('proposed');
      const sent = fixture.exchanges.slice(before.length);
      perComment.push({ requests: sent.length, writes: writesOf(sent).length });
    }

    expect(perComment).toEqual([
      { requests: 4, writes: 3 },
      { requests: 3, writes: 3 },
      { requests: 3, writes: 3 },
    ]);
    expect(fixture.exchanges.filter((exchange) => (exchange.status ?? 0) >= 400)).toEqual([]);
  });

  test('commits as the bot, never the reader', async () => {
    const receipt = await submitComment(api, {
      ...VALID_COMMENT,
      author: 'Mallory Reader',
      authorUrl: 'https://mallory.example/',
    });

    await worker.drain();

    const branch = `comments/${receipt}`;
    const bot = `${DEFAULT_COMMITTER.name} <${DEFAULT_COMMITTER.email}>`;
    expect(await fixture.git('log', '-1', '--format=%an <%ae>', branch)).toBe(bot);
    expect(await fixture.git('log', '-1', '--format=%cn <%ce>', branch)).toBe(bot);
    const identities = await fixture.git('log', '--format=%an%ae%cn%ce', `main..${branch}`);
    expect(identities).not.toMatch(/mallory/i);
  });

  test('opens a pull request that names the post and the author', async () => {
    const receipt = await submitComment(api, { ...VALID_COMMENT, author: 'Ada Reader' });

    await worker.drain();

    const response = await fetch(`${fixture.forge.url}/repos/${OWNER}/${REPO}/pulls/1`, {
      headers: { authorization: `token ${TOKEN}` },
    });
    const pull = (await response.json()) as { title: string; body: string };
    expect(pull.title).toBe('Comment by Ada Reader on “Hello, world”');
    expect(pull.body).toContain(`- Receipt: \`${receipt}\``);
    expect(pull.body).toContain('- Post: `hello-world` (`Hello, world`)');
    expect(pull.body).toContain('- Reply to: none, a top-level comment');
    expect(pull.body).toContain('- Visibility: public');
    expect(pull.body).toContain('- Labels: `comment`, `public`');
  });
});

describe('comment branches', () => {
  /** Sends the forge's last pull_request webhook to the API, as GitHub would deliver it. */
  async function deliverClosedEvent(): Promise<Response> {
    await fixture.forge.webhooksIdle();
    const delivery = fixture.receiver.received.findLast(
      (received) => received.headers['x-github-event'] === 'pull_request',
    );
    if (delivery === undefined) throw new Error('the forge sent no pull_request webhook');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const name of ['x-github-event', 'x-github-delivery', 'x-hub-signature-256']) {
      headers[name] = String(delivery.headers[name]);
    }
    return api.app.request('/api/webhooks/forge', {
      method: 'POST',
      headers,
      body: delivery.body,
    });
  }

  async function commentBranches(): Promise<string> {
    // The route deletes the branch after it responds, so the test polls for a moment.
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const branches = await fixture.git(
        'for-each-ref',
        '--format=%(refname)',
        'refs/heads/comments/',
      );
      if (branches === '') return branches;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return fixture.git('for-each-ref', '--format=%(refname)', 'refs/heads/comments/');
  }

  test.each([{ action: 'merge' }, { action: 'close' }])(
    'are deleted after $action',
    async ({ action }) => {
      const receipt = await submitComment(api);
      await worker.drain();
      const branch = `comments/${receipt}`;
      expect(await fixture.git('rev-parse', '--verify', branch)).toMatch(/^[0-9a-f]{40}$/);

      if (action === 'merge') await client.mergePullRequest(1);
      else await client.closePullRequest(1);
      const response = await deliverClosedEvent();

      expect(response.status).toBe(200);
      expect(await commentBranches()).toBe('');
      // The forge deletes the ref before its response reaches the client that records it.
      const deleteRequests = () =>
        fixture.exchanges.filter((exchange) => exchange.operation === 'git/delete-ref');
      for (let attempt = 0; attempt < 100 && deleteRequests().length === 0; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(deleteRequests().map((exchange) => exchange.status)).toEqual([204]);
      expect((await api.store.get(receipt))?.status).toBe(
        action === 'merge' ? 'published' : 'declined',
      );
    },
  );
});
