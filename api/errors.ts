// The API's error catalog. Each code is permanent, so clients and the sites may branch on it. The
// message states what failed and what to do, and the site shows the reader the message.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { FieldIssue } from './content/schema.ts';

export const ERRORS = {
  malformed_body: {
    status: 400,
    message: 'The request body could not be read. Send JSON or an HTML form.',
  },
  unsupported_media_type: {
    status: 415,
    message:
      'The request body type is not supported. Send application/json, ' +
      'application/x-www-form-urlencoded or multipart/form-data.',
  },
  body_too_large: {
    status: 413,
    message: 'The request body is too large. A comment may be at most 20,000 characters.',
  },
  invalid_comment: {
    status: 422,
    message: 'The comment was not accepted. Correct the fields listed and send it again.',
  },
  post_not_found: {
    status: 404,
    message: 'No post with this id accepts comments. Go back to the post and comment from there.',
  },
  comments_closed: {
    status: 409,
    message: 'Comments are closed on this post, so no new comment can be added.',
  },
  parent_not_found: {
    status: 422,
    message: 'The comment being replied to was not found on this post.',
  },
  idempotency_key_reused: {
    status: 409,
    message:
      'This idempotency key was already used for a different comment. ' +
      'Send the new comment with a new key, or with none.',
  },
  /** The Origin header (or Referer) is missing, "null", or not one of the sites. */
  origin_not_allowed: {
    status: 403,
    message:
      "The Origin header does not name one of the blog's sites, so the comment was not " +
      'accepted. Send the comment from the form on the post.',
  },
  rate_limited: {
    status: 429,
    message:
      'Too many comments were sent in a short time, so this one was not accepted. ' +
      'Wait a few minutes, then send it again.',
  },
  /** The Cloudflare Turnstile token is missing or siteverify did not accept it. */
  turnstile_failed: {
    status: 403,
    message:
      'The anti-spam check (cf-turnstile-response) failed. Complete the check again, ' +
      'then send the comment.',
  },
  turnstile_unavailable: {
    status: 503,
    message:
      'The anti-spam check could not be completed, so the comment was not stored. ' +
      'Send it again in a minute.',
  },
  storage_unavailable: {
    status: 503,
    message:
      'The comment could not be stored, so it was not received. Your text is kept below: ' +
      'send it again in a minute.',
  },
  receipt_not_found: {
    status: 404,
    message: 'No comment has this receipt id. Check the link, or submit the comment again.',
  },
  not_found: {
    status: 404,
    message: 'Nothing is served at this path.',
  },
  unauthorized: {
    status: 401,
    message: 'A staff token is required: send it as "Authorization: Bearer <token>".',
  },
  /** A bearer token was sent, but it is not the staff token. */
  invalid_token: {
    status: 401,
    message:
      'The staff token is not valid. Send the token the API was started with ' +
      '(MARGINALIA_STAFF_TOKEN) as "Authorization: Bearer <token>".',
  },
  webhook_signature_invalid: {
    status: 401,
    message:
      'The webhook signature is missing or does not match the body. ' +
      'Check that the webhook secret is the same on the forge and the API.',
  },
  webhook_delivery_missing: {
    status: 400,
    message: 'The webhook has no X-GitHub-Delivery header, so a redelivery could not be detected.',
  },
  not_yet_proposed: {
    status: 409,
    message:
      'This comment has no pull request yet because delivery to the forge is still pending. ' +
      'Try again after it is proposed.',
  },
  canary_comment: {
    status: 409,
    message:
      'This is a synthetic comment of the canary, which closes it without merging, so it cannot ' +
      'be approved.',
  },
  already_declined: {
    status: 409,
    message: 'This comment was declined, so it cannot be approved.',
  },
  already_published: {
    status: 409,
    message: 'This comment was already published, so it cannot be declined.',
  },
  forge_failed: {
    status: 502,
    message: 'The forge did not complete the request. Try again; the comment is unchanged.',
  },
  internal_error: {
    status: 500,
    message: 'The server failed to handle the request. Try again; if it keeps failing, tell staff.',
  },
} as const satisfies Record<string, { status: ContentfulStatusCode; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error the API returns to the client with its catalog code and the fields that failed. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly field: string | null;
  readonly issues: FieldIssue[];

  constructor(
    code: ErrorCode,
    options: { message?: string; field?: string; issues?: FieldIssue[] } = {},
  ) {
    super(options.message ?? ERRORS[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.field = options.field ?? options.issues?.[0]?.field ?? null;
    this.issues = options.issues ?? [];
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; field: string | null; requestId: string };
  issues: FieldIssue[];
}

export function errorBody(error: ApiError, requestId: string): ErrorBody {
  return {
    error: { code: error.code, message: error.message, field: error.field, requestId },
    issues: error.issues,
  };
}
