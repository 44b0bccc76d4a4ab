// The canary sends a synthetic comment through the public comment route every interval, the same
// way a reader's browser does, and passes when its pull request appears within the interval. It
// then closes the pull request unmerged; its title and the `canary` label let staff filter it out.
// A canary that fails is closed later, whenever the pipeline delivers it after all.
import { commentBranch, type ForgeClient } from '../forge/types.ts';
import type { CommentStore } from '../outbox/types.ts';
import type { Clock } from '../platform/clock.ts';
import type { PostLookup } from '../platform/content-index.ts';
import { errorMessage, type Logger } from '../platform/logger.ts';
import type { CanaryCheckState, CanaryRecord } from './checks.ts';

/** Key of the canary's state in the store's monitor state. */
const STATE_KEY = 'canary';

/** Canaries that failed and wait to be closed once delivered; older ones are forgotten. */
const MAX_TO_CLOSE = 50;

/** Maximum wait for the dead-man's switch URL, in milliseconds. */
const PING_TIMEOUT_MS = 10_000;

export const CANARY_AUTHOR = 'Marginalia canary';

/** Header that marks a submission as the canary's; its value must be the staff token. */
export const CANARY_HEADER = 'X-Marginalia-Canary';

export interface CanaryOptions {
  store: CommentStore;
  forge: ForgeClient;
  clock: Clock;
  logger: Logger;
  posts: PostLookup;
  /** Time between canaries, in milliseconds. */
  intervalMs: number;
  /** Sends a request to the API's own routes (the app's fetch). */
  submit: (request: Request) => Promise<Response>;
  publicSiteUrl: string;
  apiPublicUrl: string;
  staffToken: string;
  /** The post the canary comments on; the first open public post by id when absent. */
  postId?: string;
  /** URL pinged (GET) after each success, for an outside dead-man's switch. */
  deadmanUrl?: string;
  fetch?: typeof fetch;
}

interface StoredState {
  inflight: { id: string; sentAt: string } | null;
  last: { at: string; ok: boolean; detail: string } | null;
  lastSuccessAt: string | null;
  lastSentAt: string | null;
  toClose: string[];
}

export interface Canary {
  /** Checks the canary in flight, closes delivered ones, and sends the next when it is due. */
  step(): Promise<void>;
  state(): CanaryCheckState;
}

function emptyState(): StoredState {
  return { inflight: null, last: null, lastSuccessAt: null, lastSentAt: null, toClose: [] };
}

function parseState(text: string | null): StoredState {
  if (text === null) return emptyState();
  try {
    return { ...emptyState(), ...(JSON.parse(text) as Partial<StoredState>) };
  } catch {
    return emptyState();
  }
}

export function createCanary(options: CanaryOptions): Canary {
  const { store, forge, clock, logger } = options;
  const fetchUrl = options.fetch ?? fetch;
  let state: StoredState | null = null;

  async function load(): Promise<StoredState> {
    state ??= parseState(await store.getState(STATE_KEY));
    return state;
  }

  async function save(current: StoredState): Promise<void> {
    await store.putState(STATE_KEY, JSON.stringify(current), clock.now());
  }

  function choosePost(): string | null {
    if (options.postId !== undefined) return options.postId;
    const open = [...options.posts.values()]
      .filter((post) => post.visibility === 'public' && post.comments === 'open')
      .map((post) => post.id)
      .sort();
    return open[0] ?? null;
  }

  function record(current: StoredState, ok: boolean, detail: string): void {
    const at = clock.now().toISOString();
    current.last = { at, ok, detail };
    if (ok) current.lastSuccessAt = at;
    const fields = { ok, detail };
    if (ok) logger.info('canary passed', fields);
    else logger.error('canary failed', fields);
  }

  /** Closes a delivered canary's pull request; returns false when it is not delivered yet. */
  async function close(id: string): Promise<boolean> {
    const comment = await store.get(id);
    if (comment === null) return true;
    if (comment.status === 'declined') {
      // The closed webhook declined it, possibly after an earlier deletion here failed, and the
      // webhook's own deletion is not retried. Deleting an absent branch succeeds.
      if (comment.pullRequest !== null) await forge.deleteBranch(commentBranch(id));
      return true;
    }
    if (comment.pullRequest === null) return false;
    if (comment.status === 'proposed') {
      await forge.closePullRequest(comment.pullRequest.number);
      await forge.deleteBranch(commentBranch(id));
      await store.markDeclined(id, clock.now());
    }
    return true;
  }

  async function ping(): Promise<void> {
    if (options.deadmanUrl === undefined) return;
    try {
      const response = await fetchUrl(options.deadmanUrl, {
        signal: AbortSignal.timeout(PING_TIMEOUT_MS),
      });
      if (!response.ok) {
        logger.warn('dead-man switch ping failed', { status: response.status });
      }
    } catch (error) {
      logger.warn('dead-man switch ping failed', { error: errorMessage(error) });
    }
  }

  async function checkInflight(current: StoredState): Promise<void> {
    const inflight = current.inflight;
    if (inflight === null) return;
    const comment = await store.get(inflight.id);
    const waitedMs = clock.now().getTime() - Date.parse(inflight.sentAt);
    if (comment?.pullRequest != null) {
      current.inflight = null;
      // The comment's last update is the moment it was proposed, unlike the time of this check,
      // which trails it by up to one monitor tick.
      const deliveredMs = comment.updatedAt.getTime() - Date.parse(inflight.sentAt);
      record(
        current,
        true,
        `Pull request #${comment.pullRequest.number} was opened ${(Math.max(0, deliveredMs) / 1000).toFixed(1)} s after the canary was sent.`,
      );
      try {
        if (!(await close(inflight.id))) current.toClose.push(inflight.id);
      } catch (error) {
        logger.warn('closing the canary pull request failed, will retry', {
          commentId: inflight.id,
          error: errorMessage(error),
        });
        current.toClose.push(inflight.id);
      }
      await ping();
      return;
    }
    const failure =
      comment === null
        ? 'the canary comment is missing from the outbox'
        : comment.status === 'dead'
          ? `delivery stopped: ${comment.lastError ?? 'no error recorded'}`
          : waitedMs > options.intervalMs
            ? `no pull request within ${Math.round(options.intervalMs / 1000)} s; last error: ${comment.lastError ?? 'none'}`
            : null;
    if (failure === null) return;
    current.inflight = null;
    current.toClose.push(inflight.id);
    record(current, false, failure);
  }

  async function closeDelivered(current: StoredState): Promise<void> {
    const remaining: string[] = [];
    for (const id of current.toClose) {
      try {
        if (!(await close(id))) remaining.push(id);
      } catch (error) {
        logger.warn('closing a canary pull request failed, will retry', {
          commentId: id,
          error: errorMessage(error),
        });
        remaining.push(id);
      }
    }
    current.toClose = remaining.slice(-MAX_TO_CLOSE);
  }

  /**
   * Adds to `toClose` every delivered canary that it misses: the ones past MAX_TO_CLOSE after a
   * long outage, and one sent just before the process ended, before its id was stored.
   */
  async function findUnclosed(current: StoredState): Promise<void> {
    const known = new Set([...current.toClose, current.inflight?.id]);
    // listUnsettled takes comments updated strictly before its argument, so 1 ms later is "now".
    const unsettled = await store.listUnsettled(new Date(clock.now().getTime() + 1));
    for (const comment of unsettled) {
      if (comment.canary && comment.status === 'proposed' && !known.has(comment.id)) {
        current.toClose.push(comment.id);
      }
    }
  }

  async function send(current: StoredState): Promise<void> {
    const now = clock.now();
    current.lastSentAt = now.toISOString();
    const post = choosePost();
    if (post === null) {
      record(
        current,
        false,
        'there is no open public post to comment on; set MARGINALIA_CANARY_POST to a post id',
      );
      return;
    }
    const request = new Request(`${options.apiPublicUrl}/api/comments`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        origin: options.publicSiteUrl,
        [CANARY_HEADER]: options.staffToken,
      },
      body: JSON.stringify({
        post,
        author: CANARY_AUTHOR,
        text: `Canary check sent at ${now.toISOString()}. It is closed automatically.`,
      }),
    });
    let response: Response;
    try {
      response = await options.submit(request);
    } catch (error) {
      record(current, false, `the comment route failed: ${errorMessage(error)}`);
      return;
    }
    const body: unknown = await response.json().catch(() => null);
    const receipt =
      typeof body === 'object' && body !== null && 'receipt' in body ? body.receipt : null;
    if (response.status !== 202 || typeof receipt !== 'string') {
      const message =
        typeof body === 'object' && body !== null && 'message' in body
          ? String(body.message)
          : 'no message';
      record(current, false, `the comment route answered HTTP ${response.status}: ${message}`);
      return;
    }
    current.inflight = { id: receipt, sentAt: now.toISOString() };
    logger.info('canary sent', { commentId: receipt, post });
  }

  return {
    async step() {
      const current = await load();
      await closeDelivered(current);
      await checkInflight(current);
      const lastSent = current.lastSentAt === null ? null : Date.parse(current.lastSentAt);
      // A scheduler that runs exactly every interval (a cron trigger) fires a little early now
      // and then, so the slack keeps it from skipping a whole interval.
      const slackMs = Math.min(30_000, options.intervalMs / 10);
      const due =
        lastSent === null || clock.now().getTime() - lastSent >= options.intervalMs - slackMs;
      if (current.inflight === null && due) {
        // Once per interval is often enough for a scan of every unsettled comment.
        await findUnclosed(current);
        await closeDelivered(current);
        await send(current);
      }
      await save(current);
    },

    state() {
      const last: CanaryRecord | null =
        state?.last == null
          ? null
          : { at: new Date(state.last.at), ok: state.last.ok, detail: state.last.detail };
      const lastSuccessAt = state?.lastSuccessAt == null ? null : new Date(state.lastSuccessAt);
      return { intervalMs: options.intervalMs, last, lastSuccessAt };
    },
  };
}
