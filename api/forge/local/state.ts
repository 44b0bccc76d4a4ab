// The local forge's state shared by its routes, and the route contract.

import type { ForgeLogger } from '../types.ts';
import type { Caller, RepositoryPermissions } from './app-auth.ts';
import { canMerge, diffFiles, listBranches, readCommit, runGit } from './git.ts';
import {
  pullPayload,
  repositoryPayload,
  userPayload,
  type ForgeUser,
  type JsonObject,
  type PayloadContext,
} from './payloads.ts';
import type { PullStore, StoredPull } from './pull-store.ts';
import type { WebhookSender } from './webhooks.ts';

export interface ForgeState {
  repoPath: string;
  owner: ForgeUser;
  /** The user the token authenticates; it opens, merges and closes pull requests. */
  user: ForgeUser;
  repo: string;
  repoId: number;
  baseBranch: string;
  createdAt: string;
  /** Time of the last commit on the base branch, updated by the routes that move it. */
  pushedAt: string;
  /** Filled in once the server listens, because the port may be chosen by the system. */
  baseUrl: string;
  pulls: PullStore;
  webhooks: WebhookSender | null;
  now: () => Date;
  logger: ForgeLogger;
}

export interface RouteRequest {
  state: ForgeState;
  /** Path parameters, percent-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** The credential that sent the request and what it may do. */
  caller: Caller;
}

export interface RouteResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: string;
  /** Matches the path after /repos/{owner}/{repo}; named groups become params. */
  pattern: RegExp;
  /** GitHub's OpenAPI operation id. */
  operation: string;
  /** Writes are serialized so that two requests never move one ref at once. */
  write: boolean;
  /** The permission a write needs at `write` level; a caller with `read` gets GitHub's 403. */
  permission?: keyof RepositoryPermissions;
  handle(request: RouteRequest): Promise<RouteResponse>;
}

/** GitHub's timestamp form: RFC 3339 in UTC, whole seconds. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function findUser(state: ForgeState, login: string): ForgeUser {
  if (login === state.owner.login) return state.owner;
  if (login === state.user.login) return state.user;
  return { ...state.user, login };
}

export async function payloadContext(state: ForgeState): Promise<PayloadContext> {
  return {
    pushedAt: state.pushedAt,
    baseUrl: state.baseUrl,
    owner: state.owner,
    repo: state.repo,
    repoId: state.repoId,
    baseBranch: state.baseBranch,
    createdAt: state.createdAt,
    openPullCount: state.pulls.all().filter((pull) => pull.state === 'open').length,
  };
}

/**
 * Returns the head and base commits a pull request shows: the live branches while it is open,
 * the recorded ones once closed (a merged head branch is usually deleted).
 */
export function pullShas(
  pull: StoredPull,
  branches: Map<string, string>,
): { headSha: string; baseSha: string } {
  if (pull.state === 'closed')
    return { headSha: branches.get(pull.head) ?? pull.headSha, baseSha: pull.baseSha };
  return {
    headSha: branches.get(pull.head) ?? pull.headSha,
    baseSha: branches.get(pull.base) ?? pull.baseSha,
  };
}

/**
 * Builds the single pull request response, with mergeability and diff counts from git. `known`
 * passes commits the caller already resolved, which saves reading the branches again.
 */
export async function detailedPullPayload(
  state: ForgeState,
  pull: StoredPull,
  known?: { headSha: string; baseSha: string },
): Promise<JsonObject> {
  const shas = known ?? pullShas(pull, await listBranches(state.repoPath));
  const context = await payloadContext(state);
  // Three dots: commits and changes since the merge base, as a pull request shows them.
  const range = `${shas.baseSha}...${shas.headSha}`;
  const [counts, commits, mergeable] = await Promise.all([
    diffCounts(state.repoPath, range),
    runGit(state.repoPath, ['rev-list', '--count', '--right-only', range]).then(Number),
    pull.state === 'open'
      ? canMerge(state.repoPath, shas.baseSha, shas.headSha)
      : Promise.resolve(null),
  ]);
  return pullPayload(context, pull, (login) => findUser(state, login), {
    ...shas,
    detail: { mergeable, commits, ...counts },
  });
}

async function diffCounts(
  repoPath: string,
  range: string,
): Promise<{ additions: number; deletions: number; changedFiles: number }> {
  const output = await runGit(repoPath, ['diff', '--numstat', '--no-renames', range]);
  let additions = 0;
  let deletions = 0;
  let changedFiles = 0;
  for (const line of output.split('\n')) {
    const [added, deleted] = line.split('\t');
    if (added === undefined || deleted === undefined) continue;
    changedFiles += 1;
    // Binary files show "-" for both counts.
    additions += Number(added) || 0;
    deletions += Number(deleted) || 0;
  }
  return { additions, deletions, changedFiles };
}

/** Sends the `pull_request` event with action "closed", merged or not, as GitHub does. */
export async function sendPullClosedEvent(state: ForgeState, pull: StoredPull): Promise<void> {
  if (state.webhooks === null) return;
  const detailed = await detailedPullPayload(state, pull);
  const context = await payloadContext(state);
  state.webhooks.send('pull_request', {
    action: 'closed',
    number: pull.number,
    pull_request: {
      ...detailed,
      allow_auto_merge: false,
      allow_update_branch: false,
      delete_branch_on_merge: false,
      use_squash_pr_title_as_default: false,
    },
    repository: repositoryPayload(context),
    sender: userPayload(state.baseUrl, state.user),
  });
}

/** Sends the `push` event for a branch that moved from `before` to `after`. */
export async function sendPushEvent(
  state: ForgeState,
  branch: string,
  before: string,
  after: string,
): Promise<void> {
  if (state.webhooks === null) return;
  const context = await payloadContext(state);
  const repositoryUrl = `${state.baseUrl}/${state.owner.login}/${state.repo}`;
  const shas = (await runGit(state.repoPath, ['rev-list', '--reverse', `${before}..${after}`]))
    .split('\n')
    .filter((sha) => sha !== '');
  const commits = [];
  for (const sha of shas) {
    const commit = await readCommit(state.repoPath, sha);
    const changes = await diffFiles(state.repoPath, commit.parents[0] ?? null, sha);
    commits.push({
      id: sha,
      tree_id: commit.tree,
      distinct: true,
      message: commit.message.replace(/\n$/, ''),
      timestamp: timestamp(commit.committer.date),
      url: `${repositoryUrl}/commit/${sha}`,
      author: { name: commit.author.name, email: commit.author.email },
      committer: { name: commit.committer.name, email: commit.committer.email },
      added: changes.added,
      removed: changes.removed,
      modified: changes.modified,
    });
  }
  state.webhooks.send('push', {
    ref: `refs/heads/${branch}`,
    before,
    after,
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `${repositoryUrl}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits,
    head_commit: commits.at(-1) ?? null,
    repository: repositoryPayload(context),
    pusher: { name: state.user.login, email: state.user.email },
    sender: userPayload(state.baseUrl, state.user),
  });
}
