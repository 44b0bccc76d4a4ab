// GitHub App auth through @octokit/auth-app against the local forge: JWT checks, installation
// tokens that expire and are renewed, and permissions per credential.

import { generateKeyPairSync, sign } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { permanentFailure } from '../../api/delivery/backoff.ts';
import type { GitHubAppCredentials } from '../../api/forge/github.ts';
import type { LocalForgeOptions } from '../../api/forge/local/index.ts';
import { ForgeError, type CommentProposal } from '../../api/forge/types.ts';
import {
  OWNER,
  TOKEN,
  createOpenApiChecker,
  problemsOf,
  startForgeFixture,
  writesOf,
  type ForgeFixture,
} from './harness.ts';

const checker = createOpenApiChecker({ unlistedStatuses: [401, 403, 429, 500, 502, 503, 504] });

const APP_ID = 4242;
const INSTALLATION_ID = 777;
const KEYS = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const APP: GitHubAppCredentials = {
  appId: APP_ID,
  privateKey: KEYS.privateKey,
  installationId: INSTALLATION_ID,
};
const TOKEN_PATH = `/app/installations/${INSTALLATION_ID}/access_tokens`;

function proposal(commentId: string): CommentProposal {
  return {
    commentId,
    path: `content/comments/hello/${commentId}.md`,
    content: `---\nid: ${commentId}\npost: hello\n---\nA comment.\n`,
    title: 'Comment by Ada on "Hello"',
    body: 'A comment.',
    labels: ['comment'],
  };
}

let fixture: ForgeFixture | null = null;

async function start(options: Partial<LocalForgeOptions> = {}): Promise<ForgeFixture> {
  fixture = await startForgeFixture({
    checker,
    app: { id: APP_ID, publicKey: KEYS.publicKey, installationId: INSTALLATION_ID },
    ...options,
  });
  return fixture;
}

afterEach(async () => {
  if (fixture === null) return;
  const problems = problemsOf(fixture.exchanges);
  await fixture.close();
  fixture = null;
  expect(problems).toEqual([]);
});

function tokenRequests(forge: ForgeFixture) {
  return forge.exchanges.filter((exchange) => new URL(exchange.url).pathname === TOKEN_PATH);
}

/** Signs a JWT the way a GitHub App does, with claims the test chooses. */
function appJwt(claims: Record<string, unknown>, privateKey: string = KEYS.privateKey): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(claims)}`;
  const signature = sign('sha256', Buffer.from(unsigned), privateKey).toString('base64url');
  return `${unsigned}.${signature}`;
}

async function requestToken(forge: ForgeFixture, jwt: string, installationId = INSTALLATION_ID) {
  const response = await fetch(
    `${forge.forge.url}/app/installations/${installationId}/access_tokens`,
    { method: 'POST', headers: { authorization: `Bearer ${jwt}` } },
  );
  const body: unknown = await response.json();
  return { status: response.status, body };
}

describe('installation tokens', () => {
  test('deliver a comment as the App', async () => {
    const forge = await start();
    const client = forge.client({ app: APP });

    const pull = await client.proposeComment(proposal('a01'));

    expect(pull.number).toBe(1);
    expect(tokenRequests(forge).map((exchange) => exchange.status)).toEqual([201]);
    expect(tokenRequests(forge)[0]?.responseBody).toMatchObject({
      permissions: { contents: 'write', pull_requests: 'write' },
    });
    expect(await forge.git('rev-list', '--count', 'main..comments/a01')).toBe('1');
  });

  test('are reused until they near expiry', async () => {
    const forge = await start();
    const client = forge.client({ app: APP });

    await client.proposeComment(proposal('a02'));
    await client.proposeComment(proposal('a03'));

    expect(tokenRequests(forge).length).toBe(1);
    expect(forge.exchanges.length).toBe(1 + 4 + 3);
  });

  test('are renewed before they expire', async () => {
    const forge = await start({
      app: {
        id: APP_ID,
        publicKey: KEYS.publicKey,
        installationId: INSTALLATION_ID,
        tokenTtlMs: 2_000,
      },
    });
    const client = forge.client({ app: APP });
    await client.proposeComment(proposal('a04'));
    const expiresAt = Date.parse(
      String((tokenRequests(forge)[0]?.responseBody as { expires_at?: string }).expires_at),
    );
    await sleep(Math.max(0, expiresAt - Date.now()) + 100);

    await client.proposeComment(proposal('a05'));

    expect(tokenRequests(forge).map((exchange) => exchange.status)).toEqual([201, 201]);
    expect(forge.exchanges.filter((exchange) => exchange.status === 401)).toEqual([]);
    expect(await forge.git('for-each-ref', '--format=%(refname)', 'refs/heads/comments/')).toBe(
      'refs/heads/comments/a04\nrefs/heads/comments/a05',
    );
  });

  test('expiring mid-delivery are renewed and delivery continues', async () => {
    const forge = await start({
      app: {
        id: APP_ID,
        publicKey: KEYS.publicKey,
        installationId: INSTALLATION_ID,
        tokenTtlMs: 2_000,
      },
    });
    let delayed = false;
    // Holds the commit request until its token has expired, as a slow network would.
    const slowFetch: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      if (!delayed && request.method === 'PUT') {
        delayed = true;
        const expiresAt = Date.parse(
          String((tokenRequests(forge)[0]?.responseBody as { expires_at?: string }).expires_at),
        );
        await sleep(Math.max(0, expiresAt - Date.now()) + 100);
      }
      return forge.fetch(input, init);
    };
    const client = forge.client({ app: APP, octokit: { fetch: slowFetch } });

    const pull = await client.proposeComment(proposal('a06'));

    expect(delayed).toBe(true);
    expect(pull.number).toBe(1);
    const commits = forge.exchanges.filter((exchange) => exchange.method === 'PUT');
    expect(commits[0]?.status).toBe(401);
    expect(commits[0]?.responseBody).toMatchObject({ message: 'Bad credentials' });
    expect(commits.at(-1)?.status).toBe(201);
    expect(tokenRequests(forge).map((exchange) => exchange.status)).toEqual([201, 201]);
    expect(await forge.git('rev-list', '--count', 'main..comments/a06')).toBe('1');
  }, 30_000);

  test('that expired answer 401 Bad credentials', async () => {
    const forge = await start({
      app: {
        id: APP_ID,
        publicKey: KEYS.publicKey,
        installationId: INSTALLATION_ID,
        tokenTtlMs: 1_000,
      },
    });
    const now = Math.floor(Date.now() / 1000);
    const issued = await requestToken(forge, appJwt({ iss: APP_ID, iat: now - 30, exp: now + 60 }));
    const body = issued.body as { token: string; expires_at: string };
    await sleep(Math.max(0, Date.parse(body.expires_at) - Date.now()) + 100);

    const response = await fetch(`${forge.forge.url}/repos/${OWNER}/blog`, {
      headers: { authorization: `token ${body.token}` },
    });

    expect(issued.status).toBe(201);
    expect(body.token).toMatch(/^ghs_/);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: 'Bad credentials' });
  });
});

describe('app JWT', () => {
  const now = () => Math.floor(Date.now() / 1000);

  test.each([
    {
      name: 'a foreign key',
      jwt: () =>
        appJwt(
          { iss: APP_ID, iat: now() - 30, exp: now() + 540 },
          generateKeyPairSync('rsa', {
            modulusLength: 2048,
            publicKeyEncoding: { type: 'spki', format: 'pem' },
            privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
          }).privateKey,
        ),
      message: 'A JSON web token could not be decoded',
    },
    {
      name: 'another issuer',
      jwt: () => appJwt({ iss: APP_ID + 1, iat: now() - 30, exp: now() + 540 }),
      message: "'Issuer' claim ('iss')",
    },
    {
      name: 'exp more than 10 minutes ahead',
      jwt: () => appJwt({ iss: APP_ID, iat: now() - 30, exp: now() + 660 }),
      message: "'Expiration time' claim ('exp') is too far in the future",
    },
    {
      name: 'exp in the past',
      jwt: () => appJwt({ iss: APP_ID, iat: now() - 120, exp: now() - 1 }),
      message: "'Expiration time' claim ('exp') must be a numeric value",
    },
    {
      name: 'iat in the future',
      jwt: () => appJwt({ iss: APP_ID, iat: now() + 120, exp: now() + 300 }),
      message: "'Issued at' claim ('iat')",
    },
    { name: 'no JWT', jwt: () => 'not-a-jwt', message: 'could not be decoded' },
  ])('rejects $name with 401', async ({ jwt, message }) => {
    const forge = await start();

    const answer = await requestToken(forge, jwt());

    expect(answer.status).toBe(401);
    expect((answer.body as { message: string }).message).toContain(message);
  });

  test('accepts a valid JWT and a string issuer', async () => {
    const forge = await start();

    const answer = await requestToken(
      forge,
      appJwt({ iss: String(APP_ID), iat: now() - 60, exp: now() + 600 }),
    );

    expect(answer.status).toBe(201);
  });

  test('answers 404 for another installation', async () => {
    const forge = await start();

    const answer = await requestToken(
      forge,
      appJwt({ iss: APP_ID, iat: now() - 30, exp: now() + 540 }),
      INSTALLATION_ID + 1,
    );

    expect(answer.status).toBe(404);
  });

  test('fails delivery permanently with a foreign key', async () => {
    const forge = await start();
    const foreign = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const client = forge.client({ app: { ...APP, privateKey: foreign.privateKey } });

    const error = await client.proposeComment(proposal('a07')).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ForgeError);
    expect((error as ForgeError).status).toBe(401);
    expect(permanentFailure(error)).toEqual({
      cause: 'credentials',
      reason: 'forge credentials rejected (HTTP 401)',
    });
    expect(writesOf(forge.exchanges).map((exchange) => new URL(exchange.url).pathname)).toEqual([
      TOKEN_PATH,
    ]);
  });
});

describe('permissions', () => {
  test('read-only token gets 403 on writes', async () => {
    const forge = await start({ permissions: { contents: 'read', pull_requests: 'read' } });
    const client = forge.client();

    const error = await client.proposeComment(proposal('p01')).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ForgeError);
    expect((error as ForgeError).status).toBe(403);
    expect((error as ForgeError).message).toContain(
      'Resource not accessible by personal access token',
    );
    expect(permanentFailure(error)).toEqual({
      cause: 'forbidden',
      reason: 'forge access forbidden (HTTP 403)',
    });
    expect(await forge.git('for-each-ref', 'refs/heads/comments/')).toBe('');
  });

  test('repository reports push for the token', async () => {
    const forge = await start({ permissions: { contents: 'read' } });

    const response = await fetch(`${forge.forge.url}/repos/${OWNER}/blog`, {
      headers: { authorization: `token ${TOKEN}` },
    });

    expect(await response.json()).toMatchObject({
      permissions: { push: false, pull: true, admin: false },
    });
  });

  test.each([
    { permissions: {}, ok: true, detail: 'may write contents and pull requests' },
    {
      permissions: { contents: 'read' as const },
      ok: false,
      detail: 'lacks contents: write (it has contents: read)',
    },
    {
      permissions: { contents: 'read' as const, pull_requests: 'read' as const },
      ok: false,
      detail: 'lacks contents: write and pull_requests: write',
    },
  ])('checkAccess reads installation permissions $permissions', async (row) => {
    const forge = await start({ permissions: row.permissions });

    const report = await forge.client({ app: APP }).checkAccess();

    const check = report.checks.find((item) => item.name === 'permissions');
    expect(report.ok).toBe(row.ok);
    expect(check?.ok).toBe(row.ok);
    expect(check?.detail).toContain(row.detail);
    expect(report.checks.map((item) => item.name)).toEqual([
      'credentials',
      'repository',
      'base branch',
      'permissions',
    ]);
  });

  test('checkAccess names a wrong installation id', async () => {
    const forge = await start();

    const report = await forge
      .client({ app: { ...APP, installationId: INSTALLATION_ID + 1 } })
      .checkAccess();

    expect(report.ok).toBe(false);
    expect(report.checks).toEqual([
      {
        name: 'credentials',
        ok: false,
        detail: expect.stringContaining('check the installation id') as unknown as string,
      },
    ]);
  });
});
