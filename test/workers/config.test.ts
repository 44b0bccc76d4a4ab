// The Worker's forge settings, and its response when a variable is missing.
import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../api/config.ts';
import type { WorkerEnv } from '../../api/workers/env.ts';
import { parseForgeSettings } from '../../api/workers/forge-config.ts';
import worker from '../../api/workers/index.ts';

const bindings = env as WorkerEnv;

const FORGE = {
  MARGINALIA_GITHUB_OWNER: 'marginalia',
  MARGINALIA_GITHUB_REPO: 'blog',
  MARGINALIA_GITHUB_TOKEN: 'token-value',
};

function configError(variables: Record<string, string | undefined>): ConfigError {
  try {
    parseForgeSettings(variables);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('parseForgeSettings accepted the settings');
}

describe('forge settings', () => {
  it('fills in the defaults', () => {
    expect(parseForgeSettings(FORGE)).toEqual({
      owner: 'marginalia',
      repo: 'blog',
      baseBranch: 'main',
      apiUrl: 'https://api.github.com',
      token: 'token-value',
    });
  });

  it('trims a trailing slash from the API URL', () => {
    const settings = parseForgeSettings({
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

  it('names the token when only App credentials are set', () => {
    const error = configError({
      ...FORGE,
      MARGINALIA_GITHUB_TOKEN: undefined,
      MARGINALIA_GITHUB_APP_ID: '12345',
    });
    expect(error.variable).toBe('MARGINALIA_GITHUB_TOKEN');
    expect(error.message).toContain('MARGINALIA_GITHUB_APP_ID');
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
