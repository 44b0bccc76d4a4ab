// Deploy hooks of hosted sites: a POST to a secret URL makes the host (Cloudflare Pages, Netlify
// and the like) build the site from the base branch again. Each site is triggered at most once
// per merge commit, whichever path reports the merge (webhook, staff route, redelivery or
// reconciliation), because a successful trigger is stored by site and sha before the call
// returns. A failed POST is retried with exponential backoff.
import * as v from 'valibot';
import { ConfigError } from '../config.ts';
import { errorMessage, type Logger } from '../platform/logger.ts';

export type DeploySite = 'public' | 'internal';

export const DEPLOY_SITES: readonly DeploySite[] = ['public', 'internal'];

/** Environment variables with each site's deploy hook URL. */
export const DEPLOY_HOOK_ENV = {
  public: 'MARGINALIA_PUBLIC_DEPLOY_HOOK_URL',
  internal: 'MARGINALIA_INTERNAL_DEPLOY_HOOK_URL',
} as const;

/**
 * Environment variables with a URL that returns the commit sha each hosted site was built from,
 * as plain text or any body containing one 40-digit hex sha. Reconciliation reads it to spot a
 * site that lags the base branch.
 */
export const DEPLOYED_COMMIT_ENV = {
  public: 'MARGINALIA_PUBLIC_DEPLOYED_COMMIT_URL',
  internal: 'MARGINALIA_INTERNAL_DEPLOYED_COMMIT_URL',
} as const;

export interface DeployHookConfig {
  /** Deploy hook URL per site; a site without one is not triggered. */
  hooks: Partial<Record<DeploySite, string>>;
  /** URL returning each site's deployed commit; without one, the lag check skips the site. */
  deployedCommitUrls: Partial<Record<DeploySite, string>>;
}

const httpUrl = v.optional(
  v.pipe(
    v.string('must be text'),
    v.trim(),
    v.check(
      (value) => value === '' || (URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)),
      'must be an http or https URL, such as https://api.cloudflare.com/…/deploy_hooks/…',
    ),
  ),
);

/** Reads the deploy hook settings from `env`, raising ConfigError that names a bad variable. */
export function parseDeployHookConfig(env: Record<string, string | undefined>): DeployHookConfig {
  const config: DeployHookConfig = { hooks: {}, deployedCommitUrls: {} };
  for (const site of DEPLOY_SITES) {
    for (const [names, target] of [
      [DEPLOY_HOOK_ENV, config.hooks],
      [DEPLOYED_COMMIT_ENV, config.deployedCommitUrls],
    ] as const) {
      const variable = names[site];
      const result = v.safeParse(httpUrl, env[variable]);
      if (!result.success) throw new ConfigError(variable, result.issues[0].message);
      if (result.output !== undefined && result.output !== '') target[site] = result.output;
    }
  }
  return config;
}

/** Storage of the triggers that succeeded, keyed by site and merge sha. */
export interface DeployTriggerLog {
  hasTriggered(site: DeploySite, sha: string): Promise<boolean>;
  recordTriggered(site: DeploySite, sha: string, at: Date): Promise<void>;
}

/** Keeps the trigger log in memory, for tests and for a process that needs no restart safety. */
export function createMemoryTriggerLog(): DeployTriggerLog & { entries(): string[] } {
  const triggered = new Set<string>();
  return {
    hasTriggered: async (site, sha) => triggered.has(`${site} ${sha}`),
    recordTriggered: async (site, sha) => {
      triggered.add(`${site} ${sha}`);
    },
    entries: () => [...triggered],
  };
}

export interface DeployRetryOptions {
  /** POSTs per trigger, the first included. */
  attempts: number;
  /** Wait before the first retry, in milliseconds; it doubles with each retry. */
  initialDelayMs: number;
  /** Maximum wait between attempts, in milliseconds, retry-after included. */
  maxDelayMs: number;
}

export const DEFAULT_DEPLOY_RETRY: DeployRetryOptions = {
  attempts: 5,
  initialDelayMs: 2_000,
  maxDelayMs: 60_000,
};

export interface DeployHooksOptions {
  hooks: Partial<Record<DeploySite, string>>;
  log: DeployTriggerLog;
  logger: Logger;
  now?: () => Date;
  retry?: DeployRetryOptions;
  /** Time-out of each POST, in milliseconds. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeployTriggerResult {
  site: DeploySite;
  sha: string;
  /** `skipped`: this site was already triggered for this sha. */
  outcome: 'triggered' | 'skipped' | 'failed';
  /** POSTs sent by this call. */
  attempts: number;
}

export interface DeployHooks {
  /** Sites with a configured hook. */
  readonly sites: readonly DeploySite[];
  /** Triggers every configured site for a merge commit; resolves when each has an outcome. */
  trigger(sha: string, reason: string): Promise<DeployTriggerResult[]>;
  triggerSite(site: DeploySite, sha: string, reason: string): Promise<DeployTriggerResult>;
}

/** Reads retry-after in seconds; an HTTP date or a missing header gives null. */
function retryAfterMs(response: Response): number | null {
  const value = Number(response.headers.get('retry-after') ?? Number.NaN);
  return Number.isFinite(value) && value >= 0 ? value * 1000 : null;
}

/** Returns whether a POST that got `status` may succeed when sent again. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function createDeployHooks(options: DeployHooksOptions): DeployHooks {
  const { log, logger } = options;
  const now = options.now ?? (() => new Date());
  const retry = options.retry ?? DEFAULT_DEPLOY_RETRY;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const send = options.fetch ?? fetch;
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const sites = DEPLOY_SITES.filter((site) => options.hooks[site] !== undefined);
  // One trigger per site and sha at a time, so that a webhook and reconciliation reporting the
  // same merge together send one POST.
  const inFlight = new Map<string, Promise<DeployTriggerResult>>();

  async function post(
    site: DeploySite,
    url: string,
    sha: string,
    reason: string,
  ): Promise<DeployTriggerResult> {
    for (let attempt = 1; ; attempt += 1) {
      const started = Date.now();
      let status: number | null = null;
      let waitMs: number | null = null;
      let error: string | null = null;
      try {
        // The body carries the sha and reason for hosts that keep it. The hook URL is a secret,
        // so no log line contains it.
        const response = await send(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sha, reason, site }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = response.status;
        waitMs = retryAfterMs(response);
        await response.body?.cancel();
      } catch (caught) {
        error = errorMessage(caught);
      }
      const ok = status !== null && status >= 200 && status < 300;
      const retryable = !ok && (status === null || retryableStatus(status));
      const last = attempt >= retry.attempts || !retryable;
      const fields = { site, sha, attempt, status, error, ms: Date.now() - started, reason };
      if (ok) {
        await log.recordTriggered(site, sha, now());
        logger.info('deploy hook triggered', fields);
        return { site, sha, outcome: 'triggered', attempts: attempt };
      }
      if (last) {
        // Reconciliation sends it again only when the site's deployed commit URL is set.
        logger.error('deploy hook failed after the last attempt', {
          ...fields,
          hint: `set ${DEPLOYED_COMMIT_ENV[site]} so that reconciliation retries it`,
        });
        return { site, sha, outcome: 'failed', attempts: attempt };
      }
      const delay = Math.min(
        retry.maxDelayMs,
        Math.max(waitMs ?? 0, retry.initialDelayMs * 2 ** (attempt - 1)),
      );
      logger.warn('deploy hook attempt failed, will retry', { ...fields, retryInMs: delay });
      await sleep(delay);
    }
  }

  async function triggerSite(
    site: DeploySite,
    sha: string,
    reason: string,
  ): Promise<DeployTriggerResult> {
    const url = options.hooks[site];
    if (url === undefined) {
      throw new Error(
        `no deploy hook is configured for the ${site} site; set ${DEPLOY_HOOK_ENV[site]}`,
      );
    }
    const key = `${site} ${sha}`;
    const running = inFlight.get(key);
    if (running !== undefined) return running;
    const work = (async () => {
      if (await log.hasTriggered(site, sha)) {
        logger.info('deploy hook already triggered for this commit', { site, sha, reason });
        return { site, sha, outcome: 'skipped', attempts: 0 } satisfies DeployTriggerResult;
      }
      return post(site, url, sha, reason);
    })().finally(() => inFlight.delete(key));
    inFlight.set(key, work);
    return work;
  }

  return {
    sites,
    triggerSite,
    trigger: (sha, reason) => Promise.all(sites.map((site) => triggerSite(site, sha, reason))),
  };
}
