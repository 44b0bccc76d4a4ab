// The two settings that turn on Cloudflare Access sign-in for the staff routes. They are set
// together or not at all; parseConfig turns a problem into a ConfigError naming the variable.

export const ACCESS_ENV = {
  teamDomain: 'MARGINALIA_ACCESS_TEAM_DOMAIN',
  audience: 'MARGINALIA_ACCESS_AUD',
} as const;

export interface AccessConfig {
  /** The Zero Trust team domain as an origin: https://myteam.cloudflareaccess.com */
  teamDomain: string;
  /** The Access application's Audience (AUD) tag. */
  audience: string;
}

export type AccessConfigResult =
  { ok: true; access: AccessConfig | undefined } | { ok: false; variable: string; message: string };

const TEAM_DOMAIN_EXAMPLE = 'https://myteam.cloudflareaccess.com';
// NOTE: the format comes from the AUD tags in Cloudflare's documentation (64 lowercase hex
// characters), not from a published rule, so a differently shaped tag would be rejected here.
const AUD_TAG = /^[0-9a-f]{64}$/;

/**
 * Returns the team domain as an https origin. Accepts the bare host name or the https URL, with
 * or without a trailing slash; returns null for anything else.
 */
export function parseTeamDomain(text: string): string | null {
  const candidate = /^[a-z][a-z0-9+.-]*:/i.test(text) ? text : `https://${text}`;
  if (!URL.canParse(candidate)) return null;
  const url = new URL(candidate);
  const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '';
  if (url.protocol !== 'https:' || !bare || url.hostname === '') return null;
  return url.origin;
}

function setting(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

/** Reads MARGINALIA_ACCESS_TEAM_DOMAIN and MARGINALIA_ACCESS_AUD; both or neither must be set. */
export function accessConfigFrom(env: Record<string, string | undefined>): AccessConfigResult {
  const teamDomain = setting(env, ACCESS_ENV.teamDomain);
  const audience = setting(env, ACCESS_ENV.audience);
  if (teamDomain === undefined && audience === undefined) return { ok: true, access: undefined };
  if (teamDomain === undefined) {
    return {
      ok: false,
      variable: ACCESS_ENV.teamDomain,
      message:
        `is missing; with ${ACCESS_ENV.audience} set, set it to the Zero Trust team domain, ` +
        `such as ${TEAM_DOMAIN_EXAMPLE}, or unset both`,
    };
  }
  if (audience === undefined) {
    return {
      ok: false,
      variable: ACCESS_ENV.audience,
      message:
        `is missing; with ${ACCESS_ENV.teamDomain} set, set it to the Access application's ` +
        'Audience (AUD) tag, or unset both',
    };
  }
  const origin = parseTeamDomain(teamDomain);
  if (origin === null) {
    return {
      ok: false,
      variable: ACCESS_ENV.teamDomain,
      message: `must be an https team domain without a path, such as ${TEAM_DOMAIN_EXAMPLE}`,
    };
  }
  if (!AUD_TAG.test(audience)) {
    return {
      ok: false,
      variable: ACCESS_ENV.audience,
      message:
        "must be the Access application's Audience (AUD) tag: 64 lowercase hexadecimal " +
        'characters, shown on the application in the Zero Trust dashboard',
    };
  }
  return { ok: true, access: { teamDomain: origin, audience } };
}
