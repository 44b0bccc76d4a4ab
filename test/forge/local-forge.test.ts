// The local forge called directly over HTTP: GitHub's error messages, headers and seeding.

import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startLocalForge } from '../../api/forge/local/index.ts';
import {
  OWNER,
  REPO,
  TOKEN,
  createOpenApiChecker,
  problemsOf,
  startForgeFixture,
  type ForgeFixture,
} from './harness.ts';

// GitHub may return 401 and 429 for any operation, although the description does not list them.
const checker = createOpenApiChecker({ unlistedStatuses: [401, 429] });
let fixture: ForgeFixture;
let api: (
  path: string,
  init?: { method?: string; body?: unknown; token?: string | null },
) => Promise<{
  status: number;
  headers: Headers;
  body: unknown;
}>;

beforeEach(async () => {
  fixture = await startForgeFixture({ checker });
  api = async (path, init = {}) => {
    const headers: Record<string, string> = {};
    if (init.token !== null) headers['authorization'] = `token ${init.token ?? TOKEN}`;
    const response = await fixture.fetch(`${fixture.forge.url}/repos/${OWNER}/${REPO}${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
  };
});

afterEach(async () => {
  const problems = problemsOf(fixture.exchanges);
  await fixture.close();
  expect(problems).toEqual([]);
});

async function mainSha(): Promise<string> {
  return fixture.git('rev-parse', 'main');
}

function encode(text: string): string {
  return Buffer.from(text).toString('base64');
}

describe('errors', () => {
  test('create-ref without sha names the field', async () => {
    const response = await api('/git/refs', {
      method: 'POST',
      body: { ref: 'refs/heads/comments/e1' },
    });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ message: 'Invalid request.\n\n"sha" wasn\'t supplied.' });
    // The request breaks the schema on purpose, so the checker must report it.
    expect(fixture.exchanges.pop()?.problems).toEqual([
      expect.stringContaining("must have required property 'sha'"),
    ]);
  });

  test('create-ref twice says the reference exists', async () => {
    const body = { ref: 'refs/heads/comments/e2', sha: await mainSha() };
    const first = await api('/git/refs', { method: 'POST', body });

    const second = await api('/git/refs', { method: 'POST', body });

    expect(first.status).toBe(201);
    expect(second.status).toBe(422);
    expect(second.body).toMatchObject({ message: 'Reference already exists' });
  });

  test.each([
    { ref: 'refs/heads/bad..name', message: 'Reference name is not valid.' },
    { ref: 'refs/heads/bad name', message: 'Reference name is not valid.' },
    {
      ref: 'heads/x',
      message: "Reference name must start with 'refs/' and have at least two slashes.",
    },
  ])('create-ref rejects $ref', async ({ ref, message }) => {
    const response = await api('/git/refs', {
      method: 'POST',
      body: { ref, sha: await mainSha() },
    });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ message });
  });

  test('create-ref rejects an unknown commit', async () => {
    const response = await api('/git/refs', {
      method: 'POST',
      body: { ref: 'refs/heads/comments/e3', sha: 'a'.repeat(40) },
    });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ message: 'Object does not exist' });
  });

  test('contents PUT over an existing file needs its sha', async () => {
    const response = await api('/contents/content/posts/hello.md', {
      method: 'PUT',
      body: { message: 'Change', content: encode('new\n') },
    });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ message: 'Invalid request.\n\n"sha" wasn\'t supplied.' });
  });

  test('contents PUT with a stale sha conflicts', async () => {
    const response = await api('/contents/content/posts/hello.md', {
      method: 'PUT',
      body: { message: 'Change', content: encode('new\n'), sha: 'b'.repeat(40) },
    });

    expect(response.status).toBe(409);
  });

  test.each(['../escape.md', 'content//double.md', 'content/.git/config'])(
    'contents PUT rejects path %s',
    async (path) => {
      // Encoded as Octokit encodes it, so that the URL parser keeps the dot segments.
      const response = await api(`/contents/${encodeURIComponent(path)}`, {
        method: 'PUT',
        body: { message: 'Bad', content: encode('x') },
      });

      expect(response.status).toBe(422);
    },
  );

  test('a second pull request for one branch names the branch', async () => {
    await api('/git/refs', {
      method: 'POST',
      body: { ref: 'refs/heads/comments/e4', sha: await mainSha() },
    });
    await api('/contents/content/comments/e4.md', {
      method: 'PUT',
      body: { message: 'Add', content: encode('x\n'), branch: 'comments/e4' },
    });
    const body = { title: 'T', head: 'comments/e4', base: 'main' };
    await api('/pulls', { method: 'POST', body });

    const second = await api('/pulls', { method: 'POST', body });

    expect(second.status).toBe(422);
    expect(second.body).toMatchObject({
      message: 'Validation Failed',
      errors: [{ message: `A pull request already exists for ${OWNER}:comments/e4.` }],
    });
  });

  test('a pull request without commits is rejected', async () => {
    await api('/git/refs', {
      method: 'POST',
      body: { ref: 'refs/heads/comments/e5', sha: await mainSha() },
    });

    const response = await api('/pulls', {
      method: 'POST',
      body: { title: 'T', head: 'comments/e5', base: 'main' },
    });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({
      errors: [{ message: 'No commits between main and comments/e5' }],
    });
  });

  test('merging a closed pull request is refused', async () => {
    await api('/git/refs', {
      method: 'POST',
      body: { ref: 'refs/heads/comments/e6', sha: await mainSha() },
    });
    await api('/contents/content/comments/e6.md', {
      method: 'PUT',
      body: { message: 'Add', content: encode('x\n'), branch: 'comments/e6' },
    });
    await api('/pulls', {
      method: 'POST',
      body: { title: 'T', head: 'comments/e6', base: 'main' },
    });
    await api('/pulls/1', { method: 'PATCH', body: { state: 'closed' } });

    const response = await api('/pulls/1/merge', { method: 'PUT', body: {} });

    expect(response.status).toBe(405);
    expect(response.body).toMatchObject({ message: 'Pull Request is not mergeable' });
  });

  test.each([
    { path: '/git/ref/heads/missing', status: 404 },
    { path: '/pulls/99', status: 404 },
    { path: '/contents/content/missing.md', status: 404 },
  ])('$path answers Not Found', async ({ path, status }) => {
    const response = await api(path);

    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ message: 'Not Found' });
  });

  test.each([
    { token: null, message: 'Requires authentication' },
    { token: 'wrong', message: 'Bad credentials' },
  ])('token $token answers 401', async ({ token, message }) => {
    const response = await api('', { token });

    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ message });
  });
});

describe('responses', () => {
  test('every response carries a request id', async () => {
    const responses = [await api(''), await api('/pulls/7'), await api('', { token: 'wrong' })];

    for (const response of responses) {
      expect(response.headers.get('x-github-request-id')).toMatch(/^[0-9A-F-]{36}$/);
    }
  });

  test('repository matches the schema', async () => {
    const response = await api('');

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ full_name: `${OWNER}/${REPO}`, default_branch: 'main' });
  });

  test('directory listing names its entries', async () => {
    const response = await api('/contents/content');

    expect(response.body).toMatchObject([{ name: 'posts', type: 'dir', path: 'content/posts' }]);
  });
});

describe('faults', () => {
  test('answers an injected rate limit with retry-after', async () => {
    fixture.setFaults(() => ({ kind: 'fail', status: 429, retryAfterSeconds: 3 }));

    const response = await api('');

    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  test('applies the effect before dropping the connection', async () => {
    fixture.setFaults((request) =>
      request.operation === 'git/create-ref' ? { kind: 'drop-after-effect' } : undefined,
    );
    const sha = await mainSha();

    const error = await api('/git/refs', {
      method: 'POST',
      body: { ref: 'refs/heads/comments/f1', sha },
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(Error);
    expect(await fixture.git('rev-parse', 'comments/f1')).toBe(sha);
  });
});

describe('seeding', () => {
  test('puts the seed folder under its own name', async () => {
    expect(await fixture.git('ls-tree', '-r', '--name-only', 'main')).toBe(
      'content/posts/hello.md',
    );
  });

  test('keeps the repository on restart', async () => {
    await api('/contents/content/posts/new.md', {
      method: 'PUT',
      body: { message: 'Add', content: encode('n\n') },
    });
    const head = await mainSha();
    await fixture.forge.close();

    const reopened = await startLocalForge({
      dataDir: `${fixture.dataDir}/forge`,
      owner: OWNER,
      repo: REPO,
      token: TOKEN,
      seed: { directory: `${fixture.dataDir}/seed/content` },
    });
    await reopened.close();

    expect(await mainSha()).toBe(head);
  });
});

describe('pull request pages', () => {
  test('html_url shows the title, state and escaped changes without a token', async () => {
    const pull = await fixture.client().proposeComment({
      commentId: 'page-test',
      path: 'content/comments/welcome/page-test.md',
      content: '---\nid: "page-test"\n---\n<script>alert(1)</script>\n',
      title: 'Comment by <b>Ada</b>',
      body: 'preview',
      labels: [],
    });
    const response = await fetch(pull.url);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('Comment by &lt;b&gt;Ada&lt;/b&gt;');
    expect(html).toContain('<span class="state">open</span>');
    expect(html).toContain('+&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
  });

  test('an unknown pull request page is 404', async () => {
    const response = await fetch(`${fixture.forge.url}/${OWNER}/${REPO}/pull/999`);
    expect(response.status).toBe(404);
  });
});

describe('pull request list page', () => {
  test('lists pull requests newest first with escaped titles', async () => {
    const client = fixture.client();
    for (const id of ['list-a', 'list-b']) {
      await client.proposeComment({
        commentId: id,
        path: `content/comments/welcome/${id}.md`,
        content: `---\nid: "${id}"\n---\nbody\n`,
        title: `Comment <${id}>`,
        body: 'preview',
        labels: [],
      });
    }
    const response = await fetch(`${fixture.forge.url}/${OWNER}/${REPO}/pulls`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html.indexOf('Comment &lt;list-b&gt;')).toBeLessThan(
      html.indexOf('Comment &lt;list-a&gt;'),
    );
    expect(html).toContain(`href="/${OWNER}/${REPO}/pull/1"`);
  });
});
