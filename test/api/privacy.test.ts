// Reader email addresses: validated without echoing them, encrypted with AES-256-GCM when a key is
// configured and dropped when not, kept apart from the comment record, and purged after the
// retention limit.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, ENV, parseConfig } from '../../api/config.ts';
import { openSqliteStore } from '../../api/outbox/sqlite-store.ts';
import type { CommentStore, SealedAddress } from '../../api/outbox/types.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  AddressDecryptError,
  createAddressCipher,
  IV_BYTES,
} from '../../api/privacy/address-cipher.ts';
import { EMAIL_MAX_LENGTH, isPlainAddress } from '../../api/privacy/email-address.ts';
import { startAddressPurge, type IntervalTimer } from '../../api/privacy/retention.ts';
import { EMAIL_ENV } from '../../api/privacy/settings.ts';
import {
  CONFIG,
  createHarness,
  manualClock,
  postForm,
  postJson,
  readJson,
  VALID_COMMENT,
  type Harness,
} from './harness.ts';

const KEY_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const KEY = Uint8Array.from(Buffer.from(KEY_HEX, 'hex'));
const OTHER_KEY = new Uint8Array(32).fill(7);
const ADDRESS = 'reader.one+tag@example.org';
const DAY_MS = 24 * 60 * 60 * 1000;

/** Lists the address in every form a leak could take: as given, lowercased, hashed, base64. */
function addressForms(address: string): string[] {
  const normalized = address.trim().toLowerCase();
  const hex = (algorithm: string, value: string) =>
    createHash(algorithm).update(value).digest('hex');
  return [
    address,
    normalized,
    hex('md5', address),
    hex('md5', normalized),
    hex('sha256', address),
    hex('sha256', normalized),
    Buffer.from(address).toString('base64'),
  ];
}

function expectNoAddress(text: string, address: string): void {
  for (const form of addressForms(address)) expect(text).not.toContain(form);
}

const harnesses: Harness[] = [];

async function harness(withKey: boolean): Promise<Harness> {
  const created = await createHarness({
    config: withKey ? { ...CONFIG, emailKey: KEY } : CONFIG,
  });
  harnesses.push(created);
  return created;
}

afterEach(async () => {
  for (const created of harnesses.splice(0)) await created.close();
});

async function storedAddress(store: CommentStore, commentId: string): Promise<SealedAddress> {
  const record = await store.getAddress(commentId);
  if (record === null) throw new Error(`no address stored for ${commentId}`);
  return record;
}

describe('email address check', () => {
  it.each([
    ['a plus tag', ADDRESS],
    ['mixed case', 'Reader.Two@Example.ORG'],
    ['a Unicode local part', 'rené.über@example.org'],
    ['a quoted local part', '"quoted.local"@example.org'],
    ['a bare host name', 'a@b'],
    ['the maximum length', `${'x'.repeat(EMAIL_MAX_LENGTH - 12)}@example.org`],
  ])('accepts an address with %s', (_, address) => {
    expect(isPlainAddress(address)).toBe(true);
  });

  it.each([
    ['no @', 'reader.example.org'],
    ['two @', 'reader@one@example.org'],
    ['nothing before @', '@example.org'],
    ['nothing after @', 'reader@'],
    ['a space', 'reader one@example.org'],
    ['a tab', 'reader\t@example.org'],
    ['a line break', 'reader@example.org\nBcc: x@example.org'],
    ['a NUL', 'reader\u0000@example.org'],
    ['a zero-width space', 'reader\u200b@example.org'],
    ['a bidi override', 'reader\u202e@example.org'],
  ])('rejects an address with %s', (_, address) => {
    expect(isPlainAddress(address)).toBe(false);
  });
});

describe('email validation answers', () => {
  const INVALID = [
    ['two @', 'reader.two@mail@example.org'],
    ['a space', 'reader two@example.org'],
    ['a control character', 'reader.two\u0007@example.org'],
    ['too many characters', `reader.two.${'a'.repeat(EMAIL_MAX_LENGTH)}@example.org`],
  ] as const;

  it.each(INVALID)('JSON error names the field for %s', async (_, address) => {
    const api = await harness(true);
    const response = await postJson(api, { ...VALID_COMMENT, email: address });
    expect(response.status).toBe(422);
    const text = await response.text();
    expect(JSON.parse(text).issues).toEqual([{ field: 'email', message: expect.any(String) }]);
    expectNoAddress(text, address);
    expectNoAddress(api.logs.join(''), address);
  });

  it.each(INVALID)('form error page names the field for %s', async (_, address) => {
    const api = await harness(true);
    const response = await postForm(api, { ...VALID_COMMENT, email: address });
    expect(response.status).toBe(422);
    const page = await response.text();
    expect(page).toContain('Email must be');
    expectNoAddress(page, address);
    expectNoAddress(api.logs.join(''), address);
  });

  it('rejects an address sent as a number', async () => {
    const api = await harness(true);
    const response = await postJson(api, { ...VALID_COMMENT, email: 12345 });
    expect(response.status).toBe(422);
    expect((await readJson(response)).issues).toEqual([
      { field: 'email', message: 'must be text' },
    ]);
  });

  it('treats a blank address as none', async () => {
    const api = await harness(true);
    const response = await postJson(api, { ...VALID_COMMENT, email: '   ' });
    expect(response.status).toBe(202);
    const body = await readJson(response);
    expect(body).not.toHaveProperty('emailKept');
    expect(await api.store.getAddress(String(body.receipt))).toBeNull();
  });
});

describe('address without a key', () => {
  it('accepts the comment and says the address was not kept', async () => {
    const api = await harness(false);
    const response = await postJson(api, { ...VALID_COMMENT, email: ADDRESS });
    expect(response.status).toBe(202);
    const body = await readJson(response);
    expect(body.emailKept).toBe(false);
    expect(await api.store.getAddress(String(body.receipt))).toBeNull();
  });

  it('leaves no trace in the database file', async () => {
    const api = await harness(false);
    await postJson(api, { ...VALID_COMMENT, email: ADDRESS });
    await api.store.close();
    const bytes = await readFile(api.dbPath);
    const wal = await readFile(`${api.dbPath}-wal`).catch(() => Buffer.alloc(0));
    expectNoAddress(bytes.toString('latin1') + wal.toString('latin1'), ADDRESS);
  });

  it('tells a form post that notifications are off', async () => {
    const api = await harness(false);
    const response = await postForm(api, { ...VALID_COMMENT, email: ADDRESS });
    expect(response.status).toBe(202);
    const page = await response.text();
    expect(page).toContain('Reply notifications are off on this site');
    expect(page).toContain('comment=received');
    expectNoAddress(page, ADDRESS);
  });

  it('redirects a form post without an address as before', async () => {
    const api = await harness(false);
    const response = await postForm(api, VALID_COMMENT);
    expect(response.status).toBe(303);
  });
});

describe('address with a key', () => {
  it('stores it encrypted under the comment id', async () => {
    const api = await harness(true);
    const response = await postJson(api, { ...VALID_COMMENT, email: ADDRESS });
    const body = await readJson(response);
    expect(body.emailKept).toBe(true);
    const receipt = String(body.receipt);
    const record = await storedAddress(api.store, receipt);
    expect(record.iv.byteLength).toBe(IV_BYTES);
    expectNoAddress(Buffer.from(record.ciphertext).toString('latin1'), ADDRESS);
    const cipher = createAddressCipher({ key: KEY });
    expect(await cipher.open(receipt, record)).toBe(ADDRESS);
  });

  it('keeps the address as NFC', async () => {
    const api = await harness(true);
    const decomposed = 'rene\u0301@example.org';
    const body = await readJson(await postJson(api, { ...VALID_COMMENT, email: decomposed }));
    const receipt = String(body.receipt);
    const record = await storedAddress(api.store, receipt);
    const opened = await createAddressCipher({ key: KEY }).open(receipt, record);
    expect(opened).toBe('ren\u00e9@example.org');
  });

  it('keeps the address out of the comment record', async () => {
    const api = await harness(true);
    const body = await readJson(await postJson(api, { ...VALID_COMMENT, email: ADDRESS }));
    const receipt = String(body.receipt);
    expectNoAddress(JSON.stringify(await api.store.get(receipt)), ADDRESS);
    expectNoAddress(JSON.stringify(await api.store.nextDue(api.clock.now())), ADDRESS);
  });

  it('keeps the address out of the pull request and the logs', async () => {
    const api = await harness(true);
    await postJson(api, { ...VALID_COMMENT, email: ADDRESS });
    expect((await api.worker.runOnce())?.outcome).toBe('proposed');
    expect(api.forge.pulls).toHaveLength(1);
    expectNoAddress(JSON.stringify(api.forge.pulls), ADDRESS);
    expectNoAddress(api.logs.join(''), ADDRESS);
  });

  it('keeps the address out of the receipt and the status page', async () => {
    const api = await harness(true);
    const body = await readJson(await postJson(api, { ...VALID_COMMENT, email: ADDRESS }));
    const path = `/api/comments/${String(body.receipt)}`;
    const json = await api.app.request(path);
    expectNoAddress(await json.text(), ADDRESS);
    const page = await api.app.request(path, { headers: { accept: 'text/html' } });
    expectNoAddress(await page.text(), ADDRESS);
  });

  it('redirects a form post as usual', async () => {
    const api = await harness(true);
    const response = await postForm(api, { ...VALID_COMMENT, email: ADDRESS });
    expect(response.status).toBe(303);
    expectNoAddress(response.headers.get('location') ?? '', ADDRESS);
  });

  it('reports the first address when a comment repeats', async () => {
    const api = await harness(true);
    const first = await readJson(await postJson(api, { ...VALID_COMMENT, email: ADDRESS }));
    const again = await readJson(
      await postJson(api, { ...VALID_COMMENT, email: 'other@example.org' }),
    );
    expect(again.receipt).toBe(first.receipt);
    expect(again.emailKept).toBe(true);
    const record = await storedAddress(api.store, String(first.receipt));
    const opened = await createAddressCipher({ key: KEY }).open(String(first.receipt), record);
    expect(opened).toBe(ADDRESS);
  });

  it('reports an address dropped by a repeat', async () => {
    const api = await harness(true);
    const first = await readJson(await postJson(api, VALID_COMMENT));
    const again = await readJson(await postJson(api, { ...VALID_COMMENT, email: ADDRESS }));
    expect(again.receipt).toBe(first.receipt);
    expect(again.emailKept).toBe(false);
    expect(await api.store.getAddress(String(first.receipt))).toBeNull();
  });
});

describe('address cipher', () => {
  it('uses a fresh IV for each record', async () => {
    const cipher = createAddressCipher({ key: KEY });
    const one = await cipher.seal('01a', ADDRESS);
    const two = await cipher.seal('01a', ADDRESS);
    expect(Buffer.from(one.iv).equals(Buffer.from(two.iv))).toBe(false);
    expect(Buffer.from(one.ciphertext).equals(Buffer.from(two.ciphertext))).toBe(false);
  });

  it('rejects a record moved to another comment', async () => {
    const cipher = createAddressCipher({ key: KEY });
    const sealed = await cipher.seal('01a', ADDRESS);
    await expect(cipher.open('01b', sealed)).rejects.toBeInstanceOf(AddressDecryptError);
  });

  it('rejects a record under another key', async () => {
    const sealed = await createAddressCipher({ key: KEY }).seal('01a', ADDRESS);
    const other = createAddressCipher({ key: OTHER_KEY });
    await expect(other.open('01a', sealed)).rejects.toBeInstanceOf(AddressDecryptError);
  });

  it('rejects an altered record', async () => {
    const cipher = createAddressCipher({ key: KEY });
    const sealed = await cipher.seal('01a', ADDRESS);
    const altered = Uint8Array.from(sealed.ciphertext);
    altered[0] = (altered[0] ?? 0) ^ 1;
    const opening = cipher.open('01a', { iv: sealed.iv, ciphertext: altered });
    await expect(opening).rejects.toBeInstanceOf(AddressDecryptError);
  });

  it('names the comment but no data when decrypting fails', async () => {
    const sealed = await createAddressCipher({ key: KEY }).seal('01a', ADDRESS);
    const error = await createAddressCipher({ key: OTHER_KEY })
      .open('01a', sealed)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AddressDecryptError);
    expect(String(error)).toContain('01a');
    expectNoAddress(String(error), ADDRESS);
  });
});

describe('address retention', () => {
  /** Creates a timer that runs only when the test calls tick(). */
  function manualTimer(): { timer: IntervalTimer; tick(): void; stopped(): boolean } {
    let run: (() => void) | null = null;
    let stopped = false;
    return {
      timer: (callback) => {
        run = callback;
        return () => {
          stopped = true;
        };
      },
      tick: () => run?.(),
      stopped: () => stopped,
    };
  }

  async function storeWithAddress(at: Date): Promise<{ api: Harness; receipt: string }> {
    const api = await harness(true);
    api.clock.advance(at.getTime() - api.clock.now().getTime());
    const body = await readJson(await postJson(api, { ...VALID_COMMENT, email: ADDRESS }));
    return { api, receipt: String(body.receipt) };
  }

  it('keeps an address within the limit', async () => {
    const clock = manualClock();
    const { api, receipt } = await storeWithAddress(clock.now());
    clock.advance(90 * DAY_MS - 1);
    const logger = createJsonLogger(() => undefined, clock.now);
    const purge = startAddressPurge({ store: api.store, clock, logger, retentionDays: 90 });
    purge.stop();
    expect(await purge.runOnce()).toBe(0);
    expect(await api.store.getAddress(receipt)).not.toBeNull();
  });

  it('deletes an address past the limit on start', async () => {
    const clock = manualClock();
    const { api, receipt } = await storeWithAddress(clock.now());
    clock.advance(90 * DAY_MS + 1);
    const logs: string[] = [];
    const logger = createJsonLogger((line) => logs.push(line), clock.now);
    const { timer } = manualTimer();
    startAddressPurge({ store: api.store, clock, logger, retentionDays: 90, timer });
    await expect.poll(() => api.store.getAddress(receipt)).toBeNull();
    expect(logs.join('')).toContain('"deleted":1');
  });

  it('deletes an address past the limit on the timer', async () => {
    const clock = manualClock();
    const { api, receipt } = await storeWithAddress(clock.now());
    const logger = createJsonLogger(() => undefined, clock.now);
    const ticking = manualTimer();
    const purge = startAddressPurge({
      store: api.store,
      clock,
      logger,
      retentionDays: 30,
      timer: ticking.timer,
    });
    clock.advance(29 * DAY_MS);
    ticking.tick();
    expect(await api.store.getAddress(receipt)).not.toBeNull();
    clock.advance(2 * DAY_MS);
    ticking.tick();
    await expect.poll(() => api.store.getAddress(receipt)).toBeNull();
    purge.stop();
    expect(ticking.stopped()).toBe(true);
  });

  it('keeps the comment when its address expires', async () => {
    const clock = manualClock();
    const { api, receipt } = await storeWithAddress(clock.now());
    clock.advance(91 * DAY_MS);
    const logger = createJsonLogger(() => undefined, clock.now);
    startAddressPurge({ store: api.store, clock, logger, timer: () => () => {} });
    await expect.poll(() => api.store.getAddress(receipt)).toBeNull();
    expect(await api.store.get(receipt)).not.toBeNull();
  });
});

describe('outbox schema upgrade', () => {
  it('adds the address table to a version 1 file', async () => {
    const api = await harness(true);
    await api.store.close();
    const path = join(api.dir, 'version-1.sqlite');
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE comments (
      id TEXT PRIMARY KEY, post TEXT NOT NULL, parent TEXT, author TEXT NOT NULL,
      author_url TEXT, visibility TEXT NOT NULL, source TEXT NOT NULL, body TEXT NOT NULL,
      date TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER, last_attempt_at INTEGER, last_error TEXT, pr_number INTEGER,
      pr_url TEXT, fingerprint TEXT NOT NULL, idempotency_key TEXT UNIQUE,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT`);
    old.exec(`INSERT INTO comments (id, post, author, visibility, source, body, date, status,
      fingerprint, created_at, updated_at) VALUES ('01old', 'hello-world', 'Ada', 'public',
      'public', 'Kept.', '2026-01-01T00:00:00Z', 'received', 'f', 1, 1)`);
    old.exec('PRAGMA user_version = 1');
    old.close();

    const store = openSqliteStore({ path });
    try {
      expect((await store.get('01old'))?.body).toBe('Kept.');
      expect(await store.getAddress('01old')).toBeNull();
      expect(await store.purgeAddresses(new Date())).toBe(0);
    } finally {
      await store.close();
    }
    const reopened = new DatabaseSync(path);
    expect(reopened.prepare('PRAGMA user_version').get()).toEqual({ user_version: 4 });
    reopened.close();
  });
});

describe('email settings', () => {
  const ENVIRONMENT = {
    [ENV.publicSiteUrl]: 'http://127.0.0.1:4321',
    [ENV.internalSiteUrl]: 'http://127.0.0.1:4322',
    [ENV.apiPublicUrl]: 'http://127.0.0.1:8787',
    [ENV.staffToken]: 'a'.repeat(32),
    [ENV.webhookSecret]: 'b'.repeat(32),
  };

  function configError(env: Record<string, string>): ConfigError {
    try {
      parseConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('parseConfig accepted the environment');
  }

  it.each([
    ['hex', KEY_HEX],
    ['base64', Buffer.from(KEY).toString('base64')],
    ['base64url without padding', Buffer.from(KEY).toString('base64url')],
  ])('reads a key in %s', (_, text) => {
    const config = parseConfig({ ...ENVIRONMENT, [EMAIL_ENV.key]: text });
    expect(config.emailKey).toEqual(KEY);
  });

  it('leaves the key and retention unset by default', () => {
    const config = parseConfig(ENVIRONMENT);
    expect(config.emailKey).toBeUndefined();
    expect(config.emailRetentionDays).toBeUndefined();
  });

  it.each([
    ['too short', KEY_HEX.slice(2)],
    ['too long', `${KEY_HEX}00`],
    ['31 bytes of base64', Buffer.alloc(31, 9).toString('base64')],
    ['not hex or base64', `${KEY_HEX.slice(1)}g`],
  ])('names the key variable when the key is %s', (_, text) => {
    const error = configError({ ...ENVIRONMENT, [EMAIL_ENV.key]: text });
    expect(error.variable).toBe(EMAIL_ENV.key);
    expect(error.message).toContain('32 bytes');
    expect(error.message).not.toContain(text);
  });

  it('reads the retention in days', () => {
    const config = parseConfig({ ...ENVIRONMENT, [EMAIL_ENV.retentionDays]: '30' });
    expect(config.emailRetentionDays).toBe(30);
  });

  it.each(['0', '-1', '1.5', 'ninety', '3651'])('rejects a retention of %s', (text) => {
    const error = configError({ ...ENVIRONMENT, [EMAIL_ENV.retentionDays]: text });
    expect(error.variable).toBe(EMAIL_ENV.retentionDays);
  });
});
