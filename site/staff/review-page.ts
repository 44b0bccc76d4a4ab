// Browser code of the staff review page. It keeps the staff token in session storage, lists the
// pending comments from GET /api/staff/comments, and posts approve or decline for each one.
import {
  describeParent,
  isRecord,
  readPostSlugs,
  readString,
  toPendingComment,
  type PendingComment,
} from './pending-comment.ts';

type Fetch = typeof fetch;
type Action = 'approve' | 'decline';

const TOKEN_KEY = 'marginalia-staff-token';

/** Finds the sentence an API error response carries, falling back to the HTTP status. */
async function describeFailure(response: Response): Promise<string> {
  let detail = '';
  try {
    const body: unknown = await response.json();
    if (isRecord(body)) {
      const error = body.error;
      if (isRecord(error)) detail = readString(error, 'message');
      else if (typeof error === 'string') detail = error;
      if (!detail) detail = readString(body, 'message');
    }
  } catch {
    // The body was not JSON; the status line is all there is.
  }
  const status = `${response.status} ${response.statusText}`.trim();
  return detail ? `${detail} (HTTP ${status})` : `HTTP ${status}`;
}

function element<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  props: { className?: string; text?: string; testId?: string } = {},
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.testId) node.dataset.testid = props.testId;
  return node;
}

function link(doc: Document, text: string, href: string): HTMLAnchorElement {
  const anchor = element(doc, 'a', { text });
  anchor.href = href;
  return anchor;
}

/** Shortens 2026-12-04T10:00:00Z to 2026-12-04 10:00 UTC; other text is returned unchanged. */
function formatTimestamp(value: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?Z$/.exec(value);
  return match ? `${match[1]} ${match[2]} UTC` : value;
}

function cardId(receipt: string): string {
  return `pending-${receipt}`;
}

/** Data a card needs besides its own comment: every pending comment and the posts' slugs. */
interface CardContext {
  pending: readonly PendingComment[];
  postSlugs: ReadonlyMap<string, string>;
}

function renderParent(doc: Document, item: PendingComment, context: CardContext): HTMLElement {
  const note = element(doc, 'span', { className: 'hint', testId: 'pending-parent' });
  const parent = describeParent(item, context.pending, context.postSlugs);
  if (parent === null) return note;
  if (parent.kind === 'pending') {
    note.append('reply to ', link(doc, parent.author, `#${cardId(parent.receipt)}`));
    return note;
  }
  const id =
    parent.kind === 'linked'
      ? link(doc, parent.shortId, parent.href)
      : element(doc, 'code', { text: parent.shortId });
  id.title = parent.id;
  note.append('reply to comment ', id);
  return note;
}

function renderHeader(doc: Document, item: PendingComment, context: CardContext): HTMLElement {
  const header = element(doc, 'header', { className: 'comment-header' });
  if (item.post === null) {
    header.append(element(doc, 'span', { className: 'comment-author', text: item.title }));
  } else {
    const postTitle = item.post.title || item.post.id;
    const slug = context.postSlugs.get(item.post.id);
    const post = slug === undefined ? postTitle : link(doc, postTitle, `/posts/${slug}/`);
    const on = element(doc, 'span');
    on.append('on “', post, '”');
    header.append(element(doc, 'span', { className: 'comment-author', text: item.author }), on);
    header.append(
      element(doc, 'time', { className: 'comment-date', text: formatTimestamp(item.date) }),
    );
  }
  if (item.visibility === 'internal') {
    header.append(element(doc, 'span', { className: 'badge badge-internal', text: 'internal' }));
  }
  if (item.parent) header.append(renderParent(doc, item, context));
  if (item.pullRequest) {
    const pullRequest = link(doc, `pull request #${item.pullRequest.number}`, item.pullRequest.url);
    pullRequest.rel = 'noopener';
    header.append(pullRequest);
  }
  return header;
}

type ActHandler = (item: PendingComment, action: Action, card: HTMLElement) => Promise<void>;

function renderBody(doc: Document, item: PendingComment): HTMLElement {
  const body = element(doc, 'div', { className: 'comment-body', testId: 'pending-body' });
  body.id = `${cardId(item.receipt)}-body`;
  if (item.post === null) {
    body.append(
      element(doc, 'p', {
        className: 'hint',
        text: 'The API has no record of this comment, so its text is shown only in the pull request.',
      }),
    );
    return body;
  }
  // The API produced this HTML with renderCommentMarkdown, the sanitizing renderer the sites use.
  body.innerHTML = item.html;
  return body;
}

function renderPendingComment(
  doc: Document,
  item: PendingComment,
  context: CardContext,
  act: ActHandler,
): HTMLElement {
  const card = element(doc, 'li', { className: 'pending-comment', testId: 'pending-comment' });
  card.id = cardId(item.receipt);
  card.dataset.receipt = item.receipt;

  const actions = element(doc, 'p', { className: 'pending-actions' });
  const approve = element(doc, 'button', { text: 'Approve', testId: 'approve' });
  const decline = element(doc, 'button', {
    className: 'secondary',
    text: 'Decline',
    testId: 'decline',
  });
  approve.type = 'button';
  decline.type = 'button';
  approve.addEventListener('click', () => void act(item, 'approve', card));
  decline.addEventListener('click', () => {
    // Declining closes the pull request for good, so it takes a second click to confirm.
    if (decline.dataset.confirming === 'true') {
      void act(item, 'decline', card);
      return;
    }
    decline.dataset.confirming = 'true';
    decline.textContent = 'Confirm decline';
    showResult(
      card,
      'Declining closes the pull request without publishing the comment. ' +
        'Click “Confirm decline” to go ahead.',
      'info',
    );
  });
  actions.append(approve, decline);

  const result = element(doc, 'p', { className: 'pending-result', testId: 'pending-result' });
  result.setAttribute('role', 'status');
  card.append(renderHeader(doc, item, context), renderBody(doc, item), actions, result);
  return card;
}

function showResult(card: HTMLElement, message: string, kind: 'info' | 'error' | 'plain'): void {
  const result = card.querySelector<HTMLElement>('[data-testid="pending-result"]');
  if (!result) return;
  result.textContent = message;
  result.className = kind === 'plain' ? 'pending-result' : `pending-result notice notice-${kind}`;
}

function resetDecline(card: HTMLElement): void {
  const decline = card.querySelector<HTMLElement>('[data-testid="decline"]');
  if (!decline) return;
  delete decline.dataset.confirming;
  decline.textContent = 'Decline';
}

/**
 * Caps the height of a card's comment when it overflows the preview height set in site.css, and
 * adds a button that shows the whole comment. Needs the card to be in the document, for layout.
 */
function capPreview(doc: Document, card: HTMLElement): void {
  const body = card.querySelector<HTMLElement>('[data-testid="pending-body"]');
  if (!body) return;
  body.classList.add('preview-capped');
  if (body.scrollHeight <= body.clientHeight) {
    body.classList.remove('preview-capped');
    return;
  }
  const toggle = element(doc, 'button', {
    className: 'link-button',
    text: 'Show all',
    testId: 'pending-toggle',
  });
  toggle.type = 'button';
  toggle.setAttribute('aria-expanded', 'false');
  toggle.setAttribute('aria-controls', body.id);
  toggle.addEventListener('click', () => {
    const capped = body.classList.toggle('preview-capped');
    toggle.textContent = capped ? 'Show all' : 'Show less';
    toggle.setAttribute('aria-expanded', String(!capped));
  });
  body.after(toggle);
}

function waitingMessage(count: number): string {
  if (count === 0) return 'No comments are waiting for review.';
  return `${count} comment${count === 1 ? '' : 's'} waiting for review.`;
}

/**
 * Wires up the review page: the token form, the list of pending comments and their approve and
 * decline buttons. Does nothing when the page lacks the expected elements.
 */
export function startReviewPage(doc: Document, storage: Storage, fetchApi: Fetch): void {
  const root = doc.getElementById('review');
  const tokenForm = doc.getElementById('staff-token-form');
  const tokenInput = doc.getElementById('staff-token');
  const toolbar = doc.getElementById('review-toolbar');
  const status = doc.getElementById('review-status');
  const list = doc.getElementById('pending-comments');
  if (!root || !(tokenForm instanceof HTMLFormElement) || !(tokenInput instanceof HTMLInputElement))
    return;
  if (!toolbar || !status || !list) return;
  const apiUrl = root.dataset.apiUrl ?? '';
  const postSlugs = readPostSlugs(root.dataset.postSlugs);
  // Comments listed by the last load that no approve or decline has settled yet.
  let waiting = 0;

  const setStatus = (message: string, kind: 'info' | 'error') => {
    status.textContent = message;
    status.className = `review-status notice notice-${kind}`;
  };

  const showSignedIn = (signedIn: boolean) => {
    tokenForm.hidden = signedIn;
    toolbar.hidden = !signedIn;
  };

  const request = (path: string, method: 'GET' | 'POST') =>
    fetchApi(`${apiUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${storage.getItem(TOKEN_KEY) ?? ''}`,
        Accept: 'application/json',
      },
    });

  const forgetToken = (message: string) => {
    storage.removeItem(TOKEN_KEY);
    list.replaceChildren();
    showSignedIn(false);
    setStatus(message, 'error');
    tokenInput.focus();
  };

  const act = async (item: PendingComment, action: Action, card: HTMLElement): Promise<void> => {
    const buttons = card.querySelectorAll('button');
    buttons.forEach((button) => (button.disabled = true));
    showResult(card, action === 'approve' ? 'Approving…' : 'Declining…', 'plain');
    try {
      const path = `/api/staff/comments/${encodeURIComponent(item.receipt)}/${action}`;
      const response = await request(path, 'POST');
      if (response.status === 401 || response.status === 403) {
        forgetToken('The staff token was not accepted. Enter a valid token.');
        return;
      }
      if (!response.ok) throw new Error(await describeFailure(response));
      card.dataset.state = action === 'approve' ? 'approved' : 'declined';
      showResult(
        card,
        action === 'approve'
          ? 'Approved: the pull request is merged and the sites are rebuilding.'
          : 'Declined: the pull request is closed.',
        'info',
      );
      waiting = Math.max(0, waiting - 1);
      setStatus(waitingMessage(waiting), 'info');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      showResult(card, `Could not ${action} this comment: ${reason}. Try again.`, 'error');
      resetDecline(card);
      buttons.forEach((button) => (button.disabled = false));
    }
  };

  const load = async () => {
    setStatus('Loading pending comments…', 'info');
    try {
      const response = await request('/api/staff/comments', 'GET');
      if (response.status === 401 || response.status === 403) {
        forgetToken('The staff token was not accepted. Enter a valid token.');
        return;
      }
      if (!response.ok) throw new Error(await describeFailure(response));
      const body: unknown = await response.json();
      const pending = isRecord(body) ? body.comments : undefined;
      if (!Array.isArray(pending)) throw new Error('the API did not return a list of comments');
      const items = pending.map(toPendingComment).filter((item) => item !== null);
      const context: CardContext = { pending: items, postSlugs };
      const cards = items.map((item) => renderPendingComment(doc, item, context, act));
      list.replaceChildren(...cards);
      showSignedIn(true);
      for (const card of cards) capPreview(doc, card);
      waiting = items.length;
      setStatus(waitingMessage(waiting), 'info');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      setStatus(`Could not load pending comments from ${apiUrl}: ${reason}`, 'error');
    }
  };

  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    if (!token) return;
    storage.setItem(TOKEN_KEY, token);
    tokenInput.value = '';
    void load();
  });
  doc.getElementById('review-reload')?.addEventListener('click', () => void load());
  doc
    .getElementById('staff-token-forget')
    ?.addEventListener('click', () => forgetToken('Token forgotten. Enter it again to review.'));

  if (storage.getItem(TOKEN_KEY)) void load();
  else showSignedIn(false);
}
