// The Worker's forge settings, and its response when a variable is missing.
import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';
import { ConfigError } from '../../api/config.ts';
import type { WorkerEnv } from '../../api/workers/env.ts';
import { parseGitHubConfig } from '../../api/forge/github-config.ts';
import { createRuntime } from '../../api/workers/runtime.ts';
import worker from '../../api/workers/index.ts';

const bindings = env as WorkerEnv;

const FORGE = {
  MARGINALIA_GITHUB_OWNER: 'marginalia',
  MARGINALIA_GITHUB_REPO: 'blog',
  MARGINALIA_GITHUB_TOKEN: 'token-value',
};

function configError(variables: Record<string, string | undefined>): ConfigError {
  try {
    parseGitHubConfig(variables);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('parseGitHubConfig accepted the settings');
}

/** Returns the Worker's bindings with GitHub App credentials in place of the token. */
function appBindings(): WorkerEnv {
  const withApp: Record<string, unknown> = {
    ...bindings,
    MARGINALIA_GITHUB_APP_ID: String(inject('appId')),
    MARGINALIA_GITHUB_INSTALLATION_ID: String(inject('appInstallationId')),
    // As a secret set from an env file: one line with literal \n sequences.
    MARGINALIA_GITHUB_APP_PRIVATE_KEY: inject('appPrivateKey').trim().replaceAll('\n', '\\n'),
  };
  delete withApp['MARGINALIA_GITHUB_TOKEN'];
  return withApp as unknown as WorkerEnv;
}

describe('forge settings', () => {
  it('fills in the defaults', () => {
    expect(parseGitHubConfig(FORGE)).toEqual({
      owner: 'marginalia',
      repo: 'blog',
      baseBranch: 'main',
      apiUrl: 'https://api.github.com',
      auth: { kind: 'token', token: 'token-value' },
    });
  });

  it('trims a trailing slash from the API URL', () => {
    const settings = parseGitHubConfig({
      ...FORGE,
      MARGINALIA_GITHUB_API_URL: 'http://127.0.0.1:4010/',
    });
    expect(settings.apiUrl).toBe('http://127.0.0.1:4010');
  });

  it('names a missing owner', () => {
    expect(configError({ ...FORGE, MARGINALIA_GITHUB_OWNER: undefined }).variable).toBe(
      'MARGINALIA_GITHUB_OWNER',
    );
  });

  it('rejects an API URL that is not http', () => {
    const error = configError({ ...FORGE, MARGINALIA_GITHUB_API_URL: 'ftp://example.com' });
    expect(error.variable).toBe('MARGINALIA_GITHUB_API_URL');
  });

  it('reads an App private key inside workerd', () => {
    const settings = parseGitHubConfig(appBindings() as unknown as Record<string, string>);
    expect(settings.auth.kind).toBe('app');
  });
});

describe('GitHub App credentials', () => {
  it('pass the forge access check through installation tokens', async () => {
    const runtime = createRuntime(appBindings());
    const report = await runtime.forge.checkAccess();
    expect(report.checks.map((check) => [check.name, check.ok])).toEqual([
      ['credentials', true],
      ['repository', true],
      ['base branch', true],
      ['permissions', true],
    ]);
  });
});

describe('fetch handler', () => {
  it('returns 500 when a variable is missing', async () => {
    const partial = { DB: bindings.DB, DELIVERY_QUEUE: bindings.DELIVERY_QUEUE } as WorkerEnv;
    const response = await worker.fetch(
      new Request('http://127.0.0.1:8787/api/health'),
      partial,
      createExecutionContext(),
    );
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toBe('internal_error');
  });
});
