// Builds what the forge receives for one comment: the file, and a pull request whose title and
// description let staff review it without opening the file.
import {
  countLinks,
  hasManyLinks,
  MANY_LINKS_LABEL,
  MANY_LINKS_THRESHOLD,
} from '../abuse/links.ts';
import { formatCommentFile } from '../content/front-matter.ts';
import { renderCommentMarkdown } from '../content/render.ts';
import { commentPath } from '../content/schema.ts';
import type { CommentProposal } from '../forge/types.ts';
import type { StoredComment } from '../outbox/types.ts';

/** Characters of comment text quoted in the pull request description. */
export const PREVIEW_LIMIT = 4_000;
/** Label and title prefix of the canary's pull requests, so that staff can filter them out. */
export const CANARY_LABEL = 'canary';

/** Characters in a pull request title; longer titles end with an ellipsis. */
export const TITLE_LIMIT = 200;
/**
 * GitHub rejects a pull request body longer than 65,536 characters. Bodies are measured in UTF-16
 * code units, which are never fewer than characters, so the bound is safe however GitHub counts.
 */
export const BODY_LIMIT = 65_536;
/** Minimum characters worth rendering; below this the rendered preview is left out. */
const MIN_RENDERED_PREVIEW = 250;
const RENDERED_OMITTED =
  'The rendered preview is left out because its HTML would make this description longer than ' +
  'GitHub accepts; the text follows.';

const SOURCE_NAMES = { public: 'public site', internal: 'internal site', import: 'import' };

/** Replaces line breaks and other control characters, which a one-line field cannot show. */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
}

function truncate(text: string, limit: number): { text: string; cut: boolean } {
  const codePoints = Array.from(text);
  if (codePoints.length <= limit) return { text, cut: false };
  return { text: codePoints.slice(0, limit).join(''), cut: true };
}

function longestBacktickRun(text: string): number {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}

/**
 * Quotes a value as inline code, so that markdown, links and @mentions in a reader's name stay
 * inert in the description.
 */
function inlineCode(value: string): string {
  const text = oneLine(value);
  const fence = '`'.repeat(longestBacktickRun(text) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function codeBlock(text: string): string {
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(text) + 1));
  const newline = text.endsWith('\n') ? '' : '\n';
  return `${fence}text\n${text}${newline}${fence}`;
}

export function proposalTitle(author: string, postTitle: string): string {
  const title = `Comment by ${oneLine(author)} on “${oneLine(postTitle)}”`;
  const bounded = truncate(title, TITLE_LIMIT - 1);
  return bounded.cut ? `${bounded.text}…` : title;
}

/** Metadata lines that staff read before the preview; every reader-supplied value is inert. */
function metadataLines(
  comment: StoredComment,
  postTitle: string,
  path: string,
  labels: readonly string[],
): string[] {
  const links = countLinks(comment.body);
  return [
    `- Post: ${inlineCode(comment.post)} (${inlineCode(postTitle)})`,
    `- Reply to: ${comment.parent === null ? 'none, a top-level comment' : inlineCode(comment.parent)}`,
    `- Author: ${inlineCode(comment.author)}`,
    ...(comment.authorUrl === null ? [] : [`- Author URL: ${inlineCode(comment.authorUrl)}`]),
    `- Receipt: ${inlineCode(comment.id)}`,
    `- Visibility: ${comment.visibility}`,
    `- Source: ${SOURCE_NAMES[comment.source]}`,
    `- File: ${inlineCode(path)}`,
    ...(labels.length === 0 ? [] : [`- Labels: ${labels.map(inlineCode).join(', ')}`]),
    ...(links > MANY_LINKS_THRESHOLD
      ? [
          `- Links: ${links}, more than ${MANY_LINKS_THRESHOLD}, which is common in spam; ` +
            `check where they lead before merging (label \`${MANY_LINKS_LABEL}\`)`,
        ]
      : []),
  ];
}

/**
 * Builds the pull request description: metadata, the comment as the sites render it, and its
 * text. The description never exceeds BODY_LIMIT, because deeply nested lists can make the
 * rendered HTML several times longer than the text. When that HTML would push it over, the
 * rendered part covers fewer characters, down to none. The text part always shows the first
 * PREVIEW_LIMIT characters.
 */
export function proposalBody(
  comment: StoredComment,
  postTitle: string,
  path: string,
  labels: readonly string[] = [],
): string {
  const preview = truncate(comment.body, PREVIEW_LIMIT);
  const length = Array.from(comment.body).length;
  const head = [
    'A comment proposed through Marginalia. Merge this pull request to publish it; close it to ' +
      'decline it.',
    '',
    ...metadataLines(comment, postTitle, path, labels),
    '',
  ];
  const tail = ['### Text', '', codeBlock(preview.text)];
  if (preview.cut) {
    tail.push(
      '',
      `The preview shows the first ${PREVIEW_LIMIT.toLocaleString('en')} of ` +
        `${length.toLocaleString('en')} characters; the file holds the whole text.`,
    );
  }

  for (let renderedLimit = PREVIEW_LIMIT; ; renderedLimit = Math.floor(renderedLimit / 2)) {
    const rendered = truncate(preview.text, renderedLimit);
    const section =
      renderedLimit < MIN_RENDERED_PREVIEW
        ? ['### As it will appear', '', RENDERED_OMITTED, '']
        : [
            '### As it will appear',
            '',
            renderedPreview(comment.id, rendered.text),
            ...(rendered.cut && renderedLimit < PREVIEW_LIMIT
              ? ['', `Rendered here: the first ${renderedLimit.toLocaleString('en')} characters.`]
              : []),
            '',
          ];
    const body = [...head, ...section, ...tail].join('\n');
    if (body.length <= BODY_LIMIT || renderedLimit < MIN_RENDERED_PREVIEW) return body;
  }
}

/**
 * Renders the preview with the sites' own renderer, on one line: GitHub's markdown ends an HTML
 * block at a blank line, and a blank line inside a code block would end it early. A numeric
 * character reference keeps each line break where HTML reads it as one.
 */
function renderedPreview(commentId: string, text: string): string {
  const html = renderCommentMarkdown(text, { idPrefix: commentId }).replaceAll('\n', '&#10;');
  return `<div>${html}</div>`;
}

/** Builds the forge proposal for a stored comment; `postTitle` names the post for staff. */
export function buildProposal(comment: StoredComment, postTitle: string): CommentProposal {
  const path = commentPath(comment.post, comment.id);
  const content = formatCommentFile(
    {
      id: comment.id,
      post: comment.post,
      parent: comment.parent,
      author: comment.author,
      date: comment.date,
      visibility: comment.visibility,
      source: comment.source,
      ...(comment.authorUrl === null ? {} : { authorUrl: comment.authorUrl }),
    },
    comment.body,
  );
  if (comment.canary) {
    return {
      commentId: comment.id,
      path,
      content,
      title: `${CANARY_LABEL}: pipeline check on “${oneLine(postTitle)}”, closed automatically`,
      body:
        'A synthetic comment the Marginalia canary sent through the public comment route to ' +
        'check that comments reach this repository. The canary closes this pull request without ' +
        `merging it once it has seen it; do not merge it.\n\n- Receipt: ${inlineCode(comment.id)}`,
      labels: [CANARY_LABEL],
      alwaysLabel: true,
    };
  }
  const labels = [
    'comment',
    comment.visibility,
    ...(hasManyLinks(comment.body) ? [MANY_LINKS_LABEL] : []),
  ];
  return {
    commentId: comment.id,
    path,
    content,
    title: proposalTitle(comment.author, postTitle),
    body: proposalBody(comment, postTitle, path, labels),
    labels,
  };
}
