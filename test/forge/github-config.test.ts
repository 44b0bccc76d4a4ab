import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../api/config.ts';
import {
  DEFAULT_GITHUB_API_URL,
  GITHUB_ENV,
  parseGitHubConfig,
} from '../../api/forge/github-config.ts';

const { privateKey: PKCS1_KEY } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
});

const REPOSITORY = {
  [GITHUB_ENV.owner]: 'acme',
  [GITHUB_ENV.repo]: 'blog',
};

const TOKEN_ENV = { ...REPOSITORY, [GITHUB_ENV.token]: 'github_pat_11ABCDEFG0123456789' };

const APP_ENV = {
  ...REPOSITORY,
  [GITHUB_ENV.appId]: '123456',
  [GITHUB_ENV.appPrivateKey]: PKCS1_KEY,
  [GITHUB_ENV.installationId]: '7890',
};

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseGitHubConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('parseGitHubConfig accepted the environment');
}

/** Returns the public half of a private key, which does not depend on the PEM form. */
function publicPem(pem: string): string {
  return String(createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'pem' }));
}

describe('parseGitHubConfig', () => {
  test('reads a token with defaults', () => {
    expect(parseGitHubConfig(TOKEN_ENV)).toEqual({
      owner: 'acme',
      repo: 'blog',
      baseBranch: 'main',
      apiUrl: DEFAULT_GITHUB_API_URL,
      auth: { kind: 'token', token: 'github_pat_11ABCDEFG0123456789' },
    });
  });

  test('reads base branch and API URL', () => {
    const config = parseGitHubConfig({
      ...TOKEN_ENV,
      [GITHUB_ENV.baseBranch]: 'release/2026',
      [GITHUB_ENV.apiUrl]: 'http://127.0.0.1:4010/',
    });

    expect(config.baseBranch).toBe('release/2026');
    expect(config.apiUrl).toBe('http://127.0.0.1:4010');
  });

  test('reads App credentials as PKCS#8', () => {
    const config = parseGitHubConfig(APP_ENV);

    expect(config.auth.kind).toBe('app');
    if (config.auth.kind !== 'app') return;
    expect(config.auth.appId).toBe(123456);
    expect(config.auth.installationId).toBe(7890);
    expect(config.auth.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(publicPem(config.auth.privateKey)).toBe(publicPem(PKCS1_KEY));
  });

  test('accepts a private key with literal \\n sequences', () => {
    const oneLine = PKCS1_KEY.trim().replaceAll('\n', '\\n');
    const fromOneLine = parseGitHubConfig({ ...APP_ENV, [GITHUB_ENV.appPrivateKey]: oneLine });
    const fromLines = parseGitHubConfig(APP_ENV);

    expect(oneLine).not.toContain('\n');
    expect(fromOneLine.auth).toEqual(fromLines.auth);
  });

  test('accepts a private key with CRLF line breaks', () => {
    const crlf = PKCS1_KEY.replaceAll('\n', '\r\n');

    expect(parseGitHubConfig({ ...APP_ENV, [GITHUB_ENV.appPrivateKey]: crlf }).auth).toEqual(
      parseGitHubConfig(APP_ENV).auth,
    );
  });

  test('accepts an App client ID', () => {
    const config = parseGitHubConfig({ ...APP_ENV, [GITHUB_ENV.appId]: 'Iv23liAbCdEf012345' });

    expect(config.auth.kind).toBe('app');
    expect(config.auth.kind === 'app' ? config.auth.appId : null).toBe('Iv23liAbCdEf012345');
  });

  test('treats an empty token as unset', () => {
    expect(parseGitHubConfig({ ...APP_ENV, [GITHUB_ENV.token]: '' }).auth.kind).toBe('app');
  });

  test.each([GITHUB_ENV.owner, GITHUB_ENV.repo])('names %s when it is missing', (variable) => {
    const error = configError({ ...TOKEN_ENV, [variable]: undefined });

    expect(error.variable).toBe(variable);
    expect(error.message).toBe(`${variable} is missing`);
  });

  test.each([GITHUB_ENV.owner, GITHUB_ENV.repo])('names %s when its key is absent', (variable) => {
    const environment: Record<string, string | undefined> = { ...TOKEN_ENV };
    delete environment[variable];
    const error = configError(environment);

    expect(error.variable).toBe(variable);
    expect(error.message).toBe(`${variable} is missing`);
  });

  test('names the token when no credentials are set', () => {
    const error = configError(REPOSITORY);

    expect(error.variable).toBe(GITHUB_ENV.token);
    expect(error.message).toContain(GITHUB_ENV.appId);
  });

  test.each([GITHUB_ENV.appId, GITHUB_ENV.appPrivateKey, GITHUB_ENV.installationId])(
    'rejects %s beside a token',
    (variable) => {
      const error = configError({ ...TOKEN_ENV, [variable]: APP_ENV[variable] });

      expect(error.variable).toBe(variable);
      expect(error.message).toContain(GITHUB_ENV.token);
      expect(error.message).not.toContain('BEGIN');
    },
  );

  test.each([GITHUB_ENV.appId, GITHUB_ENV.appPrivateKey, GITHUB_ENV.installationId])(
    'names %s when the other App variables are set',
    (variable) => {
      const error = configError({ ...APP_ENV, [variable]: undefined });

      expect(error.variable).toBe(variable);
      expect(error.message).toMatch(/is missing; a GitHub App needs all of/);
    },
  );

  test.each([
    [GITHUB_ENV.owner, 'acme/blog', /user or organization name/],
    [GITHUB_ENV.repo, 'acme/blog', /repository name alone/],
    [GITHUB_ENV.repo, '..', /must be a repository name/],
    [GITHUB_ENV.baseBranch, 'has space', /branch name/],
    [GITHUB_ENV.baseBranch, 'a..b', /branch name/],
    [GITHUB_ENV.apiUrl, 'api.github.com', /http or https URL/],
  ])('rejects %s=%j', (variable, value, message) => {
    const error = configError({ ...TOKEN_ENV, [variable]: value });

    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });

  test.each([
    [GITHUB_ENV.appId, 'my-app', /App ID or its client ID/],
    [GITHUB_ENV.installationId, 'abc', /numeric installation id/],
    [GITHUB_ENV.installationId, '0', /numeric installation id/],
    [GITHUB_ENV.appPrivateKey, 'not a key', /PEM text/],
    [
      GITHUB_ENV.appPrivateKey,
      '-----BEGIN RSA PRIVATE KEY-----\\nAAAA\\n-----END RSA PRIVATE KEY-----',
      /not a readable private key/,
    ],
  ])('rejects %s=%j', (variable, value, message) => {
    const error = configError({ ...APP_ENV, [variable]: value });

    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });

  test('rejects a key that is not RSA', () => {
    const { privateKey } = generateKeyPairSync('ed25519', {
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });

    const error = configError({ ...APP_ENV, [GITHUB_ENV.appPrivateKey]: privateKey });

    expect(error.variable).toBe(GITHUB_ENV.appPrivateKey);
    expect(error.message).toMatch(/ed25519 key; GitHub App keys are RSA keys/);
  });

  test('keeps the token out of its messages', () => {
    const error = configError({ ...TOKEN_ENV, [GITHUB_ENV.token]: 'token ghp_secret123' });

    expect(error.variable).toBe(GITHUB_ENV.token);
    expect(error.message).not.toContain('ghp_secret123');
  });
});
