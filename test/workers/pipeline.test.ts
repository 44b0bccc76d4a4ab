// The whole path on the Workers runtime. A reader's submission goes through the Worker's fetch
// handler to a D1 row and a queue message, and the queue consumer delivers it to the local forge.
// The forge's merge sends signed webhooks, which are relayed to the Worker, and the receipt's
// status follows.
import { env, exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { createD1Store } from '../../api/outbox/d1-store.ts';
import type { StoredComment } from '../../api/outbox/types.ts';
import type { WorkerEnv } from '../../api/workers/env.ts';
import {
  PUBLIC_ORIGIN,
  deployHookCalls,
  forgeApi,
  forgeWebhooks,
  pullsFor,
  readFaults,
  setFaults,
  waitFor,
  type PullSummary,
} from './support/control.ts';

const bindings = env as WorkerEnv;
const store = createD1Store(bindings.DB);
let addressCount = 0;

interface Submitted {
  response: Response;
  receipt: string;
}

/** Posts a comment as the public site's script does, from an address of its own. */
async function submit(post: string, text: string): Promise<Submitted> {
  addressCount += 1;
  const response = await exports.default.fetch(
    new Request('http://127.0.0.1:8787/api/comments', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: PUBLIC_ORIGIN,
        'cf-connecting-ip': `192.0.2.${addressCount}`,
      },
      body: JSON.stringify({ post, author: 'Workers Reader', text }),
    }),
  );
  const body = (await response.clone().json()) as { receipt?: string };
  return { response, receipt: body.receipt ?? '' };
}

async function receiptStatus(receipt: string): Promise<string> {
  const response = await exports.default.fetch(
    new Request(`http://127.0.0.1:8787/api/comments/${receipt}`, {
      headers: { accept: 'application/json' },
    }),
  );
  const body = (await response.json()) as { status: string };
  return body.status;
}

function waitForStatus(receipt: string, status: StoredComment['status']): Promise<StoredComment> {
  return waitFor(`comment ${receipt} to be ${status}`, async () => {
    const comment = await store.get(receipt);
    return comment?.status === status ? comment : undefined;
  });
}

function waitForPull(receipt: string): Promise<PullSummary> {
  return waitFor(`a pull request for ${receipt}`, async () => (await pullsFor(receipt))[0]);
}

/** Relays the forge's webhooks that mention `text` to the Worker, with their signatures. */
async function relayWebhooks(text: string, event: string): Promise<Response[]> {
  const matching = (await forgeWebhooks()).filter(
    (webhook) => webhook.event === event && webhook.body.includes(text),
  );
  const responses: Response[] = [];
  for (const webhook of matching) {
    responses.push(
      await exports.default.fetch(
        new Request('http://127.0.0.1:8787/api/webhooks/forge', {
          method: 'POST',
          headers: webhook.headers,
          body: webhook.body,
        }),
      ),
    );
  }
  return responses;
}

beforeEach(async () => {
  await setFaults([]);
});

describe('submission on Workers', () => {
  it('returns received after the D1 row exists', async () => {
    const { response, receipt } = await submit('welcome', 'Stored before the answer.');
    expect(response.status).toBe(202);
    const row = await store.get(receipt);
    expect(row?.body).toBe('Stored before the answer.');
    expect(['received', 'proposed']).toContain(row?.status);
  });

  it('rejects a post that is not in the bundled index', async () => {
    const { response } = await submit('no-such-post', 'Nowhere to go.');
    expect(response.status).toBe(404);
  });
});

describe('delivery through the queue', () => {
  it('proposes, merges and publishes a comment', async () => {
    const { receipt } = await submit('why-static', 'From submission to published.');
    const pull = await waitForPull(receipt);
    const proposed = await waitForStatus(receipt, 'proposed');
    expect(proposed.pullRequest?.number).toBe(pull.number);

    const hooksBefore = (await deployHookCalls()).length;
    const merge = await forgeApi(`/pulls/${pull.number}/merge`, {
      method: 'PUT',
      body: JSON.stringify({ merge_method: 'merge' }),
    });
    expect(merge.status).toBe(200);
    const responses = await relayWebhooks(receipt, 'pull_request');
    expect(responses.map((response) => response.status)).toEqual([200]);
    expect(await receiptStatus(receipt)).toBe('published');

    // The merge requests one rebuild from each site's deploy hook.
    const calls = await waitFor('both deploy hooks', async () => {
      const all = await deployHookCalls();
      return all.length >= hooksBefore + 2 ? all.slice(hooksBefore) : undefined;
    });
    expect([...calls].sort()).toEqual(['internal', 'public']);
  });

  it('declines a comment whose pull request is closed', async () => {
    const { receipt } = await submit('why-static', 'Closed without merging.');
    const pull = await waitForPull(receipt);
    await waitForStatus(receipt, 'proposed');
    const close = await forgeApi(`/pulls/${pull.number}`, {
      method: 'PATCH',
      body: JSON.stringify({ state: 'closed' }),
    });
    expect(close.status).toBe(200);
    const responses = await relayWebhooks(receipt, 'pull_request');
    expect(responses.map((response) => response.status)).toEqual([200]);
    expect(await receiptStatus(receipt)).toBe('declined');
  });

  it('adds a merged comment to the content index on push', async () => {
    const { receipt } = await submit('welcome', 'Known to every isolate after the push.');
    const pull = await waitForPull(receipt);
    await waitForStatus(receipt, 'proposed');
    await forgeApi(`/pulls/${pull.number}/merge`, {
      method: 'PUT',
      body: JSON.stringify({ merge_method: 'merge' }),
    });
    const responses = await relayWebhooks(`comments/welcome/${receipt}.md`, 'push');
    expect(responses.map((response) => response.status)).toEqual([202]);
    const snapshot = await waitFor('the content snapshot in D1', async () => {
      const row = await bindings.DB.prepare(
        'SELECT snapshot FROM content_snapshot WHERE id = 1',
      ).first<{ snapshot: string }>();
      if (row === null) return undefined;
      const parsed = JSON.parse(row.snapshot) as { comments: Record<string, string> };
      return parsed.comments[receipt] === undefined ? undefined : parsed;
    });
    expect(snapshot.comments[receipt]).toBe('welcome');
    // The comments of the bundled index are carried over.
    expect(Object.keys(snapshot.comments).length).toBeGreaterThan(1);
  });

  it('retries after a forge 5xx', async () => {
    await setFaults([{ operation: 'pulls/create', kind: 'fail', status: 503, times: 1 }]);
    const { receipt } = await submit('comments-as-prs', 'Delivered after an outage.');
    await waitForPull(receipt);
    const proposed = await waitForStatus(receipt, 'proposed');
    // The retry plugin resends the request after the 503, so the first attempt succeeds.
    expect(proposed.attempts).toBe(0);
    const [rule] = await readFaults();
    expect(rule?.applied).toBe(1);
  });

  it('waits out a 429 with retry-after', async () => {
    await setFaults([
      { operation: 'git/create-ref', kind: 'fail', status: 429, times: 1, retryAfterSeconds: 2 },
    ]);
    const { receipt } = await submit('markdown-in-comments', 'Delivered after a rate limit.');
    const failed = await waitFor(`a failed attempt of ${receipt}`, async () => {
      const comment = await store.get(receipt);
      return comment !== null && comment.attempts === 1 ? comment : undefined;
    });
    expect(failed.status).toBe('received');
    expect(failed.lastError).toMatch(/rate limit/i);
    const waitMs = (failed.nextAttemptAt?.getTime() ?? 0) - failed.updatedAt.getTime();
    expect(waitMs).toBeGreaterThanOrEqual(2_000);
    await waitForPull(receipt);
    await waitForStatus(receipt, 'proposed');
  });

  it('waits out a 403 secondary rate limit', async () => {
    await setFaults([
      { operation: 'pulls/create', kind: 'fail', status: 403, times: 1, retryAfterSeconds: 1 },
    ]);
    const { receipt } = await submit('no-email-in-git', 'Delivered after a secondary limit.');
    await waitForPull(receipt);
    const proposed = await waitForStatus(receipt, 'proposed');
    expect(proposed.attempts).toBe(1);
  });

  it('finds the pull request a lost response created', async () => {
    // The forge opens the pull request but the response is lost, so the retry gets a 422
    // "A pull request already exists" and must adopt the existing one.
    await setFaults([
      { operation: 'pulls/create', kind: 'fail-after-effect', status: 502, times: 1 },
    ]);
    const { receipt } = await submit('two-audiences', 'Proposed once despite a lost response.');
    const proposed = await waitForStatus(receipt, 'proposed');
    const pulls = await pullsFor(receipt);
    expect(pulls).toHaveLength(1);
    expect(proposed.pullRequest?.number).toBe(pulls[0]?.number);
  });
});
