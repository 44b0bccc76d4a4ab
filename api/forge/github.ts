// ForgeClient over GitHub's REST API through @octokit/rest. The same client talks to the local
// forge, which serves the same subset of the API.
//
// A comment costs at most 4 requests, 3 of them writes: read the base branch (cached for
// `baseShaTtlMs`, so usually skipped under steady load), create the branch, commit the file with
// the contents API, open the pull request. `applyLabels` adds one write per comment. A retry after
// a failure at any step finds the work already done by the comment id and resumes.

import { Octokit } from '@octokit/rest';
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
  /** Each request is aborted after this long and reported as retryable. */
  requestTimeoutMs?: number;
  logger?: ForgeLogger;
  /** Clock in milliseconds since the epoch; used for the cache and rate-limit waits. */
  now?: () => number;
}

export interface OctokitOptions {
  /** API root: https://api.github.com for GitHub, the local forge's URL otherwise. */
  baseUrl: string;
  token: string;
  userAgent?: string;
  /** Replaces the global fetch, for tests that record or alter traffic. */
  fetch?: typeof fetch;
}

/** Builds an Octokit with token auth that logs nothing by itself. */
export function createOctokit(options: OctokitOptions): Octokit {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  return new Octokit({
    auth: options.token,
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    userAgent: options.userAgent ?? 'marginalia',
    log: quiet,
    ...(options.fetch === undefined ? {} : { request: { fetch: options.fetch } }),
  });
}

/** Wait after a secondary rate limit without retry-after; GitHub's docs say at least a minute. */
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
  if (header(response, 'x-ratelimit-remaining') === '0' && Number.isFinite(reset)) {
    return Math.max(0, reset * 1000 - now);
  }
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
  const hint =
    status === 401
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

const silentLogger: ForgeLogger = { info() {}, warn() {}, error() {} };

export function createGitHubForge(options: GitHubForgeOptions): ForgeClient {
  const { octokit, owner, repo, baseBranch } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const ttlMs = options.baseShaTtlMs ?? 60_000;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
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

  async function openPull(proposal: CommentProposal, branch: string): Promise<PullRequestRef> {
    const opened = await send(
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
    if (opened.ok) return { number: opened.data.number, url: opened.data.html_url, branch };
    if (opened.status !== 422) throw opened.error;

    if (hasMessage(opened, 'A pull request already exists')) {
      const found = await findPullByBranch(branch);
      if (found !== null) return found;
      throw opened.error;
    }
    // The comment's pull request was merged or closed and its branch deleted before this retry.
    // The branch made again adds nothing new, so the earlier pull request is the result.
    if (hasMessage(opened, 'No commits between')) {
      const found = await findPullByBranch(branch);
      if (found !== null) {
        logger.warn('comment already proposed; removing the branch this retry made again', {
          commentId: proposal.commentId,
          number: found.number,
        });
        await deleteCommentBranch(branch);
        return found;
      }
    }
    throw opened.error;
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

  async function checkAccess(): Promise<{ ok: boolean; checks: ForgeAccessCheck[] }> {
    const checks: ForgeAccessCheck[] = [];
    const finish = () => ({ ok: checks.every((item) => item.ok), checks });
    const repository = await send('read repository', () =>
      octokit.rest.repos.get({ owner, repo, ...requestOptions() }),
    );
    // A network failure, a 5xx or a rate limit is no evidence about the credentials or the
    // repository, so it is raised as the forge being unreachable.
    if (!repository.ok && (repository.status === null || repository.error.retryable)) {
      throw repository.error;
    }
    if (!repository.ok && repository.status === 401) {
      checks.push({ name: 'credentials', ok: false, detail: repository.error.message });
      return finish();
    }
    checks.push({ name: 'credentials', ok: true, detail: 'the forge accepted the credentials' });
    if (!repository.ok) {
      checks.push({
        name: 'repository',
        ok: false,
        detail: `${owner}/${repo} cannot be read (HTTP ${repository.status}); check the owner and name, and that the credentials may see it.`,
      });
      return finish();
    }
    checks.push({ name: 'repository', ok: true, detail: repository.data.full_name });
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
            detail: `${baseBranch} not found in ${owner}/${repo} (HTTP ${branch.status}); set the base branch to an existing one.`,
          },
    );
    const permissions = repository.data.permissions;
    const canWrite = permissions === undefined || permissions.push === true;
    checks.push({
      name: 'permissions',
      ok: canWrite,
      detail: canWrite
        ? 'write access to contents and pull requests'
        : `the credentials may not write to ${owner}/${repo}; grant contents and pull requests read and write.`,
    });
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
