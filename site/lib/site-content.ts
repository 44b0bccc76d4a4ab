// The shape of a post as the pages see it: the post's front matter, its slug, and the comments
// this site variant may show, each already rendered to safe HTML.
import * as v from 'valibot';
import type { CommentFile, ContentTree, PostFile } from '../../api/content/loader.ts';
import { CommentSchema, PostSchema } from '../../api/content/schema.ts';
import type { SiteVariant } from '../settings.ts';

export const SiteCommentSchema = v.object({
  ...CommentSchema.entries,
  /** The comment's markdown rendered by renderCommentMarkdown. */
  html: v.string(),
});

export const SitePostSchema = v.object({
  ...PostSchema.entries,
  slug: v.string(),
  commentList: v.array(SiteCommentSchema),
});

export type SiteComment = v.InferOutput<typeof SiteCommentSchema>;
export type SitePost = v.InferOutput<typeof SitePostSchema>;

/** Posts and comments that one site variant shows. */
export interface VariantContent {
  posts: PostFile[];
  /** Comments by post id, in file order. */
  commentsByPost: Map<string, CommentFile[]>;
}

/**
 * Keeps what a variant may show: the public site gets public posts and, on them, public comments
 * only; the internal site gets everything.
 */
export function selectForVariant(tree: ContentTree, variant: SiteVariant): VariantContent {
  const isShown = (visibility: string) => variant === 'internal' || visibility === 'public';
  const posts = tree.posts.filter(({ post }) => isShown(post.visibility));
  const shownPostIds = new Set(posts.map(({ post }) => post.id));
  const commentsByPost = new Map<string, CommentFile[]>();
  for (const file of tree.comments) {
    const { comment } = file;
    if (!shownPostIds.has(comment.post) || !isShown(comment.visibility)) continue;
    const list = commentsByPost.get(comment.post) ?? [];
    list.push(file);
    commentsByPost.set(comment.post, list);
  }
  return { posts, commentsByPost };
}

/**
 * Builds the data stored for one post; `renderComment` turns comment markdown into HTML. A reply
 * to a comment that is not in `comments` (one this variant hides) becomes a thread of its own,
 * so the page never shows the hidden comment's id.
 */
export function toSitePost(
  file: PostFile,
  comments: readonly CommentFile[],
  renderComment: (markdown: string, options: { idPrefix: string }) => string,
): SitePost {
  const shownIds = new Set(comments.map(({ comment }) => comment.id));
  const commentList = comments.map(({ comment }): SiteComment => {
    const { body, parent, ...meta } = comment;
    const shownParent = parent !== null && shownIds.has(parent) ? parent : null;
    // Each comment's footnote ids start with its own id, so two comments on one page never share one.
    return { ...meta, parent: shownParent, html: renderComment(body, { idPrefix: meta.id }) };
  });
  return { ...file.post, slug: file.slug, commentList };
}

/** Reads a stored entry's data back as a SitePost; throws when it has another shape. */
export function readSitePost(data: unknown): SitePost {
  return v.parse(SitePostSchema, data);
}

/** Orders posts newest first, then by title. */
export function sortPostsNewestFirst<T extends { date: string; title: string }>(posts: T[]): T[] {
  return [...posts].sort((a, b) => b.date.localeCompare(a.date) || a.title.localeCompare(b.title));
}
