// Submitting a comment and reading its receipt. The API returns "received" only after the outbox
// has committed the comment.
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import { createSubmissionGuard, RateLimitedError } from '../abuse/guard.ts';
import { ID_PATTERN } from '../content/schema.ts';
import { ApiError, errorBody } from '../errors.ts';
import { CANARY_HEADER } from '../monitor/canary.ts';
import { DEFAULT_THRESHOLDS } from '../monitor/checks.ts';
import { commentFingerprint } from '../outbox/fingerprint.ts';
import type { NewComment, StoredComment } from '../outbox/types.ts';
import type { PostInfo } from '../platform/content-index.ts';
import { errorMessage } from '../platform/logger.ts';
import { createAddressCipher } from '../privacy/address-cipher.ts';
import { prefersHtml, type AppEnv, type RouteDeps } from './context.ts';
import { tokensMatch } from './staff.ts';
import { readerPagePolicy, type SiteLink } from './html.ts';
import {
  formPage,
  messagePage,
  readerStatus,
  receiptsPage,
  statusPage,
  statusSentence,
  type PostLink,
  type ReceiptView,
} from './pages.ts';
import type { SiteVariant } from './sites.ts';
import {
  readSubmissionBody,
  validateSubmission,
  type ReadBody,
  type Submission,
  type SubmittedValues,
} from './submission.ts';

/** Sentences shown to the reader when the email address given with a comment was not kept. */
const ADDRESS_NOT_KEPT = {
  notificationsOff:
    'Reply notifications are off on this site, so the email address you gave was not kept.',
  repeated:
    'This comment repeats one sent earlier without an email address, so the address you gave ' +
    'this time was not kept.',
} as const;

export const RECEIPTS_COOKIE = 'marginalia_receipts';
/** Receipts the cookie remembers; older ones drop off. */
export const RECEIPTS_KEPT = 20;
const RECEIPTS_MAX_AGE_DAYS = 30;
const RECEIPTS_MAX_AGE_SECONDS = RECEIPTS_MAX_AGE_DAYS * 24 * 60 * 60;
/** The 404 page's sentence: readers reach it from a link, so it states where a good link is. */
const RECEIPT_NOT_FOUND_FOR_READERS =
  'No comment has this receipt. Check the link from your confirmation page, ' +
  'or send the comment again.';
/**
 * A repeat of the same comment (post, parent, author, visibility and text) within this time
 * returns the first receipt.
 */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;
/** Largest request body read, in bytes: a 20,000-character text, percent-encoded, fits. */
export const MAX_BODY_BYTES = 1024 * 1024;

interface Accepted {
  submission: Submission;
  post: PostInfo;
  variant: SiteVariant;
}

function isFormRequest(c: Context): boolean {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  return (
    type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')
  );
}

export function receiptsFromCookie(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split('.').filter((id) => ID_PATTERN.test(id));
}

export function commentRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { store, sites, posts, clock, ids, logger } = deps;
  const app = new Hono<AppEnv>();
  // Without a key, addresses are dropped as soon as the submission is validated.
  const addressCipher =
    deps.config.emailKey === undefined ? null : createAddressCipher({ key: deps.config.emailKey });
  const apiOrigin = new URL(deps.config.apiPublicUrl).origin;
  const publicOrigin = new URL(deps.config.publicSiteUrl).origin;
  const delayedAfterMs =
    (deps.maxOutboxAgeSeconds ??
      deps.config.monitor?.thresholds.maxOutboxAgeSeconds ??
      DEFAULT_THRESHOLDS.maxOutboxAgeSeconds) * 1000;
  const guard = createSubmissionGuard({
    config: deps.config,
    // The API's own form page, which shows a rejected comment again, posts from the API origin.
    allowedOrigins: new Set([...sites.allowedOrigins, apiOrigin]),
    siteHostnames: new Set(
      [deps.config.publicSiteUrl, deps.config.internalSiteUrl].map((url) => new URL(url).hostname),
    ),
    clock,
    logger,
    ...(deps.abuse === undefined ? {} : { abuse: deps.abuse }),
  });

  // Every HTML page of these routes, error pages included, runs no script and loads nothing.
  const pagePolicy = readerPagePolicy([...sites.allowedOrigins, apiOrigin]);
  app.use(async function readerPageHeaders(c, next) {
    await next();
    if (c.res.headers.get('content-type')?.startsWith('text/html')) {
      c.header('Content-Security-Policy', pagePolicy);
    }
  });

  /** Checks the validated submission against the posts and comments that exist. */
  async function checkAgainstContent(
    submission: Submission,
    variant: SiteVariant,
  ): Promise<Accepted> {
    if (variant === 'public' && submission.visibility === 'internal') {
      throw new ApiError('invalid_comment', {
        issues: [
          { field: 'visibility', message: 'can be set to internal only on the internal site' },
        ],
      });
    }
    const post = posts.get(submission.post);
    // The public site does not show internal posts, so to it they do not exist.
    if (post === undefined || (variant === 'public' && post.visibility !== 'public')) {
      throw new ApiError('post_not_found', {
        issues: [
          { field: 'post', message: `"${submission.post}" is not a post that takes comments` },
        ],
      });
    }
    if (post.visibility === 'internal' && submission.visibility === 'public') {
      throw new ApiError('invalid_comment', {
        issues: [
          {
            field: 'visibility',
            message: 'cannot be public on an internal post, which the public site never shows',
          },
        ],
      });
    }
    if (post.comments === 'closed') {
      throw new ApiError('comments_closed', {
        issues: [{ field: 'post', message: 'is closed to new comments' }],
      });
    }
    if (submission.parent !== null && !(await isCommentOf(submission.parent, post.id))) {
      throw new ApiError('parent_not_found', {
        issues: [
          { field: 'parent', message: `"${submission.parent}" is not a comment on this post` },
        ],
      });
    }
    return { submission, post, variant };
  }

  async function isCommentOf(commentId: string, postId: string): Promise<boolean> {
    if (deps.knownComments?.get(commentId) === postId) return true;
    const stored = await store.get(commentId);
    return stored !== null && stored.post === postId && stored.status !== 'declined';
  }

  function newComment({ submission, variant }: Accepted): NewComment {
    const now = clock.now();
    const visibility = submission.visibility ?? variant;
    return {
      id: ids.commentId(),
      post: submission.post,
      parent: submission.parent,
      author: submission.author,
      authorUrl: submission.authorUrl,
      visibility,
      source: variant,
      body: submission.text,
      date: now.toISOString(),
      fingerprint: commentFingerprint({
        post: submission.post,
        parent: submission.parent,
        author: submission.author,
        authorUrl: submission.authorUrl,
        visibility,
        body: submission.text,
      }),
      idempotencyKey: submission.idempotencyKey,
    };
  }

  /**
   * Returns the comment as its reader sees it: a comment still undelivered after the health
   * threshold for the outbox age is shown like a dead letter, "received, delivery delayed", so
   * that a reader learns of a stall rather than being shown "received" forever.
   */
  function asShown(comment: StoredComment): StoredComment {
    if (comment.status !== 'received') return comment;
    const ageMs = clock.now().getTime() - comment.createdAt.getTime();
    return ageMs > delayedAfterMs ? { ...comment, status: 'dead' } : comment;
  }

  /**
   * Returns true for a request of the canary, which carries the staff token in CANARY_HEADER.
   * Raises ApiError for a wrong token or an origin other than the public site, so that a
   * misconfigured canary fails loudly.
   */
  function isCanary(c: Context, origin: string): boolean {
    const presented = c.req.header(CANARY_HEADER);
    if (presented === undefined) return false;
    // The canary posts as a reader of the public site does; no other origin needs the exemption.
    if (origin !== publicOrigin) {
      throw new ApiError('unauthorized', {
        message: `The ${CANARY_HEADER} header is accepted only with the public site's Origin.`,
        field: CANARY_HEADER,
      });
    }
    if (tokensMatch(presented, deps.config.staffToken)) return true;
    throw new ApiError('unauthorized', {
      message: `The ${CANARY_HEADER} header does not carry the staff token.`,
      field: CANARY_HEADER,
    });
  }

  function rememberReceipt(c: Context, receipt: string): void {
    const earlier = receiptsFromCookie(getCookie(c, RECEIPTS_COOKIE)).filter(
      (id) => id !== receipt,
    );
    const remembered = [...earlier, receipt].slice(-RECEIPTS_KEPT);
    setCookie(c, RECEIPTS_COOKIE, remembered.join('.'), {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/api/comments',
      maxAge: RECEIPTS_MAX_AGE_SECONDS,
      secure: deps.config.apiPublicUrl.startsWith('https:'),
    });
  }

  /** Returns the blog of a variant, with the name its header shows. */
  function siteLink(variant: SiteVariant): SiteLink {
    if (variant === 'internal') {
      return { name: 'Marginalia internal', url: `${deps.config.internalSiteUrl}/` };
    }
    return { name: 'Marginalia', url: `${deps.config.publicSiteUrl}/` };
  }

  /** Returns the submitted post unless the site the form came from does not show it. */
  function shownPost(values: SubmittedValues, variant: SiteVariant): PostInfo | undefined {
    const post = values.post === undefined ? undefined : posts.get(values.post);
    if (post === undefined || (variant === 'public' && post.visibility !== 'public')) return;
    return post;
  }

  /** The page a rejected form links back to: returnTo on a site, else the post, else none. */
  function backLinkUrl(values: SubmittedValues, variant: SiteVariant): string | null {
    const post = shownPost(values, variant);
    if (post !== undefined) {
      return sites.returnUrl(values.returnTo, sites.postUrl(post, variant)).href;
    }
    if (values.returnTo === undefined) return null;
    const returned = sites.returnUrl(values.returnTo, new URL('about:blank'));
    return returned.href === 'about:blank' ? null : returned.href;
  }

  function rejectSubmission(
    c: Context<AppEnv>,
    error: ApiError,
    read: ReadBody | null,
    variant: SiteVariant,
  ): Response {
    if (!isFormRequest(c) || !prefersHtml(c, 'text/html')) {
      return c.json(errorBody(error, c.get('requestId')), error.status);
    }
    if (read === null) {
      // The body was never read, so the text cannot be shown again. The browser's own page
      // before this one usually still contains it.
      const message = `${error.message} Go back in your browser to find your text in the form.`;
      const page = messagePage('Your comment was not sent', message, {
        site: siteLink(variant),
        requestId: c.get('requestId'),
      });
      return c.html(page, error.status);
    }
    const post = shownPost(read.values, variant);
    const page = formPage({
      title: 'Your comment was not sent',
      message: error.message,
      issues: error.issues,
      values: read.values,
      action: sites.submitUrl(),
      post: post === undefined ? null : postLink(post, variant),
      showVisibility: variant === 'internal',
      keepKey: error.code !== 'idempotency_key_reused',
      backUrl: backLinkUrl(read.values, variant),
      site: siteLink(variant),
      requestId: c.get('requestId'),
    });
    return c.html(page, error.status);
  }

  /**
   * Responds to a submission dropped by the honeypot exactly as to a received one, so that a spam
   * script learns nothing; the receipt is made up and leads to no comment.
   */
  function answerSpam(c: Context<AppEnv>, read: ReadBody, variant: SiteVariant): Response {
    const receipt = ids.commentId();
    const emailGiven = read.values.email !== undefined;
    if (read.fromForm && prefersHtml(c, 'text/html')) {
      const post = shownPost(read.values, variant);
      const home = new URL(siteLink(variant).url);
      const target = sites.returnUrl(
        read.values.returnTo,
        post === undefined ? home : sites.postUrl(post, variant),
      );
      target.searchParams.set('comment', 'received');
      target.searchParams.set('receipt', receipt);
      target.hash = 'comment-status';
      if (emailGiven && addressCipher === null) {
        return addressNotKeptPage(c, target, ADDRESS_NOT_KEPT.notificationsOff, variant);
      }
      return c.redirect(target.href, 303);
    }
    return c.json(
      {
        receipt,
        status: 'received',
        statusUrl: sites.statusUrl(receipt),
        ...(emailGiven ? { emailKept: addressCipher !== null } : {}),
      },
      202,
    );
  }

  /**
   * Responds to a form post whose comment was received but whose email address was not kept.
   * The static post page cannot show that, so the reader gets a page with the reason and a
   * link on to the post.
   */
  function addressNotKeptPage(
    c: Context<AppEnv>,
    postTarget: URL,
    reason: string,
    variant: SiteVariant,
  ): Response {
    const page = messagePage('Your comment was received', `It is waiting for review. ${reason}`, {
      links: [{ href: postTarget.href, label: 'Back to the post' }],
      site: siteLink(variant),
    });
    return c.html(page, 202);
  }

  app.post(
    '/',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => {
        const variant = sites.variantOf(c.req.header('origin'));
        return rejectSubmission(c, new ApiError('body_too_large'), null, variant);
      },
    }),
    async (c) => {
      let origin: string;
      try {
        origin = guard.checkOrigin(c, c.get('requestId'));
      } catch (error) {
        if (error instanceof ApiError) return rejectSubmission(c, error, null, 'public');
        throw error;
      }
      const variant = sites.variantOf(origin);
      let read: ReadBody | null = null;
      let accepted: Accepted;
      let canary = false;
      try {
        read = await readSubmissionBody(c);
        if (read.guards.honeypotFilled) {
          guard.recordSpam(c.get('requestId'));
          return answerSpam(c, read, variant);
        }
        const checked = validateSubmission(read);
        if (!checked.ok) throw new ApiError('invalid_comment', { issues: checked.issues });
        accepted = await checkAgainstContent(checked.submission, variant);
        canary = isCanary(c, origin);
        // The canary is exempt from rate limits and Turnstile, which no machine can pass, but
        // goes through every other step a reader's comment does.
        if (!canary) {
          await guard.admit(c, {
            post: accepted.post.id,
            turnstileToken: read.guards.turnstileToken,
            requestId: c.get('requestId'),
          });
        }
      } catch (error) {
        if (error instanceof RateLimitedError) {
          c.header('Retry-After', String(error.retryAfterSeconds));
        }
        if (error instanceof ApiError) return rejectSubmission(c, error, read, variant);
        throw error;
      }

      const email = accepted.submission.email;
      let stored: StoredComment;
      let emailKept = false;
      try {
        const comment = { ...newComment(accepted), canary };
        const address =
          email === null || addressCipher === null
            ? undefined
            : await addressCipher.seal(comment.id, email);
        const result = await store.accept(comment, {
          now: clock.now(),
          duplicateWindowMs: DUPLICATE_WINDOW_MS,
          ...(address === undefined ? {} : { address }),
        });
        if (result.outcome === 'key_conflict') {
          const conflict = new ApiError('idempotency_key_reused', {
            issues: [
              { field: 'idempotencyKey', message: 'was already used for a different comment' },
            ],
          });
          return rejectSubmission(c, conflict, read, variant);
        }
        stored = result.comment;
        // A repeat keeps the first submission's address, or none when that one came without.
        // The comment is stored by now, so a failed lookup reports the address as not kept
        // rather than the comment as not received.
        if (address !== undefined && result.outcome === 'created') emailKept = true;
        if (address !== undefined && result.outcome === 'duplicate') {
          const commentId = stored.id;
          const earlier = await store.getAddress(commentId).catch((error: unknown) => {
            logger.error('reading the stored email address failed', {
              commentId,
              requestId: c.get('requestId'),
              error: errorMessage(error),
            });
            return null;
          });
          emailKept = earlier !== null;
        }
        if (result.outcome === 'created') await deps.wakeWorker(stored.id);
        logger.info(result.outcome === 'created' ? 'comment received' : 'comment repeated', {
          commentId: stored.id,
          post: stored.post,
          source: variant,
          requestId: c.get('requestId'),
        });
      } catch (error) {
        logger.error('storing comment failed', {
          post: accepted.post.id,
          requestId: c.get('requestId'),
          error: errorMessage(error),
        });
        return rejectSubmission(c, new ApiError('storage_unavailable'), read, variant);
      }

      rememberReceipt(c, stored.id);
      if (read.fromForm && prefersHtml(c, 'text/html')) {
        const target = sites.returnUrl(
          accepted.submission.returnTo ?? undefined,
          sites.postUrl(accepted.post, variant),
        );
        target.searchParams.set('comment', 'received');
        target.searchParams.set('receipt', stored.id);
        target.hash = 'comment-status';
        if (email !== null && !emailKept) {
          const reason =
            addressCipher === null ? ADDRESS_NOT_KEPT.notificationsOff : ADDRESS_NOT_KEPT.repeated;
          return addressNotKeptPage(c, target, reason, variant);
        }
        return c.redirect(target.href, 303);
      }
      return c.json(
        {
          receipt: stored.id,
          status: readerStatus(stored.status),
          statusUrl: sites.statusUrl(stored.id),
          ...(email === null ? {} : { emailKept }),
        },
        202,
      );
    },
  );

  function postLink(post: PostInfo, variant: SiteVariant): PostLink {
    return { title: post.title, url: sites.postUrl(post, variant).href };
  }

  /**
   * Picks the site a reader follows a comment to. That is the internal site when the comment was
   * sent from it, is internal, or is on an internal post. Otherwise it is the public site.
   */
  function siteOf(comment: StoredComment): SiteVariant {
    const post = posts.get(comment.post);
    const internal =
      comment.source === 'internal' ||
      comment.visibility === 'internal' ||
      post?.visibility === 'internal';
    return internal ? 'internal' : 'public';
  }

  function receiptView(comment: StoredComment, sentHere: ReadonlySet<string>): ReceiptView {
    const post = posts.get(comment.post);
    return {
      comment,
      post: post === undefined ? null : postLink(post, siteOf(comment)),
      sentFromThisBrowser: sentHere.has(comment.id),
    };
  }

  app.get('/mine', async (c) => {
    const receipts = receiptsFromCookie(getCookie(c, RECEIPTS_COOKIE));
    const comments = (await store.getMany(receipts)).reverse();
    if (!prefersHtml(c, 'text/html')) {
      return c.json({ receipts: comments.map((comment) => receiptJson(asShown(comment))) });
    }
    const sentHere = new Set(receipts);
    // The header links to the blog of the newest comment, the one the reader most likely came from.
    const newest = comments[0];
    const page = receiptsPage(
      comments.map((comment) => receiptView(asShown(comment), sentHere)),
      {
        site: siteLink(newest === undefined ? 'public' : siteOf(newest)),
        remembered: RECEIPTS_KEPT,
        rememberedDays: RECEIPTS_MAX_AGE_DAYS,
      },
    );
    return c.html(page);
  });

  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    const comment = ID_PATTERN.test(id) ? await store.get(id) : null;
    const html = prefersHtml(c, 'application/json');
    if (comment === null) {
      const error = new ApiError('receipt_not_found', { field: 'receipt' });
      if (!html) return c.json(errorBody(error, c.get('requestId')), 404);
      const page = messagePage('Comment not found', RECEIPT_NOT_FOUND_FOR_READERS, {
        links: [{ href: 'mine', label: 'See the comments sent from this browser' }],
        site: siteLink('public'),
      });
      return c.html(page, 404);
    }
    if (!html) return c.json(receiptJson(asShown(comment)));
    const sentHere = new Set(receiptsFromCookie(getCookie(c, RECEIPTS_COOKIE)));
    return c.html(statusPage(receiptView(asShown(comment), sentHere), siteLink(siteOf(comment))));
  });

  return app;
}

/**
 * Describes a comment for its reader. A dead letter reads as `status: 'received'` with
 * `delayed: true`, so that clients written for the four reader statuses keep working.
 */
export function receiptJson(comment: StoredComment) {
  return {
    receipt: comment.id,
    status: readerStatus(comment.status),
    delayed: comment.status === 'dead',
    message: statusSentence(comment),
    post: comment.post,
    createdAt: comment.createdAt.toISOString(),
    updatedAt: comment.updatedAt.toISOString(),
    ...(comment.pullRequest === null ? {} : { pullRequest: comment.pullRequest }),
  };
}
