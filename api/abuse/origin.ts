// The Origin check of submissions. Browsers send an Origin header with every cross-origin POST,
// so a submission without one, or with one not on the allowlist, did not come from the blog's
// form. Origins are parsed and compared whole (scheme, host and port), never by prefix.

export type OriginCheck =
  { ok: true; origin: string } | { ok: false; reason: 'missing' | 'opaque' | 'not_allowed' };

/** Returns the serialized origin of an http or https URL, or null for anything else. */
function httpOrigin(value: string): string | null {
  if (!URL.canParse(value)) return null;
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.origin;
}

/**
 * Checks the Origin header against `allowed`. It must be a serialized origin exactly as browsers
 * send it (`https://blog.example.com`, lowercase, no path). A missing Origin is not trusted, and
 * neither is the value `null`, which browsers send from sandboxed frames, data: URLs and some
 * redirects. The Referer is not a substitute: it is optional, and privacy settings strip it.
 */
export function checkRequestOrigin(
  originHeader: string | undefined,
  allowed: ReadonlySet<string>,
): OriginCheck {
  if (originHeader === undefined || originHeader === '') return { ok: false, reason: 'missing' };
  if (originHeader.trim() === 'null') return { ok: false, reason: 'opaque' };
  const origin = httpOrigin(originHeader);
  if (origin === null || origin !== originHeader || !allowed.has(origin)) {
    return { ok: false, reason: 'not_allowed' };
  }
  return { ok: true, origin };
}

/** States why a submission's origin was rejected, and what to do, for the 403 response. */
export function originRejection(reason: Exclude<OriginCheck, { ok: true }>['reason']): string {
  switch (reason) {
    case 'missing':
      return (
        'The request has no Origin header, so it cannot be shown to come from ' +
        "the blog. Send the comment from the form on the post, or send an Origin header with the blog's address."
      );
    case 'opaque':
      return (
        'The Origin header is "null", which browsers send from sandboxed or privacy-restricted ' +
        'pages, so the request cannot be shown to come from the blog. Send the comment from the ' +
        'form on the post.'
      );
    case 'not_allowed':
      return (
        "The Origin header does not name one of the blog's sites, so the comment was not " +
        'accepted. Send the comment from the form on the post.'
      );
  }
}
