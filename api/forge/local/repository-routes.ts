// Routes for the repository, its branch refs and its file contents.

import {
  ZERO_SHA,
  compareAndSwapBranch,
  deleteBranch,
  listDirectory,
  readBlob,
  readBranch,
  readTreeEntry,
  resolveCommit,
  resolveSha,
  writeFilesCommit,
  type GitIdentity,
} from './git.ts';
import { GitHubHttpError, missingField, notFound, stringField } from './http.ts';
import {
  commitPayload,
  contentEntryPayload,
  contentFilePayload,
  gitRefPayload,
  repositoryPayload,
} from './payloads.ts';
import {
  payloadContext,
  sendPullClosedEvent,
  timestamp,
  type Route,
  type RouteRequest,
} from './state.ts';

const REFS_DOCS = 'git/refs';
const CONTENTS_DOCS = 'repos/contents';

/** Returns the branch of a `heads/<branch>` ref parameter, or throws GitHub's 404. */
function branchOfRef(ref: string): string {
  if (!ref.startsWith('heads/') || ref.length === 'heads/'.length) throw notFound(REFS_DOCS);
  return ref.slice('heads/'.length);
}

/**
 * Applies git's rules for ref names (git-check-ref-format) to a branch name: no control
 * characters, space, ~ ^ : ? * [ or backslash, no "..", "@{" or "//", no component that starts
 * with "." or ends with ".lock", and no leading or trailing slash or trailing dot.
 */
function isValidBranchName(branch: string): boolean {
  if (branch === '' || branch === '@') return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(branch)) return false;
  if (branch.includes('..') || branch.includes('@{') || branch.includes('//')) return false;
  if (branch.startsWith('/') || branch.endsWith('/') || branch.endsWith('.')) return false;
  return branch.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock'));
}

/** Rejects paths that git would store oddly or that escape the tree. */
function validateFilePath(filePath: string): void {
  const segments = filePath.split('/');
  const invalid = segments.some(
    (segment) => segment === '' || segment === '.' || segment === '..' || segment === '.git',
  );
  if (invalid || /[\0\n\r]/.test(filePath)) {
    throw new GitHubHttpError(422, `path contains a malformed path component`, {
      docsPath: CONTENTS_DOCS,
    });
  }
}

function decodeBase64Content(value: string): Buffer {
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new GitHubHttpError(422, 'content is not valid Base64', { docsPath: CONTENTS_DOCS });
  }
  return Buffer.from(compact, 'base64');
}

function identityField(
  request: RouteRequest,
  field: 'author' | 'committer',
): GitIdentity | undefined {
  const value = request.body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') {
    throw new GitHubHttpError(
      422,
      `Invalid request.\n\nFor '${field}', ${JSON.stringify(value)} is not an object.`,
    );
  }
  const name = 'name' in value && typeof value.name === 'string' ? value.name : undefined;
  const email = 'email' in value && typeof value.email === 'string' ? value.email : undefined;
  if (name === undefined) throw missingField('name', CONTENTS_DOCS);
  if (email === undefined) throw missingField('email', CONTENTS_DOCS);
  return { name, email };
}

/** Returns the repository with `permissions` for the caller, as GitHub does for a signed-in request. */
async function getRepository(request: RouteRequest) {
  const { contents, pull_requests: pulls } = request.caller.permissions;
  const permissions = {
    admin: false,
    maintain: false,
    push: contents === 'write',
    triage: pulls === 'write',
    pull: true,
  };
  return {
    status: 200,
    body: { ...repositoryPayload(await payloadContext(request.state)), permissions },
  };
}

async function getRef(request: RouteRequest) {
  const branch = branchOfRef(request.params['ref'] ?? '');
  const sha = await readBranch(request.state.repoPath, branch);
  if (sha === null) throw notFound(REFS_DOCS);
  return { status: 200, body: gitRefPayload(await payloadContext(request.state), branch, sha) };
}

async function createRef(request: RouteRequest) {
  const { state, body } = request;
  const ref = stringField(body, 'ref');
  const sha = stringField(body, 'sha');
  if (ref === undefined) throw missingField('ref', REFS_DOCS);
  if (sha === undefined) throw missingField('sha', REFS_DOCS);

  if (!ref.startsWith('refs/') || ref.split('/').length < 3) {
    throw new GitHubHttpError(
      422,
      "Reference name must start with 'refs/' and have at least two slashes.",
      { docsPath: REFS_DOCS },
    );
  }
  if (!ref.startsWith('refs/heads/')) {
    throw new GitHubHttpError(
      422,
      'The local forge supports branch references (refs/heads/) only.',
      { docsPath: REFS_DOCS },
    );
  }

  const branch = ref.slice('refs/heads/'.length);
  if (!isValidBranchName(branch)) {
    throw new GitHubHttpError(422, 'Reference name is not valid.', { docsPath: REFS_DOCS });
  }
  const commit = /^[0-9a-f]{40}$/.test(sha) ? await resolveSha(state.repoPath, sha) : null;
  if (commit === null) {
    throw new GitHubHttpError(422, 'Object does not exist', { docsPath: REFS_DOCS });
  }

  if (!(await compareAndSwapBranch(state.repoPath, branch, commit, ZERO_SHA))) {
    throw new GitHubHttpError(422, 'Reference already exists', { docsPath: REFS_DOCS });
  }
  state.logger.info('branch created', { branch, sha: commit });

  const payload = gitRefPayload(await payloadContext(state), branch, commit);
  return { status: 201, body: payload, headers: { location: String(payload['url']) } };
}

async function deleteRef(request: RouteRequest) {
  const { state } = request;
  const branch = branchOfRef(request.params['ref'] ?? '');
  const sha = await readBranch(state.repoPath, branch);
  if (sha === null)
    throw new GitHubHttpError(422, 'Reference does not exist', { docsPath: REFS_DOCS });
  if (branch === state.baseBranch) {
    throw new GitHubHttpError(422, 'The default branch cannot be deleted.', {
      docsPath: REFS_DOCS,
    });
  }
  if (!(await deleteBranch(state.repoPath, branch, sha))) {
    throw new GitHubHttpError(409, 'Reference moved while it was being deleted; try again.', {
      docsPath: REFS_DOCS,
    });
  }
  state.logger.info('branch deleted', { branch, sha });
  // Like GitHub, deleting the head branch of an open pull request closes it unmerged.
  for (const pull of state.pulls.all()) {
    if (pull.state !== 'open' || pull.head !== branch) continue;
    const now = timestamp(state.now());
    const closed = {
      ...pull,
      state: 'closed' as const,
      headSha: sha,
      closedAt: now,
      updatedAt: now,
    };
    await state.pulls.save(closed);
    await sendPullClosedEvent(state, closed);
  }
  return { status: 204 };
}

async function getContent(request: RouteRequest) {
  const { state } = request;
  const filePath = (request.params['path'] ?? '').replace(/\/+$/, '');
  const ref = request.query.get('ref') ?? state.baseBranch;
  const commit = await resolveCommit(state.repoPath, ref);
  if (commit === null) {
    throw new GitHubHttpError(404, `No commit found for the ref ${ref}`, {
      docsPath: CONTENTS_DOCS,
    });
  }
  const entry = await readTreeEntry(state.repoPath, commit, filePath);
  if (entry === null) throw notFound(CONTENTS_DOCS);
  const context = await payloadContext(state);
  if (entry.type === 'tree') {
    const children = await listDirectory(state.repoPath, commit, filePath);
    return { status: 200, body: children.map((child) => contentEntryPayload(context, child, ref)) };
  }
  if (entry.type === 'commit') {
    return { status: 200, body: contentEntryPayload(context, entry, ref) };
  }
  const content = await readBlob(state.repoPath, entry.sha);
  return { status: 200, body: contentFilePayload(context, entry, ref, content) };
}

async function putContent(request: RouteRequest) {
  const { state, body } = request;
  const filePath = request.params['path'] ?? '';
  validateFilePath(filePath);
  const message = stringField(body, 'message');
  const encoded = stringField(body, 'content');
  if (message === undefined) throw missingField('message', CONTENTS_DOCS);
  if (encoded === undefined) throw missingField('content', CONTENTS_DOCS);
  const content = decodeBase64Content(encoded);
  const branch = stringField(body, 'branch') ?? state.baseBranch;
  const expectedSha = stringField(body, 'sha');
  const committer = identityField(request, 'committer') ?? {
    name: state.user.name,
    email: state.user.email,
  };
  const author = identityField(request, 'author') ?? committer;

  const parent = await readBranch(state.repoPath, branch);
  if (parent === null)
    throw new GitHubHttpError(404, `Branch ${branch} not found`, { docsPath: CONTENTS_DOCS });
  const existing = await readTreeEntry(state.repoPath, parent, filePath);
  if (existing !== null && existing.type !== 'blob') {
    throw new GitHubHttpError(422, `path ${filePath} is a directory, not a file`, {
      docsPath: CONTENTS_DOCS,
    });
  }
  if (existing !== null && expectedSha === undefined) throw missingField('sha', CONTENTS_DOCS);
  if (existing !== null && expectedSha !== existing.sha) {
    throw new GitHubHttpError(409, `${filePath} does not match ${expectedSha}`, {
      docsPath: CONTENTS_DOCS,
    });
  }

  const date = state.now();
  const written = await writeFilesCommit(state.repoPath, {
    parent,
    files: [{ path: filePath, content }],
    message,
    author,
    committer,
    date,
  });
  if (!(await compareAndSwapBranch(state.repoPath, branch, written.commit, parent))) {
    throw new GitHubHttpError(409, `${branch} moved while the file was being written; try again.`, {
      docsPath: CONTENTS_DOCS,
    });
  }
  state.logger.info('file committed', { branch, path: filePath, commit: written.commit });

  if (branch === state.baseBranch) state.pushedAt = timestamp(state.now());
  const context = await payloadContext(state);
  const entry = {
    mode: '100644',
    type: 'blob' as const,
    sha: written.blobs[0] ?? '',
    size: content.length,
    path: filePath,
  };
  const commit = {
    sha: written.commit,
    tree: written.tree,
    parents: [parent],
    author: { ...author, date },
    committer: { ...committer, date },
    message,
  };
  return {
    status: existing === null ? 201 : 200,
    body: {
      content: contentEntryPayload(context, entry, branch),
      commit: commitPayload(context, commit),
    },
  };
}

export const repositoryRoutes: readonly Route[] = [
  { method: 'GET', pattern: /^$/, operation: 'repos/get', write: false, handle: getRepository },
  {
    method: 'GET',
    pattern: /^\/git\/ref\/(?<ref>.+)$/,
    operation: 'git/get-ref',
    write: false,
    handle: getRef,
  },
  {
    method: 'POST',
    pattern: /^\/git\/refs$/,
    operation: 'git/create-ref',
    write: true,
    permission: 'contents',
    handle: createRef,
  },
  {
    method: 'DELETE',
    pattern: /^\/git\/refs\/(?<ref>.+)$/,
    operation: 'git/delete-ref',
    write: true,
    permission: 'contents',
    handle: deleteRef,
  },
  {
    method: 'GET',
    pattern: /^\/contents(?:\/(?<path>.*))?$/,
    operation: 'repos/get-content',
    write: false,
    handle: getContent,
  },
  {
    method: 'PUT',
    pattern: /^\/contents\/(?<path>.+)$/,
    operation: 'repos/create-or-update-file-contents',
    write: true,
    permission: 'contents',
    handle: putContent,
  },
];
