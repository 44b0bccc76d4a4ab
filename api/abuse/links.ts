// Comments with many links are often spam, but a reader listing sources writes them too, so they
// are labelled for staff rather than rejected.
import { renderCommentMarkdown } from '../content/render.ts';

/** Label added to the pull request of a comment with more than MANY_LINKS_THRESHOLD links. */
export const MANY_LINKS_LABEL = 'many-links';
export const MANY_LINKS_THRESHOLD = 5;

// A scan of the text: it runs in linear time on any input, and it also counts addresses in code
// spans, which is acceptable for a label that only flags the comment for a closer look. Each
// http:// or https:// starts an address, and so does a www. that does not follow a scheme, a dot
// or a word character.
const WEB_ADDRESS = /\bhttps?:\/\/|(?<![\w./])www\./gi;

// A link in the rendered comment that leads away from the comment: any href except a footnote
// link, which starts with #. rehype-stringify writes href as the first attribute of a link.
const RENDERED_LINK = /<a href="(?!#)/g;

/**
 * Counts the links in a comment's text: the larger of the web addresses written in it and the
 * links its rendering contains. The rendering also finds links whose address the text does not
 * spell out, such as `[a](//host)`, `[a](http\://host)` or `[a](&#104;ttps://host)`.
 */
export function countLinks(text: string): number {
  const written = text.match(WEB_ADDRESS)?.length ?? 0;
  const rendered = renderCommentMarkdown(text).match(RENDERED_LINK)?.length ?? 0;
  return Math.max(written, rendered);
}

export function hasManyLinks(text: string): boolean {
  return countLinks(text) > MANY_LINKS_THRESHOLD;
}
