// The public URLs of the two sites and of the API: which origins may call the API from a
// browser, where a reader is sent back to, and which site a submission came from.
import type { ApiConfig } from '../config.ts';
import type { PostInfo } from '../platform/content-index.ts';

export type SiteVariant = 'public' | 'internal';

export interface Sites {
  /** The exact origins (scheme, host and port) of the public and the internal site. */
  readonly allowedOrigins: ReadonlySet<string>;
  /** The site a request came from: internal only when its Origin is the internal site's. */
  variantOf(origin: string | undefined): SiteVariant;
  postUrl(post: PostInfo, variant: SiteVariant): URL;
  /**
   * The page to send a reader back to: `returnTo` when it is an absolute URL on one of the
   * sites, otherwise `fallback`. Anything else is ignored, so the API never redirects off-site.
   */
  returnUrl(returnTo: string | undefined, fallback: URL): URL;
  statusUrl(receipt: string): string;
  submitUrl(): string;
}

export function createSites(config: ApiConfig): Sites {
  const publicOrigin = new URL(config.publicSiteUrl).origin;
  const internalOrigin = new URL(config.internalSiteUrl).origin;
  const allowedOrigins = new Set([publicOrigin, internalOrigin]);
  const base = { public: config.publicSiteUrl, internal: config.internalSiteUrl };

  return {
    allowedOrigins,
    variantOf: (origin) => (origin === internalOrigin ? 'internal' : 'public'),
    postUrl: (post, variant) => new URL(`${base[variant]}${post.path}`),
    returnUrl(returnTo, fallback) {
      if (returnTo === undefined || !URL.canParse(returnTo)) return new URL(fallback);
      const url = new URL(returnTo);
      const onSite = /^https?:$/.test(url.protocol) && allowedOrigins.has(url.origin);
      return onSite && url.username === '' && url.password === '' ? url : new URL(fallback);
    },
    statusUrl: (receipt) => `${config.apiPublicUrl}/api/comments/${receipt}`,
    submitUrl: () => `${config.apiPublicUrl}/api/comments`,
  };
}
