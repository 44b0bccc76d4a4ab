// One configuration for both sites. The environment picks the variant and the folders:
//   SITE_VARIANT            public | internal (required)
//   MARGINALIA_CONTENT_DIR  folder with posts/ and comments/ (default ./content)
//   MARGINALIA_OUT_DIR      output folder (default ./dist/<variant>)
//   MARGINALIA_CACHE_DIR    Astro's cache folder (default: one per output folder, under
//                           node_modules/.astro/)
//   PUBLIC_API_URL          the comment API readers post to (default http://127.0.0.1:8787)
//   PUBLIC_SITE_URL, INTERNAL_SITE_URL  the two sites' own origins (defaults :4321 and :4322)
//   PUBLIC_TURNSTILE_SITEKEY  shows the Cloudflare Turnstile widget on comment forms (off unset)
// Run astro with ASTRO_TELEMETRY_DISABLED=1; the package.json scripts do.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { defineConfig } from 'astro/config';
import { writeFile } from 'node:fs/promises';
import { pagesHeadersFile } from './site/lib/security-headers.ts';
import { readSiteSettings } from './site/settings.ts';

const settings = readSiteSettings(process.env, process.cwd());

// Each output folder gets its own cache, so two builds running at once (the two variants, or
// tests building from other content folders) never share Astro's content store.
const cacheKey = createHash('sha256').update(settings.outDir).digest('hex').slice(0, 12);
const cacheDir =
  settings.cacheDir ??
  path.join('node_modules', '.astro', `marginalia-${settings.variant}-${cacheKey}`);

// NOTE: Astro 7 writes intermediate prerender files inside outDir when outDir is under the current
// directory, and into ./.astro/ otherwise. Builds that run at the same time must therefore use
// output folders under the directory they are started from, or they overwrite each other's files.

/** Adds the staff review page to the internal site only. */
const reviewPage = {
  name: 'marginalia-review-page',
  hooks: {
    'astro:config:setup': ({ injectRoute }) => {
      if (settings.variant !== 'internal') return;
      injectRoute({ pattern: '/review', entrypoint: './site/staff/review.astro' });
    },
  },
};

/** Writes the security headers for the static host, with this build's API origin. */
const headersFile = {
  name: 'marginalia-headers-file',
  hooks: {
    'astro:build:done': async ({ dir }) => {
      const text = pagesHeadersFile({
        apiOrigin: new URL(settings.apiUrl).origin,
        turnstile: settings.turnstileSiteKey !== null,
      });
      await writeFile(new URL('_headers', dir), text);
    },
  },
};

export default defineConfig({
  srcDir: './site',
  publicDir: './site/public',
  outDir: settings.outDir,
  cacheDir,
  output: 'static',
  site: settings.siteUrl,
  trailingSlash: 'ignore',
  devToolbar: { enabled: false },
  integrations: [reviewPage, headersFile],
  vite: {
    define: { __MARGINALIA_SITE__: JSON.stringify(settings) },
    // Scripts and styles stay separate same-origin files, never inlined, so a strict
    // Content-Security-Policy can allow them by origin.
    build: { assetsInlineLimit: 0 },
  },
});
