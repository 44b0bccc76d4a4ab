// Reconciliation repairs what lost webhooks and crashes leave behind. GitHub does not redeliver a
// failed webhook delivery by itself, so a merge or close that happened while the API was down
// would otherwise leave its receipt "proposed" forever and the sites without the comment.
//
// Each run compares the receipts last updated more than `minAgeMs` ago with the forge:
// - proposed, pull request no longer open: mark published (merged) or declined (closed), record
//   the merge and trigger the rebuild hook once per merge sha, and delete the comment branch.
// - received or dead, pull request open on the forge: record it as proposed. The worker crashed
//   after the forge opened it and before the store recorded it.
// Then it compares each deployed site's commit with the base branch head and rebuilds a site
// that lags.
//
// Forge requests per run: one per 100 open pull requests, one read per proposed receipt whose
// pull request is no longer open (at most `maxPullReads`), one delete per closed branch and one
// read of the base branch when a site is configured.
import { ForgeError, type ForgeClient, type PendingPullRequest } from '../forge/types.ts';
import type { CommentStore, StoredComment } from '../outbox/types.ts';
import type { Clock } from '../platform/clock.ts';
import { errorMessage, type Logger } from '../platform/logger.ts';
import type { SiteDeployment } from '../sites/deployments.ts';

/** Receipts updated more recently than this are left to the webhook and the worker. */
export const DEFAULT_RECONCILE_MIN_AGE_MS = 60_000;

/** Pull request reads per run; the receipts left over wait for the next run. */
export const DEFAULT_MAX_PULL_READS = 100;

export interface ReconcileOptions {
  store: CommentStore;
  forge: ForgeClient;
  clock: Clock;
  logger: Logger;
  /** Hook called once per merge commit that no webhook recorded, the same as the API's onMerged. */
  onMerged: (mergeSha: string) => void | Promise<void>;
  /** Deployed sites to compare with the base branch; none skips the comparison. */
  sites?: readonly SiteDeployment[];
  minAgeMs?: number;
  maxPullReads?: number;
}

export interface ReconcileSummary {
  /** Receipts compared with the forge. */
  checked: number;
  openPullRequests: number;
  /** Receipts moved from received or dead to proposed. */
  proposed: number;
  published: number;
  declined: number;
  /** Merge commits recorded by this run, each of which triggered onMerged. */
  mergesRecorded: number;
  branchesDeleted: number;
  /** Sites whose deployed commit differed from the base branch and that a rebuild was started for. */
  sitesRebuilt: number;
  /** Sites whose deployed commit could not be read. */
  sitesSkipped: number;
  /** Proposed receipts whose pull request the forge does not have. */
  missingPullRequests: number;
  /** Proposed receipts left for the next run because of maxPullReads or a rate limit. */
  deferred: number;
  errors: number;
}

function emptySummary(): ReconcileSummary {
  return {
    checked: 0,
    openPullRequests: 0,
    proposed: 0,
    published: 0,
    declined: 0,
    mergesRecorded: 0,
    branchesDeleted: 0,
    sitesRebuilt: 0,
    sitesSkipped: 0,
    missingPullRequests: 0,
    deferred: 0,
    errors: 0,
  };
}

/** Returns true for a forge error that carries a wait time, such as a rate limit. */
function asksToWait(error: unknown): boolean {
  return error instanceof ForgeError && error.retryAfterMs !== null;
}

/** Runs one reconciliation and logs its summary as one line. */
export async function reconcile(options: ReconcileOptions): Promise<ReconcileSummary> {
  const { store, forge, clock, logger } = options;
  const minAgeMs = options.minAgeMs ?? DEFAULT_RECONCILE_MIN_AGE_MS;
  const maxPullReads = options.maxPullReads ?? DEFAULT_MAX_PULL_READS;
  const summary = emptySummary();
  const started = clock.now();

  const receipts = await store.listUnsettled(new Date(started.getTime() - minAgeMs));
  const open = new Map<string, PendingPullRequest>();
  for (const pull of await forge.listPendingComments()) open.set(pull.commentId, pull);
  summary.openPullRequests = open.size;
  summary.checked = receipts.length;

  let pullReads = 0;
  let stopped = false;
  for (const receipt of receipts) {
    const pull = open.get(receipt.id);
    try {
      if (receipt.status !== 'proposed') {
        if (pull !== undefined) await recordProposed(receipt, pull);
        continue;
      }
      if (pull !== undefined || receipt.pullRequest === null) continue;
      if (stopped || pullReads >= maxPullReads) {
        summary.deferred += 1;
        continue;
      }
      pullReads += 1;
      await settleClosed(receipt, receipt.pullRequest.number);
    } catch (error) {
      summary.errors += 1;
      logger.error('reconciling a receipt failed', {
        commentId: receipt.id,
        status: receipt.status,
        error: errorMessage(error),
      });
      // A rate limit applies to every further request, so the rest waits for the next run.
      if (asksToWait(error)) stopped = true;
    }
  }

  if (!stopped && (options.sites?.length ?? 0) > 0) await compareSites(options.sites ?? []);

  logger.info('reconcile finished', {
    ...summary,
    ms: clock.now().getTime() - started.getTime(),
  });
  return summary;

  async function recordProposed(receipt: StoredComment, pull: PendingPullRequest): Promise<void> {
    await store.markProposed(receipt.id, { number: pull.number, url: pull.url }, clock.now());
    summary.proposed += 1;
    logger.warn('reconcile: receipt recorded as proposed', {
      commentId: receipt.id,
      previousStatus: receipt.status,
      pullRequest: pull.number,
    });
  }

  async function settleClosed(receipt: StoredComment, number: number): Promise<void> {
    const pull = await forge.getPullRequest(number);
    if (pull === null) {
      // NOTE: the receipt stays proposed and is read again on every run until staff decline it.
      summary.missingPullRequests += 1;
      logger.error('reconcile: the forge has no pull request for a proposed receipt', {
        commentId: receipt.id,
        pullRequest: number,
      });
      return;
    }
    // The listing and this read are not one snapshot; an open one is settled by a later run.
    if (pull.state === 'open') return;

    const now = clock.now();
    if (pull.merged) {
      await store.markPublished(receipt.id, now);
      summary.published += 1;
      logger.warn('reconcile: merged pull request had no webhook; receipt published', {
        commentId: receipt.id,
        pullRequest: number,
        mergeSha: pull.mergeSha,
      });
      if (pull.mergeSha !== null && (await store.recordMerge(pull.mergeSha, receipt.id, now))) {
        summary.mergesRecorded += 1;
        await options.onMerged(pull.mergeSha);
      }
    } else {
      if (await store.markDeclined(receipt.id, now)) summary.declined += 1;
      logger.warn('reconcile: closed pull request had no webhook; receipt declined', {
        commentId: receipt.id,
        pullRequest: number,
      });
    }
    // NOTE: the receipt is settled by now, so a failed delete is not retried by a later run.
    await forge.deleteBranch(pull.branch);
    summary.branchesDeleted += 1;
  }

  async function compareSites(sites: readonly SiteDeployment[]): Promise<void> {
    let head: string;
    try {
      head = await forge.baseBranchSha();
    } catch (error) {
      summary.errors += 1;
      logger.error('reconcile: reading the base branch failed', { error: errorMessage(error) });
      return;
    }
    for (const site of sites) {
      try {
        const deployed = await site.deployed.read();
        if (!deployed.known) {
          summary.sitesSkipped += 1;
          logger.info('reconcile: deployed commit unknown, site skipped', {
            site: site.name,
            reason: deployed.reason,
          });
          continue;
        }
        if (deployed.sha === head) continue;
        logger.warn('reconcile: site lags the base branch; rebuilding', {
          site: site.name,
          deployedSha: deployed.sha,
          headSha: head,
        });
        const reason = `reconcile: ${site.name} at ${deployed.sha ?? 'none'}`;
        if (await site.rebuild(head, reason)) summary.sitesRebuilt += 1;
      } catch (error) {
        summary.errors += 1;
        logger.error('reconcile: comparing a site failed', {
          site: site.name,
          error: errorMessage(error),
        });
      }
    }
  }
}
