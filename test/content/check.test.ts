import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkContent, runContentCheck } from '../../api/content/check.ts';
import { formatCommentFile } from '../../api/content/front-matter.ts';
import { makeTempDir, postFile, writeContent, writeRaw, type FixtureComment } from './fixtures.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');
const tempDirs: string[] = [];

afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const firstComment: FixtureComment = {
  id: '01jd0000000000000000000001',
  post: 'p1',
  parent: null,
  author: 'Ada',
  date: '2026-10-01T10:00:00Z',
  visibility: 'public',
  source: 'public',
  body: 'First!\n',
};

function comment(overrides: Partial<FixtureComment>): FixtureComment {
  return { ...firstComment, ...overrides };
}

function rawComment(fields: Record<string, string>, body = 'text\n'): string {
  const lines = Object.entries(fields).map(([key, value]) => `${key}: ${value}`);
  return ['---', ...lines, '---', body].join('\n');
}

const validFields = {
  id: '"01jd0000000000000000000009"',
  post: '"p1"',
  parent: 'null',
  author: '"Eve"',
  date: '"2026-10-02T10:00:00Z"',
  visibility: '"public"',
  source: '"public"',
};

/** Creates a content folder with two valid posts and one valid comment, then runs `extra`. */
async function contentWith(extra: (dir: string) => Promise<unknown>): Promise<string> {
  const dir = await makeTempDir('check');
  tempDirs.push(dir);
  await writeContent(
    dir,
    [
      { slug: 'first', id: 'p1', title: 'First', date: '2026-10-01', visibility: 'public' },
      { slug: 'second', id: 'p2', title: 'Second', date: '2026-10-02' },
    ],
    [firstComment],
  );
  await extra(dir);
  return dir;
}

const brokenCases: Array<{
  name: string;
  file: string;
  field: string;
  write: (dir: string) => Promise<unknown>;
}> = [
  {
    name: 'post without a title',
    file: 'posts/untitled.md',
    field: 'title',
    write: (dir) => writeRaw(dir, 'posts/untitled.md', '---\nid: p3\ndate: 2026-10-03\n---\nx\n'),
  },
  {
    name: 'post with an unknown visibility',
    file: 'posts/secret.md',
    field: 'visibility',
    write: (dir) =>
      writeRaw(
        dir,
        'posts/secret.md',
        '---\nid: p3\ntitle: S\ndate: 2026-10-03\nvisibility: secret\n---\n',
      ),
  },
  {
    name: 'post file name with capitals',
    file: 'posts/Shouting.md',
    field: '(file name)',
    write: (dir) =>
      writeRaw(
        dir,
        'posts/Shouting.md',
        postFile({ id: 'p3', title: 'S', date: '2026-10-03' }, ''),
      ),
  },
  {
    name: 'post id used twice',
    file: 'posts/third.md',
    field: 'id',
    write: (dir) =>
      writeRaw(dir, 'posts/third.md', postFile({ id: 'p1', title: 'T', date: '2026-10-03' }, '')),
  },
  {
    name: 'post with JavaScript front matter',
    file: 'posts/code.md',
    field: '(file)',
    write: (dir) => writeRaw(dir, 'posts/code.md', '---js\n{ id: "p3" }\n---\nx\n'),
  },
  {
    name: 'comment in the folder of another post',
    file: 'comments/p2/01jd0000000000000000000002.md',
    field: 'post',
    write: (dir) =>
      writeRaw(
        dir,
        'comments/p2/01jd0000000000000000000002.md',
        formatCommentFile(comment({ id: '01jd0000000000000000000002' }), 'x\n'),
      ),
  },
  {
    name: 'comment file named unlike its id',
    file: 'comments/p1/01jd0000000000000000000003.md',
    field: 'id',
    write: (dir) =>
      writeRaw(
        dir,
        'comments/p1/01jd0000000000000000000003.md',
        formatCommentFile(comment({ id: '01jd0000000000000000000004' }), 'x\n'),
      ),
  },
  {
    name: 'comment on a missing post',
    file: 'comments/ghost/01jd0000000000000000000002.md',
    field: 'post',
    write: (dir) =>
      writeRaw(
        dir,
        'comments/ghost/01jd0000000000000000000002.md',
        formatCommentFile(comment({ id: '01jd0000000000000000000002', post: 'ghost' }), 'x\n'),
      ),
  },
  {
    name: 'reply to a missing parent',
    file: 'comments/p1/01jd0000000000000000000002.md',
    field: 'parent',
    write: (dir) =>
      writeContent(dir, [], [comment({ id: '01jd0000000000000000000002', parent: 'gone' })]),
  },
  {
    name: 'reply to a comment on another post',
    file: 'comments/p2/01jd0000000000000000000002.md',
    field: 'parent',
    write: (dir) =>
      writeContent(
        dir,
        [],
        [comment({ id: '01jd0000000000000000000002', post: 'p2', parent: firstComment.id })],
      ),
  },
  {
    name: 'comment id used on two posts',
    file: `comments/p2/${firstComment.id}.md`,
    field: 'id',
    write: (dir) => writeContent(dir, [], [comment({ post: 'p2' })]),
  },
  {
    name: 'replies that form a loop',
    file: 'comments/p1/01jd0000000000000000000002.md',
    field: 'parent',
    write: (dir) =>
      writeContent(
        dir,
        [],
        [
          comment({ id: '01jd0000000000000000000002', parent: '01jd0000000000000000000003' }),
          comment({ id: '01jd0000000000000000000003', parent: '01jd0000000000000000000002' }),
        ],
      ),
  },
  {
    name: 'comment with a javascript author URL',
    file: 'comments/p1/01jd0000000000000000000009.md',
    field: 'authorUrl',
    write: (dir) =>
      writeRaw(
        dir,
        'comments/p1/01jd0000000000000000000009.md',
        rawComment({ ...validFields, authorUrl: '"javascript:alert(1)"' }),
      ),
  },
  {
    name: 'comment with a local-time date',
    file: 'comments/p1/01jd0000000000000000000009.md',
    field: 'date',
    write: (dir) =>
      writeRaw(
        dir,
        'comments/p1/01jd0000000000000000000009.md',
        rawComment({ ...validFields, date: '"2026-10-02T10:00:00+02:00"' }),
      ),
  },
  {
    name: 'comment with an empty body',
    file: 'comments/p1/01jd0000000000000000000009.md',
    field: 'body',
    write: (dir) =>
      writeRaw(dir, 'comments/p1/01jd0000000000000000000009.md', rawComment(validFields, '  \n')),
  },
  {
    name: 'comment without front matter',
    file: 'comments/p1/01jd0000000000000000000009.md',
    field: '(file)',
    write: (dir) => writeRaw(dir, 'comments/p1/01jd0000000000000000000009.md', 'just text\n'),
  },
  {
    name: 'comment file outside a post folder',
    file: 'comments/stray.md',
    field: '(file)',
    write: (dir) => writeRaw(dir, 'comments/stray.md', formatCommentFile(firstComment, 'x\n')),
  },
  {
    name: 'comment file without .md',
    file: 'comments/p1/notes.txt',
    field: '(file name)',
    write: (dir) => writeRaw(dir, 'comments/p1/notes.txt', 'notes\n'),
  },
];

describe('checkContent', () => {
  it('passes the sample blog', async () => {
    const result = await checkContent(path.join(repoRoot, 'content'));
    expect(result.problems).toEqual([]);
  });

  it('counts the posts and comments it checked', async () => {
    const dir = await contentWith(async () => {});
    const result = await checkContent(dir);
    expect(result).toEqual({ problems: [], postCount: 2, commentCount: 1 });
  });

  it.each(brokenCases)('reports $name', async ({ file, field, write }) => {
    const dir = await contentWith(write);
    const result = await checkContent(dir);
    const found = result.problems.map((problem) => `${problem.path} ${problem.field}`);
    expect(found).toContain(`${path.join(dir, file)} ${field}`);
  });

  it('reports a missing posts folder', async () => {
    const dir = await makeTempDir('check-empty');
    tempDirs.push(dir);
    const result = await checkContent(dir);
    expect(result.problems.map((problem) => problem.field)).toEqual(['(folder)']);
  });

  it('prints each problem as path, field and reason', async () => {
    const dir = await contentWith((target) =>
      writeRaw(target, 'posts/untitled.md', '---\nid: p3\ndate: 2026-10-03\n---\nx\n'),
    );
    const errors: string[] = [];
    const code = await runContentCheck(dir, { log: () => {}, error: (line) => errors.push(line) });
    expect(code).toBe(1);
    expect(errors[0]).toMatch(new RegExp(`^${path.join(dir, 'posts/untitled.md')}: title \\S`));
  });
});

describe('content:check command', () => {
  it('exits 0 with a summary on valid content', async () => {
    const dir = await contentWith(async () => {});
    const { stdout } = await run(process.execPath, ['api/content/check.ts', dir], {
      cwd: repoRoot,
    });
    expect(stdout).toContain('content check passed: 2 posts, 1 comment');
  });

  it('exits 1 and names the file on a problem', async () => {
    const dir = await contentWith((target) => writeRaw(target, 'comments/p1/notes.txt', 'notes\n'));
    const failure = await run(process.execPath, ['api/content/check.ts', dir], {
      cwd: repoRoot,
    }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 1 });
    expect(failure).toMatchObject({ stderr: expect.stringContaining('comments/p1/notes.txt') });
  });
});
