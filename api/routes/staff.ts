// Staff review: list the comments waiting as pull requests, approve (merge) or decline (close)
// them. Every route needs "Authorization: Bearer <staff token>" or, when Cloudflare Access is
// configured, the application token Access adds as the Cf-Access-Jwt-Assertion header.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import {
  ACCESS_JWT_HEADER,
  AccessError,
  createAccessVerifier,
  type AccessVerifier,
} from '../auth/access-jwt.ts';
import { ID_PATTERN } from '../content/schema.ts';
import { ApiError, errorBody } from '../errors.ts';
import { commentBranch, type PendingPullRequest } from '../forge/types.ts';
import type { StoredComment } from '../outbox/types.ts';
import { errorMessage, type Logger } from '../platform/logger.ts';
import { runDetached, type AppEnv, type RouteDeps } from './context.ts';

/** True when `presented` equals `expected`, in time that does not depend on where they differ. */
export function tokensMatch(presented: string, expected: string): boolean {
  // Hashing first gives equal lengths, which timingSafeEqual requires, without leaking length.
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export interface StaffAuthOptions {
  staffToken: string;
  /** Verifies Cloudflare Access tokens; when absent, only the staff token is accepted. */
  access?: AccessVerifier;
  logger: Logger;
}

/**
 * Rejects requests without staff credentials with 401. A valid staff bearer token or a valid
 * Access token lets the request through. A request that sent neither gets `unauthorized`. One
 * that sent a wrong bearer token or an invalid Access token gets `invalid_token`, which the
 * WWW-Authenticate header repeats as its error, as RFC 6750 section 3 describes. The header is
 * read and the cookie CF_Authorization is not: Access adds the header to every request it lets
 * through, and a cookie alone would let another site send staff actions in a browser.
 */
export function requireStaff(options: StaffAuthOptions): MiddlewareHandler<AppEnv> {
  const { staffToken, access, logger } = options;
  return async function staffAuth(c, next) {
    const requestId = c.get('requestId');
    const header = c.req.header('authorization') ?? '';
    const presented = /^Bearer +(\S+)\s*$/i.exec(header)?.[1];
    if (presented !== undefined && tokensMatch(presented, staffToken)) return next();

    const assertion = access === undefined ? undefined : c.req.header(ACCESS_JWT_HEADER);
    if (access !== undefined && assertion !== undefined) {
      try {
        await access.verify(assertion.trim());
        return next();
      } catch (error) {
        if (!(error instanceof AccessError)) throw error;
        if (error.reason === 'keys_unavailable') {
          logger.error('verifying the Access token failed', { requestId, error: error.message });
          const failure = new ApiError('internal_error', {
            message:
              'Staff sign-in could not be checked because the Cloudflare Access signing keys ' +
              'could not be fetched. Try again in a minute; if it keeps failing, check the ' +
              'API logs.',
          });
          return c.json(errorBody(failure, requestId), failure.status);
        }
        logger.warn('Access token rejected', { requestId, reason: error.reason });
        c.header('WWW-Authenticate', 'Bearer realm="marginalia-staff", error="invalid_token"');
        const rejection = new ApiError('invalid_token', {
          message: `The Cloudflare Access token (Cf-Access-Jwt-Assertion) was rejected. ${error.message}`,
        });
        return c.json(errorBody(rejection, requestId), 401);
      }
    }

    if (presented === undefined) {
      c.header('WWW-Authenticate', 'Bearer realm="marginalia-staff"');
      return c.json(errorBody(new ApiError('unauthorized'), requestId), 401);
    }
    c.header('WWW-Authenticate', 'Bearer realm="marginalia-staff", error="invalid_token"');
    return c.json(errorBody(new ApiError('invalid_token'), requestId), 401);
  };
}

export function staffRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { store, forge, posts, clock, logger } = deps;
  const app = new Hono<AppEnv>();
  const accessConfig = deps.config.access;
  // NOTE: the verifier fetches keys with the global fetch, because AppDeps has no fetch to inject.
  const access =
    accessConfig === undefined
      ? undefined
      : createAccessVerifier({
          ...accessConfig,
          fetch: (input, init) => fetch(input, init),
          clock,
        });
  app.use(requireStaff({ staffToken: deps.config.staffToken, access, logger }));

  function pendingItem(pr: PendingPullRequest, comment: StoredComment | null) {
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
    // The canary's pull request is open for a moment before the monitor closes it; staff never
    // review it, so it is left out.
    const comments = await Promise.all(pending.map((pr) => store.get(pr.commentId)));
    const items = pending.flatMap((pr, index) => {
      const comment = comments[index] ?? null;
      return comment?.canary === true ? [] : [pendingItem(pr, comment)];
    });
    return c.json({ comments: items });
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
      if (comment.canary) throw new ApiError('canary_comment');
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
