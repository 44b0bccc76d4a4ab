// Comments with many links are often spam, but a reader listing sources writes them too, so they
// are labelled for staff rather than rejected.

/** Label added to the pull request of a comment with more than MANY_LINKS_THRESHOLD links. */
export const MANY_LINKS_LABEL = 'many-links';
export const MANY_LINKS_THRESHOLD = 5;

// A scan of the text rather than a markdown parse: it runs in linear time on any input, and it
// also counts addresses in code spans, which is acceptable for a label that only flags the comment
// for a closer look. Each http:// or https:// starts an address, and so does a www. that does not
// follow a scheme, a dot or a word character.
const WEB_ADDRESS = /\bhttps?:\/\/|(?<![\w./])www\./gi;

/** Counts the web addresses (http, https and www. forms) in a comment's text. */
export function countLinks(text: string): number {
  return text.match(WEB_ADDRESS)?.length ?? 0;
}

export function hasManyLinks(text: string): boolean {
  return countLinks(text) > MANY_LINKS_THRESHOLD;
}
