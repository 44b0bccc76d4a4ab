import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { readContentTree } from '../../api/content/loader.ts';
import { loadPosts, type PostsLoadContext } from '../../site/lib/content-loader.ts';
import { selectForVariant, sortPostsNewestFirst, toSitePost } from '../../site/lib/site-content.ts';
import { buildThreads, type ThreadComment, type ThreadNode } from '../../site/lib/threads.ts';
import { readSiteSettings } from '../../site/settings.ts';
import { makeTempDir, writeContent, writeRaw, type FixtureComment } from '../content/fixtures.ts';

const tempDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function shape<T extends ThreadComment>(nodes: ThreadNode<T>[]): unknown[] {
  return nodes.map((node) => [node.comment.id, ...shape(node.replies)]);
}

function at(id: string, minute: number, parent: string | null = null): ThreadComment {
  return { id, parent, date: `2026-10-01T10:${String(minute).padStart(2, '0')}:00Z` };
}

describe('buildThreads', () => {
  it('nests replies under their parent', () => {
    const threads = buildThreads([at('a', 1), at('b', 2, 'a'), at('c', 3, 'b')]);
    expect(shape(threads)).toEqual([['a', ['b', ['c']]]]);
  });

  it('orders each level oldest first', () => {
    const threads = buildThreads([
      at('late', 9),
      at('r2', 5, 'early'),
      at('early', 1),
      at('r1', 3, 'early'),
    ]);
    expect(shape(threads)).toEqual([['early', ['r1'], ['r2']], ['late']]);
  });

  it('breaks a date tie by id', () => {
    expect(shape(buildThreads([at('b', 1), at('a', 1)]))).toEqual([['a'], ['b']]);
  });

  it('starts a thread for a reply whose parent is not shown', () => {
    expect(shape(buildThreads([at('a', 1), at('orphan', 2, 'hidden')]))).toEqual([
      ['a'],
      ['orphan'],
    ]);
  });

  it('keeps every comment of a parent loop', () => {
    const threads = buildThreads([at('x', 1, 'y'), at('y', 2, 'x')]);
    expect(shape(threads).flat(Infinity).sort()).toEqual(['x', 'y']);
  });
});

describe('sortPostsNewestFirst', () => {
  it('puts the newest post first', () => {
    const posts = [
      { date: '2026-01-01', title: 'old' },
      { date: '2026-03-01T10:00:00Z', title: 'new' },
      { date: '2026-02-01', title: 'middle' },
    ];
    expect(sortPostsNewestFirst(posts).map((post) => post.title)).toEqual(['new', 'middle', 'old']);
  });
});

describe('readSiteSettings', () => {
  it.each(['', 'Public', 'staging'])('rejects SITE_VARIANT "%s" naming the variable', (value) => {
    expect(() => readSiteSettings({ SITE_VARIANT: value }, '/repo')).toThrow(/SITE_VARIANT/);
  });

  it('rejects a missing SITE_VARIANT', () => {
    expect(() => readSiteSettings({}, '/repo')).toThrow(
      /SITE_VARIANT must be "public" or "internal"/,
    );
  });

  it('builds into dist/<variant> by default', () => {
    expect(readSiteSettings({ SITE_VARIANT: 'internal' }, '/repo').outDir).toBe(
      '/repo/dist/internal',
    );
  });

  it('builds into MARGINALIA_OUT_DIR when set', () => {
    const env = { SITE_VARIANT: 'public', MARGINALIA_OUT_DIR: 'out/x' };
    expect(readSiteSettings(env, '/repo').outDir).toBe('/repo/out/x');
  });

  it('reads content from MARGINALIA_CONTENT_DIR when set', () => {
    const env = { SITE_VARIANT: 'public', MARGINALIA_CONTENT_DIR: '/checkout/content' };
    expect(readSiteSettings(env, '/repo').contentDir).toBe('/checkout/content');
  });

  it('defaults to the local URLs', () => {
    expect(readSiteSettings({ SITE_VARIANT: 'public' }, '/repo')).toMatchObject({
      apiUrl: 'http://127.0.0.1:8787',
      siteUrl: 'http://127.0.0.1:4321',
      internalSiteUrl: 'http://127.0.0.1:4322',
    });
  });

  it('uses the internal URL as the internal site URL', () => {
    const env = { SITE_VARIANT: 'internal', INTERNAL_SITE_URL: 'https://blog.internal.test/' };
    expect(readSiteSettings(env, '/repo').siteUrl).toBe('https://blog.internal.test');
  });

  it('rejects a PUBLIC_API_URL that is not http or https', () => {
    const env = { SITE_VARIANT: 'public', PUBLIC_API_URL: 'javascript:alert(1)' };
    expect(() => readSiteSettings(env, '/repo')).toThrow(/PUBLIC_API_URL/);
  });
});

const comment = (overrides: Partial<FixtureComment>): FixtureComment => ({
  id: 'c1',
  post: 'open',
  parent: null,
  author: 'Ada',
  date: '2026-10-01T10:00:00Z',
  visibility: 'public',
  source: 'public',
  body: 'hello\n',
  ...overrides,
});

async function sampleTree() {
  const dir = await makeTempDir('variant');
  tempDirs.push(dir);
  await writeContent(
    dir,
    [
      { slug: 'open', id: 'open', title: 'Open', date: '2026-10-01', visibility: 'public' },
      { slug: 'staff', id: 'staff', title: 'Staff', date: '2026-10-02', visibility: 'internal' },
    ],
    [
      comment({ id: 'c1' }),
      comment({ id: 'c2', visibility: 'internal', source: 'internal' }),
      comment({ id: 'c3', post: 'staff', visibility: 'public' }),
    ],
  );
  return { dir, tree: await readContentTree(dir) };
}

describe('selectForVariant', () => {
  it('keeps only public posts on the public site', async () => {
    const { tree } = await sampleTree();
    const posts = selectForVariant(tree, 'public').posts.map(({ post }) => post.id);
    expect(posts).toEqual(['open']);
  });

  it('keeps only public comments on the public site', async () => {
    const { tree } = await sampleTree();
    const { commentsByPost } = selectForVariant(tree, 'public');
    const ids = [...commentsByPost.values()].flat().map(({ comment }) => comment.id);
    expect(ids).toEqual(['c1']);
  });

  it('keeps every post and comment on the internal site', async () => {
    const { tree } = await sampleTree();
    const { posts, commentsByPost } = selectForVariant(tree, 'internal');
    expect(posts).toHaveLength(2);
    expect([...commentsByPost.values()].flat()).toHaveLength(3);
  });
});

interface StoredEntry {
  id: string;
  data: { commentList: unknown };
}

function fakeLoaderContext(stored: StoredEntry[]): PostsLoadContext {
  return {
    store: {
      set: (entry) => {
        stored.push(entry);
        return true;
      },
      clear: () => {
        stored.length = 0;
      },
    },
    logger: { info: () => {} },
    renderMarkdown: async (markdown) => ({ html: `<p>${markdown.length}</p>` }),
    generateDigest: () => 'digest',
  };
}

describe('loadPosts', () => {
  it('stores public posts with rendered public comments for the public site', async () => {
    const { dir } = await sampleTree();
    const stored: StoredEntry[] = [];
    await loadPosts({ contentDir: dir, variant: 'public' }, fakeLoaderContext(stored));
    expect(stored.map((entry) => entry.id)).toEqual(['open']);
    expect(stored[0]?.data.commentList).toEqual([
      expect.objectContaining({ id: 'c1', html: '<p>hello</p>' }),
    ]);
  });

  it('fails naming the file and the field of a bad comment', async () => {
    const { dir } = await sampleTree();
    const file = await writeRaw(dir, 'comments/open/c9.md', '---\nid: c9\npost: open\n---\nx\n');
    const loading = loadPosts({ contentDir: dir, variant: 'public' }, fakeLoaderContext([]));
    await expect(loading).rejects.toThrow(`${file}: author`);
  });
});

describe('toSitePost', () => {
  it('drops the parent id of a reply to a hidden comment', async () => {
    const dir = await makeTempDir('hidden-parent');
    tempDirs.push(dir);
    await writeContent(
      dir,
      [{ slug: 'open', id: 'open', title: 'Open', date: '2026-10-01', visibility: 'public' }],
      [
        comment({ id: 'note', visibility: 'internal', source: 'internal' }),
        comment({ id: 'answer', parent: 'note', date: '2026-10-01T11:00:00Z' }),
      ],
    );
    const { posts, commentsByPost } = selectForVariant(await readContentTree(dir), 'public');
    const [file] = posts;
    if (file === undefined) throw new Error('fixture post was not read');
    const post = toSitePost(file, commentsByPost.get('open') ?? [], (text) => text);
    expect(post.commentList.map(({ id, parent }) => ({ id, parent }))).toEqual([
      { id: 'answer', parent: null },
    ]);
  });
});
