// Reading and validating a comment submission, from JSON or from an HTML form. The field rules
// come from the one content schema. This module adds the fields only a submission has (the
// return URL, the idempotency key and the optional email address), and it reports every problem
// by field name. The email address never enters the comment: see api/privacy/.
import type { Context } from 'hono';
import * as v from 'valibot';
import { HONEYPOT_FIELD, isHoneypotFilled } from '../abuse/honeypot.ts';
import { TURNSTILE_FIELD } from '../abuse/turnstile.ts';
import { ApiError } from '../errors.ts';
import { EmailAddressSchema } from '../privacy/email-address.ts';
import { decodeUtf8, parseMultipart, parseUrlEncoded } from './body-decoding.ts';
import {
  CommentBodySchema,
  CommentSchema,
  ID_PATTERN,
  toFieldIssues,
  type FieldIssue,
  type Visibility,
} from '../content/schema.ts';

export const SUBMISSION_FIELDS = [
  'post',
  'parent',
  'author',
  'authorUrl',
  'text',
  'visibility',
  'returnTo',
  'idempotencyKey',
  'email',
] as const;

export type SubmissionField = (typeof SUBMISSION_FIELDS)[number];

/** The submitted values as text, after NFC, for validation and for re-displaying a form. */
export type SubmittedValues = Partial<Record<SubmissionField, string>>;

export interface Submission {
  post: string;
  parent: string | null;
  author: string;
  authorUrl: string | null;
  text: string;
  visibility: Visibility | null;
  returnTo: string | null;
  idempotencyKey: string | null;
  /** The address for reply notifications; it is encrypted or dropped, never stored as text. */
  email: string | null;
}

export interface ReadBody {
  /** True for HTML form posts, which get HTML pages back rather than JSON. */
  fromForm: boolean;
  values: SubmittedValues;
  /**
   * Problems found while reading, before validation: a field sent as something other than text
   * (such as a file upload), sent more than once, or holding bytes that are not valid UTF-8.
   */
  readIssues: FieldIssue[];
  /** The anti-spam fields, which are not part of the comment. */
  guards: GuardFields;
}

export interface GuardFields {
  /** True when the hidden honeypot field was sent with anything but white space in it. */
  honeypotFilled: boolean;
  /** The Cloudflare Turnstile token (cf-turnstile-response), when one was sent as text. */
  turnstileToken: string | undefined;
}

/** Maximum length of an idempotency key, in characters. */
export const IDEMPOTENCY_KEY_LIMIT = 200;

const required = (issue: v.BaseIssue<unknown>): string =>
  issue.received === 'undefined' ? 'is required' : 'must be text';

const idSchema = v.pipe(
  v.string('must be text'),
  v.regex(ID_PATTERN, 'must be 1 to 64 lowercase letters, digits or inner hyphens'),
);

const SubmissionSchema = v.object({
  post: v.pipe(v.string(required), CommentSchema.entries.post),
  parent: v.optional(idSchema),
  author: v.pipe(v.string(required), CommentSchema.entries.author),
  authorUrl: v.optional(v.pipe(v.string('must be text'), CommentSchema.entries.authorUrl.wrapped)),
  text: v.pipe(v.string(required), CommentBodySchema),
  visibility: v.optional(CommentSchema.entries.visibility),
  returnTo: v.optional(v.pipe(v.string('must be text'), v.maxLength(2000, 'is too long'))),
  idempotencyKey: v.optional(
    v.pipe(
      v.string('must be text'),
      v.regex(
        new RegExp(`^[\\x21-\\x7e]{1,${IDEMPOTENCY_KEY_LIMIT}}$`),
        `must be 1 to ${IDEMPOTENCY_KEY_LIMIT} visible ASCII characters`,
      ),
    ),
  ),
  email: v.optional(EmailAddressSchema),
});

function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function isField(key: string): key is SubmissionField {
  return SUBMISSION_FIELDS.some((field) => field === key);
}

/**
 * Normalizes one submitted value: NFC for every field, surrounding white space removed from the
 * one-line fields, and an empty value treated as absent. The comment text is kept as sent
 * apart from NFC, because it is committed byte for byte.
 */
function normalize(field: SubmissionField, value: string): string | undefined {
  const nfc = value.isWellFormed() ? value.normalize('NFC') : value;
  const cleaned = field === 'text' ? nfc : nfc.trim();
  return cleaned === '' ? undefined : cleaned;
}

/** One submitted field before normalization, as a JSON property or a form entry. */
interface RawField {
  name: string;
  value: unknown;
  invalidUtf8: boolean;
}

const READ_MESSAGES = {
  nonText: 'must be text',
  repeated: 'was sent more than once; send it once',
  invalidUtf8: 'contains bytes that are not valid UTF-8; send it encoded as UTF-8',
} as const;

function collect(fields: Iterable<RawField>): Omit<ReadBody, 'fromForm'> {
  const values: SubmittedValues = {};
  const readIssues: FieldIssue[] = [];
  const guards: GuardFields = { honeypotFilled: false, turnstileToken: undefined };
  const seen = new Set<SubmissionField>();
  for (const { name, value, invalidUtf8 } of fields) {
    if (name === HONEYPOT_FIELD) {
      // Anything other than an empty or blank text value, a file included, fills the trap.
      const filled = typeof value === 'string' ? isHoneypotFilled(value) : value != null;
      guards.honeypotFilled ||= filled;
      continue;
    }
    if (name === TURNSTILE_FIELD) {
      if (typeof value === 'string' && guards.turnstileToken === undefined) {
        guards.turnstileToken = value.trim();
      }
      continue;
    }
    if (!isField(name) || value === undefined || value === null) continue;
    if (seen.has(name)) {
      readIssues.push({ field: name, message: READ_MESSAGES.repeated });
      continue;
    }
    seen.add(name);
    if (typeof value !== 'string') {
      readIssues.push({ field: name, message: READ_MESSAGES.nonText });
      continue;
    }
    // The value is kept even when its bytes were invalid, so that a form page shows the text
    // again (with U+FFFD where the bad bytes were) rather than losing it.
    if (invalidUtf8) readIssues.push({ field: name, message: READ_MESSAGES.invalidUtf8 });
    const normalized = normalize(name, value);
    if (normalized !== undefined) values[name] = normalized;
  }
  return { values, readIssues, guards };
}

function jsonFields(data: object): RawField[] {
  return Object.entries(data).map(([name, value]) => ({ name, value, invalidUtf8: false }));
}

/** Reads the form entries of a urlencoded or multipart body, flagging bytes that are not UTF-8. */
function formFields(
  bytes: Uint8Array<ArrayBuffer>,
  type: string,
  contentType: string,
): Promise<RawField[]> {
  if (type === 'application/x-www-form-urlencoded') return Promise.resolve(parseUrlEncoded(bytes));
  return parseMultipart(bytes, contentType);
}

/** Reads the request body as JSON or as a form, raising ApiError when it cannot be read. */
export async function readSubmissionBody(c: Context): Promise<ReadBody> {
  const type = mediaType(c);
  let read: Omit<ReadBody, 'fromForm'>;
  let fromForm: boolean;
  if (type === 'application/json' || type.endsWith('+json')) {
    const text = decodeUtf8(new Uint8Array(await c.req.arrayBuffer()));
    if (text === null) {
      throw new ApiError('malformed_body', {
        message:
          'The request body is not valid UTF-8, so its text cannot be stored as sent. ' +
          'Send the JSON encoded as UTF-8.',
      });
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError('malformed_body', {
        message: 'The request body is not valid JSON. Send one JSON object with the fields.',
      });
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new ApiError('malformed_body', {
        message: 'The request body must be one JSON object with the comment fields.',
      });
    }
    read = collect(jsonFields(data));
    fromForm = false;
  } else if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') {
    let fields: RawField[];
    try {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      fields = await formFields(bytes, type, c.req.header('content-type') ?? type);
    } catch {
      throw new ApiError('malformed_body', {
        message: 'The form data could not be read. Send the form again from the post page.',
      });
    }
    read = collect(fields);
    fromForm = true;
  } else {
    throw new ApiError('unsupported_media_type');
  }

  const headerKey = c.req.header('idempotency-key');
  if (read.values.idempotencyKey === undefined && headerKey !== undefined) {
    const key = normalize('idempotencyKey', headerKey);
    if (key !== undefined) read.values.idempotencyKey = key;
  }
  return { ...read, fromForm };
}

/** Validates the submitted values; returns the submission or one issue per failing field. */
export function validateSubmission(
  read: Pick<ReadBody, 'values' | 'readIssues'>,
): { ok: true; submission: Submission } | { ok: false; issues: FieldIssue[] } {
  // Every field is passed, absent ones as undefined, so that a missing required field gets the
  // field's own "is required" message rather than the object schema's generic one.
  const input = Object.fromEntries(SUBMISSION_FIELDS.map((field) => [field, read.values[field]]));
  const result = v.safeParse(SubmissionSchema, input);
  const issues: FieldIssue[] = [...read.readIssues];
  if (!result.success) issues.push(...toFieldIssues(result.issues));
  if (issues.length > 0 || !result.success) return { ok: false, issues: firstPerField(issues) };

  const output = result.output;
  return {
    ok: true,
    submission: {
      post: output.post,
      parent: output.parent ?? null,
      author: output.author,
      authorUrl: output.authorUrl ?? null,
      text: output.text,
      visibility: output.visibility ?? null,
      returnTo: output.returnTo ?? null,
      idempotencyKey: output.idempotencyKey ?? null,
      email: output.email ?? null,
    },
  };
}

function firstPerField(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    if (seen.has(issue.field)) return false;
    seen.add(issue.field);
    return true;
  });
}
