import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { terminalText } from '../../api/cli/terminal-text.ts';
import { startApiServer } from '../../api/node/server.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
import {
  CONFIG,
  INTERNAL_ORIGIN,
  PUBLIC_ORIGIN,
  VALID_COMMENT,
  createHarness,
  postForm,
  postJson,
  readJson,
  submitComment,
  type Harness,
} from './harness.ts';

const run = promisify(execFile);

let harness: Harness;
beforeEach(async () => {
  harness = await createHarness();
});
afterEach(async () => {
  await harness.close();
});

function bytes(...parts: Array<string | number[]>): Uint8Array<ArrayBuffer> {
  const chunks = parts.map((part) =>
    typeof part === 'string' ? new TextEncoder().encode(part) : Uint8Array.from(part),
  );
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const output = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    output.set(chunk, offset);
    offset += chunk.length;
  }
  return output;
}

async function send(
  body: Uint8Array<ArrayBuffer>,
  headers: Record<string, string>,
): Promise<Response> {
  return harness.app.request('/api/comments', {
    method: 'POST',
    headers: { origin: PUBLIC_ORIGIN, ...headers },
    body,
  });
}

async function storedCount(): Promise<number> {
  return (await harness.store.outboxStats(harness.clock.now())).depth;
}

const FORM_HEADERS = {
  'content-type': 'application/x-www-form-urlencoded',
  accept: 'text/html',
  origin: PUBLIC_ORIGIN,
};

function multipartBody(
  boundary: string,
  fields: Array<[string, Uint8Array<ArrayBuffer> | string]>,
): Uint8Array<ArrayBuffer> {
  const parts: Array<string | number[]> = [];
  for (const [name, value] of fields) {
    parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`);
    parts.push(typeof value === 'string' ? value : Array.from(value));
    parts.push('\r\n');
  }
  parts.push(`--${boundary}--\r\n`);
  return bytes(...parts);
}

describe('bytes that are not UTF-8', () => {
  // Each sequence is invalid UTF-8: a stray continuation byte, a byte UTF-8 never uses, an
  // overlong encoding of "/", a truncated sequence, and a UTF-16 surrogate encoded as UTF-8.
  const invalid: Array<[string, number[]]> = [
    ['a stray continuation byte', [0x80]],
    ['an 0xFF byte', [0xff, 0xfe]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ];
  const percent = (sequence: number[]) =>
    sequence.map((byte) => `%${byte.toString(16).toUpperCase()}`).join('');

  it.each(invalid)('rejects JSON with %s', async (_name, sequence) => {
    const body = bytes('{"post":"hello-world","author":"Ada","text":"bad ', sequence, '"}');
    const response = await send(body, { 'content-type': 'application/json' });
    expect(response.status).toBe(400);
    const json = await readJson(response);
    expect(json).toHaveProperty('error.code', 'malformed_body');
    expect(json).toHaveProperty('error.message', expect.stringMatching(/not valid UTF-8/));
    expect(await storedCount()).toBe(0);
  });

  it.each(invalid)('rejects a percent-encoded form text with %s', async (_name, sequence) => {
    const body = bytes(`post=hello-world&author=Ada&text=bad${percent(sequence)}`);
    const response = await send(body, FORM_HEADERS);
    expect(response.status).toBe(422);
    const page = await response.text();
    expect(page).toContain('Comment contains bytes that are not valid UTF-8');
    expect(await storedCount()).toBe(0);
  });

  it.each(invalid)('rejects raw bytes in a form with %s', async (_name, sequence) => {
    const body = bytes('post=hello-world&author=Ada&text=bad', sequence);
    const response = await send(body, { ...FORM_HEADERS, accept: 'application/json' });
    expect(response.status).toBe(422);
    expect((await readJson(response)).issues).toContainEqual({
      field: 'text',
      message: expect.stringMatching(/not valid UTF-8/),
    });
    expect(await storedCount()).toBe(0);
  });

  it.each(invalid)('rejects a multipart text with %s', async (_name, sequence) => {
    const boundary = 'robustness-boundary';
    const body = multipartBody(boundary, [
      ['post', 'hello-world'],
      ['author', 'Ada'],
      ['text', bytes('bad ', sequence)],
    ]);
    const response = await send(body, {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      accept: 'application/json',
    });
    expect(response.status).toBe(422);
    expect((await readJson(response)).issues).toContainEqual({
      field: 'text',
      message: expect.stringMatching(/not valid UTF-8/),
    });
    expect(await storedCount()).toBe(0);
  });

  it('names the author field when its bytes are invalid', async () => {
    const response = await send(bytes('post=hello-world&author=Ada%FF&text=fine'), {
      ...FORM_HEADERS,
      accept: 'application/json',
    });
    expect((await readJson(response)).issues).toEqual([
      { field: 'author', message: expect.stringMatching(/not valid UTF-8/) },
    ]);
  });

  it('keeps the other fields on the form page', async () => {
    const body = bytes('post=hello-world&author=Ada+Reader&text=keep+me+%FF+please');
    const page = await (await send(body, FORM_HEADERS)).text();
    expect(page).toContain('value="Ada Reader"');
    expect(page).toContain('keep me \ufffd please</textarea>');
  });

  it('rejects Latin-1 JSON that declares its charset', async () => {
    const body = bytes('{"post":"hello-world","author":"Zo', [0xeb], '","text":"caf', [0xe9], '"}');
    const response = await send(body, { 'content-type': 'application/json; charset=iso-8859-1' });
    expect(response.status).toBe(400);
  });

  const valid: Array<[string, string]> = [
    ['two-byte letters', 'Zoë café'],
    ['three-byte letters', 'مرحبا 日本語'],
    ['four-byte emoji', 'ok 👋🏽'],
    ['a literal U+FFFD', 'replacement \ufffd sent on purpose'],
    ['a percent sign not followed by hex', '100% sure, %zz'],
    ['a leading byte order mark', '\ufeffstarts with a BOM'],
  ];

  it.each(valid)('stores form text with %s unchanged', async (_name, text) => {
    const body = new URLSearchParams({ post: 'hello-world', author: 'Ada', text });
    const response = await send(bytes(body.toString()), {
      ...FORM_HEADERS,
      accept: 'application/json',
    });
    expect(response.status).toBe(202);
    const receipt = String((await readJson(response)).receipt);
    expect((await harness.store.get(receipt))?.body).toBe(text);
  });

  it.each(valid)('stores multipart text with %s unchanged', async (_name, text) => {
    const form = new FormData();
    form.set('post', 'hello-world');
    form.set('author', 'Ada');
    form.set('text', text);
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { accept: 'application/json', origin: PUBLIC_ORIGIN },
      body: form,
    });
    expect(response.status).toBe(202);
    const receipt = String((await readJson(response)).receipt);
    expect((await harness.store.get(receipt))?.body).toBe(text);
  });

  it.each(valid)('stores JSON text with %s unchanged', async (_name, text) => {
    const receipt = await submitComment(harness, { ...VALID_COMMENT, text });
    expect((await harness.store.get(receipt))?.body).toBe(text);
  });
});

describe('form field sent twice', () => {
  it.each([
    ['post', 'hello-world'],
    ['author', 'Ada'],
    ['text', 'Same text twice'],
    ['parent', 'abc'],
    ['visibility', 'public'],
  ])('rejects a repeated %s naming it', async (field, value) => {
    const params = new URLSearchParams({ post: 'hello-world', author: 'Ada', text: 'first' });
    params.delete(field);
    params.append(field, value);
    params.append(field, value);
    const response = await send(bytes(params.toString()), {
      ...FORM_HEADERS,
      accept: 'application/json',
    });
    expect(response.status).toBe(422);
    expect((await readJson(response)).issues).toContainEqual({
      field,
      message: expect.stringMatching(/more than once/),
    });
    expect(await storedCount()).toBe(0);
  });

  it('rejects a repeated multipart field', async () => {
    const form = new FormData();
    form.set('post', 'hello-world');
    form.set('author', 'Ada');
    form.append('text', 'first');
    form.append('text', 'second');
    const response = await harness.app.request('/api/comments', {
      method: 'POST',
      headers: { accept: 'application/json', origin: PUBLIC_ORIGIN },
      body: form,
    });
    expect(response.status).toBe(422);
  });
});

describe('repeated submissions of different comments', () => {
  it('keeps the same text as replies to two parents', async () => {
    const first = await submitComment(harness, { ...VALID_COMMENT, text: 'Parent one' });
    const second = await submitComment(harness, { ...VALID_COMMENT, text: 'Parent two' });
    const reply = { post: 'hello-world', author: 'Staff', text: 'Thanks!' };
    const toFirst = await submitComment(harness, { ...reply, parent: first });
    const toSecond = await submitComment(harness, { ...reply, parent: second });
    expect(toSecond).not.toBe(toFirst);
    expect((await harness.store.get(toSecond))?.parent).toBe(second);
  });

  it('keeps a reply and a top-level comment with the same text', async () => {
    const parent = await submitComment(harness, { ...VALID_COMMENT, text: 'Parent' });
    const reply = await submitComment(harness, { ...VALID_COMMENT, text: 'Same', parent });
    const topLevel = await submitComment(harness, { ...VALID_COMMENT, text: 'Same' });
    expect(topLevel).not.toBe(reply);
    expect((await harness.store.get(topLevel))?.parent).toBeNull();
  });

  it('keeps the same text posted internal and then public', async () => {
    const comment = { post: 'hello-world', author: 'Staff', text: 'Shipping Friday.' };
    const origin = { origin: INTERNAL_ORIGIN };
    const internal = await submitComment(harness, { ...comment, visibility: 'internal' }, origin);
    const shared = await submitComment(harness, { ...comment, visibility: 'public' }, origin);
    expect(shared).not.toBe(internal);
    expect((await harness.store.get(shared))?.visibility).toBe('public');
  });

  it('still returns the first receipt for the same reply sent twice', async () => {
    const parent = await submitComment(harness, { ...VALID_COMMENT, text: 'Parent' });
    const reply = { ...VALID_COMMENT, text: 'Twice', parent };
    expect(await submitComment(harness, reply)).toBe(await submitComment(harness, reply));
  });

  it('rejects an idempotency key reused for a reply to another parent', async () => {
    const first = await submitComment(harness, { ...VALID_COMMENT, text: 'Parent one' });
    const second = await submitComment(harness, { ...VALID_COMMENT, text: 'Parent two' });
    const reply = { ...VALID_COMMENT, text: 'Same words', idempotencyKey: 'reply-key' };
    await submitComment(harness, { ...reply, parent: first });
    const response = await postJson(harness, { ...reply, parent: second });
    expect(response.status).toBe(409);
  });
});

describe('author names', () => {
  const cleaned: Array<[string, string, string]> = [
    ['a line feed', 'Ada\nLovelace', 'Ada Lovelace'],
    ['a carriage return', 'Ada\rApproved', 'Ada Approved'],
    ['a tab', 'Ada\tReader', 'Ada Reader'],
    ['a NUL', 'Ada\u0000', 'Ada'],
    ['a terminal escape sequence', 'Ada \u001b[2J\u001b[H', 'Ada  [2J [H'],
    ['a C1 control', 'Ada\u009b31m', 'Ada 31m'],
    ['a line separator', 'Ada\u2028Reader', 'Ada Reader'],
  ];

  it.each(cleaned)('stores an author with %s as one line', async (_name, author, stored) => {
    const receipt = await submitComment(harness, { ...VALID_COMMENT, author });
    expect((await harness.store.get(receipt))?.author).toBe(stored);
  });

  const rejected: Array<[string, string]> = [
    ['only zero-width characters', '\u200b\u200d\ufeff'],
    ['only control characters', '\u0000\u001b\r\n'],
  ];

  it.each(rejected)('rejects an author with %s', async (_name, author) => {
    const response = await postJson(harness, { ...VALID_COMMENT, author });
    expect(response.status).toBe(422);
    const json = await readJson(response);
    expect(json).toHaveProperty('error.field', 'author');
    expect(await storedCount()).toBe(0);
  });

  it.each([
    ['non-Latin letters', 'Зоя Кузнецова'],
    ['right-to-left text', 'סבטלנה'],
    ['an emoji', 'Ada 🚀'],
    ['punctuation that looks like YAML', '--- key: "value" # x'],
  ])('accepts an author with %s', async (_name, author) => {
    const receipt = await submitComment(harness, { ...VALID_COMMENT, author });
    expect((await harness.store.get(receipt))?.author).toBe(author);
  });

  it('says on the form page why the name was rejected', async () => {
    const response = await postForm(harness, {
      post: 'hello-world',
      author: '\u200b\r\n',
      text: 'Kept text',
    });
    const page = await response.text();
    expect(page).toContain('Name must not be empty');
    expect(page).toContain('Kept text</textarea>');
  });
});

describe('terminalText', () => {
  it.each([
    ['an escape sequence', 'a\u001b[2Jb', 'a\\u001b[2Jb'],
    ['a bare carriage return', 'safe\rOVERWRITTEN', 'safe\\u000dOVERWRITTEN'],
    ['a backspace', 'x\bY', 'x\\u0008Y'],
    ['a C1 control sequence introducer', 'x\u009b2J', 'x\\u009b2J'],
    ['a bell', 'ding\u0007', 'ding\\u0007'],
  ])('escapes %s', (_name, text, expected) => {
    expect(terminalText(text, { multiline: true })).toBe(expected);
  });

  it('keeps line feeds and tabs in multi-line text', () => {
    expect(terminalText('one\n\ttwo', { multiline: true })).toBe('one\n\ttwo');
  });

  it('prints CRLF line endings as line feeds', () => {
    expect(terminalText('one\r\ntwo', { multiline: true })).toBe('one\ntwo');
  });

  it('escapes line feeds in one-line text', () => {
    expect(terminalText('one\ntwo', { multiline: false })).toBe('one\\u000atwo');
  });
});

describe('review command', () => {
  it('prints a hostile comment without control characters', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'marginalia-review-cli-'));
    await mkdir(join(dir, 'content', 'posts'), { recursive: true });
    await writeFile(
      join(dir, 'content', 'posts', 'hello.md'),
      '---\nid: hello-world\ntitle: "Hello\\u001b]0;pwned\\u0007"\ndate: 2026-01-05\n' +
        'visibility: public\ncomments: open\n---\n\nThe first post.\n',
    );
    const server = await startApiServer({
      config: CONFIG,
      forge: createMemoryForge(),
      dataDir: join(dir, 'data'),
      contentDir: join(dir, 'content'),
      port: 0,
      startWorker: false,
      logger: createJsonLogger(
        () => undefined,
        () => new Date(),
      ),
    });
    try {
      const text = 'Looks fine\r\u001b[1A\u001b[2KApproved by staff\u001b]52;c;ZXZpbA==\u0007';
      const response = await fetch(`${server.url}/api/comments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
        body: JSON.stringify({ post: 'hello-world', author: 'Ada', text }),
      });
      const receipt = String((await readJson(response)).receipt);
      await server.worker.drain();

      const env = {
        ...process.env,
        MARGINALIA_API_URL: server.url,
        MARGINALIA_STAFF_TOKEN: CONFIG.staffToken,
      };
      const script = join(import.meta.dirname, '../../api/cli/review.ts');
      const list = await run(process.execPath, [script], { env });
      const show = await run(process.execPath, [script, 'show', receipt], { env });
      expect(list.stdout).toContain(receipt);
      expect(list.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(show.stdout).toContain('\\u001b[2KApproved by staff');
      expect(show.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('review command usage', () => {
  const script = join(import.meta.dirname, '../../api/cli/review.ts');

  it('rejects an unknown command before anything else', async () => {
    const failure = await run(process.execPath, [script, 'frobnicate'], {
      env: { ...process.env, MARGINALIA_STAFF_TOKEN: 'unused-token-1234' },
    }).catch((error: { code: number; stderr: string }) => error);
    expect('code' in failure).toBe(true);
    expect('code' in failure ? failure.code : null).toBe(1);
    expect(String(failure.stderr)).toContain('unknown command "frobnicate"');
  });

  it('finds the API and token in the data folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'marginalia-review-stack-'));
    await mkdir(join(dir, 'content', 'posts'), { recursive: true });
    await writeFile(
      join(dir, 'content', 'posts', 'hello.md'),
      '---\nid: hello-world\ntitle: Hello\ndate: 2026-01-05\nvisibility: public\n---\n\nHi.\n',
    );
    const forge = createMemoryForge();
    const server = await startApiServer({
      config: CONFIG,
      forge,
      dataDir: join(dir, 'data'),
      contentDir: join(dir, 'content'),
      port: 0,
      startWorker: false,
      logger: createJsonLogger(
        () => undefined,
        () => new Date(),
      ),
    });
    try {
      await writeFile(join(dir, 'stack.json'), JSON.stringify({ urls: { api: server.url } }));
      await writeFile(join(dir, 'secrets.json'), JSON.stringify({ staffToken: CONFIG.staffToken }));
      const response = await fetch(`${server.url}/api/comments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
        body: JSON.stringify({ post: 'hello-world', author: 'Ada', text: 'Approve me' }),
      });
      const receipt = String((await readJson(response)).receipt);
      await server.worker.drain();

      const env: NodeJS.ProcessEnv = { ...process.env, MARGINALIA_DATA_DIR: dir };
      delete env['MARGINALIA_API_URL'];
      delete env['MARGINALIA_STAFF_TOKEN'];
      const list = await run(process.execPath, [script], { env });
      expect(list.stdout).toContain(receipt);
      expect(list.stdout).toContain('Approve me');
      const approve = await run(process.execPath, [script, 'approve', receipt], { env });
      expect(approve.stdout.trim()).toBe(
        `Approved ${receipt}: its pull request is merged, and both sites are rebuilding.`,
      );
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
