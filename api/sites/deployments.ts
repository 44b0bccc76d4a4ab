// The deployed sites that reconciliation checks: where each one reports the commit it was built
// from, and how to rebuild it. The local builder stores its own commit. A hosted site reports it
// at a configured URL, and is rebuilt through its deploy hook.
import { errorMessage, type Logger } from '../platform/logger.ts';
import type { SiteBuilder } from './builder.ts';
import {
  DEPLOYED_COMMIT_ENV,
  type DeployHookConfig,
  type DeployHooks,
  type DeploySite,
} from './deploy-hooks.ts';

/**
 * The commit a site was built from. `sha` is null when nothing was deployed yet. `known: false`
 * means the commit cannot be read, and `reason` gives the cause.
 */
export type DeployedCommit = { known: true; sha: string | null } | { known: false; reason: string };

/** Reports the commit a deployed site was built from. */
export interface DeployedCommitSource {
  read(): Promise<DeployedCommit>;
}

/** One deployed site that reconciliation compares with the base branch. */
export interface SiteDeployment {
  /** Name for log lines, such as `public` or `local sites`. */
  name: string;
  deployed: DeployedCommitSource;
  /**
   * Starts a rebuild that picks up the base branch at `headSha` or later. Returns false when none
   * was started, because one was already triggered for `headSha` or the trigger failed.
   */
  rebuild(headSha: string, reason: string): Promise<boolean>;
}

/** Reads the commit of the last successful local build. */
export function builderDeployedCommit(builder: Pick<SiteBuilder, 'history'>): DeployedCommitSource {
  return {
    async read() {
      const built = builder.history().findLast((record) => record.ok);
      return { known: true, sha: built?.sha ?? null };
    },
  };
}

const SHA_PATTERN = /\b[0-9a-f]{40}\b/i;

/**
 * Reads a hosted site's commit from `url`: the first 40-digit hex sha in the response body, so a
 * plain `commit.txt` and a JSON document both work.
 */
export function urlDeployedCommit(options: {
  url: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}): DeployedCommitSource {
  const send = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async read() {
      let response: Response;
      try {
        response = await send(options.url, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (error) {
        return { known: false, reason: `${options.url} failed: ${errorMessage(error)}` };
      }
      const text = await response.text();
      if (!response.ok) {
        return { known: false, reason: `${options.url} returned HTTP ${response.status}` };
      }
      const match = SHA_PATTERN.exec(text);
      if (match === null) {
        return { known: false, reason: `${options.url} returned no 40-digit commit sha` };
      }
      return { known: true, sha: match[0].toLowerCase() };
    },
  };
}

/** Creates a source for a site whose commit cannot be read, with the reason to log. */
export function unknownDeployedCommit(reason: string): DeployedCommitSource {
  return { read: async () => ({ known: false, reason }) };
}

/** Wraps the local builder as one deployment of both sites, rebuilt in the background. */
export function builderDeployment(
  builder: Pick<SiteBuilder, 'history' | 'rebuild'>,
  logger: Logger,
): SiteDeployment {
  return {
    name: 'local sites',
    deployed: builderDeployedCommit(builder),
    async rebuild(headSha, reason) {
      builder.rebuild(reason).catch((error: unknown) => {
        logger.error('site rebuild failed', { sha: headSha, error: errorMessage(error) });
      });
      return true;
    },
  };
}

/** Each site with a deploy hook, read through its deployed commit URL when one is configured. */
export function hostedDeployments(
  config: DeployHookConfig,
  hooks: DeployHooks,
  fetchImpl?: typeof fetch,
): SiteDeployment[] {
  return hooks.sites.map((site: DeploySite) => {
    const url = config.deployedCommitUrls[site];
    const deployed =
      url === undefined
        ? unknownDeployedCommit(`${DEPLOYED_COMMIT_ENV[site]} is not set`)
        : urlDeployedCommit({ url, ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }) });
    return {
      name: site,
      deployed,
      async rebuild(headSha, reason) {
        const result = await hooks.triggerSite(site, headSha, reason);
        return result.outcome === 'triggered';
      },
    };
  });
}
