// Helpers for the workerd tests: the forge control server of global-setup.ts, the local forge's
// REST API, and requests shaped as a reader's browser sends them.
import { inject } from 'vitest';

export const PUBLIC_ORIGIN = 'http://127.0.0.1:4321';
export const OWNER = 'marginalia';
export const REPO = 'blog';

/** A fault on the next `times` requests of one forge operation, such as `pulls/create`. */
export interface FaultRule {
  operation: string;
  kind: 'fail' | 'fail-after-effect';
  status: 403 | 422 | 429 | 500 | 502 | 503;
  times: number;
  retryAfterSeconds?: number;
  /** Requests the rule has failed so far; set by the control server. */
  applied: number;
}

export interface RecordedWebhook {
  event: string;
  headers: Record<string, string>;
  body: string;
}

async function control(path: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(`${inject('controlUrl')}${path}`, init);
  if (!response.ok) throw new Error(`control ${path} returned ${response.status}`);
  return response;
}

/** Replaces the forge's fault rules. */
export async function setFaults(rules: Array<Omit<FaultRule, 'applied'>>): Promise<void> {
  await control('/faults', { method: 'PUT', body: JSON.stringify({ rules }) });
}

export async function readFaults(): Promise<FaultRule[]> {
  const body = (await (await control('/faults')).json()) as { rules: FaultRule[] };
  return body.rules;
}

/** Lists every webhook the forge has sent, once the deliveries in flight have finished. */
export async function forgeWebhooks(): Promise<RecordedWebhook[]> {
  const body = (await (await control('/webhooks')).json()) as { webhooks: RecordedWebhook[] };
  return body.webhooks;
}

/** Lists the sites whose deploy hook was called, one entry per call, oldest first. */
export async function deployHookCalls(): Promise<string[]> {
  const body = (await (await control('/hooks')).json()) as { calls: string[] };
  return body.calls;
}

/** Calls the local forge's REST API with the test token. */
export async function forgeApi(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${inject('forgeUrl')}/repos/${OWNER}/${REPO}${path}`, {
    ...init,
    headers: {
      authorization: `token ${inject('forgeToken')}`,
      accept: 'application/vnd.github+json',
      'content-type': 'application/json',
      ...init.headers,
    },
  });
}

export interface PullSummary {
  number: number;
  state: string;
  head: { ref: string };
}

/** Lists the forge's pull requests whose branch is the comment's. */
export async function pullsFor(commentId: string): Promise<PullSummary[]> {
  const response = await forgeApi('/pulls?state=all&per_page=100');
  const pulls = (await response.json()) as PullSummary[];
  return pulls.filter((pull) => pull.head.ref.endsWith(commentId));
}

/** Polls `check` every 100 ms until it returns a value other than undefined. */
export async function waitFor<T>(
  description: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
