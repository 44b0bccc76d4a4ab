// Builds both site variants from the sample blog and from a small fixture folder, then checks the
// HTML on disk and, where layout or scripts matter, in headless Chromium. Builds are slow, so all
// of them run once, side by side, before the tests.
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readContentTree } from '../../api/content/loader.ts';
import { startStaticSiteServer } from '../../api/sites/static-server.ts';
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

// Screenshots of the pages these tests change, for checking by eye. Like the end-to-end tests,
// they go under MARGINALIA_ARTIFACTS_DIR (test-results by default).
const shotsDir = path.resolve(
  process.env['MARGINALIA_ARTIFACTS_DIR'] ?? path.join(repoRoot, 'test-results'),
  'site',
);

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
  await mkdir(shotsDir, { recursive: true });
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
      'email',
      'text',
      'marginalia_leave_blank',
    ]);
  });

  it.each([
    ['off the tab order', 'tabindex="-1"'],
    ['without autofill', 'autocomplete="off"'],
    ['empty', 'value=""'],
  ])('renders the spam trap field %s', async (_case, attribute) => {
    const form = formTags(await html('fixture-public', 'posts/open-thread'), 'comment-form');
    const field = /<input[^>]*name="marginalia_leave_blank"[^>]*>/.exec(form)?.[0] ?? '';
    expect(field).toContain(attribute);
  });

  it('hides the spam trap from assistive technology', async () => {
    const form = formTags(await html('fixture-public', 'posts/open-thread'), 'comment-form');
    expect(form).toMatch(/<p class="leave-blank"[^>]*aria-hidden="true"/);
  });

  it('places the spam trap off screen', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const box = await page.locator('#comment-form [name="marginalia_leave_blank"]').boundingBox();
    await closePage(page);
    expect(box === null || box.x + box.width <= 0).toBe(true);
  });

  it('limits no field with maxlength', async () => {
    const form = formTags(await html('fixture-public', 'posts/open-thread'), 'comment-form');
    expect(form).not.toContain('maxlength');
  });

  it('states the comment length limit', async () => {
    const form = formTags(await html('fixture-public', 'posts/open-thread'), 'comment-form');
    expect(form).toMatch(/Up to 20,000 characters\./);
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

describe('comment length', () => {
  const overLimit = 'a'.repeat(20_001);

  /** Fills the main form and resolves with the text field the browser sends to the API. */
  async function sendComment(page: Page, text: string): Promise<string | null> {
    let sent: string | null = null;
    await page.route(`${API_URL}/api/comments`, async (route) => {
      sent = new URLSearchParams(route.request().postData() ?? '').get('text');
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'received' });
    });
    await page.fill('#comment-author', 'Ada');
    await page.fill('#comment-text', text);
    await Promise.all([
      page.waitForURL(`${API_URL}/api/comments`),
      page.click('#comment-form button'),
    ]);
    return sent;
  }

  it('sends every character without JavaScript', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/', {
      javaScriptEnabled: false,
    });
    const sent = await sendComment(page, overLimit);
    await closePage(page);
    expect(sent?.length).toBe(20_001);
  });

  it('shows the limit without JavaScript', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/', {
      javaScriptEnabled: false,
    });
    const hint = await page
      .locator('[data-testid="comment-form"] [data-testid="text-limit"]')
      .innerText();
    await closePage(page);
    expect(hint).toBe('Up to 20,000 characters.');
  });

  it('counts characters as the reader types', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    await page.fill('#comment-text', 'Hello\nworld');
    const hint = await page.locator('#comment-text-limit').innerText();
    await closePage(page);
    // The line break is sent as CRLF, so it counts twice, as the API counts it.
    expect(hint).toBe('12 of 20,000 characters.');
  });

  it('warns when the text is over the limit', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    await page.fill('#comment-text', overLimit);
    const hint = page.locator('#comment-text-limit');
    const text = await hint.innerText();
    const warned = await hint.evaluate((node) => node.classList.contains('over-limit'));
    await page
      .locator('#comment-form')
      .screenshot({ path: path.join(shotsDir, 'comment-over-limit.png') });
    await closePage(page);
    expect(text).toBe('20,001 of 20,000 characters: 1 too many. Shorten the comment to send it.');
    expect(warned).toBe(true);
  });

  it('holds back an over-long comment with JavaScript', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    await page.fill('#comment-text', overLimit);
    const valid = await page.$eval('#comment-form', (form) =>
      form instanceof HTMLFormElement ? form.checkValidity() : null,
    );
    const kept = await page.inputValue('#comment-text');
    await closePage(page);
    expect(valid).toBe(false);
    expect(kept.length).toBe(20_001);
  });

  it('sends a comment at the limit with JavaScript', async () => {
    const page = await openPage('fixture-public', '/posts/open-thread/');
    const sent = await sendComment(page, 'a'.repeat(20_000));
    await closePage(page);
    expect(sent?.length).toBe(20_000);
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

  it('offers no visibility choice on an internal post', async () => {
    const form = formTags(await html('fixture-internal', 'posts/staff-only'), 'comment-form');
    expect(form).not.toContain('value="public"');
    expect(form).not.toContain('type="radio"');
  });

  it('keeps comments on an internal post internal', async () => {
    const form = formTags(await html('fixture-internal', 'posts/staff-only'), 'comment-form');
    expect(form).toContain('<input type="hidden" name="visibility" value="internal">');
    expect(form).toContain('your comment stays on the internal site');
  });

  it('keeps replies on an internal post internal', async () => {
    const source = await html('fixture-internal', 'posts/staff-only');
    const form = formTags(source, 'reply-form-on-staff');
    expect(form).toContain('<input type="hidden" name="visibility" value="internal">');
    expect(form).not.toContain('value="public"');
  });

  it('shows the internal-only sentence in the browser', async () => {
    const page = await openPage('fixture-internal', '/posts/staff-only/');
    const sentence = page.locator('[data-testid="comment-form"] [data-testid="visibility-fixed"]');
    const visible = await sentence.isVisible();
    await page.screenshot({ path: path.join(shotsDir, 'internal-post-form.png'), fullPage: true });
    await closePage(page);
    expect(visible).toBe(true);
  });

  it('returns readers to the internal URL', async () => {
    const form = formTags(await html('fixture-internal', 'posts/open-thread'), 'comment-form');
    expect(form).toContain(`name="returnTo" value="${INTERNAL_URL}/posts/open-thread/"`);
  });

  it('has a review page', async () => {
    expect(await html('fixture-internal', 'review')).toContain('data-testid="staff-token-form"');
  });
});

describe('not found page', () => {
  it.each(['fixture-public', 'fixture-internal'])('is built for %s', async (name) => {
    const source = await readFile(path.join(site(name).outDir, '404.html'), 'utf8');
    expect(source).toContain('<h1 class="page-title">Page not found</h1>');
  });

  it('links home in the site layout', async () => {
    const source = await readFile(path.join(site('fixture-public').outDir, '404.html'), 'utf8');
    expect(source).toContain('<a href="/" data-testid="not-found-home">');
    expect(source).toContain('data-testid="site-name"');
  });

  it('answers an unknown path on the local server', async () => {
    const outDir = site('fixture-internal').outDir;
    const server = await startStaticSiteServer({ root: () => outDir, port: 0, apiOrigin: API_URL });
    const response = await fetch(`${server.url}/posts/no-such-post/`);
    const body = await response.text();
    await server.close();
    expect(response.status).toBe(404);
    expect(body).toContain('Page not found');
  });

  it('takes the reader home in the browser', async () => {
    const outDir = site('fixture-public').outDir;
    const server = await startStaticSiteServer({ root: () => outDir, port: 0, apiOrigin: API_URL });
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/posts/no-such-post/`);
    await page.screenshot({ path: path.join(shotsDir, 'not-found.png'), fullPage: true });
    await page.click('[data-testid="not-found-home"]');
    const heading = await page.locator('h1').innerText();
    await closePage(page);
    await server.close();
    expect(heading).toBe('Posts');
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
  const pullRequest = (number: number) => ({ number, url: `http://127.0.0.1:9/pulls/${number}` });

  /** Builds one entry of GET /api/staff/comments, shaped as api/routes/staff.ts sends it. */
  function pendingEntry(receipt: string, number: number, fields: Record<string, unknown>) {
    const author = typeof fields.author === 'string' ? fields.author : 'Eve';
    return {
      receipt,
      title: `Comment by ${author} on “Open thread”`,
      post: { id: 'open', title: 'Open thread' },
      author,
      authorUrl: null,
      date: '2026-12-04T10:00:00Z',
      visibility: 'public',
      source: 'public',
      parent: null,
      text: 'Looks **great**',
      html: '<p>Looks <strong>great</strong></p>',
      createdAt: '2026-12-04T10:00:01Z',
      pullRequest: pullRequest(number),
      ...fields,
    };
  }

  const longText = Array.from({ length: 80 }, (_, i) => `Paragraph ${i + 1} of a long comment.`);
  const receipts = {
    short: '01jdreceipt0000000000000001',
    long: '01jdreceipt0000000000000002',
    replyToPending: '01jdreceipt0000000000000003',
    replyToPublished: '01jdreceipt0000000000000004',
    replyOnUnknownPost: '01jdreceipt0000000000000005',
    withoutRecord: '01jdreceipt0000000000000006',
  };
  const pending = [
    pendingEntry(receipts.short, 7, {}),
    pendingEntry(receipts.long, 8, {
      author: 'Lena',
      text: longText.join('\n\n'),
      html: longText.map((line) => `<p>${line}</p>`).join('\n'),
    }),
    pendingEntry(receipts.replyToPending, 9, { author: 'Finn', parent: receipts.long }),
    pendingEntry(receipts.replyToPublished, 10, { author: 'Gus', parent: 'root' }),
    pendingEntry(receipts.replyOnUnknownPost, 11, {
      author: 'Ida',
      post: { id: 'not-built-yet', title: 'Not built yet' },
      parent: '01jdparent00000000000000099',
    }),
    {
      receipt: receipts.withoutRecord,
      title: 'Comment by Hal on “Open thread”',
      createdAt: '2026-12-04T10:00:01Z',
      pullRequest: pullRequest(12),
    },
  ];

  interface ApiCall {
    method: string;
    path: string;
    authorization: string | undefined;
  }

  /** Returns the body api/routes/staff.ts sends when an approve or decline succeeds. */
  function actionBody(pathname: string): object {
    const [, receipt, action] = /\/comments\/([^/]+)\/(approve|decline)$/.exec(pathname) ?? [];
    if (action === 'approve') return { receipt, status: 'published', mergeSha: 'a'.repeat(40) };
    return { receipt, status: 'declined' };
  }

  /** Opens the review page, serving API calls from Playwright routes and recording them. */
  async function openReview(status: { list: number; action: number }) {
    const calls: ApiCall[] = [];
    const page = await openPage('fixture-internal', '/review/');
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'authorization, accept',
    };
    const failure = {
      error: {
        code: 'forge_failed',
        message: 'The forge did not complete the request. Try again; the comment is unchanged.',
        field: undefined,
        requestId: 'req-1',
      },
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
      const code = isList ? status.list : status.action;
      let body: object = failure;
      if (code < 400) body = isList ? { comments: pending } : actionBody(pathname);
      await route.fulfill({
        status: code,
        headers: cors,
        contentType: 'application/json',
        body: JSON.stringify(body),
      });
    });
    return { page, calls };
  }

  async function signIn(page: Page): Promise<void> {
    await page.fill('[data-testid="staff-token"]', 'staff-secret');
    await page.click('[data-testid="staff-token-submit"]');
    await page.waitForSelector('[data-testid="review-status"]:not(:empty)');
    await page.waitForFunction(
      () => document.getElementById('review-status')?.textContent !== 'Loading pending comments…',
    );
  }

  function card(page: Page, receipt: string) {
    return page.locator(`[data-testid="pending-comment"][data-receipt="${receipt}"]`);
  }

  it('sends the token as a bearer token', async () => {
    const { page, calls } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    await closePage(page);
    expect(calls[0]).toEqual({
      method: 'GET',
      path: '/api/staff/comments',
      authorization: 'Bearer staff-secret',
    });
  });

  it('lists every pending comment', async () => {
    const { page } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const shown = await page.$$eval('[data-testid="pending-comment"]', (nodes) =>
      nodes.map((node) => (node instanceof HTMLElement ? node.dataset.receipt : '')),
    );
    await closePage(page);
    expect(shown).toEqual(Object.values(receipts));
  });

  it('shows each pending comment rendered', async () => {
    const { page } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const body = await card(page, receipts.short).locator('[data-testid="pending-body"] strong');
    const text = await body.innerText();
    await closePage(page);
    expect(text).toBe('great');
  });

  it('shows the pull request title when the API has no record', async () => {
    const { page } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const header = await card(page, receipts.withoutRecord).locator('header').innerText();
    await closePage(page);
    expect(header).toContain('Comment by Hal on “Open thread”');
  });

  it('says how many comments wait', async () => {
    const { page } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const status = await page.locator('[data-testid="review-status"]').innerText();
    await closePage(page);
    expect(status).toBe('6 comments waiting for review.');
  });

  describe('long comment', () => {
    it('is capped in height', async () => {
      const { page } = await openReview({ list: 200, action: 200 });
      await signIn(page);
      const box = await card(page, receipts.long)
        .locator('[data-testid="pending-body"]')
        .boundingBox();
      await closePage(page);
      expect(box?.height).toBeLessThan(400);
    });

    it('shows in full after "Show all"', async () => {
      const { page } = await openReview({ list: 200, action: 200 });
      await signIn(page);
      const item = card(page, receipts.long);
      await item.locator('[data-testid="pending-toggle"]').click();
      const box = await item.locator('[data-testid="pending-body"]').boundingBox();
      const label = await item.locator('[data-testid="pending-toggle"]').innerText();
      await page.screenshot({ path: path.join(shotsDir, 'review-long-comment-open.png') });
      await closePage(page);
      expect(box?.height).toBeGreaterThan(1500);
      expect(label).toBe('Show less');
    });

    it('is the only one with a toggle', async () => {
      const { page } = await openReview({ list: 200, action: 200 });
      await signIn(page);
      await page.screenshot({ path: path.join(shotsDir, 'review-page.png'), fullPage: true });
      const toggles = await page.$$eval('[data-testid="pending-toggle"]', (nodes) =>
        nodes.map((node) => node.closest('li')?.dataset.receipt),
      );
      await closePage(page);
      expect(toggles).toEqual([receipts.long]);
    });
  });

  describe('reply', () => {
    async function parentNote(receipt: string) {
      const { page } = await openReview({ list: 200, action: 200 });
      await signIn(page);
      const note = card(page, receipt).locator('[data-testid="pending-parent"]');
      const text = await note.innerText();
      const href = await note
        .locator('a')
        .evaluateAll((links) => links.map((a) => a.getAttribute('href')));
      await closePage(page);
      return { text, href };
    }

    it('names the author of a pending parent', async () => {
      const { text } = await parentNote(receipts.replyToPending);
      expect(text).toBe('reply to Lena');
    });

    it('links a pending parent to its card', async () => {
      const { href } = await parentNote(receipts.replyToPending);
      expect(href).toEqual([`#pending-${receipts.long}`]);
    });

    it('links another parent to its anchor on the post', async () => {
      const { text, href } = await parentNote(receipts.replyToPublished);
      expect(text).toBe('reply to comment root');
      expect(href).toEqual(['/posts/open-thread/#comment-root']);
    });

    it('shows a short id when the post is not on the site', async () => {
      const { text, href } = await parentNote(receipts.replyOnUnknownPost);
      expect(text).toBe('reply to comment …00000099');
      expect(href).toEqual([]);
    });
  });

  it('approves through the API and says so', async () => {
    const { page, calls } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const item = card(page, receipts.short);
    await item.locator('[data-testid="approve"]').click();
    await page.waitForSelector(`[data-receipt="${receipts.short}"][data-state="approved"]`);
    const result = await item.locator('[data-testid="pending-result"]').innerText();
    await closePage(page);
    expect(calls[1]?.path).toBe(`/api/staff/comments/${receipts.short}/approve`);
    expect(result).toMatch(/^Approved/);
  });

  it.each(['approve', 'decline'])('lowers the waiting count after %s', async (action) => {
    const { page } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const button = card(page, receipts.short).locator(`[data-testid="${action}"]`);
    await button.click();
    if (action === 'decline') await button.click();
    await page.waitForSelector(`[data-receipt="${receipts.short}"][data-state]`);
    const status = await page.locator('[data-testid="review-status"]').innerText();
    await closePage(page);
    expect(status).toBe('5 comments waiting for review.');
  });

  it('asks to confirm a decline', async () => {
    const { page, calls } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const decline = card(page, receipts.short).locator('[data-testid="decline"]');
    await decline.click();
    const label = await decline.innerText();
    const callsAfterOneClick = calls.length;
    await closePage(page);
    expect(label).toBe('Confirm decline');
    expect(callsAfterOneClick).toBe(1);
  });

  it('declines after the confirming click', async () => {
    const { page, calls } = await openReview({ list: 200, action: 200 });
    await signIn(page);
    const decline = card(page, receipts.short).locator('[data-testid="decline"]');
    await decline.click();
    await decline.click();
    await page.waitForSelector(`[data-receipt="${receipts.short}"][data-state="declined"]`);
    await closePage(page);
    expect(calls[1]?.path).toBe(`/api/staff/comments/${receipts.short}/decline`);
  });

  it('shows the API error when declining fails', async () => {
    const { page } = await openReview({ list: 200, action: 502 });
    await signIn(page);
    const item = card(page, receipts.short);
    await item.locator('[data-testid="decline"]').click();
    await item.locator('[data-testid="decline"]').click();
    await item.locator('[data-testid="pending-result"].notice-error').waitFor();
    const result = await item.locator('[data-testid="pending-result"]').innerText();
    const label = await item.locator('[data-testid="decline"]').innerText();
    await closePage(page);
    expect(result).toContain('The forge did not complete the request.');
    expect(label).toBe('Decline');
  });

  it('asks again for a rejected token', async () => {
    const { page } = await openReview({ list: 401, action: 200 });
    await signIn(page);
    const formVisible = await page.locator('[data-testid="staff-token-form"]').isVisible();
    const stored = await page.evaluate(() => sessionStorage.getItem('marginalia-staff-token'));
    await closePage(page);
    expect(formVisible).toBe(true);
    expect(stored).toBeNull();
  });

  it.each(['review-reload', 'staff-token-forget'])(
    'hides %s after a rejected token',
    async (testId) => {
      const { page } = await openReview({ list: 401, action: 200 });
      await signIn(page);
      const visible = await page.locator(`[data-testid="${testId}"]`).isVisible();
      await closePage(page);
      expect(visible).toBe(false);
    },
  );
});
