// Submit -> pull request -> merge -> rebuild on one machine, with the forge failing the ways
// GitHub does: 5xx before any effect, 429 with retry-after, and writes that take effect but lose
// their response, so that the retry meets 422 "already exists". One merge happens on the forge
// while webhook delivery is stopped, and reconciliation repairs it. At the end every comment is
// exactly one merged pull request and one file, and the sites were rebuilt from the last merge.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ApiConfig } from '../../api/config.ts';
import { createGitHubForge, createOctokit, LOCAL_FORGE_SPACING } from '../../api/forge/github.ts';
import {
  startLocalForge,
  type FaultDecision,
  type FaultRequest,
  type LocalForge,
} from '../../api/forge/local/index.ts';
import type { ForgeClient } from '../../api/forge/types.ts';
import { startApiServer, type ApiServer } from '../../api/node/server.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { createSiteBuilder, type SiteBuilder } from '../../api/sites/builder.ts';
import { builderDeployment } from '../../api/sites/deployments.ts';

const run = promisify(execFile);
const repositoryRoot = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'e2e-forge-token-0123456789';
const PUBLIC_ORIGIN = 'http://127.0.0.1:4321';
const POST = { id: 'welcome', path: 'posts/welcome-to-marginalia/index.html' };
const CONFIG: ApiConfig = {
  publicSiteUrl: PUBLIC_ORIGIN,
  internalSiteUrl: 'http://127.0.0.1:4322',
  apiPublicUrl: 'http://127.0.0.1:8787',
  staffToken: 'e2e-staff-token-0123456789',
  webhookSecret: 'e2e-webhook-secret-0123456789',
  rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
};

/** Forwards webhooks to the API while on, and returns 503 while off, as a stopped API would. */
interface WebhookSwitch {
  url: string;
  target: string;
  on: boolean;
  close(): Promise<void>;
}

async function startWebhookSwitch(): Promise<WebhookSwitch> {
  const relay: WebhookSwitch = { url: '', target: '', on: true, close: async () => {} };
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(Buffer.from(chunk));
    if (!relay.on || relay.target === '') {
      response.writeHead(503).end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of [
      'content-type',
      'x-github-event',
      'x-github-delivery',
      'x-hub-signature-256',
    ]) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const forwarded = await fetch(relay.target, {
      method: 'POST',
      headers,
      body: Buffer.concat(chunks),
    });
    response.writeHead(forwarded.status).end(await forwarded.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  relay.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return relay;
}

/** Faults by operation: the Nth request of an operation gets the Nth decision in its list. */
const FAULT_PLAN: Record<string, Array<FaultDecision | undefined>> = {
  'git/create-ref': [
    { kind: 'fail', status: 503 },
    { kind: 'fail-after-effect', status: 502 },
  ],
  'pulls/create': [
    { kind: 'fail', status: 429, retryAfterSeconds: 1 },
    { kind: 'fail-after-effect', status: 502 },
  ],
  'repos/create-or-update-file-contents': [
    undefined,
    undefined,
    { kind: 'fail-after-effect', status: 504 },
  ],
};

const faultCounts = new Map<string, number>();
const injected: string[] = [];

function plannedFault(request: FaultRequest): FaultDecision | undefined {
  if (request.operation === null) return undefined;
  const count = faultCounts.get(request.operation) ?? 0;
  faultCounts.set(request.operation, count + 1);
  const decision = FAULT_PLAN[request.operation]?.[count];
  if (decision !== undefined) injected.push(`${request.operation} ${decision.kind}`);
  return decision;
}

let dataDir: string;
let relay: WebhookSwitch;
let forge: LocalForge;
let client: ForgeClient;
let builder: SiteBuilder;
let api: ApiServer;
const merges: string[] = [];
const log: string[] = [];

async function git(...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', forge.repoPath, ...args]);
  return stdout.trim();
}

async function submit(text: string): Promise<string> {
  const response = await fetch(`${api.url}/api/comments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
    body: JSON.stringify({ post: POST.id, author: 'Ada Reader', text }),
  });
  expect(response.status).toBe(202);
  const body = (await response.json()) as { receipt: string };
  return body.receipt;
}

async function status(receipt: string): Promise<string | undefined> {
  return (await api.store.get(receipt))?.status;
}

interface ForgePull {
  number: number;
  state: string;
  merged_at: string | null;
  head: { ref: string };
}

async function allPulls(): Promise<ForgePull[]> {
  const response = await fetch(`${forge.url}/repos/marginalia/blog/pulls?state=all&per_page=100`, {
    headers: { authorization: `token ${TOKEN}` },
  });
  return (await response.json()) as ForgePull[];
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-reconcile-e2e-'));
  const logger = createJsonLogger(
    (line) => log.push(line),
    () => new Date(),
  );
  relay = await startWebhookSwitch();
  forge = await startLocalForge({
    dataDir: path.join(dataDir, 'forge'),
    owner: 'marginalia',
    repo: 'blog',
    baseBranch: 'main',
    token: TOKEN,
    webhook: { url: relay.url, secret: CONFIG.webhookSecret, retryDelaysMs: [50, 100] },
    seed: { directory: path.join(repositoryRoot, 'content'), prefix: 'content' },
    faults: plannedFault,
  });
  builder = createSiteBuilder({
    repository: forge.repoPath,
    baseBranch: 'main',
    workDir: path.join(dataDir, 'build'),
    siteEnv: {
      PUBLIC_API_URL: CONFIG.apiPublicUrl,
      PUBLIC_SITE_URL: CONFIG.publicSiteUrl,
      INTERNAL_SITE_URL: CONFIG.internalSiteUrl,
    },
    logger,
  });
  const first = await builder.rebuild('start');
  if (!first.ok) throw new Error(`first build failed: ${first.error}`);
  client = createGitHubForge({
    octokit: createOctokit({ baseUrl: forge.url, token: TOKEN, ...LOCAL_FORGE_SPACING }),
    owner: 'marginalia',
    repo: 'blog',
    baseBranch: 'main',
    committer: { name: 'Marginalia', email: 'marginalia@localhost' },
    logger,
  });
  api = await startApiServer({
    config: CONFIG,
    forge: client,
    dataDir: path.join(dataDir, 'api'),
    contentDir: builder.contentDir(),
    logger,
    backoff: { baseMs: 50, maxMs: 2_000 },
    onMerged: (sha) => {
      merges.push(sha);
      builder.rebuild(`merge ${sha}`).catch(() => undefined);
    },
    sites: [builderDeployment(builder, logger)],
  });
  relay.target = `${api.url}/api/webhooks/forge`;
}, 300_000);

afterAll(async () => {
  await api?.close();
  await forge?.close();
  await relay?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('pipeline with forge faults and a lost webhook', () => {
  const receipts: string[] = [];

  test('every comment becomes a pull request despite faults', async () => {
    for (let index = 1; index <= 4; index += 1) {
      receipts.push(await submit(`Comment number ${index} from the reconcile run.`));
    }
    for (const receipt of receipts) {
      await expect.poll(() => status(receipt), { timeout: 60_000 }).toBe('proposed');
    }
    expect(injected).toEqual(
      expect.arrayContaining([
        'git/create-ref fail',
        'git/create-ref fail-after-effect',
        'pulls/create fail',
        'pulls/create fail-after-effect',
        'repos/create-or-update-file-contents fail-after-effect',
      ]),
    );
    // The retries after the lost responses got the forge's 422 "already exists" responses. A retry
    // after a lost commit finds the file on the existing branch and skips the commit.
    const conflicts = log
      .map((line) => JSON.parse(line) as { message: string; operation?: string; status?: number })
      .filter((entry) => entry.message === 'forge request' && entry.status === 422)
      .map((entry) => entry.operation);
    expect(conflicts).toEqual(expect.arrayContaining(['create branch', 'open pull request']));
    const pulls = await allPulls();
    for (const receipt of receipts) {
      expect(pulls.filter((pull) => pull.head.ref === `comments/${receipt}`)).toHaveLength(1);
    }
  }, 120_000);

  test('staff approve three with webhooks on', async () => {
    for (const receipt of receipts.slice(0, 3)) {
      const response = await fetch(`${api.url}/api/staff/comments/${receipt}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CONFIG.staffToken}` },
      });
      expect(response.status).toBe(200);
      expect(await status(receipt)).toBe('published');
    }
    await forge.webhooksIdle();
    expect(merges).toHaveLength(3);
  });

  test('a merge during a webhook outage is repaired by reconcile', async () => {
    const last = receipts[3] ?? '';
    const number = (await api.store.get(last))?.pullRequest?.number;
    if (number === undefined) throw new Error('the last comment has no pull request');
    relay.on = false;
    const merge = await client.mergePullRequest(number);
    await forge.webhooksIdle();
    relay.on = true;
    const lost = forge
      .deliveries()
      .filter((delivery) => delivery.event === 'pull_request' && !delivery.delivered);
    expect(lost).toHaveLength(1);
    expect(await status(last)).toBe('proposed');

    const summary = await api.reconcile({ minAgeMs: 0 });

    expect(summary.published).toBe(1);
    expect(summary.mergesRecorded).toBe(1);
    expect(summary.branchesDeleted).toBe(1);
    expect(await status(last)).toBe('published');
    expect(merges.filter((sha) => sha === merge.sha)).toHaveLength(1);
    expect(await git('for-each-ref', 'refs/heads/comments/')).toBe('');
  });

  test('a second reconcile changes nothing', async () => {
    const summary = await api.reconcile({ minAgeMs: 0 });
    expect(summary.published + summary.declined + summary.proposed).toBe(0);
    expect(summary.mergesRecorded).toBe(0);
    expect(summary.branchesDeleted).toBe(0);
    expect(new Set(merges).size).toBe(merges.length);
  });

  test('each comment is one merged pull request and one file', async () => {
    const pulls = await allPulls();
    const files = (await git('ls-tree', '-r', '--name-only', 'main', 'content/comments/welcome'))
      .split('\n')
      .filter((line) => line !== '');
    for (const receipt of receipts) {
      const own = pulls.filter((pull) => pull.head.ref === `comments/${receipt}`);
      expect(own).toHaveLength(1);
      expect(own[0]?.merged_at).not.toBeNull();
      expect(files.filter((file) => file.includes(receipt))).toEqual([
        `content/comments/welcome/${receipt}.md`,
      ]);
    }
  });

  test('the sites are rebuilt from the last merge', async () => {
    const head = await git('rev-parse', 'main');
    // The merges started the builds; the test only waits for one of the head commit.
    await expect
      .poll(() => builder.history().some((record) => record.ok && record.sha === head), {
        timeout: 200_000,
        interval: 500,
      })
      .toBe(true);
    const summary = await api.reconcile({ minAgeMs: 0 });
    expect(summary.sitesRebuilt).toBe(0);
    const folder = builder.current('public');
    if (folder === null) throw new Error('no public site was built');
    const page = await readFile(path.join(folder, POST.path), 'utf8');
    for (const receipt of receipts) expect(page).toContain(`comment-${receipt}`);
  }, 240_000);
});
