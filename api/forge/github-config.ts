// The GitHub forge's settings, read from the environment, and the ForgeClient built from them.
// Authentication is either a fine-grained token or a GitHub App installation, never both.

import { createPrivateKey } from 'node:crypto';
import * as v from 'valibot';
import { ConfigError, parseEnvironment } from '../config.ts';
import {
  createGitHubForge,
  createOctokit,
  type GitHubAppCredentials,
  type GitHubForgeOptions,
  type OctokitOptions,
} from './github.ts';
import type { ForgeClient, ForgeLogger } from './types.ts';

export const GITHUB_ENV = {
  owner: 'MARGINALIA_GITHUB_OWNER',
  repo: 'MARGINALIA_GITHUB_REPO',
  baseBranch: 'MARGINALIA_GITHUB_BASE_BRANCH',
  apiUrl: 'MARGINALIA_GITHUB_API_URL',
  token: 'MARGINALIA_GITHUB_TOKEN',
  appId: 'MARGINALIA_GITHUB_APP_ID',
  appPrivateKey: 'MARGINALIA_GITHUB_APP_PRIVATE_KEY',
  installationId: 'MARGINALIA_GITHUB_INSTALLATION_ID',
} as const;

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
export const DEFAULT_GITHUB_BASE_BRANCH = 'main';

/** Author and committer of every comment commit, so that no commit names a reader. */
export const DEFAULT_COMMITTER = { name: 'Marginalia', email: 'marginalia@noreply.invalid' };

export type GitHubAuthConfig =
  { kind: 'token'; token: string } | ({ kind: 'app' } & GitHubAppCredentials);

export interface GitHubConfig {
  owner: string;
  repo: string;
  baseBranch: string;
  /** API root without a trailing slash, such as https://api.github.com. */
  apiUrl: string;
  auth: GitHubAuthConfig;
}

const missing = (issue: v.BaseIssue<unknown>): string =>
  issue.received === 'undefined' ? 'is missing' : 'must be text';

const optionalText = v.optional(v.pipe(v.string('must be text'), v.trim()));

const EnvSchema = v.object({
  [GITHUB_ENV.owner]: v.pipe(
    v.string(missing),
    v.trim(),
    v.nonEmpty('is missing'),
    v.regex(
      /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/,
      'must be a GitHub user or organization name: letters, digits and hyphens, such as acme',
    ),
  ),
  [GITHUB_ENV.repo]: v.pipe(
    v.string(missing),
    v.trim(),
    v.nonEmpty('is missing'),
    v.check(
      (value) => !value.includes('/'),
      `must be the repository name alone; put the owner in ${GITHUB_ENV.owner}`,
    ),
    v.regex(
      /^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/,
      'must be a repository name: letters, digits, ".", "_" and "-", such as blog',
    ),
  ),
  [GITHUB_ENV.baseBranch]: v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.check(
        (value) =>
          value === '' ||
          (!/[\s~^:?*[\\]|\.\.|@\{|\/\/|^[/-]|\/$|\.lock$|\.$/.test(value) &&
            /^[\x21-\x7e\u0080-\uffff]+$/.test(value)),
        'must be a branch name, such as main',
      ),
    ),
  ),
  [GITHUB_ENV.apiUrl]: v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.check(
        (value) =>
          value === '' || (URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)),
        `must be an http or https URL, such as ${DEFAULT_GITHUB_API_URL}`,
      ),
    ),
  ),
  [GITHUB_ENV.token]: optionalText,
  [GITHUB_ENV.appId]: optionalText,
  [GITHUB_ENV.appPrivateKey]: v.optional(v.string('must be text')),
  [GITHUB_ENV.installationId]: optionalText,
});

type Env = v.InferOutput<typeof EnvSchema>;

const APP_VARIABLES = [
  GITHUB_ENV.appId,
  GITHUB_ENV.appPrivateKey,
  GITHUB_ENV.installationId,
] as const;

/** True for a set variable; an empty value, as an env file's `NAME=` gives, counts as unset. */
function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

function parseToken(token: string): GitHubAuthConfig {
  if (/\s/.test(token)) {
    throw new ConfigError(
      GITHUB_ENV.token,
      'must be the token alone, without spaces or a "token"/"Bearer" prefix',
    );
  }
  return { kind: 'token', token };
}

/**
 * Reads the App's private key. Env files often hold it on one line with literal \n sequences, so
 * both those and real line breaks are accepted. The key is returned as PKCS#8 PEM, the form the
 * JWT signer takes on every runtime; GitHub hands out PKCS#1.
 */
function parsePrivateKey(raw: string): string {
  const variable = GITHUB_ENV.appPrivateKey;
  const text = raw
    .replace(/\\r\\n|\\n/g, '\n')
    .replace(/\r\n/g, '\n')
    .trim();
  if (!text.startsWith('-----BEGIN')) {
    throw new ConfigError(
      variable,
      'must be the PEM text of the App\'s private key, starting with "-----BEGIN RSA PRIVATE KEY-----"; ' +
        'paste the whole downloaded .pem file, with line breaks or \\n between its lines',
    );
  }
  let key;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new ConfigError(
      variable,
      'is not a readable private key; paste the whole .pem file from the App settings, with every line',
    );
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ConfigError(
      variable,
      `is a ${key.asymmetricKeyType ?? 'unknown'} key; GitHub App keys are RSA keys`,
    );
  }
  return String(key.export({ type: 'pkcs8', format: 'pem' }));
}

function parseAppId(value: string): number | string {
  if (/^\d{1,12}$/.test(value)) return Number(value);
  // GitHub also accepts the App's client ID, such as Iv23liABCDEF123456, as the JWT issuer.
  if (/^Iv[0-9A-Za-z.]{4,40}$/.test(value)) return value;
  throw new ConfigError(
    GITHUB_ENV.appId,
    "must be the App's numeric App ID or its client ID (Iv…), from the App's settings page",
  );
}

function parseInstallationId(value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) === 0) {
    throw new ConfigError(
      GITHUB_ENV.installationId,
      'must be the numeric installation id, the number at the end of the installation settings URL',
    );
  }
  return Number(value);
}

/** Picks token or App auth: exactly one of the token and the three App variables must be set. */
function authFrom(values: Env): GitHubAuthConfig {
  const token = values[GITHUB_ENV.token];
  const appValues = APP_VARIABLES.map((name) => ({ name, value: values[name] }));
  const appSet = appValues.filter((entry) => isSet(entry.value));
  if (isSet(token)) {
    const first = appSet[0];
    if (first !== undefined) {
      throw new ConfigError(
        first.name,
        `is set together with ${GITHUB_ENV.token}; use either the token or the three App variables (${APP_VARIABLES.join(', ')}), not both`,
      );
    }
    return parseToken(token);
  }
  if (appSet.length === 0) {
    throw new ConfigError(
      GITHUB_ENV.token,
      `is missing; set it to a fine-grained token, or set ${APP_VARIABLES.join(', ')} for a GitHub App`,
    );
  }
  const absent = appValues.find((entry) => !isSet(entry.value));
  if (absent !== undefined) {
    throw new ConfigError(
      absent.name,
      `is missing; a GitHub App needs all of ${APP_VARIABLES.join(', ')}`,
    );
  }
  return {
    kind: 'app',
    appId: parseAppId(values[GITHUB_ENV.appId] ?? ''),
    privateKey: parsePrivateKey(values[GITHUB_ENV.appPrivateKey] ?? ''),
    installationId: parseInstallationId(values[GITHUB_ENV.installationId] ?? ''),
  };
}

/** Reads the GitHub settings from `env`, raising ConfigError that names the first bad variable. */
export function parseGitHubConfig(env: Record<string, string | undefined>): GitHubConfig {
  const values = parseEnvironment(EnvSchema, env);
  const apiUrl = values[GITHUB_ENV.apiUrl];
  const baseBranch = values[GITHUB_ENV.baseBranch];
  return {
    owner: values[GITHUB_ENV.owner],
    repo: values[GITHUB_ENV.repo],
    baseBranch: isSet(baseBranch) ? baseBranch : DEFAULT_GITHUB_BASE_BRANCH,
    apiUrl: (isSet(apiUrl) ? apiUrl : DEFAULT_GITHUB_API_URL).replace(/\/+$/, ''),
    auth: authFrom(values),
  };
}

export interface ForgeFromConfigOptions {
  logger: ForgeLogger;
  /** Replaces the global fetch, for tests that record or alter traffic. */
  fetch?: typeof fetch;
  /** Octokit settings such as write spacing and retry waits; GitHub's defaults when omitted. */
  octokit?: Partial<Omit<OctokitOptions, 'baseUrl' | 'token' | 'app' | 'fetch' | 'logger'>>;
  /** Client settings; the committer defaults to DEFAULT_COMMITTER. */
  client?: Partial<Omit<GitHubForgeOptions, 'octokit' | 'owner' | 'repo' | 'baseBranch'>>;
}

/** Builds the GitHub ForgeClient for a parsed configuration. */
export function createForgeFromConfig(
  config: GitHubConfig,
  options: ForgeFromConfigOptions,
): ForgeClient {
  const { auth } = config;
  const octokit = createOctokit({
    baseUrl: config.apiUrl,
    ...(auth.kind === 'token'
      ? { token: auth.token }
      : {
          app: {
            appId: auth.appId,
            privateKey: auth.privateKey,
            installationId: auth.installationId,
          },
        }),
    logger: options.logger,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...options.octokit,
  });
  return createGitHubForge({
    octokit,
    owner: config.owner,
    repo: config.repo,
    baseBranch: config.baseBranch,
    committer: DEFAULT_COMMITTER,
    logger: options.logger,
    ...options.client,
  });
}
