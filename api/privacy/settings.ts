// The settings for keeping reader email addresses: the encryption key, and how many days an
// address is kept. parseConfig turns a problem into a ConfigError naming the variable. Messages
// never contain the key or any part of it.

export const EMAIL_ENV = {
  key: 'MARGINALIA_EMAIL_KEY',
  retentionDays: 'MARGINALIA_EMAIL_RETENTION_DAYS',
} as const;

/** Days an encrypted address is kept when MARGINALIA_EMAIL_RETENTION_DAYS is unset. */
export const DEFAULT_EMAIL_RETENTION_DAYS = 90;
/** Largest retention accepted, in days (ten years). */
export const MAX_EMAIL_RETENTION_DAYS = 3650;
/** Length of the AES-256-GCM key in bytes. */
export const EMAIL_KEY_BYTES = 32;

export interface EmailSettings {
  /** The AES-256 key; absent when no address is kept at all. */
  key: Uint8Array<ArrayBuffer> | undefined;
  /** Days after which a stored address is deleted; DEFAULT_EMAIL_RETENTION_DAYS when unset. */
  retentionDays: number | undefined;
}

export type EmailSettingsResult =
  { ok: true; settings: EmailSettings } | { ok: false; variable: string; message: string };

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
// Standard or URL-safe base64 of 32 bytes: 43 characters and an optional padding "=".
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;

const KEY_FORMAT =
  `must be ${EMAIL_KEY_BYTES} bytes written as 64 hexadecimal digits or 44 base64 characters; ` +
  'generate one with `openssl rand -base64 32`';

/** Decodes a 32-byte key from hex or base64; returns null for anything else. */
export function decodeEmailKey(text: string): Uint8Array<ArrayBuffer> | null {
  if (HEX_KEY.test(text)) {
    const bytes = new Uint8Array(EMAIL_KEY_BYTES);
    for (let index = 0; index < EMAIL_KEY_BYTES; index += 1) {
      bytes[index] = Number.parseInt(text.slice(index * 2, index * 2 + 2), 16);
    }
    return bytes;
  }
  if (!BASE64_KEY.test(text)) return null;
  const standard = text.replace(/=$/, '').replaceAll('-', '+').replaceAll('_', '/') + '=';
  let binary: string;
  try {
    binary = atob(standard);
  } catch {
    return null;
  }
  if (binary.length !== EMAIL_KEY_BYTES) return null;
  return Uint8Array.from(binary, (character) => character.charCodeAt(0));
}

function setting(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

/** Reads MARGINALIA_EMAIL_KEY and MARGINALIA_EMAIL_RETENTION_DAYS; both are optional. */
export function emailSettingsFrom(env: Record<string, string | undefined>): EmailSettingsResult {
  const keyText = setting(env, EMAIL_ENV.key);
  const daysText = setting(env, EMAIL_ENV.retentionDays);

  let key: Uint8Array<ArrayBuffer> | undefined;
  if (keyText !== undefined) {
    const decoded = decodeEmailKey(keyText);
    if (decoded === null) return { ok: false, variable: EMAIL_ENV.key, message: KEY_FORMAT };
    key = decoded;
  }

  let retentionDays: number | undefined;
  if (daysText !== undefined) {
    const days = /^\d{1,5}$/.test(daysText) ? Number(daysText) : Number.NaN;
    if (!(days >= 1 && days <= MAX_EMAIL_RETENTION_DAYS)) {
      return {
        ok: false,
        variable: EMAIL_ENV.retentionDays,
        message: `must be a whole number of days from 1 to ${MAX_EMAIL_RETENTION_DAYS}`,
      };
    }
    retentionDays = days;
  }
  return { ok: true, settings: { key, retentionDays } };
}
