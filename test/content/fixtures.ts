// Writes small content folders for tests: posts as front matter plus body, comments through
// formatCommentFile, the writer the API uses.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatCommentFile } from '../../api/content/front-matter.ts';
import type { CommentMetaInput, PostInput } from '../../api/content/schema.ts';

export interface FixturePost extends PostInput {
  slug: string;
  body?: string;
}

export interface FixtureComment extends CommentMetaInput {
  body: string;
}

export function postFile(post: PostInput, body: string): string {
  const lines = ['---'];
  for (const [key, value] of Object.entries(post)) {
    if (value !== undefined) lines.push(`${key}: ${JSON.stringify(value)}`);
  }
  lines.push('---', '', body);
  return lines.join('\n');
}

/** Creates an empty temporary folder whose name starts with `prefix`. */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `marginalia-${prefix}-`));
}

/** Writes posts and comments into `dir` (posts/<slug>.md, comments/<post>/<id>.md). */
export async function writeContent(
  dir: string,
  posts: readonly FixturePost[],
  comments: readonly FixtureComment[],
): Promise<void> {
  await mkdir(path.join(dir, 'posts'), { recursive: true });
  await mkdir(path.join(dir, 'comments'), { recursive: true });
  for (const { slug, body = 'Post text.\n', ...post } of posts) {
    await writeFile(path.join(dir, 'posts', `${slug}.md`), postFile(post, body));
  }
  for (const { body, ...meta } of comments) {
    const folder = path.join(dir, 'comments', meta.post);
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, `${meta.id}.md`), formatCommentFile(meta, body));
  }
}

/** Writes a file at a path relative to `dir`, creating folders on the way. */
export async function writeRaw(dir: string, relativePath: string, text: string): Promise<string> {
  const file = path.join(dir, relativePath);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}
