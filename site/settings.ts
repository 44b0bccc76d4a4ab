// Build settings for one site variant, read from the environment by astro.config.mjs and handed
// to pages and the content loader at build time.
import path from 'node:path';

export const SITE_VARIANTS = ['public', 'internal'] as const;
export type SiteVariant = (typeof SITE_VARIANTS)[number];

export interface SiteSettings {
  variant: SiteVariant;
  /** Absolute path of the folder that contains posts/ and comments/. */
  contentDir: string;
  /** Absolute path the build writes to. */
  outDir: string;
  /** Absolute path of Astro's cache for this build, or null for one derived from outDir. */
  cacheDir: string | null;
  /** Origin of the comment API, without a trailing slash; forms post to it. */
  apiUrl: string;
  publicSiteUrl: string;
  internalSiteUrl: string;
  /** This variant's own origin: publicSiteUrl or internalSiteUrl. */
  siteUrl: string;
  /** Cloudflare Turnstile site key; the form shows the widget only when it is set. */
  turnstileSiteKey: string | null;
}

export type Environment = Readonly<Record<string, string | undefined>>;

const DEFAULTS = {
  PUBLIC_API_URL: 'http://127.0.0.1:8787',
  PUBLIC_SITE_URL: 'http://127.0.0.1:4321',
  INTERNAL_SITE_URL: 'http://127.0.0.1:4322',
} as const;

function isSiteVariant(value: string): value is SiteVariant {
  return SITE_VARIANTS.some((variant) => variant === value);
}

function readUrl(env: Environment, name: keyof typeof DEFAULTS): string {
  const value = env[name] || DEFAULTS[name];
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    throw new Error(
      `${name} must be an http or https URL such as ${DEFAULTS[name]}, got "${value}". ` +
        'Set it to the address readers use, or unset it for the default.',
    );
  }
  return value.replace(/\/+$/, '');
}

function readTurnstileSiteKey(env: Environment): string | null {
  const value = env.PUBLIC_TURNSTILE_SITEKEY;
  if (value === undefined || value === '') return null;
  if (!/^[0-9A-Za-z_-]{1,100}$/.test(value)) {
    throw new Error(
      `PUBLIC_TURNSTILE_SITEKEY must be a Turnstile site key such as 0x4AAAAAAA…, got "${value}". ` +
        'Copy it from the Turnstile widget settings, or unset it to build without the widget.',
    );
  }
  return value;
}

/**
 * Reads the variant, folders and URLs of one build from environment variables, applying the local
 * defaults. Throws, naming the variable, when a value is invalid.
 */
export function readSiteSettings(env: Environment, cwd: string): SiteSettings {
  const variant = env.SITE_VARIANT ?? '';
  if (!isSiteVariant(variant)) {
    throw new Error(
      `SITE_VARIANT must be "public" or "internal", got "${variant}". ` +
        'Run the build with SITE_VARIANT=public or SITE_VARIANT=internal.',
    );
  }
  const apiUrl = readUrl(env, 'PUBLIC_API_URL');
  const publicSiteUrl = readUrl(env, 'PUBLIC_SITE_URL');
  const internalSiteUrl = readUrl(env, 'INTERNAL_SITE_URL');
  return {
    variant,
    contentDir: path.resolve(cwd, env.MARGINALIA_CONTENT_DIR || 'content'),
    outDir: path.resolve(cwd, env.MARGINALIA_OUT_DIR || path.join('dist', variant)),
    cacheDir: env.MARGINALIA_CACHE_DIR ? path.resolve(cwd, env.MARGINALIA_CACHE_DIR) : null,
    apiUrl,
    publicSiteUrl,
    internalSiteUrl,
    siteUrl: variant === 'public' ? publicSiteUrl : internalSiteUrl,
    turnstileSiteKey: readTurnstileSiteKey(env),
  };
}
