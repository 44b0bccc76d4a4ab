// Reading and validating a comment submission, from JSON or from an HTML form. The field rules
// come from the one content schema. This module adds the fields only a submission has (the
// return URL and the idempotency key), and it reports every problem by field name.
import type { Context } from 'hono';
import * as v from 'valibot';
import { ApiError } from '../errors.ts';
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
}

export interface ReadBody {
  /** True for HTML form posts, which get HTML pages back rather than JSON. */
  fromForm: boolean;
  values: SubmittedValues;
  /** Fields sent with something other than text, such as a file upload. */
  nonText: SubmissionField[];
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

function collect(entries: Iterable<[string, unknown]>): Omit<ReadBody, 'fromForm'> {
  const values: SubmittedValues = {};
  const nonText: SubmissionField[] = [];
  for (const [key, value] of entries) {
    if (!isField(key) || value === undefined || value === null) continue;
    if (typeof value !== 'string') {
      nonText.push(key);
      continue;
    }
    const normalized = normalize(key, value);
    if (normalized !== undefined) values[key] = normalized;
  }
  return { values, nonText };
}

/** Reads the request body as JSON or as a form, raising ApiError when it cannot be read. */
export async function readSubmissionBody(c: Context): Promise<ReadBody> {
  const type = mediaType(c);
  let read: Omit<ReadBody, 'fromForm'>;
  let fromForm: boolean;
  if (type === 'application/json' || type.endsWith('+json')) {
    let data: unknown;
    try {
      data = await c.req.json();
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
    read = collect(Object.entries(data));
    fromForm = false;
  } else if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') {
    let form: Record<string, unknown>;
    try {
      form = await c.req.parseBody();
    } catch {
      throw new ApiError('malformed_body', {
        message: 'The form data could not be read. Send the form again from the post page.',
      });
    }
    read = collect(Object.entries(form));
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
  read: Omit<ReadBody, 'fromForm'>,
): { ok: true; submission: Submission } | { ok: false; issues: FieldIssue[] } {
  // Every field is passed, absent ones as undefined, so that a missing required field gets the
  // field's own "is required" message rather than the object schema's generic one.
  const input = Object.fromEntries(SUBMISSION_FIELDS.map((field) => [field, read.values[field]]));
  const result = v.safeParse(SubmissionSchema, input);
  const issues: FieldIssue[] = read.nonText.map((field) => ({ field, message: 'must be text' }));
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
