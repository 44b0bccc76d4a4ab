// Writes api/workers/generated/content-index.json from a content folder, for wrangler to bundle.
// Usage: node api/workers/build-content-index.ts [content-dir]   (default: ./content)
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCommentIndex, loadPosts } from '../platform/content-index.ts';
import type { ContentSnapshot } from './content-snapshot.ts';

export const GENERATED_INDEX = fileURLToPath(
  new URL('./generated/content-index.json', import.meta.url),
);

/** Reads `contentDir` and writes the bundled snapshot; returns the snapshot written. */
export async function writeContentIndex(contentDir: string): Promise<ContentSnapshot> {
  const [posts, comments] = await Promise.all([
    loadPosts(contentDir),
    loadCommentIndex(contentDir),
  ]);
  const snapshot: ContentSnapshot = {
    commit: null,
    posts: [...posts.values()].sort((a, b) => a.id.localeCompare(b.id)),
    comments: Object.fromEntries([...comments].sort(([a], [b]) => a.localeCompare(b))),
  };
  await mkdir(path.dirname(GENERATED_INDEX), { recursive: true });
  await writeFile(GENERATED_INDEX, JSON.stringify(snapshot, null, 2) + '\n');
  return snapshot;
}

if (import.meta.main) {
  const contentDir = path.resolve(process.argv[2] ?? 'content');
  const snapshot = await writeContentIndex(contentDir);
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), GENERATED_INDEX)}: ${snapshot.posts.length} posts, ` +
      `${Object.keys(snapshot.comments).length} comments from ${contentDir}\n`,
  );
}
