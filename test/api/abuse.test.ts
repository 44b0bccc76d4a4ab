import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'hono';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addressKey, resolveClientAddress } from '../../api/abuse/client-address.ts';
import { describeWait } from '../../api/abuse/guard.ts';
import { HONEYPOT_FIELD } from '../../api/abuse/honeypot.ts';
import { countLinks, MANY_LINKS_LABEL } from '../../api/abuse/links.ts';
import { checkRequestOrigin } from '../../api/abuse/origin.ts';
import {
  createMemoryRateLimiter,
  DEFAULT_RATE_LIMITS,
  type RateLimitBucket,
  type RateLimitSettings,
} from '../../api/abuse/rate-limit.ts';
import { TURNSTILE_FIELD, type TurnstileConfig } from '../../api/abuse/turnstile.ts';
import { ConfigError, ENV, OPTIONAL_ENV, parseConfig } from '../../api/config.ts';
import { buildProposal } from '../../api/delivery/proposal.ts';
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
  type Harness,
} from './harness.ts';

const API_ORIGIN = CONFIG.apiPublicUrl;
/** Header through which these tests tell the app which TCP peer sent a request. */
const PEER = 'x-test-peer';

/** Reads the TCP peer from the test header, standing in for getConnInfo. */
const peerFromHeader = (c: Context) => c.req.header(PEER);

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
});

async function open(
  config: Partial<typeof CONFIG> = {},
  abuse: { fetch?: typeof fetch } = {},
): Promise<Harness> {
  harness = await createHarness({
    config: {
      ...CONFIG,
      rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
      ...config,
    },
    abuse: { socketAddress: peerFromHeader, ...abuse },
  });
  return harness;
}

async function storedCount(h: Harness): Promise<number> {
  return (await h.store.outboxStats(h.clock.now())).depth;
}

/** Builds a distinct valid comment, so that no two count as one repeated submission. */
function comment(index: number, fields: Record<string, string> = {}): Record<string, string> {
  return { ...VALID_COMMENT, text: `Comment number ${index}.`, ...fields };
}

describe('origin allowlist', () => {
  it.each([
    ['the public site', PUBLIC_ORIGIN],
    ['the internal site', INTERNAL_ORIGIN],
    ["the API's own form page", API_ORIGIN],
  ])('accepts a submission from %s', async (_name, origin) => {
    const h = await open();
    const response = await postJson(h, VALID_COMMENT, { origin });
    expect(response.status).toBe(202);
  });

  it.each([
    ['a longer port', `${PUBLIC_ORIGIN}0`],
    ['a shorter port', PUBLIC_ORIGIN.slice(0, -1)],
    ['a host suffix', 'http://127.0.0.1.evil.example:4321'],
    ['a prefix of another host', `${PUBLIC_ORIGIN}.evil.example`],
    ['another scheme', PUBLIC_ORIGIN.replace('http:', 'https:')],
    ['uppercase letters', PUBLIC_ORIGIN.toUpperCase()],
    ['a trailing slash', `${PUBLIC_ORIGIN}/`],
    ['a path', `${PUBLIC_ORIGIN}/posts/hello-world/`],
    ['user information', 'http://reader@127.0.0.1:4321'],
    ['two origins', `${PUBLIC_ORIGIN} http://evil.example`],
    ['another host', 'http://evil.example'],
    ['the value null', 'null'],
    ['a file URL', 'file://'],
    ['an empty value', ''],
    ['an unparseable value', 'not an origin'],
  ])('rejects an Origin with %s', async (_name, origin) => {
    const h = await open();
    const response = await postJson(h, VALID_COMMENT, { origin });
    expect(response.status).toBe(403);
    expect(await readJson(response)).toHaveProperty('error.code', 'origin_not_allowed');
    expect(await storedCount(h)).toBe(0);
  });

  it('rejects a request without Origin or Referer', async () => {
    const h = await open();
    const response = await h.app.request('/api/comments', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(VALID_COMMENT),
    });
    expect(response.status).toBe(403);
    expect(await storedCount(h)).toBe(0);
  });

  it('names the Origin header in the rejection', async () => {
    const h = await open();
    const response = await h.app.request('/api/comments', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(VALID_COMMENT),
    });
    const json = await readJson(response);
    expect(json).toHaveProperty('error.field', 'Origin');
    expect(json).toHaveProperty('error.message', expect.stringContaining('Origin header'));
  });

  it('answers a rejected form with an HTML page', async () => {
    const h = await open();
    const response = await postForm(h, comment(1), { origin: 'http://evil.example' });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain('Origin header');
  });

  it.each([
    ['a post on the public site', `${PUBLIC_ORIGIN}/posts/hello-world/`],
    ['the internal site', `${INTERNAL_ORIGIN}/`],
    ['another site', 'http://evil.example/posts/hello-world/'],
  ])('does not take a Referer from %s in place of the Origin', async (_name, referer) => {
    const h = await open();
    const response = await h.app.request('/api/comments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', referer },
      body: JSON.stringify(VALID_COMMENT),
    });
    expect(response.status).toBe(403);
    expect(await readJson(response)).toHaveProperty('error.field', 'Origin');
  });

  it('ignores the Referer when an Origin is sent', async () => {
    const h = await open();
    const response = await postJson(h, VALID_COMMENT, {
      origin: 'http://evil.example',
      referer: `${PUBLIC_ORIGIN}/posts/hello-world/`,
    });
    expect(response.status).toBe(403);
  });
});

describe('checkRequestOrigin', () => {
  const allowed = new Set([PUBLIC_ORIGIN]);

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['null', 'opaque'],
    [' null ', 'opaque'],
    [`${PUBLIC_ORIGIN}/`, 'not_allowed'],
    [`${PUBLIC_ORIGIN}/posts/`, 'not_allowed'],
    ['HTTP://127.0.0.1:4321', 'not_allowed'],
    ['data:text/html,x', 'not_allowed'],
  ])('rejects Origin %j as %s', (origin, reason) => {
    expect(checkRequestOrigin(origin, allowed)).toEqual({ ok: false, reason });
  });

  it('returns an allowed origin', () => {
    expect(checkRequestOrigin(PUBLIC_ORIGIN, allowed)).toEqual({ ok: true, origin: PUBLIC_ORIGIN });
  });
});

describe('honeypot', () => {
  it('answers a filled JSON submission as received', async () => {
    const h = await open();
    const response = await postJson(h, { ...VALID_COMMENT, [HONEYPOT_FIELD]: 'spam' });
    expect(response.status).toBe(202);
    const json = await readJson(response);
    expect(json.status).toBe('received');
    expect(json.receipt).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
  });

  it('stores nothing for a filled submission', async () => {
    const h = await open();
    await postJson(h, { ...VALID_COMMENT, [HONEYPOT_FIELD]: 'spam' });
    expect(await storedCount(h)).toBe(0);
  });

  it('wakes no delivery for a filled submission', async () => {
    const h = await open();
    await postJson(h, { ...VALID_COMMENT, [HONEYPOT_FIELD]: 'spam' });
    expect(h.wakes()).toBe(0);
  });

  it('leads the made-up receipt to no comment', async () => {
    const h = await open();
    const response = await postJson(h, { ...VALID_COMMENT, [HONEYPOT_FIELD]: 'spam' });
    const receipt = String((await readJson(response)).receipt);
    expect(await h.store.get(receipt)).toBeNull();
  });

  it('redirects a filled form back to the post as received', async () => {
    const h = await open();
    const response = await postForm(h, { ...comment(1), [HONEYPOT_FIELD]: 'https://spam.example' });
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe(`${CONFIG.publicSiteUrl}/posts/hello-world/`);
    expect(location.searchParams.get('comment')).toBe('received');
    expect(await storedCount(h)).toBe(0);
  });

  it('redirects to the site home when the post is unknown', async () => {
    const h = await open();
    const response = await postForm(h, { post: 'no-such-post', [HONEYPOT_FIELD]: 'x' });
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe(`${CONFIG.publicSiteUrl}/`);
  });

  it.each([
    ['missing fields', { [HONEYPOT_FIELD]: 'x' }],
    ['an unknown post', { ...VALID_COMMENT, post: 'nope', [HONEYPOT_FIELD]: 'x' }],
    ['an over-long text', { ...VALID_COMMENT, text: 'x'.repeat(20_001), [HONEYPOT_FIELD]: 'x' }],
  ])('drops a filled submission with %s rather than naming a field', async (_name, body) => {
    const h = await open();
    const response = await postJson(h, body);
    expect(response.status).toBe(202);
  });

  it('drops a file sent in the honeypot field', async () => {
    const h = await open();
    const body = new FormData();
    for (const [key, value] of Object.entries(comment(1))) body.set(key, value);
    body.set(HONEYPOT_FIELD, new File(['x'], 'x.txt'));
    const response = await h.app.request('/api/comments', {
      method: 'POST',
      headers: { accept: 'text/html', origin: PUBLIC_ORIGIN },
      body,
    });
    expect(response.status).toBe(303);
    expect(await storedCount(h)).toBe(0);
  });

  it.each([
    ['empty', ''],
    ['blank', '  \t'],
  ])('stores a submission whose field is %s', async (_name, value) => {
    const h = await open();
    const response = await postForm(h, { ...comment(1), [HONEYPOT_FIELD]: value });
    expect(response.status).toBe(303);
    expect(await storedCount(h)).toBe(1);
  });

  it('logs and counts each drop', async () => {
    const h = await open();
    await postJson(h, { ...VALID_COMMENT, [HONEYPOT_FIELD]: 'x' });
    await postJson(h, { ...VALID_COMMENT, [HONEYPOT_FIELD]: 'x' });
    const drops = h.logs.filter((line) => line.includes('submission dropped as spam'));
    expect(drops).toHaveLength(2);
    expect(drops[1]).toContain('"droppedSinceStart":2');
  });

  it('logs no text or name of a dropped comment', async () => {
    const h = await open();
    const text = 'Buy cheap things at unique-marker-7f3a';
    await postJson(h, { ...VALID_COMMENT, author: 'Spammer Q9z', text, [HONEYPOT_FIELD]: 'x' });
    const log = h.logs.join('');
    expect(log).not.toContain('unique-marker-7f3a');
    expect(log).not.toContain('Spammer Q9z');
  });
});

describe('rate limits', () => {
  const limits: RateLimitSettings = { addressPerMinute: 5, addressPerHour: 30, postPerHour: 60 };

  async function sendFrom(h: Harness, peer: string, index: number, fields = {}) {
    return postJson(h, comment(index, fields), { [PEER]: peer });
  }

  it('rejects the sixth comment in a minute from one address', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 5; index++) {
      expect((await sendFrom(h, '192.0.2.1', index)).status).toBe(202);
    }
    const response = await sendFrom(h, '192.0.2.1', 5);
    expect(response.status).toBe(429);
    expect(await readJson(response)).toHaveProperty('error.code', 'rate_limited');
  });

  it('stores nothing for a rejected comment', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 6; index++) await sendFrom(h, '192.0.2.1', index);
    expect(await storedCount(h)).toBe(5);
  });

  it('sends Retry-After until the oldest comment leaves the window', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 5; index++) {
      await sendFrom(h, '192.0.2.1', index);
      h.clock.advance(10_000);
    }
    // The first comment was 50 seconds ago, so a sixth is allowed in 10 seconds.
    const response = await sendFrom(h, '192.0.2.1', 5);
    expect(response.headers.get('retry-after')).toBe('10');
  });

  it('states the wait in the message', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 5; index++) await sendFrom(h, '192.0.2.1', index);
    const json = await readJson(await sendFrom(h, '192.0.2.1', 5));
    expect(json).toHaveProperty('error.message', expect.stringMatching(/again in 1 minute\.$/));
  });

  it('accepts again once the window has passed', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 5; index++) await sendFrom(h, '192.0.2.1', index);
    h.clock.advance(60_000);
    expect((await sendFrom(h, '192.0.2.1', 5)).status).toBe(202);
  });

  it('counts each address on its own', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 5; index++) await sendFrom(h, '192.0.2.1', index);
    expect((await sendFrom(h, '192.0.2.2', 5)).status).toBe(202);
  });

  it('rejects the 31st comment in an hour from one address', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 30; index++) {
      expect((await sendFrom(h, '192.0.2.1', index)).status).toBe(202);
      h.clock.advance(61_000);
    }
    const response = await sendFrom(h, '192.0.2.1', 30);
    expect(response.status).toBe(429);
    // The first of the 30 was 30 × 61 s = 1,830 s ago; it leaves the hour in 1,770 s.
    expect(response.headers.get('retry-after')).toBe('1770');
  });

  it('rejects the 61st comment in an hour on one post', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 60; index++) {
      expect((await sendFrom(h, `198.51.100.${index}`, index)).status).toBe(202);
    }
    const response = await sendFrom(h, '203.0.113.1', 60);
    expect(response.status).toBe(429);
    expect(await readJson(response)).toHaveProperty(
      'error.message',
      expect.stringContaining('This post received 60 comments within an hour'),
    );
  });

  it('leaves other posts open when one post is at its limit', async () => {
    const h = await open({ rateLimits: { ...limits, postPerHour: 1 } });
    await sendFrom(h, '192.0.2.1', 0);
    expect((await sendFrom(h, '192.0.2.2', 1)).status).toBe(429);
    const other = comment(2, { post: 'staff-notes', visibility: 'internal' });
    const response = await postJson(h, other, { origin: INTERNAL_ORIGIN, [PEER]: '192.0.2.3' });
    expect(response.status).toBe(202);
  });

  it('does not count rejected submissions', async () => {
    const h = await open({ rateLimits: limits });
    for (let index = 0; index < 5; index++) {
      expect((await sendFrom(h, '192.0.2.1', index, { author: '' })).status).toBe(422);
    }
    expect((await sendFrom(h, '192.0.2.1', 5)).status).toBe(202);
  });

  it('keeps the text on the form page of a rejected form', async () => {
    const h = await open({ rateLimits: { ...limits, addressPerMinute: 1 } });
    await postForm(h, comment(0), { [PEER]: '192.0.2.1' });
    const text = 'My long <em>considered</em> reply';
    const response = await postForm(h, comment(1, { text }), { [PEER]: '192.0.2.1' });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('60');
    const page = await response.text();
    expect(page).toContain('My long &lt;em&gt;considered&lt;/em&gt; reply</textarea>');
    expect(page).toContain('Send it again in 1 minute.');
  });

  it('counts an IPv6 /64 network as one address', async () => {
    const h = await open({ rateLimits: { ...limits, addressPerMinute: 1 } });
    await sendFrom(h, '2001:db8:1:2::1', 0);
    expect((await sendFrom(h, '2001:db8:1:2:ffff::9', 1)).status).toBe(429);
  });

  it('counts an IPv4-mapped address as its IPv4 address', async () => {
    const h = await open({ rateLimits: { ...limits, addressPerMinute: 1 } });
    await sendFrom(h, '192.0.2.7', 0);
    expect((await sendFrom(h, '::ffff:192.0.2.7', 1)).status).toBe(429);
  });

  it('turns a limit off with 0', async () => {
    const h = await open({
      rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
    });
    for (let index = 0; index < 40; index++) {
      expect((await sendFrom(h, '192.0.2.1', index)).status).toBe(202);
    }
  });

  it('uses the default limits when none are configured', async () => {
    const { rateLimits: _unused, ...withoutLimits } = CONFIG;
    harness = await createHarness({
      config: withoutLimits,
      abuse: { socketAddress: peerFromHeader },
    });
    const h = harness;
    for (let index = 0; index < DEFAULT_RATE_LIMITS.addressPerMinute; index++) {
      await sendFrom(h, '192.0.2.1', index);
    }
    expect((await sendFrom(h, '192.0.2.1', 99)).status).toBe(429);
  });

  describe('behind a trusted proxy', () => {
    const proxied = {
      rateLimits: { ...limits, addressPerMinute: 1 },
      clientAddressHeader: 'x-forwarded-for',
    };

    it('counts the address the proxy appended', async () => {
      const h = await open(proxied);
      await postJson(h, comment(0), { [PEER]: '10.0.0.1', 'x-forwarded-for': '192.0.2.1' });
      const response = await postJson(h, comment(1), {
        [PEER]: '10.0.0.1',
        'x-forwarded-for': '192.0.2.2',
      });
      expect(response.status).toBe(202);
    });

    it('ignores entries the client put before it', async () => {
      const h = await open(proxied);
      await postJson(h, comment(0), { [PEER]: '10.0.0.1', 'x-forwarded-for': '192.0.2.1' });
      const response = await postJson(h, comment(1), {
        [PEER]: '10.0.0.1',
        'x-forwarded-for': '203.0.113.9, 192.0.2.1',
      });
      expect(response.status).toBe(429);
    });

    it('falls back to the socket without the header', async () => {
      const h = await open(proxied);
      await postJson(h, comment(0), { [PEER]: '10.0.0.1' });
      expect((await postJson(h, comment(1), { [PEER]: '10.0.0.1' })).status).toBe(429);
    });
  });
});

describe('rate limits on a Node server', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marginalia-abuse-'));
    await mkdir(join(dir, 'content', 'posts'), { recursive: true });
    await writeFile(
      join(dir, 'content', 'posts', 'hello.md'),
      '---\nid: hello-world\ntitle: Hello\ndate: 2026-01-05\nvisibility: public\n---\n\nHi.\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('counts requests by the socket address', async () => {
    const { rateLimits: _unused, ...withoutLimits } = CONFIG;
    const server = await startApiServer({
      config: withoutLimits,
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
      const statuses: number[] = [];
      for (let index = 0; index <= DEFAULT_RATE_LIMITS.addressPerMinute; index++) {
        const response = await fetch(`${server.url}/api/comments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: PUBLIC_ORIGIN },
          body: JSON.stringify(comment(index)),
        });
        statuses.push(response.status);
        await response.arrayBuffer();
      }
      expect(statuses.slice(0, -1).every((status) => status === 202)).toBe(true);
      expect(statuses.at(-1)).toBe(429);
    } finally {
      await server.close();
    }
  });
});

describe('memory rate limiter', () => {
  const bucket: RateLimitBucket = { key: 'a', rules: [{ limit: 2, windowMs: 1000 }] };
  const at = (ms: number) => new Date(ms);

  it('allows up to the limit within the window', async () => {
    const limiter = createMemoryRateLimiter();
    expect(await limiter.take([bucket], at(0))).toEqual({ allowed: true });
    expect(await limiter.take([bucket], at(500))).toEqual({ allowed: true });
    expect(await limiter.take([bucket], at(999))).toHaveProperty('allowed', false);
  });

  it('slides the window rather than resetting it', async () => {
    const limiter = createMemoryRateLimiter();
    await limiter.take([bucket], at(0));
    await limiter.take([bucket], at(900));
    expect(await limiter.take([bucket], at(1000))).toEqual({ allowed: true });
    expect(await limiter.take([bucket], at(1100))).toHaveProperty('retryAfterMs', 800);
  });

  it('records nothing in any bucket when one denies', async () => {
    const limiter = createMemoryRateLimiter();
    const other: RateLimitBucket = { key: 'b', rules: [{ limit: 1, windowMs: 1000 }] };
    const full: RateLimitBucket = { key: 'c', rules: [{ limit: 1, windowMs: 1000 }] };
    await limiter.take([full], at(0));
    expect(await limiter.take([other, full], at(1))).toHaveProperty('key', 'c');
    expect(await limiter.take([other], at(2))).toEqual({ allowed: true });
  });

  it('reports the longest wait of several rules', async () => {
    const limiter = createMemoryRateLimiter();
    const two: RateLimitBucket = {
      key: 'a',
      rules: [
        { limit: 1, windowMs: 1000 },
        { limit: 1, windowMs: 5000 },
      ],
    };
    await limiter.take([two], at(0));
    expect(await limiter.take([two], at(100))).toHaveProperty('retryAfterMs', 4900);
  });

  it('keeps no more keys than its maximum', async () => {
    const limiter = createMemoryRateLimiter({ maxKeys: 2 });
    const rules = [{ limit: 1, windowMs: 60_000 }];
    await limiter.take([{ key: 'first', rules }], at(0));
    await limiter.take([{ key: 'second', rules }], at(0));
    await limiter.take([{ key: 'third', rules }], at(0));
    // The oldest key was forgotten to make room, so it may submit again.
    expect(await limiter.take([{ key: 'first', rules }], at(1))).toEqual({ allowed: true });
  });

  it('drops expired keys before forgetting active ones', async () => {
    const limiter = createMemoryRateLimiter({ maxKeys: 2 });
    const short = [{ limit: 1, windowMs: 10 }];
    const long = [{ limit: 1, windowMs: 60_000 }];
    await limiter.take([{ key: 'active', rules: long }], at(0));
    await limiter.take([{ key: 'expired', rules: short }], at(0));
    await limiter.take([{ key: 'new', rules: long }], at(100));
    expect(await limiter.take([{ key: 'active', rules: long }], at(101))).toHaveProperty(
      'allowed',
      false,
    );
  });
});

describe('client addresses', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    [' 192.0.2.1 ', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:DB8:0:0:ffff::1', '2001:db8:0:0::/64'],
    ['[2001:db8:a:b::1]', '2001:db8:a:b::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('keys %j as %j', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });

  it.each([
    '',
    'unknown',
    '256.1.1.1',
    '1.2.3',
    '01.2.3.4',
    '1::2::3',
    '2001:db8:1:2:3:4:5:6:7',
    'g::1',
  ])('finds no address in %j', (value) => {
    expect(addressKey(value)).toBeNull();
  });

  it('prefers a valid proxy header over the socket', () => {
    expect(resolveClientAddress('10.0.0.1', '192.0.2.1')).toEqual({
      address: '192.0.2.1',
      key: '192.0.2.1',
    });
  });

  it('uses the socket when the proxy header is not an address', () => {
    expect(resolveClientAddress('10.0.0.1', 'garbage')).toHaveProperty('key', '10.0.0.1');
  });

  it('shares one key among requests with no address', () => {
    expect(resolveClientAddress(undefined, undefined)).toEqual({ address: null, key: 'unknown' });
  });
});

describe('describeWait', () => {
  it.each([
    [1, '1 second'],
    [59, '59 seconds'],
    [60, '1 minute'],
    [61, '2 minutes'],
    [1770, '30 minutes'],
  ])('describes %i seconds as %j', (seconds, text) => {
    expect(describeWait(seconds)).toBe(text);
  });
});

/** Cloudflare's documented test secret keys for siteverify. */
const SECRETS = {
  pass: '1x0000000000000000000000000000000AA',
  fail: '2x0000000000000000000000000000000AA',
  spent: '3x0000000000000000000000000000000AA',
};
/** The token Turnstile's test sitekeys give the browser. */
const DUMMY_TOKEN = 'XXXX.DUMMY.TOKEN.XXXX';

interface SiteverifyStandIn {
  url: string;
  requests: URLSearchParams[];
  /** What a passing token reports; a real widget reports the page's host and its data-action. */
  answer: { hostname: string; action: string };
  status: number;
  delayMs: number;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts a siteverify stand-in on loopback that returns what Cloudflare documents for its test secret keys. */
async function startSiteverify(): Promise<SiteverifyStandIn> {
  const standIn: Omit<SiteverifyStandIn, 'url' | 'close'> = {
    requests: [],
    answer: { hostname: '127.0.0.1', action: 'comment' },
    status: 200,
    delayMs: 0,
  };
  const server: Server = createServer((request, response) => {
    void (async () => {
      const params = new URLSearchParams(await readBody(request));
      standIn.requests.push(params);
      await new Promise((resolve) => setTimeout(resolve, standIn.delayMs));
      const failure = (code: string) => ({ success: false, 'error-codes': [code] });
      let body: object;
      if (!params.get('response')) body = failure('missing-input-response');
      else if (params.get('secret') === SECRETS.pass) {
        body = {
          success: true,
          'error-codes': [],
          challenge_ts: '2026-03-01T12:00:00.000Z',
          cdata: '',
          ...standIn.answer,
        };
      } else if (params.get('secret') === SECRETS.fail) body = failure('invalid-input-response');
      else if (params.get('secret') === SECRETS.spent) body = failure('timeout-or-duplicate');
      else body = failure('invalid-input-secret');
      response.writeHead(standIn.status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  const { port } = address satisfies AddressInfo;
  return Object.assign(standIn, {
    url: `http://127.0.0.1:${port}/turnstile/v0/siteverify`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

describe('turnstile', () => {
  let siteverify: SiteverifyStandIn;
  beforeEach(async () => {
    siteverify = await startSiteverify();
  });
  afterEach(async () => {
    await siteverify.close();
  });

  function turnstile(secret: string, extra: Partial<TurnstileConfig> = {}): TurnstileConfig {
    return { secret, siteverifyUrl: siteverify.url, action: 'comment', ...extra };
  }

  const withToken = (token = DUMMY_TOKEN) => ({ ...VALID_COMMENT, [TURNSTILE_FIELD]: token });

  it('stores a comment whose token passes', async () => {
    const h = await open({ turnstile: turnstile(SECRETS.pass) });
    const response = await postJson(h, withToken());
    expect(response.status).toBe(202);
    expect(await storedCount(h)).toBe(1);
  });

  it('sends the secret, token and client address to siteverify', async () => {
    const h = await open({ turnstile: turnstile(SECRETS.pass) });
    await postJson(h, withToken(), { [PEER]: '192.0.2.5' });
    const [request] = siteverify.requests;
    expect(request?.get('secret')).toBe(SECRETS.pass);
    expect(request?.get('response')).toBe(DUMMY_TOKEN);
    expect(request?.get('remoteip')).toBe('192.0.2.5');
  });

  it.each([
    ['always fails', SECRETS.fail],
    ['already spent', SECRETS.spent],
    ['unknown', 'not-a-real-secret'],
  ])('rejects with 403 when the secret %s', async (_name, secret) => {
    const h = await open({ turnstile: turnstile(secret) });
    const response = await postJson(h, withToken());
    expect(response.status).toBe(403);
    expect(await readJson(response)).toHaveProperty('error.field', TURNSTILE_FIELD);
    expect(await storedCount(h)).toBe(0);
  });

  it('rejects a comment without a token before calling siteverify', async () => {
    const h = await open({ turnstile: turnstile(SECRETS.pass) });
    const response = await postJson(h, VALID_COMMENT);
    expect(response.status).toBe(403);
    expect(siteverify.requests).toHaveLength(0);
  });

  it('names the field in the message', async () => {
    const h = await open({ turnstile: turnstile(SECRETS.fail) });
    const json = await readJson(await postJson(h, withToken()));
    expect(json).toHaveProperty('error.code', 'turnstile_failed');
    expect(json).toHaveProperty('error.message', expect.stringContaining(TURNSTILE_FIELD));
  });

  it.each([
    ['another hostname', { hostname: 'evil.example', action: 'comment' }],
    [
      'a hostname with a matching prefix',
      { hostname: '127.0.0.1.evil.example', action: 'comment' },
    ],
    ['another action', { hostname: '127.0.0.1', action: 'login' }],
    ['no action', { hostname: '127.0.0.1', action: '' }],
  ])('rejects a passing token issued for %s', async (_name, answer) => {
    siteverify.answer = answer;
    const h = await open({ turnstile: turnstile(SECRETS.pass) });
    const response = await postJson(h, withToken());
    expect(response.status).toBe(403);
    expect(await storedCount(h)).toBe(0);
  });

  it('rejects a token longer than siteverify accepts without sending it', async () => {
    const h = await open({ turnstile: turnstile(SECRETS.pass) });
    const response = await postJson(h, withToken('x'.repeat(2049)));
    expect(response.status).toBe(403);
    expect(siteverify.requests).toHaveLength(0);
  });

  it('answers 503 and stores nothing when siteverify fails', async () => {
    siteverify.status = 500;
    const h = await open({ turnstile: turnstile(SECRETS.pass) });
    const response = await postJson(h, withToken());
    expect(response.status).toBe(503);
    expect(await readJson(response)).toHaveProperty('error.code', 'turnstile_unavailable');
    expect(await storedCount(h)).toBe(0);
  });

  it('answers 503 when siteverify does not answer in time', async () => {
    siteverify.delayMs = 1000;
    const h = await open({ turnstile: turnstile(SECRETS.pass, { timeoutMs: 100 }) });
    const response = await postJson(h, withToken());
    expect(response.status).toBe(503);
    expect(await storedCount(h)).toBe(0);
  });

  it('answers 503 when siteverify cannot be reached', async () => {
    const closed = siteverify.url;
    await siteverify.close();
    const h = await open({ turnstile: { ...turnstile(SECRETS.pass), siteverifyUrl: closed } });
    const response = await postJson(h, withToken());
    expect(response.status).toBe(503);
    siteverify = await startSiteverify();
  });

  it('waits for siteverify before answering', async () => {
    siteverify.delayMs = 200;
    const h = await open({ turnstile: turnstile(SECRETS.pass) });
    const started = performance.now();
    const response = await postJson(h, withToken());
    expect(response.status).toBe(202);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('skips siteverify for an invalid comment', async () => {
    const h = await open({ turnstile: turnstile(SECRETS.pass) });
    await postJson(h, { ...withToken(), author: '' });
    expect(siteverify.requests).toHaveLength(0);
  });

  it('skips siteverify for a rate-limited comment', async () => {
    const rateLimits = { addressPerMinute: 1, addressPerHour: 0, postPerHour: 0 };
    const h = await open({ turnstile: turnstile(SECRETS.pass), rateLimits });
    await postJson(h, withToken());
    await postJson(h, { ...withToken(), text: 'Another one.' });
    expect(siteverify.requests).toHaveLength(1);
  });

  it('keeps the text on the form page of a failed form', async () => {
    const h = await open({ turnstile: turnstile(SECRETS.fail) });
    const response = await postForm(h, {
      ...comment(1, { text: 'Keep me, please' }),
      [TURNSTILE_FIELD]: DUMMY_TOKEN,
    });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('Keep me, please</textarea>');
  });

  it('calls nothing when Turnstile is not configured', async () => {
    const h = await open();
    const response = await postJson(h, VALID_COMMENT);
    expect(response.status).toBe(202);
    expect(siteverify.requests).toHaveLength(0);
  });

  it('logs no token or secret', async () => {
    const h = await open({ turnstile: turnstile(SECRETS.fail) });
    await postJson(h, withToken());
    const log = h.logs.join('');
    expect(log).toContain('invalid-input-response');
    expect(log).not.toContain(DUMMY_TOKEN);
    expect(log).not.toContain(SECRETS.fail);
  });
});

describe('abuse settings', () => {
  const BASE = {
    [ENV.publicSiteUrl]: 'https://blog.example.com',
    [ENV.internalSiteUrl]: 'https://internal.example.com',
    [ENV.apiPublicUrl]: 'https://comments.example.com',
    [ENV.staffToken]: 'a'.repeat(32),
    [ENV.webhookSecret]: 'b'.repeat(32),
  };

  function configError(env: Record<string, string>): ConfigError {
    try {
      parseConfig({ ...BASE, ...env });
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('parseConfig accepted the environment');
  }

  it('leaves every abuse setting unset by default', () => {
    const config = parseConfig(BASE);
    expect(config.rateLimits).toBeUndefined();
    expect(config.clientAddressHeader).toBeUndefined();
    expect(config.turnstile).toBeUndefined();
  });

  it('fills unset rate limits with the defaults', () => {
    const config = parseConfig({ ...BASE, [OPTIONAL_ENV.rateLimitPostPerHour]: '0' });
    expect(config.rateLimits).toEqual({ ...DEFAULT_RATE_LIMITS, postPerHour: 0 });
  });

  it.each([
    [OPTIONAL_ENV.rateLimitAddressPerMinute, '-1'],
    [OPTIONAL_ENV.rateLimitAddressPerHour, '2.5'],
    [OPTIONAL_ENV.rateLimitPostPerHour, '1000001'],
    [OPTIONAL_ENV.rateLimitPostPerHour, 'many'],
    [OPTIONAL_ENV.clientAddressHeader, 'x-forwarded-for, x-real-ip'],
    [OPTIONAL_ENV.turnstileAction, 'has spaces'],
  ])('rejects %s=%j naming the variable', (variable, value) => {
    expect(configError({ [variable]: value }).variable).toBe(variable);
  });

  it('lowercases the client address header', () => {
    const config = parseConfig({ ...BASE, [OPTIONAL_ENV.clientAddressHeader]: 'CF-Connecting-IP' });
    expect(config.clientAddressHeader).toBe('cf-connecting-ip');
  });

  it('requires a siteverify URL with a Turnstile secret', () => {
    const error = configError({ [OPTIONAL_ENV.turnstileSecret]: SECRETS.pass });
    expect(error.variable).toBe(OPTIONAL_ENV.turnstileSiteverifyUrl);
    expect(error.message).toContain('https://challenges.cloudflare.com/turnstile/v0/siteverify');
  });

  it('rejects a siteverify URL without a secret', () => {
    const error = configError({ [OPTIONAL_ENV.turnstileSiteverifyUrl]: 'http://127.0.0.1:9/' });
    expect(error.variable).toBe(OPTIONAL_ENV.turnstileSiteverifyUrl);
  });

  it('reads the Turnstile settings with the default action', () => {
    const config = parseConfig({
      ...BASE,
      [OPTIONAL_ENV.turnstileSecret]: SECRETS.pass,
      [OPTIONAL_ENV.turnstileSiteverifyUrl]: 'http://127.0.0.1:9/siteverify',
    });
    expect(config.turnstile).toEqual({
      secret: SECRETS.pass,
      siteverifyUrl: 'http://127.0.0.1:9/siteverify',
      action: 'comment',
    });
  });

  it('keeps the Turnstile secret out of its messages', () => {
    const error = configError({ [OPTIONAL_ENV.turnstileSecret]: 'secret-value-q7' });
    expect(error.message).not.toContain('secret-value-q7');
  });
});

describe('many links', () => {
  it.each([
    ['no address', 'Plain words.', 0],
    ['a markdown link', 'See [this](https://a.example/x).', 1],
    ['bare addresses', 'http://a.example and https://b.example/path?q=1', 2],
    ['a www. address', 'Visit www.example.com today', 1],
    ['addresses on one line', 'https://a.example,https://b.example', 2],
    ['a scheme inside a word', 'xhttps://a.example', 0],
    ['a www. address with a scheme', 'https://www.example.com', 1],
    ['uppercase schemes', 'HTTPS://A.EXAMPLE WWW.B.EXAMPLE', 2],
    ['a protocol-relative link', '[a](//a.example/x)', 1],
    ['a link with an escaped colon', '[a](http\\://a.example/x)', 1],
    ['a link with an entity in its scheme', '[a](&#104;ttps://a.example/x)', 1],
    ['a link with an entity for its colon', '[a](https&#58;//a.example/x)', 1],
    ['a reference link', '[a][s]\n\n[s]: //a.example/x', 1],
    ['a mail link', '<reader@a.example>', 1],
    ['a footnote reference', 'Text[^1]\n\n[^1]: A note.', 0],
    ['a link with no safe address', '[a](javascript:alert(1))', 0],
  ])('counts %s', (_name, text, count) => {
    expect(countLinks(text)).toBe(count);
  });

  const sixLinks = Array.from({ length: 6 }, (_, i) => `- https://site${i}.example/`).join('\n');
  const fiveLinks = Array.from({ length: 5 }, (_, i) => `- https://site${i}.example/`).join('\n');

  async function proposalFor(text: string) {
    const h = await open();
    const response = await postJson(h, { ...VALID_COMMENT, text });
    const stored = await h.store.get(String((await readJson(response)).receipt));
    if (stored === null) throw new Error('the comment was not stored');
    return buildProposal(stored, 'Hello, world');
  }

  it('labels a comment with six links for staff', async () => {
    const proposal = await proposalFor(sixLinks);
    expect(proposal.labels).toContain(MANY_LINKS_LABEL);
  });

  it('labels six links written without a scheme', async () => {
    const text = Array.from({ length: 6 }, (_, i) => `- [site](//site${i}.example/)`).join('\n');
    const proposal = await proposalFor(text);
    expect(proposal.labels).toContain(MANY_LINKS_LABEL);
  });

  it('says so in the pull request body', async () => {
    const proposal = await proposalFor(sixLinks);
    expect(proposal.body).toContain('- Links: 6, more than 5');
  });

  it('leaves a comment with five links unlabelled', async () => {
    const proposal = await proposalFor(fiveLinks);
    expect(proposal.labels).toEqual(['comment', 'public']);
    expect(proposal.body).not.toContain('- Links:');
  });

  it('accepts a comment with many links', async () => {
    const h = await open();
    const many = Array.from({ length: 40 }, (_, i) => `https://s${i}.example`).join(' ');
    expect((await postJson(h, { ...VALID_COMMENT, text: many })).status).toBe(202);
  });

  it('delivers the label to the forge', async () => {
    const h = await open();
    await postJson(h, { ...VALID_COMMENT, text: sixLinks });
    await h.worker.drain();
    expect(h.forge.pulls[0]?.proposal.labels).toContain(MANY_LINKS_LABEL);
  });
});
