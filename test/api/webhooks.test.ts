import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../../api/routes/webhooks.ts';
import {
  CONFIG,
  closedPayload,
  createHarness,
  readJson,
  sendWebhook,
  submitComment,
  type Harness,
} from './harness.ts';

let harness: Harness;
let receipt: string;
beforeEach(async () => {
  harness = await createHarness();
  receipt = await submitComment(harness);
  await harness.worker.drain();
});
afterEach(async () => {
  await harness.close();
});

const MERGE_SHA = 'c0ffee'.padEnd(40, '0');

describe('webhook signature', () => {
  it('rejects a webhook without a signature', async () => {
    const response = await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA), {
      signature: null,
    });
    expect(response.status).toBe(401);
    expect((await harness.store.get(receipt))?.status).toBe('proposed');
  });

  it('rejects a signature made with another secret', async () => {
    const payload = closedPayload(receipt, true, MERGE_SHA);
    const signature = signBody('another-secret-0123456789', JSON.stringify(payload));
    const response = await sendWebhook(harness, payload, { signature });
    expect(response.status).toBe(401);
  });

  it('rejects a signature of another body', async () => {
    const old = JSON.stringify(closedPayload(receipt, false));
    const response = await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA), {
      signature: signBody(CONFIG.webhookSecret, old),
    });
    expect(response.status).toBe(401);
    expect(harness.merged).toEqual([]);
  });

  it.each(['sha256=', 'sha256=zz', 'sha1=abcd', `sha256=${'0'.repeat(63)}`])(
    'rejects the malformed signature %s',
    async (signature) => {
      const response = await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA), {
        signature,
      });
      expect(response.status).toBe(401);
    },
  );

  it('verifies a signature over the raw bytes', () => {
    const body = new TextEncoder().encode('{"a": 1}');
    expect(verifySignature('k'.repeat(16), body, signBody('k'.repeat(16), body))).toBe(true);
  });

  it('answers a signed ping with 200', async () => {
    const response = await sendWebhook(harness, { zen: 'Keep it simple.' }, { event: 'ping' });
    expect(response.status).toBe(200);
  });
});

describe('closed pull request', () => {
  it('marks a merged comment published', async () => {
    const response = await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA));
    expect(response.status).toBe(200);
    expect((await harness.store.get(receipt))?.status).toBe('published');
  });

  it('rebuilds once for the merge commit', async () => {
    await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(harness.merged).toEqual([MERGE_SHA]);
  });

  it('marks a closed, unmerged comment declined', async () => {
    await sendWebhook(harness, closedPayload(receipt, false));
    expect((await harness.store.get(receipt))?.status).toBe('declined');
    expect(harness.merged).toEqual([]);
  });

  it('deletes the comment branch', async () => {
    await sendWebhook(harness, closedPayload(receipt, false));
    expect(harness.forge.deletedBranches).toEqual([`comments/${receipt}`]);
  });

  it('answers 200 when deleting the branch fails', async () => {
    harness.forge.failNext('deleteBranch', new Error('forge unavailable'));
    const response = await sendWebhook(harness, closedPayload(receipt, false));
    expect(response.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(harness.logs.join('')).toContain('deleting comment branch failed');
  });

  it('changes nothing on a redelivery', async () => {
    await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA), { deliveryId: 'd-1' });
    const response = await sendWebhook(harness, closedPayload(receipt, false), {
      deliveryId: 'd-1',
    });
    expect(response.status).toBe(200);
    expect(await readJson(response)).toHaveProperty('duplicate', true);
    expect((await harness.store.get(receipt))?.status).toBe('published');
    expect(harness.forge.deletedBranches).toHaveLength(1);
  });

  it('rebuilds once when two deliveries report the same merge', async () => {
    await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA));
    await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(harness.merged).toEqual([MERGE_SHA]);
  });

  it('does not decline a published comment', async () => {
    await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA));
    await sendWebhook(harness, closedPayload(receipt, false));
    expect((await harness.store.get(receipt))?.status).toBe('published');
  });

  it('ignores a pull request that is not a comment', async () => {
    const payload = { ...closedPayload(receipt, true, MERGE_SHA) };
    payload.pull_request.head.ref = 'feature/new-layout';
    const response = await sendWebhook(harness, payload);
    expect(response.status).toBe(202);
    expect((await harness.store.get(receipt))?.status).toBe('proposed');
  });

  it('ignores other pull request actions', async () => {
    const payload = { ...closedPayload(receipt, true, MERGE_SHA), action: 'opened' };
    const response = await sendWebhook(harness, payload);
    expect(response.status).toBe(202);
    expect((await harness.store.get(receipt))?.status).toBe('proposed');
  });

  it('requires a delivery id', async () => {
    const response = await sendWebhook(harness, closedPayload(receipt, true, MERGE_SHA), {
      deliveryId: '',
    });
    expect(response.status).toBe(400);
  });
});
