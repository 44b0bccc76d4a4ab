import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runReplay } from '../../api/cli/replay.ts';
import { ConfigError, ENV, OPTIONAL_ENV, parseConfig } from '../../api/config.ts';
import { DEFAULT_MAX_DELIVERY_ATTEMPTS, permanentFailure } from '../../api/delivery/backoff.ts';
import { createDeliveryWorker, type DeliveryWorker } from '../../api/delivery/worker.ts';
import { ForgeError } from '../../api/forge/types.ts';
import { openSqliteStore } from '../../api/outbox/sqlite-store.ts';
import type { DeadLetterCause } from '../../api/outbox/types.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  POSTS,
  VALID_COMMENT,
  createHarness,
  readJson,
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

/** Longer than any wait the worker picks (the 5-minute cap, a 60-second retry-after). */
const PAST_ANY_BACKOFF_MS = 10 * 60_000;

function forgeError(
  status: number | null,
  retryable: boolean,
  retryAfterMs: number | null = null,
): ForgeError {
  return new ForgeError(`GitHub create branch failed with HTTP ${status ?? 'none'}`, {
    operation: 'create branch',
    status,
    requestId: `REQ-${status ?? 'none'}`,
    retryable,
    retryAfterMs,
  });
}

const PERMANENT: Array<[string, ForgeError, DeadLetterCause]> = [
  ['401 bad credentials', forgeError(401, false), 'credentials'],
  ['404 repository not found', forgeError(404, false), 'not_found'],
  ['403 forbidden without rate-limit signs', forgeError(403, false), 'forbidden'],
];

const RETRYABLE: Array<[string, Error]> = [
  ['403 rate limit', forgeError(403, true, 60_000)],
  ['429 rate limit', forgeError(429, true, 1_000)],
  ['500', forgeError(500, true)],
  ['502', forgeError(502, true)],
  ['503', forgeError(503, true)],
  ['409 conflict', forgeError(409, true)],
  ['422 ambiguous', forgeError(422, false)],
  ['no response', forgeError(null, true)],
  ['network error', new TypeError('fetch failed')],
];

function workerWith(maxAttempts: number): DeliveryWorker {
  const logger = createJsonLogger(
    (line) => harness.logs.push(line),
    () => harness.clock.now(),
  );
  return createDeliveryWorker({
    store: harness.store,
    forge: harness.forge,
    posts: POSTS,
    clock: harness.clock,
    logger,
    random: () => 0.5,
    maxAttempts,
  });
}

/** Fails the next `count` deliveries with `error`, running each once the comment is due. */
async function failAttempts(worker: DeliveryWorker, error: Error, count: number) {
  const outcomes = [];
  for (let i = 0; i < count; i += 1) {
    harness.forge.failNext('proposeComment', error);
    outcomes.push(await worker.runOnce());
    harness.clock.advance(PAST_ANY_BACKOFF_MS);
  }
  return outcomes;
}

function proposeCalls(): number {
  return harness.forge.calls.filter((call) => call.method === 'proposeComment').length;
}

function logEntries(message: string): Array<Record<string, unknown>> {
  return harness.logs
    .map((line): Record<string, unknown> => JSON.parse(line))
    .filter((entry) => String(entry['message']).startsWith(message));
}

async function makeDeadLetter(text = VALID_COMMENT.text): Promise<string> {
  const receipt = await submitComment(harness, { ...VALID_COMMENT, text });
  harness.forge.failNext('proposeComment', forgeError(401, false));
  await harness.worker.runOnce();
  return receipt;
}

describe('attempt limit', () => {
  it('keeps retrying up to one attempt before the default limit', async () => {
    const receipt = await submitComment(harness);
    await failAttempts(harness.worker, forgeError(503, true), DEFAULT_MAX_DELIVERY_ATTEMPTS - 1);
    const stored = await harness.store.get(receipt);
    expect(stored?.status).toBe('received');
    expect(stored?.attempts).toBe(DEFAULT_MAX_DELIVERY_ATTEMPTS - 1);
  });

  it('moves a comment to dead letters at the default limit', async () => {
    const receipt = await submitComment(harness);
    const outcomes = await failAttempts(
      harness.worker,
      forgeError(503, true),
      DEFAULT_MAX_DELIVERY_ATTEMPTS,
    );
    expect(outcomes.at(-1)).toMatchObject({ commentId: receipt, outcome: 'dead' });
    const stored = await harness.store.get(receipt);
    expect(stored?.status).toBe('dead');
    expect(stored?.attempts).toBe(DEFAULT_MAX_DELIVERY_ATTEMPTS);
    expect(stored?.lastError).toContain('HTTP 503');
  });

  it('follows a configured limit', async () => {
    const receipt = await submitComment(harness);
    const outcomes = await failAttempts(workerWith(2), forgeError(500, true), 2);
    expect(outcomes.map((outcome) => outcome?.outcome)).toEqual(['failed', 'dead']);
    expect((await harness.store.get(receipt))?.status).toBe('dead');
  });

  it('rejects a limit below one', () => {
    expect(() => workerWith(0)).toThrow(/maxAttempts is 0/);
  });
});

describe('permanent errors', () => {
  it.each(PERMANENT)('moves %s to dead letters at once', async (_name, error, cause) => {
    const receipt = await submitComment(harness);
    const [outcome] = await failAttempts(harness.worker, error, 1);
    expect(outcome).toMatchObject({ commentId: receipt, outcome: 'dead', cause });
    const stored = await harness.store.get(receipt);
    expect(stored?.status).toBe('dead');
    expect(stored?.attempts).toBe(1);
    const [letter] = await harness.store.listDeadLetters();
    expect(letter?.cause).toBe(cause);
  });

  it('files an exhausted comment under attempts', async () => {
    await submitComment(harness);
    await failAttempts(workerWith(1), forgeError(503, true), 1);
    const [letter] = await harness.store.listDeadLetters();
    expect(letter?.cause).toBe('attempts');
  });

  it('requeues one cause and leaves the others', async () => {
    const byCredentials = await submitComment(harness, { ...VALID_COMMENT, text: 'First.' });
    await failAttempts(harness.worker, forgeError(401, false), 1);
    const byAttempts = await submitComment(harness, { ...VALID_COMMENT, text: 'Second.' });
    await failAttempts(workerWith(1), forgeError(503, true), 1);
    const requeued = await harness.store.requeueDeadLetters(
      { cause: 'credentials' },
      harness.clock.now(),
    );
    expect(requeued).toEqual([byCredentials]);
    expect((await harness.store.get(byCredentials))?.status).toBe('received');
    expect((await harness.store.get(byAttempts))?.status).toBe('dead');
  });

  it.each(RETRYABLE)('keeps %s retryable before the limit', async (_name, error) => {
    const receipt = await submitComment(harness);
    const outcomes = await failAttempts(workerWith(3), error, 2);
    expect(outcomes.map((outcome) => outcome?.outcome)).toEqual(['failed', 'failed']);
    expect((await harness.store.get(receipt))?.status).toBe('received');
  });

  it.each(RETRYABLE)('classifies %s as not permanent', (_name, error) => {
    expect(permanentFailure(error)).toBeNull();
  });
});

describe('dead letters', () => {
  it('are never delivered by the worker', async () => {
    const receipt = await makeDeadLetter();
    const callsBefore = proposeCalls();
    harness.clock.advance(7 * 24 * 60 * 60_000);
    expect(await harness.worker.drain()).toEqual([]);
    expect(proposeCalls()).toBe(callsBefore);
    expect(harness.forge.pulls).toHaveLength(0);
    expect(await harness.store.nextAttemptAt()).toBeNull();
    expect((await harness.store.get(receipt))?.status).toBe('dead');
  });

  it('stay out of the outbox depth', async () => {
    await makeDeadLetter();
    expect((await harness.store.outboxStats(harness.clock.now())).depth).toBe(0);
    expect(await harness.store.countDeadLetters()).toBe(1);
  });

  it('are listed with their last error', async () => {
    const receipt = await makeDeadLetter();
    const [letter] = await harness.store.listDeadLetters();
    expect(letter?.id).toBe(receipt);
    expect(letter?.post).toBe(VALID_COMMENT.post);
    expect(letter?.attempts).toBe(1);
    expect(letter?.lastError).toContain('HTTP 401');
    expect(letter?.deadSince.toISOString()).toBe(harness.clock.now().toISOString());
  });

  it('are logged once, without body or author', async () => {
    const receipt = await makeDeadLetter();
    const entries = logEntries('comment moved to dead letters');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      level: 'error',
      commentId: receipt,
      attempts: 1,
      forgeRequestId: 'REQ-401',
      error: expect.stringContaining('HTTP 401'),
    });
    const all = harness.logs.join('');
    expect(all).not.toContain(VALID_COMMENT.text.slice(0, 12));
    expect(all).not.toContain(VALID_COMMENT.author);
  });

  it('can still be declined by a closed pull request', async () => {
    const receipt = await makeDeadLetter();
    expect(await harness.store.markDeclined(receipt, harness.clock.now())).toBe(true);
    expect(await harness.store.countDeadLetters()).toBe(0);
  });
});

describe('reader status of a dead letter', () => {
  function getStatus(receipt: string, accept: string) {
    return harness.app.request(`/api/comments/${receipt}`, { headers: { accept } });
  }

  it('reads as received and delayed in JSON', async () => {
    const receipt = await makeDeadLetter();
    const json = await readJson(await getStatus(receipt, 'application/json'));
    expect(json['status']).toBe('received');
    expect(json['delayed']).toBe(true);
    expect(json['message']).toMatch(/delayed/);
    expect(json['message']).toMatch(/stored safely/);
    expect(json['message']).not.toMatch(/fail|lost|dead|error/i);
  });

  it('is not delayed while delivery goes well', async () => {
    const receipt = await submitComment(harness);
    const json = await readJson(await getStatus(receipt, 'application/json'));
    expect(json['delayed']).toBe(false);
  });

  it('says delayed and safe on the HTML page', async () => {
    const receipt = await makeDeadLetter();
    const page = await (await getStatus(receipt, 'text/html')).text();
    const status = /<section class="receipt">([\s\S]*?)<\/section>/.exec(page)?.[1] ?? '';
    expect(status).toContain('Received, delivery delayed');
    expect(status).toContain('The comment is stored safely.');
    expect(status).not.toMatch(/fail|lost|dead|error/i);
  });
});

describe('health with dead letters', () => {
  it('reports zero dead letters as ok', async () => {
    const response = await harness.app.request('/api/health');
    expect(response.status).toBe(200);
    expect(await readJson(response)).toMatchObject({
      deadLetters: 0,
      checks: { deadLetters: { status: 'ok', value: 0, threshold: 0 } },
    });
  });

  it('turns down with the count', async () => {
    await makeDeadLetter();
    await makeDeadLetter('Another comment.');
    const response = await harness.app.request('/api/health');
    expect(response.status).toBe(503);
    expect(await readJson(response)).toMatchObject({
      status: 'down',
      deadLetters: 2,
      checks: { deadLetters: { status: 'down', value: 2, threshold: 0 } },
    });
  });
});

describe('replay', () => {
  function replay(args: string[]) {
    const output: string[] = [];
    const code = runReplay(args, {
      store: harness.store,
      clock: harness.clock,
      print: (line) => output.push(line),
    });
    return code.then((exitCode) => ({ exitCode, output: output.join('\n') }));
  }

  it('lists dead letters by default', async () => {
    const receipt = await makeDeadLetter();
    const { exitCode, output } = await replay([]);
    expect(exitCode).toBe(0);
    expect(output).toContain(receipt);
    expect(output).toContain(VALID_COMMENT.post);
    expect(output).toContain('1 attempts');
    expect(output).toContain('HTTP 401');
    expect((await harness.store.get(receipt))?.status).toBe('dead');
  });

  it('requeues all, and the next drain delivers each once', async () => {
    const receipt = await makeDeadLetter();
    const { exitCode } = await replay(['--all']);
    expect(exitCode).toBe(0);
    const requeued = await harness.store.get(receipt);
    expect(requeued?.status).toBe('received');
    expect(requeued?.attempts).toBe(0);
    expect(requeued?.nextAttemptAt?.getTime()).toBe(harness.clock.now().getTime());

    const outcomes = await harness.worker.drain();
    expect(outcomes).toEqual([
      expect.objectContaining({ commentId: receipt, outcome: 'proposed' }),
    ]);
    expect(await harness.worker.drain()).toEqual([]);
    expect(harness.forge.pulls.filter((pull) => pull.commentId === receipt)).toHaveLength(1);
    expect((await harness.app.request('/api/health')).status).toBe(200);
  });

  it('requeues only the ids named', async () => {
    const first = await makeDeadLetter();
    const second = await submitComment(harness, { ...VALID_COMMENT, text: 'A second comment.' });
    harness.forge.failNext('proposeComment', forgeError(404, false));
    await harness.worker.runOnce();
    await replay([second]);
    expect((await harness.store.get(first))?.status).toBe('dead');
    expect((await harness.store.get(second))?.status).toBe('received');
  });

  it('skips an id that is not a dead letter', async () => {
    const receipt = await submitComment(harness);
    const { exitCode, output } = await replay([receipt]);
    expect(exitCode).toBe(1);
    expect(output).toContain(`Skipped ${receipt}`);
  });

  it('rejects an unknown option', async () => {
    expect((await replay(['--everything'])).exitCode).toBe(2);
  });

  it('runs as a script on an outbox file', async () => {
    const receipt = await makeDeadLetter();
    const run = promisify(execFile);
    const env = { PATH: process.env['PATH'] ?? '', MARGINALIA_OUTBOX: harness.dbPath };
    const listed = await run(process.execPath, ['api/cli/replay.ts'], { env });
    expect(listed.stdout).toContain(receipt);
    const requeued = await run(process.execPath, ['api/cli/replay.ts', '--all'], { env });
    expect(requeued.stdout).toContain(`Requeued ${receipt}`);
    expect((await harness.store.get(receipt))?.status).toBe('received');
  });
});

describe('schema migration', () => {
  // The comments table as schema version 2 created it, before dead letters.
  const VERSION_2_COMMENTS = `
    CREATE TABLE comments (
      id TEXT PRIMARY KEY, post TEXT NOT NULL, parent TEXT, author TEXT NOT NULL,
      author_url TEXT, visibility TEXT NOT NULL, source TEXT NOT NULL, body TEXT NOT NULL,
      date TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER, last_attempt_at INTEGER, last_error TEXT, pr_number INTEGER,
      pr_url TEXT, fingerprint TEXT NOT NULL, idempotency_key TEXT UNIQUE,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
    ) STRICT;
    PRAGMA user_version = 2;`;
  const ID = '01hmigrated000000000000000';

  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marginalia-migrate-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function createVersion2(path: string): void {
    const db = new DatabaseSync(path);
    db.exec(VERSION_2_COMMENTS);
    db.prepare(
      `INSERT INTO comments (id, post, author, visibility, source, body, date, status, attempts,
        next_attempt_at, fingerprint, created_at, updated_at)
       VALUES (?, 'hello-world', 'Ada', 'public', 'public', 'Hi', '2026-03-01T12:00:00Z',
        'received', 3, 0, 'f', 0, 0)`,
    ).run(ID);
    db.close();
  }

  it('upgrades a version 2 file and keeps its comments', async () => {
    const path = join(dir, 'outbox.sqlite');
    createVersion2(path);
    const store = openSqliteStore({ path });
    try {
      expect((await store.get(ID))?.attempts).toBe(3);
      expect(await store.markDead(ID, 'HTTP 401', new Date(1_000), 'credentials')).toBe(true);
      expect(await store.listDeadLetters()).toEqual([
        {
          id: ID,
          post: 'hello-world',
          cause: 'credentials',
          attempts: 4,
          lastError: 'HTTP 401',
          deadSince: new Date(1_000),
        },
      ]);
    } finally {
      await store.close();
    }
    const db = new DatabaseSync(path);
    expect(db.prepare('PRAGMA user_version').get()).toEqual({ user_version: 4 });
    db.close();
  });

  it('opens an upgraded file again', async () => {
    const path = join(dir, 'outbox.sqlite');
    createVersion2(path);
    await openSqliteStore({ path }).close();
    const store = openSqliteStore({ path });
    try {
      expect(await store.countDeadLetters()).toBe(0);
      expect((await store.get(ID))?.status).toBe('received');
    } finally {
      await store.close();
    }
  });
});

describe('MARGINALIA_MAX_DELIVERY_ATTEMPTS', () => {
  const REQUIRED = {
    [ENV.publicSiteUrl]: 'http://127.0.0.1:4321',
    [ENV.internalSiteUrl]: 'http://127.0.0.1:4322',
    [ENV.apiPublicUrl]: 'http://127.0.0.1:8787',
    [ENV.staffToken]: 'a'.repeat(32),
    [ENV.webhookSecret]: 'b'.repeat(32),
  };

  it('is absent from the config when unset', () => {
    expect(parseConfig(REQUIRED).maxDeliveryAttempts).toBeUndefined();
  });

  it('sets the attempt limit', () => {
    const config = parseConfig({ ...REQUIRED, [OPTIONAL_ENV.maxDeliveryAttempts]: ' 20 ' });
    expect(config.maxDeliveryAttempts).toBe(20);
  });

  it.each(['0', '-1', '2.5', 'many', '10001', ''])('rejects %j', (value) => {
    const env = { ...REQUIRED, [OPTIONAL_ENV.maxDeliveryAttempts]: value };
    expect(() => parseConfig(env)).toThrow(ConfigError);
    expect(() => parseConfig(env)).toThrow(
      /MARGINALIA_MAX_DELIVERY_ATTEMPTS must be a whole number/,
    );
  });
});
