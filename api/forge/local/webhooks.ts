// Webhook deliveries of the local forge, signed as GitHub signs them: `X-Hub-Signature-256` is
// "sha256=" and the hex HMAC-SHA256 of the raw body under the shared secret. GitHub does not retry
// a failed delivery. The local forge retries a few times with backoff, because on one machine the
// API may still be starting. It keeps a log of deliveries so that tests can inspect and redeliver.

import { createHmac } from 'node:crypto';
import type { ForgeLogger } from '../types.ts';

export interface WebhookOptions {
  url: string;
  secret: string;
  /** Waits before each retry of a failed delivery; its length is the number of retries. */
  retryDelaysMs?: readonly number[];
  /** Per-attempt time-out; GitHub's is 10 s. */
  timeoutMs?: number;
}

export interface DeliveryAttempt {
  at: string;
  /** HTTP status of the receiver's response, or null when none arrived. */
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface WebhookDelivery {
  /** Sent as X-GitHub-Delivery; a redelivery reuses it, as GitHub's redelivery does. */
  id: string;
  event: string;
  action: string | null;
  /** The exact bytes that were signed and sent. */
  body: string;
  attempts: DeliveryAttempt[];
  delivered: boolean;
}

export interface WebhookSender {
  /** Signs and sends an event in the background; returns its log entry. */
  send(event: string, payload: Record<string, unknown>): WebhookDelivery;
  /** Every delivery so far, oldest first. */
  deliveries(): readonly WebhookDelivery[];
  /** Sends a logged delivery again, with the same id and body, and waits for the attempt. */
  redeliver(id: string): Promise<WebhookDelivery>;
  /** Resolves when no delivery is in flight or waiting for a retry. */
  idle(): Promise<void>;
  /** Cancels waiting retries and in-flight attempts. */
  close(): void;
}

export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const DEFAULT_RETRY_DELAYS_MS = [1_000, 4_000, 16_000];

export function createWebhookSender(dependencies: {
  options: WebhookOptions;
  hookId: number;
  logger: ForgeLogger;
  now: () => Date;
  randomId: () => string;
}): WebhookSender {
  const { options, logger } = dependencies;
  const retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const log: WebhookDelivery[] = [];
  const pending = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  const shutdown = new AbortController();

  async function attempt(delivery: WebhookDelivery): Promise<boolean> {
    const started = Date.now();
    const record: DeliveryAttempt = {
      at: dependencies.now().toISOString(),
      status: null,
      error: null,
      durationMs: 0,
    };
    delivery.attempts.push(record);
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        body: delivery.body,
        signal: AbortSignal.any([shutdown.signal, AbortSignal.timeout(timeoutMs)]),
        headers: {
          'content-type': 'application/json',
          'user-agent': `GitHub-Hookshot/local-forge`,
          'x-github-event': delivery.event,
          'x-github-delivery': delivery.id,
          'x-github-hook-id': String(dependencies.hookId),
          'x-hub-signature-256': signWebhookBody(options.secret, delivery.body),
        },
      });
      await response.arrayBuffer();
      record.status = response.status;
      if (!response.ok) record.error = `The receiver answered HTTP ${response.status}.`;
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    }
    record.durationMs = Date.now() - started;
    const ok = record.error === null;
    delivery.delivered ||= ok;
    const fields = {
      delivery: delivery.id,
      event: delivery.event,
      action: delivery.action,
      attempt: delivery.attempts.length,
      status: record.status,
      elapsedMs: record.durationMs,
    };
    if (ok) logger.info('webhook delivered', fields);
    else logger.warn('webhook delivery failed', { ...fields, error: record.error });
    return ok;
  }

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
      shutdown.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve();
      });
    });
  }

  async function deliverWithRetries(delivery: WebhookDelivery): Promise<void> {
    if (await attempt(delivery)) return;
    for (const delay of retryDelays) {
      await wait(delay);
      if (shutdown.signal.aborted) return;
      if (await attempt(delivery)) return;
    }
    logger.error('webhook delivery gave up; redeliver it once the receiver is back', {
      delivery: delivery.id,
      event: delivery.event,
      attempts: delivery.attempts.length,
    });
  }

  function track(work: Promise<void>): void {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  }

  return {
    send(event, payload) {
      const action = typeof payload['action'] === 'string' ? payload['action'] : null;
      const delivery: WebhookDelivery = {
        id: dependencies.randomId(),
        event,
        action,
        body: JSON.stringify(payload),
        attempts: [],
        delivered: false,
      };
      log.push(delivery);
      track(deliverWithRetries(delivery));
      return delivery;
    },
    deliveries: () => log,
    async redeliver(id) {
      const delivery = log.find((entry) => entry.id === id);
      if (delivery === undefined) throw new Error(`No webhook delivery has id ${id}.`);
      const work = attempt(delivery).then(() => undefined);
      track(work);
      await work;
      return delivery;
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    close() {
      shutdown.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
