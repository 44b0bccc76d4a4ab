// Creates the local forge's bare repository with one initial commit holding a folder's files.

import { access, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { initBareRepository, runGit, type GitIdentity } from './git.ts';

export interface SeedOptions {
  baseBranch: string;
  /** Folder inside the repository the files go to; '' puts them at the root. */
  prefix: string;
  identity: GitIdentity;
  date: Date;
  message?: string;
}

export async function repositoryExists(repoPath: string): Promise<boolean> {
  try {
    await access(path.join(repoPath, 'HEAD'));
    return true;
  } catch {
    return false;
  }
}

/** Lists regular files under a folder, as paths relative to it with forward slashes. */
async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) =>
      path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'),
    )
    .sort();
}

/**
 * Creates a bare repository at `repoPath` whose base branch has one commit with every file under
 * `fromDir` (none when it is null), placed under `options.prefix`. Does nothing and returns false when a repository is
 * already there, so restarts keep what the forge stored. The repository is built beside its
 * final path and renamed into place, so an interrupted seed leaves no half-made repository.
 */
export async function seedRepository(
  repoPath: string,
  fromDir: string | null,
  options: SeedOptions,
): Promise<boolean> {
  if (await repositoryExists(repoPath)) return false;
  const building = await mkdtemp(`${repoPath}.seeding-`);
  try {
    await initBareRepository(building, options.baseBranch);
    const files = fromDir === null ? [] : await listFiles(fromDir);
    const indexEnv = { GIT_INDEX_FILE: path.join(building, 'seed-index') };
    if (files.length > 0) {
      // One hash-object and one update-index for all files: seeding thousands of posts stays fast.
      const absolute = files.map((file) => path.join(fromDir ?? '', file));
      const blobs = (
        await runGit(building, ['hash-object', '-w', '--stdin-paths', '--no-filters'], {
          input: absolute.join('\n'),
        })
      ).split('\n');
      const indexInfo = files
        .map(
          (file, index) =>
            `100644 ${blobs[index]}\t${options.prefix === '' ? file : `${options.prefix}/${file}`}`,
        )
        .join('\n');
      await runGit(building, ['update-index', '--add', '--index-info'], {
        input: `${indexInfo}\n`,
        env: indexEnv,
      });
    }
    const tree = await runGit(building, ['write-tree'], { env: indexEnv });
    await rm(indexEnv.GIT_INDEX_FILE, { force: true });
    const stamp = `${Math.floor(options.date.getTime() / 1000)} +0000`;
    const commit = await runGit(building, ['commit-tree', tree], {
      input:
        options.message ??
        `Seed ${options.prefix === '' ? 'the repository' : options.prefix} with ${files.length} files\n`,
      env: {
        GIT_AUTHOR_NAME: options.identity.name,
        GIT_AUTHOR_EMAIL: options.identity.email,
        GIT_AUTHOR_DATE: stamp,
        GIT_COMMITTER_NAME: options.identity.name,
        GIT_COMMITTER_EMAIL: options.identity.email,
        GIT_COMMITTER_DATE: stamp,
      },
    });
    await runGit(building, ['update-ref', `refs/heads/${options.baseBranch}`, commit]);
    await rename(building, repoPath);
    return true;
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
}
