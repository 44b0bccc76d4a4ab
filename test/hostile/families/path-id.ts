// Post and reply ids that try to leave the comments folder, match a post by prefix, case or
// look-alike letters, or name a comment on another post. Also fields that try to set the id.
import { EXISTING_COMMENT } from '../../api/harness.ts';
import { invalid, rejected, type Expected, type HostileCase } from '../hostile-case.ts';

/** A second open public post the API test adds, with one comment already merged on it. */
export const OTHER_POST = 'other-post';
export const COMMENT_ON_OTHER_POST = '01hyyyyyyyyyyyyyyyyyyyyyyy';

const NOT_FOUND = rejected(404, 'post');

const POSTS: Array<[name: string, post: string, expected: Expected]> = [
  ['parent-folder', '../hello-world', invalid('post')],
  ['deep-traversal', '../../../etc/passwd', invalid('post')],
  ['traversal-inside', 'hello-world/../staff-notes', invalid('post')],
  ['encoded-dots', '%2e%2e%2fhello-world', invalid('post')],
  ['encoded-slash', '..%2fhello-world', invalid('post')],
  ['double-encoded', '%252e%252e%252f', invalid('post')],
  ['dot', '.', invalid('post')],
  ['dot-dot', '..', invalid('post')],
  ['slash', '/', invalid('post')],
  ['leading-slash', '/hello-world', invalid('post')],
  ['trailing-slash', 'hello-world/', invalid('post')],
  ['backslash', '..\\hello-world', invalid('post')],
  ['windows-drive', 'c:\\windows', invalid('post')],
  ['file-extension', 'hello-world.md', invalid('post')],
  ['query', 'hello-world?x=1', invalid('post')],
  ['fragment', 'hello-world#x', invalid('post')],
  ['nul-suffix', 'hello-world\u0000', invalid('post')],
  ['encoded-nul', 'hello-world%00', invalid('post')],
  ['capitalized', 'Hello-World', invalid('post')],
  ['uppercase', 'HELLO-WORLD', invalid('post')],
  ['underscore', 'hello_world', invalid('post')],
  ['trailing-hyphen', 'hello-world-', invalid('post')],
  ['cyrillic-e', 'h\u0435llo-world', invalid('post')],
  ['unicode-hyphen', 'hello\u2010world', invalid('post')],
  ['fullwidth-letters', '\uff48\uff45\uff4c\uff4c\uff4f-world', invalid('post')],
  ['zero-width-suffix', 'hello-world\u200b', invalid('post')],
  ['proto', '__proto__', invalid('post')],
  ['prefix', 'hello-worl', NOT_FOUND],
  ['shorter-prefix', 'hello', NOT_FOUND],
  ['longer', 'hello-world-2', NOT_FOUND],
  ['object-key', 'constructor', NOT_FOUND],
  ['reserved-device-name', 'con', NOT_FOUND],
  ['internal-post-from-public', 'staff-notes', NOT_FOUND],
  ['closed-post', 'closed-post', rejected(409, 'post')],
];

/** Surrounding white space is trimmed from ids like other one-line fields. */
const TRIMMED_POSTS: Array<[name: string, post: string]> = [
  ['leading-space', ' hello-world'],
  ['trailing-newline', 'hello-world\n'],
  ['trailing-no-break-space', 'hello-world\u00a0'],
];

const PARENTS: Array<[name: string, parent: string]> = [
  ['parent-prefix', EXISTING_COMMENT.slice(0, -1)],
  ['parent-uppercase', EXISTING_COMMENT.toUpperCase()],
  ['parent-longer', `${EXISTING_COMMENT}0`],
  ['parent-traversal', `../${EXISTING_COMMENT}`],
  ['parent-traversal-after', `${EXISTING_COMMENT}/../x`],
  ['parent-encoded-dots', '%2e%2e'],
  ['parent-unknown', '01hzzzzzzzzzzzzzzzzzzzzzzy'],
  ['parent-cyrillic', EXISTING_COMMENT.replace('h', '\u04bb')],
  ['parent-is-post-id', 'hello-world'],
  ['parent-on-other-post', COMMENT_ON_OTHER_POST],
  ['parent-with-extension', `${EXISTING_COMMENT}.md`],
];

/** Fields the server sets itself; sending them must change nothing. */
const SERVER_FIELDS: Array<[name: string, fields: Record<string, unknown>]> = [
  ['id-traversal', { id: '../../../escape' }],
  ['id-existing', { id: EXISTING_COMMENT }],
  ['date', { date: '1970-01-01T00:00:00Z' }],
  ['source', { source: 'import' }],
  ['status', { status: 'published' }],
  ['path', { path: '../../content/posts/hello-world.md' }],
  ['proto', { ['__proto__']: { author: 'Polluted', polluted: true } }],
  ['constructor', { constructor: { prototype: { polluted: true } } }],
];

export function pathIdCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const [name, post, expected] of POSTS) {
    cases.push({ id: `path-id/post-${name}`, kind: 'path-id', fields: { post }, expected });
  }
  for (const [name, post] of TRIMMED_POSTS) {
    cases.push({
      id: `path-id/post-${name}`,
      kind: 'path-id',
      fields: { post },
      expected: 'stored-inert',
    });
  }
  for (const [name, parent] of PARENTS) {
    cases.push({
      id: `path-id/${name}`,
      kind: 'path-id',
      fields: { parent },
      expected: invalid('parent'),
    });
  }
  cases.push({
    id: 'path-id/parent-existing',
    kind: 'path-id',
    fields: { parent: EXISTING_COMMENT },
    expected: 'stored-inert',
  });
  for (const [name, fields] of SERVER_FIELDS) {
    cases.push({
      id: `path-id/server-field-${name}`,
      kind: 'path-id',
      fields,
      expected: 'stored-inert',
    });
  }
  return cases;
}
