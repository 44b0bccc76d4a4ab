import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../api/app.ts';
import { ERRORS } from '../../api/errors.ts';
import type { PostInfo } from '../../api/platform/content-index.ts';
import {
  CONFIG,
  INTERNAL_ORIGIN,
  POSTS,
  VALID_COMMENT,
  createHarness,
  postForm,
  postJson,
  readJson,
  staffHeaders,
  type Harness,
} from './harness.ts';

const PAGE_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; " +
  'form-action http://127.0.0.1:4321 http://127.0.0.1:4322 http://127.0.0.1:8787; ' +
  "base-uri 'none'; frame-ancestors 'none'";
const HTML = 'text/html,application/xhtml+xml,*/*;q=0.8';
const PUBLIC_POST_URL = `${CONFIG.publicSiteUrl}/posts/hello-world/`;

let harness: Harness;
beforeEach(async () => {
  harness = await createHarness();
});
afterEach(async () => {
  await harness.close();
});

async function useHarness(overrides: Partial<AppDeps>): Promise<void> {
  await harness.close();
  harness = await createHarness(overrides);
}

/** Returns the name=value part of the cookie a response sets, to send back as a browser does. */
function cookieOf(response: Response): string {
  return (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

interface Sent {
  receipt: string;
  cookie: string;
}

async function send(
  body: Record<string, unknown> = VALID_COMMENT,
  headers: Record<string, string> = {},
): Promise<Sent> {
  const response = await postJson(harness, body, headers);
  expect(response.status).toBe(202);
  return { receipt: String((await readJson(response)).receipt), cookie: cookieOf(response) };
}

async function statusPage(receipt: string, cookie = ''): Promise<string> {
  const response = await getPage(`/api/comments/${receipt}`, cookie);
  expect(response.status).toBe(200);
  return response.text();
}

async function getPage(path: string, cookie = ''): Promise<Response> {
  const headers: Record<string, string> = { accept: HTML };
  if (cookie !== '') headers.cookie = cookie;
  return harness.app.request(path, { headers });
}

/** Strips the markup from a page, leaving the text a reader sees. */
function visibleText(page: string): string {
  return page
    .replace(/<style>[\s\S]*?<\/style>/, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ');
}

describe('status page', () => {
  it('links the post title on the public site', async () => {
    const { receipt } = await send();
    const page = await statusPage(receipt);
    expect(page).toContain(`<a href="${PUBLIC_POST_URL}">Hello, world</a>`);
  });

  it('shows the date in words, in UTC', async () => {
    const { receipt } = await send();
    const page = await statusPage(receipt);
    expect(page).toContain(
      '<time datetime="2026-03-01T12:00:00.000Z">1 March 2026 at 12:00 UTC</time>',
    );
    expect(visibleText(page)).not.toContain('2026-03-01T');
  });

  it('says received plainly', async () => {
    const { receipt } = await send();
    expect(visibleText(await statusPage(receipt))).toContain('Received, waiting for review');
  });

  it('says proposed as waiting for staff', async () => {
    const { receipt } = await send();
    await harness.worker.drain();
    expect(visibleText(await statusPage(receipt))).toContain('Waiting for review by staff');
  });

  it('links a published comment on its post', async () => {
    const { receipt } = await send();
    await harness.store.markPublished(receipt, harness.clock.now());
    const page = await statusPage(receipt);
    expect(visibleText(page)).toContain('Published');
    expect(page).toContain(`href="${PUBLIC_POST_URL}#comment-${receipt}"`);
  });

  it('links an internal-site comment to the internal site', async () => {
    const { receipt } = await send(VALID_COMMENT, { origin: INTERNAL_ORIGIN });
    await harness.store.markPublished(receipt, harness.clock.now());
    const page = await statusPage(receipt);
    const internalUrl = `${CONFIG.internalSiteUrl}/posts/hello-world/`;
    expect(page).toContain(`<a href="${internalUrl}">Hello, world</a>`);
    expect(page).toContain(`href="${internalUrl}#comment-${receipt}"`);
    expect(page).not.toContain(CONFIG.publicSiteUrl);
  });

  it('links a comment on an internal post to the internal site', async () => {
    const { receipt } = await send(
      { ...VALID_COMMENT, post: 'staff-notes' },
      { origin: INTERNAL_ORIGIN },
    );
    const page = await statusPage(receipt);
    expect(page).toContain(
      `<a href="${CONFIG.internalSiteUrl}/posts/staff-notes/">Staff notes</a>`,
    );
  });

  it('shows the post id when the post is gone', async () => {
    const posts = new Map<string, PostInfo>(POSTS);
    await useHarness({ posts });
    const { receipt } = await send();
    posts.delete('hello-world');
    const page = await statusPage(receipt);
    expect(page).toContain('On the post <code>hello-world</code>');
    expect(page).not.toContain('posts/hello-world/');
    expect(page).toContain(`<a class="site-name" href="${CONFIG.publicSiteUrl}/">Marginalia</a>`);
  });

  it('shows a declined text to the browser that sent it', async () => {
    const { receipt, cookie } = await send();
    await harness.store.markDeclined(receipt, harness.clock.now());
    const page = await statusPage(receipt, cookie);
    expect(visibleText(page)).toContain('Declined');
    expect(page).toContain(
      `<textarea id="text-${receipt}" rows="3" readonly>\n` +
        'A thoughtful comment.\n\nWith two paragraphs.</textarea>',
    );
  });

  it('hides a declined text from another browser', async () => {
    const { receipt } = await send();
    const other = await send({ ...VALID_COMMENT, author: 'Bo', text: 'Another text' });
    await harness.store.markDeclined(receipt, harness.clock.now());
    const page = await statusPage(receipt, other.cookie);
    expect(page).not.toContain('A thoughtful comment');
    expect(page).toContain('Its text is shown only in the browser that sent it.');
  });

  it.each(['received', 'proposed', 'published'])('never shows the text when %s', async (status) => {
    const { receipt, cookie } = await send();
    if (status !== 'received') await harness.worker.drain();
    if (status === 'published') await harness.store.markPublished(receipt, harness.clock.now());
    const page = await statusPage(receipt, cookie);
    expect(page).not.toContain('A thoughtful comment');
    expect(page).not.toContain(VALID_COMMENT.author);
  });

  it('escapes a declined text', async () => {
    const text = '</textarea><script>alert(1)</script>';
    const { receipt, cookie } = await send({ ...VALID_COMMENT, text });
    await harness.store.markDeclined(receipt, harness.clock.now());
    const page = await statusPage(receipt, cookie);
    expect(page).toContain('&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>');
    expect(page).not.toContain('<script');
  });
});

describe('receipts page', () => {
  it('lists this browser’s comments, newest first', async () => {
    const first = await postForm(harness, { ...VALID_COMMENT });
    harness.clock.advance(60_000);
    const second = await postForm(
      harness,
      { ...VALID_COMMENT, text: 'A second comment' },
      { cookie: cookieOf(first) },
    );
    const receiptOf = (response: Response) =>
      new URL(response.headers.get('location') ?? '').searchParams.get('receipt') ?? '';
    const page = await (await getPage('/api/comments/mine', cookieOf(second))).text();
    const newer = page.indexOf(`href="${receiptOf(second)}"`);
    const older = page.indexOf(`href="${receiptOf(first)}"`);
    expect(newer).toBeGreaterThan(-1);
    expect(older).toBeGreaterThan(newer);
  });

  it('names each post and its status in words', async () => {
    const first = await postForm(harness, { ...VALID_COMMENT });
    const page = await (await getPage('/api/comments/mine', cookieOf(first))).text();
    expect(page).toContain(`<a href="${PUBLIC_POST_URL}">Hello, world</a>`);
    expect(page).toContain('1 March 2026 at 12:00 UTC');
    expect(visibleText(page)).toContain('Received, waiting for review');
    expect(visibleText(page)).toContain('Status page');
    expect(visibleText(page)).not.toMatch(/\bReceipt\b/);
  });

  it('shows declined text and published links', async () => {
    const declined = await send();
    const published = await send(
      { ...VALID_COMMENT, text: 'Published text' },
      { cookie: declined.cookie },
    );
    await harness.store.markDeclined(declined.receipt, harness.clock.now());
    await harness.store.markPublished(published.receipt, harness.clock.now());
    const page = await (await getPage('/api/comments/mine', published.cookie)).text();
    expect(page).toContain('readonly>\nA thoughtful comment.');
    expect(page).toContain(`href="${PUBLIC_POST_URL}#comment-${published.receipt}"`);
    expect(page).not.toContain('Published text');
  });

  it('lists nothing of other browsers’ comments', async () => {
    const mine = await send();
    const other = await send({ ...VALID_COMMENT, author: 'Bo Other', text: 'Not yours' });
    await harness.store.markDeclined(other.receipt, harness.clock.now());
    const page = await (await getPage('/api/comments/mine', mine.cookie)).text();
    expect(page).not.toContain(other.receipt);
    expect(page).not.toContain('Not yours');
    expect(page).not.toContain('Bo Other');
  });

  it('says so when the browser has no comments', async () => {
    const page = await (await getPage('/api/comments/mine')).text();
    expect(page).toContain('This browser has no comments to show.');
  });

  it('still answers JSON to scripts', async () => {
    const { receipt, cookie } = await send();
    const response = await harness.app.request('/api/comments/mine', {
      headers: { cookie, accept: 'application/json' },
    });
    expect(await readJson(response)).toMatchObject({
      receipts: [{ receipt, status: 'received' }],
    });
  });
});

describe('form error page', () => {
  const form = { post: 'hello-world', author: 'Ada', text: 'Hello from a form' };

  it('states the length and the limit of a long text', async () => {
    const text = 'x'.repeat(25_012);
    const response = await postForm(harness, { ...form, text });
    expect(response.status).toBe(422);
    const page = await response.text();
    expect(page).toContain(
      'Comment is 25,012 characters; the limit is 20,000. Shorten it and send again.',
    );
  });

  it('keeps the whole of a long text', async () => {
    const text = `${'word '.repeat(5_000)}end`;
    const page = await (await postForm(harness, { ...form, text })).text();
    expect(page).toContain(`<textarea id="text" name="text" aria-invalid="true"`);
    expect(page).toContain(`>\n${text}</textarea>`);
  });

  it('links the post by its title', async () => {
    const page = await (await postForm(harness, { ...form, author: '' })).text();
    expect(page).toContain(`<a href="${PUBLIC_POST_URL}">Hello, world</a>`);
  });

  it('hides an internal post title from the public site', async () => {
    const page = await (await postForm(harness, { ...form, post: 'staff-notes' })).text();
    expect(page).not.toContain('Staff notes');
    expect(page).not.toContain(CONFIG.internalSiteUrl);
  });

  it('sends a reader back for an unread oversized body', async () => {
    const response = await postForm(harness, { ...form, text: 'x'.repeat(1_100_000) });
    expect(response.status).toBe(413);
    expect(await response.text()).toContain(
      'Go back in your browser to find your text in the form.',
    );
  });

  it('names the field next to its input', async () => {
    const page = await (await postForm(harness, { ...form, author: '' })).text();
    expect(page).toContain(
      '<label for="author">Name</label>\n' +
        '<p class="problem" id="author-problem">Name is required.</p>',
    );
    expect(page).toContain('aria-describedby="author-problem"');
  });
});

describe('request id on failure pages', () => {
  const form = { post: 'hello-world', author: 'Ada', text: 'Hello from a form' };
  const rejections: Array<[name: string, status: number, send: () => Promise<Response>]> = [
    ['an invalid field', 422, () => postForm(harness, { ...form, author: '' })],
    ['an unknown post', 404, () => postForm(harness, { ...form, post: 'no-such-post' })],
    ['a foreign origin', 403, () => postForm(harness, form, { origin: 'http://evil.example' })],
    ['an oversized body', 413, () => postForm(harness, { ...form, text: 'x'.repeat(1_100_000) })],
    ['an unknown path', 404, () => getPage('/api/no-such-route')],
  ];

  it.each(rejections)('shows the request id for %s', async (_name, status, send) => {
    const response = await send();
    expect(response.status).toBe(status);
    const requestId = response.headers.get('x-request-id') ?? 'missing X-Request-Id header';
    expect(visibleText(await response.text())).toContain(`Request id: ${requestId}`);
  });
});

describe('reader page headers', () => {
  it.each([
    ['a status page', async () => getPage(`/api/comments/${(await send()).receipt}`)],
    ['the receipts page', async () => getPage('/api/comments/mine')],
    ['an unknown receipt', async () => getPage('/api/comments/01hnothere0000000000000000')],
    ['a form error page', async () => postForm(harness, { ...VALID_COMMENT, author: '' })],
  ])('sends a strict policy on %s', async (_name, load) => {
    const response = await load();
    expect(response.headers.get('content-security-policy')).toBe(PAGE_POLICY);
  });

  it.each([
    ['a status page', async () => getPage(`/api/comments/${(await send()).receipt}`)],
    ['the receipts page', async () => getPage('/api/comments/mine')],
    ['a form error page', async () => postForm(harness, { ...VALID_COMMENT, author: '' })],
  ])('has no script on %s', async (_name, load) => {
    const page = await (await load()).text();
    expect(page).not.toMatch(/<script|\son[a-z]+=|javascript:/i);
  });

  it('sends the policy on a failure page', async () => {
    const { receipt } = await send();
    await harness.store.close();
    const response = await getPage(`/api/comments/${receipt}`);
    expect(response.status).toBe(500);
    expect(response.headers.get('content-security-policy')).toBe(PAGE_POLICY);
  });

  it('names the internal blog in the header of an internal comment', async () => {
    const { receipt } = await send(VALID_COMMENT, { origin: INTERNAL_ORIGIN });
    const page = await statusPage(receipt);
    expect(page).toContain(
      `<a class="site-name" href="${CONFIG.internalSiteUrl}/">Marginalia internal</a>`,
    );
  });

  it('sends no policy on JSON', async () => {
    const response = await postJson(harness, VALID_COMMENT);
    expect(response.headers.get('content-security-policy')).toBeNull();
  });
});

describe('unknown receipt', () => {
  it('tells a reader what to do', async () => {
    const response = await getPage('/api/comments/01hnothere0000000000000000');
    expect(response.status).toBe(404);
    expect(await response.text()).toContain(
      'Check the link from your confirmation page, or send the comment again.',
    );
  });

  it('keeps the catalog message for JSON', async () => {
    const response = await harness.app.request('/api/comments/01hnothere0000000000000000', {
      headers: { accept: 'application/json' },
    });
    expect(response.status).toBe(404);
    expect(await readJson(response)).toMatchObject({
      error: { code: 'receipt_not_found', message: ERRORS.receipt_not_found.message },
    });
  });
});

describe('staff token messages', () => {
  function staffList(headers: Record<string, string>) {
    return harness.app.request('/api/staff/comments', { headers });
  }

  it.each([
    ['no header', {}],
    ['basic auth', { authorization: 'Basic c3RhZmY6dG9rZW4=' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])('asks for a token when %s is sent', async (_name, headers) => {
    const response = await staffList(headers);
    expect(response.status).toBe(401);
    expect(await readJson(response)).toMatchObject({
      error: { code: 'unauthorized', message: expect.stringMatching(/^A staff token is required/) },
    });
  });

  it('says a wrong token is not valid', async () => {
    const response = await staffList(staffHeaders('wrong-token-0123456789abcdef'));
    expect(response.status).toBe(401);
    expect(await readJson(response)).toMatchObject({
      error: {
        code: 'invalid_token',
        message: expect.stringMatching(/^The staff token is not valid/),
      },
    });
  });

  it('marks a wrong token in WWW-Authenticate', async () => {
    const response = await staffList(staffHeaders('wrong-token-0123456789abcdef'));
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="marginalia-staff", error="invalid_token"',
    );
  });

  it('never echoes the wrong token', async () => {
    const response = await staffList(staffHeaders('wrong-token-0123456789abcdef'));
    expect(await response.text()).not.toContain('wrong-token');
  });
});

describe('fallback error page', () => {
  it('sends the strict policy on an unknown route', async () => {
    const response = await harness.app.request('/api/nothing', { headers: { accept: HTML } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('content-security-policy')).toContain("form-action 'none'");
  });
});
