// Fault-injection harness: submits comments while the local forge fails calls at random and the
// API process is killed with SIGKILL and restarted, lets the outbox drain, then checks the forge's
// repository and pull requests against the response each submission got.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { parseCommentFile } from '../../api/content/front-matter.ts';
import { createOctokit, LOCAL_FORGE_SPACING } from '../../api/forge/github.ts';
import {
  startLocalForge,
  type FaultDecision,
  type FaultHook,
  type LocalForge,
} from '../../api/forge/local/index.ts';
import { commentIdFromBranch } from '../../api/forge/types.ts';
import type { Logger } from '../../api/platform/logger.ts';

const run = promisify(execFile);

const OWNER = 'marginalia';
const REPO = 'blog';
const BASE_BRANCH = 'main';
const FORGE_TOKEN = 'chaos-forge-token';
const POST_ID = 'hello-world';
/** Origins the API accepts submissions from; nothing listens there because they are only compared. */
const PUBLIC_SITE_URL = 'http://127.0.0.1:4321';
const INTERNAL_SITE_URL = 'http://127.0.0.1:4322';
const CHILD_SCRIPT = path.join(import.meta.dirname, 'api-child.ts');

const POST_FILE = `---
id: ${POST_ID}
title: "Hello, world"
date: 2026-01-05
visibility: public
comments: open
---

The first post.
`;

/** The ways a faulty call fails, picked with equal chance. */
const FAULTS: readonly FaultDecision[] = [
  { kind: 'fail', status: 500 },
  { kind: 'fail', status: 502 },
  { kind: 'fail', status: 503 },
  { kind: 'fail', status: 403, retryAfterSeconds: 1 },
  { kind: 'fail', status: 429, retryAfterSeconds: 1 },
  { kind: 'fail-after-effect', status: 504 },
  { kind: 'fail', status: 409 },
  { kind: 'fail', status: 422, message: 'Reference already exists' },
  { kind: 'drop-after-effect' },
];

export interface ChaosOptions {
  /** Comments submitted, each with its own text. */
  comments: number;
  /** Share of forge calls that fail, from 0 to 1. */
  failureRate: number;
  /** Times the API process is killed with SIGKILL and restarted. */
  kills: number;
  /** Seed of every random choice the harness makes; the same seed gives the same faults. */
  seed: number;
  logger: Logger;
  /** Clients submitting at the same time; 8 when absent. */
  concurrency?: number;
  /** How long the outbox may take to drain once faults stop, in milliseconds; 30 s plus 0.3 s per comment when absent. */
  drainTimeoutMs?: number;
  /** Folder for the forge, the outbox and the API's log; a temporary one when absent. */
  workDir?: string;
}

export interface ChaosCounts {
  submitted: number;
  /** Submissions that got a 202 response. */
  received: number;
  /** Submissions that got an error status. */
  rejected: number;
  /** Submissions whose connection closed before a response. */
  unknown: number;
  /** Unknown submissions found in a pull request. */
  unknownDelivered: number;
  /** Connections refused while the API was down; each was sent again, so none is in `submitted`. */
  refusedAndResent: number;
  pullRequests: number;
  commentBranches: number;
  forgeCalls: number;
  faultsInjected: number;
  kills: number;
}

export interface ChaosReport {
  seed: number;
  counts: ChaosCounts;
  /** Every mismatch between the responses and the forge's contents, or none on success. */
  differences: string[];
  durationMs: number;
  /** Kept when there are differences, so the API log and repository can be inspected. */
  workDir: string | null;
}

type Outcome =
  | { kind: 'received'; receipt: string }
  | { kind: 'rejected'; status: number }
  | { kind: 'unknown'; error: string };

interface Submission {
  index: number;
  text: string;
  outcome: Outcome | null;
}

/** Mulberry32: a small seeded generator, so that a failing run can be repeated. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function causeCode(error: unknown): string | null {
  if (!(error instanceof Error) || typeof error.cause !== 'object' || error.cause === null) {
    return null;
  }
  return 'code' in error.cause && typeof error.cause.code === 'string' ? error.cause.code : null;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = causeCode(error);
  return code === null ? error.message : `${error.message} (${code})`;
}

interface ApiProcess {
  url: string;
  port: number;
  child: ChildProcess;
}

/** Runs and restarts the API child process on one outbox folder and one port. */
function createApiSupervisor(env: Record<string, string>, log: WriteStream) {
  let current: ApiProcess | null = null;

  async function start(port: number): Promise<ApiProcess> {
    const child = spawn(process.execPath, [CHILD_SCRIPT], {
      env: { ...process.env, ...env, CHAOS_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr?.pipe(log, { end: false });
    const lines = createInterface({ input: child.stdout ?? process.stdin });
    const url = await new Promise<string>((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`the API child exited with code ${String(code)} before listening`));
      child.once('exit', onExit);
      lines.once('line', (line) => {
        child.off('exit', onExit);
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === 'object' && parsed !== null && 'url' in parsed) {
          resolve(String(parsed.url));
        } else {
          reject(new Error(`the API child printed ${line} instead of {"url": …}`));
        }
      });
    });
    current = { url, port: Number(new URL(url).port), child };
    return current;
  }

  async function kill(): Promise<void> {
    const running = current;
    if (running === null) return;
    current = null;
    if (running.child.exitCode !== null || running.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.child.once('exit', () => resolve()));
    running.child.kill('SIGKILL');
    await exited;
  }

  async function stop(): Promise<void> {
    const running = current;
    if (running === null) return;
    current = null;
    if (running.child.exitCode !== null || running.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.child.once('exit', () => resolve()));
    running.child.kill('SIGTERM');
    const timer = setTimeout(() => running.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  return { start, kill, stop, current: () => current };
}

async function submit(apiUrl: () => string, submission: Submission): Promise<'refused' | 'done'> {
  try {
    const response = await fetch(`${apiUrl()}/api/comments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: PUBLIC_SITE_URL },
      body: JSON.stringify({
        post: POST_ID,
        author: `Reader ${submission.index}`,
        text: submission.text,
      }),
    });
    const json: unknown = await response.json().catch(() => null);
    if (
      response.status === 202 &&
      typeof json === 'object' &&
      json !== null &&
      'receipt' in json &&
      typeof json.receipt === 'string'
    ) {
      submission.outcome = { kind: 'received', receipt: json.receipt };
    } else {
      submission.outcome = { kind: 'rejected', status: response.status };
    }
    return 'done';
  } catch (error) {
    // A refused connection never reached the API, so sending it again cannot make a duplicate.
    if (causeCode(error) === 'ECONNREFUSED') return 'refused';
    submission.outcome = { kind: 'unknown', error: describeError(error) };
    return 'done';
  }
}

interface HealthView {
  depth: number;
  deadLetters: number;
}

async function readHealth(apiUrl: string): Promise<HealthView | null> {
  try {
    const response = await fetch(`${apiUrl}/api/health`);
    const json: unknown = await response.json();
    if (
      typeof json === 'object' &&
      json !== null &&
      'outbox' in json &&
      typeof json.outbox === 'object' &&
      json.outbox !== null &&
      'depth' in json.outbox &&
      typeof json.outbox.depth === 'number' &&
      'deadLetters' in json &&
      typeof json.deadLetters === 'number'
    ) {
      return { depth: json.outbox.depth, deadLetters: json.deadLetters };
    }
    return null;
  } catch {
    return null;
  }
}

async function git(repoPath: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: repoPath, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Runs `task` over `items` with at most `limit` at once. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      if (item !== undefined) await task(item);
    }
  });
  await Promise.all(workers);
}

interface FoundFile {
  pull: number;
  path: string;
  commentId: string;
  body: string;
}

/** Reads every pull request and comment branch from the forge, with faults already off. */
async function readForge(forge: LocalForge) {
  const octokit = createOctokit({ baseUrl: forge.url, token: FORGE_TOKEN, ...LOCAL_FORGE_SPACING });
  const pulls = await octokit.paginate(octokit.rest.pulls.list, {
    owner: OWNER,
    repo: REPO,
    state: 'all',
    per_page: 100,
  });
  const refs = await git(forge.repoPath, [
    'for-each-ref',
    '--format=%(refname:short)',
    'refs/heads/comments/',
  ]);
  const branches = refs.split('\n').filter((line) => line !== '');

  const files: FoundFile[] = [];
  const pullFileCounts = new Map<number, number>();
  await eachLimited(pulls, 8, async (pull) => {
    const names = await git(forge.repoPath, [
      'diff',
      '--name-only',
      `${pull.base.sha}...${pull.head.sha}`,
    ]);
    const paths = names.split('\n').filter((line) => line !== '');
    pullFileCounts.set(pull.number, paths.length);
    for (const filePath of paths) {
      const text = await git(forge.repoPath, ['show', `${pull.head.sha}:${filePath}`]);
      const comment = parseCommentFile(text);
      files.push({ pull: pull.number, path: filePath, commentId: comment.id, body: comment.body });
    }
  });
  return { pulls, branches, files, pullFileCounts };
}

function normalizedBody(text: string): string {
  return text.replace(/\r\n/g, '\n').trim();
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = performance.now();
  const { logger } = options;
  const random = seededRandom(options.seed);
  const faultRandom = seededRandom(options.seed ^ 0x5bd1e995);
  const concurrency = options.concurrency ?? 8;
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000 + 300 * options.comments;
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(path.join(tmpdir(), 'marginalia-chaos-')));
  const contentDir = path.join(workDir, 'content');
  await mkdir(path.join(contentDir, 'posts'), { recursive: true });
  await writeFile(path.join(contentDir, 'posts', 'hello.md'), POST_FILE);

  let faultsOn = true;
  let forgeCalls = 0;
  let faultsInjected = 0;
  const faults: FaultHook = () => {
    forgeCalls += 1;
    if (!faultsOn || faultRandom() >= options.failureRate) return undefined;
    faultsInjected += 1;
    return FAULTS[Math.floor(faultRandom() * FAULTS.length)];
  };
  const forge = await startLocalForge({
    dataDir: path.join(workDir, 'forge'),
    owner: OWNER,
    repo: REPO,
    baseBranch: BASE_BRANCH,
    token: FORGE_TOKEN,
    seed: { directory: contentDir },
    faults,
  });

  const apiLog = createWriteStream(path.join(workDir, 'api.log'), { flags: 'a' });
  const supervisor = createApiSupervisor(
    {
      CHAOS_FORGE_URL: forge.url,
      CHAOS_FORGE_TOKEN: FORGE_TOKEN,
      CHAOS_OWNER: OWNER,
      CHAOS_REPO: REPO,
      CHAOS_BASE_BRANCH: BASE_BRANCH,
      CHAOS_PUBLIC_SITE_URL: PUBLIC_SITE_URL,
      CHAOS_INTERNAL_SITE_URL: INTERNAL_SITE_URL,
      CHAOS_DATA_DIR: path.join(workDir, 'api'),
      CHAOS_CONTENT_DIR: contentDir,
    },
    apiLog,
  );

  const differences: string[] = [];
  const submissions: Submission[] = Array.from({ length: options.comments }, (_, index) => ({
    index,
    text: `Chaos comment ${index} of run ${options.seed}.`,
    outcome: null,
  }));
  let refusedAndResent = 0;
  let kills = 0;

  try {
    const first = await supervisor.start(0);
    const port = first.port;
    let apiUrl = first.url;
    logger.info('chaos run started', { seed: options.seed, api: apiUrl, forge: forge.url });

    // Progress counts each submission that got a response and each comment delivered, so it runs from 0 to
    // 2 × comments. Kills fall between 5% and 85% of it, during submission or delivery, and
    // faults stop at 90%, so that most deliveries run under faults and the rest drains cleanly.
    const killPoints = Array.from({ length: options.kills }, () => 0.05 + 0.8 * random())
      .sort((a, b) => a - b)
      .map((share) => ({ share, delayMs: Math.floor(random() * 200) }));
    let done = 0;
    let receivedSoFar = 0;
    let delivered = 0;
    const progress = () => (done + delivered) / (2 * options.comments);

    const monitor = (async () => {
      while (faultsOn) {
        const health = await readHealth(apiUrl);
        if (health !== null) delivered = Math.max(delivered, receivedSoFar - health.depth);
        await sleep(100);
      }
    })();

    // Bounds the faulty phase, so that a stalled delivery ends in a report instead of a hang.
    const chaosUntil = performance.now() + drainTimeoutMs;
    const killer = (async () => {
      for (const point of killPoints) {
        while (progress() < point.share && performance.now() < chaosUntil) await sleep(10);
        await sleep(point.delayMs);
        await supervisor.kill();
        kills += 1;
        logger.info('API killed', { kill: kills, submissionsDone: done, delivered });
        apiUrl = (await supervisor.start(port)).url;
      }
    })();

    let nextIndex = 0;
    const clients = Array.from({ length: concurrency }, async () => {
      while (nextIndex < submissions.length) {
        const submission = submissions[nextIndex];
        nextIndex += 1;
        if (submission === undefined) continue;
        while ((await submit(() => apiUrl, submission)) === 'refused') {
          refusedAndResent += 1;
          await sleep(20);
        }
        if (submission.outcome?.kind === 'received') receivedSoFar += 1;
        done += 1;
      }
    });
    await Promise.all(clients);
    logger.info('submissions finished', { submitted: submissions.length, received: receivedSoFar });
    await killer;
    while (progress() < 0.9 && performance.now() < chaosUntil) await sleep(50);

    faultsOn = false;
    await monitor;
    logger.info('faults off; waiting for the outbox to drain', { kills });
    const deadline = performance.now() + drainTimeoutMs;
    let health: HealthView | null = null;
    while (performance.now() < deadline) {
      health = await readHealth(apiUrl);
      if (health !== null && health.depth === 0) break;
      await sleep(200);
    }
    if (health === null || health.depth !== 0) {
      differences.push(
        `outbox did not drain within ${drainTimeoutMs} ms: ${health === null ? 'health unreadable' : `${health.depth} comments still waiting`}`,
      );
    }
    if (health !== null && health.deadLetters !== 0) {
      differences.push(`${health.deadLetters} comments became dead letters`);
    }
    await supervisor.stop();

    const found = await readForge(forge);
    const counts: ChaosCounts = {
      submitted: submissions.length,
      received: 0,
      rejected: 0,
      unknown: 0,
      unknownDelivered: 0,
      refusedAndResent,
      pullRequests: found.pulls.length,
      commentBranches: found.branches.length,
      forgeCalls,
      faultsInjected,
      kills,
    };
    compare(submissions, found, counts, differences);
    const report: ChaosReport = {
      seed: options.seed,
      counts,
      differences,
      durationMs: Math.round(performance.now() - started),
      workDir: differences.length === 0 ? null : workDir,
    };
    return report;
  } finally {
    await supervisor.stop();
    await forge.close();
    await new Promise<void>((resolve) => apiLog.end(() => resolve()));
    if (ownWorkDir && differences.length === 0) {
      await rm(workDir, { recursive: true, force: true });
    }
  }
}

function compare(
  submissions: readonly Submission[],
  found: Awaited<ReturnType<typeof readForge>>,
  counts: ChaosCounts,
  differences: string[],
): void {
  const byText = new Map(submissions.map((item) => [normalizedBody(item.text), item]));
  const filesById = new Map<string, FoundFile[]>();
  const filesBySubmission = new Map<number, FoundFile[]>();
  for (const file of found.files) {
    filesById.set(file.commentId, [...(filesById.get(file.commentId) ?? []), file]);
    const submission = byText.get(normalizedBody(file.body));
    if (submission === undefined) {
      differences.push(`pull #${file.pull} holds ${file.path}, whose text no client submitted`);
      continue;
    }
    filesBySubmission.set(submission.index, [
      ...(filesBySubmission.get(submission.index) ?? []),
      file,
    ]);
  }

  for (const [id, files] of filesById) {
    if (files.length > 1) {
      const where = files.map((file) => `#${file.pull} ${file.path}`).join(', ');
      differences.push(`comment ${id} appears ${files.length} times: ${where}`);
    }
  }
  for (const [pull, fileCount] of found.pullFileCounts) {
    if (fileCount !== 1) differences.push(`pull #${pull} changes ${fileCount} files instead of 1`);
  }

  for (const submission of submissions) {
    const files = filesBySubmission.get(submission.index) ?? [];
    const outcome = submission.outcome;
    const label = `submission ${submission.index}`;
    if (outcome === null) {
      differences.push(`${label} has no recorded outcome`);
    } else if (outcome.kind === 'received') {
      counts.received += 1;
      if (files.length === 0) {
        differences.push(`${label} (receipt ${outcome.receipt}) was received but is in no pull`);
      } else if (files.length > 1) {
        differences.push(`${label} (receipt ${outcome.receipt}) is in ${files.length} files`);
      } else if (files[0]?.commentId !== outcome.receipt) {
        differences.push(
          `${label} was received as ${outcome.receipt} but proposed as ${files[0]?.commentId}`,
        );
      }
    } else if (outcome.kind === 'rejected') {
      counts.rejected += 1;
      if (files.length > 0) {
        differences.push(`${label} was rejected with ${outcome.status} but is in a pull`);
      }
    } else {
      counts.unknown += 1;
      if (files.length === 1) counts.unknownDelivered += 1;
      if (files.length > 1) {
        differences.push(
          `${label} (connection lost: ${outcome.error}) is in ${files.length} files`,
        );
      }
    }
  }

  const pullBranches = new Set(found.pulls.map((pull) => pull.head.ref));
  for (const branch of found.branches) {
    if (commentIdFromBranch(branch) === null) continue;
    if (!pullBranches.has(branch)) differences.push(`branch ${branch} has no pull request`);
  }
  const branchCounts = new Map<string, number>();
  for (const pull of found.pulls) {
    branchCounts.set(pull.head.ref, (branchCounts.get(pull.head.ref) ?? 0) + 1);
  }
  for (const [branch, count] of branchCounts) {
    if (count > 1) differences.push(`branch ${branch} has ${count} pull requests`);
  }
}
