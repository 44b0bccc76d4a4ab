// Builds both site variants from the sample blog and from a small fixture folder, then checks the
// HTML on disk and, where layout or scripts matter, in headless Chromium. Builds are slow, so all
// of them run once, side by side, before the tests.
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readContentTree } from '../../api/content/loader.ts';
import { makeTempDir, writeContent, writeRaw, type FixtureComment } from '../content/fixtures.ts';
import { launchBrowser } from '../support/browser.ts';
import { buildSite, makeBuildRoot, repoRoot, type BuildResult } from './build-site.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';

const API_URL = 'http://127.0.0.1:9797';
const PUBLIC_URL = 'http://127.0.0.1:4391';
const INTERNAL_URL = 'http://127.0.0.1:4392';
const urls = {
  PUBLIC_API_URL: API_URL,
  PUBLIC_SITE_URL: PUBLIC_URL,
  INTERNAL_SITE_URL: INTERNAL_URL,
};

const HOSTILE_BODY = [
  '<script>window.pwned = "script"</script>',
  '',
  '<img src="x" onerror="window.pwned = \'img\'">',
  '',
  '[click me](javascript:window.pwned="link") <iframe src="http://127.0.0.1:9/"></iframe>',
  '',
].join('\n');

function comment(
  id: string,
  minute: number,
  overrides: Partial<FixtureComment> = {},
): FixtureComment {
  return {
    id,
    post: 'open',
    parent: null,
    author: `Author of ${id}`,
    date: `2026-10-01T10:${String(minute).padStart(2, '0')}:00Z`,
    visibility: 'public',
    source: 'public',
    body: `Text of ${id}.\n`,
    ...overrides,
  };
}

const fixtureComments: FixtureComment[] = [
  comment('root', 1),
  comment('reply', 2, { parent: 'root' }),
  comment('reply-of-reply', 3, { parent: 'reply' }),
  comment('internal-note', 4, { parent: 'root', visibility: 'internal', source: 'internal' }),
  comment('answer-to-note', 5, { parent: 'internal-note', source: 'internal' }),
  comment('hostile', 6, {
    author: '<b onmouseover="window.pwned=1">Mallory</b>',
    body: HOSTILE_BODY,
  }),
  comment('linked', 7, { authorUrl: 'https://ada.example.org/' }),
  comment('on-closed', 8, { post: 'closed' }),
  comment('on-staff', 9, { post: 'staff' }),
];

interface Site {
  build: BuildResult;
  outDir: string;
  server: StaticServer | null;
}

const tempDirs: string[] = [];
const sites: Record<string, Site> = {};
let badContentBuild: BuildResult;
let badVariantBuild: BuildResult;
let badContentFile = '';
let browser: Browser;
let buildRoot = '';

async function prepareFixture(): Promise<string> {
  const dir = await makeTempDir('site-fixture');
  tempDirs.push(dir);
  await writeContent(
    dir,
    [
      {
        slug: 'open-thread',
        id: 'open',
        title: 'Open thread',
        date: '2026-10-01',
        visibility: 'public',
      },
      {
        slug: 'closed-post',
        id: 'closed',
        title: 'Closed post',
        date: '2026-09-01',
        visibility: 'public',
        comments: 'closed',
      },
      { slug: 'staff-only', id: 'staff', title: 'Staff only', date: '2026-11-01' },
    ],
    fixtureComments,
  );
  return dir;
}

async function build(name: string, variant: string, contentDir: string): Promise<void> {
  const outDir = path.join(buildRoot, name);
  const cacheDir = path.join(buildRoot, `${name}-cache`);
  const result = await buildSite({ variant, contentDir, outDir, cacheDir, env: urls });
  sites[name] = { build: result, outDir, server: null };
}

beforeAll(async () => {
  buildRoot = await makeBuildRoot();
  tempDirs.push(buildRoot);
  const fixture = await prepareFixture();
  const broken = await makeTempDir('site-broken');
  tempDirs.push(broken);
  await writeContent(broken, [{ slug: 'only', id: 'only', title: 'Only', date: '2026-10-01' }], []);
  badContentFile = await writeRaw(
    broken,
    'comments/only/bad.md',
    '---\nid: bad\npost: only\n---\nx\n',
  );
  const sample = path.join(repoRoot, 'content');
  const bad = {
    contentDir: broken,
    outDir: path.join(buildRoot, 'bad'),
    cacheDir: path.join(buildRoot, 'bad-cache'),
  };
  [badContentBuild, badVariantBuild] = await Promise.all([
    buildSite({ variant: 'internal', ...bad }),
    buildSite({ variant: 'staging', ...bad }),
    build('fixture-public', 'public', fixture),
    build('fixture-internal', 'internal', fixture),
    build('sample-public', 'public', sample),
    build('sample-internal', 'internal', sample),
  ]);
  for (const site of Object.values(sites)) {
    if (site.build.code === 0) site.server = await startStaticServer(site.outDir);
  }
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  for (const site of Object.values(sites)) await site.server?.close();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function site(name: string): Site {
  const found = sites[name];
  if (found === undefined) throw new Error(`site ${name} was not built`);
  if (found.build.code !== 0)
    throw new Error(`site ${name} failed to build:\n${found.build.output}`);
  return found;
}

function html(name: string, page: string): Promise<string> {
  return readFile(path.join(site(name).outDir, page, 'index.html'), 'utf8');
}

async function exists(name: string, page: string): Promise<boolean> {
  return stat(path.join(site(name).outDir, page, 'index.html')).then(
    () => true,
    () => false,
  );
}

function attributeValues(source: string, attribute: string): string[] {
  return [...source.matchAll(new RegExp(`${attribute}="([^"]*)"`, 'g'))].map((m) => m[1] ?? '');
}

/** Returns the markup of one form, found by its data-testid, up to its closing tag. */
function formTags(source: string, testId: string): string {
  const start = source.indexOf(`data-testid="${testId}"`);
  if (start === -1) return '';
  const formStart = source.lastIndexOf('<form', start);
  return source.slice(formStart, source.indexOf('</form>', start));
}

async function openPage(
  name: string,
  page: string,
  options: { javaScriptEnabled?: boolean } = {},
): Promise<Page> {
  const context = await browser.newContext(options);
  const tab = await context.newPage();
  await tab.goto(`${site(name).server?.url}${page}`);
  return tab;
}

async function closePage(page: Page): Promise<void> {
  await page.context().close();
}

describe('site builds', () => {
  it('builds the public fixture', () => {
    expect(site('fixture-public').build.code).toBe(0);
  });

  it('builds the internal fixture', () => {
    expect(site('fixture-internal').build.code).toBe(0);
  });

  it('rejects an unknown SITE_VARIANT naming the variable', () => {
    expect(badVariantBuild.code).not.toBe(0);
    expect(badVariantBuild.output).toContain('SITE_VARIANT must be "public" or "internal"');
  });

  it('fails on an invalid comment naming the file and field', () => {
    expect(badContentBuild.code).not.toBe(0);
    expect(badContentBuild.output).toContain(`${badContentFile}: author`);
  });
});

describe('public site', () => {
  it('lists only public posts on the home page', async () => {
    const ids = attributeValues(await html('fixture-public', ''), 'data-post-id');
    expect(ids).toEqual(['open', 'closed']);
  });

  it('builds no page for an internal post', async () => {
    expect(await exists('fixture-public', 'posts/staff-only')).toBe(false);
  });

  it('leaves internal comments out', async () => {
    const source = await html('fixture-public', 'posts/open-thread');
    expect(source).not.toContain('internal-note');
    expect(source).not.toContain('Text of internal-note');
  });

  it('shows no internal badge', async () => {
    const source = await html('fixture-public', 'posts/open-thread');
    expect(source).not.toContain('badge-internal');
  });

  it('shows orphaned public reply at top level', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const parent = await page.$eval('#comment-answer-to-note', (node) =>
      node.parentElement?.closest('li.comment'),
    );
    await closePage(page);
    expect(parent).toBeNull();
  });

  it('has no review page', async () => {
    expect(await exists('fixture-public', 'review')).toBe(false);
  });

  it('posts the form to the API', async () => {
    const form = formTags(await html('fixture-public', 'posts/open-thread'), 'comment-form');
    expect(form).toContain(`action="${API_URL}/api/comments"`);
    expect(form).toContain('method="post"');
  });

  it('sends the post id and the return URL', async () => {
    const form = formTags(await html('fixture-public', 'posts/open-thread'), 'comment-form');
    expect(form).toContain('<input type="hidden" name="post" value="open">');
    expect(form).toContain(`name="returnTo" value="${PUBLIC_URL}/posts/open-thread/"`);
  });

  it('asks for author, website and text', async () => {
    const form = formTags(await html('fixture-public', 'posts/open-thread'), 'comment-form');
    expect(attributeValues(form, 'name')).toEqual([
      'post',
      'returnTo',
      'author',
      'authorUrl',
      'text',
    ]);
  });

  it('offers no visibility choice', async () => {
    const source = await html('fixture-public', 'posts/open-thread');
    expect(source).not.toContain('name="visibility"');
  });

  it('gives each comment a reply form with its parent', async () => {
    const form = formTags(await html('fixture-public', 'posts/open-thread'), 'reply-form-reply');
    expect(form).toContain('<input type="hidden" name="parent" value="reply">');
  });

  it('shows a closed post without any form', async () => {
    const source = await html('fixture-public', 'posts/closed-post');
    expect(source).toContain('Comments are closed.');
    expect(source).not.toContain('<form');
  });

  it('still shows the comments of a closed post', async () => {
    expect(await html('fixture-public', 'posts/closed-post')).toContain('id="comment-on-closed"');
  });

  it('loads no script on a closed post', async () => {
    expect(await html('fixture-public', 'posts/closed-post')).not.toContain('<script');
  });

  it('loads no script on a post but the enhancement file', async () => {
    const scripts = (await html('fixture-public', 'posts/open-thread')).match(/<script\b[^>]*>/g);
    expect(scripts).toEqual(['<script src="/enhance.js" defer>']);
  });

  it('keeps the enhancement script under 3 KB gzipped', async () => {
    const script = await readFile(path.join(site('fixture-public').outDir, 'enhance.js'));
    expect(gzipSync(script).length).toBeLessThan(3 * 1024);
  });

  it('links the author with rel nofollow ugc', async () => {
    const source = await html('fixture-public', 'posts/open-thread');
    expect(source).toContain('href="https://ada.example.org/" rel="nofollow ugc noopener"');
  });

  it('gives each comment an anchor', async () => {
    const ids = attributeValues(await html('fixture-public', 'posts/open-thread'), 'id');
    expect(ids).toEqual(
      expect.arrayContaining([
        'comment-root',
        'comment-reply',
        'comment-hostile',
        'comment-linked',
      ]),
    );
  });
});

describe('comment threads', () => {
  it.each([
    ['reply', 'root'],
    ['reply-of-reply', 'reply'],
  ])('nests %s under %s', async (child, parent) => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const found = await page.$eval(
      `#comment-${child}`,
      (node) => node.parentElement?.closest('li.comment')?.id,
    );
    await closePage(page);
    expect(found).toBe(`comment-${parent}`);
  });

  it('orders top-level comments oldest first', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const ids = await page.$$eval('.comments > .comment-list > li', (nodes) =>
      nodes.map((node) => node.id),
    );
    await closePage(page);
    expect(ids).toEqual([
      'comment-root',
      'comment-answer-to-note',
      'comment-hostile',
      'comment-linked',
    ]);
  });
});

describe('hostile comment', () => {
  it('runs no script in the browser', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    await page.hover('#comment-hostile .comment-author');
    await page.click('#comment-hostile a:has-text("click me")');
    const pwned = await page.evaluate(() => Reflect.get(window, 'pwned'));
    await closePage(page);
    expect(pwned).toBeUndefined();
  });

  it('creates no script, image or iframe element', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const count = await page.locator('#comment-hostile :is(script, img, iframe)').count();
    await closePage(page);
    expect(count).toBe(0);
  });

  it('shows the raw HTML as text', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const text = await page.locator('#comment-hostile [data-testid="comment-body"]').innerText();
    await closePage(page);
    expect(text).toContain('<script>window.pwned = "script"</script>');
  });

  it('shows the author name as text', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const author = await page.locator('#comment-hostile .comment-author').innerText();
    await closePage(page);
    expect(author).toBe('<b onmouseover="window.pwned=1">Mallory</b>');
  });
});

describe('received notice', () => {
  const receivedPath = '/posts/open-thread/?comment=received&receipt=01jdabc#comment-status';

  it('is hidden on a plain visit', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const visible = await page.locator('#comment-status').isVisible();
    await closePage(page);
    expect(visible).toBe(false);
  });

  it('shows after the redirect without JavaScript', async () => {
    const page = await openPage('fixture-public', receivedPath, { javaScriptEnabled: false });
    const visible = await page.locator('#comment-status').isVisible();
    await closePage(page);
    expect(visible).toBe(true);
  });

  it('links to the reader’s comments without JavaScript', async () => {
    const page = await openPage('fixture-public', receivedPath, { javaScriptEnabled: false });
    const href = await page.getAttribute('[data-testid="comment-status-link"]', 'href');
    await closePage(page);
    expect(href).toBe(`${API_URL}/api/comments/mine`);
  });

  it('links to the receipt with JavaScript', async () => {
    const page = await openPage('fixture-public', receivedPath);
    const href = await page.getAttribute('[data-testid="comment-status-link"]', 'href');
    await closePage(page);
    expect(href).toBe(`${API_URL}/api/comments/01jdabc`);
  });

  it('keeps a draft across a reload', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    await page.fill('#comment-text', 'A long comment I do not want to lose');
    await page.reload();
    const value = await page.inputValue('#comment-text');
    await closePage(page);
    expect(value).toBe('A long comment I do not want to lose');
  });
});

describe('internal site', () => {
  it('lists every post on the home page', async () => {
    const ids = attributeValues(await html('fixture-internal', ''), 'data-post-id');
    expect(ids).toEqual(['staff', 'open', 'closed']);
  });

  it('marks an internal post', async () => {
    const source = await html('fixture-internal', 'posts/staff-only');
    expect(source).toContain('data-testid="badge-internal">internal</span>');
  });

  it('shows internal comments marked internal', async () => {
    const page = await openPage('fixture-internal', '/posts/open-thread/');
    const badge = await page
      .locator('#comment-internal-note > article [data-testid="badge-internal"]')
      .innerText();
    await closePage(page);
    expect(badge.toLowerCase()).toBe('internal');
  });

  it('does not mark public comments', async () => {
    const page = await openPage('fixture-internal', '/posts/open-thread/');
    const count = await page
      .locator('#comment-root > article [data-testid="badge-internal"]')
      .count();
    await closePage(page);
    expect(count).toBe(0);
  });

  it('nests a reply under an internal comment', async () => {
    const page = await openPage('fixture-internal', '/posts/open-thread/');
    const parent = await page.$eval(
      '#comment-answer-to-note',
      (node) => node.parentElement?.closest('li.comment')?.id,
    );
    await closePage(page);
    expect(parent).toBe('comment-internal-note');
  });

  it('offers a visibility choice defaulting to internal', async () => {
    const form = formTags(await html('fixture-internal', 'posts/open-thread'), 'comment-form');
    expect(form).toContain('name="visibility" value="internal" checked');
    expect(form).toContain('name="visibility" value="public"');
  });

  it('returns readers to the internal URL', async () => {
    const form = formTags(await html('fixture-internal', 'posts/open-thread'), 'comment-form');
    expect(form).toContain(`name="returnTo" value="${INTERNAL_URL}/posts/open-thread/"`);
  });

  it('has a review page', async () => {
    expect(await html('fixture-internal', 'review')).toContain('data-testid="staff-token-form"');
  });
});

describe('sample blog', () => {
  it('shows every public post and no internal one on the public site', async () => {
    const tree = await readContentTree(path.join(repoRoot, 'content'));
    const publicIds = tree.posts.filter(({ post }) => post.visibility === 'public');
    const ids = attributeValues(await html('sample-public', ''), 'data-post-id');
    expect(ids.sort()).toEqual(publicIds.map(({ post }) => post.id).sort());
  });

  it('shows every post on the internal site', async () => {
    const tree = await readContentTree(path.join(repoRoot, 'content'));
    const ids = attributeValues(await html('sample-internal', ''), 'data-post-id');
    expect(ids.sort()).toEqual(tree.posts.map(({ post }) => post.id).sort());
  });

  it('shows internal comments only on the internal site', async () => {
    const tree = await readContentTree(path.join(repoRoot, 'content'));
    const internal = tree.comments.find(
      ({ comment }) =>
        comment.visibility === 'internal' &&
        tree.posts.some(({ post }) => post.id === comment.post && post.visibility === 'public'),
    );
    const slug = tree.posts.find(({ post }) => post.id === internal?.comment.post)?.slug ?? '';
    const anchor = `id="comment-${internal?.comment.id}"`;
    expect(await html('sample-public', `posts/${slug}`)).not.toContain(anchor);
    expect(await html('sample-internal', `posts/${slug}`)).toContain(anchor);
  });

  it('loads no script on any post but the enhancement file', async () => {
    const outDir = site('sample-public').outDir;
    const slugs = await readdir(path.join(outDir, 'posts'));
    for (const slug of slugs) {
      const scripts =
        (await html('sample-public', `posts/${slug}`)).match(/<script\b[^>]*>/g) ?? [];
      for (const script of scripts) expect(script).toBe('<script src="/enhance.js" defer>');
    }
  });
});

describe('review page', () => {
  const pending = [
    {
      receipt: '01jdreceipt0000000000000001',
      post: 'open',
      postTitle: 'Open thread',
      author: 'Eve',
      date: '2026-12-04T10:00:00Z',
      visibility: 'public',
      parent: null,
      text: 'Looks **great**',
      html: '<p>Looks <strong>great</strong></p>',
      pullRequest: { number: 7, url: 'http://127.0.0.1:9/pulls/7' },
    },
  ];

  interface ApiCall {
    method: string;
    path: string;
    authorization: string | undefined;
  }

  /** Opens the review page, serving API calls from Playwright routes and recording them. */
  async function openReview(status: { list: number; action: number }) {
    const calls: ApiCall[] = [];
    const page = await openPage('fixture-internal', '/review/');
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'authorization, accept',
    };
    await page.route(`${API_URL}/**`, async (route) => {
      const request = route.request();
      if (request.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
      const { pathname } = new URL(request.url());
      calls.push({
        method: request.method(),
        path: pathname,
        authorization: request.headers().authorization,
      });
      const isList = pathname === '/api/staff/comments';
      const body = isList
        ? pending
        : { error: { code: 'forge_unavailable', message: 'the forge did not respond' } };
      await route.fulfill({
        status: isList ? status.list : status.action,
        headers: cors,
        contentType: 'application/json',
        body: JSON.stringify(isList || status.action >= 400 ? body : { ok: true }),
      });
    });
    return { page, calls };
  }

  async function signIn(page: Page): Promise<void> {
    await page.fill('[data-testid="staff-token"]', 'staff-secret');
    await page.click('[data-testid="staff-token-submit"]');
  }

  it('sends the token as a bearer token', async () => {
    const { page, calls } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    await page.waitForSelector('[data-testid="pending-comment"]');
    await closePage(page);
    expect(calls[0]).toEqual({
      method: 'GET',
      path: '/api/staff/comments',
      authorization: 'Bearer staff-secret',
    });
  });

  it('shows each pending comment rendered', async () => {
    const { page } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const body = await page.locator('[data-testid="pending-body"] strong').innerText();
    await closePage(page);
    expect(body).toBe('great');
  });

  it('approves through the API and says so', async () => {
    const { page, calls } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    await page.click('[data-testid="approve"]');
    await page.waitForSelector('[data-testid="pending-comment"][data-state="approved"]');
    const result = await page.locator('[data-testid="pending-result"]').innerText();
    await closePage(page);
    expect(calls[1]?.path).toBe(`/api/staff/comments/${pending[0]?.receipt}/approve`);
    expect(result).toMatch(/^Approved/);
  });

  it('shows the API error when declining fails', async () => {
    const { page, calls } = await openReview({ list: 200, action: 502 });
    await signIn(page);
    await page.click('[data-testid="decline"]');
    await page.waitForSelector('[data-testid="pending-result"].notice-error');
    const result = await page.locator('[data-testid="pending-result"]').innerText();
    await closePage(page);
    expect(calls[1]?.path).toBe(`/api/staff/comments/${pending[0]?.receipt}/decline`);
    expect(result).toContain('the forge did not respond');
  });

  it('asks again for a rejected token', async () => {
    const { page } = await openReview({ list: 401, action: 200 });
    await signIn(page);
    await page.waitForSelector('[data-testid="review-status"].notice-error');
    const formVisible = await page.locator('[data-testid="staff-token-form"]').isVisible();
    const stored = await page.evaluate(() => sessionStorage.getItem('marginalia-staff-token'));
    await closePage(page);
    expect(formVisible).toBe(true);
    expect(stored).toBeNull();
  });
});
