import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCommentFile } from '../../api/content/front-matter.ts';
import { DEFAULT_MAX_DELIVERY_ATTEMPTS, retryDelayMs } from '../../api/delivery/backoff.ts';
import { PREVIEW_LIMIT, buildProposal, proposalTitle } from '../../api/delivery/proposal.ts';
import { ForgeError } from '../../api/forge/types.ts';
import {
  EXISTING_COMMENT,
  VALID_COMMENT,
  createHarness,
  readJson,
  submitComment,
  type Harness,
} from './harness.ts';

let harness: Harness;
beforeEach(async () => {
  harness = await createHarness();
});
afterEach(async () => {
  await harness.close();
});

function forgeError(retryable: boolean, retryAfterMs: number | null = null): ForgeError {
  return new ForgeError('proposeComment: create branch returned 503', {
    operation: 'proposeComment: create branch',
    status: 503,
    requestId: 'ABCD:1234',
    retryable,
    retryAfterMs,
  });
}

describe('delivery worker', () => {
  it('proposes a received comment as a pull request', async () => {
    const receipt = await submitComment(harness);
    const outcomes = await harness.worker.drain();
    expect(outcomes).toEqual([
      expect.objectContaining({ commentId: receipt, outcome: 'proposed' }),
    ]);
    const stored = await harness.store.get(receipt);
    expect(stored?.status).toBe('proposed');
    expect(stored?.pullRequest).toEqual({ number: 1, url: 'http://127.0.0.1:9/pulls/1' });
  });

  it('writes the file with the exact text', async () => {
    const text = '---\ntitle: not front matter\n---\r\nCaf\u00e9 🎉 שלום';
    const receipt = await submitComment(harness, {
      ...VALID_COMMENT,
      text,
      parent: EXISTING_COMMENT,
    });
    await harness.worker.drain();
    const proposal = harness.forge.pulls[0]?.proposal;
    expect(proposal?.path).toBe(`content/comments/hello-world/${receipt}.md`);
    const file = parseCommentFile(proposal?.content ?? '');
    expect(file.body).toBe(text);
    expect(file.parent).toBe(EXISTING_COMMENT);
    expect(file.source).toBe('public');
    expect(file.date).toBe('2026-03-01T12:00:00.000Z');
  });

  it('titles the pull request with the author and the post', async () => {
    await submitComment(harness);
    await harness.worker.drain();
    expect(harness.forge.pulls[0]?.title).toBe('Comment by Ada Reader on “Hello, world”');
  });

  it('labels the pull request with its visibility', async () => {
    await submitComment(harness);
    await harness.worker.drain();
    expect(harness.forge.pulls[0]?.proposal.labels).toEqual(['comment', 'public']);
  });

  it('lists the metadata in the pull request body', async () => {
    const receipt = await submitComment(harness, { ...VALID_COMMENT, author: '@octocat' });
    await harness.worker.drain();
    const body = harness.forge.pulls[0]?.proposal.body ?? '';
    expect(body).toContain('- Post: `hello-world` (`Hello, world`)');
    expect(body).toContain(`- Receipt: \`${receipt}\``);
    expect(body).toContain('- Author: `@octocat`');
    expect(body).toContain('- Visibility: public');
    expect(body).toContain('- Source: public site');
    expect(body).toContain('- Reply to: none, a top-level comment');
  });

  it('retries a failed delivery after a backoff', async () => {
    harness.forge.failNext('proposeComment', forgeError(true));
    const receipt = await submitComment(harness);
    const [failed] = await harness.worker.drain();
    expect(failed?.outcome).toBe('failed');
    const stored = await harness.store.get(receipt);
    expect(stored?.status).toBe('received');
    expect(stored?.attempts).toBe(1);
    expect(stored?.lastError).toContain('503');
    expect(await harness.worker.runOnce()).toBeNull();
    harness.clock.advance(1_000);
    expect((await harness.worker.runOnce())?.outcome).toBe('proposed');
  });

  it('waits out the retry-after the forge asked for', async () => {
    harness.forge.failNext('proposeComment', forgeError(true, 60_000));
    const receipt = await submitComment(harness);
    await harness.worker.drain();
    const stored = await harness.store.get(receipt);
    expect(stored?.nextAttemptAt?.getTime()).toBe(harness.clock.now().getTime() + 60_000);
  });

  it('retries a permanent failure at the longest interval', async () => {
    harness.forge.failNext('proposeComment', forgeError(false));
    const receipt = await submitComment(harness);
    await harness.worker.drain();
    const stored = await harness.store.get(receipt);
    expect(stored?.nextAttemptAt?.getTime()).toBe(harness.clock.now().getTime() + 5 * 60_000);
    expect(harness.logs.join('')).toContain('"forgeRequestId":"ABCD:1234"');
  });

  it('never drops a repeatedly failing comment', async () => {
    // One failure fewer than the limit, past which the comment would become a dead letter.
    const failures = DEFAULT_MAX_DELIVERY_ATTEMPTS - 1;
    const errors = Array.from({ length: failures }, () => forgeError(true));
    harness.forge.failNext('proposeComment', ...errors);
    const receipt = await submitComment(harness);
    for (let i = 0; i < failures; i++) {
      expect((await harness.worker.runOnce())?.outcome).toBe('failed');
      harness.clock.advance(5 * 60_000);
    }
    expect((await harness.worker.runOnce())?.outcome).toBe('proposed');
    expect((await harness.store.get(receipt))?.attempts).toBe(failures);
  });

  it('delivers comments oldest first', async () => {
    const first = await submitComment(harness);
    harness.clock.advance(1);
    const second = await submitComment(harness, { ...VALID_COMMENT, text: 'Second' });
    const outcomes = await harness.worker.drain();
    expect(outcomes.map((outcome) => outcome.commentId)).toEqual([first, second]);
  });

  it('keeps published after a late proposal', async () => {
    const receipt = await submitComment(harness);
    await harness.store.markPublished(receipt, harness.clock.now());
    await harness.store.markProposed(
      receipt,
      { number: 4, url: 'http://127.0.0.1:9/4' },
      harness.clock.now(),
    );
    expect((await harness.store.get(receipt))?.status).toBe('published');
  });

  it('logs each delivery attempt', async () => {
    const receipt = await submitComment(harness);
    await harness.worker.drain();
    const line = harness.logs
      .map((text) => JSON.parse(text))
      .find((entry) => entry.message === 'comment proposed');
    expect(line).toMatchObject({
      commentId: receipt,
      outcome: 'proposed',
      pullRequest: 1,
      attempt: 1,
    });
  });

  it('logs a failed attempt with its next retry', async () => {
    const receipt = await submitComment(harness);
    harness.forge.failNext(
      'proposeComment',
      new ForgeError('GitHub create branch failed with HTTP 502: Server Error.', {
        operation: 'create branch',
        status: 502,
        requestId: 'ABCD:1234',
        retryable: true,
        retryAfterMs: null,
      }),
    );
    await harness.worker.runOnce();
    const line = harness.logs
      .map((text) => JSON.parse(text))
      .find((entry) => entry.message === 'comment delivery failed, will retry');
    expect(line).toMatchObject({
      commentId: receipt,
      outcome: 'failed',
      attempt: 1,
      forgeRequestId: 'ABCD:1234',
    });
    const stored = await harness.store.get(receipt);
    expect(line.nextAttemptAt).toBe(stored?.nextAttemptAt?.toISOString());
    expect(line).not.toHaveProperty('body');
  });

  it('delivers in the background after a wake', async () => {
    harness.worker.start();
    const receipt = await submitComment(harness);
    harness.worker.wake();
    for (let i = 0; i < 100 && (await harness.store.get(receipt))?.status !== 'proposed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await harness.worker.stop();
    expect((await harness.store.get(receipt))?.status).toBe('proposed');
  });

  it('reports the proposed status on the receipt', async () => {
    const receipt = await submitComment(harness);
    await harness.worker.drain();
    const response = await harness.app.request(`/api/comments/${receipt}`);
    expect(await readJson(response)).toMatchObject({
      status: 'proposed',
      pullRequest: { number: 1, url: 'http://127.0.0.1:9/pulls/1' },
    });
  });
});

describe('proposal', () => {
  const stored = {
    id: '01hxxxxxxxxxxxxxxxxxxxxxxx',
    post: 'hello-world',
    parent: null,
    author: 'Ada',
    authorUrl: null,
    visibility: 'public' as const,
    source: 'public' as const,
    body: 'x',
    date: '2026-03-01T12:00:00.000Z',
    fingerprint: 'f',
    idempotencyKey: null,
    canary: false,
    status: 'received' as const,
    attempts: 0,
    nextAttemptAt: null,
    lastError: null,
    pullRequest: null,
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };

  it('bounds the preview of a long text and says so', () => {
    const proposal = buildProposal({ ...stored, body: '😀'.repeat(10_000) }, 'Post');
    expect(proposal.body).toContain('😀'.repeat(PREVIEW_LIMIT) + '\n```');
    expect(proposal.body).not.toContain('😀'.repeat(PREVIEW_LIMIT + 1));
    expect(proposal.body).toContain('first 4,000 of 10,000 characters');
    expect(proposal.body.length).toBeLessThan(65_536);
  });

  it.each([
    ['links', '[a](https://example.org/) '],
    ['angle brackets', '<'],
    ['emphasis', '*a* '],
    ['list items', '- a\n'],
    ['ampersands', '&'],
    ['footnotes', '[^a]\n\n[^a]: b\n'],
  ])("keeps a body of %s under GitHub's limit", (_name, unit) => {
    const body = unit.repeat(Math.ceil(20_000 / unit.length)).slice(0, 20_000);
    expect(buildProposal({ ...stored, body }, 'Post').body.length).toBeLessThan(65_536);
  });

  it('shows the comment as the sites render it', () => {
    const proposal = buildProposal(
      { ...stored, body: '**bold**\n\n```\none\n\n# two\n```\n<script>x</script>' },
      'Post',
    );
    const rendered = proposal.body.split('\n').find((line) => line.startsWith('<div>')) ?? '';
    expect(rendered).toContain('<strong>bold</strong>');
    expect(rendered).toContain('one&#10;&#10;# two');
    expect(rendered).toContain('&#x3C;script>x&#x3C;/script>');
    expect(rendered).not.toContain('<script>');
  });

  it('fences a text that contains backticks', () => {
    const proposal = buildProposal({ ...stored, body: 'a\n````\nb' }, 'Post');
    expect(proposal.body).toContain('`````text\na\n````\nb\n`````');
  });

  it('puts a multi-line author on one line of the title', () => {
    expect(proposalTitle('Ada\nLovelace', 'Post')).toBe('Comment by Ada Lovelace on “Post”');
  });

  it('shortens a very long title', () => {
    const title = proposalTitle('a'.repeat(80), 'p'.repeat(200));
    expect(Array.from(title)).toHaveLength(200);
    expect(title.endsWith('…')).toBe(true);
  });
});

describe('retry delay', () => {
  it.each([
    [1, 500, 1_000],
    [2, 1_000, 2_000],
    [5, 8_000, 16_000],
    [20, 150_000, 300_000],
  ])('after %i failures lies between %i and %i ms', (attempts, low, high) => {
    expect(retryDelayMs(attempts, { baseMs: 1_000, maxMs: 300_000 }, () => 0, null)).toBe(low);
    expect(retryDelayMs(attempts, { baseMs: 1_000, maxMs: 300_000 }, () => 1, null)).toBe(high);
  });

  it('is never shorter than retry-after', () => {
    expect(retryDelayMs(1, { baseMs: 1_000, maxMs: 300_000 }, () => 0, 45_000)).toBe(45_000);
  });
});
