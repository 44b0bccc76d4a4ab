import { DEFAULT_MONITOR_SETTINGS } from '../../api/monitor/settings.ts';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV, parseConfig } from '../../api/config.ts';

const ENVIRONMENT = {
  [ENV.publicSiteUrl]: 'http://127.0.0.1:4321/',
  [ENV.internalSiteUrl]: 'http://127.0.0.1:4322',
  [ENV.apiPublicUrl]: 'http://127.0.0.1:8787',
  [ENV.staffToken]: 'a'.repeat(32),
  [ENV.webhookSecret]: 'b'.repeat(32),
};

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('parseConfig accepted the environment');
}

describe('parseConfig', () => {
  it('reads every setting and drops a trailing slash', () => {
    expect(parseConfig(ENVIRONMENT)).toEqual({
      publicSiteUrl: 'http://127.0.0.1:4321',
      internalSiteUrl: 'http://127.0.0.1:4322',
      apiPublicUrl: 'http://127.0.0.1:8787',
      staffToken: 'a'.repeat(32),
      webhookSecret: 'b'.repeat(32),
      monitor: DEFAULT_MONITOR_SETTINGS,
    });
  });

  it.each(Object.values(ENV))('names %s when it is missing', (variable) => {
    const error = configError({ ...ENVIRONMENT, [variable]: undefined });
    expect(error.variable).toBe(variable);
    expect(error.message).toBe(`${variable} is missing`);
  });

  it.each(Object.values(ENV))('names %s when its key is absent', (variable) => {
    const environment: Record<string, string | undefined> = { ...ENVIRONMENT };
    delete environment[variable];
    const error = configError(environment);
    expect(error.variable).toBe(variable);
    expect(error.message).toBe(`${variable} is missing`);
  });

  it('names the first variable of an empty environment', () => {
    expect(configError({}).message).toBe(`${ENV.publicSiteUrl} is missing`);
  });

  it.each([
    [ENV.publicSiteUrl, 'not a url', /http or https URL/],
    [ENV.apiPublicUrl, 'ftp://127.0.0.1', /http or https URL/],
    [ENV.staffToken, 'short', /at least 16 characters/],
    [ENV.webhookSecret, '', /is missing/],
  ])('rejects %s=%j', (variable, value, message) => {
    const error = configError({ ...ENVIRONMENT, [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });

  it('keeps secrets out of its messages', () => {
    const error = configError({ ...ENVIRONMENT, [ENV.staffToken]: 'hunter2' });
    expect(error.message).not.toContain('hunter2');
  });
});
