// Reads and writes markdown files with YAML front matter. Writing never passes the body through a
// parser, so a body that starts with `---` or looks like YAML stays body text. Reading goes
// through gray-matter with every code-evaluating engine replaced, and YAML parsed with the core
// schema, so `2024-01-01`, `yes` or `~` in a hand-written file are never turned into dates.
import matter from 'gray-matter';
import yaml from 'js-yaml';
import * as v from 'valibot';
import {
  CommentBodySchema,
  CommentSchema,
  PostSchema,
  toFieldIssues,
  type Comment,
  type CommentMetaInput,
  type FieldIssue,
  type Post,
} from './schema.ts';

/** Raised when a content file cannot be read or does not match the schema. */
export class ContentFileError extends Error {
  readonly issues: FieldIssue[];

  constructor(message: string, issues: FieldIssue[] = []) {
    super(message);
    this.name = 'ContentFileError';
    this.issues = issues;
  }
}

function rejectEngine(name: string) {
  return () => {
    throw new ContentFileError(
      `front matter declares the "${name}" language; only YAML front matter is accepted`,
    );
  };
}

const codeEngines = ['js', 'javascript', 'coffee', 'coffeescript', 'cson', 'toml', 'json'];

/** gray-matter options that never evaluate code and keep YAML scalars as YAML 1.2 core types. */
export const SAFE_MATTER_OPTIONS = {
  language: 'yaml',
  engines: {
    yaml: {
      parse: (source: string): object => {
        const data = yaml.load(source, { schema: yaml.CORE_SCHEMA }) ?? {};
        if (typeof data !== 'object' || Array.isArray(data)) {
          throw new ContentFileError('front matter must be a YAML mapping of keys to values');
        }
        return data;
      },
    },
    ...Object.fromEntries(codeEngines.map((name) => [name, { parse: rejectEngine(name) }])),
  },
};

/** Splits a file into front matter data and body without caching or evaluating anything. */
export function parseFrontMatter(text: string): { data: Record<string, unknown>; body: string } {
  if (!/^---\r?\n/.test(text)) {
    throw new ContentFileError('file must start with a `---` line that opens the front matter');
  }
  // gray-matter caches results by input string and returns the cached object for the same text
  // again, so each call gets a copy and one caller's edits never reach the next.
  const file = matter(text, SAFE_MATTER_OPTIONS);
  return { data: { ...(file.data as Record<string, unknown>) }, body: file.content };
}

// YAML's printable set (YAML 1.2, section 5.1) minus the characters a double-quoted scalar must
// escape. Everything outside it is written as an escape sequence.
const UNSAFE_IN_QUOTES = /["\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]/gu;

/** Writes a string as a YAML double-quoted scalar that every YAML parser reads back unchanged. */
export function yamlString(value: string): string {
  if (!value.isWellFormed()) {
    throw new ContentFileError('text contains a lone surrogate, which is not valid Unicode');
  }
  const escaped = value.replace(UNSAFE_IN_QUOTES, (char) => {
    switch (char) {
      case '"':
        return '\\"';
      case '\\':
        return '\\\\';
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
  return `"${escaped}"`;
}

const COMMENT_KEYS = [
  'id',
  'post',
  'parent',
  'author',
  'date',
  'visibility',
  'source',
  'authorUrl',
] as const;

/**
 * Formats a comment file: validated front matter, each string double-quoted so that YAML keeps
 * it a string, then the body exactly as given.
 */
export function formatCommentFile(meta: CommentMetaInput, body: string): string {
  const parsedMeta = v.safeParse(CommentSchema, meta);
  const parsedBody = v.safeParse(CommentBodySchema, body);
  const issues = [
    ...(parsedMeta.success ? [] : toFieldIssues(parsedMeta.issues)),
    ...(parsedBody.success ? [] : [{ field: 'body', message: parsedBody.issues[0].message }]),
  ];
  if (!parsedMeta.success || !parsedBody.success) {
    throw new ContentFileError(describeIssues('comment is invalid', issues), issues);
  }
  const lines = ['---'];
  for (const key of COMMENT_KEYS) {
    const value = parsedMeta.output[key];
    if (value === undefined) continue;
    lines.push(`${key}: ${value === null ? 'null' : yamlString(value)}`);
  }
  lines.push('---', '');
  return lines.join('\n') + body;
}

/** Reads and validates a comment file; the body is returned byte for byte. */
export function parseCommentFile(text: string): Comment {
  const { data, body } = parseFrontMatter(text);
  const meta = v.safeParse(CommentSchema, data);
  if (!meta.success) {
    const issues = toFieldIssues(meta.issues);
    throw new ContentFileError(describeIssues('comment front matter is invalid', issues), issues);
  }
  // The schema cleans a name as the API receives it; a stored file must already be clean.
  if (meta.output.author !== data['author']) {
    const issues = [
      {
        field: 'author',
        message: `contains control or invisible characters; write it as ${JSON.stringify(meta.output.author)}`,
      },
    ];
    throw new ContentFileError(describeIssues('comment front matter is invalid', issues), issues);
  }
  const parsedBody = v.safeParse(CommentBodySchema, body);
  if (!parsedBody.success) {
    const issues = [{ field: 'body', message: parsedBody.issues[0].message }];
    throw new ContentFileError(describeIssues('comment body is invalid', issues), issues);
  }
  return { ...meta.output, body };
}

/** Reads and validates a post file. */
export function parsePostFile(text: string): { post: Post; body: string } {
  const { data, body } = parseFrontMatter(text);
  const post = v.safeParse(PostSchema, data);
  if (!post.success) {
    const issues = toFieldIssues(post.issues);
    throw new ContentFileError(describeIssues('post front matter is invalid', issues), issues);
  }
  return { post: post.output, body };
}

function describeIssues(summary: string, issues: FieldIssue[]): string {
  return `${summary}: ${issues.map((issue) => `${issue.field} ${issue.message}`).join('; ')}`;
}
