// The local stack with deploy hooks configured: an approved comment triggers each hosted site's
// hook once for its merge commit, besides the local rebuild. A real HTTP server on 127.0.0.1
// acts as the hosts.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startLocalStack, type LocalStack } from '../../api/node/local-stack.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { parseDeployHookConfig } from '../../api/sites/deploy-hooks.ts';

const repositoryRoot = path.resolve(import.meta.dirname, '../..');

let stack: LocalStack;
let dataDir: string;
let hookServer: Server;
/** POSTs received, as `<path> <sha>`. */
const posts: string[] = [];

beforeAll(async () => {
  hookServer = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(Buffer.from(chunk));
    const { sha } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { sha: string };
    posts.push(`${request.url} ${sha}`);
    response.writeHead(200).end('{}');
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}`;

  dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-stack-hooks-'));
  stack = await startLocalStack({
    dataDir,
    seedContentDir: path.join(repositoryRoot, 'content'),
    ports: { forge: 0, api: 0, public: 0, internal: 0 },
    logger: createJsonLogger(
      () => undefined,
      () => new Date(),
    ),
    reconcileIntervalMs: false,
    deployHooks: parseDeployHookConfig({
      MARGINALIA_PUBLIC_DEPLOY_HOOK_URL: `${hookUrl}/public`,
      MARGINALIA_INTERNAL_DEPLOY_HOOK_URL: `${hookUrl}/internal`,
    }),
  });
  const first = await stack.firstBuild;
  if (!first.ok) throw new Error(`first build failed: ${first.error}`);
}, 300_000);

afterAll(async () => {
  await stack?.close();
  await new Promise<void>((resolve) => hookServer?.close(() => resolve()));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('local stack with deploy hooks', () => {
  test('a merge triggers each hook once', async () => {
    const submitted = await fetch(`${stack.urls.api}/api/comments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: stack.urls.public },
      body: JSON.stringify({ post: 'welcome', author: 'Ada', text: 'Deploy hooks, please.' }),
    });
    expect(submitted.status).toBe(202);
    const { receipt } = (await submitted.json()) as { receipt: string };
    await expect
      .poll(async () => (await stack.api.store.get(receipt))?.status, { timeout: 30_000 })
      .toBe('proposed');

    const approved = await fetch(`${stack.urls.api}/api/staff/comments/${receipt}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.staffToken}` },
    });
    expect(approved.status).toBe(200);
    const { mergeSha } = (await approved.json()) as { mergeSha: string };
    await stack.forge.webhooksIdle();
    await expect.poll(() => posts.length, { timeout: 30_000 }).toBe(2);

    const summary = await stack.api.reconcile({ minAgeMs: 0 });

    expect(posts.sort()).toEqual([`/internal ${mergeSha}`, `/public ${mergeSha}`]);
    expect(summary.mergesRecorded).toBe(0);
    // Neither hosted site has a deployed commit URL, so the lag check skips both.
    expect(summary.sitesSkipped).toBe(2);
  }, 120_000);
});
