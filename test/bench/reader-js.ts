// JavaScript a reader downloads to read a post or to post a comment: builds the public site from
// the sample blog and sums the scripts that the home page and every post page reference, raw and
// gzipped. A script counts as required only on a page whose comment field has no plain HTML form
// around it. The report also lists which pages load each script by default.
//
//   node test/bench/reader-js.ts [--json-out FILE]
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildSite, makeBuildRoot } from '../site/build-site.ts';
import { figure, report, runMain, sampleContentDir } from './common.ts';

interface PageScripts {
  page: string;
  /** Paths of external scripts, as written in src. */
  external: string[];
  /** Bytes of inline script bodies, other than JSON data blocks. */
  inlineBytes: number;
  /** Whether the page has a <form> that posts a comment without any script. */
  hasPlainForm: boolean;
  /** Whether the page has a comment text area at all. */
  hasCommentField: boolean;
}

const SCRIPT_TAG = /<script\b([^>]*)>([\s\S]*?)<\/script>/gi;
const MODULE_PRELOAD = /<link\b[^>]*rel=["']?modulepreload["']?[^>]*>/gi;

function attribute(attributes: string, name: string): string | null {
  const match = new RegExp(`\\b${name}=(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(attributes);
  if (match === null) return null;
  return match[1] ?? match[2] ?? match[3] ?? '';
}

function scanPage(page: string, html: string): PageScripts {
  const external: string[] = [];
  let inlineBytes = 0;
  for (const match of html.matchAll(SCRIPT_TAG)) {
    const attributes = match[1] ?? '';
    const type = attribute(attributes, 'type');
    if (type !== null && /json/i.test(type)) continue;
    const src = attribute(attributes, 'src');
    if (src !== null) external.push(src);
    else inlineBytes += Buffer.byteLength(match[2] ?? '');
  }
  for (const match of html.matchAll(MODULE_PRELOAD)) {
    const href = attribute(match[0], 'href');
    if (href !== null) external.push(href);
  }
  const forms = [...html.matchAll(/<form\b([^>]*)>/gi)].map((match) => match[1] ?? '');
  const hasPlainForm = forms.some(
    (form) =>
      attribute(form, 'method')?.toLowerCase() === 'post' &&
      /\/api\/comments$/.test(attribute(form, 'action') ?? ''),
  );
  const hasCommentField = /<textarea\b/i.test(html);
  return { page, external, inlineBytes, hasPlainForm, hasCommentField };
}

async function main(): Promise<void> {
  const root = await makeBuildRoot();
  const outDir = path.join(root, 'public');
  try {
    const build = await buildSite({
      variant: 'public',
      contentDir: sampleContentDir,
      outDir,
      cacheDir: path.join(root, 'cache'),
      env: { PUBLIC_API_URL: 'http://127.0.0.1:8787' },
    });
    if (build.code !== 0) throw new Error(`the public build failed:\n${build.output.slice(-3000)}`);

    const pages = ['index.html'];
    const postsDir = path.join(outDir, 'posts');
    for (const slug of await readdir(postsDir)) {
      if (existsSync(path.join(postsDir, slug, 'index.html'))) {
        pages.push(path.join('posts', slug, 'index.html'));
      }
    }
    const scanned = await Promise.all(
      pages.map(async (page) => scanPage(page, await readFile(path.join(outDir, page), 'utf8'))),
    );

    const files = new Map<string, { raw: number; gzip: number; pages: number }>();
    for (const page of scanned) {
      for (const src of new Set(page.external)) {
        const known = files.get(src);
        if (known !== undefined) {
          known.pages += 1;
          continue;
        }
        const local = path.join(outDir, new URL(src, 'http://site.invalid/').pathname);
        const content = await readFile(local);
        files.set(src, { raw: content.length, gzip: gzipSync(content).length, pages: 1 });
      }
    }
    const postPages = scanned.filter((page) => page.page !== 'index.html');
    const withForm = postPages.filter((page) => page.hasPlainForm);
    const inlineMax = Math.max(0, ...scanned.map((page) => page.inlineBytes));
    const rawMax = Math.max(
      0,
      ...scanned.map((p) => p.external.reduce((sum, src) => sum + (files.get(src)?.raw ?? 0), 0)),
    );
    const gzipMax = Math.max(
      0,
      ...scanned.map((p) => p.external.reduce((sum, src) => sum + (files.get(src)?.gzip ?? 0), 0)),
    );
    // A page with a comment field but no plain form would need its scripts to post.
    const scriptOnly = scanned.filter((page) => page.hasCommentField && !page.hasPlainForm);
    const required = Math.max(
      0,
      ...scriptOnly.map((p) =>
        p.external.reduce((sum, src) => sum + (files.get(src)?.raw ?? 0), 0),
      ),
    );
    const home = scanned.find((page) => page.page === 'index.html');

    report({
      bench: 'reader-js',
      method:
        'astro build of the public variant from content/ (test/site/build-site.ts), then every ' +
        '<script> (src and inline, JSON blocks excluded) and <link rel="modulepreload"> in ' +
        `index.html and the ${postPages.length} post pages is collected; each script file is ` +
        'measured raw and gzipped (zlib default level). Per page figures are the largest page.',
      figures: [
        figure('JavaScript required to read or post', required, 'bytes', { max: 0 }),
        figure('scripts on the heaviest page, raw', rawMax + inlineMax, 'bytes'),
        figure('scripts on the heaviest page, gzipped', gzipMax, 'bytes', { below: 3072 }),
        figure('inline script on the heaviest page', inlineMax, 'bytes'),
      ],
      notes: [
        'JavaScript counts as required on a page that has a comment text area but no plain form ' +
          'posting to /api/comments; pages without scripts need none to be read.',
        `${withForm.length} of ${postPages.length} post pages have a plain <form method="post"> ` +
          'to /api/comments, which sends without JavaScript (the browser test posts with ' +
          'JavaScript switched off).',
        `home page scripts: ${home?.external.length ?? 0} external, ${home?.inlineBytes ?? 0} inline bytes.`,
        ...[...files].map(
          ([src, size]) =>
            `${src}: ${size.raw} bytes raw, ${size.gzip} gzipped, loaded by default (defer) on ` +
            `${size.pages} of ${scanned.length} pages`,
        ),
      ],
    });
    if (withForm.length === 0) {
      throw new Error(
        'no post page has a plain comment form; the page scan found nothing to check',
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

runMain(main);
