// The security headers of both sites, in one place: the local static server sends them, and every
// build writes them to `_headers`, which Cloudflare Pages reads from the output folder.

/** Origin of the Turnstile script and its challenge frame. */
export const TURNSTILE_ORIGIN = 'https://challenges.cloudflare.com';

export interface SecurityHeaderOptions {
  /** Origin of the comment API: forms post to it and the review page fetches from it. */
  apiOrigin: string;
  /** Allows the Turnstile script and frame, for sites that render the widget. */
  turnstile: boolean;
}

/** Returns the site's headers, with lowercase names. */
export function securityHeaders(options: SecurityHeaderOptions): Record<string, string> {
  const turnstile = options.turnstile ? ` ${TURNSTILE_ORIGIN}` : '';
  const policy = [
    "default-src 'self'",
    `script-src 'self'${turnstile}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src 'self' ${options.apiOrigin}`,
    `form-action 'self' ${options.apiOrigin}`,
    ...(options.turnstile ? [`frame-src${turnstile}`] : []),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
  return {
    'content-security-policy': policy,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
  };
}

const HEADER_NAMES: Record<string, string> = {
  'content-security-policy': 'Content-Security-Policy',
  'x-content-type-options': 'X-Content-Type-Options',
  'referrer-policy': 'Referrer-Policy',
};

/** Formats the headers as a Cloudflare Pages `_headers` file that applies them to every path. */
export function pagesHeadersFile(options: SecurityHeaderOptions): string {
  const lines = Object.entries(securityHeaders(options)).map(
    ([name, value]) => `  ${HEADER_NAMES[name] ?? name}: ${value}`,
  );
  return [
    '# Written by the site build from its settings; see site/lib/security-headers.ts.',
    '/*',
    ...lines,
    '',
  ].join('\n');
}
