import { describe, expect, test } from 'vitest';
import matter from 'gray-matter';
import {
  ContentFileError,
  SAFE_MATTER_OPTIONS,
  formatCommentFile,
  parseCommentFile,
  parsePostFile,
  yamlString,
} from '../../api/content/front-matter.ts';
import type { CommentMetaInput } from '../../api/content/schema.ts';

const meta: CommentMetaInput = {
  id: '01jd8x7q3k2m4n5p6r7s8t9v0w',
  post: 'welcome',
  parent: null,
  author: 'Ada',
  date: '2026-12-04T15:51:14Z',
  visibility: 'public',
  source: 'public',
};

const bodies: Array<[string, string]> = [
  ['a body that begins with a front matter fence', '---\ntitle: injected\n---\nhello'],
  ['a body that is only a fence', '---'],
  ['a body that declares a code engine', '---js\n{ id: "x" }\n---\n'],
  ['YAML-like text', 'author: Mallory\nvisibility: internal\n'],
  ['CRLF line endings', 'first line\r\nsecond line\r\n\r\nthird'],
  ['leading blank lines', '\n\n\r\nstarts low'],
  ['trailing newlines', 'ends with two\n\n'],
  ['no trailing newline', 'ends abruptly'],
  ['astral emoji and a ZWJ sequence', 'family 👨‍👩‍👧‍👦 and 🧑🏽‍💻'],
  ['right-to-left text', 'שלום עולם — مرحبا بالعالم'],
  ['a bidi override', 'abc\u202edcba'],
  ['a code fence', '```js\nconst a = "---";\n```\n'],
  ['Liquid and HTML', '{% raw %}{{ page.title }}{% endraw %} <b>bold</b> &amp;'],
  ['tabs and a NUL-free control mix', 'a\tb\u000bc\u000cd'],
];

describe('comment file round trip', () => {
  test.each(bodies)('keeps %s byte for byte', (_name, body) => {
    const text = formatCommentFile(meta, body);
    const read = parseCommentFile(text);
    expect(read.body).toBe(body);
    expect(read.id).toBe(meta.id);
    expect(read.author).toBe(meta.author);
  });

  test.each(bodies)('never lets %s change the front matter', (_name, body) => {
    const read = parseCommentFile(formatCommentFile(meta, body));
    expect(read.visibility).toBe('public');
    expect(read.post).toBe('welcome');
  });

  test('writes the body after the closing fence unchanged', () => {
    const body = '---\nnot: front matter\n';
    expect(formatCommentFile(meta, body).endsWith(`---\n${body}`)).toBe(true);
  });
});

const yamlTraps = [
  'yes',
  'no',
  'on',
  'off',
  'true',
  'False',
  'null',
  'Null',
  '~',
  '',
  '0o17',
  '017',
  '0x1f',
  '1e3',
  '.inf',
  '-.nan',
  '2024-01-01',
  '2024-01-01T00:00:00Z',
  '12:30',
  '- item',
  '[a, b]',
  '{a: b}',
  '&anchor',
  '*alias',
  '!!python/object',
  '! tag',
  '# comment',
  'key: value',
  "'single'",
  '"double"',
  'back\\slash',
  ' leading and trailing ',
  'line\nbreak',
  'carriage\rreturn',
  'tab\there',
  'line separator\u2028here',
  'paragraph separator\u2029here',
  'next line\u0085here',
  'C1 control\u0090here',
  'byte order mark\ufeffhere',
  'noncharacter\uffffhere',
  'DEL\u007fhere',
  'escape\u001bhere',
  '👩‍🚀 astronaut',
  '---',
  '...',
];

describe('front matter strings', () => {
  test.each(yamlTraps.map((value) => [JSON.stringify(value), value]))(
    'reads %s back as the same string',
    (_label, value) => {
      const data = matter(`---\nvalue: ${yamlString(value)}\n---\n`, SAFE_MATTER_OPTIONS).data;
      expect(data['value']).toBe(value);
    },
  );

  test('an author name that YAML would read as a boolean stays text', () => {
    const read = parseCommentFile(formatCommentFile({ ...meta, author: 'yes' }, 'hi'));
    expect(read.author).toBe('yes');
  });

  test('an author URL with quotes and a line separator survives', () => {
    const authorUrl = 'https://example.org/a"b\u2028c';
    const read = parseCommentFile(formatCommentFile({ ...meta, authorUrl }, 'hi'));
    expect(read.authorUrl).toBe(authorUrl);
  });

  test('rejects a lone surrogate with a clear error', () => {
    expect(() => yamlString('broken \ud800 text')).toThrow(/lone surrogate/);
  });

  test('random strings round trip or are rejected', () => {
    // A deterministic generator keeps failures reproducible.
    let seed = 20261204;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const pools = [
      [0x20, 0x7e],
      [0x00, 0x1f],
      [0x80, 0x9f],
      [0x590, 0x6ff],
      [0x200b, 0x202e],
      [0xd800, 0xdfff],
      [0xfff0, 0xffff],
      [0x1f300, 0x1faff],
    ] as const;
    for (let round = 0; round < 500; round++) {
      let value = '';
      const length = next() % 24;
      for (let index = 0; index < length; index++) {
        const [low, high] = pools[next() % pools.length]!;
        value += String.fromCodePoint(low + (next() % (high - low + 1)));
      }
      if (!value.isWellFormed()) {
        expect(() => yamlString(value)).toThrow(ContentFileError);
        continue;
      }
      const data = matter(`---\nvalue: ${yamlString(value)}\n---\n`, SAFE_MATTER_OPTIONS).data;
      expect(data['value']).toBe(value);
    }
  });
});

describe('front matter engines', () => {
  test.each(['js', 'javascript', 'coffee', 'json', 'toml'])(
    'refuses the %s engine without evaluating it',
    (language) => {
      let evaluated = false;
      const globals = globalThis as { markEvaluated?: () => void };
      globals.markEvaluated = () => {
        evaluated = true;
      };
      const text = `---${language}\n{ id: (markEvaluated(), "x") }\n---\nbody`;
      expect(() => parseCommentFile(text)).toThrow(ContentFileError);
      expect(() => matter(text, SAFE_MATTER_OPTIONS)).toThrow();
      expect(evaluated).toBe(false);
      delete globals.markEvaluated;
    },
  );

  test('reads a hand-written date as a string', () => {
    const { post } = parsePostFile('---\nid: a\ntitle: A\ndate: 2026-12-04\n---\nbody');
    expect(post.date).toBe('2026-12-04');
  });

  test('defaults a post to internal with comments open', () => {
    const { post } = parsePostFile('---\nid: a\ntitle: A\ndate: 2026-12-04\n---\n');
    expect(post.visibility).toBe('internal');
    expect(post.comments).toBe('open');
  });
});

describe('comment schema errors', () => {
  const cases: Array<[string, Partial<CommentMetaInput>, string]> = [
    ['an uppercase id', { id: 'ABC' }, 'id'],
    ['a path in the post id', { post: '../etc' }, 'post'],
    ['an empty author', { author: '' }, 'author'],
    ['a date without a zone', { date: '2026-12-04T10:00:00' }, 'date'],
    ['an unknown visibility', { visibility: 'secret' as 'public' }, 'visibility'],
    ['an unknown source', { source: 'email' as 'public' }, 'source'],
    ['a javascript: author URL', { authorUrl: 'javascript:alert(1)' }, 'authorUrl'],
  ];

  test.each(cases)('names the field for %s', (_name, change, field) => {
    try {
      formatCommentFile({ ...meta, ...change }, 'body');
      expect.unreachable('formatCommentFile accepted invalid front matter');
    } catch (error) {
      expect(error).toBeInstanceOf(ContentFileError);
      expect((error as ContentFileError).issues.map((issue) => issue.field)).toContain(field);
    }
  });

  test.each(['', '   ', '\u200b\u200b', '\n\r\n\t'])('rejects the empty body %j', (body) => {
    expect(() => formatCommentFile(meta, body)).toThrow(/body must not be empty/);
  });
});
