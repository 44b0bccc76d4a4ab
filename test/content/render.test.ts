import { describe, expect, it } from 'vitest';
import { renderCommentMarkdown } from '../../api/content/render.ts';

interface Tag {
  name: string;
  attributes: Map<string, string>;
}

/**
 * Lists the start tags of HTML written by rehype-stringify. It escapes every `<` in text and every
 * `"` in attribute values, so a `<` here always opens a real tag and attribute values end at `"`.
 */
function listTags(html: string): Tag[] {
  const tags: Tag[] = [];
  for (const match of html.matchAll(
    /<([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*\/?>/g,
  )) {
    const attributes = new Map<string, string>();
    for (const attribute of (match[2] ?? '').matchAll(/\s+([^\s=>]+)(?:="([^"]*)")?/g)) {
      attributes.set((attribute[1] ?? '').toLowerCase(), attribute[2] ?? '');
    }
    tags.push({ name: (match[1] ?? '').toLowerCase(), attributes });
  }
  return tags;
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, decimal: string) => String.fromCodePoint(parseInt(decimal, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function visibleText(html: string): string {
  return decodeEntities(html.replace(/<[^>]*>/g, ''));
}

const ALLOWED_TAGS = new Set([
  'a',
  'blockquote',
  'br',
  'code',
  'del',
  'em',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'input',
  'li',
  'ol',
  'p',
  'pre',
  'section',
  'strong',
  'sup',
  'table',
  'tbody',
  'td',
  'th',
  'thead',
  'tr',
  'ul',
]);

const hostileInputs: Array<{ name: string; markdown: string; visible?: string }> = [
  { name: 'script element', markdown: '<script>alert(1)</script>', visible: '<script>' },
  { name: 'inline script', markdown: 'hi <script>alert(1)</script> there', visible: '<script>' },
  { name: 'event handler on img', markdown: '<img src=x onerror="alert(1)">', visible: 'onerror' },
  { name: 'event handler on div', markdown: '<div onmouseover="alert(1)">x</div>' },
  { name: 'iframe', markdown: '<iframe src="https://example.com"></iframe>', visible: '<iframe' },
  { name: 'svg with onload', markdown: '<svg onload=alert(1)><circle r=5 /></svg>' },
  { name: 'style element', markdown: '<style>body{display:none}</style>', visible: '<style>' },
  { name: 'form element', markdown: '<form action="https://x.test"><input name=a></form>' },
  { name: 'javascript link', markdown: '[click](javascript:alert(1))' },
  { name: 'uppercase javascript link', markdown: '[click](JaVaScRiPt:alert(1))' },
  { name: 'entity-encoded javascript', markdown: '[click](jav&#x61;script&#x3a;alert(1))' },
  { name: 'decimal entity javascript', markdown: '[click](&#106;avascript:alert(1))' },
  { name: 'javascript with tab', markdown: '[click](jav&#x09;ascript:alert(1))' },
  { name: 'javascript autolink', markdown: '<javascript:alert(1)>' },
  { name: 'javascript reference link', markdown: '[click][x]\n\n[x]: javascript:alert(1)' },
  { name: 'data URL link', markdown: '[click](data:text/html;base64,PHNjcmlwdD4=)' },
  { name: 'vbscript link', markdown: '[click](vbscript:msgbox(1))' },
  { name: 'file URL link', markdown: '[click](file:///etc/passwd)' },
  { name: 'javascript image', markdown: '![x](javascript:alert(1))' },
  { name: 'data URL image', markdown: '![x](data:image/svg+xml,<svg onload=alert(1)>)' },
  { name: 'quote breaking title', markdown: '[a](https://x.test "t\\" onclick=\\"alert(1)")' },
  { name: 'raw anchor tag', markdown: '<a href="javascript:alert(1)">x</a>', visible: '<a href' },
  { name: 'html comment', markdown: '<!-- <script>alert(1)</script> -->', visible: '<!--' },
  { name: 'object embed', markdown: '<object data="x.swf"></object><embed src="x.swf">' },
  { name: 'meta refresh', markdown: '<meta http-equiv="refresh" content="0;url=https://x.test">' },
  { name: 'base tag', markdown: '<base href="https://x.test/">' },
];

describe('renderCommentMarkdown with hostile input', () => {
  it.each(hostileInputs)('keeps only allowed tags: $name', ({ markdown }) => {
    const names = listTags(renderCommentMarkdown(markdown)).map((tag) => tag.name);
    expect(names.filter((name) => !ALLOWED_TAGS.has(name))).toEqual([]);
  });

  it.each(hostileInputs)('writes no event handler attribute: $name', ({ markdown }) => {
    const attributes = listTags(renderCommentMarkdown(markdown)).flatMap((tag) => [
      ...tag.attributes.keys(),
    ]);
    expect(attributes.filter((name) => name.startsWith('on'))).toEqual([]);
  });

  it.each(hostileInputs)('writes no style or src attribute: $name', ({ markdown }) => {
    const attributes = listTags(renderCommentMarkdown(markdown)).flatMap((tag) => [
      ...tag.attributes.keys(),
    ]);
    expect(attributes.filter((name) => name === 'style' || name === 'src')).toEqual([]);
  });

  it.each(hostileInputs)('links only to http, https or mailto: $name', ({ markdown }) => {
    const hrefs = listTags(renderCommentMarkdown(markdown))
      .map((tag) => tag.attributes.get('href'))
      .filter((href) => href !== undefined)
      .map(decodeEntities);
    for (const href of hrefs) expect(href).toMatch(/^(https?:|mailto:|#|\/[^/])/i);
  });

  it.each(hostileInputs.filter((input) => input.visible !== undefined))(
    'shows raw HTML as text: $name',
    ({ markdown, visible }) => {
      expect(visibleText(renderCommentMarkdown(markdown))).toContain(visible);
    },
  );
});

describe('renderCommentMarkdown with ordinary markdown', () => {
  it('renders emphasis and strong', () => {
    expect(renderCommentMarkdown('*a* and **b**')).toBe('<p><em>a</em> and <strong>b</strong></p>');
  });

  it('renders a fenced code block with its language', () => {
    const html = renderCommentMarkdown('```ts\nconst a = "<b>";\n```');
    expect(html).toBe('<pre><code class="language-ts">const a = "&#x3C;b>";\n</code></pre>');
  });

  it('keeps code text byte for byte', () => {
    const code = 'if (a < b && c > "d") { return \'e\'; }';
    const html = renderCommentMarkdown('```\n' + code + '\n```');
    expect(visibleText(html)).toBe(code + '\n');
  });

  it('renders lists', () => {
    expect(renderCommentMarkdown('- one\n- two')).toBe('<ul>\n<li>one</li>\n<li>two</li>\n</ul>');
  });

  it('renders an ordered list that starts later', () => {
    expect(renderCommentMarkdown('3. three\n4. four')).toContain('<ol start="3">');
  });

  it('renders a blockquote', () => {
    expect(renderCommentMarkdown('> quoted')).toBe('<blockquote>\n<p>quoted</p>\n</blockquote>');
  });

  it('renders a GFM table', () => {
    const html = renderCommentMarkdown('| a | b |\n| --- | :-: |\n| 1 | 2 |');
    expect(html).toContain('<td align="center">2</td>');
  });

  it('renders strikethrough', () => {
    expect(renderCommentMarkdown('~~gone~~')).toBe('<p><del>gone</del></p>');
  });

  it('renders a task list with disabled checkboxes', () => {
    const html = renderCommentMarkdown('- [x] done');
    expect(html).toContain('<input type="checkbox" checked disabled>');
  });

  it('renders an https link with rel nofollow ugc noopener', () => {
    expect(renderCommentMarkdown('[site](https://example.com/a?b=1)')).toBe(
      '<p><a href="https://example.com/a?b=1" rel="nofollow ugc noopener">site</a></p>',
    );
  });

  it('adds rel to autolinked addresses', () => {
    const tags = listTags(renderCommentMarkdown('see www.example.com'));
    expect(tags[1]?.attributes.get('rel')).toBe('nofollow ugc noopener');
  });

  it('renders a mailto link', () => {
    const tags = listTags(renderCommentMarkdown('[mail](mailto:someone@example.com)'));
    expect(tags[1]?.attributes.get('href')).toBe('mailto:someone@example.com');
  });

  it('keeps a link title', () => {
    const tags = listTags(renderCommentMarkdown('[a](https://x.test "A title")'));
    expect(tags[1]?.attributes.get('title')).toBe('A title');
  });

  it('removes the href of a javascript link but keeps its text', () => {
    expect(renderCommentMarkdown('[click](javascript:alert(1))')).toBe('<p><a>click</a></p>');
  });

  it('renders an image as a link labelled with its alt text', () => {
    expect(renderCommentMarkdown('![a cat](https://img.example/cat.png)')).toBe(
      '<p><a href="https://img.example/cat.png" rel="nofollow ugc noopener">a cat</a></p>',
    );
  });

  it('labels an image without alt text with its address', () => {
    const html = renderCommentMarkdown('![](https://img.example/cat.png)');
    expect(visibleText(html)).toBe('https://img.example/cat.png');
  });

  it('renders a reference image as a link', () => {
    const html = renderCommentMarkdown('![cat][c]\n\n[c]: https://img.example/c.png');
    expect(listTags(html).map((tag) => tag.name)).toEqual(['p', 'a']);
  });

  it('shows inline HTML as literal text', () => {
    expect(renderCommentMarkdown('a <b>bold</b> move')).toBe('<p>a &#x3C;b>bold&#x3C;/b> move</p>');
  });

  it('shows block HTML as a paragraph of text', () => {
    expect(renderCommentMarkdown('<div>\nhello\n</div>')).toBe(
      '<p>&#x3C;div>\nhello\n&#x3C;/div></p>',
    );
  });

  it('links footnote references to their footnotes', () => {
    const html = renderCommentMarkdown('claim[^1]\n\n[^1]: source');
    const ids = listTags(html).map((tag) => tag.attributes.get('id'));
    const hrefs = listTags(html).map((tag) => tag.attributes.get('href'));
    expect(ids).toContain('user-content-fn-1');
    expect(hrefs).toContain('#user-content-fn-1');
  });

  it('keeps non-Latin and right-to-left text', () => {
    const text = 'שלום עולם 你好 🙂';
    expect(visibleText(renderCommentMarkdown(text))).toBe(text);
  });

  it('treats CRLF line endings like LF', () => {
    expect(renderCommentMarkdown('one\r\n\r\ntwo')).toBe(renderCommentMarkdown('one\n\ntwo'));
  });
});
