// Builds one public site whose comments are every hostile case the API accepts, written with the
// API's file writer, and opens each post in headless Chromium. No script may run, no dialog may
// open, no request may leave for another origin, and each case's text must show as text.
// The test server sends no Content-Security-Policy, so the sanitizer alone is under test.
import { readFile, rm } from 'node:fs/promises';
import { get, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMENT_SANITIZE_SCHEMA } from '../../api/content/render.ts';
import { startStaticSiteServer } from '../../api/sites/static-server.ts';
import { makeTempDir, writeContent, type FixtureComment } from '../content/fixtures.ts';
import { buildSite, makeBuildRoot, type BuildResult } from '../site/build-site.ts';
import { startStaticServer, type StaticServer } from '../site/static-server.ts';
import { launchBrowser } from '../support/browser.ts';
import { INERT_CASES, storedFields, type HostileCase } from './cases.ts';

const API_URL = 'http://127.0.0.1:9798';
const SITE_URLS = {
  PUBLIC_API_URL: API_URL,
  PUBLIC_SITE_URL: 'http://127.0.0.1:4393',
  INTERNAL_SITE_URL: 'http://127.0.0.1:4394',
};

/** Cases per page: the markdown-dos texts are each at the size limit, so fewer go together. */
function pageSize(hostile: HostileCase): number {
  return hostile.kind === 'markdown-dos' ? 6 : 40;
}

interface PageOfCases {
  slug: string;
  cases: Array<{ commentId: string; hostile: HostileCase }>;
}

function groupIntoPages(cases: readonly HostileCase[]): PageOfCases[] {
  const pages: PageOfCases[] = [];
  let current: PageOfCases | null = null;
  cases.forEach((hostile, index) => {
    const full = current !== null && current.cases.length >= pageSize(hostile);
    const kindChanged = current !== null && current.cases[0]?.hostile.kind !== hostile.kind;
    if (current === null || full || kindChanged) {
      current = { slug: `hostile-${String(pages.length + 1).padStart(2, '0')}`, cases: [] };
      pages.push(current);
    }
    current.cases.push({ commentId: `c-${String(index).padStart(4, '0')}`, hostile });
  });
  return pages;
}

const PAGES = groupIntoPages(INERT_CASES);

/** Lists each page's comments with the values the API stores, for formatCommentFile. */
function fixtureComments(): FixtureComment[] {
  const comments: FixtureComment[] = [];
  for (const { slug, cases } of PAGES) {
    cases.forEach(({ commentId, hostile }, index) => {
      const stored = storedFields(hostile);
      const minute = String(index % 60).padStart(2, '0');
      comments.push({
        id: commentId,
        post: slug,
        parent: null,
        author: stored.author,
        date: `2026-10-01T${String(10 + Math.floor(index / 60)).padStart(2, '0')}:${minute}:00Z`,
        visibility: 'public',
        source: 'public',
        ...(stored.authorUrl === null ? {} : { authorUrl: stored.authorUrl }),
        body: stored.text,
      });
    });
  }
  return comments;
}

const ALLOWED_TAGS = new Set(COMMENT_SANITIZE_SCHEMA.tagNames ?? []);
/** Attributes that run script, load a resource, submit or restyle; none may reach a comment. */
const FORBIDDEN_ATTRIBUTE =
  /^(on.*|style|src|srcset|srcdoc|action|formaction|poster|background|data|xlink:href|form|name)$/;
const LINK_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

function collapse(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

let buildRoot = '';
let contentDir = '';
let outDir = '';
let build: BuildResult;
let server: StaticServer;
let browser: Browser;

beforeAll(async () => {
  contentDir = await makeTempDir('hostile-content');
  await writeContent(
    contentDir,
    PAGES.map(({ slug }) => ({
      slug,
      id: slug,
      title: `Hostile cases ${slug}`,
      date: '2026-10-01',
      visibility: 'public',
      comments: 'open',
    })),
    fixtureComments(),
  );
  buildRoot = await makeBuildRoot();
  outDir = path.join(buildRoot, 'public');
  const [built, launched] = await Promise.all([
    buildSite({
      variant: 'public',
      contentDir,
      outDir,
      cacheDir: path.join(buildRoot, 'cache'),
      env: SITE_URLS,
    }),
    launchBrowser(),
  ]);
  build = built;
  browser = launched;
  if (build.code !== 0) throw new Error(`the hostile site did not build:\n${build.output}`);
  server = await startStaticServer(outDir);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await rm(buildRoot, { recursive: true, force: true });
  await rm(contentDir, { recursive: true, force: true });
});

interface CommentReport {
  found: boolean;
  bodyText: string;
  bodyVisible: boolean;
  authorText: string;
  authorHref: string | null;
  authorProtocol: string | null;
  tags: string[];
  attributes: string[];
  linkProtocols: string[];
}

interface PageReport {
  comments: Record<string, CommentReport>;
  foreignScripts: string[];
  embeds: number;
  bases: number;
  refreshes: number;
  foreignStylesheets: string[];
  formActions: string[];
}

describe('hostile comments in a real browser', () => {
  it.each(PAGES)('renders $slug inert', async ({ slug, cases }) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const trapped: string[] = [];
    const dialogs: string[] = [];
    const requests: string[] = [];
    const errors: string[] = [];
    await page.exposeBinding('__pwned', (_source, value: unknown) => {
      trapped.push(String(value));
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(error.message));

    const url = `${server.url}/posts/${slug}/`;
    try {
      const response = await page.goto(url, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      // Event handlers such as onbegin, onstart or a meta refresh fire after load.
      await page.waitForTimeout(250);
      const ids = cases.map(({ commentId }) => commentId);
      const report: PageReport = await page.evaluate(
        ({ ids, apiUrl }) => {
          const origin = location.origin;
          const comments: Record<string, CommentReport> = {};
          for (const id of ids) {
            const item = document.getElementById(`comment-${id}`);
            const body = item?.querySelector<HTMLElement>('[data-testid="comment-body"]');
            const author = item?.querySelector<HTMLElement>('.comment-author');
            const elements = body ? Array.from(body.querySelectorAll('*')) : [];
            const href = author?.getAttribute('href') ?? null;
            comments[id] = {
              found: Boolean(item && body && author),
              bodyText: body?.innerText ?? '',
              bodyVisible: body?.checkVisibility() ?? false,
              authorText: author?.innerText ?? '',
              authorHref: href,
              authorProtocol: href === null ? null : new URL(href, location.href).protocol,
              tags: [...new Set(elements.map((element) => element.localName))],
              attributes: [...new Set(elements.flatMap((element) => element.getAttributeNames()))],
              linkProtocols: Array.from(body?.querySelectorAll('a[href]') ?? [], (link) =>
                link instanceof HTMLAnchorElement ? link.protocol : 'not-an-anchor:',
              ),
            };
          }
          const sources = (selector: string, attribute: string) =>
            Array.from(
              document.querySelectorAll(selector),
              (element) => new URL(element.getAttribute(attribute) ?? '', location.href).href,
            );
          return {
            comments,
            foreignScripts: sources('script[src]', 'src').filter(
              (src) => new URL(src).origin !== origin,
            ),
            embeds: document.querySelectorAll('iframe, frame, object, embed, script:not([src])')
              .length,
            bases: document.querySelectorAll('base').length,
            refreshes: document.querySelectorAll('meta[http-equiv]').length,
            foreignStylesheets: sources('link[rel~="stylesheet"]', 'href').filter(
              (href) => new URL(href).origin !== origin,
            ),
            formActions: sources('form', 'action').filter(
              (action) => !action.startsWith(`${apiUrl}/api/comments`),
            ),
          };
        },
        { ids, apiUrl: API_URL },
      );

      expect(trapped).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(errors).toEqual([]);
      expect(requests.filter((request) => !request.startsWith(`${server.url}/`))).toEqual([]);
      expect(page.url()).toBe(url);
      expect(report.foreignScripts).toEqual([]);
      expect(report.embeds).toBe(0);
      expect(report.bases).toBe(0);
      expect(report.refreshes).toBe(0);
      expect(report.foreignStylesheets).toEqual([]);
      expect(report.formActions).toEqual([]);

      for (const { commentId, hostile } of cases) {
        const comment = report.comments[commentId];
        const stored = storedFields(hostile);
        expect(comment?.found, hostile.id).toBe(true);
        expect(comment?.bodyVisible, hostile.id).toBe(true);
        expect(
          comment?.tags.filter((tag) => !ALLOWED_TAGS.has(tag)),
          hostile.id,
        ).toEqual([]);
        expect(
          comment?.attributes.filter((name) => FORBIDDEN_ATTRIBUTE.test(name)),
          hostile.id,
        ).toEqual([]);
        expect(
          comment?.linkProtocols.filter((protocol) => !LINK_PROTOCOLS.has(protocol)),
          hostile.id,
        ).toEqual([]);
        expect(collapse(comment?.authorText ?? ''), hostile.id).toBe(collapse(stored.author));
        expect(comment?.authorHref ?? null, hostile.id).toBe(stored.authorUrl);
        if (stored.authorUrl !== null) {
          expect(['http:', 'https:'], hostile.id).toContain(comment?.authorProtocol);
        }
        const shown = collapse(comment?.bodyText ?? '');
        for (const fragment of hostile.visible ?? [stored.text]) {
          expect(shown, hostile.id).toContain(collapse(fragment));
        }
      }
    } finally {
      await context.close();
    }
  });

  // remark-rehype names footnotes user-content-fn-<label> in every comment, so without a prefix
  // per comment two comments with [^1] on one page would share ids.
  it('gives each id on a page to one element', async () => {
    const clash = PAGES.find(({ cases }) =>
      cases.some(({ hostile }) => hostile.id === 'markdown-dos/footnote-label-second'),
    );
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/posts/${clash?.slug ?? 'missing'}/`);
      const ids = await page.evaluate(() =>
        Array.from(document.querySelectorAll('[id]'), (element) => element.id),
      );
      expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('puts every accepted case on a page', () => {
    const shown = PAGES.reduce((sum, { cases }) => sum + cases.length, 0);
    expect(shown).toBe(INERT_CASES.length);
  });
});

describe('security headers for the static host', () => {
  /** Parses a Content-Security-Policy into its directives, each with its sources. */
  function directives(policy: string): Map<string, string[]> {
    const parsed = new Map<string, string[]>();
    for (const directive of policy.split(';')) {
      const [name, ...sources] = directive.trim().split(/\s+/);
      if (name) parsed.set(name.toLowerCase(), sources);
    }
    return parsed;
  }

  /** Reads the `/*` rule of a Cloudflare Pages `_headers` file into header names and values. */
  function headersForAllPaths(file: string): Map<string, string> {
    const headers = new Map<string, string>();
    let inRule = false;
    for (const line of file.split('\n')) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      if (!/^\s/.test(line)) {
        inRule = line.trim() === '/*';
        continue;
      }
      const separator = line.indexOf(':');
      if (inRule && separator > 0) {
        headers.set(
          line.slice(0, separator).trim().toLowerCase(),
          line.slice(separator + 1).trim(),
        );
      }
    }
    return headers;
  }

  /** Fetches a page from the local static server without keeping the connection open. */
  function getHeaders(url: string): Promise<IncomingHttpHeaders> {
    return new Promise((resolve, reject) => {
      get(url, { agent: false }, (response) => {
        response.resume();
        resolve(response.headers);
      }).on('error', reject);
    });
  }

  let local: IncomingHttpHeaders;
  let file: Map<string, string>;

  beforeAll(async () => {
    const site = await startStaticSiteServer({ root: () => outDir, port: 0, apiOrigin: API_URL });
    try {
      local = await getHeaders(`${site.url}/`);
    } finally {
      await site.close();
    }
    file = headersForAllPaths(await readFile(path.join(outDir, '_headers'), 'utf8'));
  });

  it('writes _headers into the built site', () => {
    expect(file.has('content-security-policy')).toBe(true);
  });

  it('sends the same policy as the local server', () => {
    const policy = directives(String(local['content-security-policy']));
    expect(directives(file.get('content-security-policy') ?? '')).toEqual(policy);
  });

  it.each(['x-content-type-options', 'referrer-policy'])('sends the local %s header', (name) => {
    expect(file.get(name)).toBe(local[name]);
  });
});
