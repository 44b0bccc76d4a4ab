// ForgeClient over GitHub's REST API through @octokit/rest. The same client talks to the local
// forge, which serves the same subset of the API.
//
// A comment costs at most 4 requests, 3 of them writes: read the base branch (cached for
// `baseShaTtlMs`, so usually skipped under steady load), create the branch, commit the file with
// the contents API, open the pull request. `applyLabels` adds one write per comment. A retry after
// a failure at any step finds the work already done by the comment id and resumes.
//
// createOctokit adds two Octokit plugins. The retry plugin resends a request after a 5xx or a lost
// connection, so each step below must accept that GitHub may have done the work of the first
// attempt. The throttling plugin spaces writes. A rate limit is never waited out inside a request:
// it becomes a ForgeError with `retryAfterMs`, and the delivery worker reschedules the comment.

import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import Bottleneck from 'bottleneck';
import {
  ForgeError,
  commentBranch,
  commentIdFromBranch,
  type CommentProposal,
  type ForgeAccessCheck,
  type ForgeClient,
  type ForgeLogger,
  type MergeResult,
  type PendingPullRequest,
  type PullRequestRef,
  type PullRequestStatus,
} from './types.ts';

export interface GitHubForgeOptions {
  octokit: Octokit;
  owner: string;
  repo: string;
  baseBranch: string;
  /** Author and committer of comment commits; when omitted, GitHub uses the token's account. */
  committer?: { name: string; email: string };
  /** Adds each proposal's labels to its pull request, at one extra write per comment. */
  applyLabels?: boolean;
  /** How long the base branch's commit is reused before it is read again. */
  baseShaTtlMs?: number;
  /**
   * Each call is aborted after this long, the retry plugin's attempts included, and reported as
   * retryable.
   */
  requestTimeoutMs?: number;
  /**
   * Waits before opening the pull request again when GitHub responds "No commits between" for a
   * branch that contains the comment's commit; GitHub can report this for a moment after the commit.
   */
  noCommitsRetryDelaysMs?: readonly number[];
  logger?: ForgeLogger;
  /** Clock in milliseconds since the epoch; used for the cache and rate-limit waits. */
  now?: () => number;
}

/** A GitHub App installation; its installation tokens last an hour and are renewed as needed. */
export interface GitHubAppCredentials {
  /** The App's id, or its client ID; GitHub accepts either as the JWT's issuer. */
  appId: number | string;
  /** The App's private key as PEM (PKCS#8 or GitHub's PKCS#1 download). */
  privateKey: string;
  installationId: number;
}

export interface OctokitOptions {
  /** API root: https://api.github.com for GitHub, the local forge's URL otherwise. */
  baseUrl: string;
  /** A fine-grained personal access token. Give either this or `app`. */
  token?: string;
  /** GitHub App credentials, exchanged for installation tokens. Give either this or `token`. */
  app?: GitHubAppCredentials;
  userAgent?: string;
  /** Replaces the global fetch, for tests that record or alter traffic. */
  fetch?: typeof fetch;
  /** Receives rate-limit warnings and installation token renewals. */
  logger?: ForgeLogger;
  /**
   * Minimum time between the starts of two writes (POST, PUT, PATCH, DELETE), in milliseconds.
   * GitHub's REST API best practices call for at least one second between writes, so the default is 1000.
   */
  writeSpacingMs?: number;
  /**
   * Minimum time between two writes that notify people, such as opening a pull request; 3000 by
   * default, the throttling plugin's own value for GitHub.
   */
  notificationSpacingMs?: number;
  /** Attempts the retry plugin adds after a 5xx or a lost connection; 3 by default. */
  retries?: number;
  /** Unit of the retry plugin's waits: retry n waits n² times this; 1000 ms by default. */
  retryBaseDelayMs?: number;
  /** Clock in milliseconds since the epoch, for installation token expiry. */
  now?: () => number;
}

/** Default minimum time between two writes to GitHub, from GitHub's REST API best practices. */
export const GITHUB_WRITE_SPACING_MS = 1_000;
/** Default minimum time between two writes that notify people, as the throttling plugin sets it. */
export const GITHUB_NOTIFICATION_SPACING_MS = 3_000;

/**
 * Spacing for the local forge and tests: none. The local forge has no secondary rate limit, and
 * at GitHub's spacing a test run of 540 comments (3 writes each) would take about half an hour.
 */
export const LOCAL_FORGE_SPACING = { writeSpacingMs: 0, notificationSpacingMs: 0 } as const;

/**
 * Statuses the retry plugin leaves to the caller: client errors, and rate limits (403, 429), which
 * the delivery worker waits out between attempts instead of holding a request open.
 */
const DO_NOT_RETRY = [400, 401, 403, 404, 409, 410, 422, 429, 451];

/**
 * An installation token is renewed this long before GitHub's stated expiry, or after three
 * quarters of its lifetime when that is shorter, so that no request carries an expired token.
 */
const TOKEN_RENEWAL_MARGIN_MS = 5 * 60_000;
/** Reuse limit of a cached token whose expiry cannot be read, below GitHub's one hour. */
const UNKNOWN_EXPIRY_REUSE_MS = 50 * 60_000;

// Plugins wrap requests in this order, so the retry plugin's attempts each pass the write limiter.
const PluggedOctokit = Octokit.plugin(throttling, retry);

const silentLogger: ForgeLogger = { info() {}, warn() {}, error() {} };

/**
 * Builds the cache @octokit/auth-app keeps installation tokens in. The library's own cache keeps
 * a token 59 minutes whatever its `expires_at`; this one drops it before `expires_at`.
 */
function expiringTokenCache(now: () => number) {
  const entries = new Map<string, { value: string; storedAt: number }>();
  return {
    async get(key: string): Promise<string | undefined> {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      // NOTE: @octokit/auth-app 8.x stores "token|createdAt|expiresAt|…"; a value in another
      // form is kept for UNKNOWN_EXPIRY_REUSE_MS only.
      const [, createdText, expiresText] = entry.value.split('|');
      const created = Date.parse(createdText ?? '');
      const expires = Date.parse(expiresText ?? '');
      const fresh = Number.isFinite(expires)
        ? now() <
          expires -
            Math.min(
              TOKEN_RENEWAL_MARGIN_MS,
              Number.isFinite(created) ? (expires - created) / 4 : TOKEN_RENEWAL_MARGIN_MS,
            )
        : now() - entry.storedAt < UNKNOWN_EXPIRY_REUSE_MS;
      if (fresh) return entry.value;
      entries.delete(key);
      return undefined;
    },
    async set(key: string, value: string): Promise<void> {
      entries.set(key, { value, storedAt: now() });
    },
  };
}

/** Returns the URL of the request an Octokit RequestError belongs to, or '' when unknown. */
function failedUrl(error: unknown): string {
  if (typeof error !== 'object' || error === null || !('request' in error)) return '';
  const request = error.request;
  if (typeof request !== 'object' || request === null || !('url' in request)) return '';
  return String(request.url);
}

function statusOf(error: unknown): number | null {
  if (typeof error !== 'object' || error === null || !('status' in error)) return null;
  return typeof error.status === 'number' ? error.status : null;
}

/**
 * Builds the Octokit that every forge request goes through: token or GitHub App auth, the
 * throttling plugin spacing writes, and the retry plugin resending after a 5xx. It logs nothing
 * by itself except rate limits and token renewals, through `logger`.
 */
export function createOctokit(options: OctokitOptions): Octokit {
  if ((options.token === undefined) === (options.app === undefined)) {
    throw new Error('createOctokit needs exactly one of `token` and `app`.');
  }
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const baseFetch = options.fetch ?? globalThis.fetch;
  // A request cut off by its deadline is reported as aborted, which the retry plugin leaves alone:
  // another attempt would carry the same expired signal.
  const deadlineAwareFetch: typeof fetch = async (input, init) => {
    try {
      return await baseFetch(input, init);
    } catch (error) {
      if (init?.signal?.aborted !== true) throw error;
      const aborted = new Error(
        `request aborted: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
      aborted.name = 'AbortError';
      throw aborted;
    }
  };
  const rateLimited =
    (kind: string) => (retryAfterSeconds: number, request: { method: string; url: string }) => {
      logger.warn('forge rate limit reached', {
        kind,
        method: request.method,
        url: request.url,
        retryAfterSeconds,
      });
      // Returning false hands the 403 or 429 to the caller, which turns it into a ForgeError.
      return false;
    };
  const auth =
    options.app === undefined
      ? { auth: options.token }
      : {
          authStrategy: createAppAuth,
          auth: {
            appId: options.app.appId,
            privateKey: options.app.privateKey,
            installationId: options.app.installationId,
            cache: expiringTokenCache(now),
          },
        };
  const octokit = new PluggedOctokit({
    ...auth,
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    userAgent: options.userAgent ?? 'marginalia',
    log: quiet,
    request: { fetch: deadlineAwareFetch },
    throttle: {
      write: new Bottleneck.Group({
        maxConcurrent: 1,
        minTime: options.writeSpacingMs ?? GITHUB_WRITE_SPACING_MS,
      }),
      notifications: new Bottleneck.Group({
        maxConcurrent: 1,
        minTime: options.notificationSpacingMs ?? GITHUB_NOTIFICATION_SPACING_MS,
      }),
      onRateLimit: rateLimited('primary'),
      onSecondaryRateLimit: rateLimited('secondary'),
    },
    retry: {
      doNotRetry: DO_NOT_RETRY,
      retries: options.retries ?? 3,
      retryAfterBaseValue: options.retryBaseDelayMs ?? 1_000,
    },
  });
  if (options.app !== undefined) renewRejectedInstallationTokens(octokit, logger);
  return octokit;
}

/**
 * Requests a new installation token and resends once when GitHub rejects the current one with
 * 401, as it does for a token that expired early by clock skew or that was revoked.
 */
function renewRejectedInstallationTokens(octokit: Octokit, logger: ForgeLogger): void {
  octokit.hook.wrap('request', async (request, requestOptions) => {
    try {
      return await request(requestOptions);
    } catch (error) {
      const url = String(requestOptions.url);
      // A 401 for the token request itself means the App's JWT was refused; a new token would be.
      if (statusOf(error) !== 401 || failedUrl(error).includes('/access_tokens')) throw error;
      logger.warn('installation token rejected; requesting a new one', {
        method: requestOptions.method,
        url,
      });
      await octokit.auth({ type: 'installation', refresh: true });
      return request(requestOptions);
    }
  });
}

/**
 * Wait after a rate limit that states neither retry-after nor x-ratelimit-reset; GitHub's docs say
 * to wait at least a minute.
 */
const SECONDARY_LIMIT_WAIT_MS = 60_000;

interface Failure {
  ok: false;
  status: number | null;
  /** GitHub's `message` and every `errors[].message`, for recognizing known conflicts. */
  messages: string[];
  error: ForgeError;
}

interface Success<T> {
  ok: true;
  status: number;
  data: T;
}

type Outcome<T> = Success<T> | Failure;

interface HttpResponseLike {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

function header(response: HttpResponseLike | undefined, name: string): string | null {
  return response?.headers[name] ?? null;
}

/** Reads the HTTP response an Octokit RequestError carries, or undefined when none arrived. */
function responseOf(error: unknown): HttpResponseLike | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined;
  const response = error.response;
  if (typeof response !== 'object' || response === null) return undefined;
  if (!('status' in response) || typeof response.status !== 'number') return undefined;
  const headers: Record<string, string> = {};
  if ('headers' in response && typeof response.headers === 'object' && response.headers !== null) {
    for (const [key, value] of Object.entries(response.headers)) {
      if (typeof value === 'string' || typeof value === 'number') {
        headers[key.toLowerCase()] = String(value);
      }
    }
  }
  return {
    status: response.status,
    headers,
    data: 'data' in response ? response.data : undefined,
  };
}

function githubMessages(data: unknown): string[] {
  if (typeof data !== 'object' || data === null)
    return typeof data === 'string' && data !== '' ? [data] : [];
  const messages: string[] = [];
  if ('message' in data && typeof data.message === 'string') messages.push(data.message);
  if ('errors' in data && Array.isArray(data.errors)) {
    for (const item of data.errors) {
      if (
        typeof item === 'object' &&
        item !== null &&
        'message' in item &&
        typeof item.message === 'string'
      ) {
        messages.push(item.message);
      }
    }
  }
  return messages;
}

function isRateLimited(status: number, response: HttpResponseLike, messages: string[]): boolean {
  if (status === 429) return true;
  if (status !== 403) return false;
  return (
    header(response, 'retry-after') !== null ||
    header(response, 'x-ratelimit-remaining') === '0' ||
    messages.some((message) => /rate limit/i.test(message))
  );
}

function retryAfterMs(
  response: HttpResponseLike,
  rateLimited: boolean,
  now: number,
): number | null {
  const retryAfter = Number(header(response, 'retry-after') ?? Number.NaN);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter * 1000;
  const reset = Number(header(response, 'x-ratelimit-reset') ?? Number.NaN);
  const exhausted = rateLimited || header(response, 'x-ratelimit-remaining') === '0';
  if (exhausted && Number.isFinite(reset)) return Math.max(0, reset * 1000 - now);
  return rateLimited ? SECONDARY_LIMIT_WAIT_MS : null;
}

/** Converts whatever Octokit threw into a Failure; the token never reaches the message. */
function describeFailure(operation: string, error: unknown, now: number): Failure {
  const response = responseOf(error);
  if (response === undefined) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      status: null,
      messages: [],
      error: new ForgeError(
        `GitHub ${operation} got no response (${reason}); it is safe to retry.`,
        {
          operation,
          status: null,
          requestId: null,
          retryable: true,
          retryAfterMs: null,
        },
      ),
    };
  }
  const status = response.status;
  const messages = githubMessages(response.data);
  const rateLimited = isRateLimited(status, response, messages);
  const retryable = rateLimited || status >= 500 || status === 409;
  const requestId = header(response, 'x-github-request-id');
  const tokenRequest = failedUrl(error).includes('/access_tokens');
  const hint = tokenRequest
    ? ' GitHub refused an installation token: check the App id, private key and installation id.'
    : status === 401
      ? ' Check that the forge token is valid and not expired.'
      : rateLimited
        ? ' GitHub is rate limiting writes; wait before retrying.'
        : '';
  const text = messages.join('; ') || 'no message';
  return {
    ok: false,
    status,
    messages,
    error: new ForgeError(`GitHub ${operation} failed with HTTP ${status}: ${text}.${hint}`, {
      operation,
      status,
      requestId,
      retryable,
      retryAfterMs: retryAfterMs(response, rateLimited, now),
    }),
  };
}

function encodeBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let index = 0; index < bytes.length; index += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
  }
  return btoa(binary);
}

function decodeBase64(encoded: string): string {
  // atob drops the line breaks GitHub puts every 60 characters.
  const binary = atob(encoded.replace(/\s+/g, ''));
  const bytes = Uint8Array.from(binary, (character) => character.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

export function createGitHubForge(options: GitHubForgeOptions): ForgeClient {
  const { octokit, owner, repo, baseBranch } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const ttlMs = options.baseShaTtlMs ?? 60_000;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const noCommitsDelaysMs = options.noCommitsRetryDelaysMs ?? [1_000, 2_000, 4_000];
  let cachedBase: { sha: string; readAt: number } | null = null;
  // Comment ids whose last proposal failed part-way. Their retry reads the base branch afresh,
  // because if staff merged the comment's pull request meanwhile, only a fresh base contains the
  // file, and that is how the retry finds the earlier pull request instead of opening a second.
  const unfinished = new Set<string>();

  function requestOptions() {
    return { request: { signal: AbortSignal.timeout(timeoutMs) } };
  }

  /** Sends one request, logs one line for it, and returns its outcome as data. */
  async function send<T>(
    operation: string,
    call: () => Promise<{ status: number; data: T; headers: Record<string, unknown> }>,
    context: Record<string, unknown> = {},
  ): Promise<Outcome<T>> {
    const started = now();
    try {
      const response = await call();
      // Status 0 marks the end of a pagination, which sent no request.
      if (response.status === 0) return { ok: true, status: 0, data: response.data };
      logger.info('forge request', {
        operation,
        status: response.status,
        requestId: response.headers['x-github-request-id'] ?? null,
        elapsedMs: now() - started,
        ...context,
      });
      return { ok: true, status: response.status, data: response.data };
    } catch (error) {
      const failure = describeFailure(operation, error, now());
      logger.info('forge request', {
        operation,
        status: failure.status,
        requestId: failure.error.requestId,
        elapsedMs: now() - started,
        error: failure.error.message,
        ...context,
      });
      return failure;
    }
  }

  function unwrap<T>(outcome: Outcome<T>): T {
    if (!outcome.ok) throw outcome.error;
    return outcome.data;
  }

  function hasMessage(outcome: Failure, fragment: string): boolean {
    return outcome.messages.some((message) => message.includes(fragment));
  }

  async function readBaseSha(fresh: boolean): Promise<string> {
    if (!fresh && cachedBase !== null && now() - cachedBase.readAt < ttlMs) return cachedBase.sha;
    const ref = unwrap(
      await send('read base branch', () =>
        octokit.rest.git.getRef({ owner, repo, ref: `heads/${baseBranch}`, ...requestOptions() }),
      ),
    );
    cachedBase = { sha: ref.object.sha, readAt: now() };
    return ref.object.sha;
  }

  async function readFileOutcome(path: string, ref: string): Promise<string | null> {
    const outcome = await send('read file', () =>
      octokit.rest.repos.getContent({ owner, repo, path, ref, ...requestOptions() }),
    );
    if (!outcome.ok && outcome.status === 404) return null;
    const data = unwrap(outcome);
    if (Array.isArray(data) || data.type !== 'file' || !('content' in data)) {
      throw new ForgeError(
        `GitHub read file: ${path} at ${ref} is a ${Array.isArray(data) ? 'directory' : data.type}, not a file.`,
        {
          operation: 'read file',
          status: 200,
          requestId: null,
          retryable: false,
          retryAfterMs: null,
        },
      );
    }
    if (data.encoding !== 'base64') {
      throw new ForgeError(
        `GitHub read file: ${path} is too large for the contents API (encoding ${data.encoding}).`,
        {
          operation: 'read file',
          status: 200,
          requestId: null,
          retryable: false,
          retryAfterMs: null,
        },
      );
    }
    return decodeBase64(data.content);
  }

  function conflict(operation: string, message: string): ForgeError {
    return new ForgeError(message, {
      operation,
      status: 422,
      requestId: null,
      retryable: false,
      retryAfterMs: null,
    });
  }

  /** Creates the comment branch, or finds it from an earlier attempt. Returns whether the file still needs committing. */
  async function ensureBranch(
    proposal: CommentProposal,
    branch: string,
    baseSha: string,
  ): Promise<boolean> {
    const created = await send(
      'create branch',
      () =>
        octokit.rest.git.createRef({
          owner,
          repo,
          ref: `refs/heads/${branch}`,
          sha: baseSha,
          ...requestOptions(),
        }),
      { commentId: proposal.commentId },
    );
    if (created.ok) return true;
    if (created.status !== 422 || !hasMessage(created, 'Reference already exists'))
      throw created.error;

    const read = await send('read comment branch', () =>
      octokit.rest.git.getRef({ owner, repo, ref: `heads/${branch}`, ...requestOptions() }),
    );
    if (!read.ok && read.status === 404) {
      // The create call just reported the branch as existing, so the repository is there. This 404
      // is a read that lags the write, or the 422 was wrong, and a later attempt can succeed.
      throw new ForgeError(
        `GitHub read comment branch: ${branch} was reported as existing but was not found; retry later.`,
        {
          operation: 'read comment branch',
          status: 404,
          requestId: read.error.requestId,
          retryable: true,
          retryAfterMs: null,
        },
      );
    }
    const existing = unwrap(read);
    if (existing.object.sha === baseSha) return true;
    const current = await readFileOutcome(proposal.path, branch);
    if (current === null) return true;
    if (current === proposal.content) return false;
    throw conflict(
      'create branch',
      `Branch ${branch} already holds ${proposal.path} with different content; delete the branch if it is stale, then retry.`,
    );
  }

  async function commitFile(proposal: CommentProposal, branch: string): Promise<void> {
    const identity =
      options.committer === undefined
        ? {}
        : { committer: options.committer, author: options.committer };
    const committed = await send(
      'commit file',
      () =>
        octokit.rest.repos.createOrUpdateFileContents({
          owner,
          repo,
          path: proposal.path,
          branch,
          message: `Add comment ${proposal.commentId}\n\n${proposal.title}`,
          content: encodeBase64(proposal.content),
          ...identity,
          ...requestOptions(),
        }),
      { commentId: proposal.commentId },
    );
    if (committed.ok) return;
    // GitHub requires the existing blob's sha when the file is already there. An earlier attempt
    // committed it, and the content decides whether that commit is ours.
    if (committed.status !== 422 || !hasMessage(committed, '"sha" wasn\'t supplied'))
      throw committed.error;
    const current = await readFileOutcome(proposal.path, branch);
    if (current !== proposal.content) {
      throw conflict(
        'commit file',
        `Branch ${branch} already holds ${proposal.path} with different content; delete the branch if it is stale, then retry.`,
      );
    }
  }

  async function findPullByBranch(branch: string): Promise<PullRequestRef | null> {
    const pulls = unwrap(
      await send('find pull request', () =>
        octokit.rest.pulls.list({
          owner,
          repo,
          head: `${owner}:${branch}`,
          state: 'all',
          ...requestOptions(),
        }),
      ),
    );
    const pull = pulls.find((candidate) => candidate.head.ref === branch);
    return pull === undefined ? null : { number: pull.number, url: pull.html_url, branch };
  }

  async function createPull(proposal: CommentProposal, branch: string) {
    return send(
      'open pull request',
      () =>
        octokit.rest.pulls.create({
          owner,
          repo,
          title: proposal.title,
          body: proposal.body,
          head: branch,
          base: baseBranch,
          ...requestOptions(),
        }),
      { commentId: proposal.commentId },
    );
  }

  async function openPull(proposal: CommentProposal, branch: string): Promise<PullRequestRef> {
    for (let attempt = 0; ; attempt += 1) {
      const opened = await createPull(proposal, branch);
      if (opened.ok) return { number: opened.data.number, url: opened.data.html_url, branch };
      if (opened.status !== 422) throw opened.error;

      // Also the response to a create that the retry plugin resent after GitHub opened the pull
      // request but the response was lost.
      if (hasMessage(opened, 'A pull request already exists')) {
        const found = await findPullByBranch(branch);
        if (found !== null) return found;
        throw opened.error;
      }
      if (!hasMessage(opened, 'No commits between')) throw opened.error;

      // The comment's pull request was merged or closed and its branch deleted before this retry.
      // The branch made again adds nothing new, so the earlier pull request is the result.
      const found = await findPullByBranch(branch);
      if (found !== null) {
        logger.warn('comment already proposed; removing the branch this retry made again', {
          commentId: proposal.commentId,
          number: found.number,
        });
        await deleteCommentBranch(branch);
        return found;
      }
      // Otherwise the commit made a moment ago is not yet visible to the pull request check.
      const delayMs = noCommitsDelaysMs[attempt];
      if (delayMs === undefined) {
        throw new ForgeError(
          `GitHub open pull request: ${baseBranch} and ${branch} still show no commits between them after ${attempt} retries; the delivery will try again later.`,
          {
            operation: 'open pull request',
            status: 422,
            requestId: opened.error.requestId,
            retryable: true,
            retryAfterMs: null,
          },
        );
      }
      logger.warn('forge reports no commits on the new branch yet; retrying', {
        commentId: proposal.commentId,
        branch,
        delayMs,
      });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  async function deleteCommentBranch(branch: string): Promise<void> {
    if (commentIdFromBranch(branch) === null) {
      throw new Error(
        `deleteBranch deletes comment branches only; ${branch} does not start with comments/ and a valid id.`,
      );
    }
    const deleted = await send('delete branch', () =>
      octokit.rest.git.deleteRef({ owner, repo, ref: `heads/${branch}`, ...requestOptions() }),
    );
    if (!deleted.ok && deleted.status !== 422 && deleted.status !== 404) throw deleted.error;
  }

  /**
   * Returns the permissions of the installation token for GitHub App auth, or null for a token,
   * which has no such list. Fetching the token also proves the App's id, key and installation.
   */
  async function installationPermissions(): Promise<Outcome<Record<string, string> | null>> {
    try {
      const authentication: unknown = await octokit.auth({ type: 'installation' });
      if (
        typeof authentication !== 'object' ||
        authentication === null ||
        !('tokenType' in authentication) ||
        authentication.tokenType !== 'installation' ||
        !('permissions' in authentication) ||
        typeof authentication.permissions !== 'object' ||
        authentication.permissions === null
      ) {
        return { ok: true, status: 200, data: null };
      }
      const permissions: Record<string, string> = {};
      for (const [name, level] of Object.entries(authentication.permissions)) {
        if (typeof level === 'string') permissions[name] = level;
      }
      return { ok: true, status: 200, data: permissions };
    } catch (error) {
      return describeFailure('request installation token', error, now());
    }
  }

  function installationFailure(failure: Failure): ForgeAccessCheck {
    const reason = failure.messages.join('; ') || 'no message';
    const fix =
      failure.status === 404
        ? 'check the installation id: it is the number at the end of the installation settings URL, and the App must be installed on the repository'
        : 'check the App id and that the private key is a current key of that App';
    return {
      name: 'credentials',
      ok: false,
      detail: `GitHub refused an installation token (HTTP ${failure.status}: ${reason}); ${fix}.`,
    };
  }

  function permissionsCheck(
    installation: Record<string, string> | null,
    repository: { full_name: string; permissions?: { push?: boolean } },
  ): ForgeAccessCheck {
    const fullName = repository.full_name;
    if (installation !== null) {
      const missing = ['contents', 'pull_requests'].filter(
        (name) => installation[name] !== 'write',
      );
      if (missing.length === 0) {
        return {
          name: 'permissions',
          ok: true,
          detail: 'the installation may write contents and pull requests',
        };
      }
      const found = missing.map((name) => `${name}: ${installation[name] ?? 'none'}`).join(', ');
      return {
        name: 'permissions',
        ok: false,
        detail:
          `the installation lacks ${missing.map((name) => `${name}: write`).join(' and ')} (it has ${found}); ` +
          'in the App settings under Permissions set Contents and Pull requests to "Read and write", ' +
          'then accept the new permissions on the installation.',
      };
    }
    if (repository.permissions?.push === true) {
      return { name: 'permissions', ok: true, detail: `the token may push to ${fullName}` };
    }
    const found =
      repository.permissions === undefined
        ? 'GitHub reported no permissions for the token'
        : `the token may not push to ${fullName}`;
    return {
      name: 'permissions',
      ok: false,
      detail:
        `${found}; give the fine-grained token access to ${fullName} with Contents and Pull requests ` +
        'set to "Read and write", and check that its account may write to the repository.',
    };
  }

  async function checkAccess(): Promise<{ ok: boolean; checks: ForgeAccessCheck[] }> {
    const checks: ForgeAccessCheck[] = [];
    const finish = () => ({ ok: checks.every((item) => item.ok), checks });
    const fullName = `${owner}/${repo}`;

    const installation = await installationPermissions();
    if (!installation.ok && installation.status === null) throw installation.error;
    if (!installation.ok) {
      checks.push(installationFailure(installation));
      return finish();
    }

    const repository = await send('read repository', () =>
      octokit.rest.repos.get({ owner, repo, ...requestOptions() }),
    );
    // A network failure, a 5xx or a rate limit is no evidence about the credentials or the
    // repository, so it is raised as the forge being unreachable.
    if (!repository.ok && (repository.status === null || repository.error.retryable)) {
      throw repository.error;
    }
    if (!repository.ok && repository.status === 401) {
      checks.push({
        name: 'credentials',
        ok: false,
        detail: `${repository.error.message} Create a new token, or check that it was copied whole.`,
      });
      return finish();
    }
    checks.push({
      name: 'credentials',
      ok: true,
      detail:
        installation.data === null
          ? 'the forge accepted the token'
          : 'the forge issued an installation token',
    });
    if (!repository.ok) {
      checks.push({
        name: 'repository',
        ok: false,
        detail: `${fullName} cannot be read (HTTP ${repository.status}); check the owner and name, and that the credentials may see it.`,
      });
      return finish();
    }
    // GitHub matches names without regard to case, and follows a renamed repository to its new
    // name, which the full_name then shows.
    const actual = repository.data.full_name;
    const sameRepository = actual.toLowerCase() === fullName.toLowerCase();
    checks.push(
      sameRepository
        ? { name: 'repository', ok: true, detail: actual }
        : {
            name: 'repository',
            ok: false,
            detail: `${fullName} is now ${actual} on the forge; set the owner and name to ${actual}.`,
          },
    );

    const branch = await send('read base branch', () =>
      octokit.rest.git.getRef({ owner, repo, ref: `heads/${baseBranch}`, ...requestOptions() }),
    );
    if (!branch.ok && (branch.status === null || branch.error.retryable)) throw branch.error;
    checks.push(
      branch.ok
        ? { name: 'base branch', ok: true, detail: `${baseBranch} at ${branch.data.object.sha}` }
        : {
            name: 'base branch',
            ok: false,
            detail: `${baseBranch} not found in ${actual} (HTTP ${branch.status}); set the base branch to an existing one, such as ${repository.data.default_branch}.`,
          },
    );
    checks.push(permissionsCheck(installation.data, repository.data));
    return finish();
  }

  return {
    checkAccess,
    async proposeComment(proposal) {
      const branch = commentBranch(proposal.commentId);
      const retry = unfinished.has(proposal.commentId);
      unfinished.add(proposal.commentId);
      const baseSha = await readBaseSha(retry);
      if (await ensureBranch(proposal, branch, baseSha)) await commitFile(proposal, branch);
      const pull = await openPull(proposal, branch);
      const labelled = options.applyLabels === true || proposal.alwaysLabel === true;
      if (labelled && proposal.labels.length > 0) {
        unwrap(
          await send('add labels', () =>
            octokit.rest.issues.addLabels({
              owner,
              repo,
              issue_number: pull.number,
              labels: proposal.labels,
              ...requestOptions(),
            }),
          ),
        );
      }
      unfinished.delete(proposal.commentId);
      return pull;
    },

    async listPendingComments() {
      const pending: PendingPullRequest[] = [];
      const pages = octokit.paginate.iterator(octokit.rest.pulls.list, {
        owner,
        repo,
        state: 'open',
        base: baseBranch,
        sort: 'created',
        direction: 'asc',
        per_page: 100,
        ...requestOptions(),
      });
      const fullName = `${owner}/${repo}`.toLowerCase();
      const iterator = pages[Symbol.asyncIterator]();
      for (;;) {
        // Each step of the iterator is one request for one page.
        const page = await send('list pull requests', async () => {
          const step = await iterator.next();
          return step.done === true
            ? { status: 0, data: null, headers: {} }
            : { status: step.value.status, data: step.value.data, headers: step.value.headers };
        });
        const pulls = unwrap(page);
        if (pulls === null) break;
        for (const pull of pulls) {
          const commentId = commentIdFromBranch(pull.head.ref);
          // A fork can name a branch comments/…; only branches of this repository are ours.
          if (commentId === null || pull.head.repo?.full_name.toLowerCase() !== fullName) continue;
          pending.push({
            number: pull.number,
            url: pull.html_url,
            branch: pull.head.ref,
            commentId,
            title: pull.title,
            createdAt: pull.created_at,
          });
        }
      }
      return pending;
    },

    async getPullRequest(number) {
      const read = await send('read pull request', () =>
        octokit.rest.pulls.get({ owner, repo, pull_number: number, ...requestOptions() }),
      );
      if (!read.ok && read.status === 404) return null;
      const pull = unwrap(read);
      const status: PullRequestStatus = {
        number: pull.number,
        url: pull.html_url,
        branch: pull.head.ref,
        state: pull.state === 'open' ? 'open' : 'closed',
        merged: pull.merged,
        mergeSha: pull.merged ? pull.merge_commit_sha : null,
      };
      return status;
    },

    baseBranchSha: () => readBaseSha(true),

    readFile: readFileOutcome,

    async mergePullRequest(number) {
      const merged = await send('merge pull request', () =>
        octokit.rest.pulls.merge({
          owner,
          repo,
          pull_number: number,
          merge_method: 'merge',
          ...requestOptions(),
        }),
      );
      if (merged.ok) return { merged: merged.data.merged, sha: merged.data.sha };
      if (merged.status !== 405) throw merged.error;
      // An earlier attempt may have merged it and lost the response.
      const pull = unwrap(
        await send('read pull request', () =>
          octokit.rest.pulls.get({ owner, repo, pull_number: number, ...requestOptions() }),
        ),
      );
      if (pull.merged && pull.merge_commit_sha !== null) {
        const result: MergeResult = { merged: true, sha: pull.merge_commit_sha };
        return result;
      }
      throw conflict(
        'merge pull request',
        `Pull request #${number} cannot be merged (${pull.state}, ${pull.mergeable_state}); resolve it on the forge.`,
      );
    },

    async closePullRequest(number) {
      unwrap(
        await send('close pull request', () =>
          octokit.rest.pulls.update({
            owner,
            repo,
            pull_number: number,
            state: 'closed',
            ...requestOptions(),
          }),
        ),
      );
    },

    deleteBranch: deleteCommentBranch,
  };
}
