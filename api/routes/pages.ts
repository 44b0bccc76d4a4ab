// HTML responses for readers: the comment form shown again with its problems, the status of a
// comment, the list of comments sent from this browser, and plain error pages.
import { LIMITS, type FieldIssue } from '../content/schema.ts';
import type { CommentStatus, StoredComment } from '../outbox/types.ts';
import { escapeHtml, formatCount, htmlPage, timeElement, type SiteLink } from './html.ts';
import type { SubmissionField, SubmittedValues } from './submission.ts';

const FIELD_LABELS: Record<string, string> = {
  post: 'Post',
  parent: 'Reply to',
  author: 'Name',
  authorUrl: 'Website',
  email: 'Email',
  text: 'Comment',
  visibility: 'Visibility',
  returnTo: 'Return page',
  idempotencyKey: 'Submission key',
};

export function fieldLabel(field: string): string {
  return FIELD_LABELS[field] ?? field;
}

/** A post as a reader page links to it: its title and its page on the site the reader uses. */
export interface PostLink {
  title: string;
  url: string;
}

/** The fields with a length limit that a reader types, and that limit in UTF-16 code units. */
const LENGTH_LIMITS = [
  ['author', LIMITS.author],
  ['authorUrl', LIMITS.authorUrl],
  ['text', LIMITS.text],
] as const;

/**
 * States one problem as a sentence. A field over its length limit gets its length and the
 * limit, counted as the schema counts them (UTF-16 code units), so the reader knows how much
 * to cut.
 */
export function issueSentence(issue: FieldIssue, values: SubmittedValues): string {
  const label = fieldLabel(issue.field);
  const limited = LENGTH_LIMITS.find(([field]) => field === issue.field);
  if (limited !== undefined) {
    const [field, limit] = limited;
    const length = values[field]?.length ?? 0;
    if (length > limit) {
      return (
        `${label} is ${formatCount(length)} characters; the limit is ${formatCount(limit)}. ` +
        'Shorten it and send again.'
      );
    }
  }
  return `${label} ${issue.message}.`;
}

export interface FormPageOptions {
  title: string;
  /** Summary of the failure, in one or two sentences. */
  message: string;
  issues: FieldIssue[];
  values: SubmittedValues;
  action: string;
  /** The post commented on, when it exists on the site the form came from. */
  post: PostLink | null;
  /** Whether to offer the visibility choice, which only the internal site has. */
  showVisibility: boolean;
  /** Whether to send the idempotency key again; false when the key itself was the problem. */
  keepKey: boolean;
  backUrl: string | null;
  site: SiteLink | null;
  /** The id of the rejected request, shown so that a reader can quote it to staff. */
  requestId?: string;
}

/** Renders the request id of a rejection, or nothing when there is none. */
function requestIdLine(requestId: string | undefined): string {
  if (requestId === undefined) return '';
  return (
    `<p class="meta">Request id: <code>${escapeHtml(requestId)}</code>. ` +
    'Give it to staff if you ask them about this page.</p>'
  );
}

/** Renders a link; both values are escaped. */
function link(href: string, text: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
}

function valueAttribute(value: string | undefined): string {
  return `value="${escapeHtml(value ?? '')}"`;
}

/** Joins HTML fragments one per line, leaving out the empty ones. */
function joinLines(parts: string[]): string {
  return parts.filter((part) => part !== '').join('\n');
}

function hidden(name: SubmissionField, value: string | undefined): string {
  if (value === undefined) return '';
  return `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
}

/** Renders the comment form again, with every problem named and the reader's text kept. */
export function formPage(options: FormPageOptions): string {
  const { issues, values } = options;
  const sentences = new Map(issues.map((issue) => [issue.field, issueSentence(issue, values)]));

  const problemFor = (field: string): string => {
    const sentence = sentences.get(field);
    if (sentence === undefined) return '';
    return `<p class="problem" id="${field}-problem">${escapeHtml(sentence)}</p>`;
  };
  const invalidAttributes = (field: string): string =>
    sentences.has(field) ? ` aria-invalid="true" aria-describedby="${field}-problem"` : '';

  const list = [...sentences.values()].map((sentence) => `<li>${escapeHtml(sentence)}</li>`);
  const isPublic = values.visibility === 'public';
  const visibility = options.showVisibility
    ? joinLines([
        '<label for="visibility">Visibility</label>',
        problemFor('visibility'),
        `<select id="visibility" name="visibility"${invalidAttributes('visibility')}>`,
        `<option value="internal"${isPublic ? '' : ' selected'}>Internal: staff only</option>`,
        `<option value="public"${isPublic ? ' selected' : ''}>Public</option>`,
        '</select>',
      ])
    : '';
  const post =
    options.post === null
      ? ''
      : `<p class="lead">On ${link(options.post.url, options.post.title)}</p>`;

  const textLimit = formatCount(LIMITS.text);
  // The HTML parser drops one newline right after <textarea>, so one is written before the
  // text to keep a text that starts with a blank line intact.
  const body = joinLines([
    `<h1>${escapeHtml(options.title)}</h1>`,
    post,
    '<div class="problems" role="alert">',
    `<p>${escapeHtml(options.message)}</p>`,
    list.length === 0 ? '' : `<ul>\n${list.join('\n')}\n</ul>`,
    requestIdLine(options.requestId),
    '</div>',
    `<form method="post" action="${escapeHtml(options.action)}">`,
    hidden('post', values.post),
    hidden('parent', values.parent),
    hidden('returnTo', values.returnTo),
    options.keepKey ? hidden('idempotencyKey', values.idempotencyKey) : '',
    problemFor('post'),
    problemFor('parent'),
    '<label for="author">Name</label>',
    problemFor('author'),
    `<input id="author" name="author" ${valueAttribute(values.author)}` +
      `${invalidAttributes('author')}>`,
    '<label for="authorUrl">Website <span class="hint">(optional)</span></label>',
    problemFor('authorUrl'),
    `<input id="authorUrl" name="authorUrl" type="url" ${valueAttribute(values.authorUrl)}` +
      `${invalidAttributes('authorUrl')}>`,
    // The address is never written back into a page, so the reader types it again.
    '<label for="email">Email <span class="hint">(optional, for reply notifications; ' +
      'type it again, this page does not repeat it)</span></label>',
    problemFor('email'),
    `<input id="email" name="email" type="email" autocomplete="email"${invalidAttributes('email')}>`,
    `<label for="text">Comment <span class="hint">(up to ${textLimit} characters)</span></label>`,
    problemFor('text'),
    `<textarea id="text" name="text"${invalidAttributes('text')}>`,
    `${escapeHtml(values.text ?? '')}</textarea>`,
    visibility,
    '<button type="submit">Send comment</button>',
    '</form>',
    options.backUrl === null ? '' : `<p>${link(options.backUrl, 'Back to the post')}</p>`,
  ]);
  return htmlPage(options.title, body, options.site);
}

/**
 * The status of a comment in a few words, as the reader pages and the JSON receipt show it. A dead
 * letter is shown to readers as received and delayed: it is stored and will be sent on once staff
 * replay it, so no reader page calls it failed.
 */
export const STATUS_HEADLINES: Record<CommentStatus, string> = {
  received: 'Received, waiting for review',
  proposed: 'Waiting for review by staff',
  published: 'Published',
  declined: 'Declined',
  dead: 'Received, delivery delayed',
};

const STATUS_DETAILS: Record<CommentStatus, string> = {
  received: 'The comment is stored and is being passed on to staff for review.',
  proposed: 'Staff will publish the comment on the post or decline it. This page shows which.',
  published:
    'The comment is on the post. A new comment can take a minute to appear ' +
    'while the site is rebuilt.',
  declined: 'Staff reviewed the comment and did not publish it.',
  dead:
    'The comment is stored safely. Passing it on to staff for review is delayed by a problem ' +
    'on the server, and it will be passed on once that is fixed. There is no need to send it ' +
    'again.',
};

/** Maps a status to the one readers see, where a dead letter is a received comment, delayed. */
export function readerStatus(status: CommentStatus): Exclude<CommentStatus, 'dead'> {
  return status === 'dead' ? 'received' : status;
}

/** Describes a comment's status in full sentences, for the JSON receipt. */
export function statusSentence(comment: StoredComment): string {
  return `${STATUS_HEADLINES[comment.status]}. ${STATUS_DETAILS[comment.status]}`;
}

/** One comment as a reader page shows it. */
export interface ReceiptView {
  comment: StoredComment;
  /** The post, or null when the post lookup no longer contains it. */
  post: PostLink | null;
  /**
   * True when this browser sent the comment (its receipts cookie lists it). Only then may the
   * page show the comment's text, so a receipt link passed on to someone else never shows it.
   */
  sentFromThisBrowser: boolean;
}

function postTitle(view: ReceiptView): string {
  if (view.post === null) return `the post <code>${escapeHtml(view.comment.post)}</code>`;
  return link(view.post.url, view.post.title);
}

function statusClass(status: CommentStatus): string {
  const shown = `status status-${readerStatus(status)}`;
  return status === 'dead' ? `${shown} status-delayed` : shown;
}

/** Renders the status badge, the explanation, and for a declined comment the reader's own text. */
function statusDetails(view: ReceiptView): string {
  const { comment } = view;
  const status = comment.status;
  const parts = [
    `<p class="${statusClass(status)}">${escapeHtml(STATUS_HEADLINES[status])}</p>`,
    `<p>${escapeHtml(STATUS_DETAILS[status])}</p>`,
  ];
  if (status === 'published' && view.post !== null) {
    const url = `${view.post.url}#comment-${comment.id}`;
    parts.push(`<p>${link(url, 'Read your comment on the post')}</p>`);
  }
  if (status === 'declined') {
    parts.push(declinedText(view));
  }
  return parts.join('\n');
}

/** Counts the rows that show a text whole, up to a box that still fits a phone screen. */
function rowsFor(text: string): number {
  // An estimate: a 40rem column fits about 70 characters of body text per line.
  const lines = text
    .split('\n')
    .reduce((sum, line) => sum + Math.max(1, Math.ceil(line.length / 70)), 0);
  return Math.min(16, Math.max(3, lines));
}

function declinedText(view: ReceiptView): string {
  if (!view.sentFromThisBrowser) {
    return '<p class="meta">Its text is shown only in the browser that sent it.</p>';
  }
  const id = `text-${view.comment.id}`;
  const text = view.comment.body;
  // The newline after <textarea> keeps a leading blank line of the text, as in the form.
  return `<label class="copy-label" for="${id}">Your text, so you keep a copy</label>
<textarea id="${id}" rows="${rowsFor(text)}" readonly>
${escapeHtml(text)}</textarea>`;
}

/** Renders one comment's status for a reader. */
export function statusPage(view: ReceiptView, site: SiteLink | null): string {
  const { comment } = view;
  // "mine" resolves against /api/comments/<id> to the receipts page /api/comments/mine.
  const allComments = link('mine', 'All comments sent from this browser');
  const body = `<div id="comment-status">
<h1>Your comment</h1>
<p class="lead">On ${postTitle(view)}, sent ${timeElement(comment.createdAt)}</p>
<section class="receipt">
${statusDetails(view)}
</section>
<p class="meta">Reference <code>${escapeHtml(comment.id)}</code> · ${allComments}</p>
</div>`;
  return htmlPage('Your comment', body, site);
}

export interface ReceiptsPageOptions {
  site: SiteLink | null;
  /** How many comments the receipts cookie remembers. */
  remembered: number;
  /** How long the cookie lasts after the latest comment, in days. */
  rememberedDays: number;
}

/** Renders the statuses of the comments this browser sent, in the order given. */
export function receiptsPage(views: ReceiptView[], options: ReceiptsPageOptions): string {
  // A bare id resolves against /api/comments/mine to that comment's page, /api/comments/<id>.
  const statusLink = (view: ReceiptView) => link(view.comment.id, 'Status page');
  const items = views.map(
    (view) => `<li class="receipt">
<p class="receipt-title">On ${postTitle(view)}</p>
<p class="meta">Sent ${timeElement(view.comment.createdAt)} · ${statusLink(view)}</p>
${statusDetails(view)}
</li>`,
  );
  const memory =
    `It remembers its last ${options.remembered} comments ` +
    `until ${options.rememberedDays} days after it sent the latest one.`;
  const list =
    items.length === 0
      ? `<p>This browser has no comments to show. ${memory}</p>`
      : `<p class="lead">Comments sent from this browser, newest first. ${memory}</p>
<ul class="receipt-list">
${items.join('\n')}
</ul>`;
  return htmlPage('Your comments', `<h1>Your comments</h1>\n${list}`, options.site);
}

export interface MessagePageOptions {
  /** Links that help the reader on, such as back to the post. */
  links?: { href: string; label: string }[];
  site?: SiteLink | null;
  /** The id of the failed request, shown so that a reader can quote it to staff. */
  requestId?: string;
}

/** Renders a plain page for a reader that states one problem and what to do about it. */
export function messagePage(
  title: string,
  message: string,
  options: MessagePageOptions = {},
): string {
  const links = (options.links ?? [])
    .map(({ href, label }) => `<p>${link(href, label)}</p>`)
    .join('\n');
  const body = joinLines([
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>${escapeHtml(message)}</p>`,
    requestIdLine(options.requestId),
    links,
  ]);
  return htmlPage(title, body, options.site ?? null);
}
