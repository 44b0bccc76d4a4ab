// Build time of a large blog with and without comments. The script generates `--posts` posts
// (all public, comments open) and builds both variants. Then it adds `--comments` comments spread
// evenly over the posts (every fifth one a reply), builds both again, and reports each variant's
// ratio. The defaults are the figure's size, 2,000 posts and 20,000 comments, which took 50 s to
// 2 minutes on a 2-core machine. Pass smaller numbers for a quick check.
//
//   node test/bench/large-build.ts [--posts 2000] [--comments 20000] [--json-out FILE]
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatCommentFile } from '../../api/content/front-matter.ts';
import { createIdGenerator } from '../../api/platform/ids.ts';
import { buildSite, makeBuildRoot } from '../site/build-site.ts';
import { figure, numberOption, report, round, runMain } from './common.ts';

const PARAGRAPH =
  'Static sites keep the reading path simple: the server sends files, and the browser shows ' +
  'them. This generated paragraph gives each page a realistic amount of text to render.';

async function writePosts(contentDir: string, posts: number): Promise<string[]> {
  const dir = path.join(contentDir, 'posts');
  await mkdir(dir, { recursive: true });
  const ids: string[] = [];
  for (let index = 0; index < posts; index += 1) {
    const id = `generated-post-${index}`;
    ids.push(id);
    const day = String((index % 28) + 1).padStart(2, '0');
    const text = [
      '---',
      `id: ${id}`,
      `title: Generated post number ${index}`,
      `date: 2026-01-${day}T10:00:00Z`,
      'visibility: public',
      'comments: open',
      '---',
      '',
      `## Post ${index}`,
      '',
      PARAGRAPH,
      '',
      `- a list item with \`code\` in post ${index}`,
      '- another item with a [link](https://example.com/)',
      '',
      PARAGRAPH,
      '',
    ].join('\n');
    await writeFile(path.join(dir, `${id}.md`), text);
  }
  return ids;
}

async function writeComments(contentDir: string, postIds: string[], count: number): Promise<void> {
  let clock = Date.parse('2026-02-01T00:00:00Z');
  const ids = createIdGenerator({ now: () => new Date(clock) });
  const lastTopLevel = new Map<string, string>();
  for (let index = 0; index < count; index += 1) {
    clock += 1000;
    const post = postIds[index % postIds.length] ?? '';
    const id = ids.commentId();
    // Every fifth comment on a post replies to the latest top-level comment there.
    const parent = index % 5 === 4 ? (lastTopLevel.get(post) ?? null) : null;
    if (parent === null) lastTopLevel.set(post, id);
    const body = `Comment ${index} on ${post}. It has **markdown**, \`code\` and a second line.\n\n${PARAGRAPH}\n`;
    const file = formatCommentFile(
      {
        id,
        post,
        parent,
        author: `Reader ${index % 97}`,
        date: new Date(clock).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        visibility: 'public',
        source: 'public',
      },
      body,
    );
    const dir = path.join(contentDir, 'comments', post);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `${id}.md`), file);
  }
}

const VARIANTS = ['public', 'internal'] as const;

async function timedBuild(
  root: string,
  contentDir: string,
  variant: string,
  label: string,
): Promise<number> {
  const build = await buildSite({
    variant,
    contentDir,
    outDir: path.join(root, `out-${variant}-${label}`),
    cacheDir: path.join(root, `cache-${variant}-${label}`),
    env: { PUBLIC_API_URL: 'http://127.0.0.1:8787' },
  });
  if (build.code !== 0) {
    throw new Error(`the ${variant} build ${label} failed:\n${build.output.slice(-3000)}`);
  }
  console.log(`${variant} ${label}: ${build.milliseconds} ms`);
  return build.milliseconds;
}

async function main(): Promise<void> {
  const posts = numberOption(process.argv, '--posts', 2000);
  const comments = numberOption(process.argv, '--comments', 20_000);
  const root = await makeBuildRoot();
  try {
    const contentDir = path.join(root, 'content');
    const postIds = await writePosts(contentDir, posts);
    // Each build gets fresh output and cache folders, so no build reuses another's work.
    const without = new Map<string, number>();
    for (const variant of VARIANTS) {
      without.set(variant, await timedBuild(root, contentDir, variant, 'without comments'));
    }
    await writeComments(contentDir, postIds, comments);
    const figures = [];
    for (const variant of VARIANTS) {
      const before = without.get(variant) ?? Number.NaN;
      const after = await timedBuild(root, contentDir, variant, 'with comments');
      figures.push(
        figure(`${variant}: build without comments`, round(before / 1000, 2), 's'),
        figure(`${variant}: build with comments`, round(after / 1000, 2), 's'),
        figure(`${variant}: ratio with / without`, round(after / before, 2), 'x', { below: 2 }),
      );
    }
    const full = posts === 2000 && comments === 20_000;
    report({
      bench: 'large-build',
      method:
        `${posts} generated public posts, each variant built once without comments and once ` +
        `with ${comments} comments (${round(comments / posts, 1)} per post, every fifth a ` +
        'reply), astro build in a child process (test/site/build-site.ts), every build with ' +
        'empty output and cache folders. The ratio is the build time with comments over the ' +
        'build time without.',
      figures,
      notes: full ? [] : ['reduced size; the figure is defined at 2,000 posts and 20,000 comments'],
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

runMain(main);
