// `npm run replay:corpus [-- CORPUS.json] [--keep]`: runs a corpus of real reader comments
// through the whole local pipeline. It creates the corpus's posts in a scratch copy of the local
// forge, submits every comment through the public API (replies after their parents), waits for
// every pull request, merges them all through the staff API, rebuilds both sites, and then
// checks the repository: one file per comment, body byte for byte, one merged pull request each.
//
// The corpus is a JSON array of { id, post, parent, author, message }, with a posts file beside
// it (made-mistakes-posts.json: { slug, title }). Its default location is ../shared/corpus.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createOctokit, LOCAL_FORGE_SPACING } from '../forge/github.ts';
import { parseCommentFile } from '../content/front-matter.ts';
import { git } from '../sites/git.ts';
import { createJsonLogger, type Logger } from '../platform/logger.ts';
import { startLocalStack, type LocalStack } from '../node/local-stack.ts';

export interface CorpusComment {
  id: string;
  post: string;
  parent: string | null;
  author: string;
  message: string;
}

export interface CorpusPost {
  slug: string;
  title: string;
}

export interface ReplayReport {
  comments: number;
  receipts: number;
  pullRequestsMerged: number;
  filesOnBaseBranch: number;
  bodiesIdentical: number;
  /** Corpus comment id → receipt (the comment id in the repository). */
  receiptFor: Map<string, string>;
  timings: {
    submitMs: number;
    deliverMs: number;
    mergeMs: number;
    buildMs: number;
    totalMs: number;
  };
  problems: string[];
}

export interface ReplayOptions {
  comments: CorpusComment[];
  posts: CorpusPost[];
  /** Scratch folder for the forge, outbox and builds. */
  dataDir: string;
  logger: Logger;
  progress?: (line: string) => void;
  /** Gives up waiting for deliveries or webhooks after this long. */
  timeoutMs?: number;
}

export const DEFAULT_CORPUS = path.resolve(
  import.meta.dirname,
  '../../../shared/corpus/made-mistakes-comments.json',
);

export async function loadCorpus(
  commentsFile: string,
): Promise<{ comments: CorpusComment[]; posts: CorpusPost[] }> {
  const postsFile = path.join(path.dirname(commentsFile), 'made-mistakes-posts.json');
  const comments = JSON.parse(await readFile(commentsFile, 'utf8')) as CorpusComment[];
  const posts = JSON.parse(await readFile(postsFile, 'utf8')) as CorpusPost[];
  return { comments, posts };
}

/** Writes one public post per corpus post, with comments open and the slug as its id. */
async function writeSeedPosts(contentDir: string, posts: CorpusPost[]): Promise<void> {
  await mkdir(path.join(contentDir, 'posts'), { recursive: true });
  await mkdir(path.join(contentDir, 'comments'), { recursive: true });
  await Promise.all(
    posts.map((post, index) => {
      const day = String(1 + (index % 28)).padStart(2, '0');
      const text = [
        '---',
        `id: ${JSON.stringify(post.slug)}`,
        `title: ${JSON.stringify(post.title)}`,
        `date: "2019-01-${day}"`,
        'visibility: "public"',
        'comments: "open"',
        '---',
        '',
        `Replayed post “${post.title}”, which carries the comments of the corpus.`,
        '',
      ].join('\n');
      return writeFile(path.join(contentDir, 'posts', `${post.slug}.md`), text);
    }),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function postJson(url: string, body: object, headers: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitFor(
  label: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(200);
  }
}

/** Submits, delivers, merges and checks the corpus on a stack that is already running. */
export async function replayOnStack(
  stack: LocalStack,
  options: Omit<ReplayOptions, 'dataDir' | 'logger'>,
): Promise<ReplayReport> {
  const say = options.progress ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const problems: string[] = [];
  const receiptFor = new Map<string, string>();
  const started = Date.now();

  // Submitting in id order puts every parent before its replies: ids follow the dates.
  const ordered = [...options.comments].sort((a, b) => a.id.localeCompare(b.id));
  for (const [index, comment] of ordered.entries()) {
    const parent = comment.parent === null ? undefined : receiptFor.get(comment.parent);
    if (comment.parent !== null && parent === undefined) {
      problems.push(`${comment.id}: its parent ${comment.parent} has no receipt`);
      continue;
    }
    const result = await postJson(
      `${stack.urls.api}/api/comments`,
      {
        post: comment.post,
        author: comment.author,
        text: comment.message,
        ...(parent ? { parent } : {}),
      },
      { origin: stack.urls.public },
    );
    const receipt = result.body['receipt'];
    if (result.status !== 202 || typeof receipt !== 'string') {
      problems.push(
        `${comment.id}: submission answered ${result.status} ${JSON.stringify(result.body)}`,
      );
      continue;
    }
    receiptFor.set(comment.id, receipt);
    if ((index + 1) % 100 === 0) say(`submitted ${index + 1} of ${ordered.length}`);
  }
  const submitted = Date.now();
  say(
    `submitted ${receiptFor.size} comments in ${submitted - started} ms; waiting for pull requests`,
  );

  const receipts = [...receiptFor.values()];
  const pullRequests = new Map<string, number>();
  await waitFor('every comment to become a pull request', timeoutMs, async () => {
    for (const comment of await stack.api.store.getMany(receipts)) {
      if (comment.pullRequest !== null) pullRequests.set(comment.id, comment.pullRequest.number);
    }
    return pullRequests.size === receipts.length;
  });
  const delivered = Date.now();
  say(`${pullRequests.size} pull requests open after ${delivered - submitted} ms; merging`);

  for (const [index, receipt] of receipts.entries()) {
    const response = await fetch(`${stack.urls.api}/api/staff/comments/${receipt}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.staffToken}`, accept: 'application/json' },
    });
    if (response.status !== 200) {
      problems.push(`${receipt}: approve answered ${response.status} ${await response.text()}`);
    }
    if ((index + 1) % 100 === 0) say(`merged ${index + 1} of ${receipts.length}`);
  }
  await stack.forge.webhooksIdle();
  await waitFor('every receipt to read published', timeoutMs, async () => {
    const stored = await stack.api.store.getMany(receipts);
    return stored.every((comment) => comment.status === 'published');
  });
  const merged = Date.now();
  say(`merged in ${merged - delivered} ms; rebuilding both sites`);

  const build = await stack.builder.rebuild('corpus replay');
  if (!build.ok) problems.push(`site build failed: ${build.error ?? ''}`);
  const built = Date.now();

  // The repository: one file per comment on the base branch, each body byte for byte.
  const byReceipt = new Map(ordered.map((comment) => [receiptFor.get(comment.id), comment]));
  const listing = await git(
    ['ls-tree', '-r', '--name-only', 'main', 'content/comments'],
    stack.forge.repoPath,
  );
  const files = listing.split('\n').filter((line) => line.endsWith('.md'));
  let bodiesIdentical = 0;
  for (const file of files) {
    const stored = parseCommentFile(await git(['show', `main:${file}`], stack.forge.repoPath));
    const original = byReceipt.get(stored.id);
    if (original === undefined) continue;
    if (stored.body === original.message.normalize('NFC')) bodiesIdentical += 1;
    else problems.push(`${original.id}: body in ${file} differs from the submitted text`);
  }

  const octokit = createOctokit({
    baseUrl: stack.urls.forge,
    token: stack.forgeToken,
    ...LOCAL_FORGE_SPACING,
  });
  const closed = await octokit.paginate(octokit.rest.pulls.list, {
    owner: 'marginalia',
    repo: 'blog',
    state: 'closed',
    per_page: 100,
  });
  const pullRequestsMerged = closed.filter(
    (pull) => pull.merged_at !== null && pull.head.ref.startsWith('comments/'),
  ).length;

  return {
    comments: options.comments.length,
    receipts: receiptFor.size,
    pullRequestsMerged,
    filesOnBaseBranch: files.length,
    bodiesIdentical,
    receiptFor,
    timings: {
      submitMs: submitted - started,
      deliverMs: delivered - submitted,
      mergeMs: merged - delivered,
      buildMs: built - merged,
      totalMs: built - started,
    },
    problems,
  };
}

/** Starts a scratch stack seeded with the corpus's posts; the caller closes it. */
export async function startCorpusStack(
  posts: CorpusPost[],
  dataDir: string,
  logger: Logger,
): Promise<LocalStack> {
  const contentDir = path.join(dataDir, 'seed', 'content');
  await writeSeedPosts(contentDir, posts);
  const stack = await startLocalStack({
    dataDir: path.join(dataDir, 'stack'),
    seedContentDir: contentDir,
    ports: { forge: 0, api: 0, public: 0, internal: 0 },
    rebuildOnMerge: false,
    logger,
    // Every corpus comment comes from this one address, up to 65 of them on one post, within
    // about a minute: far above a blog's limits, which the replay does not test.
    rateLimits: { addressPerMinute: 100_000, addressPerHour: 100_000, postPerHour: 100_000 },
  });
  const first = await stack.firstBuild;
  if (!first.ok) {
    await stack.close();
    throw new Error(`the first build of the corpus sites failed:\n${first.error ?? ''}`);
  }
  return stack;
}

async function main(args: string[]): Promise<void> {
  const keep = args.includes('--keep');
  const corpusFile = path.resolve(args.find((arg) => !arg.startsWith('--')) ?? DEFAULT_CORPUS);
  const { comments, posts } = await loadCorpus(corpusFile);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-replay-'));
  const logFile = path.join(dataDir, 'replay.log');
  const logLines: string[] = [];
  const logger = createJsonLogger(
    (line) => logLines.push(line),
    () => new Date(),
  );
  console.log(`Replaying ${comments.length} comments on ${posts.length} posts in ${dataDir}`);

  const stack = await startCorpusStack(posts, dataDir, logger);
  try {
    const report = await replayOnStack(stack, {
      comments,
      posts,
      progress: (line) => console.log(line),
    });
    console.log(`
comments in corpus       ${report.comments}
receipts                 ${report.receipts}
pull requests merged     ${report.pullRequestsMerged}
files on the base branch ${report.filesOnBaseBranch}
bodies byte for byte     ${report.bodiesIdentical}
time: submit ${report.timings.submitMs} ms, deliver ${report.timings.deliverMs} ms, merge ${report.timings.mergeMs} ms, build ${report.timings.buildMs} ms, total ${report.timings.totalMs} ms`);
    if (keep) {
      console.log(
        `Sites kept running: public ${stack.urls.public}/ internal ${stack.urls.internal}/`,
      );
    }
    for (const problem of report.problems) console.error(`problem: ${problem}`);
    const complete =
      report.problems.length === 0 &&
      [
        report.receipts,
        report.pullRequestsMerged,
        report.filesOnBaseBranch,
        report.bodiesIdentical,
      ].every((count) => count === report.comments);
    if (!complete) process.exitCode = 1;
  } finally {
    if (keep || process.exitCode === 1) {
      await writeFile(logFile, logLines.join(''));
      console.log(`Kept ${dataDir}; the pipeline's log is ${logFile}`);
    }
    if (!keep) {
      await stack.close();
      if (process.exitCode !== 1) await rm(dataDir, { recursive: true, force: true });
    }
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
