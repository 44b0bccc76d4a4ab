import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../api/content/schema.ts';
import {
  CONFIG,
  EXISTING_COMMENT,
  INTERNAL_ORIGIN,
  PUBLIC_ORIGIN,
  VALID_COMMENT,
  createHarness,
  postForm,
  postJson,
  readJson,
  submitComment,
  type Harness,
} from './harness.ts';

let harness: Harness;
beforeEach(async () => {
  harness = await createHarness();
});
afterEach(async () => {
  await harness.close();
});

describe('JSON submission', () => {
  it('returns 202 with a receipt and a status URL', async () => {
    const response = await postJson(harness, VALID_COMMENT);
    expect(response.status).toBe(202);
    const json = await readJson(response);
    expect(json.status).toBe('received');
    expect(json.receipt).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
    expect(json.statusUrl).toBe(`${CONFIG.apiPublicUrl}/api/comments/${String(json.receipt)}`);
  });

  it('stores the comment before answering', async () => {
    const receipt = await submitComment(harness);
    const stored = await harness.store.get(receipt);
    expect(stored?.status).toBe('received');
    expect(stored?.body).toBe(VALID_COMMENT.text);
    expect(stored?.source).toBe('public');
    expect(stored?.visibility).toBe('public');
  });

  it('wakes the delivery worker once per new comment', async () => {
    await submitComment(harness);
    expect(harness.wakes()).toBe(1);
  });

  it('sends a request id header', async () => {
    const response = await postJson(harness, VALID_COMMENT);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-z]{26}$/);
  });

  it('stores text as NFC, otherwise unchanged', async () => {
    const decomposed = 'Cafe\u0301\r\n---\ntitle: x\n  ';
    const receipt = await submitComment(harness, { ...VALID_COMMENT, text: decomposed });
    const stored = await harness.store.get(receipt);
    expect(stored?.body).toBe('Caf\u00e9\r\n---\ntitle: x\n  ');
  });

  it('accepts a reply to a comment already in content', async () => {
    const response = await postJson(harness, { ...VALID_COMMENT, parent: EXISTING_COMMENT });
    expect(response.status).toBe(202);
  });

  it('accepts a reply to a comment the store accepted', async () => {
    const parent = await submitComment(harness);
    const response = await postJson(harness, { ...VALID_COMMENT, text: 'A reply', parent });
    expect(response.status).toBe(202);
  });

  it('keeps an http author URL', async () => {
    const receipt = await submitComment(harness, {
      ...VALID_COMMENT,
      authorUrl: 'https://ada.example/',
    });
    expect((await harness.store.get(receipt))?.authorUrl).toBe('https://ada.example/');
  });

  it('rejects a body that is not JSON', async () => {
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
      body: '{"post":',
    });
    expect(response.status).toBe(400);
    expect(await readJson(response)).toHaveProperty('error.code', 'malformed_body');
  });

  it('rejects an unsupported content type', async () => {
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: PUBLIC_ORIGIN },
      body: 'hello',
    });
    expect(response.status).toBe(415);
  });

  it('rejects a body over the size limit', async () => {
    const response = await postJson(harness, { ...VALID_COMMENT, text: 'x'.repeat(1_100_000) });
    expect(response.status).toBe(413);
    expect(await readJson(response)).toHaveProperty('error.code', 'body_too_large');
  });
});

describe('validation errors', () => {
  const cases: Array<{
    name: string;
    body: Record<string, unknown>;
    field: string;
    message: RegExp;
  }> = [
    { name: 'missing post', body: { post: undefined }, field: 'post', message: /is required/ },
    { name: 'post with a slash', body: { post: 'a/b' }, field: 'post', message: /lowercase/ },
    { name: 'post as a number', body: { post: 7 }, field: 'post', message: /must be text/ },
    {
      name: 'missing author',
      body: { author: undefined },
      field: 'author',
      message: /is required/,
    },
    { name: 'blank author', body: { author: '   ' }, field: 'author', message: /is required/ },
    {
      name: 'long author',
      body: { author: 'a'.repeat(LIMITS.author + 1) },
      field: 'author',
      message: /at most 80/,
    },
    {
      name: 'author with a lone surrogate',
      body: { author: 'Ada \ud800' },
      field: 'author',
      message: /lone surrogate/,
    },
    {
      name: 'javascript author URL',
      body: { authorUrl: 'javascript:alert(1)' },
      field: 'authorUrl',
      message: /http or https/,
    },
    { name: 'missing text', body: { text: undefined }, field: 'text', message: /is required/ },
    {
      name: 'white-space text',
      body: { text: ' \n\u200b ' },
      field: 'text',
      message: /not be empty/,
    },
    {
      name: 'long text',
      body: { text: 'x'.repeat(LIMITS.text + 1) },
      field: 'text',
      message: /at most 20000/,
    },
    {
      name: 'parent with spaces',
      body: { parent: 'not an id' },
      field: 'parent',
      message: /lowercase/,
    },
    {
      name: 'unknown visibility',
      body: { visibility: 'secret' },
      field: 'visibility',
      message: /public" or "internal/,
    },
    {
      name: 'idempotency key with spaces',
      body: { idempotencyKey: 'a b' },
      field: 'idempotencyKey',
      message: /visible ASCII/,
    },
  ];

  it.each(cases)('names the field for $name', async ({ body, field, message }) => {
    const response = await postJson(harness, { ...VALID_COMMENT, ...body });
    expect(response.status).toBe(422);
    const json = await readJson(response);
    expect(json).toHaveProperty('error.code', 'invalid_comment');
    expect(json).toHaveProperty('error.field', field);
    expect(json).toHaveProperty('error.requestId', response.headers.get('x-request-id'));
    expect(json.issues).toContainEqual({ field, message: expect.stringMatching(message) });
  });

  it('lists every failing field at once', async () => {
    const response = await postJson(harness, { post: 'hello-world', authorUrl: 'ftp://x' });
    const json = await readJson(response);
    const fields = Array.isArray(json.issues) ? json.issues.map((issue) => issue.field) : [];
    expect(fields).toEqual(['author', 'authorUrl', 'text']);
  });

  it('answers 404 for an unknown post', async () => {
    const response = await postJson(harness, { ...VALID_COMMENT, post: 'no-such-post' });
    expect(response.status).toBe(404);
    expect(await readJson(response)).toHaveProperty('error.field', 'post');
  });

  it('hides internal posts from the public site', async () => {
    const response = await postJson(harness, { ...VALID_COMMENT, post: 'staff-notes' });
    expect(response.status).toBe(404);
  });

  it('answers 409 when comments are closed', async () => {
    const response = await postJson(harness, { ...VALID_COMMENT, post: 'closed-post' });
    expect(response.status).toBe(409);
    expect(await readJson(response)).toHaveProperty('error.code', 'comments_closed');
  });

  it('rejects a parent that is not a comment of the post', async () => {
    const otherPost = await submitComment(
      harness,
      {
        ...VALID_COMMENT,
        post: 'staff-notes',
      },
      { origin: INTERNAL_ORIGIN },
    );
    const response = await postJson(harness, { ...VALID_COMMENT, parent: otherPost });
    expect(response.status).toBe(422);
    expect(await readJson(response)).toHaveProperty('error.field', 'parent');
  });

  it('rejects an internal visibility from the public site', async () => {
    const response = await postJson(harness, { ...VALID_COMMENT, visibility: 'internal' });
    expect(response.status).toBe(422);
    expect(await readJson(response)).toHaveProperty('error.field', 'visibility');
  });

  it('stores nothing for a rejected comment', async () => {
    await postJson(harness, { ...VALID_COMMENT, author: '' });
    expect(await harness.store.outboxStats(harness.clock.now())).toEqual({
      depth: 0,
      oldestAgeSeconds: 0,
    });
  });
});

describe('source and visibility', () => {
  it('defaults internal-site comments to internal', async () => {
    const receipt = await submitComment(harness, VALID_COMMENT, { origin: INTERNAL_ORIGIN });
    const stored = await harness.store.get(receipt);
    expect(stored?.source).toBe('internal');
    expect(stored?.visibility).toBe('internal');
  });

  it('lets the internal site mark a comment public', async () => {
    const receipt = await submitComment(
      harness,
      { ...VALID_COMMENT, visibility: 'public' },
      { origin: INTERNAL_ORIGIN },
    );
    expect((await harness.store.get(receipt))?.visibility).toBe('public');
  });

  it('accepts internal posts from the internal site', async () => {
    const response = await postJson(
      harness,
      { ...VALID_COMMENT, post: 'staff-notes' },
      { origin: INTERNAL_ORIGIN },
    );
    expect(response.status).toBe(202);
  });

  it('rejects a public comment on an internal post', async () => {
    const response = await postJson(
      harness,
      { ...VALID_COMMENT, post: 'staff-notes', visibility: 'public' },
      { origin: INTERNAL_ORIGIN },
    );
    expect(response.status).toBe(422);
    const body = (await response.json()) as { issues: Array<{ field: string }> };
    expect(body.issues.map((issue) => issue.field)).toEqual(['visibility']);
  });

  it('rejects a look-alike of the internal origin', async () => {
    const response = await postJson(harness, VALID_COMMENT, { origin: `${INTERNAL_ORIGIN}0` });
    expect(response.status).toBe(403);
    expect(await harness.store.outboxStats(harness.clock.now())).toHaveProperty('depth', 0);
  });
});

describe('repeated submissions', () => {
  it('returns the first receipt for the same idempotency key', async () => {
    const first = await submitComment(harness, { ...VALID_COMMENT, idempotencyKey: 'key-1' });
    harness.clock.advance(60 * 60_000);
    const second = await submitComment(harness, { ...VALID_COMMENT, idempotencyKey: 'key-1' });
    expect(second).toBe(first);
    expect(harness.wakes()).toBe(1);
  });

  it('returns one receipt for parallel repeats', async () => {
    const body = { ...VALID_COMMENT, idempotencyKey: 'key-parallel' };
    const receipts = await Promise.all(
      Array.from({ length: 5 }, () => submitComment(harness, body)),
    );
    expect(new Set(receipts).size).toBe(1);
  });

  it('reads the idempotency key from the header', async () => {
    const first = await submitComment(harness, VALID_COMMENT, { 'idempotency-key': 'key-2' });
    harness.clock.advance(60 * 60_000);
    const second = await submitComment(harness, VALID_COMMENT, { 'idempotency-key': 'key-2' });
    expect(second).toBe(first);
  });

  it('rejects a reused idempotency key with different text', async () => {
    await submitComment(harness, { ...VALID_COMMENT, idempotencyKey: 'key-3' });
    const response = await postJson(harness, {
      ...VALID_COMMENT,
      text: 'Different text',
      idempotencyKey: 'key-3',
    });
    expect(response.status).toBe(409);
    expect(await readJson(response)).toHaveProperty('error.field', 'idempotencyKey');
  });

  it('dedupes the same text within ten minutes', async () => {
    const first = await submitComment(harness);
    harness.clock.advance(9 * 60_000);
    expect(await submitComment(harness)).toBe(first);
  });

  it('treats NFC-equal text as the same text', async () => {
    const first = await submitComment(harness, { ...VALID_COMMENT, text: 'Caf\u00e9' });
    expect(await submitComment(harness, { ...VALID_COMMENT, text: 'Cafe\u0301' })).toBe(first);
  });

  it('accepts the same text again after ten minutes', async () => {
    const first = await submitComment(harness);
    harness.clock.advance(10 * 60_000 + 1);
    expect(await submitComment(harness)).not.toBe(first);
  });

  it('accepts the same text by another author', async () => {
    const first = await submitComment(harness);
    expect(await submitComment(harness, { ...VALID_COMMENT, author: 'Bo' })).not.toBe(first);
  });
});

describe('form submission', () => {
  const form = { post: 'hello-world', author: 'Ada Reader', text: 'Hello from a form' };

  it('redirects with 303 to the post with the receipt', async () => {
    const response = await postForm(harness, form);
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe(`${CONFIG.publicSiteUrl}/posts/hello-world/`);
    expect(location.searchParams.get('comment')).toBe('received');
    expect(location.searchParams.get('receipt')).toMatch(/^[0-9a-z]{26}$/);
    expect(location.hash).toBe('#comment-status');
  });

  it('redirects to returnTo on a site origin', async () => {
    const returnTo = `${CONFIG.publicSiteUrl}/posts/hello-world/?page=2`;
    const response = await postForm(harness, { ...form, returnTo });
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.pathname).toBe('/posts/hello-world/');
    expect(location.searchParams.get('page')).toBe('2');
    expect(location.searchParams.get('comment')).toBe('received');
  });

  it.each([
    ['another host', 'https://evil.example/posts/hello-world/'],
    ['a host that starts like the site', 'http://127.0.0.1:43210/x'],
    ['a relative path', '/posts/hello-world/'],
    ['a protocol-relative URL', '//evil.example/x'],
    ['a javascript URL', 'javascript:alert(1)'],
    ['credentials in the URL', 'http://user:pw@127.0.0.1:4321/x'],
  ])('ignores returnTo on %s', async (_name, returnTo) => {
    const response = await postForm(harness, { ...form, returnTo });
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe(`${CONFIG.publicSiteUrl}/posts/hello-world/`);
  });

  it('redirects an internal-site form to the internal site', async () => {
    const response = await postForm(harness, form, { origin: INTERNAL_ORIGIN });
    expect(response.headers.get('location')).toMatch(
      /^http:\/\/127\.0\.0\.1:4322\/posts\/hello-world\//,
    );
  });

  it('sets the receipts cookie for the receipts page', async () => {
    const response = await postForm(harness, form);
    const cookie = response.headers.get('set-cookie') ?? '';
    const receipt = new URL(response.headers.get('location') ?? '').searchParams.get('receipt');
    expect(cookie).toContain(`marginalia_receipts=${receipt}`);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect(cookie).toContain('Path=/api/comments');
    expect(cookie).toContain('Max-Age=2592000');
  });

  it('keeps the last twenty receipts in the cookie', async () => {
    const earlier = Array.from({ length: 25 }, (_, i) => `01h${String(i).padStart(23, '0')}`);
    const response = await postForm(harness, form, {
      cookie: `marginalia_receipts=${earlier.join('.')}`,
    });
    const value = /marginalia_receipts=([^;]*)/.exec(response.headers.get('set-cookie') ?? '')?.[1];
    const ids = (value ?? '').split('.');
    expect(ids).toHaveLength(20);
    expect(ids[0]).toBe(earlier[6]);
  });

  it('answers an invalid form with HTML that keeps the text', async () => {
    const text = 'A long comment with <b>markup</b> & "quotes"\n\nsecond paragraph';
    const response = await postForm(harness, { ...form, author: '', text });
    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await response.text();
    expect(page).toContain('Name is required.');
    expect(page).toContain(
      '<textarea id="text" name="text">\nA long comment with &lt;b&gt;markup&lt;/b&gt; &amp; ' +
        '&quot;quotes&quot;\n\nsecond paragraph</textarea>',
    );
    expect(page).toContain(`action="${CONFIG.apiPublicUrl}/api/comments"`);
  });

  it('names each failing field on the form page', async () => {
    const response = await postForm(harness, {
      ...form,
      authorUrl: 'ftp://files.example',
      author: 'x'.repeat(81),
    });
    const page = await response.text();
    expect(page).toContain('Name is 81 characters; the limit is 80. Shorten it and send again.');
    expect(page).toContain('Website must be an http or https URL.');
  });

  it('answers a form for a closed post with HTML status 409', async () => {
    const response = await postForm(harness, { ...form, post: 'closed-post' });
    expect(response.status).toBe(409);
    expect(await response.text()).toContain('Post is closed to new comments.');
  });

  it('answers a form for an unknown post with HTML status 404', async () => {
    const response = await postForm(harness, { ...form, post: 'missing' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('keeps the text when the store fails', async () => {
    await harness.store.close();
    const response = await postForm(harness, { ...form, text: 'Do not lose me' });
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('Do not lose me</textarea>');
  });

  it('answers JSON to a form post that asks for JSON', async () => {
    const response = await postForm(harness, form, { accept: 'application/json' });
    expect(response.status).toBe(202);
    expect(await readJson(response)).toHaveProperty('status', 'received');
  });

  it('accepts multipart form data', async () => {
    const body = new FormData();
    for (const [key, value] of Object.entries(form)) body.set(key, value);
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { accept: 'text/html', origin: PUBLIC_ORIGIN },
      body,
    });
    expect(response.status).toBe(303);
  });

  it('rejects a file upload in a text field', async () => {
    const body = new FormData();
    body.set('post', 'hello-world');
    body.set('author', 'Ada');
    body.set('text', new File(['hi'], 'a.txt'));
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { accept: 'text/html', origin: PUBLIC_ORIGIN },
      body,
    });
    expect(response.status).toBe(422);
    expect(await response.text()).toContain('Comment must be text.');
  });
});
