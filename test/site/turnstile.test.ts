// The optional Turnstile widget, and the security headers every build writes for the static host.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pagesHeadersFile,
  securityHeaders,
  TURNSTILE_ORIGIN,
} from '../../site/lib/security-headers.ts';
import { readSiteSettings } from '../../site/settings.ts';
import { makeTempDir, writeContent } from '../content/fixtures.ts';
import { buildSite, makeBuildRoot } from './build-site.ts';

// Cloudflare's documented test site key that always passes.
const TEST_SITE_KEY = '1x00000000000000000000AA';
const API_URL = 'http://127.0.0.1:9797';

describe('security headers', () => {
  it('allow only the API besides the site without Turnstile', () => {
    const policy = securityHeaders({ apiOrigin: API_URL, turnstile: false })[
      'content-security-policy'
    ];
    expect(policy).toContain(`connect-src 'self' ${API_URL}`);
    expect(policy).toContain(`form-action 'self' ${API_URL}`);
    expect(policy).toContain("script-src 'self';");
    expect(policy).not.toContain(TURNSTILE_ORIGIN);
  });

  it('allow the Turnstile script and frame when it is on', () => {
    const policy = securityHeaders({ apiOrigin: API_URL, turnstile: true })[
      'content-security-policy'
    ];
    expect(policy).toContain(`script-src 'self' ${TURNSTILE_ORIGIN}`);
    expect(policy).toContain(`frame-src ${TURNSTILE_ORIGIN}`);
  });

  it('apply to every path in the _headers file', () => {
    const file = pagesHeadersFile({ apiOrigin: API_URL, turnstile: false });
    expect(file).toMatch(/^\/\*$/m);
    expect(file).toMatch(/^ {2}Content-Security-Policy: default-src 'self'/m);
    expect(file).toMatch(/^ {2}X-Content-Type-Options: nosniff$/m);
  });
});

describe('Turnstile site key setting', () => {
  const base = { SITE_VARIANT: 'public' };

  it('is off when unset', () => {
    expect(readSiteSettings(base, '/repo').turnstileSiteKey).toBeNull();
  });

  it.each(['has space', 'quote"', '<script>'])('rejects the key %j naming the variable', (key) => {
    expect(() => readSiteSettings({ ...base, PUBLIC_TURNSTILE_SITEKEY: key }, '/repo')).toThrow(
      /PUBLIC_TURNSTILE_SITEKEY/,
    );
  });
});

describe('site built with Turnstile', () => {
  let root: string;
  let outDir: string;
  let page: string;
  let headers: string;

  beforeAll(async () => {
    root = await makeBuildRoot();
    const contentDir = await makeTempDir('site-turnstile');
    await writeContent(
      contentDir,
      [{ slug: 'open', id: 'open', title: 'Open', date: '2026-10-01', visibility: 'public' }],
      [],
    );
    outDir = path.join(root, 'public');
    const result = await buildSite({
      variant: 'public',
      contentDir,
      outDir,
      cacheDir: path.join(root, 'cache'),
      env: { PUBLIC_API_URL: API_URL, PUBLIC_TURNSTILE_SITEKEY: TEST_SITE_KEY },
    });
    if (result.code !== 0) throw new Error(result.output);
    page = await readFile(path.join(outDir, 'posts', 'open', 'index.html'), 'utf8');
    headers = await readFile(path.join(outDir, '_headers'), 'utf8');
    await rm(contentDir, { recursive: true, force: true });
  }, 120_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('renders the widget inside the comment form', () => {
    const form = page.slice(page.indexOf('data-testid="comment-form"'), page.indexOf('</form>'));
    expect(form).toContain(`data-sitekey="${TEST_SITE_KEY}"`);
    expect(form).toContain('data-action="comment"');
  });

  it('loads the Turnstile script', () => {
    expect(page).toContain(`src="${TURNSTILE_ORIGIN}/turnstile/v0/api.js"`);
  });

  it('allows Turnstile in the written policy', () => {
    expect(headers).toContain(`script-src 'self' ${TURNSTILE_ORIGIN}`);
    expect(headers).toContain(`connect-src 'self' ${API_URL}`);
  });
});
