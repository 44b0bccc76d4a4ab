// Reads a content folder (posts/*.md and comments/<post-id>/<comment-id>.md) through the shared
// schema and checks how the files refer to each other. The Astro sites and `npm run
// content:check` both read content through this module, so they accept and reject the same files.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ContentFileError, parseCommentFile, parsePostFile } from './front-matter.ts';
import { ID_PATTERN, type Comment, type Post } from './schema.ts';

/** One thing wrong with one file, printed as `path: field message`. */
export interface ContentProblem {
  path: string;
  field: string;
  message: string;
}

export interface PostFile {
  path: string;
  /** The file name without `.md`; the post's URL is /posts/<slug>/. */
  slug: string;
  post: Post;
  body: string;
}

export interface CommentFile {
  path: string;
  comment: Comment;
}

/** Every file that passed its checks, and a problem for each one that did not. */
export interface ContentTree {
  posts: PostFile[];
  comments: CommentFile[];
  problems: ContentProblem[];
}

interface Listing {
  files: string[];
  folders: string[];
}

async function listFolder(folder: string): Promise<Listing | null> {
  try {
    const entries = await readdir(folder, { withFileTypes: true });
    const visible = entries.filter((entry) => !entry.name.startsWith('.'));
    return {
      files: visible
        .filter((entry) => entry.isFile())
        .map((entry) => entry.name)
        .sort(),
      folders: visible
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort(),
    };
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
    throw error;
  }
}

function describeError(error: unknown, filePath: string): ContentProblem[] {
  if (error instanceof ContentFileError) {
    if (error.issues.length === 0)
      return [{ path: filePath, field: '(file)', message: error.message }];
    return error.issues.map((issue) => ({ path: filePath, ...issue }));
  }
  const message = error instanceof Error ? error.message : String(error);
  return [{ path: filePath, field: '(file)', message: `could not be parsed: ${message}` }];
}

async function readPosts(dir: string, problems: ContentProblem[]): Promise<PostFile[]> {
  const folder = path.join(dir, 'posts');
  const listing = await listFolder(folder);
  if (listing === null) {
    problems.push({
      path: folder,
      field: '(folder)',
      message: 'is missing: create it and put the post files in it',
    });
    return [];
  }
  for (const name of listing.folders) {
    const message = 'is a folder, but posts/ may contain only <slug>.md files';
    problems.push({ path: path.join(folder, name), field: '(file)', message });
  }
  const posts: PostFile[] = [];
  for (const name of listing.files) {
    const filePath = path.join(folder, name);
    const slug = name.replace(/\.md$/, '');
    if (!name.endsWith('.md') || !ID_PATTERN.test(slug)) {
      const message =
        'file name must be a slug of lowercase letters, digits and inner hyphens, ending in .md';
      problems.push({ path: filePath, field: '(file name)', message });
      continue;
    }
    try {
      const { post, body } = parsePostFile(await readFile(filePath, 'utf8'));
      posts.push({ path: filePath, slug, post, body });
    } catch (error) {
      problems.push(...describeError(error, filePath));
    }
  }
  return posts;
}

async function readComments(dir: string, problems: ContentProblem[]): Promise<CommentFile[]> {
  const folder = path.join(dir, 'comments');
  const listing = await listFolder(folder);
  if (listing === null) return [];
  for (const name of listing.files) {
    const message = 'is outside a post folder, but comments belong in comments/<post-id>/<id>.md';
    problems.push({ path: path.join(folder, name), field: '(file)', message });
  }
  const comments: CommentFile[] = [];
  for (const postFolder of listing.folders) {
    const inner = await listFolder(path.join(folder, postFolder));
    for (const name of inner?.folders ?? []) {
      const message = 'is a folder, but a post folder may contain only <comment-id>.md files';
      problems.push({ path: path.join(folder, postFolder, name), field: '(file)', message });
    }
    for (const name of inner?.files ?? []) {
      const filePath = path.join(folder, postFolder, name);
      if (!name.endsWith('.md')) {
        const message = 'must end in .md';
        problems.push({ path: filePath, field: '(file name)', message });
        continue;
      }
      try {
        const comment = parseCommentFile(await readFile(filePath, 'utf8'));
        comments.push({ path: filePath, comment });
      } catch (error) {
        problems.push(...describeError(error, filePath));
      }
    }
  }
  return comments;
}

function checkPostIds(posts: PostFile[], problems: ContentProblem[]): void {
  const seen = new Map<string, string>();
  for (const { path: filePath, post } of posts) {
    const first = seen.get(post.id);
    if (first === undefined) {
      seen.set(post.id, filePath);
    } else {
      const message = `"${post.id}" is already the id of ${first}, so give this post another id`;
      problems.push({ path: filePath, field: 'id', message });
    }
  }
}

function checkCommentPlacement(file: CommentFile, problems: ContentProblem[]): boolean {
  const { comment } = file;
  const folder = path.basename(path.dirname(file.path));
  const name = path.basename(file.path, '.md');
  let placed = true;
  if (folder !== comment.post) {
    const message = `is "${comment.post}" but the file is in the folder of post "${folder}"`;
    problems.push({ path: file.path, field: 'post', message });
    placed = false;
  }
  if (name !== comment.id) {
    const message = `is "${comment.id}" but the file is named "${name}.md", and the two must match`;
    problems.push({ path: file.path, field: 'id', message });
    placed = false;
  }
  return placed;
}

/** Walks parent links from a comment; returns true when the walk comes back to a visited one. */
function isInParentLoop(start: Comment, byId: Map<string, Comment>): boolean {
  const visited = new Set<string>();
  let current: Comment | undefined = start;
  while (current?.parent) {
    if (visited.has(current.id)) return true;
    visited.add(current.id);
    current = byId.get(current.parent);
  }
  return false;
}

function checkCommentLinks(
  comments: CommentFile[],
  postIds: Set<string>,
  problems: ContentProblem[],
): CommentFile[] {
  const byId = new Map<string, Comment>();
  const unique: CommentFile[] = [];
  for (const file of comments) {
    if (!checkCommentPlacement(file, problems)) continue;
    const { comment } = file;
    if (byId.has(comment.id)) {
      const message = `"${comment.id}" is already used by another comment, but comment ids must be unique`;
      problems.push({ path: file.path, field: 'id', message });
      continue;
    }
    byId.set(comment.id, comment);
    unique.push(file);
  }
  return unique.filter((file) => {
    const { comment } = file;
    if (!postIds.has(comment.post)) {
      const message = `"${comment.post}" is not the id of any post in posts/`;
      problems.push({ path: file.path, field: 'post', message });
      return false;
    }
    if (comment.parent === null) return true;
    const parent = byId.get(comment.parent);
    if (parent === undefined || parent.post !== comment.post) {
      const message = `"${comment.parent}" is not a comment on post "${comment.post}"`;
      problems.push({ path: file.path, field: 'parent', message });
      return false;
    }
    if (isInParentLoop(comment, byId)) {
      const message = `"${comment.parent}" leads back to this comment; replies cannot form a loop`;
      problems.push({ path: file.path, field: 'parent', message });
      return false;
    }
    return true;
  });
}

/**
 * Reads every post and comment under a content folder. A file that fails the schema, or that
 * refers to a missing post or parent, is left out and reported in `problems`. Paths in problems
 * start with `dir` as given.
 */
export async function readContentTree(dir: string): Promise<ContentTree> {
  const problems: ContentProblem[] = [];
  const posts = await readPosts(dir, problems);
  checkPostIds(posts, problems);
  const postIds = new Set(posts.map(({ post }) => post.id));
  const comments = checkCommentLinks(await readComments(dir, problems), postIds, problems);
  return { posts, comments, problems };
}

/** Formats a problem as one line: `path: field message`. */
export function formatProblem(problem: ContentProblem): string {
  return `${problem.path}: ${problem.field} ${problem.message}`;
}
