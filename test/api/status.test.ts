import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECK_NAMES } from '../../api/monitor/checks.ts';
import {
  VALID_COMMENT,
  closedPayload,
  createHarness,
  postForm,
  readJson,
  sendWebhook,
  submitComment,
  type Harness,
} from './harness.ts';

let harness: Harness;
beforeEach(async () => {
  harness = await createHarness();
});
afterEach(async () => {
  await harness.close();
});

function getStatus(receipt: string, accept = 'application/json') {
  return harness.app.request(`/api/comments/${receipt}`, { headers: { accept } });
}

describe('receipt status', () => {
  it('moves from received to proposed to published', async () => {
    const receipt = await submitComment(harness);
    expect(await readJson(await getStatus(receipt))).toHaveProperty('status', 'received');
    await harness.worker.drain();
    expect(await readJson(await getStatus(receipt))).toHaveProperty('status', 'proposed');
    await sendWebhook(harness, closedPayload(receipt, true, 'a'.repeat(40)));
    expect(await readJson(await getStatus(receipt))).toHaveProperty('status', 'published');
  });

  it('reports declined after a closed pull request', async () => {
    const receipt = await submitComment(harness);
    await harness.worker.drain();
    await sendWebhook(harness, closedPayload(receipt, false));
    expect(await readJson(await getStatus(receipt))).toHaveProperty('status', 'declined');
  });

  it('reports the post and the times', async () => {
    const receipt = await submitComment(harness);
    expect(await readJson(await getStatus(receipt))).toMatchObject({
      receipt,
      post: 'hello-world',
      createdAt: '2026-03-01T12:00:00.000Z',
      updatedAt: '2026-03-01T12:00:00.000Z',
    });
  });

  it('never reports the text or the author', async () => {
    const receipt = await submitComment(harness);
    const text = await (await getStatus(receipt)).text();
    expect(text).not.toContain(VALID_COMMENT.text.slice(0, 10));
    expect(text).not.toContain(VALID_COMMENT.author);
  });

  it('answers 404 with a message for an unknown receipt', async () => {
    const response = await getStatus('01hnothere0000000000000000');
    expect(response.status).toBe(404);
    expect(await readJson(response)).toHaveProperty('error.code', 'receipt_not_found');
  });

  it('answers 404 for a receipt that is not an id', async () => {
    const response = await getStatus('..%2f..%2fetc');
    expect(response.status).toBe(404);
  });
});

describe('health', () => {
  it('is ok with an empty outbox', async () => {
    const response = await harness.app.request('/api/health');
    expect(response.status).toBe(200);
    const json = await readJson(response);
    expect(json).toMatchObject({
      status: 'ok',
      outbox: { depth: 0, oldestAgeSeconds: 0 },
      deadLetters: 0,
      checks: {
        outboxAge: { status: 'ok', value: 0, threshold: 300, unit: 'seconds' },
        deadLetters: { status: 'ok', value: 0, threshold: 0, unit: 'comments' },
        outboxDepth: { status: 'ok', value: 0, threshold: 500 },
        reviewDeadline: { status: 'ok', value: 0 },
      },
      lastDelivery: null,
    });
  });

  it('lists every check with a value, threshold and detail', async () => {
    const json = await readJson(await harness.app.request('/api/health'));
    const checks = json.checks as Record<string, Record<string, unknown>>;
    expect(Object.keys(checks).sort()).toEqual([...CHECK_NAMES].sort());
    for (const check of Object.values(checks)) {
      expect(check).toHaveProperty('value');
      expect(check).toHaveProperty('threshold');
      expect(typeof check['detail']).toBe('string');
    }
  });

  it('is down when a comment waits too long', async () => {
    await submitComment(harness);
    harness.clock.advance(301_000);
    const response = await harness.app.request('/api/health');
    expect(response.status).toBe(503);
    expect(await readJson(response)).toMatchObject({
      status: 'down',
      outbox: { depth: 1, oldestAgeSeconds: 301 },
      checks: { outboxAge: { status: 'down', value: 301, threshold: 300 } },
    });
  });

  it('is degraded past the review deadline', async () => {
    await submitComment(harness);
    await harness.worker.drain();
    harness.clock.advance(73 * 3_600_000);
    const response = await harness.app.request('/api/health');
    expect(response.status).toBe(200);
    expect(await readJson(response)).toMatchObject({
      status: 'degraded',
      checks: { reviewDeadline: { status: 'degraded', value: 1, threshold: 0 } },
    });
  });

  it('reports the last delivery', async () => {
    const receipt = await submitComment(harness);
    await harness.worker.drain();
    const json = await readJson(await harness.app.request('/api/health'));
    expect(json.lastDelivery).toEqual({
      commentId: receipt,
      at: '2026-03-01T12:00:00.000Z',
      outcome: 'proposed',
    });
  });
});

describe('request log', () => {
  it('writes one line per request without the body', async () => {
    const response = await postForm(harness, {
      ...VALID_COMMENT,
      authorUrl: 'https://ada.example',
    });
    const entries = harness.logs
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.message === 'request');
    expect(entries).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: '/api/comments',
        status: 303,
        requestId: response.headers.get('x-request-id'),
        ms: expect.any(Number),
      }),
    ]);
    const all = harness.logs.join('');
    expect(all).not.toContain(VALID_COMMENT.text.slice(0, 10));
    expect(all).not.toContain(VALID_COMMENT.author);
    expect(all).not.toContain('ada.example');
  });

  it('answers an unknown path with 404 JSON', async () => {
    const response = await harness.app.request('/api/nothing');
    expect(response.status).toBe(404);
    expect(await readJson(response)).toHaveProperty('error.code', 'not_found');
  });
});
