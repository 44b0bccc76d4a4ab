// Astro content loader for the `posts` collection. Astro's `schema` option takes only zod, so this
// loader validates with the shared valibot schema itself, keeps what the variant may show, and
// stores each post with its comments already rendered.
import type { Loader, LoaderContext } from 'astro/loaders';
import { formatProblem, readContentTree } from '../../api/content/loader.ts';
import { renderCommentMarkdown } from '../../api/content/render.ts';
import type { SiteSettings } from '../settings.ts';
import { selectForVariant, toSitePost, type SitePost } from './site-content.ts';

/** The part of Astro's loader context that loading posts uses. */
export interface PostsLoadContext {
  store: {
    clear: () => void;
    set: (entry: {
      id: string;
      data: SitePost;
      rendered: Awaited<ReturnType<LoaderContext['renderMarkdown']>>;
      digest: string;
    }) => boolean;
  };
  renderMarkdown: LoaderContext['renderMarkdown'];
  generateDigest: (data: SitePost) => string;
  logger: { info: (message: string) => void };
}

type LoaderSettings = Pick<SiteSettings, 'contentDir' | 'variant'>;

/**
 * Reads the content folder, throws listing every problem (file, field, reason) if any file is
 * invalid, and otherwise replaces the store's entries with the posts this variant shows.
 */
export async function loadPosts(
  settings: LoaderSettings,
  context: PostsLoadContext,
): Promise<void> {
  const tree = await readContentTree(settings.contentDir);
  if (tree.problems.length > 0) {
    const lines = tree.problems.map(formatProblem).join('\n');
    throw new Error(
      `content in ${settings.contentDir} is invalid:\n${lines}\n` +
        'Fix these files (npm run content:check lists the same problems) and build again.',
    );
  }
  const { posts, commentsByPost } = selectForVariant(tree, settings.variant);
  // Every build starts from an empty store, so a post removed from the content folder, or made
  // internal, never survives from a cached earlier build.
  context.store.clear();
  let commentCount = 0;
  for (const file of posts) {
    const comments = commentsByPost.get(file.post.id) ?? [];
    commentCount += comments.length;
    const data = toSitePost(file, comments, renderCommentMarkdown);
    const rendered = await context.renderMarkdown(file.body);
    context.store.set({ id: file.post.id, data, rendered, digest: context.generateDigest(data) });
  }
  context.logger.info(`${settings.variant} site: ${posts.length} posts, ${commentCount} comments`);
}

export function postsLoader(settings: LoaderSettings): Loader {
  return { name: 'marginalia-posts', load: (context) => loadPosts(settings, context) };
}
