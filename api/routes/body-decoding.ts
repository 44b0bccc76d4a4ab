// Strict decoding of request bodies. The platform decoders (Request.json, Request.formData,
// URLSearchParams) replace bytes that are not valid UTF-8 with U+FFFD without saying so, which
// would store a comment that differs from what the reader sent. These helpers report such bytes
// instead, so the API can reject them by field.

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const strictUtf8KeepBom = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientUtf8KeepBom = new TextDecoder('utf-8', { ignoreBOM: true });

function decodeWith(decoder: TextDecoder, bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

/** Decodes a whole document as UTF-8, dropping a leading byte order mark; null when invalid. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  return decodeWith(strictUtf8, bytes);
}

/** One name and value pair of a form body. */
export interface FormEntry {
  name: string;
  /** A string, or a File for a multipart part that was sent as a file. */
  value: string | File;
  /** True when the name or the value contained bytes that are not valid UTF-8. */
  invalidUtf8: boolean;
}

const PERCENT = 0x25;
const PLUS = 0x2b;
const SPACE = 0x20;
const AMPERSAND = 0x26;
const EQUALS = 0x3d;

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

/** Replaces `+` with a space and decodes %XX escapes; a `%` without two hex digits stays as is. */
function percentDecode(bytes: Uint8Array): Uint8Array {
  const output = new Uint8Array(bytes.length);
  let length = 0;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (byte === PLUS) {
      output[length++] = SPACE;
      continue;
    }
    if (byte === PERCENT) {
      const high = hexValue(bytes[index + 1]);
      const low = hexValue(bytes[index + 2]);
      if (high >= 0 && low >= 0) {
        output[length++] = high * 16 + low;
        index += 2;
        continue;
      }
    }
    output[length++] = byte ?? 0;
  }
  return output.subarray(0, length);
}

/** Decodes one form name or value; a leading U+FEFF is kept, since it is part of the text. */
function decodePart(bytes: Uint8Array): { text: string; valid: boolean } {
  const decoded = percentDecode(bytes);
  const strict = decodeWith(strictUtf8KeepBom, decoded);
  return strict === null
    ? { text: lenientUtf8KeepBom.decode(decoded), valid: false }
    : { text: strict, valid: true };
}

/**
 * Parses an application/x-www-form-urlencoded body as the WHATWG URL standard does, except that
 * a name or value whose bytes are not valid UTF-8 is flagged rather than silently repaired.
 */
export function parseUrlEncoded(bytes: Uint8Array): FormEntry[] {
  const entries: FormEntry[] = [];
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(AMPERSAND, start);
    if (end === -1) end = bytes.length;
    const sequence = bytes.subarray(start, end);
    start = end + 1;
    if (sequence.length === 0) continue;
    const equals = sequence.indexOf(EQUALS);
    const rawName = equals === -1 ? sequence : sequence.subarray(0, equals);
    const rawValue = equals === -1 ? new Uint8Array(0) : sequence.subarray(equals + 1);
    const name = decodePart(rawName);
    const value = decodePart(rawValue);
    entries.push({ name: name.text, value: value.text, invalidUtf8: !name.valid || !value.valid });
  }
  return entries;
}

/**
 * Parses a multipart/form-data body with the platform's parser, which decodes text parts
 * leniently. When the body has no file part and is not valid UTF-8 as a whole, the text parts
 * that came out with U+FFFD in them are the ones that held the invalid bytes, and are flagged.
 */
export async function parseMultipart(
  bytes: Uint8Array<ArrayBuffer>,
  contentType: string,
): Promise<FormEntry[]> {
  const form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  const entries: FormEntry[] = [];
  for (const [name, value] of form.entries()) {
    entries.push({ name, value, invalidUtf8: false });
  }
  const hasFile = entries.some((entry) => typeof entry.value !== 'string');
  // NOTE: a body with a file part may carry any bytes in that part, so text parts are then
  // not checked, and a reader's invalid bytes beside an upload would reach validation as U+FFFD.
  if (!hasFile && decodeWith(strictUtf8KeepBom, bytes) === null) {
    for (const entry of entries) {
      if (typeof entry.value === 'string' && /\ufffd/.test(entry.name + entry.value)) {
        entry.invalidUtf8 = true;
      }
    }
  }
  return entries;
}
