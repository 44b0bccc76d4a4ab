// GitHub-shaped JSON for the local forge's responses and webhooks. Field names and required
// fields follow the schemas in GitHub's OpenAPI description (simple-user, full-repository,
// pull-request, git-ref, content-file, file-commit, label); counters GitHub computes from data the
// local forge does not keep (stars, reviews, comments) are zero.

import type { GitCommit, GitTreeEntry } from './git.ts';
import type { StoredLabel, StoredPull } from './pull-store.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ForgeUser {
  login: string;
  id: number;
  name: string;
  email: string;
  type: 'User' | 'Bot' | 'Organization';
}

/** Location of the forge and facts about the repository it serves, shared by every payload. */
export interface PayloadContext {
  /** API root, such as http://127.0.0.1:4010; web pages live under the same origin. */
  baseUrl: string;
  owner: ForgeUser;
  repo: string;
  repoId: number;
  baseBranch: string;
  createdAt: string;
  pushedAt: string;
  openPullCount: number;
}

function nodeId(kind: string, id: number): string {
  return Buffer.from(`${kind}:${id}`).toString('base64url');
}

export function userPayload(baseUrl: string, user: ForgeUser): JsonObject {
  const api = `${baseUrl}/users/${user.login}`;
  return {
    login: user.login,
    id: user.id,
    node_id: nodeId('User', user.id),
    avatar_url: `${baseUrl}/avatars/${user.login}`,
    gravatar_id: '',
    url: api,
    html_url: `${baseUrl}/${user.login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: user.type,
    user_view_type: 'public',
    site_admin: false,
  };
}

export function repositoryApiUrl(context: PayloadContext): string {
  return `${context.baseUrl}/repos/${context.owner.login}/${context.repo}`;
}

export function repositoryHtmlUrl(context: PayloadContext): string {
  return `${context.baseUrl}/${context.owner.login}/${context.repo}`;
}

export function repositoryPayload(context: PayloadContext): JsonObject {
  const api = repositoryApiUrl(context);
  const html = repositoryHtmlUrl(context);
  const host = new URL(context.baseUrl).host;
  const fullName = `${context.owner.login}/${context.repo}`;
  return {
    id: context.repoId,
    node_id: nodeId('Repository', context.repoId),
    name: context.repo,
    full_name: fullName,
    private: true,
    owner: userPayload(context.baseUrl, context.owner),
    html_url: html,
    description: null,
    fork: false,
    url: api,
    forks_url: `${api}/forks`,
    keys_url: `${api}/keys{/key_id}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    teams_url: `${api}/teams`,
    hooks_url: `${api}/hooks`,
    issue_events_url: `${api}/issues/events{/number}`,
    events_url: `${api}/events`,
    assignees_url: `${api}/assignees{/user}`,
    branches_url: `${api}/branches{/branch}`,
    tags_url: `${api}/tags`,
    blobs_url: `${api}/git/blobs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    statuses_url: `${api}/statuses/{sha}`,
    languages_url: `${api}/languages`,
    stargazers_url: `${api}/stargazers`,
    contributors_url: `${api}/contributors`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    commits_url: `${api}/commits{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    comments_url: `${api}/comments{/number}`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    contents_url: `${api}/contents/{+path}`,
    compare_url: `${api}/compare/{base}...{head}`,
    merges_url: `${api}/merges`,
    archive_url: `${api}/{archive_format}{/ref}`,
    downloads_url: `${api}/downloads`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    labels_url: `${api}/labels{/name}`,
    releases_url: `${api}/releases{/id}`,
    deployments_url: `${api}/deployments`,
    created_at: context.createdAt,
    updated_at: context.pushedAt,
    pushed_at: context.pushedAt,
    git_url: `git://${host}/${fullName}.git`,
    ssh_url: `git@${host}:${fullName}.git`,
    clone_url: `${html}.git`,
    svn_url: html,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: false,
    has_downloads: false,
    has_wiki: false,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: context.openPullCount,
    license: null,
    allow_forking: false,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: 'private',
    forks: 0,
    open_issues: context.openPullCount,
    watchers: 0,
    default_branch: context.baseBranch,
    allow_merge_commit: true,
    allow_squash_merge: false,
    allow_rebase_merge: false,
    delete_branch_on_merge: false,
    network_count: 0,
    subscribers_count: 0,
  };
}

export function gitRefPayload(context: PayloadContext, branch: string, sha: string): JsonObject {
  const api = repositoryApiUrl(context);
  return {
    ref: `refs/heads/${branch}`,
    node_id: Buffer.from(`Ref:${branch}`).toString('base64url'),
    url: `${api}/git/refs/heads/${branch}`,
    object: { sha, type: 'commit', url: `${api}/git/commits/${sha}` },
  };
}

function encodePath(filePath: string): string {
  return filePath.split('/').map(encodeURIComponent).join('/');
}

/** Builds the `content` object of contents responses; contentFilePayload adds `content` and `encoding`. */
export function contentEntryPayload(
  context: PayloadContext,
  entry: GitTreeEntry,
  ref: string,
): JsonObject {
  const api = repositoryApiUrl(context);
  const html = repositoryHtmlUrl(context);
  const contentTypes = { tree: 'dir', commit: 'submodule', blob: 'file' } as const;
  const type = contentTypes[entry.type];
  const self = `${api}/contents/${encodePath(entry.path)}?ref=${encodeURIComponent(ref)}`;
  const gitUrl = `${api}/git/${entry.type === 'tree' ? 'trees' : 'blobs'}/${entry.sha}`;
  const htmlUrl = `${html}/${type === 'dir' ? 'tree' : 'blob'}/${ref}/${encodePath(entry.path)}`;
  return {
    type,
    size: entry.size,
    name: entry.path.split('/').pop() ?? entry.path,
    path: entry.path,
    sha: entry.sha,
    url: self,
    git_url: gitUrl,
    html_url: htmlUrl,
    download_url: type === 'file' ? `${html}/raw/${ref}/${encodePath(entry.path)}` : null,
    _links: { self, git: gitUrl, html: htmlUrl },
  };
}

export function contentFilePayload(
  context: PayloadContext,
  entry: GitTreeEntry,
  ref: string,
  content: Buffer,
): JsonObject {
  // GitHub wraps base64 content at 60 characters with "\n"; decoders must ignore line breaks.
  const wrapped = content.toString('base64').replace(/.{60}/g, '$&\n');
  return { ...contentEntryPayload(context, entry, ref), content: wrapped, encoding: 'base64' };
}

export function commitPayload(context: PayloadContext, commit: GitCommit): JsonObject {
  const api = repositoryApiUrl(context);
  const html = repositoryHtmlUrl(context);
  return {
    sha: commit.sha,
    node_id: Buffer.from(`Commit:${commit.sha}`).toString('base64url'),
    url: `${api}/git/commits/${commit.sha}`,
    html_url: `${html}/commit/${commit.sha}`,
    author: {
      name: commit.author.name,
      email: commit.author.email,
      date: commit.author.date.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
    committer: {
      name: commit.committer.name,
      email: commit.committer.email,
      date: commit.committer.date.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
    tree: { sha: commit.tree, url: `${api}/git/trees/${commit.tree}` },
    message: commit.message.replace(/\n$/, ''),
    parents: commit.parents.map((sha) => ({
      sha,
      url: `${api}/git/commits/${sha}`,
      html_url: `${html}/commit/${sha}`,
    })),
    verification: {
      verified: false,
      reason: 'unsigned',
      signature: null,
      payload: null,
      verified_at: null,
    },
  };
}

export function labelPayload(context: PayloadContext, label: StoredLabel): JsonObject {
  return {
    id: label.id,
    node_id: nodeId('Label', label.id),
    url: `${repositoryApiUrl(context)}/labels/${encodeURIComponent(label.name)}`,
    name: label.name,
    // The pull request schemas require a string here, although the label schema allows null.
    description: label.description,
    color: label.color,
    default: false,
  };
}

/** Facts about a pull request that git stores and the metadata file does not. */
export interface PullFacts {
  headSha: string;
  baseSha: string;
  /** Only for the single pull request response: mergeability and diff counts. */
  detail?: {
    mergeable: boolean | null;
    commits: number;
    additions: number;
    deletions: number;
    changedFiles: number;
  };
}

function branchPayload(context: PayloadContext, branch: string, sha: string): JsonObject {
  return {
    label: `${context.owner.login}:${branch}`,
    ref: branch,
    sha,
    user: userPayload(context.baseUrl, context.owner),
    repo: repositoryPayload(context),
  };
}

/**
 * A pull request as GitHub's pulls list returns it (pull-request-simple), or with `facts.detail`
 * as the single pull request (pull-request).
 */
export function pullPayload(
  context: PayloadContext,
  pull: StoredPull,
  findUser: (login: string) => ForgeUser,
  facts: PullFacts,
): JsonObject {
  const api = repositoryApiUrl(context);
  const html = repositoryHtmlUrl(context);
  const self = `${api}/pulls/${pull.number}`;
  const htmlUrl = `${html}/pull/${pull.number}`;
  const issue = `${api}/issues/${pull.number}`;
  const statuses = `${api}/statuses/${facts.headSha}`;
  const payload: JsonObject = {
    url: self,
    id: pull.id,
    node_id: nodeId('PullRequest', pull.id),
    html_url: htmlUrl,
    diff_url: `${htmlUrl}.diff`,
    patch_url: `${htmlUrl}.patch`,
    issue_url: issue,
    commits_url: `${self}/commits`,
    review_comments_url: `${self}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${issue}/comments`,
    statuses_url: statuses,
    number: pull.number,
    state: pull.state,
    locked: false,
    title: pull.title,
    user: userPayload(context.baseUrl, findUser(pull.user)),
    body: pull.body,
    labels: pull.labels.map((label) => labelPayload(context, label)),
    milestone: null,
    active_lock_reason: null,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    merged_at: pull.mergedAt,
    merge_commit_sha: pull.mergeCommitSha,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    head: branchPayload(context, pull.head, facts.headSha),
    base: branchPayload(context, pull.base, facts.baseSha),
    _links: {
      self: { href: self },
      html: { href: htmlUrl },
      issue: { href: issue },
      comments: { href: `${issue}/comments` },
      review_comments: { href: `${self}/comments` },
      review_comment: { href: `${api}/pulls/comments{/number}` },
      commits: { href: `${self}/commits` },
      statuses: { href: statuses },
    },
    author_association: 'OWNER',
    auto_merge: null,
    draft: false,
  };
  if (facts.detail === undefined) return payload;
  const detail = facts.detail;
  return {
    ...payload,
    merged: pull.merged,
    mergeable: pull.state === 'open' ? detail.mergeable : null,
    rebaseable: false,
    mergeable_state: mergeableState(pull, detail.mergeable),
    merged_by:
      pull.mergedBy === null ? null : userPayload(context.baseUrl, findUser(pull.mergedBy)),
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: detail.commits,
    additions: detail.additions,
    deletions: detail.deletions,
    changed_files: detail.changedFiles,
  };
}

function mergeableState(pull: StoredPull, mergeable: boolean | null): string {
  if (pull.state === 'closed') return 'unknown';
  if (mergeable === null) return 'unknown';
  return mergeable ? 'clean' : 'dirty';
}
