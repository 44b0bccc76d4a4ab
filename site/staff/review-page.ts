// Browser code of the staff review page. It keeps the staff token in session storage, lists the
// pending comments from GET /api/staff/comments, and posts approve or decline for each one.

interface PendingComment {
  receipt: string;
  post: string;
  postTitle: string;
  author: string;
  date: string;
  visibility: string;
  parent: string | null;
  text: string;
  /** The comment rendered by the API with renderCommentMarkdown, the same as on the sites. */
  html: string;
  pullRequest: { number: number; url: string } | null;
}

type Fetch = typeof fetch;
type Action = 'approve' | 'decline';

const TOKEN_KEY = 'marginalia-staff-token';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function readString(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  return typeof value === 'string' ? value : '';
}

function toPendingComment(value: unknown): PendingComment | null {
  if (!isRecord(value) || typeof value.receipt !== 'string') return null;
  const pr = value.pullRequest;
  const pullRequest =
    isRecord(pr) && typeof pr.number === 'number' && typeof pr.url === 'string'
      ? { number: pr.number, url: pr.url }
      : null;
  // The API sends the post as { id, title }.
  const post = isRecord(value.post) ? value.post : {};
  return {
    receipt: value.receipt,
    post: readString(post, 'id'),
    postTitle: readString(post, 'title'),
    author: readString(value, 'author'),
    date: readString(value, 'date'),
    visibility: readString(value, 'visibility'),
    parent: typeof value.parent === 'string' ? value.parent : null,
    text: readString(value, 'text'),
    html: readString(value, 'html'),
    pullRequest,
  };
}

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

/** Shortens 2026-12-04T10:00:00Z to 2026-12-04 10:00 UTC; other text is returned unchanged. */
function formatTimestamp(value: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?Z$/.exec(value);
  return match ? `${match[1]} ${match[2]} UTC` : value;
}

function renderHeader(doc: Document, item: PendingComment): HTMLElement {
  const header = element(doc, 'header', { className: 'comment-header' });
  header.append(
    element(doc, 'span', { className: 'comment-author', text: item.author }),
    element(doc, 'span', { text: ` on “${item.postTitle || item.post}”` }),
    element(doc, 'time', { className: 'comment-date', text: formatTimestamp(item.date) }),
  );
  if (item.visibility === 'internal') {
    header.append(element(doc, 'span', { className: 'badge badge-internal', text: 'internal' }));
  }
  if (item.parent) {
    header.append(element(doc, 'span', { className: 'hint', text: `reply to ${item.parent}` }));
  }
  if (item.pullRequest) {
    const link = element(doc, 'a', { text: `pull request #${item.pullRequest.number}` });
    link.href = item.pullRequest.url;
    link.rel = 'noopener';
    header.append(link);
  }
  return header;
}

type ActHandler = (item: PendingComment, action: Action, card: HTMLElement) => Promise<void>;

function renderPendingComment(doc: Document, item: PendingComment, act: ActHandler): HTMLElement {
  const card = element(doc, 'li', { className: 'pending-comment', testId: 'pending-comment' });
  card.dataset.receipt = item.receipt;

  const body = element(doc, 'div', { className: 'comment-body', testId: 'pending-body' });
  // The API produced this HTML with renderCommentMarkdown, the sanitizing renderer the sites use.
  body.innerHTML = item.html;

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
  decline.addEventListener('click', () => void act(item, 'decline', card));
  actions.append(approve, decline);

  const result = element(doc, 'p', { className: 'pending-result', testId: 'pending-result' });
  result.setAttribute('role', 'status');
  card.append(renderHeader(doc, item), body, actions, result);
  return card;
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
    const result = card.querySelector<HTMLElement>('[data-testid="pending-result"]');
    const buttons = card.querySelectorAll('button');
    buttons.forEach((button) => (button.disabled = true));
    if (result) result.textContent = action === 'approve' ? 'Approving…' : 'Declining…';
    try {
      const path = `/api/staff/comments/${encodeURIComponent(item.receipt)}/${action}`;
      const response = await request(path, 'POST');
      if (response.status === 401 || response.status === 403) {
        forgetToken('The staff token was not accepted. Enter a valid token.');
        return;
      }
      if (!response.ok) throw new Error(await describeFailure(response));
      card.dataset.state = action === 'approve' ? 'approved' : 'declined';
      if (result) {
        result.textContent =
          action === 'approve'
            ? 'Approved: the pull request is merged and the sites are rebuilding.'
            : 'Declined: the pull request is closed.';
        result.className = 'pending-result notice notice-info';
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (result) {
        result.textContent = `Could not ${action} this comment: ${reason}. Try again.`;
        result.className = 'pending-result notice notice-error';
      }
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
      list.replaceChildren(...items.map((item) => renderPendingComment(doc, item, act)));
      showSignedIn(true);
      setStatus(
        items.length === 0
          ? 'No comments are waiting for review.'
          : `${items.length} comment${items.length === 1 ? '' : 's'} waiting for review.`,
        'info',
      );
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
