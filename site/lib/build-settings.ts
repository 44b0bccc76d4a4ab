// astro.config.mjs reads the environment once and replaces __MARGINALIA_SITE__ with the resulting
// settings at build time (Vite `define`), so pages and the content loader never read process.env.
import type { SiteSettings } from '../settings.ts';

declare const __MARGINALIA_SITE__: SiteSettings;

/** Returns the settings of the variant being built. */
export function buildSettings(): SiteSettings {
  return __MARGINALIA_SITE__;
}
