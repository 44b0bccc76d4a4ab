import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkContent } from '../../api/content/check.ts';
import {
  ContentFileError,
  formatCommentFile,
  parseCommentFile,
} from '../../api/content/front-matter.ts';
import type { CommentMetaInput } from '../../api/content/schema.ts';
import { VALID_COMMENT, createHarness, submitComment, type Harness } from '../api/harness.ts';
import { makeTempDir, writeContent, writeRaw } from './fixtures.ts';

const meta: CommentMetaInput = {
  id: '01jd8x7q3k2m4n5p6r7s8t9v0w',
  post: 'hello-world',
  parent: null,
  author: 'Ada',
  date: '2026-12-04T15:51:14Z',
  visibility: 'public',
  source: 'public',
};

const controlAuthors: Array<[string, string, string]> = [
  ['a line feed', 'Ada\nLovelace', 'Ada Lovelace'],
  ['an escape sequence', 'Ada\u001b[31m', 'Ada [31m'],
  ['a NUL', 'Ada\u0000', 'Ada'],
  ['a C1 control', 'Ada\u0085Reader', 'Ada Reader'],
  ['a bidi override', 'Ada\u202eredaeR', 'AdaredaeR'],
];

const blankAuthors: Array<[string, string]> = [
  ['only zero-width characters', '\u200b\u2060'],
  ['only control characters', '\u0000\r\n'],
];

describe('comment writer', () => {
  it.each(controlAuthors)('writes an author with %s as one line', (_name, author, written) => {
    const read = parseCommentFile(formatCommentFile({ ...meta, author }, 'Text'));
    expect(read.author).toBe(written);
  });

  it.each(blankAuthors)('rejects an author with %s', (_name, author) => {
    expect(() => formatCommentFile({ ...meta, author }, 'Text')).toThrow(ContentFileError);
  });

  it.each(blankAuthors)('names the author field for %s', (_name, author) => {
    try {
      formatCommentFile({ ...meta, author }, 'Text');
      expect.unreachable('formatCommentFile accepted the author');
    } catch (error) {
      expect(error).toBeInstanceOf(ContentFileError);
      if (error instanceof ContentFileError) {
        expect(error.issues.map((issue) => issue.field)).toEqual(['author']);
      }
    }
  });
});

describe('content check', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir('robust-check');
    await writeContent(dir, [{ slug: 'hello', id: 'hello-world', title: 'Hi', date: '2026-01-01' }], []);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['an escape sequence', '"Ada\\u001b[2J"'],
    ['a line feed', '"Ada\\nMallory"'],
    ['a carriage return', '"Ada\\rApproved"'],
  ])('flags a hand-written author with %s', async (_name, yamlAuthor) => {
    const file = [
      '---',
      `id: "${meta.id}"`,
      'post: "hello-world"',
      `author: ${yamlAuthor}`,
      'date: "2026-12-04T15:51:14Z"',
      'visibility: "public"',
      'source: "public"',
      '---',
      'Text',
    ].join('\n');
    await writeRaw(dir, `comments/hello-world/${meta.id}.md`, file);
    const result = await checkContent(dir);
    expect(result.problems.map((problem) => problem.field)).toEqual(['author']);
  });
});

describe('files the API writes', () => {
  let harness: Harness;
  let dir: string;
  beforeEach(async () => {
    harness = await createHarness();
    dir = await makeTempDir('robust-files');
    await writeContent(
      dir,
      [{ slug: 'hello-world', id: 'hello-world', title: 'Hello', date: '2026-01-01' }],
      [],
    );
  });
  afterEach(async () => {
    await harness.close();
    await rm(dir, { recursive: true, force: true });
  });

  // Text a reader may send that a front matter parser or a file layer could misread.
  const texts: Array<[string, string]> = [
    ['a front matter block', '---\nid: forged\nvisibility: internal\n---\nbody'],
    ['a fence and nothing else', '---'],
    ['a code-engine fence', '---js\nmodule.exports = { visibility: "internal" }\n---\n'],
    ['CRLF and a bare CR', 'one\r\ntwo\rthree\r\n'],
    ['leading blank lines', '\r\n\n\nlow start'],
    ['a leading byte order mark', '\ufeffBOM first'],
    ['YAML anchors and tags', '&a [*a]\n!!js/function "f"\n? key\n: value'],
    ['control characters', 'bell\u0007 escape\u001b[31m nul-free \u000b\u000c'],
    ['separators and specials', 'line\u2028para\u2029 \ufffe \uffff end'],
    ['decomposed accents', 'Cafe\u0301 nai\u0308ve'],
    ['astral characters', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩🏽‍💻 🏳️‍🌈'],
    ['trailing white space', 'ends with spaces   \n\n\t'],
  ];

  it.each(texts)('writes text with %s that passes the content check', async (_name, text) => {
    const receipt = await submitComment(harness, { ...VALID_COMMENT, text });
    await harness.worker.drain();
    const proposal = harness.forge.pulls.find((pull) => pull.commentId === receipt)?.proposal;
    expect(proposal).toBeDefined();
    if (proposal === undefined) return;

    const file = path.join(dir, proposal.path.replace(/^content\//, ''));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, proposal.content);
    const result = await checkContent(dir);
    expect(result.problems).toEqual([]);
    expect(result.commentCount).toBe(1);

    const parsed = parseCommentFile(await readFile(file, 'utf8'));
    expect(parsed.body).toBe(text.normalize('NFC'));
    expect(parsed.id).toBe(receipt);
    expect(parsed.visibility).toBe('public');
    expect(Buffer.from(parsed.body, 'utf8').equals(Buffer.from(text.normalize('NFC'), 'utf8'))).toBe(
      true,
    );
  });
});
