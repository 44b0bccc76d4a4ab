// The API's settings, read from an environment object: process.env on Node, the bindings on
// Workers. Any missing or invalid variable stops startup with its name.
import * as v from 'valibot';
import { DEFAULT_RATE_LIMITS, type RateLimitSettings } from './abuse/rate-limit.ts';
import { CLOUDFLARE_SITEVERIFY_URL, type TurnstileConfig } from './abuse/turnstile.ts';
import { accessConfigFrom, type AccessConfig } from './auth/access-config.ts';
import { monitorSettingsFrom, type MonitorSettings } from './monitor/settings.ts';
import { emailSettingsFrom } from './privacy/settings.ts';

export const ENV = {
  publicSiteUrl: 'MARGINALIA_PUBLIC_SITE_URL',
  internalSiteUrl: 'MARGINALIA_INTERNAL_SITE_URL',
  apiPublicUrl: 'MARGINALIA_API_PUBLIC_URL',
  staffToken: 'MARGINALIA_STAFF_TOKEN',
  webhookSecret: 'MARGINALIA_WEBHOOK_SECRET',
} as const;

/** Settings that may be left unset. */
export const OPTIONAL_ENV = {
  rateLimitAddressPerMinute: 'MARGINALIA_RATE_LIMIT_ADDRESS_PER_MINUTE',
  rateLimitAddressPerHour: 'MARGINALIA_RATE_LIMIT_ADDRESS_PER_HOUR',
  rateLimitPostPerHour: 'MARGINALIA_RATE_LIMIT_POST_PER_HOUR',
  clientAddressHeader: 'MARGINALIA_CLIENT_ADDRESS_HEADER',
  turnstileSecret: 'MARGINALIA_TURNSTILE_SECRET',
  turnstileSiteverifyUrl: 'MARGINALIA_TURNSTILE_SITEVERIFY_URL',
  turnstileAction: 'MARGINALIA_TURNSTILE_ACTION',
  maxDeliveryAttempts: 'MARGINALIA_MAX_DELIVERY_ATTEMPTS',
} as const;

/** The action name expected from the Turnstile widget when MARGINALIA_TURNSTILE_ACTION is unset. */
export const DEFAULT_TURNSTILE_ACTION = 'comment';
/** Largest value of a rate limit setting; 0 turns that limit off. */
export const MAX_RATE_LIMIT = 1_000_000;

/** Largest value of MARGINALIA_MAX_DELIVERY_ATTEMPTS. */
export const MAX_DELIVERY_ATTEMPTS_LIMIT = 10_000;

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
  /** Sliding-window limits on submissions; DEFAULT_RATE_LIMITS when absent. */
  rateLimits?: RateLimitSettings;
  /**
   * Lowercase name of the header that a trusted reverse proxy sets to the client's address,
   * such as cf-connecting-ip or x-forwarded-for. When absent, the TCP peer's address is used.
   */
  clientAddressHeader?: string;
  /** Cloudflare Turnstile verification of every submission; skipped when absent. */
  turnstile?: TurnstileConfig;
  /**
   * Cloudflare Access sign-in for the staff routes, from MARGINALIA_ACCESS_TEAM_DOMAIN and
   * MARGINALIA_ACCESS_AUD; only the staff token is accepted when absent.
   */
  access?: AccessConfig;
  /**
   * AES-256 key for the email addresses readers give, from MARGINALIA_EMAIL_KEY. When absent, no
   * address is kept at all.
   */
  emailKey?: Uint8Array<ArrayBuffer>;
  /** Days a stored address is kept, from MARGINALIA_EMAIL_RETENTION_DAYS; 90 when absent. */
  emailRetentionDays?: number;
  /**
   * Failed delivery attempts after which a comment becomes a dead letter, from
   * MARGINALIA_MAX_DELIVERY_ATTEMPTS; the worker's default (12) when absent.
   */
  maxDeliveryAttempts?: number;
  /** Canary, alerts and health thresholds (MARGINALIA_CANARY_*, _ALERT_*, ...); defaults when absent. */
  monitor?: MonitorSettings;
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

const rateLimit = v.optional(
  v.pipe(
    v.string('must be text'),
    v.trim(),
    v.regex(/^\d{1,7}$/, `must be a whole number from 0 (no limit) to ${MAX_RATE_LIMIT}`),
    v.transform(Number),
    v.maxValue(MAX_RATE_LIMIT, `must be a whole number from 0 (no limit) to ${MAX_RATE_LIMIT}`),
  ),
);

const RequiredEnvSchema = v.object({
  [ENV.publicSiteUrl]: baseUrl('https://blog.example.com'),
  [ENV.internalSiteUrl]: baseUrl('https://internal.example.com'),
  [ENV.apiPublicUrl]: baseUrl('https://comments.example.com'),
  [ENV.staffToken]: secret,
  [ENV.webhookSecret]: secret,
});

const OptionalEnvSchema = v.object({
  [OPTIONAL_ENV.rateLimitAddressPerMinute]: rateLimit,
  [OPTIONAL_ENV.rateLimitAddressPerHour]: rateLimit,
  [OPTIONAL_ENV.rateLimitPostPerHour]: rateLimit,
  [OPTIONAL_ENV.clientAddressHeader]: v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.regex(/^[A-Za-z0-9-]*$/, 'must be one HTTP header name, such as cf-connecting-ip'),
    ),
  ),
  [OPTIONAL_ENV.turnstileSecret]: v.optional(v.pipe(v.string('must be text'), v.trim())),
  [OPTIONAL_ENV.turnstileSiteverifyUrl]: v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.check(
        (value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol),
        `must be an http or https URL, such as ${CLOUDFLARE_SITEVERIFY_URL}`,
      ),
    ),
  ),
  [OPTIONAL_ENV.turnstileAction]: v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1 to 32 letters, digits, underscores or hyphens'),
    ),
  ),
  [OPTIONAL_ENV.maxDeliveryAttempts]: v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.regex(/^\d{1,5}$/, `must be a whole number from 1 to ${MAX_DELIVERY_ATTEMPTS_LIMIT}`),
      v.transform(Number),
      v.minValue(1, `must be a whole number from 1 to ${MAX_DELIVERY_ATTEMPTS_LIMIT}`),
      v.maxValue(
        MAX_DELIVERY_ATTEMPTS_LIMIT,
        `must be a whole number from 1 to ${MAX_DELIVERY_ATTEMPTS_LIMIT}`,
      ),
    ),
  ),
});

type Env = v.InferOutput<typeof OptionalEnvSchema>;

function rateLimitsFrom(values: Env): RateLimitSettings | undefined {
  const perMinute = values[OPTIONAL_ENV.rateLimitAddressPerMinute];
  const perHour = values[OPTIONAL_ENV.rateLimitAddressPerHour];
  const postPerHour = values[OPTIONAL_ENV.rateLimitPostPerHour];
  if (perMinute === undefined && perHour === undefined && postPerHour === undefined) return;
  return {
    addressPerMinute: perMinute ?? DEFAULT_RATE_LIMITS.addressPerMinute,
    addressPerHour: perHour ?? DEFAULT_RATE_LIMITS.addressPerHour,
    postPerHour: postPerHour ?? DEFAULT_RATE_LIMITS.postPerHour,
  };
}

/**
 * Reads the Turnstile settings. The siteverify URL has no default, so that no configuration
 * sends tokens anywhere the operator did not name.
 */
function turnstileFrom(values: Env): TurnstileConfig | undefined {
  const secretKey = values[OPTIONAL_ENV.turnstileSecret];
  if (secretKey === undefined || secretKey === '') {
    for (const name of [
      OPTIONAL_ENV.turnstileSiteverifyUrl,
      OPTIONAL_ENV.turnstileAction,
    ] as const) {
      if (values[name] !== undefined) {
        throw new ConfigError(
          name,
          `is set, but ${OPTIONAL_ENV.turnstileSecret} is not; set both or neither`,
        );
      }
    }
    return;
  }
  const siteverifyUrl = values[OPTIONAL_ENV.turnstileSiteverifyUrl];
  if (siteverifyUrl === undefined || siteverifyUrl === '') {
    throw new ConfigError(
      OPTIONAL_ENV.turnstileSiteverifyUrl,
      `is missing; with ${OPTIONAL_ENV.turnstileSecret} set, set it to Cloudflare's endpoint ` +
        `${CLOUDFLARE_SITEVERIFY_URL}`,
    );
  }
  return {
    secret: secretKey,
    siteverifyUrl,
    action: values[OPTIONAL_ENV.turnstileAction] ?? DEFAULT_TURNSTILE_ACTION,
  };
}

/** The settings that may be left unset: every field of ApiConfig but the five required ones. */
export type OptionalSettings = Omit<ApiConfig, keyof typeof ENV_FIELDS>;

const ENV_FIELDS = {
  publicSiteUrl: ENV.publicSiteUrl,
  internalSiteUrl: ENV.internalSiteUrl,
  apiPublicUrl: ENV.apiPublicUrl,
  staffToken: ENV.staffToken,
  webhookSecret: ENV.webhookSecret,
} as const;

/** Parses the variables `schema` names from `env`, raising ConfigError for the first bad one. */
export function parseEnvironment<T extends v.GenericSchema>(
  schema: T,
  env: Record<string, string | undefined>,
): v.InferOutput<T> {
  // An absent variable is passed as undefined, so that valibot reports it with the schema's own
  // "is missing" message rather than as an unknown object key.
  const entries = 'entries' in schema ? Object.keys(schema.entries as object) : [];
  const input = Object.fromEntries(entries.map((name) => [name, env[name]]));
  const result = v.safeParse(schema, { ...env, ...input });
  if (result.success) return result.output;
  const issue = result.issues[0];
  throw new ConfigError(v.getDotPath(issue) ?? '(environment)', issue.message);
}

/**
 * Reads the optional settings from `env`, raising ConfigError for the first bad variable. The
 * local stack uses it alone, because it makes the required ones itself.
 */
export function parseOptionalSettings(env: Record<string, string | undefined>): OptionalSettings {
  const values = parseEnvironment(OptionalEnvSchema, env);
  const settings: OptionalSettings = {};
  const rateLimits = rateLimitsFrom(values);
  if (rateLimits !== undefined) settings.rateLimits = rateLimits;
  const header = values[OPTIONAL_ENV.clientAddressHeader];
  if (header !== undefined && header !== '') settings.clientAddressHeader = header.toLowerCase();
  const turnstile = turnstileFrom(values);
  if (turnstile !== undefined) settings.turnstile = turnstile;
  const accessResult = accessConfigFrom(env);
  if (!accessResult.ok) throw new ConfigError(accessResult.variable, accessResult.message);
  if (accessResult.access !== undefined) settings.access = accessResult.access;
  const emailResult = emailSettingsFrom(env);
  if (!emailResult.ok) throw new ConfigError(emailResult.variable, emailResult.message);
  const { key, retentionDays } = emailResult.settings;
  if (key !== undefined) settings.emailKey = key;
  if (retentionDays !== undefined) settings.emailRetentionDays = retentionDays;
  const maxDeliveryAttempts = values[OPTIONAL_ENV.maxDeliveryAttempts];
  if (maxDeliveryAttempts !== undefined) settings.maxDeliveryAttempts = maxDeliveryAttempts;
  const monitorResult = monitorSettingsFrom(env);
  if (!monitorResult.ok) throw new ConfigError(monitorResult.variable, monitorResult.message);
  settings.monitor = monitorResult.settings;
  return settings;
}

/** Reads the API's settings from `env`, raising ConfigError for the first bad variable. */
export function parseConfig(env: Record<string, string | undefined>): ApiConfig {
  const values = parseEnvironment(RequiredEnvSchema, env);
  return {
    publicSiteUrl: values[ENV.publicSiteUrl],
    internalSiteUrl: values[ENV.internalSiteUrl],
    apiPublicUrl: values[ENV.apiPublicUrl],
    staffToken: values[ENV.staffToken],
    webhookSecret: values[ENV.webhookSecret],
    ...parseOptionalSettings(env),
  };
}
