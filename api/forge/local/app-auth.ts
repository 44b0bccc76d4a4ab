// GitHub App authentication on the local forge. An App signs a JSON Web Token (RS256) with its
// private key and exchanges it for an installation token, which then authenticates API requests
// until it expires, as on GitHub. The rules below follow GitHub's documentation on generating a
// JWT for a GitHub App: `iss` is the App's id, `iat` must not lie in the future, and `exp` must be
// later than now and at most 10 minutes ahead.

import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { GitHubHttpError, notFound } from './http.ts';
import { timestamp } from './state.ts';

export type AccessLevel = 'read' | 'write';

/** Permissions of a credential in the repository, in GitHub's permission names. */
export interface RepositoryPermissions {
  contents: AccessLevel;
  pull_requests: AccessLevel;
}

/** The credential behind a request: the configured token, or an installation token. */
export interface Caller {
  kind: 'token' | 'installation';
  permissions: RepositoryPermissions;
}

export interface LocalForgeApp {
  /** The App's id, which must be the JWT's `iss` claim. */
  id: number;
  /** Public half of the App's key, as PEM or a KeyObject; JWT signatures are checked with it. */
  publicKey: string | KeyObject;
  /** The one installation of the App; other installation ids get 404. */
  installationId: number;
  /** Lifetime of installation tokens in milliseconds; GitHub's is one hour, the default. */
  tokenTtlMs?: number;
}

/** GitHub's longest JWT lifetime: `exp` at most 10 minutes after the request. */
const MAX_JWT_LIFETIME_SECONDS = 600;
const DEFAULT_TOKEN_TTL_MS = 60 * 60 * 1000;
const JWT_DOCS = 'apps/creating-github-apps/authenticating-with-a-github-app';

function jwtError(message: string): GitHubHttpError {
  return new GitHubHttpError(401, message, { docsPath: JWT_DOCS });
}

function decodeJsonPart(part: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw jwtError('A JSON web token could not be decoded');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw jwtError('A JSON web token could not be decoded');
  }
  return Object.fromEntries(Object.entries(parsed));
}

/** Checks an App JWT's signature and claims at `nowSeconds`, throwing GitHub's 401 when invalid. */
export function verifyAppJwt(jwt: string, app: LocalForgeApp, nowSeconds: number): void {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw jwtError('A JSON web token could not be decoded');
  const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
  const header = decodeJsonPart(headerPart);
  if (header['alg'] !== 'RS256') {
    throw jwtError("A JSON web token could not be decoded: 'alg' must be RS256");
  }
  const publicKey =
    typeof app.publicKey === 'string' ? createPublicKey(app.publicKey) : app.publicKey;
  const signed = verify(
    'sha256',
    Buffer.from(`${headerPart}.${payloadPart}`),
    publicKey,
    Buffer.from(signaturePart, 'base64url'),
  );
  if (!signed) throw jwtError('A JSON web token could not be decoded');

  const claims = decodeJsonPart(payloadPart);
  const { iss, iat, exp } = claims;
  if (String(iss) !== String(app.id)) {
    throw jwtError("'Issuer' claim ('iss') must be the id of an App on this forge");
  }
  if (typeof iat !== 'number' || !Number.isInteger(iat) || iat > nowSeconds) {
    throw jwtError(
      "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
    );
  }
  if (typeof exp !== 'number' || !Number.isInteger(exp) || exp <= nowSeconds) {
    throw jwtError(
      "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
    );
  }
  if (exp > nowSeconds + MAX_JWT_LIFETIME_SECONDS) {
    throw jwtError("'Expiration time' claim ('exp') is too far in the future");
  }
}

interface IssuedToken {
  expiresAt: number;
  permissions: RepositoryPermissions;
}

/** Issues installation tokens and looks them up; expired ones are forgotten. */
export function createInstallationTokens(
  app: LocalForgeApp,
  permissions: RepositoryPermissions,
  now: () => Date,
) {
  const issued = new Map<string, IssuedToken>();
  const ttlMs = app.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS;

  function prune(at: number): void {
    for (const [token, entry] of issued) if (entry.expiresAt <= at) issued.delete(token);
  }

  return {
    /** Handles POST /app/installations/{installation_id}/access_tokens. */
    create(installationIdParam: string, authorization: string | undefined) {
      const match = /^bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
      if (!match) {
        throw new GitHubHttpError(
          401,
          'A JSON web token could not be decoded: send the App JWT as "Authorization: Bearer <jwt>"',
          { docsPath: JWT_DOCS },
        );
      }
      const at = now().getTime();
      verifyAppJwt(match[1] ?? '', app, Math.floor(at / 1000));
      if (installationIdParam !== String(app.installationId)) throw notFound('apps/apps');
      prune(at);
      const token = `ghs_${randomBytes(27).toString('base64url')}`;
      // GitHub states expiry in whole seconds; rounding down keeps the stated time honest.
      const expiresAt = Math.floor((at + ttlMs) / 1000) * 1000;
      issued.set(token, { expiresAt, permissions });
      return {
        status: 201,
        body: {
          token,
          expires_at: timestamp(new Date(expiresAt)),
          permissions: { ...permissions, metadata: 'read' },
          repository_selection: 'selected',
        },
      };
    },
    /** Returns the caller an installation token stands for, or null when unknown or expired. */
    lookup(token: string): Caller | null {
      const entry = issued.get(token);
      if (entry === undefined) return null;
      if (entry.expiresAt <= now().getTime()) {
        issued.delete(token);
        return null;
      }
      return { kind: 'installation', permissions: entry.permissions };
    },
  };
}

export type InstallationTokens = ReturnType<typeof createInstallationTokens>;
