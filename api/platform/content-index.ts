// Lookups built from content/ when the API starts: the posts that exist, and the comments already
// merged. The API checks every submission against them.
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCommentFile, parsePostFile } from '../content/front-matter.ts';
import { ID_PATTERN, type Visibility } from '../content/schema.ts';

export interface PostInfo {
  id: string;
  title: string;
  visibility: Visibility;
  comments: 'open' | 'closed';
  /** The post's page on either site, such as /posts/hello-world/. */
  path: string;
}

/** Posts by id. */
export type PostLookup = ReadonlyMap<string, PostInfo>;

/** The post id of each comment already in content/, by comment id. */
export type CommentIndex = ReadonlyMap<string, string>;

async function listEntries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return [];
    throw error;
  }
}

/** Reads every content/posts/<slug>.md and indexes the posts by id. */
export async function loadPosts(contentDir: string): Promise<Map<string, PostInfo>> {
  const postsDir = join(contentDir, 'posts');
  const posts = new Map<string, PostInfo>();
  const files = new Map<string, string>();
  for (const entry of await listEntries(postsDir)) {
    if (!entry.isFile() || !entry.name.endsWith('.md')) continue;
    const file = join(postsDir, entry.name);
    const { post } = parsePostFile(await readFile(file, 'utf8'));
    const earlier = files.get(post.id);
    if (earlier !== undefined) {
      throw new Error(
        `post id "${post.id}" is used by both ${earlier} and ${file}; ids must be unique`,
      );
    }
    files.set(post.id, file);
    const slug = entry.name.slice(0, -'.md'.length);
    posts.set(post.id, {
      id: post.id,
      title: post.title,
      visibility: post.visibility,
      comments: post.comments,
      path: `/posts/${encodeURIComponent(slug)}/`,
    });
  }
  return posts;
}

/**
 * Indexes the comments in content/comments/<post-id>/<comment-id>.md by their path alone, which
 * is how the API writes them, so startup does not parse thousands of files.
 */
export async function loadCommentIndex(contentDir: string): Promise<Map<string, string>> {
  const commentsDir = join(contentDir, 'comments');
  const index = new Map<string, string>();
  for (const postDir of await listEntries(commentsDir)) {
    if (!postDir.isDirectory() || !ID_PATTERN.test(postDir.name)) continue;
    for (const entry of await listEntries(join(commentsDir, postDir.name))) {
      const id = entry.name.slice(0, -'.md'.length);
      if (entry.isFile() && entry.name.endsWith('.md') && ID_PATTERN.test(id)) {
        index.set(id, postDir.name);
      }
    }
  }
  return index;
}

/**
 * Reads the date of every comment in content/comments, for the silence check's history. A file
 * that does not parse is skipped: the content check reports it, and a rate needs no exact count.
 */
export async function loadCommentDates(contentDir: string): Promise<Date[]> {
  const commentsDir = join(contentDir, 'comments');
  const dates: Date[] = [];
  for (const postDir of await listEntries(commentsDir)) {
    if (!postDir.isDirectory()) continue;
    for (const entry of await listEntries(join(commentsDir, postDir.name))) {
      if (!entry.isFile() || !entry.name.endsWith('.md')) continue;
      const text = await readFile(join(commentsDir, postDir.name, entry.name), 'utf8');
      try {
        const date = new Date(parseCommentFile(text).date);
        if (!Number.isNaN(date.getTime())) dates.push(date);
      } catch {
        continue;
      }
    }
  }
  return dates;
}
