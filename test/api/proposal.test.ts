// The pull request GitHub receives for a comment at the input limits: the title names the post
// and the author, and the description stays under GitHub's 65,536-character limit for any text.

import { describe, expect, test } from 'vitest';
import {
  BODY_LIMIT,
  PREVIEW_LIMIT,
  TITLE_LIMIT,
  buildProposal,
} from '../../api/delivery/proposal.ts';
import { LIMITS } from '../../api/content/schema.ts';
import type { StoredComment } from '../../api/outbox/types.ts';

const LONGEST: StoredComment = {
  id: '01hxxxxxxxxxxxxxxxxxxxxxxx',
  post: 'hello-world',
  parent: '01hyyyyyyyyyyyyyyyyyyyyyyy',
  author: '"&<`😀'.repeat(LIMITS.author).slice(0, LIMITS.author),
  authorUrl: `https://example.org/${'%22&<'.repeat(LIMITS.authorUrl)}`.slice(0, LIMITS.authorUrl),
  visibility: 'internal',
  source: 'public',
  body: 'x',
  date: '2026-03-01T12:00:00.000Z',
  fingerprint: 'f',
  idempotencyKey: null,
  canary: false,
  status: 'received',
  attempts: 0,
  nextAttemptAt: null,
  lastError: null,
  pullRequest: null,
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

const POST_TITLE = '“Ünïcödé” & <tags> 😀 '.repeat(20).slice(0, LIMITS.title);

/**
 * Repeats `unit` to the longest text accepted: LIMITS.text UTF-16 code units, as the schema counts
 * them, without splitting a surrogate pair.
 */
function atLimit(unit: string): string {
  let text = '';
  for (const point of unit.repeat(Math.ceil(LIMITS.text / unit.length))) {
    if (text.length + point.length > LIMITS.text) break;
    text += point;
  }
  return text;
}

describe('proposal at the limits', () => {
  test.each([
    ['astral emoji', '😀'],
    ['family emoji', '👩‍👩‍👧‍👦 '],
    ['HTML escapes', '&"<>\''],
    ['mixed scripts', 'Ωמ字😀&<'],
    ['combining marks', 'e\u0301\u0308'],
    ['nested lists', '- - - - - - - - - - - - a\n'],
    ['quoted lists', '> - > - > - a\n'],
    ['task lists', '- [ ] - [x] a\n'],
    ['tables', '|a|&|<|\n|-|-|-|\n'],
    ['autolinks', 'www.a.b http://c.d '],
    ['headings', '# &\n'],
    ['backticks', '`'],
    ['line breaks', 'a\r\n'],
  ])('keeps %s under GitHub limit', (_name, unit) => {
    const body = atLimit(unit);

    const proposal = buildProposal({ ...LONGEST, body }, POST_TITLE);

    expect(body.length).toBeGreaterThan(LIMITS.text - 2);
    expect(proposal.body.length).toBeLessThanOrEqual(BODY_LIMIT);
    expect(Array.from(proposal.title).length).toBeLessThanOrEqual(TITLE_LIMIT);
    // The text section always shows the first PREVIEW_LIMIT characters.
    const preview = Array.from(body).slice(0, PREVIEW_LIMIT).join('');
    expect(proposal.body).toContain(preview);
    expect(proposal.body).toContain(
      `first 4,000 of ${Array.from(body).length.toLocaleString('en')} characters`,
    );
  });

  test('shortens the rendered preview of nested lists', () => {
    const proposal = buildProposal(
      { ...LONGEST, body: atLimit('- - - - - - - - - - - - - - - - - - - - a\n') },
      POST_TITLE,
    );

    expect(proposal.body.length).toBeLessThanOrEqual(BODY_LIMIT);
    expect(proposal.body).toMatch(/Rendered here: the first [\d,]+ characters\.|left out/);
  });

  test('keeps the full rendered preview when it fits', () => {
    const proposal = buildProposal({ ...LONGEST, body: atLimit('plain words ') }, POST_TITLE);

    expect(proposal.body).not.toContain('Rendered here');
    expect(proposal.body).not.toContain('left out');
  });

  test('names the post and the author in the title', () => {
    const proposal = buildProposal(
      { ...LONGEST, author: 'Ada Reader', body: 'Hi' },
      'Hello, world',
    );

    expect(proposal.title).toBe('Comment by Ada Reader on “Hello, world”');
  });

  test('lists metadata and labels in the description', () => {
    const proposal = buildProposal({ ...LONGEST, author: 'Ada', body: 'Hi' }, 'Hello');

    expect(proposal.body).toContain('- Post: `hello-world` (`Hello`)');
    expect(proposal.body).toContain('- Reply to: `01hyyyyyyyyyyyyyyyyyyyyyyy`');
    expect(proposal.body).toContain('- Receipt: `01hxxxxxxxxxxxxxxxxxxxxxxx`');
    expect(proposal.body).toContain('- Visibility: internal');
    expect(proposal.body).toContain('- Labels: `comment`, `internal`');
    expect(proposal.labels).toEqual(['comment', 'internal']);
  });
});
