// HTML responses for readers: the comment form shown again with its problems, and receipt pages.
import type { FieldIssue } from '../content/schema.ts';
import type { CommentStatus, StoredComment } from '../outbox/types.ts';
import { escapeHtml, htmlPage } from './html.ts';
import type { SubmissionField, SubmittedValues } from './submission.ts';

const FIELD_LABELS: Record<string, string> = {
  post: 'Post',
  parent: 'Reply to',
  author: 'Name',
  authorUrl: 'Website',
  text: 'Comment',
  visibility: 'Visibility',
  returnTo: 'Return page',
  idempotencyKey: 'Submission key',
};

export function fieldLabel(field: string): string {
  return FIELD_LABELS[field] ?? field;
}

export interface FormPageOptions {
  title: string;
  /** Summary of the failure, in one or two sentences. */
  message: string;
  issues: FieldIssue[];
  values: SubmittedValues;
  action: string;
  /** Whether to offer the visibility choice, which only the internal site has. */
  showVisibility: boolean;
  /** Whether to send the idempotency key again; false when the key itself was the problem. */
  keepKey: boolean;
  backUrl: string | null;
}

function hidden(name: SubmissionField, value: string | undefined): string {
  if (value === undefined) return '';
  return `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
}

function problemFor(issues: FieldIssue[], field: string): string {
  const issue = issues.find((item) => item.field === field);
  if (issue === undefined) return '';
  return `<p class="problem" id="${field}-problem">${escapeHtml(`${fieldLabel(field)} ${issue.message}.`)}</p>`;
}

function describedBy(issues: FieldIssue[], field: string): string {
  return issues.some((issue) => issue.field === field)
    ? ` aria-describedby="${field}-problem"`
    : '';
}

/** Renders the comment form again, with every problem named and the reader's text kept. */
export function formPage(options: FormPageOptions): string {
  const { issues, values } = options;
  const list = issues
    .map((issue) => `<li>${escapeHtml(`${fieldLabel(issue.field)} ${issue.message}.`)}</li>`)
    .join('\n');
  const visibility = options.showVisibility
    ? `<label for="visibility">Visibility</label>
<select id="visibility" name="visibility"${describedBy(issues, 'visibility')}>
<option value="internal"${values.visibility === 'public' ? '' : ' selected'}>Internal: staff only</option>
<option value="public"${values.visibility === 'public' ? ' selected' : ''}>Public</option>
</select>
${problemFor(issues, 'visibility')}`
    : '';
  // The HTML parser drops one newline right after <textarea>, so one is written before the
  // text to keep a text that starts with a blank line intact.
  const body = `<main>
<h1>${escapeHtml(options.title)}</h1>
<div class="problems" role="alert">
<p>${escapeHtml(options.message)}</p>
${list === '' ? '' : `<ul>\n${list}\n</ul>`}
</div>
<form method="post" action="${escapeHtml(options.action)}">
${hidden('post', values.post)}
${hidden('parent', values.parent)}
${hidden('returnTo', values.returnTo)}
${options.keepKey ? hidden('idempotencyKey', values.idempotencyKey) : ''}
${problemFor(issues, 'post')}
${problemFor(issues, 'parent')}
<label for="author">Name</label>
<input id="author" name="author" value="${escapeHtml(values.author ?? '')}"${describedBy(issues, 'author')}>
${problemFor(issues, 'author')}
<label for="authorUrl">Website (optional)</label>
<input id="authorUrl" name="authorUrl" type="url" value="${escapeHtml(values.authorUrl ?? '')}"${describedBy(issues, 'authorUrl')}>
${problemFor(issues, 'authorUrl')}
<label for="text">Comment</label>
<textarea id="text" name="text"${describedBy(issues, 'text')}>
${escapeHtml(values.text ?? '')}</textarea>
${problemFor(issues, 'text')}
${visibility}
<button type="submit">Send comment</button>
</form>
${options.backUrl === null ? '' : `<p><a href="${escapeHtml(options.backUrl)}">Back to the post</a></p>`}
</main>`;
  return htmlPage(options.title, body);
}

const STATUS_SENTENCES: Record<CommentStatus, string> = {
  received: 'Received, waiting for review.',
  proposed: 'Received, waiting for review.',
  published: 'Published.',
  declined: 'Declined. Staff reviewed this comment and did not publish it.',
};

export function statusSentence(comment: StoredComment): string {
  const sentence = STATUS_SENTENCES[comment.status];
  if (comment.status === 'published')
    return `${sentence} It appears on the post once the site is rebuilt, usually within a minute.`;
  return sentence;
}

/** Renders one receipt's status for a reader. */
export function statusPage(comment: StoredComment, postUrl: string | null): string {
  const created = comment.createdAt.toISOString();
  const body = `<main id="comment-status">
<h1>Your comment</h1>
<p><strong>${escapeHtml(statusSentence(comment))}</strong></p>
<p>Receipt <code>${escapeHtml(comment.id)}</code>, sent <time datetime="${created}">${created}</time>.</p>
${postUrl === null ? '' : `<p><a href="${escapeHtml(postUrl)}">Back to the post</a></p>`}
</main>`;
  return htmlPage('Your comment', body);
}

/** Renders the statuses of the receipts a reader's browser remembers. */
export function receiptsPage(
  comments: StoredComment[],
  postUrlOf: (comment: StoredComment) => string | null,
): string {
  const items = comments.map((comment) => {
    const url = postUrlOf(comment);
    const post =
      url === null
        ? escapeHtml(comment.post)
        : `<a href="${escapeHtml(url)}">${escapeHtml(comment.post)}</a>`;
    return `<li>On ${post}, sent ${comment.createdAt.toISOString()}: ${escapeHtml(statusSentence(comment))} <a href="${escapeHtml(comment.id)}">Receipt</a></li>`;
  });
  const list =
    items.length === 0
      ? '<p>This browser has no comment receipts. Receipts are kept for 30 days after sending.</p>'
      : `<ul>\n${items.join('\n')}\n</ul>`;
  return htmlPage('Your comments', `<main>\n<h1>Your comments</h1>\n${list}\n</main>`);
}

/** Renders a plain error page for a reader, such as an unknown receipt. */
export function messagePage(title: string, message: string): string {
  return htmlPage(
    title,
    `<main>\n<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>\n</main>`,
  );
}
