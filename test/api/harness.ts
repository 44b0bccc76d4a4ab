// Builds the API for tests in one call: a real SQLite outbox in a temporary folder, the memory
// forge double, a clock moved by hand and a logger that keeps its lines.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type AppDeps } from '../../api/app.ts';
import type { ApiConfig } from '../../api/config.ts';
import { createDeliveryWorker, type DeliveryWorker } from '../../api/delivery/worker.ts';
import { openSqliteStore } from '../../api/outbox/sqlite-store.ts';
import type { CommentStore } from '../../api/outbox/types.ts';
import type { PostInfo } from '../../api/platform/content-index.ts';
import { createIdGenerator } from '../../api/platform/ids.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { signBody } from '../../api/routes/webhooks.ts';
import { createMemoryForge, type MemoryForge } from '../support/memory-forge.ts';

export const CONFIG: ApiConfig = {
  publicSiteUrl: 'http://127.0.0.1:4321',
  internalSiteUrl: 'http://127.0.0.1:4322',
  apiPublicUrl: 'http://127.0.0.1:8787',
  staffToken: 'staff-token-for-tests-0123456789',
  webhookSecret: 'webhook-secret-for-tests-0123456789',
  // In-process requests have no client address, so they would all share one rate-limit counter.
  // test/api/abuse.test.ts turns the limits on where it tests them.
  rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
};

export const PUBLIC_ORIGIN = 'http://127.0.0.1:4321';
export const INTERNAL_ORIGIN = 'http://127.0.0.1:4322';

/** A comment id already merged into content/ before the API started. */
export const EXISTING_COMMENT = '01hzzzzzzzzzzzzzzzzzzzzzzz';

export const POSTS = new Map<string, PostInfo>([
  ['hello-world', post('hello-world', 'Hello, world', 'public', 'open')],
  ['staff-notes', post('staff-notes', 'Staff notes', 'internal', 'open')],
  ['closed-post', post('closed-post', 'An old post', 'public', 'closed')],
]);

function post(
  id: string,
  title: string,
  visibility: PostInfo['visibility'],
  comments: PostInfo['comments'],
): PostInfo {
  return { id, title, visibility, comments, path: `/posts/${id}/` };
}

export interface ManualClock {
  now(): Date;
  advance(ms: number): void;
}

export function manualClock(start = '2026-03-01T12:00:00.000Z'): ManualClock {
  let time = Date.parse(start);
  return {
    now: () => new Date(time),
    advance: (ms) => {
      time += ms;
    },
  };
}

export interface Harness {
  app: ReturnType<typeof createApp>;
  store: CommentStore;
  forge: MemoryForge;
  clock: ManualClock;
  worker: DeliveryWorker;
  logs: string[];
  merged: string[];
  wakes: () => number;
  dbPath: string;
  dir: string;
  close(): Promise<void>;
}

export async function createHarness(overrides: Partial<AppDeps> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'marginalia-api-'));
  const dbPath = join(dir, 'outbox.sqlite');
  const store = openSqliteStore({ path: dbPath });
  const forge = createMemoryForge();
  const clock = manualClock();
  const logs: string[] = [];
  const merged: string[] = [];
  let wakeCount = 0;

  const logger = createJsonLogger(
    (line) => logs.push(line),
    () => clock.now(),
  );
  const worker = createDeliveryWorker({
    store,
    forge,
    posts: POSTS,
    clock,
    logger,
    random: () => 0.5,
  });

  const app = createApp({
    config: CONFIG,
    store,
    forge,
    clock,
    logger,
    ids: createIdGenerator({ now: () => clock.now() }),
    posts: POSTS,
    knownComments: new Map([[EXISTING_COMMENT, 'hello-world']]),
    renderMarkdown: (markdown) => `<p>${markdown}</p>`,
    onMerged: (sha) => {
      merged.push(sha);
    },
    wakeWorker: () => {
      wakeCount += 1;
    },
    ...overrides,
  });

  return {
    app,
    store,
    forge,
    clock,
    worker,
    logs,
    merged,
    wakes: () => wakeCount,
    dbPath,
    dir,
    async close() {
      await worker.stop();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const VALID_COMMENT = {
  post: 'hello-world',
  author: 'Ada Reader',
  text: 'A thoughtful comment.\n\nWith two paragraphs.',
};

/** Sends a JSON submission, as the enhancement script on the public site would. */
export async function postJson(
  harness: Harness,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return harness.app.request('/api/comments', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN, ...headers },
    body: JSON.stringify(body),
  });
}

/** Sends a form submission, as a browser without JavaScript does. */
export async function postForm(
  harness: Harness,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return harness.app.request('/api/comments', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      origin: PUBLIC_ORIGIN,
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Submits a valid comment as JSON and returns its receipt id. */
export async function submitComment(
  harness: Harness,
  body: Record<string, unknown> = VALID_COMMENT,
  headers: Record<string, string> = {},
): Promise<string> {
  const response = await postJson(harness, body, headers);
  if (response.status !== 202) {
    throw new Error(`submission returned ${response.status}: ${await response.text()}`);
  }
  const json: unknown = await response.json();
  if (typeof json !== 'object' || json === null || !('receipt' in json)) {
    throw new Error('submission returned no receipt');
  }
  return String(json.receipt);
}

export interface WebhookOptions {
  event?: string;
  deliveryId?: string;
  signature?: string | null;
}

/** Sends a webhook signed with the test secret, unless `signature` overrides it. */
export async function sendWebhook(
  harness: Harness,
  payload: unknown,
  options: WebhookOptions = {},
): Promise<Response> {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-github-event': options.event ?? 'pull_request',
    'x-github-delivery': options.deliveryId ?? crypto.randomUUID(),
  };
  const signature =
    options.signature === undefined ? signBody(CONFIG.webhookSecret, body) : options.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  return harness.app.request('/api/webhooks/forge', { method: 'POST', headers, body });
}

export function closedPayload(commentId: string, merged: boolean, mergeSha: string | null = null) {
  return {
    action: 'closed',
    pull_request: {
      number: 1,
      merged,
      merge_commit_sha: mergeSha,
      head: { ref: `comments/${commentId}` },
    },
  };
}

export async function readJson(response: Response): Promise<Record<string, unknown>> {
  const json: unknown = await response.json();
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`expected a JSON object, got ${JSON.stringify(json)}`);
  }
  return Object.fromEntries(Object.entries(json));
}

export function staffHeaders(token = CONFIG.staffToken): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
