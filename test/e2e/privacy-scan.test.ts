// Reader email addresses leave no trace outside the encrypted outbox table. The whole local stack
// runs with an email key. Comments with distinct addresses go in through JSON, a form post and a
// browser with JavaScript off. They are delivered, approved or declined, and the sites are
// rebuilt. Then every place the pipeline writes to is searched for each address: as given,
// lowercased, hashed (MD5 and SHA-256, as Gravatar-style hashing does), base64 and
// percent-encoded.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startLocalStack, type LocalStack } from '../../api/node/local-stack.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { createAddressCipher } from '../../api/privacy/address-cipher.ts';
import { launchBrowser } from '../support/browser.ts';

const run = promisify(execFile);
const repositoryRoot = path.resolve(import.meta.dirname, '../..');
const POST = { id: 'welcome', path: '/posts/welcome-to-marginalia/' };
const KEY = new Uint8Array(randomBytes(32));

/** How each test comment is sent and what staff do with it. */
interface Sample {
  address: string;
  via: 'json' | 'form' | 'browser';
  review: 'approve' | 'decline' | 'none';
  text: string;
}

const SAMPLES: Sample[] = [
  { address: 'reader.one+tag@example.org', via: 'json', review: 'approve', text: 'First' },
  { address: 'Mixed.Case.Reader@Example.ORG', via: 'json', review: 'none', text: 'Second' },
  { address: 'jürgen.ünïcode@example.org', via: 'form', review: 'approve', text: 'Third' },
  { address: 'browser.reader@example.net', via: 'browser', review: 'approve', text: 'Fourth' },
  { address: 'declined.reader@example.com', via: 'json', review: 'decline', text: 'Fifth' },
];
/** An address that fails validation; it must not be echoed or logged either. */
const REJECTED_ADDRESS = 'rejected reader@example.org';
const ALL_ADDRESSES = [...SAMPLES.map((sample) => sample.address), REJECTED_ADDRESS];

let stack: LocalStack;
let browser: Browser;
let dataDir: string;
const log: string[] = [];
const receipts = new Map<string, string>();
/** Bodies the API returned while the comments were sent and reviewed. */
const answers: string[] = [];

function hex(algorithm: 'md5' | 'sha256', value: string): string {
  return createHash(algorithm).update(value).digest('hex');
}

/** Lists the forms in which an address could leak, each named for the failure message. */
function addressForms(address: string): Array<{ form: string; name: string; exact: boolean }> {
  const normalized = address.trim().toLowerCase();
  const forms = [
    { form: address, name: 'as given', exact: false },
    { form: address.normalize('NFD'), name: 'decomposed', exact: false },
    { form: normalized, name: 'lowercased', exact: false },
    { form: encodeURIComponent(address), name: 'percent-encoded', exact: false },
    { form: hex('md5', address), name: 'MD5', exact: false },
    { form: hex('md5', normalized), name: 'MD5 of lowercased', exact: false },
    { form: hex('sha256', address), name: 'SHA-256', exact: false },
    { form: hex('sha256', normalized), name: 'SHA-256 of lowercased', exact: false },
    { form: Buffer.from(address).toString('base64'), name: 'base64', exact: true },
    { form: Buffer.from(address).toString('base64url'), name: 'base64url', exact: true },
  ];
  return forms;
}

/** Returns "<address> <form> in <where>" for every form of every address found in `text`. */
function findAddresses(text: string, where: string): string[] {
  const lower = text.toLowerCase();
  const found: string[] = [];
  for (const address of ALL_ADDRESSES) {
    for (const { form, name, exact } of addressForms(address)) {
      const hit = exact ? text.includes(form) : lower.includes(form.toLowerCase());
      if (hit) found.push(`${address} ${name} in ${where}`);
    }
  }
  return found;
}

async function git(...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['--git-dir', stack.forge.repoPath, ...args], {
    maxBuffer: 512 * 1024 * 1024,
    encoding: 'utf8',
  });
  return stdout;
}

/** Lists every file under `folder`, recursively, without following symbolic links. */
async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

async function sendJson(sample: Sample): Promise<string> {
  const response = await fetch(`${stack.urls.api}/api/comments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: stack.urls.public },
    body: JSON.stringify({
      post: POST.id,
      author: 'Privacy Reader',
      text: `${sample.text} comment with an address.`,
      email: sample.address,
    }),
  });
  const text = await response.text();
  answers.push(text);
  expect(response.status).toBe(202);
  const body = JSON.parse(text) as { receipt: string; emailKept: boolean };
  expect(body.emailKept).toBe(true);
  return body.receipt;
}

async function sendForm(sample: Sample): Promise<string> {
  const response = await fetch(`${stack.urls.api}/api/comments`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      origin: stack.urls.public,
    },
    body: new URLSearchParams({
      post: POST.id,
      returnTo: `${stack.urls.public}${POST.path}`,
      author: 'Privacy Reader',
      text: `${sample.text} comment with an address.`,
      email: sample.address,
    }).toString(),
  });
  answers.push(await response.text());
  expect(response.status).toBe(303);
  const location = response.headers.get('location') ?? '';
  answers.push(location);
  const receipt = new URL(location).searchParams.get('receipt');
  if (receipt === null) throw new Error(`no receipt in the redirect to ${location}`);
  return receipt;
}

async function sendFromBrowser(sample: Sample): Promise<string> {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    await page.goto(`${stack.urls.public}${POST.path}`);
    const form = page.getByTestId('comment-form');
    await form.getByLabel('Name').fill('Privacy Reader');
    await form.getByLabel('Email').fill(sample.address);
    await form.getByLabel(/Comment/).fill(`${sample.text} comment with an address.`);
    await Promise.all([page.waitForURL(/comment=received/), form.getByRole('button').click()]);
    answers.push(page.url(), await page.content());
    const receipt = new URL(page.url()).searchParams.get('receipt');
    if (receipt === null) throw new Error(`no receipt in ${page.url()}`);
    return receipt;
  } finally {
    await context.close();
  }
}

async function waitForStatus(receipt: string, status: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const response = await fetch(`${stack.urls.api}/api/comments/${receipt}`);
        const text = await response.text();
        answers.push(text);
        return (JSON.parse(text) as { status?: string }).status;
      },
      { timeout: 30_000, interval: 100 },
    )
    .toBe(status);
}

async function review(receipt: string, action: 'approve' | 'decline'): Promise<void> {
  const response = await fetch(`${stack.urls.api}/api/staff/comments/${receipt}/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.staffToken}` },
  });
  answers.push(await response.text());
  expect(response.status).toBe(200);
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-privacy-'));
  stack = await startLocalStack({
    dataDir,
    seedContentDir: path.join(repositoryRoot, 'content'),
    ports: { forge: 0, api: 0, public: 0, internal: 0 },
    logger: createJsonLogger(
      (line) => log.push(line),
      () => new Date(),
    ),
    // Every comment comes from 127.0.0.1, which the default limits would cut off.
    rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
    emailKey: KEY,
  });
  const first = await stack.firstBuild;
  if (!first.ok) throw new Error(`first build failed: ${first.error}`);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('email addresses through the whole pipeline', () => {
  test('comments with addresses are reviewed and built', { timeout: 180_000 }, async () => {
    for (const sample of SAMPLES) {
      const send = { json: sendJson, form: sendForm, browser: sendFromBrowser }[sample.via];
      receipts.set(sample.address, await send(sample));
    }
    const rejected = await fetch(`${stack.urls.api}/api/comments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: stack.urls.public },
      body: JSON.stringify({
        post: POST.id,
        author: 'A',
        text: 'Rejected',
        email: REJECTED_ADDRESS,
      }),
    });
    answers.push(await rejected.text());
    expect(rejected.status).toBe(422);

    for (const receipt of receipts.values()) await waitForStatus(receipt, 'proposed');
    for (const sample of SAMPLES) {
      const receipt = receipts.get(sample.address) ?? '';
      if (sample.review !== 'none') await review(receipt, sample.review);
    }
    const staffList = await fetch(`${stack.urls.api}/api/staff/comments`, {
      headers: { authorization: `Bearer ${stack.staffToken}` },
    });
    answers.push(await staffList.text());
    expect(staffList.status).toBe(200);

    await stack.forge.webhooksIdle();
    const build = await stack.builder.rebuild('privacy scan');
    expect(build.ok).toBe(true);
    const page = await fetch(`${stack.urls.public}${POST.path}`);
    expect(await page.text()).toContain('Fourth comment with an address.');
  });

  test('no address in any commit of the repository', async () => {
    const history = await git('log', '--all', '-p', '--format=fuller');
    expect(history).toContain('Fourth comment with an address.');
    const objects = await git('cat-file', '--batch-all-objects', '--batch');
    const refs = await git('for-each-ref');
    expect(findAddresses(history, 'git log')).toEqual([]);
    expect(findAddresses(objects, 'git objects')).toEqual([]);
    expect(findAddresses(refs, 'git refs')).toEqual([]);
  });

  test('no address in pull requests', async () => {
    const { forge } = stack.urls;
    const response = await fetch(`${forge}/repos/marginalia/blog/pulls?state=all&per_page=100`, {
      headers: { authorization: `token ${stack.forgeToken}` },
    });
    const pulls = await response.text();
    expect(JSON.parse(pulls)).toHaveLength(SAMPLES.length);
    expect(findAddresses(pulls, 'pull requests')).toEqual([]);
    const pages = await (await fetch(`${forge}/marginalia/blog/pulls`)).text();
    expect(findAddresses(pages, 'the forge pull request page')).toEqual([]);
  });

  test('no address in webhook bodies', () => {
    const bodies = stack.forge.deliveries().map((delivery) => delivery.body);
    expect(bodies.length).toBeGreaterThanOrEqual(4);
    expect(findAddresses(bodies.join('\n'), 'webhook bodies')).toEqual([]);
  });

  test('no address in the log', () => {
    expect(log.some((line) => line.includes('comment received'))).toBe(true);
    expect(findAddresses(log.join(''), 'the log')).toEqual([]);
  });

  test('no address in API answers or pages', () => {
    expect(answers.length).toBeGreaterThan(SAMPLES.length);
    expect(findAddresses(answers.join('\n'), 'API answers')).toEqual([]);
  });

  test('no address in any file of the data folder', async () => {
    const files = await filesUnder(dataDir);
    const outbox = path.join(dataDir, 'api', 'outbox.sqlite');
    const publicSite = stack.builder.current('public') ?? '(none)';
    const internalSite = stack.builder.current('internal') ?? '(none)';
    expect(files).toContain(outbox);
    expect(files.some((file) => file.startsWith(publicSite))).toBe(true);
    expect(files.some((file) => file.startsWith(internalSite))).toBe(true);
    const found: string[] = [];
    for (const file of files) {
      const text = (await readFile(file)).toString('utf8');
      found.push(...findAddresses(text, path.relative(dataDir, file)));
    }
    expect(found).toEqual([]);
  });

  test('stored records decrypt to the addresses', async () => {
    const cipher = createAddressCipher({ key: KEY });
    for (const [address, receipt] of receipts) {
      const record = await stack.api.store.getAddress(receipt);
      expect(record).not.toBeNull();
      if (record === null) continue;
      expect(await cipher.open(receipt, record)).toBe(address.normalize('NFC'));
    }
  });
});
