// Routes for pull requests: open, list, read, close, merge, and labels.

import { compareAndSwapBranch, listBranches, readBranch, runGit, writeMergeCommit } from './git.ts';
import { GitHubHttpError, missingField, notFound, stringField, validationFailed } from './http.ts';
import { labelPayload, pullPayload } from './payloads.ts';
import type { StoredPull } from './pull-store.ts';
import {
  detailedPullPayload,
  findUser,
  payloadContext,
  pullShas,
  sendPullClosedEvent,
  sendPushEvent,
  timestamp,
  type Route,
  type RouteRequest,
  type RouteResponse,
} from './state.ts';

const PULLS_DOCS = 'pulls/pulls';
const LABELS_DOCS = 'issues/labels';
const MAX_PER_PAGE = 100;

function pullNumber(request: RouteRequest): StoredPull {
  const number = Number(request.params['number']);
  const pull = Number.isSafeInteger(number) ? request.state.pulls.get(number) : undefined;
  if (pull === undefined) throw notFound(PULLS_DOCS);
  return pull;
}

/** Reads a positive integer query parameter, as GitHub does: invalid values fall back. */
function positiveInteger(query: URLSearchParams, name: string, fallback: number): number {
  const value = Number(query.get(name));
  return Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

/** Builds GitHub's Link header: next and last while there is a next page, first and prev after page 1. */
function linkHeader(
  request: RouteRequest,
  path: string,
  page: number,
  lastPage: number,
): string | undefined {
  const link = (target: number, rel: string) => {
    const query = new URLSearchParams(request.query);
    query.set('page', String(target));
    return `<${request.state.baseUrl}${path}?${query.toString()}>; rel="${rel}"`;
  };
  const parts: string[] = [];
  if (page > 1) parts.push(link(page - 1, 'prev'));
  if (page < lastPage) parts.push(link(page + 1, 'next'), link(lastPage, 'last'));
  if (page > 1) parts.push(link(1, 'first'));
  return parts.length === 0 ? undefined : parts.join(', ');
}

async function listPulls(request: RouteRequest): Promise<RouteResponse> {
  const { state, query } = request;
  const stateFilter = query.get('state') ?? 'open';
  if (!['open', 'closed', 'all'].includes(stateFilter)) {
    throw validationFailed(PULLS_DOCS, [
      { resource: 'PullRequest', field: 'state', code: 'invalid' },
    ]);
  }
  const headFilter = query.get('head');
  const baseFilter = query.get('base');
  const sort = query.get('sort') ?? 'created';
  const direction = query.get('direction') ?? (sort === 'created' ? 'desc' : 'asc');
  const perPage = Math.min(positiveInteger(query, 'per_page', 30), MAX_PER_PAGE);
  const page = positiveInteger(query, 'page', 1);

  let pulls = state.pulls
    .all()
    .filter((pull) => stateFilter === 'all' || pull.state === stateFilter);
  if (headFilter !== null) {
    // GitHub takes `user:ref-name`; a head without the owner matches nothing.
    const colon = headFilter.indexOf(':');
    const owner = colon < 0 ? null : headFilter.slice(0, colon);
    const branch = headFilter.slice(colon + 1);
    pulls =
      owner?.toLowerCase() === state.owner.login.toLowerCase()
        ? pulls.filter((pull) => pull.head === branch)
        : [];
  }
  if (baseFilter !== null) pulls = pulls.filter((pull) => pull.base === baseFilter);
  const key = (pull: StoredPull) => (sort === 'updated' ? pull.updatedAt : pull.createdAt);
  pulls.sort((a, b) => key(a).localeCompare(key(b)) || a.number - b.number);
  if (direction === 'desc') pulls.reverse();

  const lastPage = Math.max(1, Math.ceil(pulls.length / perPage));
  const slice = pulls.slice((page - 1) * perPage, page * perPage);
  const branches = await listBranches(state.repoPath);
  const context = await payloadContext(state);
  const body = slice.map((pull) =>
    pullPayload(context, pull, (login) => findUser(state, login), pullShas(pull, branches)),
  );
  const link = linkHeader(
    request,
    `/repos/${state.owner.login}/${state.repo}/pulls`,
    page,
    lastPage,
  );
  return { status: 200, body, headers: link === undefined ? {} : { link } };
}

async function createPull(request: RouteRequest): Promise<RouteResponse> {
  const { state, body } = request;
  const title = stringField(body, 'title');
  const headField = stringField(body, 'head');
  const base = stringField(body, 'base');
  const missing = [
    ...(title === undefined ? ['title'] : []),
    ...(headField === undefined ? ['head'] : []),
    ...(base === undefined ? ['base'] : []),
  ];
  if (missing.length > 0 || title === undefined || headField === undefined || base === undefined) {
    throw validationFailed(
      PULLS_DOCS,
      missing.map((field) => ({ resource: 'PullRequest', code: 'missing_field', field })),
    );
  }
  const colon = headField.indexOf(':');
  if (colon >= 0 && headField.slice(0, colon).toLowerCase() !== state.owner.login.toLowerCase()) {
    throw validationFailed(PULLS_DOCS, [
      { resource: 'PullRequest', field: 'head', code: 'invalid' },
    ]);
  }
  const head = headField.slice(colon + 1);
  const branches = await listBranches(state.repoPath);
  const headSha = branches.get(head) ?? null;
  if (headSha === null)
    throw validationFailed(PULLS_DOCS, [
      { resource: 'PullRequest', field: 'head', code: 'invalid' },
    ]);
  const baseSha = branches.get(base) ?? null;
  if (baseSha === null)
    throw validationFailed(PULLS_DOCS, [
      { resource: 'PullRequest', field: 'base', code: 'invalid' },
    ]);
  if (state.pulls.findOpen(head, base) !== undefined) {
    const message = `A pull request already exists for ${state.owner.login}:${head}.`;
    throw validationFailed(PULLS_DOCS, [{ resource: 'PullRequest', code: 'custom', message }]);
  }
  const ahead = Number(
    await runGit(state.repoPath, ['rev-list', '--count', `${baseSha}..${headSha}`]),
  );
  if (ahead === 0) {
    const message = `No commits between ${base} and ${head}`;
    throw validationFailed(PULLS_DOCS, [{ resource: 'PullRequest', code: 'custom', message }]);
  }

  const now = timestamp(state.now());
  const pull: StoredPull = {
    ...state.pulls.allocate(),
    title,
    body: stringField(body, 'body') ?? null,
    head,
    headSha,
    base,
    baseSha,
    state: 'open',
    merged: false,
    mergeCommitSha: null,
    createdAt: now,
    updatedAt: now,
    closedAt: null,
    mergedAt: null,
    user: state.user.login,
    mergedBy: null,
    labels: [],
  };
  await state.pulls.save(pull);
  state.logger.info('pull request opened', { number: pull.number, head, base });
  const payload = await detailedPullPayload(state, pull, { headSha, baseSha });
  return { status: 201, body: payload, headers: { location: String(payload['url']) } };
}

async function getPull(request: RouteRequest): Promise<RouteResponse> {
  return { status: 200, body: await detailedPullPayload(request.state, pullNumber(request)) };
}

async function updatePull(request: RouteRequest): Promise<RouteResponse> {
  const { state, body } = request;
  let pull = pullNumber(request);
  const now = timestamp(state.now());
  const title = stringField(body, 'title');
  const description = stringField(body, 'body');
  const requestedState = stringField(body, 'state');
  if (requestedState !== undefined && requestedState !== 'open' && requestedState !== 'closed') {
    throw validationFailed(PULLS_DOCS, [
      { resource: 'PullRequest', field: 'state', code: 'invalid' },
    ]);
  }
  pull = { ...pull, title: title ?? pull.title, body: description ?? pull.body, updatedAt: now };

  let closedNow = false;
  if (requestedState === 'closed' && pull.state === 'open') {
    const branches = await listBranches(state.repoPath);
    pull = { ...pull, ...pullShas(pull, branches), state: 'closed', closedAt: now };
    closedNow = true;
  } else if (requestedState === 'open' && pull.state === 'closed') {
    if (pull.merged) {
      const message = 'state cannot be changed. The pull request has been merged.';
      throw validationFailed(PULLS_DOCS, [
        { resource: 'PullRequest', code: 'custom', field: 'state', message },
      ]);
    }
    if ((await readBranch(state.repoPath, pull.head)) === null) {
      const message = `state cannot be changed. The ${pull.head} branch has been deleted.`;
      throw validationFailed(PULLS_DOCS, [
        { resource: 'PullRequest', code: 'custom', field: 'state', message },
      ]);
    }
    pull = { ...pull, state: 'open', closedAt: null };
  }
  await state.pulls.save(pull);
  if (closedNow) {
    state.logger.info('pull request closed', { number: pull.number });
    await sendPullClosedEvent(state, pull);
  }
  return { status: 200, body: await detailedPullPayload(state, pull) };
}

async function mergePull(request: RouteRequest): Promise<RouteResponse> {
  const { state, body } = request;
  const pull = pullNumber(request);
  const method = stringField(body, 'merge_method') ?? 'merge';
  if (method === 'squash' || method === 'rebase') {
    const name = method === 'squash' ? 'Squash' : 'Rebase';
    throw new GitHubHttpError(405, `${name} merges are not allowed on this repository.`, {
      docsPath: PULLS_DOCS,
    });
  }
  if (method !== 'merge') {
    throw validationFailed(PULLS_DOCS, [
      { resource: 'PullRequest', field: 'merge_method', code: 'invalid' },
    ]);
  }
  if (pull.state !== 'open')
    throw new GitHubHttpError(405, 'Pull Request is not mergeable', { docsPath: PULLS_DOCS });
  const headSha = await readBranch(state.repoPath, pull.head);
  const baseSha = await readBranch(state.repoPath, pull.base);
  if (headSha === null || baseSha === null) {
    throw new GitHubHttpError(405, 'Pull Request is not mergeable', { docsPath: PULLS_DOCS });
  }
  const expectedHead = stringField(body, 'sha');
  if (expectedHead !== undefined && expectedHead !== headSha) {
    throw new GitHubHttpError(409, 'Head branch was modified. Review and try the merge again.', {
      docsPath: PULLS_DOCS,
    });
  }

  const title =
    stringField(body, 'commit_title') ??
    `Merge pull request #${pull.number} from ${state.owner.login}/${pull.head}`;
  const message = stringField(body, 'commit_message') ?? pull.title;
  const mergeSha = await writeMergeCommit(state.repoPath, {
    base: baseSha,
    head: headSha,
    message: `${title}\n\n${message}\n`,
    committer: { name: state.user.name, email: state.user.email },
    date: state.now(),
  });
  if (mergeSha === null)
    throw new GitHubHttpError(405, 'Pull Request is not mergeable', { docsPath: PULLS_DOCS });
  if (!(await compareAndSwapBranch(state.repoPath, pull.base, mergeSha, baseSha))) {
    throw new GitHubHttpError(409, 'Base branch was modified. Review and try the merge again.', {
      docsPath: PULLS_DOCS,
    });
  }

  const now = timestamp(state.now());
  const merged: StoredPull = {
    ...pull,
    state: 'closed',
    merged: true,
    headSha,
    baseSha,
    mergeCommitSha: mergeSha,
    mergedAt: now,
    closedAt: now,
    updatedAt: now,
    mergedBy: state.user.login,
  };
  await state.pulls.save(merged);
  state.pushedAt = now;
  state.logger.info('pull request merged', { number: pull.number, sha: mergeSha });
  await sendPushEvent(state, pull.base, baseSha, mergeSha);
  await sendPullClosedEvent(state, merged);
  return {
    status: 200,
    body: { sha: mergeSha, merged: true, message: 'Pull Request successfully merged' },
  };
}

/** Reads a label name given as a string or as `{ name }`, as GitHub accepts both. */
function labelName(item: unknown): string | null {
  if (typeof item === 'string') return item;
  if (
    typeof item === 'object' &&
    item !== null &&
    'name' in item &&
    typeof item.name === 'string'
  ) {
    return item.name;
  }
  return null;
}

async function addLabels(request: RouteRequest): Promise<RouteResponse> {
  const { state, body } = request;
  const pull = pullNumber(request);
  const raw = body['labels'];
  if (raw === undefined) throw missingField('labels', LABELS_DOCS);
  if (!Array.isArray(raw)) {
    throw validationFailed(LABELS_DOCS, [{ resource: 'Label', field: 'labels', code: 'invalid' }]);
  }

  const names: string[] = [];
  for (const item of raw) {
    const name = labelName(item);
    if (name === null || name.trim() === '') {
      throw validationFailed(LABELS_DOCS, [{ resource: 'Label', field: 'name', code: 'invalid' }]);
    }
    names.push(name);
  }

  const labels = [...pull.labels];
  for (const name of names) {
    if (!labels.some((label) => label.name === name)) labels.push(state.pulls.label(name));
  }
  await state.pulls.save({ ...pull, labels, updatedAt: timestamp(state.now()) });
  const context = await payloadContext(state);
  return { status: 200, body: labels.map((label) => labelPayload(context, label)) };
}

export const pullRoutes: readonly Route[] = [
  { method: 'GET', pattern: /^\/pulls$/, operation: 'pulls/list', write: false, handle: listPulls },
  {
    method: 'POST',
    pattern: /^\/pulls$/,
    operation: 'pulls/create',
    write: true,
    permission: 'pull_requests',
    handle: createPull,
  },
  {
    method: 'GET',
    pattern: /^\/pulls\/(?<number>\d+)$/,
    operation: 'pulls/get',
    write: false,
    handle: getPull,
  },
  {
    method: 'PATCH',
    pattern: /^\/pulls\/(?<number>\d+)$/,
    operation: 'pulls/update',
    write: true,
    permission: 'pull_requests',
    handle: updatePull,
  },
  {
    method: 'PUT',
    pattern: /^\/pulls\/(?<number>\d+)\/merge$/,
    operation: 'pulls/merge',
    write: true,
    permission: 'contents',
    handle: mergePull,
  },
  {
    method: 'POST',
    pattern: /^\/issues\/(?<number>\d+)\/labels$/,
    operation: 'issues/add-labels',
    write: true,
    permission: 'pull_requests',
    handle: addLabels,
  },
];
