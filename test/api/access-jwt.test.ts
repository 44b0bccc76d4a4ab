import { createServer, type Server } from 'node:http';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AccessError,
  createAccessVerifier,
  teamOrigin,
  type AccessFailure,
  type AccessVerifierOptions,
} from '../../api/auth/access-jwt.ts';
import { ConfigError, ENV, parseConfig } from '../../api/config.ts';
import {
  CONFIG,
  createHarness,
  manualClock,
  readJson,
  staffHeaders,
  type Harness,
  type ManualClock,
} from './harness.ts';

const AUD = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const RSA_PARAMS = {
  name: 'RSASSA-PKCS1-v1_5',
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;

type Json = Record<string, unknown>;

interface SigningKey {
  kid: string;
  pair: CryptoKeyPair;
  jwk: Json;
}

async function generateSigningKey(kid: string, modulusLength = 2048): Promise<SigningKey> {
  const pair = await crypto.subtle.generateKey({ ...RSA_PARAMS, modulusLength }, true, [
    'sign',
    'verify',
  ]);
  const exported = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const jwk = { kid, kty: 'RSA', alg: 'RS256', use: 'sig', n: exported.n, e: exported.e };
  return { kid, pair, jwk };
}

function base64url(data: string | Uint8Array | ArrayBuffer): string {
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(new Uint8Array(data));
  return bytes.toString('base64url');
}

async function signToken(key: SigningKey, payload: Json, header: Json = {}): Promise<string> {
  const input = `${base64url(JSON.stringify({ alg: 'RS256', kid: key.kid, typ: 'JWT', ...header }))}.${base64url(JSON.stringify(payload))}`;
  const signature = await crypto.subtle.sign(
    RSA_PARAMS.name,
    key.pair.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${base64url(signature)}`;
}

function listeningPort(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not on TCP');
  return address.port;
}

/** A stand-in for the team's certs endpoint on 127.0.0.1 that counts its requests. */
interface JwksServer {
  origin: string;
  keys: Json[];
  /** When set, sent with status 200 in place of the key set. */
  rawBody: string | null;
  status: number;
  hang: boolean;
  requests: number;
  close(): Promise<void>;
}

async function startJwksServer(keys: Json[]): Promise<JwksServer> {
  const server: Server = createServer((request, response) => {
    if (request.url !== '/cdn-cgi/access/certs') {
      response.writeHead(404).end();
      return;
    }
    jwks.requests += 1;
    if (jwks.hang) return;
    const body = jwks.rawBody ?? JSON.stringify({ keys: jwks.keys });
    response.writeHead(jwks.status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = listeningPort(server);
  const jwks: JwksServer = {
    keys,
    rawBody: null,
    status: 200,
    hang: false,
    requests: 0,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return jwks;
}

/** Returns an origin on 127.0.0.1 where nothing listens, so connections are refused. */
async function closedOrigin(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = listeningPort(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function claims(origin: string, clock: ManualClock, overrides: Json = {}): Json {
  const now = Math.floor(clock.now().getTime() / 1000);
  return {
    aud: [AUD],
    email: 'staff@example.com',
    exp: now + 3600,
    iat: now,
    nbf: now,
    iss: origin,
    type: 'app',
    identity_nonce: 'nonce-for-tests',
    sub: '7335d417-61da-459d-899c-0a01c76a2f94',
    country: 'NL',
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<AccessError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AccessError) return error;
    throw error;
  }
  throw new Error('the token was accepted');
}

let keyA: SigningKey;
let keyB: SigningKey;
let keyC: SigningKey;
beforeAll(async () => {
  [keyA, keyB, keyC] = await Promise.all([
    generateSigningKey('kid-a'),
    generateSigningKey('kid-b'),
    generateSigningKey('kid-c'),
  ]);
});

let jwks: JwksServer;
let clock: ManualClock;
beforeEach(async () => {
  jwks = await startJwksServer([keyA.jwk]);
  clock = manualClock();
});
afterEach(async () => {
  await jwks.close();
});

function verifierFor(overrides: Partial<AccessVerifierOptions> = {}) {
  return createAccessVerifier({
    teamDomain: jwks.origin,
    audience: AUD,
    fetch: (input, init) => fetch(input, init),
    clock,
    ...overrides,
  });
}

describe('Access token verification', () => {
  it('accepts a valid token', async () => {
    const identity = await verifierFor().verify(await signToken(keyA, claims(jwks.origin, clock)));
    expect(identity.email).toBe('staff@example.com');
    expect(identity.sub).toBe('7335d417-61da-459d-899c-0a01c76a2f94');
    expect(identity.type).toBe('app');
    expect(identity.expiresAt).toEqual(new Date(clock.now().getTime() + 3_600_000));
  });

  it('accepts an audience given as one string', async () => {
    const token = await signToken(keyA, claims(jwks.origin, clock, { aud: AUD }));
    await expect(verifierFor().verify(token)).resolves.toMatchObject({ sub: expect.any(String) });
  });

  it('accepts a service token without email', async () => {
    const payload = claims(jwks.origin, clock, {
      email: undefined,
      sub: '',
      common_name: 'client-id.access',
    });
    const identity = await verifierFor().verify(await signToken(keyA, payload));
    expect(identity.email).toBeUndefined();
    expect(identity.commonName).toBe('client-id.access');
  });

  it.each<[string, Json]>([
    ['another application', { aud: ['f'.repeat(64)] }],
    ['an empty list', { aud: [] }],
    ['no audience', { aud: undefined }],
    ['a prefix of the tag', { aud: [AUD.slice(0, 32)] }],
    ['a number', { aud: 42 }],
  ])('rejects an audience of %s', async (_name, overrides) => {
    const token = await signToken(keyA, claims(jwks.origin, clock, overrides));
    const error = await rejection(verifierFor().verify(token));
    expect(error.reason).toBe('wrong_audience');
  });

  it.each<[string, (origin: string) => unknown]>([
    ['another team', () => 'https://other.cloudflareaccess.com'],
    ['a trailing slash', (origin) => `${origin}/`],
    ['another scheme', (origin) => origin.replace('http:', 'https:')],
    ['no issuer', () => undefined],
  ])('rejects an issuer of %s', async (_name, issuer) => {
    const token = await signToken(keyA, claims(jwks.origin, clock, { iss: issuer(jwks.origin) }));
    const error = await rejection(verifierFor().verify(token));
    expect(error.reason).toBe('wrong_issuer');
  });

  // Offsets in seconds from now; the verifier allows 60 seconds of clock skew.
  it.each<[string, Json, AccessFailure | null]>([
    ['expired two minutes ago', { exp: -120 }, 'expired'],
    ['expired at the skew limit', { exp: -60 }, 'expired'],
    ['expired within the skew', { exp: -30 }, null],
    ['valid from two minutes on', { nbf: 120 }, 'not_yet_valid'],
    ['valid from within the skew', { nbf: 30 }, null],
    ['issued two minutes ahead', { iat: 120 }, 'issued_in_future'],
    ['issued within the skew', { iat: 30 }, null],
  ])('judges a token %s', async (_name, offsets, expected) => {
    const now = Math.floor(clock.now().getTime() / 1000);
    const timed = Object.fromEntries(
      Object.entries(offsets).map(([name, offset]) => [name, now + Number(offset)]),
    );
    const token = await signToken(keyA, claims(jwks.origin, clock, timed));
    const verifying = verifierFor().verify(token);
    if (expected === null) {
      await expect(verifying).resolves.toMatchObject({ email: 'staff@example.com' });
    } else {
      expect((await rejection(verifying)).reason).toBe(expected);
    }
  });

  it('rejects a token once its expiry passes', async () => {
    const verifier = verifierFor({ clockSkewSeconds: 0 });
    const token = await signToken(keyA, claims(jwks.origin, clock));
    await verifier.verify(token);
    clock.advance(3_600_000);
    expect((await rejection(verifier.verify(token))).reason).toBe('expired');
  });

  it.each<[string, Json]>([
    ['no expiry', { exp: undefined }],
    ['expiry as text', { exp: '9999999999' }],
    ['not-before as text', { nbf: 'now' }],
  ])('rejects a token with %s', async (_name, overrides) => {
    const token = await signToken(keyA, claims(jwks.origin, clock, overrides));
    expect((await rejection(verifierFor().verify(token))).reason).toBe('malformed');
  });

  it('rejects a signature by another key', async () => {
    const forged = await signToken({ ...keyB, kid: keyA.kid }, claims(jwks.origin, clock));
    expect((await rejection(verifierFor().verify(forged))).reason).toBe('invalid_signature');
  });

  it('rejects a tampered payload', async () => {
    const [header, , signature] = (await signToken(keyA, claims(jwks.origin, clock))).split('.');
    const payload = base64url(
      JSON.stringify(claims(jwks.origin, clock, { email: 'x@example.com' })),
    );
    const tampered = `${header}.${payload}.${signature}`;
    expect((await rejection(verifierFor().verify(tampered))).reason).toBe('invalid_signature');
  });

  it('rejects a changed signature byte', async () => {
    const [header, payload, signature = ''] = (
      await signToken(keyA, claims(jwks.origin, clock))
    ).split('.');
    const bytes = Buffer.from(signature, 'base64url');
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    const token = `${header}.${payload}.${bytes.toString('base64url')}`;
    expect((await rejection(verifierFor().verify(token))).reason).toBe('invalid_signature');
  });

  it.each([
    ['alg none without signature', 'none', ''],
    ['alg none with a signature', 'none', 'c2lnbmF0dXJl'],
    ['alg None', 'None', 'c2lnbmF0dXJl'],
    ['RS384', 'RS384', 'c2lnbmF0dXJl'],
    ['PS256', 'PS256', 'c2lnbmF0dXJl'],
    ['ES256', 'ES256', 'c2lnbmF0dXJl'],
  ])('rejects %s', async (_name, alg, signature) => {
    const header = base64url(JSON.stringify({ alg, kid: keyA.kid, typ: 'JWT' }));
    const payload = base64url(JSON.stringify(claims(jwks.origin, clock)));
    const token = `${header}.${payload}.${signature}`;
    expect((await rejection(verifierFor().verify(token))).reason).toBe('unsupported_algorithm');
  });

  it('rejects HS256 keyed with the public key', async () => {
    const spki = await crypto.subtle.exportKey('spki', keyA.pair.publicKey);
    const pem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(spki).toString('base64')}\n-----END PUBLIC KEY-----\n`;
    const secrets = [pem, JSON.stringify(keyA.jwk), String(keyA.jwk.n)];
    const verifier = verifierFor();
    for (const secret of secrets) {
      const hmacKey = await crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['sign'],
      );
      const input = `${base64url(JSON.stringify({ alg: 'HS256', kid: keyA.kid, typ: 'JWT' }))}.${base64url(JSON.stringify(claims(jwks.origin, clock)))}`;
      const mac = await crypto.subtle.sign('HMAC', hmacKey, new TextEncoder().encode(input));
      const error = await rejection(verifier.verify(`${input}.${base64url(mac)}`));
      expect(error.reason).toBe('unsupported_algorithm');
    }
  });

  it('rejects a header with critical extensions', async () => {
    const token = await signToken(keyA, claims(jwks.origin, clock), { crit: ['exp'] });
    expect((await rejection(verifierFor().verify(token))).reason).toBe('unsupported_algorithm');
  });

  const header = (fields: Json) => base64url(JSON.stringify(fields));
  const goodHeader = header({ alg: 'RS256', kid: 'kid-a' });
  const goodPayload = base64url('{"sub":"x"}');
  it.each<[string, string]>([
    ['an empty string', ''],
    ['one part', 'abc'],
    ['two parts', `${goodHeader}.${goodPayload}`],
    ['four parts', `${goodHeader}.${goodPayload}.c2ln.c2ln`],
    ['only dots', '..'],
    ['a space inside', `${goodHeader}.${goodPayload} .c2ln`],
    ['padding', `${goodHeader}.${goodPayload}=.c2ln`],
    ['standard base64 characters', `${goodHeader}.${goodPayload}.c2l+/w`],
    ['an impossible base64 length', `${goodHeader}.${goodPayload}.c2lnb`],
    ['a header that is not JSON', `${base64url('{alg')}.${goodPayload}.c2ln`],
    ['a header that is a list', `${base64url('["RS256"]')}.${goodPayload}.c2ln`],
    ['a header that is null', `${base64url('null')}.${goodPayload}.c2ln`],
    ['a header without alg', `${header({ kid: 'kid-a' })}.${goodPayload}.c2ln`],
    ['an alg that is a number', `${header({ alg: 256, kid: 'kid-a' })}.${goodPayload}.c2ln`],
    ['no kid', `${header({ alg: 'RS256' })}.${goodPayload}.c2ln`],
    ['an empty kid', `${header({ alg: 'RS256', kid: '' })}.${goodPayload}.c2ln`],
    ['a kid that is a number', `${header({ alg: 'RS256', kid: 7 })}.${goodPayload}.c2ln`],
    [
      'a 257-character kid',
      `${header({ alg: 'RS256', kid: 'k'.repeat(257) })}.${goodPayload}.c2ln`,
    ],
    [
      'a typ other than JWT',
      `${header({ alg: 'RS256', kid: 'kid-a', typ: 'JWE' })}.${goodPayload}.c2ln`,
    ],
    ['a payload that is a list', `${goodHeader}.${base64url('[1]')}.c2ln`],
    ['a payload that is text', `${goodHeader}.${base64url('"claims"')}.c2ln`],
    [
      'a payload that is not UTF-8',
      `${goodHeader}.${base64url(new Uint8Array([0x7b, 0xff, 0x7d]))}.c2ln`,
    ],
    ['an empty signature', `${goodHeader}.${goodPayload}.`],
    ['a token over 16 KB', `${goodHeader}.${base64url('x'.repeat(13_000))}.c2ln`],
  ])('rejects %s as malformed', async (_name, token) => {
    const error = await rejection(verifierFor().verify(token));
    expect(error.reason).toBe('malformed');
    expect(jwks.requests).toBe(0);
  });

  it('keeps token text out of its messages', async () => {
    const payload = claims(jwks.origin, clock, { aud: ['secret-audience-value'] });
    const token = await signToken(keyA, payload);
    const error = await rejection(verifierFor().verify(token));
    expect(error.message).not.toContain('secret-audience-value');
    expect(error.message).not.toContain(token.split('.')[1] ?? token);
  });
});

describe('Access signing key cache', () => {
  it('fetches the keys once for many tokens', async () => {
    const verifier = verifierFor();
    for (let i = 0; i < 5; i += 1) {
      await verifier.verify(await signToken(keyA, claims(jwks.origin, clock)));
    }
    expect(jwks.requests).toBe(1);
  });

  it('shares one fetch among concurrent first tokens', async () => {
    const verifier = verifierFor();
    const token = await signToken(keyA, claims(jwks.origin, clock));
    await Promise.all(Array.from({ length: 10 }, () => verifier.verify(token)));
    expect(jwks.requests).toBe(1);
  });

  it('fetches the keys again after the cache TTL', async () => {
    const verifier = verifierFor({ cacheTtlMs: 600_000 });
    const token = await signToken(keyA, claims(jwks.origin, clock));
    await verifier.verify(token);
    clock.advance(599_000);
    await verifier.verify(token);
    expect(jwks.requests).toBe(1);
    clock.advance(2_000);
    await verifier.verify(token);
    expect(jwks.requests).toBe(2);
  });

  it('refreshes once for an unknown kid, then rejects', async () => {
    const verifier = verifierFor();
    await verifier.verify(await signToken(keyA, claims(jwks.origin, clock)));
    clock.advance(60_000);
    const unknown = await signToken(keyC, claims(jwks.origin, clock));
    expect((await rejection(verifier.verify(unknown))).reason).toBe('unknown_key');
    expect(jwks.requests).toBe(2);
  });

  it('limits refreshes from a flood of unknown kids', async () => {
    const verifier = verifierFor({ minRefreshIntervalMs: 60_000 });
    await verifier.verify(await signToken(keyA, claims(jwks.origin, clock)));
    clock.advance(60_000);
    const kids = Array.from({ length: 20 }, (_, i) => `made-up-${i}`);
    for (const kid of kids) {
      const token = await signToken({ ...keyC, kid }, claims(jwks.origin, clock));
      expect((await rejection(verifier.verify(token))).reason).toBe('unknown_key');
    }
    expect(jwks.requests).toBe(2);
    clock.advance(60_000);
    await rejection(verifier.verify(await signToken(keyC, claims(jwks.origin, clock))));
    expect(jwks.requests).toBe(3);
  });

  it('accepts a rotated key after a refresh', async () => {
    const verifier = verifierFor();
    await verifier.verify(await signToken(keyA, claims(jwks.origin, clock)));
    clock.advance(60_000);
    jwks.keys = [keyB.jwk, keyA.jwk];
    const rotated = await verifier.verify(await signToken(keyB, claims(jwks.origin, clock)));
    expect(rotated.email).toBe('staff@example.com');
    expect(jwks.requests).toBe(2);
  });

  it('ignores keys that cannot sign RS256', async () => {
    const small = await generateSigningKey('kid-small', 1024);
    jwks.keys = [
      { ...keyB.jwk, use: 'enc' },
      { ...keyC.jwk, alg: 'RS512' },
      { kty: 'EC', kid: 'kid-ec', crv: 'P-256', x: 'AAAA', y: 'AAAA' },
      small.jwk,
      keyA.jwk,
    ];
    const verifier = verifierFor({ minRefreshIntervalMs: 0 });
    await verifier.verify(await signToken(keyA, claims(jwks.origin, clock)));
    for (const key of [keyB, keyC, small]) {
      const token = await signToken(key, claims(jwks.origin, clock));
      expect((await rejection(verifier.verify(token))).reason).toBe('unknown_key');
    }
  });

  it.each<[string, (server: JwksServer) => void, RegExp]>([
    ['an HTTP error', (server) => (server.status = 503), /HTTP 503/],
    ['a body that is not JSON', (server) => (server.rawBody = '<html>'), /JSON|Unexpected/],
    ['a body without keys', (server) => (server.rawBody = '{"certs":[]}'), /"keys" array/],
    ['an empty key list', (server) => (server.keys = []), /no RSA signing key/],
  ])('reports unavailable keys on %s', async (_name, breakServer, detail) => {
    breakServer(jwks);
    const token = await signToken(keyA, claims(jwks.origin, clock));
    const error = await rejection(verifierFor().verify(token));
    expect(error.reason).toBe('keys_unavailable');
    expect(error.message).toContain(`${jwks.origin}/cdn-cgi/access/certs`);
    expect(error.message).toMatch(detail);
  });

  it('reports unavailable keys when nothing listens', async () => {
    const origin = await closedOrigin();
    const verifier = verifierFor({ teamDomain: origin });
    const token = await signToken(keyA, claims(origin, clock));
    const error = await rejection(verifier.verify(token));
    expect(error.reason).toBe('keys_unavailable');
    expect(error.message).toContain(`${origin}/cdn-cgi/access/certs`);
  });

  it('reports unavailable keys when the endpoint times out', async () => {
    jwks.hang = true;
    const token = await signToken(keyA, claims(jwks.origin, clock));
    const error = await rejection(verifierFor({ fetchTimeoutMs: 200 }).verify(token));
    expect(error.reason).toBe('keys_unavailable');
  });

  it('recovers once the endpoint is back', async () => {
    const verifier = verifierFor();
    const token = await signToken(keyA, claims(jwks.origin, clock));
    jwks.status = 503;
    await rejection(verifier.verify(token));
    expect((await rejection(verifier.verify(token))).reason).toBe('keys_unavailable');
    expect(jwks.requests).toBe(1);
    jwks.status = 200;
    clock.advance(60_000);
    await expect(verifier.verify(token)).resolves.toMatchObject({ email: 'staff@example.com' });
  });

  it('keeps using expired keys while the endpoint fails', async () => {
    const verifier = verifierFor({ cacheTtlMs: 600_000 });
    await verifier.verify(await signToken(keyA, claims(jwks.origin, clock)));
    jwks.status = 503;
    clock.advance(700_000);
    const token = await signToken(keyA, claims(jwks.origin, clock));
    await expect(verifier.verify(token)).resolves.toMatchObject({ email: 'staff@example.com' });
    expect(jwks.requests).toBe(2);
  });

  it('stops using expired keys after a day', async () => {
    const verifier = verifierFor({ cacheTtlMs: 600_000 });
    await verifier.verify(await signToken(keyA, claims(jwks.origin, clock)));
    jwks.status = 503;
    clock.advance(600_000 + 24 * 3_600_000);
    const token = await signToken(keyA, claims(jwks.origin, clock));
    expect((await rejection(verifier.verify(token))).reason).toBe('keys_unavailable');
    expect((await rejection(verifier.verify(token))).reason).toBe('keys_unavailable');
  });
});

describe('team domain', () => {
  it.each(['https://team.cloudflareaccess.com/certs', 'ftp://team.example', 'team', ''])(
    'rejects %j',
    (domain) => {
      expect(() => teamOrigin(domain)).toThrow(TypeError);
    },
  );

  it('drops a trailing slash', () => {
    expect(teamOrigin('https://team.cloudflareaccess.com/')).toBe(
      'https://team.cloudflareaccess.com',
    );
  });
});

describe('Access configuration', () => {
  const BASE = {
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
    throw new Error('the configuration was accepted');
  }

  it('leaves Access off when neither variable is set', () => {
    expect(parseConfig(BASE).access).toBeUndefined();
  });

  it.each([
    ['https://myteam.cloudflareaccess.com', 'https://myteam.cloudflareaccess.com'],
    ['https://myteam.cloudflareaccess.com/', 'https://myteam.cloudflareaccess.com'],
    ['myteam.cloudflareaccess.com', 'https://myteam.cloudflareaccess.com'],
  ])('reads team domain %s', (domain, origin) => {
    const config = parseConfig({
      ...BASE,
      MARGINALIA_ACCESS_TEAM_DOMAIN: domain,
      MARGINALIA_ACCESS_AUD: AUD,
    });
    expect(config.access).toEqual({ teamDomain: origin, audience: AUD });
  });

  it.each<[string, Record<string, string>, string, RegExp]>([
    [
      'only the team domain',
      { MARGINALIA_ACCESS_TEAM_DOMAIN: 'https://t.cloudflareaccess.com' },
      'MARGINALIA_ACCESS_AUD',
      /is missing/,
    ],
    [
      'only the AUD tag',
      { MARGINALIA_ACCESS_AUD: AUD },
      'MARGINALIA_ACCESS_TEAM_DOMAIN',
      /is missing/,
    ],
    [
      'an http team domain',
      {
        MARGINALIA_ACCESS_TEAM_DOMAIN: 'http://t.cloudflareaccess.com',
        MARGINALIA_ACCESS_AUD: AUD,
      },
      'MARGINALIA_ACCESS_TEAM_DOMAIN',
      /https team domain/,
    ],
    [
      'a team domain with a path',
      {
        MARGINALIA_ACCESS_TEAM_DOMAIN: 'https://t.cloudflareaccess.com/cdn-cgi/access/certs',
        MARGINALIA_ACCESS_AUD: AUD,
      },
      'MARGINALIA_ACCESS_TEAM_DOMAIN',
      /without a path/,
    ],
    [
      'a short AUD tag',
      {
        MARGINALIA_ACCESS_TEAM_DOMAIN: 'https://t.cloudflareaccess.com',
        MARGINALIA_ACCESS_AUD: 'abc123',
      },
      'MARGINALIA_ACCESS_AUD',
      /64 lowercase hexadecimal/,
    ],
  ])('rejects %s', (_name, access, variable, message) => {
    const error = configError({ ...BASE, ...access });
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });
});

describe('staff routes with Access', () => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await createHarness({
      config: { ...CONFIG, access: { teamDomain: jwks.origin, audience: AUD } },
    });
  });
  afterEach(async () => {
    await harness.close();
  });

  function listComments(headers: Record<string, string>) {
    return harness.app.request('/api/staff/comments', { headers });
  }

  async function accessHeader(overrides: Json = {}): Promise<Record<string, string>> {
    const token = await signToken(keyA, claims(jwks.origin, harness.clock, overrides));
    return { 'cf-access-jwt-assertion': token };
  }

  it('accepts a valid Access token', async () => {
    const response = await listComments(await accessHeader());
    expect(response.status).toBe(200);
  });

  it('still accepts the staff bearer token', async () => {
    const response = await listComments(staffHeaders());
    expect(response.status).toBe(200);
  });

  it.each<[string, Json, RegExp]>([
    ['an expired token', { exp: 1 }, /expired/],
    ['another audience', { aud: ['0'.repeat(64)] }, /audience/],
    ['another issuer', { iss: 'https://other.cloudflareaccess.com' }, /team domain/],
  ])('rejects %s with a reason', async (_name, overrides, reason) => {
    const headers = await accessHeader(overrides);
    const response = await listComments(headers);
    expect(response.status).toBe(401);
    const body = JSON.stringify(await readJson(response));
    expect(body).toContain('"code":"invalid_token"');
    expect(body).toMatch(reason);
    expect(body).not.toContain(headers['cf-access-jwt-assertion']);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('rejects a garbage header', async () => {
    const response = await listComments({ 'cf-access-jwt-assertion': 'not.a.jwt' });
    expect(response.status).toBe(401);
    expect((await readJson(response)).error).toMatchObject({ code: 'invalid_token' });
  });

  it('ignores the CF_Authorization cookie alone', async () => {
    const token = (await accessHeader())['cf-access-jwt-assertion'];
    const response = await listComments({ cookie: `CF_Authorization=${token}` });
    expect(response.status).toBe(401);
    expect((await readJson(response)).error).toMatchObject({ code: 'unauthorized' });
  });

  it('returns 500 when keys are unavailable', async () => {
    jwks.status = 503;
    const response = await listComments(await accessHeader());
    expect(response.status).toBe(500);
    expect((await readJson(response)).error).toMatchObject({
      message: expect.stringMatching(/signing keys could not be fetched/),
    });
  });

  it('logs the reason without the token', async () => {
    const headers = await accessHeader({ exp: 1 });
    await listComments(headers);
    const line = harness.logs.find((entry) => entry.includes('Access token rejected'));
    expect(line).toContain('"reason":"expired"');
    expect(harness.logs.join('')).not.toContain(headers['cf-access-jwt-assertion']);
    expect(harness.logs.join('')).not.toContain('staff@example.com');
  });
});

describe('staff routes without Access', () => {
  it('ignores an Access token', async () => {
    const harness = await createHarness();
    try {
      const token = await signToken(keyA, claims(jwks.origin, harness.clock));
      const response = await harness.app.request('/api/staff/comments', {
        headers: { 'cf-access-jwt-assertion': token },
      });
      expect(response.status).toBe(401);
      expect(jwks.requests).toBe(0);
    } finally {
      await harness.close();
    }
  });
});
