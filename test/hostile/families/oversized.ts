// Every length limit, exactly at the limit and one over it, counted as the schema counts them:
// UTF-16 code units after NFC.
import { IDEMPOTENCY_KEY_LIMIT } from '../../../api/routes/submission.ts';
import { LIMITS } from '../../../api/content/schema.ts';
import { MAX_BODY_BYTES } from '../../../api/routes/comments.ts';
import { fillTo, invalid, rejected, type Expected, type HostileCase } from '../hostile-case.ts';

const ID_LIMIT = 64;
const RETURN_TO_LIMIT = 2000;
const URL_PREFIX = 'https://example.org/';
const RETURN_PREFIX = 'http://127.0.0.1:4321/posts/hello-world/?';

/** A URL of exactly `length` characters. */
const urlOf = (prefix: string, length: number) => prefix + fillTo('a', length - prefix.length);
/** `count` e-acute letters sent decomposed (e + U+0301): twice as long until NFC joins them. */
const decomposed = (count: number) => 'e\u0301'.repeat(count);
const emoji = (count: number) => '😀'.repeat(count);

const ROWS: Array<[name: string, fields: Record<string, unknown>, expected: Expected]> = [
  ['author-at-limit', { author: fillTo('a', LIMITS.author) }, 'stored-inert'],
  ['author-over-limit', { author: fillTo('a', LIMITS.author + 1) }, invalid('author')],
  ['author-emoji-at-limit', { author: emoji(LIMITS.author / 2) }, 'stored-inert'],
  ['author-emoji-over-limit', { author: emoji(LIMITS.author / 2 + 1) }, invalid('author')],
  ['author-decomposed-at-limit', { author: decomposed(LIMITS.author) }, 'stored-inert'],
  ['author-decomposed-over-limit', { author: decomposed(LIMITS.author + 1) }, invalid('author')],
  ['author-padded-at-limit', { author: `  ${fillTo('b', LIMITS.author)}  ` }, 'stored-inert'],
  ['text-at-limit', { text: fillTo('Lorem ipsum ', LIMITS.text) }, 'stored-inert'],
  ['text-over-limit', { text: fillTo('Lorem ipsum ', LIMITS.text + 1) }, invalid('text')],
  ['text-emoji-at-limit', { text: emoji(LIMITS.text / 2) }, 'stored-inert'],
  ['text-emoji-over-limit', { text: `${emoji(LIMITS.text / 2)}!` }, invalid('text')],
  ['text-decomposed-at-limit', { text: decomposed(LIMITS.text) }, 'stored-inert'],
  ['text-decomposed-over-limit', { text: decomposed(LIMITS.text + 1) }, invalid('text')],
  ['text-crlf-at-limit', { text: fillTo('line\r\n', LIMITS.text) }, 'stored-inert'],
  ['text-trailing-space-over-limit', { text: `${fillTo('x', LIMITS.text)} ` }, invalid('text')],
  ['author-url-at-limit', { authorUrl: urlOf(URL_PREFIX, LIMITS.authorUrl) }, 'stored-inert'],
  [
    'author-url-over-limit',
    { authorUrl: urlOf(URL_PREFIX, LIMITS.authorUrl + 1) },
    invalid('authorUrl'),
  ],
  ['post-id-at-limit', { post: fillTo('p', ID_LIMIT) }, rejected(404, 'post')],
  ['post-id-over-limit', { post: fillTo('p', ID_LIMIT + 1) }, invalid('post')],
  ['parent-id-at-limit', { parent: fillTo('c', ID_LIMIT) }, invalid('parent')],
  ['parent-id-over-limit', { parent: fillTo('c', ID_LIMIT + 1) }, invalid('parent')],
  [
    'idempotency-key-at-limit',
    { idempotencyKey: fillTo('k', IDEMPOTENCY_KEY_LIMIT) },
    'stored-inert',
  ],
  [
    'idempotency-key-over-limit',
    { idempotencyKey: fillTo('k', IDEMPOTENCY_KEY_LIMIT + 1) },
    invalid('idempotencyKey'),
  ],
  ['return-to-at-limit', { returnTo: urlOf(RETURN_PREFIX, RETURN_TO_LIMIT) }, 'stored-inert'],
  [
    'return-to-over-limit',
    { returnTo: urlOf(RETURN_PREFIX, RETURN_TO_LIMIT + 1) },
    invalid('returnTo'),
  ],
  ['body-over-byte-limit', { text: fillTo('z', MAX_BODY_BYTES) }, rejected(413, null)],
];

export function oversizedCases(): HostileCase[] {
  return ROWS.map(([name, fields, expected]) => ({
    id: `oversized/${name}`,
    kind: 'oversized',
    fields,
    expected,
  }));
}
