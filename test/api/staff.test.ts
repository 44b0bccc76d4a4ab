import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  INTERNAL_ORIGIN,
  PUBLIC_ORIGIN,
  VALID_COMMENT,
  createHarness,
  readJson,
  staffHeaders,
  submitComment,
  type Harness,
} from './harness.ts';

let harness: Harness;
let receipt: string;
beforeEach(async () => {
  harness = await createHarness();
  receipt = await submitComment(harness, { ...VALID_COMMENT, text: 'Hello **staff**' });
  await harness.worker.drain();
});
afterEach(async () => {
  await harness.close();
});

function staffRequest(path: string, method = 'GET', headers = staffHeaders()) {
  return harness.app.request(`/api/staff${path}`, { method, headers });
}

describe('staff authentication', () => {
  it.each([
    ['no header', {}],
    ['a wrong token', staffHeaders('wrong-token-0123456789abcdef')],
    ['a prefix of the token', staffHeaders('staff-token')],
    ['basic auth', { authorization: 'Basic c3RhZmY6dG9rZW4=' }],
  ])('rejects %s with 401', async (_name, headers) => {
    const response = await staffRequest('/comments', 'GET', headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('rejects an unauthenticated approval without merging', async () => {
    const response = await staffRequest(`/comments/${receipt}/approve`, 'POST', {});
    expect(response.status).toBe(401);
    expect(harness.forge.pulls[0]?.state).toBe('open');
  });
});

describe('staff review', () => {
  it('lists pending comments with their text and rendering', async () => {
    const response = await staffRequest('/comments');
    expect(response.status).toBe(200);
    const json = await readJson(response);
    expect(json.comments).toEqual([
      expect.objectContaining({
        receipt,
        post: { id: 'hello-world', title: 'Hello, world' },
        author: 'Ada Reader',
        text: 'Hello **staff**',
        html: '<p>Hello **staff**</p>',
        visibility: 'public',
        parent: null,
        pullRequest: { number: 1, url: 'http://127.0.0.1:9/pulls/1' },
      }),
    ]);
  });

  it('approves by merging and marks the comment published', async () => {
    const response = await staffRequest(`/comments/${receipt}/approve`, 'POST');
    expect(response.status).toBe(200);
    expect(harness.forge.pulls[0]?.state).toBe('merged');
    expect((await harness.store.get(receipt))?.status).toBe('published');
  });

  it('rebuilds once after an approval', async () => {
    await staffRequest(`/comments/${receipt}/approve`, 'POST');
    await staffRequest(`/comments/${receipt}/approve`, 'POST');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(harness.merged).toHaveLength(1);
  });

  it('answers a repeated approval without merging again', async () => {
    await staffRequest(`/comments/${receipt}/approve`, 'POST');
    const response = await staffRequest(`/comments/${receipt}/approve`, 'POST');
    expect(response.status).toBe(200);
    const merges = harness.forge.calls.filter((call) => call.method === 'mergePullRequest');
    expect(merges).toHaveLength(1);
  });

  it('declines by closing and marks the comment declined', async () => {
    const response = await staffRequest(`/comments/${receipt}/decline`, 'POST');
    expect(response.status).toBe(200);
    expect(harness.forge.pulls[0]?.state).toBe('closed');
    expect((await harness.store.get(receipt))?.status).toBe('declined');
  });

  it('refuses to approve a declined comment', async () => {
    await staffRequest(`/comments/${receipt}/decline`, 'POST');
    const response = await staffRequest(`/comments/${receipt}/approve`, 'POST');
    expect(response.status).toBe(409);
  });

  it('answers 409 for a comment not yet proposed', async () => {
    const waiting = await submitComment(harness, { ...VALID_COMMENT, text: 'Not delivered' });
    const response = await staffRequest(`/comments/${waiting}/approve`, 'POST');
    expect(response.status).toBe(409);
    expect(await readJson(response)).toHaveProperty('error.code', 'not_yet_proposed');
  });

  it('answers 404 for an unknown comment', async () => {
    const response = await staffRequest('/comments/01hnothere00000000000000000/approve', 'POST');
    expect(response.status).toBe(404);
  });

  it('answers 502 when the forge fails to merge', async () => {
    harness.forge.failNext('mergePullRequest', new Error('merge conflict'));
    const response = await staffRequest(`/comments/${receipt}/approve`, 'POST');
    expect(response.status).toBe(502);
    expect((await harness.store.get(receipt))?.status).toBe('proposed');
  });
});

describe('CORS', () => {
  it.each([PUBLIC_ORIGIN, INTERNAL_ORIGIN])('allows the site origin %s', async (origin) => {
    const response = await harness.app.request('/api/staff/comments', {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
  });

  it('allows a site origin to read a submission answer', async () => {
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { origin: PUBLIC_ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ ...VALID_COMMENT, text: 'From the site script' }),
    });
    expect(response.headers.get('access-control-allow-origin')).toBe(PUBLIC_ORIGIN);
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it.each(['http://127.0.0.1:43220', 'http://127.0.0.1:432', 'null', 'https://127.0.0.1:4322'])(
    'refuses the origin %s',
    async (origin) => {
      const response = await harness.app.request('/api/comments', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    },
  );
});
