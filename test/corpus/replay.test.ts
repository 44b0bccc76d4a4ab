// Runs 540 real reader comments (threads, CRLF, code, Liquid tags, raw HTML, entities, non-Latin
// scripts) through the whole local pipeline, then reads every post on both built sites in
// Chromium and finds each comment's text there exactly once.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { toString as markdownText } from 'mdast-util-to-string';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import { unified } from 'unified';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  DEFAULT_CORPUS,
  loadCorpus,
  replayOnStack,
  startCorpusStack,
  type CorpusComment,
  type CorpusPost,
  type ReplayReport,
} from '../../api/cli/replay-corpus.ts';
import type { LocalStack } from '../../api/node/local-stack.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { launchBrowser } from '../support/browser.ts';

// The corpus sits outside the repository because its licence does not allow copying it in.
const corpusFile = process.env['MARGINALIA_CORPUS'] ?? DEFAULT_CORPUS;
const haveCorpus = existsSync(corpusFile);

/** The text a reader sees, per the markdown alone: what the renderer may change is markup only. */
function expectedVisibleText(markdown: string): string {
  const tree = unified().use(remarkParse).use(remarkGfm).parse(markdown);
  return squash(markdownText(tree, { includeHtml: true, includeImageAlt: true }));
}

/** Removes all whitespace, so that line breaks and spacing from markup do not count. */
function squash(text: string): string {
  return text.replace(/\s+/gu, '');
}

let comments: CorpusComment[] = [];
let posts: CorpusPost[] = [];
let stack: LocalStack;
let report: ReplayReport;
let browser: Browser;
let dataDir: string;

// Skipped only on a machine without the shared corpus folder beside the repository; CI has it.
describe.skipIf(!haveCorpus)('corpus replay', () => {
  beforeAll(async () => {
    ({ comments, posts } = await loadCorpus(corpusFile));
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-corpus-'));
    const log: string[] = [];
    stack = await startCorpusStack(
      posts,
      dataDir,
      createJsonLogger(
        (l) => log.push(l),
        () => new Date(),
      ),
    );
    report = await replayOnStack(stack, { comments, posts, timeoutMs: 8 * 60_000 });
    browser = await launchBrowser();
  }, 15 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('every comment gets a receipt', () => {
    expect(report.problems).toEqual([]);
    expect(report.receipts).toBe(540);
  });

  test('every comment is merged as its own pull request', () => {
    expect(report.pullRequestsMerged).toBe(540);
  });

  test('every comment is one file with its body byte for byte', () => {
    expect(report.filesOnBaseBranch).toBe(540);
    expect(report.bodiesIdentical).toBe(540);
  });

  test.each(['public', 'internal'] as const)(
    'every comment text is on the %s site exactly once',
    async (variant) => {
      const page = await browser.newPage({ javaScriptEnabled: false });
      const base = variant === 'public' ? stack.urls.public : stack.urls.internal;
      const mismatches: string[] = [];
      let found = 0;
      for (const post of posts) {
        await page.goto(`${base}/posts/${post.slug}/`);
        const shown = await page.$$eval('[data-testid="comment"]', (nodes) =>
          nodes.map((node) => ({
            id: node.id,
            body: node.querySelector('[data-testid="comment-body"]')?.textContent ?? '',
          })),
        );
        const counts = new Map<string, number>();
        for (const item of shown) counts.set(item.id, (counts.get(item.id) ?? 0) + 1);
        for (const comment of comments.filter((c) => c.post === post.slug)) {
          const receipt = report.receiptFor.get(comment.id);
          const matches = shown.filter((item) => item.id === `comment-${receipt}`);
          if (matches.length !== 1) {
            mismatches.push(`${comment.id}: shown ${matches.length} times on ${post.slug}`);
            continue;
          }
          found += 1;
          if (squash(matches[0]!.body) !== expectedVisibleText(comment.message)) {
            mismatches.push(`${comment.id}: visible text differs from the submitted markdown`);
          }
        }
        expect(counts.size).toBe(shown.length);
      }
      await page.close();
      expect(mismatches).toEqual([]);
      expect(found).toBe(540);
    },
    5 * 60_000,
  );
});
