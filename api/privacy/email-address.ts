// The optional email address a reader may give for reply notifications. The check is deliberately
// loose: one @ with text on both sides, no white space and no control characters. Anything
// stricter rejects real addresses (quoted local parts, Unicode mailboxes, new top-level domains),
// and only a message that arrives proves an address works.
//
// Messages name the field's rule and never the value, because an address must not reach an
// error message, a page or a log line.
import * as v from 'valibot';

/** Maximum length of an address in characters: the limit of a forward-path in RFC 5321. */
export const EMAIL_MAX_LENGTH = 254;

// White space, C0 and C1 controls, and the invisible format characters (zero-width, bidi
// controls, BOM) that make an address look like another one.
const FORBIDDEN = /[\s\p{Cc}\p{Cf}]/u;

/** True when `value` has one @ with text before and after it, and nothing invisible. */
export function isPlainAddress(value: string): boolean {
  if (FORBIDDEN.test(value)) return false;
  const parts = value.split('@');
  if (parts.length !== 2) return false;
  const [local, domain] = parts;
  return local !== undefined && local !== '' && domain !== undefined && domain !== '';
}

/** The `email` field of a submission, after NFC and trimming. */
export const EmailAddressSchema = v.pipe(
  v.string('must be text'),
  v.maxLength(EMAIL_MAX_LENGTH, `must be at most ${EMAIL_MAX_LENGTH} characters`),
  v.check(
    isPlainAddress,
    'must be one email address, such as name@example.org, with one @ and no spaces',
  ),
);
