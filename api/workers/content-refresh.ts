// Keeps the Worker's posts and comment ids current. Each isolate starts from the index bundled at
// deploy time (generated/content-index.json, see content-snapshot.ts). A push to the base branch
// is applied to the latest snapshot: the comment files its commits added or removed change the
// comment ids. Each post file they added or modified is read from the forge at the pushed commit
// for its front matter. The result goes to D1, and isolates reload it from there.
//
// Limits: the index is only as complete as the push events. A lost push webhook, or a push so
// large that GitHub truncates the file lists of its event, leaves it incomplete until the next
// deploy regenerates the bundle. A post whose file cannot be read or parsed keeps its earlier
// entry, and the failure is logged.
import * as v from 'valibot';
import bundled from './generated/content-index.json' with { type: 'json' };
import { parsePostFile } from '../content/front-matter.ts';
import { ID_PATTERN } from '../content/schema.ts';
import type { ForgeClient } from '../forge/types.ts';
import type { Clock } from '../platform/clock.ts';
import type { D1Database } from '../platform/d1.ts';
import { errorMessage, type Logger } from '../platform/logger.ts';
import {
  applySnapshot,
  parseSnapshot,
  type ContentMaps,
  type ContentSnapshot,
} from './content-snapshot.ts';

/** How long an isolate uses its copy of the index before it checks D1 for a newer one. */
export const SNAPSHOT_TTL_MS = 60_000;

const CONTENT_PREFIX = 'content/';

const PushSchema = v.object({
  ref: v.string(),
  after: v.string(),
  commits: v.array(
    v.object({
      added: v.optional(v.array(v.string()), []),
      removed: v.optional(v.array(v.string()), []),
      modified: v.optional(v.array(v.string()), []),
    }),
  ),
});

export type PushEvent = v.InferOutput<typeof PushSchema>;

/** Reads a push event body; returns null for any other payload. */
export function parsePushEvent(payload: unknown): PushEvent | null {
  const result = v.safeParse(PushSchema, payload);
  return result.success ? result.output : null;
}

export interface ContentState {
  /** The maps the app and the delivery worker read; refilled in place. */
  maps: ContentMaps;
  /** Loads the snapshot in D1 when this isolate's copy is older than SNAPSHOT_TTL_MS. */
  ensureFresh(): Promise<void>;
  /** Applies a push to `branch` and stores the result in D1; other branches change nothing. */
  applyPush(push: PushEvent, branch: string): Promise<void>;
}

export interface ContentStateOptions {
  db: D1Database;
  forge: ForgeClient;
  logger: Logger;
  clock: Clock;
  /** The starting snapshot; the bundled one when absent. */
  initial?: ContentSnapshot;
}

/** Collects the changed paths of a push, each as the last commit that touched it left it. */
function changedPaths(push: PushEvent): Map<string, 'written' | 'removed'> {
  const changes = new Map<string, 'written' | 'removed'>();
  for (const commit of push.commits) {
    for (const path of [...commit.added, ...commit.modified]) changes.set(path, 'written');
    for (const path of commit.removed) changes.set(path, 'removed');
  }
  return changes;
}

/** Splits content/posts/<slug>.md or content/comments/<post>/<id>.md into its parts. */
function classify(
  path: string,
): { kind: 'post'; slug: string } | { kind: 'comment'; post: string; id: string } | null {
  if (!path.startsWith(CONTENT_PREFIX) || !path.endsWith('.md')) return null;
  const parts = path.slice(CONTENT_PREFIX.length, -'.md'.length).split('/');
  if (parts.length === 2 && parts[0] === 'posts' && parts[1] !== undefined && parts[1] !== '') {
    return { kind: 'post', slug: parts[1] };
  }
  const [folder, post, id] = parts;
  if (parts.length === 3 && folder === 'comments' && post !== undefined && id !== undefined) {
    if (ID_PATTERN.test(post) && ID_PATTERN.test(id)) return { kind: 'comment', post, id };
  }
  return null;
}

export function createContentState(options: ContentStateOptions): ContentState {
  const { db, forge, logger, clock } = options;
  let current = options.initial ?? parseSnapshot(bundled, 'the bundle');
  let checkedAt = Number.NEGATIVE_INFINITY;
  const maps: ContentMaps = { posts: new Map(), comments: new Map() };
  applySnapshot(maps, current);

  async function loadStored(): Promise<void> {
    const row = await db
      .prepare('SELECT snapshot FROM content_snapshot WHERE id = 1')
      .first<{ snapshot: string }>();
    if (row === null) return;
    current = parseSnapshot(JSON.parse(row.snapshot), 'D1');
    applySnapshot(maps, current);
  }

  async function ensureFresh(): Promise<void> {
    const now = clock.now().getTime();
    if (now - checkedAt < SNAPSHOT_TTL_MS) return;
    checkedAt = now;
    try {
      await loadStored();
    } catch (error) {
      logger.error('reading the content snapshot failed, keeping the one in memory', {
        error: errorMessage(error),
      });
    }
  }

  async function applyPush(push: PushEvent, branch: string): Promise<void> {
    if (push.ref !== `refs/heads/${branch}`) return;
    // NOTE: read, change, write without a lock: two pushes applied at the same moment in two
    // isolates can overwrite each other's change.
    await loadStored();
    const posts = new Map(current.posts.map((post) => [post.path, post]));
    const comments = new Map(Object.entries(current.comments));
    let changed = 0;
    for (const [path, change] of changedPaths(push)) {
      const target = classify(path);
      if (target === null) continue;
      if (target.kind === 'comment') {
        if (change === 'written') comments.set(target.id, target.post);
        else comments.delete(target.id);
        changed += 1;
        continue;
      }
      const postPath = `/posts/${encodeURIComponent(target.slug)}/`;
      if (change === 'removed') {
        posts.delete(postPath);
        changed += 1;
        continue;
      }
      try {
        const text = await forge.readFile(path, push.after);
        if (text === null) throw new Error(`${path} is not on the forge at ${push.after}`);
        const { post } = parsePostFile(text);
        posts.set(postPath, {
          id: post.id,
          title: post.title,
          visibility: post.visibility,
          comments: post.comments,
          path: postPath,
        });
        changed += 1;
      } catch (error) {
        logger.error('reading a pushed post failed, keeping its earlier entry', {
          path,
          commit: push.after,
          error: errorMessage(error),
        });
      }
    }
    const next: ContentSnapshot = {
      commit: push.after,
      posts: [...posts.values()],
      comments: Object.fromEntries(comments),
    };
    await db
      .prepare(
        `INSERT INTO content_snapshot (id, snapshot, updated_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot,
           updated_at = excluded.updated_at`,
      )
      .bind(JSON.stringify(next), clock.now().getTime())
      .run();
    current = next;
    applySnapshot(maps, current);
    checkedAt = clock.now().getTime();
    logger.info('content index updated from push', {
      commit: push.after,
      changed,
      posts: maps.posts.size,
      comments: maps.comments.size,
    });
  }

  return { maps, ensureFresh, applyPush };
}
