// Renders a reader's comment markdown to HTML that is safe to put in a page as it is. The sites
// use it at build time and the API uses it for the staff preview, so staff approve exactly the
// HTML that will be published.
//
// Choices that differ from plain markdown:
// - Raw HTML in the markdown is shown as literal text, so `<b>hi</b>` reads as typed and a
//   pasted `<script>` is visible, inert text rather than silently gone.
// - Images become links to the image (the alt text, or the address, is the link text). The page
//   never loads anything from a host that a commenter chose.
// - Links keep only http, https and mailto addresses (and addresses relative to the page); any
//   other scheme loses its href. Every link gets rel="nofollow ugc noopener".
// - A comment whose lines open more than MAX_LINE_NESTING block quotes or list items is shown as
//   plain text. The markdown parser and mdast-util-to-hast recurse once per nesting level, so a
//   20,000-character comment of `> > > …` would otherwise spend seconds and then overflow the
//   stack, failing the whole site build.
import type { Element, Root as HastRoot, RootContent as HastContent } from 'hast';
import type { Link, LinkReference, Parents, Root as MdastRoot, RootContent } from 'mdast';
import rehypeSanitize from 'rehype-sanitize';
import rehypeStringify from 'rehype-stringify';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';
import type { Options as SanitizeSchema } from 'rehype-sanitize';

export const COMMENT_LINK_REL = ['nofollow', 'ugc', 'noopener'];

const PHRASING_PARENTS = new Set([
  'paragraph',
  'heading',
  'emphasis',
  'strong',
  'delete',
  'link',
  'linkReference',
  'tableCell',
]);

/** Replaces a raw HTML node with its source as text, and an image with a link to it. */
function replaceNode(node: RootContent, parent: Parents): RootContent {
  if (node.type === 'html') {
    const text = { type: 'text', value: node.value } as const;
    return PHRASING_PARENTS.has(parent.type) ? text : { type: 'paragraph', children: [text] };
  }
  if (node.type === 'image') {
    const label = node.alt || node.url;
    const link: Link = { type: 'link', url: node.url, children: [{ type: 'text', value: label }] };
    if (node.title) link.title = node.title;
    return link;
  }
  if (node.type === 'imageReference') {
    const label = node.alt || node.label || node.identifier;
    const reference: LinkReference = {
      type: 'linkReference',
      identifier: node.identifier,
      label: node.label,
      referenceType: node.referenceType,
      children: [{ type: 'text', value: label }],
    };
    return reference;
  }
  return node;
}

function rewriteChildren(parent: Parents): void {
  const children: RootContent[] = parent.children;
  for (let index = 0; index < children.length; index++) {
    const child = children[index];
    if (child === undefined) continue;
    const replaced = replaceNode(child, parent);
    children[index] = replaced;
    if ('children' in replaced) rewriteChildren(replaced);
  }
}

/** Remark plugin: raw HTML becomes text and images become links (see the file header). */
function remarkInertHtmlAndImages() {
  return (tree: MdastRoot) => rewriteChildren(tree);
}

function addLinkRel(node: HastRoot | HastContent): void {
  if (node.type === 'element' && node.tagName === 'a' && node.properties.href !== undefined) {
    node.properties.rel = [...COMMENT_LINK_REL];
  }
  if ('children' in node) for (const child of node.children) addLinkRel(child);
}

/** Rehype plugin: every remaining link gets rel="nofollow ugc noopener". */
function rehypeCommentLinkRel() {
  return (tree: HastRoot) => addLinkRel(tree);
}

// Only footnotes produce ids, and remark-rehype already starts each with `user-content-`, so ids
// can never clash with the page's own (comment-form, comment-status). Sanitizing must not prefix
// them a second time, or the footnote links would stop matching their targets.
const footnoteId: [string, RegExp] = ['id', /^user-content-/];

/**
 * Elements and attributes that markdown (with GitHub's extensions) produces, and nothing else:
 * no style, no event handlers, no forms except task-list checkboxes, no embedded media.
 */
export const COMMENT_SANITIZE_SCHEMA: SanitizeSchema = {
  tagNames: [
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
  ],
  attributes: {
    a: [
      'href',
      'title',
      footnoteId,
      'dataFootnoteRef',
      'dataFootnoteBackref',
      ['className', 'data-footnote-backref'],
      'ariaLabel',
    ],
    code: [['className', /^language-[\w+#.-]+$/]],
    h2: [footnoteId, ['className', 'sr-only']],
    input: [['type', 'checkbox'], ['disabled', true], 'checked'],
    li: [footnoteId, ['className', 'task-list-item']],
    ol: ['start', ['className', 'contains-task-list']],
    section: ['dataFootnotes', ['className', 'footnotes']],
    td: ['align'],
    th: ['align'],
    ul: [['className', 'contains-task-list']],
  },
  required: { input: { type: 'checkbox', disabled: true } },
  protocols: { href: ['http', 'https', 'mailto'] },
  ancestors: {
    tbody: ['table'],
    td: ['table'],
    th: ['table'],
    thead: ['table'],
    tr: ['table'],
  },
  clobber: [],
  strip: ['script'],
};

/**
 * Block quotes and list items that one line may open before the comment is shown as plain text.
 * Ordinary quoted replies stay far below it. Rendering overflows Node 24's default stack at
 * about 2,000 levels of lists and quotes (measured).
 */
export const MAX_LINE_NESTING = 32;

/**
 * True when a line starts with more than MAX_LINE_NESTING container markers (`>`, `-`, `+`, `*`,
 * `1.` or `1)`, each list marker followed by white space or the line end). Lists nested by
 * indentation are not counted: each level costs at least two more spaces on its line, so within
 * the text limit they reach about 800 levels together with the markers, which render in under a
 * second (measured).
 */
export function exceedsLineNesting(markdown: string): boolean {
  // A sticky expression is created per call because its lastIndex is state.
  const marker = /[ \t]*(?:>|(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$))/y;
  for (const line of markdown.split(/\r\n?|\n/)) {
    marker.lastIndex = 0;
    let count = 0;
    while (marker.exec(line) !== null) {
      count += 1;
      if (count > MAX_LINE_NESTING) return true;
    }
  }
  return false;
}

const stringifier = unified().use(rehypeStringify).freeze();

/** Renders text as paragraphs of plain text, one per run of lines between blank lines. */
function renderPlainText(text: string): string {
  const paragraphs = text
    .split(/(?:\r\n?|\n)[ \t]*(?:\r\n?|\n)/)
    .filter((paragraph) => paragraph.trim() !== '');
  const tree: HastRoot = {
    type: 'root',
    children: paragraphs.map(
      (paragraph): Element => ({
        type: 'element',
        tagName: 'p',
        properties: {},
        children: [{ type: 'text', value: paragraph }],
      }),
    ),
  };
  return stringifier.stringify(tree);
}

const processor = unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(remarkInertHtmlAndImages)
  .use(remarkRehype)
  .use(rehypeSanitize, COMMENT_SANITIZE_SCHEMA)
  .use(rehypeCommentLinkRel)
  .use(rehypeStringify)
  .freeze();

const FOOTNOTE_ID_START = 'user-content-';
const ID_PREFIX_PATTERN = /^[a-z0-9-]{1,80}$/;

/** Inserts `prefix-` after `user-content-` in every footnote id and in the links to them. */
function prefixFootnoteIds(node: HastRoot | HastContent, prefix: string): void {
  if (node.type === 'element') {
    const { id, href } = node.properties;
    if (typeof id === 'string' && id.startsWith(FOOTNOTE_ID_START)) {
      node.properties.id = `${FOOTNOTE_ID_START}${prefix}-${id.slice(FOOTNOTE_ID_START.length)}`;
    }
    if (typeof href === 'string' && href.startsWith(`#${FOOTNOTE_ID_START}`)) {
      node.properties.href = `#${FOOTNOTE_ID_START}${prefix}-${href.slice(FOOTNOTE_ID_START.length + 1)}`;
    }
  }
  if ('children' in node) for (const child of node.children) prefixFootnoteIds(child, prefix);
}

export interface RenderOptions {
  /**
   * Text that makes this comment's footnote ids unique on a page with other comments, such as
   * the comment id: lowercase letters, digits and hyphens. Without it, two comments that both
   * use `[^1]` on one page share the id user-content-fn-1.
   */
  idPrefix?: string;
}

/** Renders comment markdown to sanitized HTML (see the file header for what is changed). */
export function renderCommentMarkdown(markdown: string, options: RenderOptions = {}): string {
  if (exceedsLineNesting(markdown)) return renderPlainText(markdown);
  const tree = processor.runSync(processor.parse(markdown));
  if (options.idPrefix !== undefined) {
    if (!ID_PREFIX_PATTERN.test(options.idPrefix)) {
      throw new Error(
        `idPrefix "${options.idPrefix}" is invalid: use 1 to 80 lowercase letters, digits or ` +
          'hyphens, such as the comment id',
      );
    }
    prefixFootnoteIds(tree, options.idPrefix);
  }
  return processor.stringify(tree);
}
