import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeliveryWorker } from '../../api/delivery/worker.ts';
import { startApiServer, type ApiServer } from '../../api/node/server.ts';
import { openSqliteStore } from '../../api/outbox/sqlite-store.ts';
import type { CommentStore } from '../../api/outbox/types.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { createMemoryForge, type MemoryForge } from '../support/memory-forge.ts';
import {
  CONFIG,
  PUBLIC_ORIGIN,
  POSTS,
  VALID_COMMENT,
  createHarness,
  manualClock,
  submitComment,
} from './harness.ts';

const POST_FILE = `---
id: hello-world
title: "Hello, world"
date: 2026-01-05
visibility: public
comments: open
---

The first post.
`;

let dir: string;
let servers: ApiServer[];
let forge: MemoryForge;
const logs: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'marginalia-durable-'));
  await mkdir(join(dir, 'content', 'posts'), { recursive: true });
  await writeFile(join(dir, 'content', 'posts', 'hello.md'), POST_FILE);
  servers = [];
  forge = createMemoryForge();
});
afterEach(async () => {
  for (const server of servers) await server.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function start(startWorker: boolean): Promise<ApiServer> {
  const server = await startApiServer({
    config: CONFIG,
    forge,
    dataDir: join(dir, 'data'),
    contentDir: join(dir, 'content'),
    port: 0,
    startWorker,
    logger: createJsonLogger(
      (line) => logs.push(line),
      () => new Date(),
    ),
  });
  servers.push(server);
  return server;
}

async function submitOverHttp(server: ApiServer): Promise<string> {
  const response = await fetch(`${server.url}/api/comments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
    body: JSON.stringify(VALID_COMMENT),
  });
  expect(response.status).toBe(202);
  const json: unknown = await response.json();
  if (typeof json !== 'object' || json === null || !('receipt' in json))
    throw new Error('no receipt');
  return String(json.receipt);
}

describe('durable outbox', () => {
  it('has committed the comment when it answers 202', async () => {
    const server = await start(false);
    const receipt = await submitOverHttp(server);
    const reader = new DatabaseSync(join(dir, 'data', 'outbox.sqlite'), { readOnly: true });
    const row = reader.prepare('SELECT status, body FROM comments WHERE id = ?').get(receipt);
    reader.close();
    expect(row).toEqual({ status: 'received', body: VALID_COMMENT.text });
  });

  it('delivers a comment accepted before a restart', async () => {
    const first = await start(false);
    const receipt = await submitOverHttp(first);
    await first.close();
    expect(forge.pulls).toHaveLength(0);

    const second = await start(false);
    await second.worker.drain();
    expect(forge.pulls.map((pull) => pull.commentId)).toEqual([receipt]);
    const status = await fetch(`${second.url}/api/comments/${receipt}`);
    expect(await status.json()).toMatchObject({ status: 'proposed' });
  });

  it('delivers in the background once started', async () => {
    const server = await start(true);
    const receipt = await submitOverHttp(server);
    for (let i = 0; i < 200 && forge.pulls.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(forge.pulls.map((pull) => pull.commentId)).toEqual([receipt]);
  });

  it('reads posts from the content folder', async () => {
    const server = await start(false);
    const response = await fetch(`${server.url}/api/comments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
      body: JSON.stringify({ ...VALID_COMMENT, post: 'not-in-content' }),
    });
    expect(response.status).toBe(404);
  });
});

describe('crash between forge and outbox', () => {
  it('finds the same pull request on the retry', async () => {
    const harness = await createHarness();
    try {
      const receipt = await submitComment(harness);
      // The forge opens the pull request, then the process dies before the outbox records it.
      const failing: CommentStore = {
        ...harness.store,
        markProposed: async () => {
          throw new Error('process killed');
        },
      };
      const clock = manualClock();
      const logger = createJsonLogger(
        () => undefined,
        () => clock.now(),
      );
      const crashed = createDeliveryWorker({
        store: failing,
        forge: harness.forge,
        posts: POSTS,
        clock,
        logger,
      });
      expect((await crashed.runOnce())?.outcome).toBe('failed');
      expect((await harness.store.get(receipt))?.status).toBe('received');

      harness.clock.advance(5 * 60_000);
      await harness.worker.drain();
      expect(harness.forge.pulls).toHaveLength(1);
      expect((await harness.store.get(receipt))?.status).toBe('proposed');
    } finally {
      await harness.close();
    }
  });

  it('stores the rest of a batch when one row fails', async () => {
    const store = openSqliteStore({ path: join(dir, 'batch.sqlite') });
    const clock = manualClock();
    const options = { now: clock.now(), duplicateWindowMs: 600_000 };
    const comment = (id: string, fingerprint: string) => ({
      id,
      post: 'hello-world',
      parent: null,
      author: 'Ada',
      authorUrl: null,
      visibility: 'public' as const,
      source: 'public' as const,
      body: fingerprint,
      date: clock.now().toISOString(),
      fingerprint,
      idempotencyKey: null,
    });
    const first = store.accept(comment('01hq0000000000000000000001', 'a'), options);
    const clash = store.accept(comment('01hq0000000000000000000001', 'b'), options);
    const third = store.accept(comment('01hq0000000000000000000002', 'c'), options);
    await expect(first).resolves.toHaveProperty('outcome', 'created');
    await expect(clash).rejects.toThrow(/UNIQUE/);
    await expect(third).resolves.toHaveProperty('outcome', 'created');
    await store.close();
  });

  it('reopens the outbox file and keeps every row', async () => {
    const path = join(dir, 'reopen.sqlite');
    const store = openSqliteStore({ path });
    const clock = manualClock();
    const result = await store.accept(
      {
        id: '01hq0000000000000000000000',
        post: 'hello-world',
        parent: null,
        author: 'Ada',
        authorUrl: null,
        visibility: 'public',
        source: 'public',
        body: 'text',
        date: clock.now().toISOString(),
        fingerprint: 'f1',
        idempotencyKey: 'k1',
      },
      { now: clock.now(), duplicateWindowMs: 600_000 },
    );
    expect(result.outcome).toBe('created');
    await store.close();
    const reopened = openSqliteStore({ path });
    expect((await reopened.get('01hq0000000000000000000000'))?.idempotencyKey).toBe('k1');
    await reopened.close();
  });
});
