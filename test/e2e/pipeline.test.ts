// The main job, end to end in a real browser: a reader comments on the public site with
// JavaScript switched off, staff approve it on the internal site's review page, both sites
// rebuild, and the comment shows on both. A staff comment marked internal never reaches the
// public site. Screenshots of every step go to $MARGINALIA_ARTIFACTS_DIR/e2e (test-results/e2e).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startLocalStack, type LocalStack } from '../../api/node/local-stack.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { launchBrowser } from '../support/browser.ts';

const repositoryRoot = path.resolve(import.meta.dirname, '../..');
const shots = path.resolve(
  process.env['MARGINALIA_ARTIFACTS_DIR'] ?? path.join(repositoryRoot, 'test-results'),
  'e2e',
);

const PUBLIC_POST = { id: 'welcome', path: '/posts/welcome-to-marginalia/' };
const INTERNAL_POST_ON_BOTH = { id: 'two-audiences', path: '/posts/writing-for-two-audiences/' };

let stack: LocalStack;
let browser: Browser;
let reader: BrowserContext;
let staff: BrowserContext;
let dataDir: string;
const log: string[] = [];

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** Waits until the comment's receipt reads `status` on the API. */
async function waitForStatus(receipt: string, status: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await fetch(`${stack.urls.api}/api/comments/${receipt}`);
    const body = (await response.json()) as { status?: string };
    if (body.status === status) return;
    if (Date.now() > deadline) throw new Error(`receipt ${receipt} still reads ${body.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reloads `url` until `text` appears on it, which happens once the rebuild has switched over. */
async function reloadUntilVisible(page: Page, url: string, text: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await page.goto(url);
    if ((await page.getByText(text).count()) > 0) return;
    if (Date.now() > deadline) throw new Error(`"${text}" did not appear on ${url}`);
    await page.waitForTimeout(500);
  }
}

/** Fills and sends the main comment form of the open post, and returns the receipt. */
async function submitComment(
  page: Page,
  fields: { author: string; text: string; visibility?: 'internal' | 'public' },
): Promise<string> {
  const form = page.getByTestId('comment-form');
  await form.getByLabel('Name').fill(fields.author);
  await form.getByLabel(/Comment/).fill(fields.text);
  if (fields.visibility === 'public') await form.getByLabel(/Everyone/).check();
  await Promise.all([page.waitForURL(/comment=received/), form.getByRole('button').click()]);
  const receipt = new URL(page.url()).searchParams.get('receipt');
  if (!receipt) throw new Error(`no receipt in ${page.url()}`);
  return receipt;
}

beforeAll(async () => {
  await mkdir(shots, { recursive: true });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-e2e-'));
  stack = await startLocalStack({
    dataDir,
    seedContentDir: path.join(repositoryRoot, 'content'),
    ports: { forge: 0, api: 0, public: 0, internal: 0 },
    logger: createJsonLogger(
      (line) => log.push(line),
      () => new Date(),
    ),
  });
  const first = await stack.firstBuild;
  if (!first.ok) throw new Error(`first build failed: ${first.error}`);
  browser = await launchBrowser();
  reader = await browser.newContext({ javaScriptEnabled: false });
  staff = await browser.newContext();
});

afterAll(async () => {
  await reader?.close();
  await staff?.close();
  await browser?.close();
  await stack?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('comment pipeline in a browser', () => {
  const text = `Reading this with **JavaScript off** works. Marker ${Date.now()}`;
  const visible = /Reading this with JavaScript off works\. Marker \d+/;
  let receipt: string;

  test('reader posts a comment without JavaScript', async () => {
    const page = await reader.newPage();
    await page.goto(`${stack.urls.public}${PUBLIC_POST.path}`);
    await screenshot(page, '01-public-post');
    receipt = await submitComment(page, { author: 'Ada Reader', text });

    expect(new URL(page.url()).pathname).toBe(PUBLIC_POST.path);
    await expect.poll(() => page.getByTestId('comment-status').isVisible()).toBe(true);
    const notice = await page.getByTestId('comment-status').innerText();
    expect(notice).toMatch(/received/i);
    expect(notice).toMatch(/waiting for review/i);
    await screenshot(page, '02-received-notice');

    await page.getByTestId('comment-status-link').click();
    expect(page.url().startsWith(stack.urls.api)).toBe(true);
    expect(await page.locator('body').innerText()).toMatch(/received|waiting for review/i);
    await screenshot(page, '03-status-page');
    await page.close();
  });

  test('the comment becomes a pull request', async () => {
    await waitForStatus(receipt, 'proposed');
    const pending = await stack.forgeClient.listPendingComments();
    expect(pending.map((pull) => pull.commentId)).toContain(receipt);
  });

  test('staff approve it on the review page', async () => {
    const page = await staff.newPage();
    await page.goto(`${stack.urls.internal}/review/`);
    await page.getByTestId('staff-token').fill(stack.staffToken);
    await page.getByTestId('staff-token-submit').click();
    const item = page.locator(`[data-testid="pending-comment"][data-receipt="${receipt}"]`);
    await item.waitFor();
    expect(await item.getByTestId('pending-body').locator('strong').innerText()).toBe(
      'JavaScript off',
    );
    await screenshot(page, '04-review-page');

    await item.getByTestId('approve').click();
    await expect
      .poll(() => item.getByTestId('pending-result').innerText())
      .toMatch(/published|merged|approved/i);
    await screenshot(page, '05-approved');
    await waitForStatus(receipt, 'published');
    await page.close();
  });

  test('both sites show the comment after the rebuild', async () => {
    const page = await reader.newPage();
    await reloadUntilVisible(page, `${stack.urls.public}${PUBLIC_POST.path}`, 'Ada Reader');
    const comment = page.locator(`#comment-${receipt}`);
    expect(await comment.count()).toBe(1);
    expect(await comment.innerText()).toMatch(visible);
    await screenshot(page, '06-public-post-with-comment');

    await reloadUntilVisible(page, `${stack.urls.internal}${PUBLIC_POST.path}`, 'Ada Reader');
    expect(await page.locator(`#comment-${receipt}`).count()).toBe(1);
    await screenshot(page, '07-internal-post-with-comment');
    await page.close();
  });

  test('an internal comment stays off the public site', async () => {
    const page = await reader.newPage();
    const secret = `Staff-only note ${Date.now()}`;
    const open = `Public staff reply ${Date.now()}`;
    await page.goto(`${stack.urls.internal}${INTERNAL_POST_ON_BOTH.path}`);
    const internalReceipt = await submitComment(page, { author: 'Sam Staff', text: secret });
    await page.goto(`${stack.urls.internal}${INTERNAL_POST_ON_BOTH.path}`);
    const publicReceipt = await submitComment(page, {
      author: 'Sam Staff',
      text: open,
      visibility: 'public',
    });
    for (const id of [internalReceipt, publicReceipt]) {
      await waitForStatus(id, 'proposed');
      const response = await fetch(`${stack.urls.api}/api/staff/comments/${id}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.staffToken}` },
      });
      expect(response.status).toBe(200);
    }

    await reloadUntilVisible(page, `${stack.urls.internal}${INTERNAL_POST_ON_BOTH.path}`, secret);
    const internalComment = page.locator(`#comment-${internalReceipt}`);
    expect(await internalComment.getByTestId('badge-internal').count()).toBe(1);
    await screenshot(page, '08-internal-comment-on-internal-site');

    await reloadUntilVisible(page, `${stack.urls.public}${INTERNAL_POST_ON_BOTH.path}`, open);
    expect(await page.getByText(secret).count()).toBe(0);
    expect(await page.locator(`#comment-${internalReceipt}`).count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    await screenshot(page, '09-public-site-without-internal-comment');
    await page.close();
  });
});
