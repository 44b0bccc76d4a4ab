// Pull request metadata of the local forge, kept in one JSON file beside the bare repository so
// that pull requests survive a restart. Git itself stores the branches and commits.

import { readFile, rename, writeFile } from 'node:fs/promises';

export interface StoredLabel {
  id: number;
  name: string;
  description: string;
  color: string;
}

export interface StoredPull {
  number: number;
  /** Unique across the forge's objects, like GitHub's numeric ids. */
  id: number;
  title: string;
  body: string | null;
  /** Head branch name, without refs/heads/. */
  head: string;
  /** Last known head commit; the live branch wins while it exists. */
  headSha: string;
  base: string;
  /** Base commit when the pull request was opened or merged. */
  baseSha: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergeCommitSha: string | null;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  mergedAt: string | null;
  user: string;
  mergedBy: string | null;
  labels: StoredLabel[];
}

interface PullFile {
  nextNumber: number;
  nextId: number;
  labels: StoredLabel[];
  pulls: StoredPull[];
}

export interface PullStore {
  all(): readonly StoredPull[];
  get(number: number): StoredPull | undefined;
  /** Returns the open pull request whose head and base are these branches, if any. */
  findOpen(head: string, base: string): StoredPull | undefined;
  /** Allocates the next pull request number and a fresh object id. */
  allocate(): { number: number; id: number };
  /** Returns the label of this name, creating it with a new id. */
  label(name: string): StoredLabel;
  save(pull: StoredPull): Promise<void>;
}

export async function openPullStore(file: string): Promise<PullStore> {
  const data = await loadPullFile(file);
  const byNumber = new Map(data.pulls.map((pull) => [pull.number, pull]));

  async function persist(): Promise<void> {
    data.pulls = [...byNumber.values()].sort((a, b) => a.number - b.number);
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(data, null, 2)}\n`);
    await rename(temporary, file);
  }

  return {
    all: () => [...byNumber.values()],
    get: (number) => byNumber.get(number),
    findOpen: (head, base) =>
      [...byNumber.values()].find(
        (pull) => pull.state === 'open' && pull.head === head && pull.base === base,
      ),
    allocate() {
      const allocated = { number: data.nextNumber, id: data.nextId };
      data.nextNumber += 1;
      data.nextId += 1;
      return allocated;
    },
    label(name) {
      const existing = data.labels.find((label) => label.name === name);
      if (existing) return existing;
      const created = { id: data.nextId, name, description: '', color: 'ededed' };
      data.nextId += 1;
      data.labels.push(created);
      return created;
    },
    async save(pull) {
      byNumber.set(pull.number, pull);
      await persist();
    },
  };
}

async function loadPullFile(file: string): Promise<PullFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      return { nextNumber: 1, nextId: 1000, labels: [], pulls: [] };
    }
    throw error;
  }
  const parsed: PullFile = JSON.parse(text);
  if (!Array.isArray(parsed.pulls) || typeof parsed.nextNumber !== 'number') {
    throw new Error(
      `${file} is not a local forge pull request file: delete it or restore a backup.`,
    );
  }
  return parsed;
}
