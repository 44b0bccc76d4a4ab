// The renderer's own limits that the hostile corpus relies on: deep nesting shown as plain text
// instead of overflowing the stack, and footnote ids made unique per comment.
import { describe, expect, it } from 'vitest';
import {
  MAX_LINE_NESTING,
  exceedsLineNesting,
  renderCommentMarkdown,
} from '../../api/content/render.ts';
import { LIMITS } from '../../api/content/schema.ts';
import { fillTo } from './hostile-case.ts';

describe('renderCommentMarkdown with deep nesting', () => {
  const deep: Array<[name: string, unit: string]> = [
    ['block quotes', '> '],
    ['tight block quotes', '>'],
    ['bullet lists', '- '],
    ['ordered lists', '1. '],
    ['parenthesis lists', '1) '],
    ['quotes in lists', '- > '],
    ['tab-separated lists', '*\t'],
  ];

  it.each(deep)('renders %s at the text limit as plain text', (_name, unit) => {
    const markdown = fillTo(unit, LIMITS.text);
    expect(renderCommentMarkdown(markdown)).toMatch(/^<p>[^<]*<\/p>$/);
  });

  it.each(deep)('renders %s at the text limit within a second', (_name, unit) => {
    const started = performance.now();
    renderCommentMarkdown(fillTo(unit, LIMITS.text));
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('keeps markdown for nesting at the limit', () => {
    const html = renderCommentMarkdown(`${'> '.repeat(MAX_LINE_NESTING)}deep`);
    expect(html.match(/<blockquote>/g)).toHaveLength(MAX_LINE_NESTING);
  });

  it('counts markers one past the limit as too deep', () => {
    expect(exceedsLineNesting(`${'> '.repeat(MAX_LINE_NESTING + 1)}deep`)).toBe(true);
  });

  it('counts markers on each line apart', () => {
    const lines = Array.from({ length: 3 }, () => `${'> '.repeat(MAX_LINE_NESTING)}x`);
    expect(exceedsLineNesting(lines.join('\r\n'))).toBe(false);
  });

  it('ignores markers after the start of a line', () => {
    expect(exceedsLineNesting(`text ${'> '.repeat(MAX_LINE_NESTING * 2)}`)).toBe(false);
  });

  it('does not count emphasis as a list marker', () => {
    expect(exceedsLineNesting('*'.repeat(MAX_LINE_NESTING * 2))).toBe(false);
  });

  it('escapes markup in the plain-text fallback', () => {
    const html = renderCommentMarkdown(`${'> '.repeat(40)}<script>alert(1)</script>`);
    expect(html).not.toContain('<script');
  });

  it('keeps paragraphs in the plain-text fallback', () => {
    const html = renderCommentMarkdown(`first\n\n${'>'.repeat(40)} second`);
    expect(html).toBe(`<p>first</p><p>${'>'.repeat(40)} second</p>`);
  });
});

describe('renderCommentMarkdown footnote ids', () => {
  const markdown = 'A claim.[^1]\n\n[^1]: The source.';

  function ids(html: string): string[] {
    return Array.from(html.matchAll(/ id="([^"]+)"/g), (match) => match[1] ?? '');
  }

  function fragments(html: string): string[] {
    return Array.from(html.matchAll(/ href="#([^"]+)"/g), (match) => match[1] ?? '');
  }

  it('gives two comments different ids', () => {
    const first = ids(renderCommentMarkdown(markdown, { idPrefix: 'c-1' }));
    const second = ids(renderCommentMarkdown(markdown, { idPrefix: 'c-2' }));
    expect(first.filter((id) => second.includes(id))).toEqual([]);
  });

  it('links each footnote to an id in the same comment', () => {
    const html = renderCommentMarkdown(markdown, { idPrefix: 'c-1' });
    expect(fragments(html).filter((target) => !ids(html).includes(target))).toEqual([]);
  });

  it('keeps the ids within the sanitized namespace', () => {
    const html = renderCommentMarkdown(markdown, { idPrefix: 'c-1' });
    expect(ids(html).every((id) => id.startsWith('user-content-c-1-'))).toBe(true);
  });

  it.each(['', 'C-1', 'a"b', 'x y', '../x'])('rejects the id prefix %j', (idPrefix) => {
    expect(() => renderCommentMarkdown(markdown, { idPrefix })).toThrow(/idPrefix/);
  });
});
