import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DISCORD_CONTENT_MAX_LENGTH,
  alertMessage,
  createAlertSender,
  parseRetryAfter,
  type AlertEvent,
  type AlertSender,
  type AlertSenderOptions,
} from '../../api/monitor/alerts.ts';
import type { Clock } from '../../api/platform/clock.ts';
import type { LogFields, Logger } from '../../api/platform/logger.ts';

const NOW = new Date('2026-12-04T18:40:12.345Z');

function event(overrides: Partial<AlertEvent> = {}): AlertEvent {
  return {
    check: 'outboxAge',
    state: 'firing',
    summary: 'oldest undelivered comment',
    value: '412 s',
    threshold: '300 s',
    at: NOW,
    instance: 'https://comments.example.com/',
    ...overrides,
  };
}

interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
}

interface WebhookServer {
  url: string;
  /** Parsed JSON bodies in the order they arrived. */
  bodies: unknown[];
  /** Responses for the next requests, used front first; 200 once it is empty. */
  script: ScriptedResponse[];
}

const servers: Server[] = [];
const senders: AlertSender[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((sender) => sender.stop()));
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts an HTTP server on 127.0.0.1 that records webhook bodies and responds from a script. */
async function startWebhookServer(): Promise<WebhookServer> {
  const bodies: unknown[] = [];
  const script: ScriptedResponse[] = [];
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      bodies.push(JSON.parse(body));
      const next = script.shift() ?? { status: 200 };
      response.writeHead(next.status, { 'content-type': 'text/plain', ...next.headers });
      response.end(next.status < 300 ? 'ok' : 'error');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/webhooks/123/secret-token`,
    bodies,
    script,
  };
}

/** Returns a port on 127.0.0.1 that was just listened on and closed, so connections are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface LogEntry {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields;
}

function recordingLogger(): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const add =
    (level: LogEntry['level']) =>
    (message: string, fields: LogFields = {}) =>
      entries.push({ level, message, fields });
  return { logger: { info: add('info'), warn: add('warn'), error: add('error') }, entries };
}

const fixedClock: Clock = { now: () => NOW };

/** Creates a sleep that records each requested delay and returns at once. */
function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
  };
}

/** Creates a sleep that records each requested delay and waits until release() is called. */
function heldSleep(): { sleep: (ms: number) => Promise<void>; delays: number[]; release(): void } {
  const delays: number[] = [];
  const waiting: Array<() => void> = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => waiting.shift()?.(),
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

function sender(options: Partial<AlertSenderOptions> & { url: string }): {
  alerts: AlertSender;
  entries: LogEntry[];
} {
  const { logger, entries } = recordingLogger();
  const alerts = createAlertSender({ clock: fixedClock, logger, ...options });
  senders.push(alerts);
  return { alerts, entries };
}

describe('alertMessage', () => {
  it('formats the firing line', () => {
    const message = alertMessage(event());

    expect(message.content).toBe(
      '[FIRING] outboxAge: oldest undelivered comment 412 s (threshold 300 s) at ' +
        'comments.example.com, 2026-12-04 18:40:12 UTC — see docs/operations.md#outbox-age',
    );
  });

  it('formats the resolved line with numbers', () => {
    const message = alertMessage(
      event({ state: 'resolved', check: 'deliveryFailures', value: 0, threshold: 3 }),
    );

    expect(message.content.startsWith('[RESOLVED] deliveryFailures: ')).toBe(true);
    expect(message.content).toContain(' 0 (threshold 3) at ');
    expect(message.content.endsWith('see docs/operations.md#delivery-failures')).toBe(true);
  });

  it('fills both the Slack and the Discord fields', () => {
    const message = alertMessage(event());

    expect(Object.keys(message).sort()).toEqual(['allowed_mentions', 'content', 'text']);
    expect(message.text).toBe(message.content);
    expect(message.allowed_mentions).toEqual({ parse: [] });
  });

  it('escapes Slack control characters in text only', () => {
    const message = alertMessage(event({ summary: '<!channel> @everyone A & B > C' }));

    expect(message.text).toContain('&lt;!channel&gt; @everyone A &amp; B &gt; C');
    expect(message.text).not.toContain('<!channel>');
    expect(message.content).toContain('<!channel> @everyone A & B > C');
    expect(message.allowed_mentions.parse).toEqual([]);
  });

  it("cuts a long summary to Discord's limit", () => {
    const message = alertMessage(event({ summary: 'x'.repeat(5000) }));

    expect(message.content.length).toBeLessThanOrEqual(DISCORD_CONTENT_MAX_LENGTH);
    expect(message.content.length).toBeGreaterThan(DISCORD_CONTENT_MAX_LENGTH - 5);
    expect(message.content).toContain('x…');
    expect(message.content).toContain(' 412 s (threshold 300 s) at comments.example.com');
    expect(message.content.endsWith('see docs/operations.md#outbox-age')).toBe(true);
  });

  it('keeps surrogate pairs whole when cutting', () => {
    const message = alertMessage(event({ summary: '😀'.repeat(3000) }));

    expect(message.content.length).toBeLessThanOrEqual(DISCORD_CONTENT_MAX_LENGTH);
    expect(message.content).toContain('😀…');
    expect(message.content.isWellFormed()).toBe(true);
  });

  it('cuts a line that is long without its summary', () => {
    const message = alertMessage(event({ value: 'v'.repeat(3000) }));

    expect(message.content.length).toBe(DISCORD_CONTENT_MAX_LENGTH);
    expect(message.content.endsWith('v…')).toBe(true);
  });

  it('joins multi-line fields into one line', () => {
    const message = alertMessage(event({ summary: 'first\nsecond\r\n  third' }));

    expect(message.content).toContain(': first second third 412 s');
  });

  it('ignores fields outside the event shape', () => {
    const withExtra = { ...event(), body: 'a comment body', email: 'reader@example.com' };
    const message = alertMessage(withExtra);

    expect(JSON.stringify(message)).not.toContain('a comment body');
    expect(JSON.stringify(message)).not.toContain('reader@example.com');
  });
});

describe('parseRetryAfter', () => {
  it('reads delay seconds and HTTP dates', () => {
    expect(parseRetryAfter('7', NOW)).toBe(7000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter('1.5', NOW)).toBe(1500);
    expect(parseRetryAfter(new Date(NOW.getTime() + 30_000).toUTCString(), NOW)).toBe(29_655);
    expect(parseRetryAfter(new Date(NOW.getTime() - 30_000).toUTCString(), NOW)).toBe(0);
  });

  it('returns null for a missing or invalid header', () => {
    expect(parseRetryAfter(null, NOW)).toBeNull();
    expect(parseRetryAfter('soon', NOW)).toBeNull();
    expect(parseRetryAfter('-5', NOW)).toBeNull();
  });
});

describe('createAlertSender', () => {
  it('rejects an invalid URL without repeating it', () => {
    const { logger } = recordingLogger();
    const create = (url: string) => () => createAlertSender({ url, clock: fixedClock, logger });

    expect(create('not a url secret-token')).toThrow(/not a valid URL/);
    expect(create('not a url secret-token')).not.toThrow(/secret-token/);
    expect(create('ftp://example.com/secret-token')).toThrow(/must use https or http/);
  });

  it('delivers alerts in order', async () => {
    const server = await startWebhookServer();
    const { alerts } = sender({ url: server.url });

    for (let i = 0; i < 5; i++) alerts.send(event({ summary: `alert ${i}` }));
    expect(alerts.status().pending).toBe(5);
    await alerts.flush();

    const contents = server.bodies.map((body) => (body as { content: string }).content);
    expect(contents).toHaveLength(5);
    contents.forEach((content, i) => expect(content).toContain(`: alert ${i} 412 s`));
    expect(alerts.status()).toEqual({
      pending: 0,
      failedAttempts: 0,
      lastError: null,
      lastDeliveredAt: NOW,
      undeliverable: 0,
    });
  });

  it('posts the Slack and Discord fields', async () => {
    const server = await startWebhookServer();
    const { alerts } = sender({ url: server.url });

    alerts.send(event());
    await alerts.flush();

    expect(server.bodies).toEqual([alertMessage(event())]);
    const body = server.bodies[0] as Record<string, unknown>;
    expect(typeof body.text).toBe('string');
    expect(typeof body.content).toBe('string');
    expect(body.allowed_mentions).toEqual({ parse: [] });
  });

  it('retries after 500 and reports each step', async () => {
    const server = await startWebhookServer();
    server.script.push({ status: 500 });
    const heldSleepControl = heldSleep();
    const { alerts, entries } = sender({ url: server.url, sleep: heldSleepControl.sleep });

    alerts.send(event());
    await until(() => heldSleepControl.delays.length === 1);

    expect(heldSleepControl.delays).toEqual([5000]);
    expect(alerts.status()).toEqual({
      pending: 1,
      failedAttempts: 1,
      lastError: 'HTTP 500',
      lastDeliveredAt: null,
      undeliverable: 0,
    });
    expect(entries.map((entry) => entry.message)).toEqual(['alert delivery failed, retrying']);

    heldSleepControl.release();
    await alerts.flush();

    expect(server.bodies).toHaveLength(2);
    expect(server.bodies[1]).toEqual(server.bodies[0]);
    expect(alerts.status()).toEqual({
      pending: 0,
      failedAttempts: 1,
      lastError: 'HTTP 500',
      lastDeliveredAt: NOW,
      undeliverable: 0,
    });
    expect(entries.at(-1)?.message).toBe('alert delivered after retries');
  });

  it('waits out Retry-After on 429', async () => {
    const server = await startWebhookServer();
    server.script.push({ status: 429, headers: { 'retry-after': '7' } });
    server.script.push({ status: 429, headers: { 'retry-after': '600' } });
    server.script.push({ status: 429 });
    const recorded = recordingSleep();
    const { alerts } = sender({ url: server.url, sleep: recorded.sleep, maxDelayMs: 60_000 });

    alerts.send(event());
    await alerts.flush();

    // 7 s as requested, 600 s capped at maxDelayMs, then the third backoff step without a header.
    expect(recorded.delays).toEqual([7000, 60_000, 20_000]);
    expect(server.bodies).toHaveLength(4);
    expect(alerts.status().failedAttempts).toBe(3);
    expect(alerts.status().lastError).toBe('HTTP 429');
    expect(alerts.status().undeliverable).toBe(0);
    expect(alerts.status().lastDeliveredAt).toEqual(NOW);
  });

  it('resolves send with the outcome', async () => {
    const server = await startWebhookServer();
    server.script.push({ status: 400 });
    const { alerts } = sender({ url: server.url, sleep: recordingSleep().sleep });

    const rejected = alerts.send(event({ summary: 'rejected' }));
    const accepted = alerts.send(event({ summary: 'accepted' }));

    expect(await rejected).toBe(false);
    expect(await accepted).toBe(true);
  });

  it('does not retry 400 and drops the alert', async () => {
    const server = await startWebhookServer();
    server.script.push({ status: 400 });
    const recorded = recordingSleep();
    const { alerts, entries } = sender({ url: server.url, sleep: recorded.sleep });

    alerts.send(event({ summary: 'rejected' }));
    alerts.send(event({ summary: 'accepted' }));
    await alerts.flush();

    expect(recorded.delays).toEqual([]);
    expect(server.bodies).toHaveLength(2);
    expect((server.bodies[1] as { content: string }).content).toContain(': accepted ');
    expect(alerts.status()).toEqual({
      pending: 0,
      failedAttempts: 1,
      lastError: 'HTTP 400',
      lastDeliveredAt: NOW,
      // The second alert got through, which clears the count: it carries the newer status.
      undeliverable: 0,
    });
    const errors = entries.filter((entry) => entry.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('HTTP 400');
    expect(errors[0]!.message).toContain('Check that MARGINALIA_ALERT_WEBHOOK_URL');
    expect(errors[0]!.fields.status).toBe(400);
  });

  it('retries a refused connection then gives up', async () => {
    const port = await closedPort();
    const recorded = recordingSleep();
    const { alerts, entries } = sender({
      url: `http://127.0.0.1:${port}/api/webhooks/1/secret-token`,
      sleep: recorded.sleep,
      maxAttempts: 5,
      baseDelayMs: 1000,
      maxDelayMs: 3000,
    });

    alerts.send(event());
    await alerts.flush();

    expect(recorded.delays).toEqual([1000, 2000, 3000, 3000]);
    const status = alerts.status();
    expect(status.pending).toBe(0);
    expect(status.failedAttempts).toBe(5);
    expect(status.lastError).toContain('ECONNREFUSED');
    expect(status.lastDeliveredAt).toBeNull();
    expect(status.undeliverable).toBe(1);
    const errors = entries.filter((entry) => entry.level === 'error');
    expect(errors.map((entry) => entry.message)).toEqual([
      'alert undeliverable after 5 attempts, so it was dropped',
    ]);
    expect(JSON.stringify(entries)).not.toContain('secret-token');
  });

  it('retries a request that times out', async () => {
    const server = createServer(() => {
      // Never answers.
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const recorded = recordingSleep();
    const { alerts } = sender({
      url: `http://127.0.0.1:${port}/hook`,
      sleep: recorded.sleep,
      maxAttempts: 2,
      timeoutMs: 100,
    });

    alerts.send(event());
    await alerts.flush();

    expect(recorded.delays).toEqual([5000]);
    expect(alerts.status().lastError).toBe('request timed out');
    expect(alerts.status().undeliverable).toBe(1);
  });

  it('stops during a retry wait and drops later alerts', async () => {
    const server = await startWebhookServer();
    server.script.push({ status: 503 });
    const heldSleepControl = heldSleep();
    const { alerts, entries } = sender({ url: server.url, sleep: heldSleepControl.sleep });

    alerts.send(event());
    await until(() => heldSleepControl.delays.length === 1);
    await alerts.stop();
    alerts.send(event({ summary: 'after stop' }));
    await alerts.flush();

    expect(server.bodies).toHaveLength(1);
    expect(alerts.status().pending).toBe(1);
    expect(alerts.status().undeliverable).toBe(0);
    expect(entries.map((entry) => entry.message)).toEqual([
      'alert delivery failed, retrying',
      'alert sender stopped with alerts not delivered',
      'alert dropped because the alert sender is stopped',
    ]);
  });

  it('waits with the default sleep', async () => {
    const server = await startWebhookServer();
    server.script.push({ status: 502 });
    const { alerts } = sender({ url: server.url, baseDelayMs: 10 });

    alerts.send(event());
    await alerts.flush();

    expect(server.bodies).toHaveLength(2);
    expect(alerts.status().lastDeliveredAt).toEqual(NOW);
  });
});
