// The forge is the git host of the site's repository: GitHub in production, the local
// forge on one machine. The API talks to it only through this interface.

/** Everything needed to propose one comment as a pull request. */
export interface CommentProposal {
  /** Server-generated comment id; every step is keyed by it, so a retry finds its own work. */
  commentId: string;
  /** File path in the repository, such as content/comments/<post>/<comment>.md. */
  path: string;
  /** The whole file: front matter and body. */
  content: string;
  title: string;
  /** Pull request description for staff, already bounded in size. */
  body: string;
  labels: string[];
  /** Applies the labels even where the client skips labels to save a write (the canary's). */
  alwaysLabel?: boolean;
}

export interface PullRequestRef {
  number: number;
  /** Page where staff review the pull request. */
  url: string;
  branch: string;
}

/** An open pull request that adds one comment file. */
export interface PendingPullRequest extends PullRequestRef {
  commentId: string;
  title: string;
  createdAt: string;
}

/** A pull request's review state as the forge reports it now. */
export interface PullRequestStatus extends PullRequestRef {
  state: 'open' | 'closed';
  /** True when the pull request was merged; GitHub reports a merged one as closed. */
  merged: boolean;
  /** The merge commit on the base branch, when merged. */
  mergeSha: string | null;
}

export interface MergeResult {
  merged: boolean;
  /** The merge commit on the base branch. */
  sha: string;
}

/** One requirement checked against the forge, with what was found. */
export interface ForgeAccessCheck {
  /** The requirement checked: credentials, repository, base branch or permissions. */
  name: 'credentials' | 'repository' | 'base branch' | 'permissions';
  ok: boolean;
  /** The finding, and when not ok, the change to make. */
  detail: string;
}

export interface ForgeAccessReport {
  /** True when every check passed. */
  ok: boolean;
  checks: ForgeAccessCheck[];
}

export interface ForgeClient {
  /**
   * Checks that the credentials work, the repository and its base branch exist, and the
   * permissions allow writing contents and pull requests. A forge response, even an error, becomes
   * a failed check; it throws only when the forge could not be reached at all.
   */
  checkAccess(): Promise<ForgeAccessReport>;
  /**
   * Creates the comment's branch, commits its file and opens its pull request. Calling it again
   * for the same comment id, after any failure part-way, resumes and returns the same pull
   * request; it never creates a second branch, commit or pull request.
   */
  proposeComment(proposal: CommentProposal): Promise<PullRequestRef>;
  /** Lists open pull requests whose branch was made by proposeComment, oldest first. */
  listPendingComments(): Promise<PendingPullRequest[]>;
  /** Reads a file's text at a ref (a branch name or commit sha), or null when absent. */
  readFile(path: string, ref: string): Promise<string | null>;
  mergePullRequest(number: number): Promise<MergeResult>;
  closePullRequest(number: number): Promise<void>;
  /** Deletes a comment branch after its pull request is merged or closed; absent is fine. */
  deleteBranch(branch: string): Promise<void>;
  /** Reads one pull request's state, whether open, merged or closed; null when none has `number`. */
  getPullRequest(number: number): Promise<PullRequestStatus | null>;
  /** Reads the base branch's newest commit sha from the forge, bypassing any cache. */
  baseBranchSha(): Promise<string>;
}

/** Branch names carry the comment id so that every step can be found again by it. */
export const COMMENT_BRANCH_PREFIX = 'comments/';

export function commentBranch(commentId: string): string {
  return `${COMMENT_BRANCH_PREFIX}${commentId}`;
}

/** Returns the comment id of a comment branch, or null for any other branch. */
export function commentIdFromBranch(branch: string): string | null {
  if (!branch.startsWith(COMMENT_BRANCH_PREFIX)) return null;
  const id = branch.slice(COMMENT_BRANCH_PREFIX.length);
  return /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(id) ? id : null;
}

/** Structured log sink for forge clients and the local forge; fields never carry a token. */
export interface ForgeLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ForgeErrorDetails {
  /** The forge step that failed, such as `create branch` or `merge pull request`. */
  operation: string;
  /** HTTP status of the forge's response, or null when none arrived (network error, time-out). */
  status: number | null;
  /** The forge's id of the failed request (GitHub's x-github-request-id), for its support. */
  requestId: string | null;
  /** Whether the same call may succeed later; false means a person must act first. */
  retryable: boolean;
  /** How long the forge asked callers to wait, from retry-after or the rate-limit reset. */
  retryAfterMs: number | null;
  cause?: unknown;
}

/** A forge call that failed. Its message names the step and the status, never a credential. */
export class ForgeError extends Error {
  readonly operation: string;
  readonly status: number | null;
  readonly requestId: string | null;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;

  constructor(message: string, details: ForgeErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ForgeError';
    this.operation = details.operation;
    this.status = details.status;
    this.requestId = details.requestId;
    this.retryable = details.retryable;
    this.retryAfterMs = details.retryAfterMs;
  }
}
