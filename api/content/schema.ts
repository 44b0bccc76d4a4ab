// The one definition of what a post and a comment look like. The API writes comment files with
// it, the Astro sites load content through it, and `npm run content:check` validates every file
// in content/ against it.
import * as v from 'valibot';

/** Lowercase letters, digits and inner hyphens: safe as a file name and inside a URL path. */
export const ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** RFC 3339 timestamp in UTC, with optional fractional seconds: 2026-12-04T15:51:14Z. */
export const UTC_TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** A calendar date, or a UTC timestamp, for posts. */
const POST_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z)?$/;

export const LIMITS = {
  author: 80,
  authorUrl: 2000,
  text: 20_000,
  title: 200,
} as const;

export const VISIBILITIES = ['public', 'internal'] as const;
export const COMMENT_SOURCES = ['public', 'internal', 'import'] as const;

export type Visibility = (typeof VISIBILITIES)[number];
export type CommentSource = (typeof COMMENT_SOURCES)[number];

const idSchema = v.pipe(
  v.string(),
  v.regex(ID_PATTERN, 'must be 1 to 64 lowercase letters, digits or inner hyphens'),
);

const wellFormed = v.check<string, string>(
  (value) => value.isWellFormed(),
  'contains a lone surrogate, which is not valid Unicode text',
);

/**
 * Returns true when the text has a character that shows. White space, control and format
 * characters, combining marks on their own, Unicode's default-ignorable characters (zero-width,
 * bidi controls, variation selectors, Hangul fillers, tags) and the Braille blank do not count.
 */
export const hasVisibleCharacter = (value: string): boolean =>
  /[^\s\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{Mn}\p{Me}\u2800]/u.test(value);

const EMOJI_PART = /\p{Extended_Pictographic}|\p{Emoji_Modifier}|\ufe0f/u;

/**
 * Removes invisible characters from a display name: bidi controls, which would reverse the text
 * shown after the name, and zero-width characters, which make two names look alike. A zero-width
 * joiner or variation selector inside an emoji sequence (👩‍💻) is kept, because it is visible there.
 */
export function stripInvisible(name: string): string {
  const chars = [...name];
  return chars
    .filter((char, index) => {
      if (!/\p{Default_Ignorable_Code_Point}/u.test(char)) return true;
      const before = chars[index - 1] ?? '';
      const after = chars[index + 1] ?? '';
      if (char === '\ufe0f') return /\p{Extended_Pictographic}/u.test(before);
      if (char === '\u200d') {
        return EMOJI_PART.test(before) && /\p{Extended_Pictographic}/u.test(after);
      }
      return false;
    })
    .join('');
}

/**
 * Makes a display name one line: each run of control characters (line breaks, tabs, terminal
 * escape sequences) or line and paragraph separators becomes one space, then the ends are trimmed.
 */
export function toOneLine(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/gu, ' ').trim();
}

const isHttpUrl = (value: string): boolean => {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
};

export const PostSchema = v.object({
  id: idSchema,
  title: v.pipe(
    v.string(),
    wellFormed,
    v.nonEmpty('must not be empty'),
    v.maxLength(LIMITS.title, `must be at most ${LIMITS.title} characters`),
  ),
  date: v.pipe(
    v.string(),
    v.regex(POST_DATE_PATTERN, 'must be a date like 2026-12-04 or a UTC timestamp'),
  ),
  visibility: v.optional(v.picklist(VISIBILITIES, 'must be "public" or "internal"'), 'internal'),
  comments: v.optional(v.picklist(['open', 'closed'], 'must be "open" or "closed"'), 'open'),
});

export const CommentSchema = v.object({
  id: idSchema,
  post: idSchema,
  parent: v.optional(v.nullable(idSchema), null),
  author: v.pipe(
    v.string(),
    wellFormed,
    v.transform(stripInvisible),
    v.transform(toOneLine),
    // Removing an invisible character can leave a letter next to its combining mark (e, U+200B,
    // U+0301), so the name is normalized again for the length limit and for storage.
    v.transform((name) => name.normalize('NFC')),
    v.check(hasVisibleCharacter, 'must not be empty'),
    v.maxLength(LIMITS.author, `must be at most ${LIMITS.author} characters`),
  ),
  date: v.pipe(
    v.string(),
    v.regex(UTC_TIMESTAMP_PATTERN, 'must be an RFC 3339 timestamp in UTC, ending in Z'),
  ),
  visibility: v.picklist(VISIBILITIES, 'must be "public" or "internal"'),
  source: v.picklist(COMMENT_SOURCES, 'must be "public", "internal" or "import"'),
  authorUrl: v.optional(
    v.pipe(
      v.string(),
      v.maxLength(LIMITS.authorUrl, `must be at most ${LIMITS.authorUrl} characters`),
      // The URL parser drops tabs and line breaks, so the link would differ from what is stored.
      v.check(
        (value) => !/[\u0000-\u001f\u007f]/.test(value),
        'must not contain control characters such as tabs or line breaks',
      ),
      v.check(isHttpUrl, 'must be an http or https URL'),
    ),
  ),
});

/** The comment's markdown: any well-formed text with at least one visible character. */
export const CommentBodySchema = v.pipe(
  v.string(),
  wellFormed,
  v.maxLength(LIMITS.text, `must be at most ${LIMITS.text} characters`),
  v.check(hasVisibleCharacter, 'must not be empty'),
  // git treats a file with a NUL byte as binary, and its pull request would show no text.
  v.check((value) => !value.includes('\u0000'), 'must not contain NUL characters'),
);

export type Post = v.InferOutput<typeof PostSchema>;
export type PostInput = v.InferInput<typeof PostSchema>;
export type CommentMeta = v.InferOutput<typeof CommentSchema>;
export type CommentMetaInput = v.InferInput<typeof CommentSchema>;

/** A comment as stored: its front matter and its markdown body. */
export interface Comment extends CommentMeta {
  body: string;
}

/** One failed check, with the field it concerns ("author", "authorUrl", "body", ...). */
export interface FieldIssue {
  field: string;
  message: string;
}

/** Turns valibot issues into one entry per field, in the order the fields failed. */
export function toFieldIssues(issues: readonly v.BaseIssue<unknown>[]): FieldIssue[] {
  return issues.map((issue) => ({
    field: v.getDotPath(issue) ?? '(root)',
    message: issue.message,
  }));
}

/** Returns the path of a comment's file, relative to the repository root. */
export function commentPath(postId: string, commentId: string): string {
  return `content/comments/${postId}/${commentId}.md`;
}
