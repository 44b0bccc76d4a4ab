// Staff review: list the comments waiting as pull requests, approve (merge) or decline (close)
// them. Every route needs "Authorization: Bearer <staff token>".
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { ID_PATTERN } from '../content/schema.ts';
import { ApiError, errorBody } from '../errors.ts';
import { commentBranch, type PendingPullRequest } from '../forge/types.ts';
import { errorMessage } from '../platform/logger.ts';
import { runDetached, type AppEnv, type RouteDeps } from './context.ts';

/** True when `presented` equals `expected`, in time that does not depend on where they differ. */
export function tokensMatch(presented: string, expected: string): boolean {
  // Hashing first gives equal lengths, which timingSafeEqual requires, without leaking length.
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Rejects requests without the staff token with 401. A request that sent no bearer token gets
 * `unauthorized`. One that sent a different token gets `invalid_token`, which the
 * WWW-Authenticate header repeats as its error, as RFC 6750 section 3 describes.
 */
export function requireStaff(staffToken: string): MiddlewareHandler<AppEnv> {
  return async function staffAuth(c, next) {
    const header = c.req.header('authorization') ?? '';
    const presented = /^Bearer +(\S+)\s*$/i.exec(header)?.[1];
    if (presented === undefined) {
      c.header('WWW-Authenticate', 'Bearer realm="marginalia-staff"');
      return c.json(errorBody(new ApiError('unauthorized'), c.get('requestId')), 401);
    }
    if (!tokensMatch(presented, staffToken)) {
      c.header('WWW-Authenticate', 'Bearer realm="marginalia-staff", error="invalid_token"');
      return c.json(errorBody(new ApiError('invalid_token'), c.get('requestId')), 401);
    }
    await next();
  };
}

export function staffRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { store, forge, posts, clock, logger } = deps;
  const app = new Hono<AppEnv>();
  app.use(requireStaff(deps.config.staffToken));

  async function pendingItem(pr: PendingPullRequest) {
    const comment = await store.get(pr.commentId);
    const pullRequest = { number: pr.number, url: pr.url };
    if (comment === null) {
      // NOTE: a pull request whose comment is not in this outbox (another API instance, or a
      // lost database) is listed without its text, because its file path needs the post id.
      return { receipt: pr.commentId, title: pr.title, createdAt: pr.createdAt, pullRequest };
    }
    return {
      receipt: comment.id,
      title: pr.title,
      post: { id: comment.post, title: posts.get(comment.post)?.title ?? null },
      author: comment.author,
      authorUrl: comment.authorUrl,
      date: comment.date,
      visibility: comment.visibility,
      source: comment.source,
      parent: comment.parent,
      text: comment.body,
      html: deps.renderMarkdown(comment.body),
      createdAt: pr.createdAt,
      pullRequest,
    };
  }

  app.get('/comments', async (c) => {
    let pending: PendingPullRequest[];
    try {
      pending = await forge.listPendingComments();
    } catch (error) {
      logger.error('listing pending comments failed', { error: errorMessage(error) });
      return c.json(errorBody(new ApiError('forge_failed'), c.get('requestId')), 502);
    }
    return c.json({ comments: await Promise.all(pending.map(pendingItem)) });
  });

  // The webhook deletes the branch as well; deleting an absent branch is not an error.
  function deleteBranchLater(commentId: string): void {
    const branch = commentBranch(commentId);
    runDetached(logger, 'deleting comment branch', { branch }, () => forge.deleteBranch(branch));
  }

  async function findProposed(id: string) {
    const comment = ID_PATTERN.test(id) ? await store.get(id) : null;
    if (comment === null) throw new ApiError('receipt_not_found', { field: 'receipt' });
    return comment;
  }

  app.post('/comments/:id/approve', async (c) => {
    const requestId = c.get('requestId');
    try {
      const comment = await findProposed(c.req.param('id'));
      if (comment.status === 'published')
        return c.json({ receipt: comment.id, status: 'published' });
      if (comment.status === 'declined') throw new ApiError('already_declined');
      if (comment.pullRequest === null) throw new ApiError('not_yet_proposed');
      const { number } = comment.pullRequest;

      const result = await forge.mergePullRequest(number).catch((error: unknown) => {
        logger.error('merging comment failed', {
          commentId: comment.id,
          pullRequest: number,
          error: errorMessage(error),
        });
        throw new ApiError('forge_failed');
      });
      if (!result.merged) {
        throw new ApiError('forge_failed', {
          message: `The forge did not merge pull request #${number}. Check it on the forge.`,
        });
      }
      // The webhook marks it too; both updates are idempotent, and the merge sha is recorded once.
      const now = clock.now();
      await store.markPublished(comment.id, now);
      if (await store.recordMerge(result.sha, comment.id, now)) {
        runDetached(logger, 'rebuild after merge', { mergeSha: result.sha }, () =>
          deps.onMerged(result.sha),
        );
      }
      deleteBranchLater(comment.id);
      logger.info('comment approved', { commentId: comment.id, pullRequest: number, requestId });
      return c.json({ receipt: comment.id, status: 'published', mergeSha: result.sha });
    } catch (error) {
      if (error instanceof ApiError) return c.json(errorBody(error, requestId), error.status);
      throw error;
    }
  });

  app.post('/comments/:id/decline', async (c) => {
    const requestId = c.get('requestId');
    try {
      const comment = await findProposed(c.req.param('id'));
      if (comment.status === 'declined') return c.json({ receipt: comment.id, status: 'declined' });
      if (comment.status === 'published') throw new ApiError('already_published');
      if (comment.pullRequest === null) throw new ApiError('not_yet_proposed');
      const { number } = comment.pullRequest;

      await forge.closePullRequest(number).catch((error: unknown) => {
        logger.error('closing comment failed', {
          commentId: comment.id,
          pullRequest: number,
          error: errorMessage(error),
        });
        throw new ApiError('forge_failed');
      });
      await store.markDeclined(comment.id, clock.now());
      deleteBranchLater(comment.id);
      logger.info('comment declined by staff', {
        commentId: comment.id,
        pullRequest: number,
        requestId,
      });
      return c.json({ receipt: comment.id, status: 'declined' });
    } catch (error) {
      if (error instanceof ApiError) return c.json(errorBody(error, requestId), error.status);
      throw error;
    }
  });

  return app;
}
