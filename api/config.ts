// The API's settings, read from an environment object (process.env on Node, the bindings on
// Workers) by whoever starts the API. Any missing or invalid variable stops startup with its name.
import * as v from 'valibot';

export const ENV = {
  publicSiteUrl: 'MARGINALIA_PUBLIC_SITE_URL',
  internalSiteUrl: 'MARGINALIA_INTERNAL_SITE_URL',
  apiPublicUrl: 'MARGINALIA_API_PUBLIC_URL',
  staffToken: 'MARGINALIA_STAFF_TOKEN',
  webhookSecret: 'MARGINALIA_WEBHOOK_SECRET',
} as const;

/** The shortest staff token or webhook secret accepted: 16 characters. */
export const MIN_SECRET_LENGTH = 16;

export interface ApiConfig {
  /** Base URL of the public site, without a trailing slash: https://blog.example.com */
  publicSiteUrl: string;
  /** Base URL of the internal site, without a trailing slash. */
  internalSiteUrl: string;
  /** Base URL at which browsers reach this API, without a trailing slash. */
  apiPublicUrl: string;
  staffToken: string;
  /** Key of the HMAC-SHA256 signature on forge webhooks (X-Hub-Signature-256). */
  webhookSecret: string;
}

/** Raised when a setting is missing or invalid; `variable` names the environment variable. */
export class ConfigError extends Error {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`${variable} ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

const missing = (issue: v.BaseIssue<unknown>): string =>
  issue.received === 'undefined' ? 'is missing' : 'must be text';

function baseUrl(example: string) {
  return v.pipe(
    v.string(missing),
    v.trim(),
    v.nonEmpty('is missing'),
    v.check(
      (value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol),
      `must be an http or https URL, such as ${example}`,
    ),
    v.transform((value) => value.replace(/\/+$/, '')),
  );
}

const secret = v.pipe(
  v.string(missing),
  v.nonEmpty('is missing'),
  v.minLength(
    MIN_SECRET_LENGTH,
    `must be at least ${MIN_SECRET_LENGTH} characters; generate one with \`openssl rand -hex 32\``,
  ),
);

const EnvSchema = v.object({
  [ENV.publicSiteUrl]: baseUrl('https://blog.example.com'),
  [ENV.internalSiteUrl]: baseUrl('https://internal.example.com'),
  [ENV.apiPublicUrl]: baseUrl('https://comments.example.com'),
  [ENV.staffToken]: secret,
  [ENV.webhookSecret]: secret,
});

/** Reads the API's settings from `env`, raising ConfigError for the first bad variable. */
export function parseConfig(env: Record<string, string | undefined>): ApiConfig {
  const result = v.safeParse(EnvSchema, env);
  if (!result.success) {
    const issue = result.issues[0];
    throw new ConfigError(v.getDotPath(issue) ?? '(environment)', issue.message);
  }
  const values = result.output;
  return {
    publicSiteUrl: values[ENV.publicSiteUrl],
    internalSiteUrl: values[ENV.internalSiteUrl],
    apiPublicUrl: values[ENV.apiPublicUrl],
    staffToken: values[ENV.staffToken],
    webhookSecret: values[ENV.webhookSecret],
  };
}
