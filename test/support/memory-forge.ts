// A test double of ForgeClient that keeps pull requests in memory. It follows the interface's
// contract (proposeComment is idempotent by comment id) and records every call, and tests can
// make the next calls fail. End-to-end tests use the real local forge instead.
import {
  commentBranch,
  type CommentProposal,
  type ForgeClient,
  type MergeResult,
  type PendingPullRequest,
  type PullRequestRef,
  type PullRequestStatus,
} from '../../api/forge/types.ts';

export interface MemoryPullRequest extends PendingPullRequest {
  state: 'open' | 'merged' | 'closed';
  proposal: CommentProposal;
  mergeSha: string | null;
}

export interface ForgeCall {
  method: keyof ForgeClient;
  argument: string | number;
}

export interface MemoryForge extends ForgeClient {
  readonly pulls: MemoryPullRequest[];
  readonly calls: ForgeCall[];
  readonly deletedBranches: string[];
  /** Head of the base branch: INITIAL_BASE_SHA, then the sha of each merge. */
  readonly baseSha: string;
  /** Makes the next calls of `method` throw these errors, one per call, in order. */
  failNext(method: keyof ForgeClient, ...errors: Error[]): void;
}

/** Base branch head of a memory forge before its first merge. */
export const INITIAL_BASE_SHA = '0'.repeat(40);

export function createMemoryForge(): MemoryForge {
  const pulls: MemoryPullRequest[] = [];
  const calls: ForgeCall[] = [];
  const deletedBranches: string[] = [];
  const failures = new Map<keyof ForgeClient, Error[]>();
  let baseSha = INITIAL_BASE_SHA;

  function enter(method: keyof ForgeClient, argument: string | number): void {
    calls.push({ method, argument });
    const error = failures.get(method)?.shift();
    if (error !== undefined) throw error;
  }

  function find(number: number): MemoryPullRequest {
    const pull = pulls.find((item) => item.number === number);
    if (pull === undefined) throw new Error(`memory forge: no pull request #${number}`);
    return pull;
  }

  function ref(pull: MemoryPullRequest): PullRequestRef {
    return { number: pull.number, url: pull.url, branch: pull.branch };
  }

  return {
    pulls,
    calls,
    deletedBranches,
    get baseSha() {
      return baseSha;
    },
    failNext(method, ...errors) {
      failures.set(method, [...(failures.get(method) ?? []), ...errors]);
    },
    async checkAccess() {
      enter('checkAccess', '');
      return {
        ok: true,
        checks: [{ name: 'credentials', ok: true, detail: 'memory forge' }],
      };
    },
    async proposeComment(proposal) {
      enter('proposeComment', proposal.commentId);
      const existing = pulls.find((item) => item.commentId === proposal.commentId);
      if (existing !== undefined) return ref(existing);
      const number = pulls.length + 1;
      const pull: MemoryPullRequest = {
        number,
        url: `http://127.0.0.1:9/pulls/${number}`,
        branch: commentBranch(proposal.commentId),
        commentId: proposal.commentId,
        title: proposal.title,
        createdAt: new Date(0).toISOString(),
        state: 'open',
        proposal,
        mergeSha: null,
      };
      pulls.push(pull);
      return ref(pull);
    },
    async listPendingComments() {
      enter('listPendingComments', '');
      return pulls
        .filter((pull) => pull.state === 'open')
        .map(({ number, url, branch, commentId, title, createdAt }) => ({
          number,
          url,
          branch,
          commentId,
          title,
          createdAt,
        }));
    },
    async readFile(path, branch) {
      enter('readFile', path);
      const pull = pulls.find((item) => item.branch === branch && item.proposal.path === path);
      return pull === undefined ? null : pull.proposal.content;
    },
    async mergePullRequest(number): Promise<MergeResult> {
      enter('mergePullRequest', number);
      const pull = find(number);
      if (pull.state === 'closed') throw new Error(`memory forge: #${number} is closed`);
      pull.state = 'merged';
      pull.mergeSha ??= number.toString(16).padStart(40, 'a');
      baseSha = pull.mergeSha;
      return { merged: true, sha: pull.mergeSha };
    },
    async closePullRequest(number) {
      enter('closePullRequest', number);
      const pull = find(number);
      if (pull.state === 'open') pull.state = 'closed';
    },
    async deleteBranch(branch) {
      enter('deleteBranch', branch);
      deletedBranches.push(branch);
    },
    async getPullRequest(number): Promise<PullRequestStatus | null> {
      enter('getPullRequest', number);
      const pull = pulls.find((item) => item.number === number);
      if (pull === undefined) return null;
      return {
        ...ref(pull),
        state: pull.state === 'open' ? 'open' : 'closed',
        merged: pull.state === 'merged',
        mergeSha: pull.mergeSha,
      };
    },
    async baseBranchSha() {
      enter('baseBranchSha', '');
      return baseSha;
    },
  };
}
