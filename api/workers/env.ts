// The bindings and variables of the Worker, as wrangler.toml and `wrangler secret` declare them.
// Variables not listed here (the optional ones of api/config.ts) are read by name from the same
// object.
import type { D1Database, Queue } from '@cloudflare/workers-types';

/** Body of a delivery queue message: a wake-up for one comment, whose state lives in D1. */
export interface DeliveryMessage {
  commentId: string;
  /**
   * When the comment's next attempt is due, in milliseconds since the epoch, for a message whose
   * delay was cut to the Queues maximum; the consumer sends it on again when it arrives early.
   */
  due?: number;
}

export interface WorkerEnv {
  /** The outbox, idempotency keys and rate-limit counts (migrations/). */
  DB: D1Database;
  /** Wake-ups for the delivery consumer. */
  DELIVERY_QUEUE: Queue<DeliveryMessage>;
  MARGINALIA_GITHUB_OWNER?: string;
  MARGINALIA_GITHUB_REPO?: string;
  MARGINALIA_GITHUB_BASE_BRANCH?: string;
  MARGINALIA_GITHUB_API_URL?: string;
  MARGINALIA_GITHUB_TOKEN?: string;
  MARGINALIA_GITHUB_APP_ID?: string;
  MARGINALIA_GITHUB_APP_PRIVATE_KEY?: string;
  MARGINALIA_GITHUB_INSTALLATION_ID?: string;
  MARGINALIA_PUBLIC_DEPLOY_HOOK_URL?: string;
  MARGINALIA_INTERNAL_DEPLOY_HOOK_URL?: string;
  [name: string]: unknown;
}

/** Returns the string variables of `env` for parseConfig, leaving out the bindings. */
export function stringVariables(env: WorkerEnv): Record<string, string | undefined> {
  const variables: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === 'string') variables[name] = value;
  }
  return variables;
}
