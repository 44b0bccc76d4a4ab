// The GitHub forge client against a real local forge; every request and response is checked
// against GitHub's OpenAPI schemas (test/openapi/github-subset.json).

import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { permanentFailure } from '../../api/delivery/backoff.ts';
import { createGitHubForge, createOctokit } from '../../api/forge/github.ts';
import { startLocalForge, type FaultDecision } from '../../api/forge/local/index.ts';
import { ForgeError, type CommentProposal } from '../../api/forge/types.ts';
import {
  OWNER,
  TOKEN,
  WEBHOOK_SECRET,
  createOpenApiChecker,
  problemsOf,
  startForgeFixture,
  writesOf,
  type ForgeFixture,
} from './harness.ts';

// GitHub may return 401 and these fault statuses for any operation, although the description
// does not list them.
const checker = createOpenApiChecker({ unlistedStatuses: [401, 403, 429, 500, 502, 503, 504] });

function proposal(commentId: string, extra: Partial<CommentProposal> = {}): CommentProposal {
  return {
    commentId,
    path: `content/comments/hello/${commentId}.md`,
    content: `---\nid: ${commentId}\npost: hello\nauthor: "Zoë"\n---\nNice post! مرحبا 👋\r\n---\nnot front matter\n`,
    title: `Comment by Zoë on "Hello"`,
    body: 'Nice post! مرحبا 👋',
    labels: ['comment'],
    ...extra,
  };
}

function verifySignature(body: string, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`;
  return (
    header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected))
  );
}

/** Asserts that a rejection is a ForgeError and returns it typed. */
function asForgeError(error: unknown): ForgeError {
  expect(error).toBeInstanceOf(ForgeError);
  if (!(error instanceof ForgeError))
    throw new Error(`expected a ForgeError, got ${String(error)}`);
  return error;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

let fixture: ForgeFixture;

beforeEach(async () => {
  fixture = await startForgeFixture({ checker });
});

afterEach(async () => {
  const problems = problemsOf(fixture.exchanges);
  await fixture.close();
  expect(problems).toEqual([]);
});

describe('proposeComment', () => {
  test('creates branch, commit and pull request', async () => {
    const client = fixture.client();
    const comment = proposal('c01');

    const pull = await client.proposeComment(comment);

    expect(pull.branch).toBe('comments/c01');
    expect(pull.number).toBe(1);
    expect(pull.url).toBe(`${fixture.forge.url}/${OWNER}/blog/pull/1`);
    expect(await fixture.git('show', `comments/c01:${comment.path}`)).toBe(
      comment.content.trimEnd(),
    );
    const bytes = await fixture.git('cat-file', '-s', `comments/c01:${comment.path}`);
    expect(Number(bytes)).toBe(Buffer.byteLength(comment.content));
    expect(await fixture.git('log', '-1', '--format=%s', 'comments/c01')).toBe('Add comment c01');
    expect(await fixture.git('log', '-1', '--format=%cn <%ce>', 'comments/c01')).toBe(
      'Marginalia Bot <bot@marginalia.test>',
    );
    expect(await fixture.git('rev-list', '--count', 'main..comments/c01')).toBe('1');
  });

  test('keeps file bytes exact through base64', async () => {
    const client = fixture.client();
    const content = '---\nid: c02\n---\n\uFEFFtabs\tand\r\nCRLF, NUL-free 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃\n\n\n';
    await client.proposeComment(proposal('c02', { content }));

    expect(await client.readFile('content/comments/hello/c02.md', 'comments/c02')).toBe(content);
  });

  test('costs at most 4 requests and 3 writes', async () => {
    const client = fixture.client();

    await client.proposeComment(proposal('c03'));
    const first = fixture.exchanges.length;
    const firstWrites = writesOf(fixture.exchanges).length;
    await client.proposeComment(proposal('c04'));

    expect(first).toBe(4);
    expect(firstWrites).toBe(3);
    expect(fixture.exchanges.length - first).toBe(3);
    expect(writesOf(fixture.exchanges).length - firstWrites).toBe(3);
  });

  test('costs one more write with labels on', async () => {
    const client = fixture.client({ applyLabels: true });

    const pull = await client.proposeComment(proposal('c05'));

    expect(fixture.exchanges.length).toBe(5);
    expect(writesOf(fixture.exchanges).length).toBe(4);
    const labels = fixture.exchanges.at(-1)?.responseBody;
    expect(labels).toMatchObject([{ name: 'comment' }]);
    expect(pull.number).toBe(1);
  });

  test('reads the base branch again after the cache expires', async () => {
    let clock = 1_000_000;
    const client = fixture.client({ now: () => clock, baseShaTtlMs: 60_000 });
    await client.proposeComment(proposal('c06'));
    clock += 60_001;
    await client.proposeComment(proposal('c07'));

    const baseReads = fixture.exchanges.filter((exchange) =>
      exchange.url.endsWith('/git/ref/heads%2Fmain'),
    );
    expect(baseReads.length).toBe(2);
  });

  const steps = [
    { operation: 'git/create-ref', labels: false, resentStatus: 422 },
    { operation: 'repos/create-or-update-file-contents', labels: false, resentStatus: 422 },
    { operation: 'pulls/create', labels: false, resentStatus: 422 },
    { operation: 'issues/add-labels', labels: true, resentStatus: 200 },
  ];
  const afterEffects: FaultDecision[] = [
    { kind: 'drop-after-effect' },
    { kind: 'fail-after-effect', status: 502 },
  ];

  async function expectOneProposal(commentId: string): Promise<void> {
    expect(await fixture.git('for-each-ref', '--format=%(refname)', 'refs/heads/comments/')).toBe(
      `refs/heads/comments/${commentId}`,
    );
    expect(await fixture.git('rev-list', '--count', `main..comments/${commentId}`)).toBe('1');
    const all = await fetch(`${fixture.forge.url}/repos/${OWNER}/blog/pulls?state=all`, {
      headers: { authorization: `token ${TOKEN}` },
    });
    expect(await all.json()).toHaveLength(1);
  }

  describe.each(steps)('after a fault at $operation', ({ operation, labels, resentStatus }) => {
    test.each(afterEffects)('retry plugin resumes in one call ($kind)', async (decision) => {
      const client = fixture.client({ applyLabels: labels });
      let injected = 0;
      fixture.setFaults((request) => {
        if (request.operation !== operation || injected > 0) return undefined;
        injected += 1;
        return decision;
      });

      const pull = await client.proposeComment(proposal('c10'));

      expect(injected).toBe(1);
      expect(pull.number).toBe(1);
      await expectOneProposal('c10');
      const sent = fixture.exchanges.filter((exchange) => exchange.operation === operation);
      expect(sent.map((exchange) => exchange.status)).toEqual([
        decision.kind === 'drop-after-effect' ? null : 502,
        resentStatus,
      ]);
    });

    test.each(afterEffects)('next call resumes without retries ($kind)', async (decision) => {
      const client = fixture.client({ applyLabels: labels, octokit: { retries: 0 } });
      let injected = 0;
      fixture.setFaults((request) => {
        if (request.operation !== operation || injected > 0) return undefined;
        injected += 1;
        return decision;
      });

      const error = await rejection(client.proposeComment(proposal('c10')));
      const pull = await client.proposeComment(proposal('c10'));

      expect(injected).toBe(1);
      expect(error).toBeInstanceOf(ForgeError);
      expect(asForgeError(error).retryable).toBe(true);
      await expectOneProposal('c10');
      expect(pull.number).toBe(1);
      const listed = await client.listPendingComments();
      expect(listed.map((entry) => entry.commentId)).toEqual(['c10']);
    });
  });

  test('retries a 5xx before any effect inside the call', async () => {
    const client = fixture.client();
    let failures = 0;
    fixture.setFaults((request) => {
      if (request.operation !== 'git/create-ref' || failures >= 2) return undefined;
      failures += 1;
      return { kind: 'fail', status: 503 };
    });

    const pull = await client.proposeComment(proposal('c15'));

    expect(pull.number).toBe(1);
    const creates = fixture.exchanges.filter((exchange) => exchange.operation === 'git/create-ref');
    expect(creates.map((exchange) => exchange.status)).toEqual([503, 503, 201]);
    await expectOneProposal('c15');
  });

  test('retries "No commits between" after a commit', async () => {
    const client = fixture.client();
    let failures = 0;
    fixture.setFaults((request) => {
      if (request.operation !== 'pulls/create' || failures >= 2) return undefined;
      failures += 1;
      return { kind: 'fail', status: 422, message: 'No commits between main and comments/c16' };
    });

    const pull = await client.proposeComment(proposal('c16'));

    expect(pull.number).toBe(1);
    const opens = fixture.exchanges.filter((exchange) => exchange.operation === 'pulls/create');
    expect(opens.map((exchange) => exchange.status)).toEqual([422, 422, 201]);
    await expectOneProposal('c16');
  });

  test('reports "No commits between" that persists as retryable', async () => {
    const client = fixture.client({ noCommitsRetryDelaysMs: [1, 1] });
    fixture.setFaults((request) =>
      request.operation === 'pulls/create'
        ? { kind: 'fail', status: 422, message: 'No commits between main and comments/c17' }
        : undefined,
    );

    const forgeError = asForgeError(await rejection(client.proposeComment(proposal('c17'))));

    expect(forgeError.retryable).toBe(true);
    expect(forgeError.status).toBe(422);
    expect(forgeError.message).toContain('after 2 retries');
    const opens = fixture.exchanges.filter((exchange) => exchange.operation === 'pulls/create');
    expect(opens.length).toBe(3);
    fixture.setFaults(undefined);
    expect((await client.proposeComment(proposal('c17'))).number).toBe(1);
  });

  const clock = 1_800_000_000_000;
  test.each([
    {
      status: 503 as const,
      retryAfterSeconds: undefined,
      reset: undefined,
      retryAfterMs: null,
      attempts: 4,
    },
    {
      status: 429 as const,
      retryAfterSeconds: 7,
      reset: undefined,
      retryAfterMs: 7_000,
      attempts: 1,
    },
    {
      status: 429 as const,
      retryAfterSeconds: undefined,
      reset: undefined,
      retryAfterMs: 60_000,
      attempts: 1,
    },
    {
      status: 403 as const,
      retryAfterSeconds: undefined,
      reset: undefined,
      retryAfterMs: 60_000,
      attempts: 1,
    },
    {
      status: 403 as const,
      retryAfterSeconds: undefined,
      reset: clock / 1000 + 90,
      retryAfterMs: 90_000,
      attempts: 1,
    },
  ])(
    'reports $status before any effect as retryable (retry-after $retryAfterSeconds, reset $reset)',
    async ({ status, retryAfterSeconds, reset, retryAfterMs, attempts }) => {
      const client = fixture.client({ now: () => clock });
      fixture.setFaults((request) =>
        request.operation === 'git/create-ref'
          ? {
              kind: 'fail',
              status,
              ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
              ...(reset === undefined ? {} : { rateLimitResetSeconds: reset }),
            }
          : undefined,
      );

      const error = await rejection(client.proposeComment(proposal('c11')));

      const forgeError = asForgeError(error);
      expect(forgeError.status).toBe(status);
      expect(forgeError.retryable).toBe(true);
      expect(forgeError.retryAfterMs).toBe(retryAfterMs);
      expect(forgeError.operation).toBe('create branch');
      expect(forgeError.requestId).toMatch(/^[0-9A-F-]{36}$/);
      expect(permanentFailure(forgeError)).toBeNull();
      const creates = fixture.exchanges.filter(
        (exchange) => exchange.operation === 'git/create-ref',
      );
      expect(creates.length).toBe(attempts);
      expect(await fixture.git('for-each-ref', 'refs/heads/comments/')).toBe('');
    },
  );

  test('retries a branch reported as existing but not found', async () => {
    const client = fixture.client();
    fixture.setFaults((request) =>
      request.operation === 'git/create-ref'
        ? { kind: 'fail', status: 422, message: 'Reference already exists' }
        : undefined,
    );

    const forgeError = asForgeError(await rejection(client.proposeComment(proposal('c14'))));
    fixture.setFaults(undefined);

    expect(forgeError.operation).toBe('read comment branch');
    expect(forgeError.status).toBe(404);
    expect(forgeError.retryable).toBe(true);
    expect(permanentFailure(forgeError)).toBeNull();
    expect((await client.proposeComment(proposal('c14'))).branch).toBe('comments/c14');
  });

  test.each([{ client: 'same' }, { client: 'new' }])(
    'returns the merged pull request on a late retry ($client client)',
    async ({ client: which }) => {
      const client = fixture.client();
      fixture.setFaults((request) =>
        request.operation === 'pulls/create' ? { kind: 'drop-after-effect' } : undefined,
      );
      await rejection(client.proposeComment(proposal('c12')));
      fixture.setFaults(undefined);
      // Staff merge the pull request and delete its branch before the retry.
      await client.mergePullRequest(1);
      await client.deleteBranch('comments/c12');

      const retrying = which === 'same' ? client : fixture.client();
      const again = await retrying.proposeComment(proposal('c12'));

      expect(again).toEqual({
        number: 1,
        url: `${fixture.forge.url}/${OWNER}/blog/pull/1`,
        branch: 'comments/c12',
      });
      expect(await fixture.git('for-each-ref', 'refs/heads/comments/')).toBe('');
    },
  );

  test('rejects a branch that holds other content', async () => {
    const client = fixture.client();
    await client.proposeComment(proposal('c13'));
    await client.closePullRequest(1);

    const error = await rejection(client.proposeComment(proposal('c13', { content: 'changed\n' })));

    expect(error).toBeInstanceOf(ForgeError);
    expect(asForgeError(error).retryable).toBe(false);
    expect(asForgeError(error).message).toContain('different content');
  });
});

describe('listPendingComments', () => {
  test('pages through more than 100 pull requests', async () => {
    const client = fixture.client();
    const ids = Array.from({ length: 103 }, (_, index) => `p${String(index).padStart(3, '0')}`);
    for (const id of ids) await client.proposeComment(proposal(id));
    await client.closePullRequest(2);

    const listed = await client.listPendingComments();

    expect(listed.length).toBe(102);
    expect(listed[0]?.commentId).toBe('p000');
    expect(listed[1]?.commentId).toBe('p002');
    expect(listed.at(-1)?.commentId).toBe('p102');
    const pages = fixture.exchanges.filter(
      (exchange) => exchange.method === 'GET' && new URL(exchange.url).pathname.endsWith('/pulls'),
    );
    expect(pages.length).toBe(2);
    expect(pages[0]?.responseHeaders['link']).toContain('rel="next"');
  }, 120_000);

  test('skips branches that are not comment branches', async () => {
    const client = fixture.client();
    await client.proposeComment(proposal('c20'));
    const main = await fixture.git('rev-parse', 'main');
    const other = await fixture.git('rev-parse', 'comments/c20');
    await fixture.git('update-ref', 'refs/heads/feature/x', other);
    const response = await fetch(`${fixture.forge.url}/repos/${OWNER}/blog/pulls`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}` },
      body: JSON.stringify({ title: 'Feature', head: 'feature/x', base: 'main' }),
    });

    const listed = await client.listPendingComments();

    expect(response.status).toBe(201);
    expect(main).not.toBe(other);
    expect(listed.map((entry) => entry.branch)).toEqual(['comments/c20']);
  });

  test('follows Link headers with a small page size', async () => {
    const client = fixture.client();
    for (const id of ['l1', 'l2', 'l3', 'l4', 'l5']) await client.proposeComment(proposal(id));
    const headers = { authorization: `token ${TOKEN}` };

    const response = await fetch(
      `${fixture.forge.url}/repos/${OWNER}/blog/pulls?per_page=2&page=2`,
      { headers },
    );
    const body: unknown = await response.json();

    expect(body).toHaveLength(2);
    expect(response.headers.get('link')).toBe(
      [
        `<${fixture.forge.url}/repos/${OWNER}/blog/pulls?per_page=2&page=1>; rel="prev"`,
        `<${fixture.forge.url}/repos/${OWNER}/blog/pulls?per_page=2&page=3>; rel="next"`,
        `<${fixture.forge.url}/repos/${OWNER}/blog/pulls?per_page=2&page=3>; rel="last"`,
        `<${fixture.forge.url}/repos/${OWNER}/blog/pulls?per_page=2&page=1>; rel="first"`,
      ].join(', '),
    );
    expect(
      fixture.checker.checkExchange({
        method: 'GET',
        url: response.url,
        requestBody: undefined,
        status: response.status,
        responseHeaders: Object.fromEntries(response.headers),
        responseBody: body,
      }).problems,
    ).toEqual([]);
  });
});

describe('mergePullRequest', () => {
  test('creates a merge commit and sends signed webhooks', async () => {
    const client = fixture.client();
    const comment = proposal('m01');
    const pull = await client.proposeComment(comment);
    const before = await fixture.git('rev-parse', 'main');

    const result = await client.mergePullRequest(pull.number);
    await fixture.forge.webhooksIdle();

    expect(result.merged).toBe(true);
    expect(await fixture.git('rev-parse', 'main')).toBe(result.sha);
    expect(await fixture.git('log', '-1', '--format=%P', 'main')).toBe(
      `${before} ${await fixture.git('rev-parse', 'comments/m01')}`,
    );
    expect(await fixture.git('show', `main:${comment.path}`)).toBe(comment.content.trimEnd());
    const events = fixture.receiver.received.map((delivery) => delivery.headers['x-github-event']);
    expect(events.sort()).toEqual(['pull_request', 'push']);
    for (const delivery of fixture.receiver.received) {
      expect(verifySignature(delivery.body, delivery.headers['x-hub-signature-256'])).toBe(true);
      expect(delivery.headers['x-github-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const closed = fixture.receiver.received.find(
      (delivery) => delivery.headers['x-github-event'] === 'pull_request',
    );
    const payload: unknown = JSON.parse(closed?.body ?? 'null');
    expect(fixture.checker.checkWebhook('pull-request-closed', payload)).toEqual([]);
    expect(payload).toMatchObject({
      action: 'closed',
      number: pull.number,
      pull_request: {
        merged: true,
        merge_commit_sha: result.sha,
        head: { ref: 'comments/m01' },
        base: { ref: 'main' },
      },
    });
    const push = fixture.receiver.received.find(
      (delivery) => delivery.headers['x-github-event'] === 'push',
    );
    const pushPayload: unknown = JSON.parse(push?.body ?? 'null');
    expect(fixture.checker.checkWebhook('push', pushPayload)).toEqual([]);
    expect(pushPayload).toMatchObject({ ref: 'refs/heads/main', before, after: result.sha });
  });

  test('returns the same merge when repeated', async () => {
    const client = fixture.client();
    const pull = await client.proposeComment(proposal('m02'));

    const first = await client.mergePullRequest(pull.number);
    const second = await client.mergePullRequest(pull.number);

    expect(second).toEqual(first);
  });

  test('rejects a conflicting pull request', async () => {
    const client = fixture.client();
    const path = 'content/comments/hello/same.md';
    const a = await client.proposeComment(proposal('m03', { path }));
    const b = await client.proposeComment(proposal('m04', { path, content: 'other\n' }));
    await client.mergePullRequest(a.number);

    const error = await rejection(client.mergePullRequest(b.number));

    expect(error).toBeInstanceOf(ForgeError);
    expect(asForgeError(error).retryable).toBe(false);
  });
});

describe('closePullRequest', () => {
  test('sends a webhook with merged false', async () => {
    const client = fixture.client();
    const pull = await client.proposeComment(proposal('d01'));

    await client.closePullRequest(pull.number);
    await fixture.forge.webhooksIdle();

    expect(fixture.receiver.received.length).toBe(1);
    const delivery = fixture.receiver.received[0];
    expect(verifySignature(delivery?.body ?? '', delivery?.headers['x-hub-signature-256'])).toBe(
      true,
    );
    const payload: unknown = JSON.parse(delivery?.body ?? 'null');
    expect(fixture.checker.checkWebhook('pull-request-closed', payload)).toEqual([]);
    expect(payload).toMatchObject({
      action: 'closed',
      pull_request: { merged: false, state: 'closed', merge_commit_sha: null },
    });
    expect(await client.listPendingComments()).toEqual([]);
  });
});

describe('getPullRequest', () => {
  test('reads an open pull request', async () => {
    const client = fixture.client();
    const pull = await client.proposeComment(proposal('g01'));

    expect(await client.getPullRequest(pull.number)).toEqual({
      number: pull.number,
      url: pull.url,
      branch: 'comments/g01',
      state: 'open',
      merged: false,
      mergeSha: null,
    });
  });

  test('reads a merged pull request with its merge commit', async () => {
    const client = fixture.client();
    const pull = await client.proposeComment(proposal('g02'));
    const merge = await client.mergePullRequest(pull.number);

    const read = await client.getPullRequest(pull.number);

    expect(read?.state).toBe('closed');
    expect(read?.merged).toBe(true);
    expect(read?.mergeSha).toBe(merge.sha);
  });

  test('reads a pull request closed without merging', async () => {
    const client = fixture.client();
    const pull = await client.proposeComment(proposal('g03'));
    await client.closePullRequest(pull.number);

    const read = await client.getPullRequest(pull.number);

    expect(read?.state).toBe('closed');
    expect(read?.merged).toBe(false);
    expect(read?.mergeSha).toBeNull();
  });

  test('returns null for an unknown number', async () => {
    expect(await fixture.client().getPullRequest(999)).toBeNull();
  });
});

describe('baseBranchSha', () => {
  test('reads the head of main afresh', async () => {
    const client = fixture.client({ baseShaTtlMs: 60 * 60_000 });
    const before = await client.baseBranchSha();
    expect(before).toBe(await fixture.git('rev-parse', 'main'));
    const pull = await client.proposeComment(proposal('g04'));
    const merge = await client.mergePullRequest(pull.number);

    expect(await client.baseBranchSha()).toBe(merge.sha);
  });
});

describe('webhook delivery', () => {
  test('retries until the receiver accepts', async () => {
    const client = fixture.client();
    const pull = await client.proposeComment(proposal('w01'));
    fixture.receiver.failNext = 2;

    await client.closePullRequest(pull.number);
    await fixture.forge.webhooksIdle();

    const [delivery] = fixture.forge.deliveries();
    expect(delivery?.delivered).toBe(true);
    expect(delivery?.attempts.map((attempt) => attempt.status)).toEqual([503, 503, 204]);
    expect(fixture.receiver.received.length).toBe(1);
  });

  test('redelivers with the same id and body', async () => {
    const client = fixture.client();
    const pull = await client.proposeComment(proposal('w02'));
    await client.closePullRequest(pull.number);
    await fixture.forge.webhooksIdle();
    const [delivery] = fixture.forge.deliveries();

    await fixture.forge.redeliver(delivery?.id ?? '');

    const [first, second] = fixture.receiver.received;
    expect(second?.headers['x-github-delivery']).toBe(first?.headers['x-github-delivery']);
    expect(second?.body).toBe(first?.body);
  });
});

describe('readFile', () => {
  test.each([
    {
      path: 'content/posts/hello.md',
      ref: 'main',
      expected: '---\ntitle: Hello\n---\nFirst post.\n',
    },
    { path: 'content/posts/missing.md', ref: 'main', expected: null },
    { path: 'content/posts/hello.md', ref: 'no-such-branch', expected: null },
  ])('returns $expected for $path at $ref', async ({ path, ref, expected }) => {
    expect(await fixture.client().readFile(path, ref)).toBe(expected);
  });

  test('rejects a directory', async () => {
    const error = await rejection(fixture.client().readFile('content/posts', 'main'));

    expect(error).toBeInstanceOf(ForgeError);
  });
});

describe('deleteBranch', () => {
  test('removes the branch and accepts a missing one', async () => {
    const client = fixture.client();
    const pull = await client.proposeComment(proposal('b01'));
    await client.mergePullRequest(pull.number);

    await client.deleteBranch(pull.branch);
    await client.deleteBranch(pull.branch);

    expect(await fixture.git('for-each-ref', 'refs/heads/comments/')).toBe('');
  });

  test('refuses a branch that is not a comment branch', async () => {
    const error = await rejection(fixture.client().deleteBranch('main'));

    expect(error).toBeInstanceOf(Error);
    expect(await fixture.git('rev-parse', '--verify', 'main')).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('authentication', () => {
  test('rejects a bad token with 401', async () => {
    const error = await rejection(
      fixture.client({ token: 'wrong' }).proposeComment(proposal('a01')),
    );

    const forgeError = asForgeError(error);
    expect(forgeError.status).toBe(401);
    expect(forgeError.retryable).toBe(false);
    expect(forgeError.message).toContain('Bad credentials');
    expect(forgeError.message).not.toContain('wrong');
    expect(fixture.exchanges[0]?.responseBody).toMatchObject({ message: 'Bad credentials' });
  });
});

describe('restart', () => {
  test('keeps pull requests across a restart', async () => {
    const client = fixture.client();
    await client.proposeComment(proposal('r01'));
    await fixture.forge.close();

    const reopened = await startLocalForge({
      dataDir: `${fixture.dataDir}/forge`,
      owner: OWNER,
      repo: 'blog',
      token: TOKEN,
    });
    const recorder = checker.recordingFetch();
    const again = createGitHubForge({
      octokit: createOctokit({
        baseUrl: reopened.url,
        token: TOKEN,
        fetch: recorder.fetch,
      }),
      owner: OWNER,
      repo: 'blog',
      baseBranch: 'main',
    });
    const listed = await again.listPendingComments();
    await reopened.close();

    expect(listed.map((entry) => entry.commentId)).toEqual(['r01']);
    expect(problemsOf(recorder.exchanges)).toEqual([]);
  });
});
