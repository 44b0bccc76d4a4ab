// Reads the forge settings of the Worker from the MARGINALIA_GITHUB_* variables.
import { ConfigError } from '../config.ts';

export interface ForgeSettings {
  owner: string;
  repo: string;
  baseBranch: string;
  /** API root, without a trailing slash. */
  apiUrl: string;
  token: string;
}

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;

function required(env: Record<string, string | undefined>, name: string): string {
  const value = env[name]?.trim();
  if (value === undefined || value === '') throw new ConfigError(name, 'is missing');
  return value;
}

/** Reads and checks the forge settings, raising ConfigError for the first bad variable. */
export function parseForgeSettings(env: Record<string, string | undefined>): ForgeSettings {
  const owner = required(env, 'MARGINALIA_GITHUB_OWNER');
  if (!NAME_PATTERN.test(owner)) {
    throw new ConfigError('MARGINALIA_GITHUB_OWNER', 'must be a GitHub account name');
  }
  const repo = required(env, 'MARGINALIA_GITHUB_REPO');
  if (!NAME_PATTERN.test(repo)) {
    throw new ConfigError('MARGINALIA_GITHUB_REPO', 'must be a repository name');
  }
  const baseBranch = env['MARGINALIA_GITHUB_BASE_BRANCH']?.trim() || 'main';
  const apiUrl = (env['MARGINALIA_GITHUB_API_URL']?.trim() || DEFAULT_GITHUB_API_URL).replace(
    /\/+$/,
    '',
  );
  if (!URL.canParse(apiUrl) || !/^https?:$/.test(new URL(apiUrl).protocol)) {
    throw new ConfigError(
      'MARGINALIA_GITHUB_API_URL',
      `must be an http or https URL, such as ${DEFAULT_GITHUB_API_URL}`,
    );
  }
  const token = env['MARGINALIA_GITHUB_TOKEN']?.trim();
  if (token === undefined || token === '') {
    // NOTE: GitHub App credentials need a token exchange that createOctokit does not make yet,
    // so the Worker accepts a fine-grained token only.
    const appVariable = ['MARGINALIA_GITHUB_APP_ID', 'MARGINALIA_GITHUB_APP_PRIVATE_KEY'].find(
      (name) => (env[name]?.trim() ?? '') !== '',
    );
    throw new ConfigError(
      'MARGINALIA_GITHUB_TOKEN',
      appVariable === undefined
        ? 'is missing; set it with `wrangler secret put MARGINALIA_GITHUB_TOKEN`'
        : `is missing; the Worker does not support GitHub App credentials (${appVariable}) yet`,
    );
  }
  return { owner, repo, baseBranch, apiUrl, token };
}
