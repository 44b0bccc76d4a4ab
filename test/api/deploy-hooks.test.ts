// Deploy hooks against a real HTTP server on 127.0.0.1 that acts as the hosts' deploy hook
// endpoints: it counts POSTs per site and sha, and can fail the next requests.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError } from '../../api/config.ts';
import { reconcile } from '../../api/delivery/reconcile.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  createDeployHooks,
  createMemoryTriggerLog,
  parseDeployHookConfig,
  type DeployHooks,
  type DeployTriggerLog,
} from '../../api/sites/deploy-hooks.ts';
import { openSqliteTriggerLog } from '../../api/sites/deploy-trigger-log.ts';
import {
  hostedDeployments,
  urlDeployedCommit,
  type DeployedCommit,
} from '../../api/sites/deployments.ts';
import { closedPayload, createHarness, sendWebhook, submitComment } from './harness.ts';

const SHA = 'a1'.repeat(20);
const OTHER_SHA = 'b2'.repeat(20);

interface HookHost {
  url: string;
  /** POSTs received, keyed by `<site> <sha>`. */
  posts: Map<string, number>;
  /** Responses for the next requests, used in order; 204 once it is empty. */
  failures: Array<{ status: number; retryAfter?: string }>;
  /** Body served at GET /commit/<site>. */
  commits: Map<string, string>;
  close(): Promise<void>;
}

async function startHookHost(): Promise<HookHost> {
  const host: HookHost = {
    url: '',
    posts: new Map(),
    failures: [],
    commits: new Map(),
    close: async () => {},
  };
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(Buffer.from(chunk));
    const path = request.url ?? '/';
    if (request.method === 'GET' && path.startsWith('/commit/')) {
      const body = host.commits.get(path.slice('/commit/'.length));
      if (body === undefined) response.writeHead(404).end('not found');
      else response.writeHead(200, { 'content-type': 'text/plain' }).end(body);
      return;
    }
    const site = path.replace(/^\/hooks\//, '');
    const { sha } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { sha: string };
    const key = `${site} ${sha}`;
    host.posts.set(key, (host.posts.get(key) ?? 0) + 1);
    const failure = host.failures.shift();
    if (failure !== undefined) {
      const headers = failure.retryAfter === undefined ? {} : { 'retry-after': failure.retryAfter };
      response.writeHead(failure.status, headers).end('{"error":"unavailable"}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"build-1"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  host.url = `http://127.0.0.1:${address.port}`;
  host.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return host;
}

let host: HookHost;
let logs: string[];
let waits: number[];

function hooksWith(log: DeployTriggerLog, attempts = 4): DeployHooks {
  return createDeployHooks({
    hooks: { public: `${host.url}/hooks/public`, internal: `${host.url}/hooks/internal` },
    log,
    logger: createJsonLogger(
      (line) => logs.push(line),
      () => new Date(),
    ),
    retry: { attempts, initialDelayMs: 5, maxDelayMs: 50 },
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
}

function reasonOf(read: DeployedCommit): string {
  return read.known ? '' : read.reason;
}

function messages(): string[] {
  return logs.map((line) => String((JSON.parse(line) as { message: string }).message));
}

beforeEach(async () => {
  host = await startHookHost();
  logs = [];
  waits = [];
});

afterEach(async () => {
  await host.close();
});

describe('deploy hook config', () => {
  test('reads both hook URLs', () => {
    const config = parseDeployHookConfig({
      MARGINALIA_PUBLIC_DEPLOY_HOOK_URL: 'https://hooks.example/public',
      MARGINALIA_INTERNAL_DEPLOY_HOOK_URL: ' http://127.0.0.1:9000/internal ',
      MARGINALIA_PUBLIC_DEPLOYED_COMMIT_URL: 'https://blog.example/commit.txt',
    });
    expect(config.hooks).toEqual({
      public: 'https://hooks.example/public',
      internal: 'http://127.0.0.1:9000/internal',
    });
    expect(config.deployedCommitUrls).toEqual({ public: 'https://blog.example/commit.txt' });
  });

  test('treats unset and empty as no hook', () => {
    const config = parseDeployHookConfig({ MARGINALIA_PUBLIC_DEPLOY_HOOK_URL: '' });
    expect(config.hooks).toEqual({});
  });

  test.each([
    ['MARGINALIA_PUBLIC_DEPLOY_HOOK_URL', 'ftp://hooks.example/public'],
    ['MARGINALIA_INTERNAL_DEPLOY_HOOK_URL', 'not a url'],
    ['MARGINALIA_INTERNAL_DEPLOYED_COMMIT_URL', 'file:///etc/hostname'],
  ])('rejects %s=%s naming the variable', (variable, value) => {
    let caught: unknown;
    try {
      parseDeployHookConfig({ [variable]: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message).toContain('http or https');
  });
});

describe('deploy hooks', () => {
  test('posts once per site for a merge', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());

    const results = await hooks.trigger(SHA, 'merge');

    expect(results.map((result) => result.outcome)).toEqual(['triggered', 'triggered']);
    expect(host.posts.get(`public ${SHA}`)).toBe(1);
    expect(host.posts.get(`internal ${SHA}`)).toBe(1);
  });

  test('skips a sha already triggered', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());
    await hooks.trigger(SHA, 'webhook');

    const again = await hooks.trigger(SHA, 'redelivered webhook');
    await hooks.trigger(OTHER_SHA, 'next merge');

    expect(again.map((result) => result.outcome)).toEqual(['skipped', 'skipped']);
    expect(host.posts.get(`public ${SHA}`)).toBe(1);
    expect(host.posts.get(`internal ${SHA}`)).toBe(1);
    expect(host.posts.get(`public ${OTHER_SHA}`)).toBe(1);
  });

  test('sends one POST for concurrent triggers', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());

    await Promise.all([hooks.trigger(SHA, 'webhook'), hooks.trigger(SHA, 'reconcile')]);

    expect(host.posts.get(`public ${SHA}`)).toBe(1);
    expect(host.posts.get(`internal ${SHA}`)).toBe(1);
  });

  test('retries failures then succeeds', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());
    host.failures.push({ status: 503 }, { status: 502 });

    const result = await hooks.triggerSite('public', SHA, 'merge');

    expect(result).toEqual({ site: 'public', sha: SHA, outcome: 'triggered', attempts: 3 });
    expect(host.posts.get(`public ${SHA}`)).toBe(3);
    expect(waits).toEqual([5, 10]);
    expect(messages()).toEqual([
      'deploy hook attempt failed, will retry',
      'deploy hook attempt failed, will retry',
      'deploy hook triggered',
    ]);
  });

  test('waits out retry-after on a 429', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());
    host.failures.push({ status: 429, retryAfter: '0.03' });

    const result = await hooks.triggerSite('internal', SHA, 'merge');

    expect(result.outcome).toBe('triggered');
    expect(waits).toEqual([30]);
  });

  test('does not retry a 404', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());
    host.failures.push({ status: 404 });

    const result = await hooks.triggerSite('public', SHA, 'merge');

    expect(result).toEqual({ site: 'public', sha: SHA, outcome: 'failed', attempts: 1 });
    expect(waits).toEqual([]);
  });

  test('triggers again after every attempt failed', async () => {
    const log = createMemoryTriggerLog();
    const hooks = hooksWith(log, 2);
    host.failures.push({ status: 500 }, { status: 500 });

    const failed = await hooks.triggerSite('public', SHA, 'merge');
    const retried = await hooks.triggerSite('public', SHA, 'reconcile');

    expect(failed.outcome).toBe('failed');
    expect(retried.outcome).toBe('triggered');
    expect(host.posts.get(`public ${SHA}`)).toBe(3);
    expect(log.entries()).toEqual([`public ${SHA}`]);
  });

  test('never logs the hook URL', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());
    host.failures.push({ status: 503 });
    await hooks.trigger(SHA, 'merge');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.some((line) => line.includes('/hooks/'))).toBe(false);
  });

  test('keeps triggers across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'marginalia-deploy-log-'));
    try {
      const first = openSqliteTriggerLog(join(dir, 'deploy-triggers.sqlite'));
      await hooksWith(first).trigger(SHA, 'merge');
      first.close();

      const reopened = openSqliteTriggerLog(join(dir, 'deploy-triggers.sqlite'));
      const results = await hooksWith(reopened).trigger(SHA, 'redelivered webhook');
      reopened.close();

      expect(results.map((result) => result.outcome)).toEqual(['skipped', 'skipped']);
      expect(host.posts.get(`public ${SHA}`)).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy hooks with webhooks and reconcile', () => {
  test('one trigger per site when reconcile and a late webhook report one merge', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());
    const harness = await createHarness({
      onMerged: async (sha) => {
        await hooks.trigger(sha, 'webhook');
      },
    });
    try {
      const receipt = await submitComment(harness);
      await harness.worker.drain();
      const pull = harness.forge.pulls[0];
      if (pull === undefined) throw new Error('no pull request');
      const merge = await harness.forge.mergePullRequest(pull.number);
      harness.clock.advance(120_000);

      const summary = await reconcile({
        store: harness.store,
        forge: harness.forge,
        clock: harness.clock,
        logger: createJsonLogger(
          (line) => logs.push(line),
          () => new Date(),
        ),
        onMerged: async (sha) => {
          await hooks.trigger(sha, 'reconcile');
        },
      });
      const webhook = await sendWebhook(harness, closedPayload(receipt, true, merge.sha));
      const redelivered = await sendWebhook(harness, closedPayload(receipt, true, merge.sha), {
        deliveryId: 'another-delivery-id',
      });

      expect(summary.mergesRecorded).toBe(1);
      expect(webhook.status).toBe(200);
      expect(redelivered.status).toBe(200);
      expect(host.posts.get(`public ${merge.sha}`)).toBe(1);
      expect(host.posts.get(`internal ${merge.sha}`)).toBe(1);
    } finally {
      await harness.close();
    }
  });
});

describe('deployed commit of a hosted site', () => {
  test('reads a sha from the commit URL', async () => {
    host.commits.set('public', `${SHA}\n`);
    const source = urlDeployedCommit({ url: `${host.url}/commit/public` });
    expect(await source.read()).toEqual({ known: true, sha: SHA });
  });

  test('reports a missing commit with the reason', async () => {
    const source = urlDeployedCommit({ url: `${host.url}/commit/internal` });
    const read = await source.read();
    expect(read.known).toBe(false);
    expect(reasonOf(read)).toContain('HTTP 404');
  });

  test('reports a body without a sha', async () => {
    host.commits.set('public', 'deployed yesterday');
    const source = urlDeployedCommit({ url: `${host.url}/commit/public` });
    const read = await source.read();
    expect(read.known).toBe(false);
    expect(reasonOf(read)).toContain('no 40-digit commit sha');
  });

  test('rebuilds a lagging hosted site through its hook once', async () => {
    const hooks = hooksWith(createMemoryTriggerLog());
    host.commits.set('public', OTHER_SHA);
    const config = parseDeployHookConfig({
      MARGINALIA_PUBLIC_DEPLOY_HOOK_URL: `${host.url}/hooks/public`,
      MARGINALIA_INTERNAL_DEPLOY_HOOK_URL: `${host.url}/hooks/internal`,
      MARGINALIA_PUBLIC_DEPLOYED_COMMIT_URL: `${host.url}/commit/public`,
    });
    const [publicSite, internalSite] = hostedDeployments(config, hooks);
    if (publicSite === undefined || internalSite === undefined) throw new Error('two sites');

    expect(await publicSite.rebuild(SHA, 'reconcile')).toBe(true);
    expect(await publicSite.rebuild(SHA, 'reconcile')).toBe(false);
    expect(await publicSite.deployed.read()).toEqual({ known: true, sha: OTHER_SHA });
    const internalRead = await internalSite.deployed.read();
    expect(internalRead.known).toBe(false);
    expect(reasonOf(internalRead)).toContain('MARGINALIA_INTERNAL_DEPLOYED_COMMIT_URL is not set');
    expect(host.posts.get(`public ${SHA}`)).toBe(1);
  });
});
