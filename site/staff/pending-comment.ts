// The review page's view of one pending comment, read from GET /api/staff/comments, and the
// description of a reply's parent comment.

export interface PendingComment {
  receipt: string;
  /** Title of the comment's pull request. */
  title: string;
  /**
   * The post the comment is on, or null when the API listed the pull request without the comment
   * (its outbox has no record of it). The fields from author to html are empty in that case.
   */
  post: { id: string; title: string } | null;
  author: string;
  date: string;
  visibility: string;
  parent: string | null;
  /** The comment rendered by the API with renderCommentMarkdown, the same as on the sites. */
  html: string;
  pullRequest: { number: number; url: string } | null;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function readString(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  return typeof value === 'string' ? value : '';
}

/** Reads one entry of the API's `comments` list. Returns null for an entry without a receipt. */
export function toPendingComment(value: unknown): PendingComment | null {
  if (!isRecord(value) || typeof value.receipt !== 'string') return null;
  const pr = value.pullRequest;
  const pullRequest =
    isRecord(pr) && typeof pr.number === 'number' && typeof pr.url === 'string'
      ? { number: pr.number, url: pr.url }
      : null;
  const post = isRecord(value.post)
    ? { id: readString(value.post, 'id'), title: readString(value.post, 'title') }
    : null;
  return {
    receipt: value.receipt,
    title: readString(value, 'title'),
    post,
    author: readString(value, 'author'),
    date: readString(value, 'date'),
    visibility: readString(value, 'visibility'),
    parent: typeof value.parent === 'string' ? value.parent : null,
    html: readString(value, 'html'),
    pullRequest,
  };
}

/** The parent comment of a reply, as the review page shows it. */
export type ParentReference =
  /** The parent waits for review too, on this page. */
  | { kind: 'pending'; author: string; receipt: string }
  /** The parent's anchor on the internal site's post page. */
  | { kind: 'linked'; shortId: string; id: string; href: string }
  /** The post is not on this build of the internal site, so no link can be made. */
  | { kind: 'unlinked'; shortId: string; id: string };

/**
 * Shortens a comment id for display. Comment ids are ULIDs, whose first 10 characters are a
 * timestamp shared by comments sent close together, so the last 8 (random) characters are kept.
 */
export function shortCommentId(id: string): string {
  return id.length <= 12 ? id : `…${id.slice(-8)}`;
}

/**
 * Describes the parent of `item`: by its author when it is among `pending`, otherwise by a short
 * id, linked to its anchor when `postSlugs` (post id to slug) contains the post.
 */
export function describeParent(
  item: PendingComment,
  pending: readonly PendingComment[],
  postSlugs: ReadonlyMap<string, string>,
): ParentReference | null {
  const parent = item.parent;
  if (parent === null) return null;
  const waiting = pending.find((other) => other.receipt === parent);
  if (waiting !== undefined) {
    return { kind: 'pending', author: waiting.author || 'a comment', receipt: parent };
  }
  const shortId = shortCommentId(parent);
  const slug = item.post === null ? undefined : postSlugs.get(item.post.id);
  if (slug === undefined) return { kind: 'unlinked', shortId, id: parent };
  const href = `/posts/${encodeURIComponent(slug)}/#comment-${encodeURIComponent(parent)}`;
  return { kind: 'linked', shortId, id: parent, href };
}

/** Reads the post id to slug map that the page embeds as JSON. Invalid JSON gives an empty map. */
export function readPostSlugs(json: string | undefined): Map<string, string> {
  const slugs = new Map<string, string>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(json ?? '{}');
  } catch {
    return slugs;
  }
  if (!isRecord(parsed)) return slugs;
  for (const [id, slug] of Object.entries(parsed)) {
    if (typeof slug === 'string') slugs.set(id, slug);
  }
  return slugs;
}
