// Plumbing over a bare git repository, through the git CLI. Every write goes through objects and
// `update-ref` with the expected old value, so a concurrent writer makes the update fail instead
// of losing a commit.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The value `update-ref` takes as "old value" to require that a ref does not exist yet. */
export const ZERO_SHA = '0000000000000000000000000000000000000000';

export interface GitIdentity {
  name: string;
  email: string;
}

export interface GitCommit {
  sha: string;
  tree: string;
  parents: string[];
  author: GitIdentity & { date: Date };
  committer: GitIdentity & { date: Date };
  message: string;
}

export interface GitTreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  size: number;
  /** Path from the repository root. */
  path: string;
}

export interface FileChanges {
  added: string[];
  modified: string[];
  removed: string[];
}

export class GitCommandError extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(args: readonly string[], exitCode: number | null, stderr: string) {
    super(`git ${args.join(' ')} failed with exit code ${exitCode}: ${stderr.trim()}`);
    this.name = 'GitCommandError';
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

interface RunOptions {
  input?: Buffer | string;
  env?: Record<string, string>;
}

/** Runs git in the repository and resolves with its raw stdout. */
export function runGitBuffer(
  repoPath: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      ['-C', repoPath, ...args],
      {
        encoding: 'buffer',
        maxBuffer: 64 * 1024 * 1024,
        // Global and system configuration must not change what the forge stores.
        env: {
          ...process.env,
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          ...options.env,
        },
      },
      (error, stdout, stderr) => {
        if (error) {
          const code = typeof error.code === 'number' ? error.code : null;
          reject(new GitCommandError(args, code, stderr.toString('utf8')));
        } else {
          resolve(stdout);
        }
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export async function runGit(
  repoPath: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  return (await runGitBuffer(repoPath, args, options)).toString('utf8').trimEnd();
}

function identityEnv(
  author: GitIdentity,
  committer: GitIdentity,
  date: Date,
): Record<string, string> {
  const stamp = `${Math.floor(date.getTime() / 1000)} +0000`;
  return {
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_AUTHOR_DATE: stamp,
    GIT_COMMITTER_NAME: committer.name,
    GIT_COMMITTER_EMAIL: committer.email,
    GIT_COMMITTER_DATE: stamp,
  };
}

export async function initBareRepository(repoPath: string, baseBranch: string): Promise<void> {
  await runGit(path.dirname(repoPath), [
    'init',
    '--bare',
    '--quiet',
    `--initial-branch=${baseBranch}`,
    repoPath,
  ]);
}

/** Returns the commit a branch points to, or null when the branch does not exist. */
export async function readBranch(repoPath: string, branch: string): Promise<string | null> {
  try {
    return await runGit(repoPath, [
      'rev-parse',
      '--verify',
      '--quiet',
      `refs/heads/${branch}^{commit}`,
    ]);
  } catch (error) {
    if (error instanceof GitCommandError && error.exitCode === 1) return null;
    throw error;
  }
}

/** Returns every branch with the commit it points to, in one git call. */
export async function listBranches(repoPath: string): Promise<Map<string, string>> {
  const output = await runGit(repoPath, [
    'for-each-ref',
    '--format=%(objectname) %(refname)',
    'refs/heads/',
  ]);
  const branches = new Map<string, string>();
  for (const line of output.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    branches.set(line.slice(space + 1).replace(/^refs\/heads\//, ''), line.slice(0, space));
  }
  return branches;
}

/** Returns the sha when it names a commit in the repository, or null. */
export async function resolveSha(repoPath: string, sha: string): Promise<string | null> {
  try {
    return await runGit(repoPath, ['rev-parse', '--verify', '--quiet', `${sha}^{commit}`]);
  } catch (error) {
    if (error instanceof GitCommandError && error.exitCode !== null) return null;
    throw error;
  }
}

/** Returns the full sha of a commit named by a branch or a sha, or null when there is none. */
export async function resolveCommit(repoPath: string, name: string): Promise<string | null> {
  const branch = await readBranch(repoPath, name);
  if (branch !== null) return branch;
  if (!/^[0-9a-f]{4,40}$/.test(name)) return null;
  try {
    return await runGit(repoPath, ['rev-parse', '--verify', '--quiet', `${name}^{commit}`]);
  } catch (error) {
    if (error instanceof GitCommandError && error.exitCode !== null) return null;
    throw error;
  }
}

/**
 * Moves a branch from `expectedOld` to `newSha` atomically; ZERO_SHA as `expectedOld` creates it.
 * Returns false when the branch was not at `expectedOld`.
 */
export async function compareAndSwapBranch(
  repoPath: string,
  branch: string,
  newSha: string,
  expectedOld: string,
): Promise<boolean> {
  try {
    await runGit(repoPath, ['update-ref', `refs/heads/${branch}`, newSha, expectedOld]);
    return true;
  } catch (error) {
    if (error instanceof GitCommandError) return false;
    throw error;
  }
}

export async function deleteBranch(
  repoPath: string,
  branch: string,
  expectedOld: string,
): Promise<boolean> {
  try {
    await runGit(repoPath, ['update-ref', '-d', `refs/heads/${branch}`, expectedOld]);
    return true;
  } catch (error) {
    if (error instanceof GitCommandError) return false;
    throw error;
  }
}

export async function readCommit(repoPath: string, sha: string): Promise<GitCommit> {
  const raw = await runGit(repoPath, ['cat-file', 'commit', sha]);
  const split = raw.indexOf('\n\n');
  const header = split < 0 ? raw : raw.slice(0, split);
  const message = split < 0 ? '' : raw.slice(split + 2);
  const parents: string[] = [];
  let tree = '';
  let author: GitCommit['author'] = { name: '', email: '', date: new Date(0) };
  let committer: GitCommit['committer'] = author;
  for (const line of header.split('\n')) {
    const space = line.indexOf(' ');
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (key === 'tree') tree = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author') author = parseSignature(value);
    else if (key === 'committer') committer = parseSignature(value);
  }
  return { sha, tree, parents, author, committer, message };
}

function parseSignature(value: string): GitIdentity & { date: Date } {
  const match = /^(.*) <([^>]*)> (\d+) [+-]\d{4}$/.exec(value);
  if (!match) return { name: value, email: '', date: new Date(0) };
  return { name: match[1] ?? '', email: match[2] ?? '', date: new Date(Number(match[3]) * 1000) };
}

/** Returns the entry at `filePath` in a commit's tree, or null when the path does not exist. */
export async function readTreeEntry(
  repoPath: string,
  commit: string,
  filePath: string,
): Promise<GitTreeEntry | null> {
  if (filePath === '') {
    const tree = await runGit(repoPath, ['rev-parse', `${commit}^{tree}`]);
    return { mode: '040000', type: 'tree', sha: tree, size: 0, path: '' };
  }
  const output = await runGit(repoPath, [
    'ls-tree',
    '--long',
    '--full-tree',
    commit,
    '--',
    filePath,
  ]);
  const entries = parseTreeListing(output);
  return entries.find((entry) => entry.path === filePath) ?? null;
}

/** Lists the direct children of a directory in a commit's tree. */
export async function listDirectory(
  repoPath: string,
  commit: string,
  directory: string,
): Promise<GitTreeEntry[]> {
  const spec = directory === '' ? commit : `${commit}:${directory}`;
  const output = await runGit(repoPath, ['ls-tree', '--long', spec]);
  return parseTreeListing(output).map((entry) => ({
    ...entry,
    path: directory === '' ? entry.path : `${directory}/${entry.path}`,
  }));
}

function parseTreeListing(output: string): GitTreeEntry[] {
  const entries: GitTreeEntry[] = [];
  for (const line of output.split('\n')) {
    const match = /^(\d+) (blob|tree|commit) ([0-9a-f]+) +(-|\d+)\t(.*)$/.exec(line);
    if (!match) continue;
    const type = match[2];
    if (type !== 'blob' && type !== 'tree' && type !== 'commit') continue;
    entries.push({
      mode: match[1] ?? '',
      type,
      sha: match[3] ?? '',
      size: match[4] === '-' ? 0 : Number(match[4]),
      path: unquotePath(match[5] ?? ''),
    });
  }
  return entries;
}

/** Undoes git's C-style quoting of unusual path names. */
function unquotePath(quoted: string): string {
  if (!quoted.startsWith('"')) return quoted;
  const bytes: number[] = [];
  const body = quoted.slice(1, -1);
  const escapes: Record<string, number> = {
    n: 10,
    t: 9,
    r: 13,
    '"': 34,
    '\\': 92,
    a: 7,
    b: 8,
    f: 12,
    v: 11,
  };
  for (let index = 0; index < body.length; index += 1) {
    const character = body[index] ?? '';
    if (character !== '\\') {
      bytes.push(...Buffer.from(character, 'utf8'));
      continue;
    }
    const next = body[index + 1] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.slice(index + 1, index + 4), 8));
      index += 3;
    } else {
      bytes.push(escapes[next] ?? next.charCodeAt(0));
      index += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export function readBlob(repoPath: string, sha: string): Promise<Buffer> {
  return runGitBuffer(repoPath, ['cat-file', 'blob', sha]);
}

export interface FileCommitRequest {
  /** Parent commit, or null for the first commit of a repository. */
  parent: string | null;
  files: ReadonlyArray<{ path: string; content: Buffer }>;
  message: string;
  author: GitIdentity;
  committer: GitIdentity;
  date: Date;
}

/**
 * Writes a commit that adds or replaces files on top of `parent`, without touching any ref.
 * A private index file keeps this safe beside other writers of the same repository.
 */
export async function writeFilesCommit(
  repoPath: string,
  request: FileCommitRequest,
): Promise<{ commit: string; tree: string; blobs: string[] }> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'local-forge-index-'));
  const env = { GIT_INDEX_FILE: path.join(scratch, 'index') };
  try {
    // Loading the parent's tree and storing the blobs do not depend on each other.
    const [blobs] = await Promise.all([
      Promise.all(
        request.files.map((file) =>
          runGit(repoPath, ['hash-object', '-w', '--stdin'], { input: file.content }),
        ),
      ),
      request.parent === null
        ? Promise.resolve('')
        : runGit(repoPath, ['read-tree', request.parent], { env }),
    ]);
    const indexInfo = request.files
      .map((file, index) => `100644 ${blobs[index]}\t${file.path}`)
      .join('\n');
    await runGit(repoPath, ['update-index', '--add', '--index-info'], {
      input: `${indexInfo}\n`,
      env,
    });
    const tree = await runGit(repoPath, ['write-tree'], { env });
    const parents = request.parent === null ? [] : ['-p', request.parent];
    const commit = await runGit(repoPath, ['commit-tree', tree, ...parents], {
      input: request.message,
      env: identityEnv(request.author, request.committer, request.date),
    });
    return { commit, tree, blobs };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Writes a merge commit of `head` into `base` with `git merge-tree --write-tree`, without touching
 * any ref. Returns null when the two conflict.
 */
export async function writeMergeCommit(
  repoPath: string,
  request: { base: string; head: string; message: string; committer: GitIdentity; date: Date },
): Promise<string | null> {
  let tree: string;
  try {
    const output = await runGit(repoPath, [
      'merge-tree',
      '--write-tree',
      '--no-messages',
      request.base,
      request.head,
    ]);
    tree = output.split('\n')[0] ?? '';
  } catch (error) {
    // Exit code 1 means the merge has conflicts; anything else is a real failure.
    if (error instanceof GitCommandError && error.exitCode === 1) return null;
    throw error;
  }
  return runGit(repoPath, ['commit-tree', tree, '-p', request.base, '-p', request.head], {
    input: request.message,
    env: identityEnv(request.committer, request.committer, request.date),
  });
}

/** Returns whether the two commits would merge without conflicts. */
export async function canMerge(repoPath: string, base: string, head: string): Promise<boolean> {
  try {
    await runGit(repoPath, ['merge-tree', '--write-tree', '--no-messages', base, head]);
    return true;
  } catch (error) {
    if (error instanceof GitCommandError && error.exitCode === 1) return false;
    throw error;
  }
}

/** Lists files that differ between two commits (`from` null means the empty tree). */
export async function diffFiles(
  repoPath: string,
  from: string | null,
  to: string,
): Promise<FileChanges> {
  const args =
    from === null
      ? ['diff-tree', '-r', '--root', '--name-status', '--no-renames', '-z', to]
      : ['diff-tree', '-r', '--name-status', '--no-renames', '-z', from, to];
  const output = await runGit(repoPath, args);
  const fields = output.split('\0').filter((field) => field !== '');
  // With --root and a single commit, diff-tree prints the commit sha first.
  if (from === null && fields[0] === to) fields.shift();
  const changes: FileChanges = { added: [], modified: [], removed: [] };
  for (let index = 0; index + 1 < fields.length; index += 2) {
    const status = fields[index];
    const file = fields[index + 1] ?? '';
    if (status === 'A') changes.added.push(file);
    else if (status === 'D') changes.removed.push(file);
    else changes.modified.push(file);
  }
  return changes;
}
