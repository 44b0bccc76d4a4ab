// Splits a JWT in JWS compact serialization (RFC 7515 section 7.1) into its decoded header,
// payload and signature. Nothing here checks the signature or the claims.
import * as v from 'valibot';
import { AccessError } from './access-error.ts';

/** Maximum token length accepted, in characters: many times an Access token's few short claims. */
export const MAX_TOKEN_LENGTH = 16_384;
/** Maximum key id length accepted; the key ids in Cloudflare's examples are 64 hex characters. */
export const MAX_KID_LENGTH = 256;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

const JoseHeader = v.object({
  alg: v.string(),
  kid: v.optional(v.string()),
  typ: v.optional(v.string()),
  crit: v.optional(v.unknown()),
});

export interface DecodedJws {
  /** The key id from the header. */
  kid: string;
  payload: Record<string, unknown>;
  /** The exact bytes the signature covers: ASCII of "<header>.<payload>". */
  signingInput: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

function malformed(detail: string): AccessError {
  return new AccessError('malformed', `The Access token is malformed: ${detail}.`);
}

/** Decodes unpadded base64url (RFC 7515 section 2); returns null for any other text. */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return null;
  const base64 = text.replaceAll('-', '+').replaceAll('_', '/');
  let binary: string;
  try {
    binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='));
  } catch {
    return null;
  }
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function decodeJsonObject(part: string, name: string): Record<string, unknown> {
  const bytes = decodeBase64Url(part);
  if (bytes === null) throw malformed(`the ${name} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformed(`the ${name} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`the ${name} is not a JSON object`);
  }
  return Object.fromEntries(Object.entries(value));
}

/**
 * Decodes a compact JWS and checks its header: the algorithm must be RS256 and a key id must be
 * present. Raises AccessError with reason `malformed` or `unsupported_algorithm`.
 */
export function decodeJws(token: string): DecodedJws {
  if (token.length === 0) throw malformed('it is empty');
  if (token.length > MAX_TOKEN_LENGTH) {
    throw malformed(`it is longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  const parts = token.split('.');
  const [headerPart, payloadPart, signaturePart] = parts;
  if (
    parts.length !== 3 ||
    headerPart === undefined ||
    payloadPart === undefined ||
    signaturePart === undefined
  ) {
    throw malformed('it does not have three dot-separated parts');
  }

  const headerResult = v.safeParse(JoseHeader, decodeJsonObject(headerPart, 'header'));
  if (!headerResult.success) throw malformed('the header has no "alg" string');
  const header = headerResult.output;
  // The algorithm is pinned rather than taken from the token, so "none" and HS256 keyed with the
  // public key are rejected before any key is looked up.
  if (header.alg !== 'RS256') {
    throw new AccessError(
      'unsupported_algorithm',
      'The Access token is not signed with RS256, the only algorithm Cloudflare Access uses.',
    );
  }
  if (header.crit !== undefined) {
    throw new AccessError(
      'unsupported_algorithm',
      'The Access token header lists critical extensions ("crit"), which are not supported.',
    );
  }
  if (header.typ !== undefined && header.typ.toUpperCase() !== 'JWT') {
    throw malformed('the header "typ" is not JWT');
  }
  if (header.kid === undefined || header.kid === '' || header.kid.length > MAX_KID_LENGTH) {
    throw malformed(`the header has no "kid" of 1 to ${MAX_KID_LENGTH} characters`);
  }

  const payload = decodeJsonObject(payloadPart, 'payload');
  const signature = decodeBase64Url(signaturePart);
  if (signature === null || signature.length === 0) throw malformed('the signature is missing');
  return {
    kid: header.kid,
    payload,
    signingInput: new TextEncoder().encode(`${headerPart}.${payloadPart}`),
    signature,
  };
}
