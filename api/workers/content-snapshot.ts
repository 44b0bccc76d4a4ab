// The posts and comment ids the Worker checks submissions against. Workers have no filesystem,
// so `npm run workers:content` reads content/ at deploy time into generated/content-index.json,
// which wrangler bundles as a JSON module. A push to the base branch replaces it: the Worker
// lists the branch's tree on the forge and stores a new snapshot in D1, which every isolate
// reads when its copy is older than SNAPSHOT_TTL_MS.
import * as v from 'valibot';
import { ID_PATTERN, VISIBILITIES } from '../content/schema.ts';
import type { PostInfo } from '../platform/content-index.ts';

/** The serialized form of the content index, in the bundle and in D1. */
export interface ContentSnapshot {
  /** The base branch commit the snapshot was read from, or null for one read from a checkout. */
  commit: string | null;
  posts: PostInfo[];
  /** The post id of each comment already merged, by comment id. */
  comments: Record<string, string>;
}

const SnapshotSchema = v.object({
  commit: v.nullable(v.string()),
  posts: v.array(
    v.object({
      id: v.pipe(v.string(), v.regex(ID_PATTERN)),
      title: v.string(),
      visibility: v.picklist(VISIBILITIES),
      comments: v.picklist(['open', 'closed']),
      path: v.string(),
    }),
  ),
  comments: v.record(v.string(), v.string()),
});

/** Validates a snapshot read from the bundle or from D1; raises with the first problem. */
export function parseSnapshot(value: unknown, source: string): ContentSnapshot {
  const result = v.safeParse(SnapshotSchema, value);
  if (!result.success) {
    const issue = result.issues[0];
    throw new Error(`the content snapshot from ${source} is invalid: ${issue.message}`);
  }
  return result.output;
}

/** Posts and comment ids as the maps createApp and the delivery worker hold. */
export interface ContentMaps {
  posts: Map<string, PostInfo>;
  comments: Map<string, string>;
}

/** Refills `maps` in place, because the routes and the worker keep references to them. */
export function applySnapshot(maps: ContentMaps, snapshot: ContentSnapshot): void {
  maps.posts.clear();
  for (const post of snapshot.posts) maps.posts.set(post.id, post);
  maps.comments.clear();
  for (const [commentId, postId] of Object.entries(snapshot.comments)) {
    maps.comments.set(commentId, postId);
  }
}
