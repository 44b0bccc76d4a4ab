// Alert delivery to one chat webhook that may be a Slack incoming webhook or a Discord webhook.
// Alerts carry only a check's name, state, measured value and threshold: the event type has no
// field for comment bodies, email addresses or tokens, and the message is built from its fields
// alone. The webhook URL contains the channel's secret, so it never appears in a log entry.

import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';

/** A change of state of one monitoring check. */
export interface AlertEvent {
  /** Check name in camelCase, e.g. outboxAge, which also names the runbook section. */
  check: string;
  state: 'firing' | 'resolved';
  /** Description of the measured quantity, e.g. "oldest undelivered comment". */
  summary: string;
  /** Measured value with its unit, e.g. "412 s". */
  value: number | string;
  threshold: number | string;
  at: Date;
  /** Public URL of the API instance that raised the alert. */
  instance: string;
}

/**
 * JSON body accepted by both services. Slack incoming webhooks take the message from `text`
 * (https://api.slack.com/messaging/webhooks). Discord's Execute Webhook takes `content`, at most
 * 2,000 UTF-16 code units per the ExecuteWebhook docs of the twilight-http crate on docs.rs, and
 * `allowed_mentions`, which lists the mention types allowed to notify anyone. An empty `parse`
 * list therefore notifies no one, whatever @everyone or @here the text contains.
 *
 * NOTE: neither service's reference states that fields meant for the other one are ignored.
 * The ryu-notify crate (docs.rs/ryu-notify 0.0.5, send_webhook_text) documents this same body,
 * `text` plus `content`, as working with either service. It has not been tried against the live
 * services from this repository.
 */
export interface AlertMessage {
  text: string;
  content: string;
  allowed_mentions: { parse: [] };
}

export const DISCORD_CONTENT_MAX_LENGTH = 2000;

const ELLIPSIS = '…';

/**
 * Builds the webhook body for an event, e.g. `[FIRING] outboxAge: oldest undelivered comment
 * 412 s (threshold 300 s) at comments.example.com, 2026-12-04 18:40:12 UTC — see
 * docs/operations.md#outbox-age`. A summary too long for Discord is shortened with an ellipsis
 * so that the value, threshold and runbook link still fit.
 */
export function alertMessage(event: AlertEvent): AlertMessage {
  const line = alertLine(event);
  return {
    text: escapeSlackText(line),
    content: line,
    allowed_mentions: { parse: [] },
  };
}

function alertLine(event: AlertEvent): string {
  const state = event.state === 'firing' ? 'FIRING' : 'RESOLVED';
  const time = event.at
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
  const prefix = `[${state}] ${singleLine(event.check)}: `;
  const suffix =
    ` ${singleLine(String(event.value))} (threshold ${singleLine(String(event.threshold))})` +
    ` at ${instanceHost(event.instance)}, ${time} — see ${runbookLink(event.check)}`;
  const summary = singleLine(event.summary);

  const room = DISCORD_CONTENT_MAX_LENGTH - prefix.length - suffix.length;
  if (summary.length <= room) return prefix + summary + suffix;
  if (room > ELLIPSIS.length) {
    return prefix + cutAt(summary, room - ELLIPSIS.length) + ELLIPSIS + suffix;
  }
  // Only an absurdly long check name, value or threshold gets here.
  const line = prefix + summary + suffix;
  return cutAt(line, DISCORD_CONTENT_MAX_LENGTH - ELLIPSIS.length) + ELLIPSIS;
}

/** Cuts a string to at most `length` UTF-16 units without splitting a surrogate pair. */
function cutAt(value: string, length: number): string {
  const cut = value.slice(0, length);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

function singleLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

function instanceHost(instance: string): string {
  try {
    return new URL(instance).host;
  } catch {
    return singleLine(instance);
  }
}

/** Links the runbook section named after the check: outboxAge → docs/operations.md#outbox-age. */
function runbookLink(check: string): string {
  const anchor = check
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
  return `docs/operations.md#${anchor}`;
}

/**
 * Escapes the three characters that Slack parses as control characters in `text` (&, < and >,
 * per https://api.slack.com/reference/surfaces/formatting#escaping). Slack mentions such as
 * <!channel> need a literal "<", so escaped text cannot notify a whole channel.
 */
function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface AlertSenderOptions {
  /** Slack or Discord webhook URL (MARGINALIA_ALERT_WEBHOOK_URL), which is never logged. */
  url: string;
  fetch?: typeof fetch;
  clock: Clock;
  logger: Logger;
  /** Attempts per alert, the first included (default 8). */
  maxAttempts?: number;
  /** Wait before the second attempt, doubled for each later one (default 5 s). */
  baseDelayMs?: number;
  /** Maximum wait between attempts, Retry-After included (default 5 min). */
  maxDelayMs?: number;
  /** Time limit of one request (default 10 s). */
  timeoutMs?: number;
  /** Function that waits between attempts. Tests pass one that returns at once. */
  sleep?: (ms: number) => Promise<void>;
}

export interface AlertSenderStatus {
  /** Alerts queued or being sent. */
  pending: number;
  /** Failed requests since the sender started, retried or not. */
  failedAttempts: number;
  /** Cause of the latest failed request, e.g. "HTTP 500", or null before any failure. */
  lastError: string | null;
  lastDeliveredAt: Date | null;
  /**
   * Alerts given up since the last delivered one: rejected with a 4xx other than 429, or out of
   * attempts. A later delivery resets it, because it shows the webhook works again.
   */
  undeliverable: number;
}

export interface AlertSender {
  /**
   * Queues an alert. Alerts are delivered one at a time, in the order sent, in the background.
   * The promise resolves to true once the alert is delivered, and to false when it is given up,
   * dropped or still queued when the sender stops.
   */
  send(event: AlertEvent): Promise<boolean>;
  status(): AlertSenderStatus;
  /** Waits until every queued alert is delivered or given up, or the sender is stopped. */
  flush(): Promise<void>;
  /**
   * Stops delivery: the request in flight finishes (within timeoutMs), no retry starts, and
   * alerts still queued stay counted in `pending`. Alerts sent afterwards are dropped.
   */
  stop(): Promise<void>;
}

const DEFAULT_MAX_ATTEMPTS = 8;
const DEFAULT_BASE_DELAY_MS = 5_000;
const DEFAULT_MAX_DELAY_MS = 5 * 60_000;
const DEFAULT_TIMEOUT_MS = 10_000;

interface QueuedAlert {
  event: AlertEvent;
  body: string;
  attempts: number;
  settle: (delivered: boolean) => void;
}

type AttemptOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; error: string; retryAfterMs: number | null }
  | { kind: 'rejected'; status: number; error: string };

/** Creates a sender that posts alerts to one webhook, retrying network errors, 5xx and 429. */
export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const { clock, logger } = options;
  const fetchImpl = options.fetch ?? fetch;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  validateUrl(options.url);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  }

  const queue: QueuedAlert[] = [];
  let running: Promise<void> | null = null;
  let stopped = false;
  let failedAttempts = 0;
  let lastError: string | null = null;
  let lastDeliveredAt: Date | null = null;
  let undeliverable = 0;

  const stopController = new AbortController();
  const sleep = options.sleep ?? ((ms: number) => sleepUnlessStopped(ms, stopController.signal));

  const startDelivery = (): void => {
    if (running !== null || stopped || queue.length === 0) return;
    running = deliverQueue().finally(() => {
      running = null;
      startDelivery();
    });
  };

  const deliverQueue = async (): Promise<void> => {
    while (!stopped && queue.length > 0) {
      const alert = queue[0]!;
      alert.attempts += 1;
      const outcome = await attempt(alert);
      const fields = {
        check: alert.event.check,
        state: alert.event.state,
        attempt: alert.attempts,
      };

      if (outcome.kind === 'delivered') {
        queue.shift();
        alert.settle(true);
        lastDeliveredAt = clock.now();
        if (undeliverable > 0) {
          logger.info('alert webhook works again', { ...fields, undeliverable });
          undeliverable = 0;
        }
        if (alert.attempts > 1) logger.info('alert delivered after retries', fields);
        continue;
      }

      failedAttempts += 1;
      lastError = outcome.error;
      if (outcome.kind === 'rejected') {
        queue.shift();
        alert.settle(false);
        undeliverable += 1;
        logger.error(
          `alert webhook rejected the alert with HTTP ${outcome.status}, so it was dropped. ` +
            'Check that MARGINALIA_ALERT_WEBHOOK_URL is a current Slack or Discord webhook URL',
          { ...fields, status: outcome.status },
        );
        continue;
      }
      if (alert.attempts >= maxAttempts) {
        queue.shift();
        alert.settle(false);
        undeliverable += 1;
        logger.error(`alert undeliverable after ${alert.attempts} attempts, so it was dropped`, {
          ...fields,
          error: outcome.error,
        });
        continue;
      }

      const backoffMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (alert.attempts - 1));
      const delayMs = outcome.retryAfterMs ?? backoffMs;
      logger.warn('alert delivery failed, retrying', { ...fields, delayMs, error: outcome.error });
      if (stopped) break;
      await untilStopped(sleep(delayMs), stopController.signal);
    }
  };

  const attempt = async (alert: QueuedAlert): Promise<AttemptOutcome> => {
    let response: Response;
    try {
      response = await fetchImpl(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: alert.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return { kind: 'retry', error: describeFetchError(error), retryAfterMs: null };
    }
    // The body is not needed; cancelling it releases the connection.
    await response.body?.cancel().catch(() => {});

    if (response.ok) return { kind: 'delivered' };
    const error = `HTTP ${response.status}`;
    if (response.status === 429 || response.status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock.now());
      return {
        kind: 'retry',
        error,
        retryAfterMs: retryAfterMs === null ? null : Math.min(retryAfterMs, maxDelayMs),
      };
    }
    return { kind: 'rejected', status: response.status, error };
  };

  return {
    send(event) {
      if (stopped) {
        logger.warn('alert dropped because the alert sender is stopped', {
          check: event.check,
          state: event.state,
        });
        return Promise.resolve(false);
      }
      return new Promise<boolean>((settle) => {
        queue.push({ event, body: JSON.stringify(alertMessage(event)), attempts: 0, settle });
        startDelivery();
      });
    },
    status() {
      return { pending: queue.length, failedAttempts, lastError, lastDeliveredAt, undeliverable };
    },
    async flush() {
      while (running !== null) await running;
    },
    async stop() {
      stopped = true;
      stopController.abort();
      while (running !== null) await running;
      if (queue.length > 0) {
        logger.warn('alert sender stopped with alerts not delivered', { pending: queue.length });
      }
      for (const alert of queue) alert.settle(false);
    },
  };
}

function validateUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    // The URL contains the webhook's secret, so the message does not repeat it.
    throw new TypeError('alert webhook URL is not a valid URL; check MARGINALIA_ALERT_WEBHOOK_URL');
  }
  if (protocol !== 'https:' && protocol !== 'http:') {
    throw new TypeError(
      `alert webhook URL must use https or http, got ${protocol}; check MARGINALIA_ALERT_WEBHOOK_URL`,
    );
  }
}

/**
 * Parses Retry-After (RFC 9110 section 10.2.3) as delay seconds or an HTTP date. Returns the
 * wait in milliseconds, or null when the header is missing or invalid.
 */
export function parseRetryAfter(header: string | null, now: Date): number | null {
  if (header === null) return null;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  // Every HTTP date format starts with the day name, e.g. "Fri, 04 Dec 2026 18:40:42 GMT".
  const date = /^[A-Za-z]{3}/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now.getTime());
}

/** Describes a fetch failure by its message and error code, without the request URL. */
function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'request timed out';
  const cause: unknown = error.cause;
  if (typeof cause === 'object' && cause !== null && 'code' in cause) {
    return `${error.message} (${String(cause.code)})`;
  }
  return error.message;
}

function sleepUnlessStopped(ms: number, stopSignal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const onStop = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      stopSignal.removeEventListener('abort', onStop);
      resolve();
    }, ms);
    stopSignal.addEventListener('abort', onStop, { once: true });
  });
}

/** Waits for `wait` or for the stop signal, whichever comes first, leaving no listener behind. */
async function untilStopped(wait: Promise<void>, stopSignal: AbortSignal): Promise<void> {
  if (stopSignal.aborted) return;
  let onStop = (): void => {};
  const stopped = new Promise<void>((resolve) => {
    onStop = resolve;
    stopSignal.addEventListener('abort', onStop, { once: true });
  });
  try {
    await Promise.race([wait, stopped]);
  } finally {
    stopSignal.removeEventListener('abort', onStop);
  }
}
