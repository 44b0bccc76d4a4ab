// Forge webhooks, signed as GitHub signs them: X-Hub-Signature-256 is "sha256=" and the hex
// HMAC-SHA256 of the raw body, keyed with the shared webhook secret. A closed comment pull
// request publishes or declines its comment.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import * as v from 'valibot';
import { ApiError, errorBody } from '../errors.ts';
import { commentIdFromBranch } from '../forge/types.ts';
import type { ReviewOutcome } from '../outbox/types.ts';
import { runDetached, type AppEnv, type RouteDeps } from './context.ts';

const SIGNATURE_PATTERN = /^sha256=([0-9a-f]{64})$/i;
const DELIVERY_PATTERN = /^[\w.-]{1,200}$/;

/** True when `header` is the HMAC-SHA256 signature of `body` under `secret`. */
export function verifySignature(
  secret: string,
  body: Uint8Array,
  header: string | undefined,
): boolean {
  const match = header === undefined ? null : SIGNATURE_PATTERN.exec(header.trim());
  if (match?.[1] === undefined) return false;
  const presented = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/** Computes the X-Hub-Signature-256 header value for `body`. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const PullRequestEventSchema = v.object({
  action: v.string(),
  pull_request: v.object({
    number: v.number(),
    merged: v.optional(v.nullable(v.boolean()), false),
    merge_commit_sha: v.optional(v.nullable(v.string()), null),
    head: v.object({ ref: v.string() }),
  }),
});

export function webhookRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { store, clock, logger, forge, config } = deps;
  const app = new Hono<AppEnv>();

  app.post('/forge', async (c) => {
    const requestId = c.get('requestId');
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (!verifySignature(config.webhookSecret, body, c.req.header('x-hub-signature-256'))) {
      logger.warn('webhook rejected: bad signature', { requestId });
      return c.json(errorBody(new ApiError('webhook_signature_invalid'), requestId), 401);
    }

    const event = c.req.header('x-github-event') ?? '';
    if (event === 'ping') return c.json({ ok: true, event });
    const deliveryId = c.req.header('x-github-delivery') ?? '';
    if (!DELIVERY_PATTERN.test(deliveryId)) {
      return c.json(errorBody(new ApiError('webhook_delivery_missing'), requestId), 400);
    }

    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder().decode(body));
    } catch {
      const error = new ApiError('malformed_body', { message: 'The webhook body is not JSON.' });
      return c.json(errorBody(error, requestId), 400);
    }

    let review: ReviewOutcome | null = null;
    let branch: string | null = null;
    const parsed = event === 'pull_request' ? v.safeParse(PullRequestEventSchema, payload) : null;
    if (parsed?.success && parsed.output.action === 'closed') {
      const pr = parsed.output.pull_request;
      const commentId = commentIdFromBranch(pr.head.ref);
      if (commentId !== null) {
        branch = pr.head.ref;
        review = { commentId, merged: pr.merged === true, mergeSha: pr.merge_commit_sha };
      }
    }

    const result = await store.recordWebhook({
      deliveryId,
      event,
      receivedAt: clock.now(),
      review,
    });
    if (result.duplicate) {
      logger.info('webhook redelivered, ignored', { deliveryId, event, requestId });
      return c.json({ duplicate: true });
    }
    if (review === null || branch === null) {
      return c.json({ ignored: true, event }, 202);
    }

    logger.info(review.merged ? 'comment published' : 'comment declined', {
      commentId: review.commentId,
      deliveryId,
      requestId,
    });
    const mergeSha = review.mergeSha;
    // NOTE: the merge is recorded before the rebuild runs, so a crash in between leaves the sites
    // without this comment until the next rebuild.
    if (result.newMerge && mergeSha !== null) {
      runDetached(logger, 'rebuild after merge', { mergeSha }, () => deps.onMerged(mergeSha));
    }
    const closedBranch = branch;
    runDetached(logger, 'deleting comment branch', { branch }, () =>
      forge.deleteBranch(closedBranch),
    );
    return c.json({
      receipt: review.commentId,
      status: result.comment?.status ?? (review.merged ? 'published' : 'declined'),
      known: result.comment !== null,
    });
  });

  return app;
}
