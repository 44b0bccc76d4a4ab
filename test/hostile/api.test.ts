// Sends every hostile case to POST /api/comments on an in-process app, as JSON, and a sample as
// HTML form posts. A rejected case must get its status, the field and a plain sentence with a
// request id, and store nothing. An accepted case must be stored as sent (after NFC), under a
// server-made id, and its comment file must read back byte for byte.
import path from 'node:path';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommentFile } from '../../api/content/front-matter.ts';
import { ID_PATTERN, commentPath } from '../../api/content/schema.ts';
import { buildProposal } from '../../api/delivery/proposal.ts';
import type { PostInfo } from '../../api/platform/content-index.ts';
import { escapeHtml } from '../../api/routes/html.ts';
import { fieldLabel } from '../../api/routes/pages.ts';
import {
  EXISTING_COMMENT,
  POSTS,
  PUBLIC_ORIGIN,
  createHarness,
  type Harness,
} from '../api/harness.ts';
import {
  HOSTILE_CASES,
  KINDS,
  countByKind,
  sentFields,
  storedFields,
  type HostileCase,
  type Rejection,
} from './cases.ts';
import { COMMENT_ON_OTHER_POST, OTHER_POST } from './families/path-id.ts';

const POSTS_WITH_OTHER = new Map<string, PostInfo>([
  ...POSTS,
  [
    OTHER_POST,
    { id: OTHER_POST, title: 'Another post', visibility: 'public', comments: 'open', path: '/p/' },
  ],
]);

const KNOWN_COMMENTS = new Map([
  [EXISTING_COMMENT, 'hello-world'],
  [COMMENT_ON_OTHER_POST, OTHER_POST],
]);

const ErrorResponse = v.object({
  error: v.object({
    code: v.string(),
    message: v.string(),
    field: v.nullable(v.string()),
    requestId: v.string(),
  }),
  issues: v.array(v.object({ field: v.string(), message: v.string() })),
});

const Receipt = v.object({ receipt: v.string(), status: v.literal('received') });

/** Words that show a message was written for a program, not for a reader. */
const JARGON = /invalid type|expected|received|undefined|\[object|NaN|Error:|valibot/i;

async function sendJson(harness: Harness, hostile: HostileCase): Promise<Response> {
  return harness.app.request('/api/comments', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
    body: hostile.rawBody ?? JSON.stringify(sentFields(hostile)),
  });
}

/** Returns the fields as an HTML form sends them, or null when a form cannot carry them. */
function formFields(hostile: HostileCase): Record<string, string> | null {
  if (hostile.rawBody !== undefined) return null;
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(sentFields(hostile))) {
    if (typeof value !== 'string' || !value.isWellFormed()) return null;
    fields[name] = value;
  }
  return fields;
}

async function sendForm(harness: Harness, fields: Record<string, string>): Promise<Response> {
  return harness.app.request('/api/comments', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      origin: PUBLIC_ORIGIN,
    },
    body: new URLSearchParams(fields).toString(),
  });
}

async function storedCount(harness: Harness): Promise<number> {
  return (await harness.store.outboxStats(harness.clock.now())).depth;
}

async function expectRejectedJson(
  harness: Harness,
  response: Response,
  expected: Rejection,
): Promise<void> {
  expect(response.status).toBe(expected.status);
  const body = v.parse(ErrorResponse, await response.json());
  expect(body.error.field).toBe(expected.field);
  expect(body.error.message).toMatch(/^[A-Z].*\.$/s);
  expect(body.error.message).not.toMatch(JARGON);
  expect(body.error.requestId).not.toBe('');
  expect(response.headers.get('x-request-id')).toBe(body.error.requestId);
  if (expected.field !== null) {
    const issue = body.issues.find((candidate) => candidate.field === expected.field);
    expect(issue?.message).toMatch(/^[a-z"]/);
    expect(issue?.message).not.toMatch(JARGON);
  }
}

/** Checks the stored comment and the file the delivery worker would commit for it. */
async function expectStoredInert(
  harness: Harness,
  hostile: HostileCase,
  receipt: string,
): Promise<void> {
  const stored = await harness.store.get(receipt);
  if (stored === null) throw new Error(`receipt ${receipt} has no stored comment`);
  const expected = storedFields(hostile);
  expect(stored.post).toBe(expected.post);
  expect(stored.parent).toBe(expected.parent);
  expect(stored.author).toBe(expected.author);
  expect(stored.authorUrl).toBe(expected.authorUrl);
  expect(stored.body).toBe(expected.text);

  // The server makes the id, the date and the source, whatever the request carried.
  expect(stored.id).toMatch(ID_PATTERN);
  expect(stored.id).not.toBe(sentFields(hostile).id);
  expect(stored.date).toBe(harness.clock.now().toISOString());
  expect(stored.source).toBe('public');
  expect(stored.status).toBe('received');
  const filePath = commentPath(stored.post, stored.id);
  expect(path.posix.normalize(filePath)).toBe(filePath);
  expect(filePath.startsWith(`content/comments/${stored.post}/`)).toBe(true);
  expect(Object.prototype).not.toHaveProperty('polluted');

  const title = POSTS_WITH_OTHER.get(stored.post)?.title ?? stored.post;
  const file = buildProposal(stored, title).content;
  const parsed = parseCommentFile(file);
  expect(parsed.author).toBe(stored.author);
  expect(parsed.authorUrl ?? null).toBe(stored.authorUrl);
  expect(parsed.post).toBe(stored.post);
  expect(parsed.parent).toBe(stored.parent);
  expect(Buffer.from(parsed.body).equals(Buffer.from(expected.text))).toBe(true);
  expect(file.endsWith(`---\n${expected.text}`)).toBe(true);
}

/** Picks every third case that an HTML form can carry, so each family is sampled. */
function formSample(cases: readonly HostileCase[]): Array<[HostileCase, Record<string, string>]> {
  const sample: Array<[HostileCase, Record<string, string>]> = [];
  cases.forEach((hostile, index) => {
    const fields = formFields(hostile);
    if (fields !== null && index % 3 === 0) sample.push([hostile, fields]);
  });
  return sample;
}

describe('hostile corpus', () => {
  it('has at least 300 cases', () => {
    expect(HOSTILE_CASES.length).toBeGreaterThanOrEqual(300);
  });

  it.each(KINDS)('has at least ten cases of kind %s', (kind) => {
    expect(countByKind(HOSTILE_CASES)[kind]).toBeGreaterThanOrEqual(10);
  });
});

describe.each(KINDS)('hostile %s input', (kind) => {
  const cases = HOSTILE_CASES.filter((hostile) => hostile.kind === kind);
  let harness: Harness;

  // One app per kind keeps each family's outbox apart, so counts and duplicates stay local.
  beforeAll(async () => {
    harness = await createHarness({ posts: POSTS_WITH_OTHER, knownComments: KNOWN_COMMENTS });
  });
  afterAll(async () => {
    await harness.close();
  });

  for (const hostile of cases) {
    const test = hostile.knownBug === undefined ? it : it.fails;
    test(`answers ${hostile.id} as JSON`, async () => {
      const before = await storedCount(harness);
      const response = await sendJson(harness, hostile);
      if (hostile.expected === 'stored-inert') {
        expect(response.status).toBe(202);
        const { receipt } = v.parse(Receipt, await response.json());
        await expectStoredInert(harness, hostile, receipt);
        return;
      }
      await expectRejectedJson(harness, response, hostile.expected);
      expect(await storedCount(harness)).toBe(before);
    });
  }

  for (const [hostile, fields] of formSample(cases)) {
    const test = hostile.knownBug === undefined ? it : it.fails;
    test(`answers ${hostile.id} as a form post`, async () => {
      const before = await storedCount(harness);
      const response = await sendForm(harness, fields);
      const expected = hostile.expected;
      if (expected === 'stored-inert') {
        expect(response.status).toBe(303);
        const location = new URL(response.headers.get('location') ?? '', PUBLIC_ORIGIN);
        expect(location.searchParams.get('comment')).toBe('received');
        await expectStoredInert(harness, hostile, location.searchParams.get('receipt') ?? '');
        return;
      }
      expect(response.status).toBe(expected.status);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('x-request-id')).toMatch(/\S/);
      const page = await response.text();
      if (expected.field !== null) {
        expect(page).toContain(`<li>${escapeHtml(fieldLabel(expected.field))} `);
        if (expected.field !== 'text') {
          expect(page).toContain(`${escapeHtml(storedFields(hostile).text)}</textarea>`);
        }
      }
      expect(await storedCount(harness)).toBe(before);
    });
  }
});

describe('hostile resubmission', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness();
  });
  afterAll(async () => {
    await harness.close();
  });

  it('keeps a changed website on a resubmission', async () => {
    const comment = { post: 'hello-world', author: 'Ada', text: 'Same words, new website.' };
    const first = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
      body: JSON.stringify({ ...comment, authorUrl: 'https://old.example.org/' }),
    });
    const second = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
      body: JSON.stringify({ ...comment, authorUrl: 'https://new.example.org/' }),
    });
    const { receipt } = v.parse(Receipt, await second.json());
    expect(v.parse(Receipt, await first.json()).receipt).not.toBe(receipt);
    expect((await harness.store.get(receipt))?.authorUrl).toBe('https://new.example.org/');
  });
});
