// Forge API calls per comment under quiet load: the API with its delivery worker and the GitHub
// client, against the local forge, one comment at a time. Every HTTP request the client sends is
// counted at its fetch, so the figure is the traffic GitHub would see.
//
//   node test/bench/forge-calls.ts [--comments 20] [--json-out FILE]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createGitHubForge, createOctokit, LOCAL_FORGE_SPACING } from '../../api/forge/github.ts';
import { startLocalForge } from '../../api/forge/local/index.ts';
import { startApiServer } from '../../api/node/server.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  BENCH_API_CONFIG,
  BENCH_PUBLIC_ORIGIN,
  figure,
  numberOption,
  postJson,
  receiptStatus,
  report,
  round,
  runMain,
  sampleContentDir,
  sleep,
  stringField,
  waitFor,
} from './common.ts';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Time left after a comment is proposed, so that requests the worker sends late still count. */
const SETTLE_MS = 300;

interface Call {
  method: string;
  path: string;
  status: number;
}

async function main(): Promise<void> {
  const comments = numberOption(process.argv, '--comments', 20);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-bench-forge-calls-'));
  const logs: string[] = [];
  const logger = createJsonLogger(
    (line) => logs.push(line),
    () => new Date(),
  );
  const calls: Call[] = [];
  const countingFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const response = await fetch(request);
    calls.push({
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
    });
    return response;
  };

  const token = 'bench-forge-token';
  const forge = await startLocalForge({
    dataDir: path.join(dataDir, 'forge'),
    owner: 'marginalia',
    repo: 'blog',
    baseBranch: 'main',
    token,
    seed: { directory: sampleContentDir, prefix: 'content' },
  });
  const client = createGitHubForge({
    octokit: createOctokit({
      baseUrl: forge.url,
      token,
      fetch: countingFetch,
      ...LOCAL_FORGE_SPACING,
    }),
    owner: 'marginalia',
    repo: 'blog',
    baseBranch: 'main',
    committer: { name: 'Marginalia', email: 'marginalia@localhost' },
    logger,
  });
  const api = await startApiServer({
    config: BENCH_API_CONFIG,
    forge: client,
    dataDir: path.join(dataDir, 'api'),
    contentDir: sampleContentDir,
    logger,
  });

  const perComment: Call[][] = [];
  try {
    for (let index = 0; index < comments; index += 1) {
      const before = calls.length;
      const response = await postJson(
        `${api.url}/api/comments`,
        {
          post: 'welcome',
          author: `Bench reader ${index}`,
          text: `Quiet-load comment number ${index}, sent at ${new Date().toISOString()}.`,
        },
        { origin: BENCH_PUBLIC_ORIGIN },
      );
      const receipt = stringField(response.body, 'receipt');
      if (response.status !== 202 || receipt === null) {
        throw new Error(`submitting comment ${index} returned ${response.status}, expected 202`);
      }
      await waitFor(
        `comment ${receipt} to be proposed`,
        async () => ((await receiptStatus(api.url, receipt)) === 'proposed' ? true : null),
        30_000,
      );
      await sleep(SETTLE_MS);
      perComment.push(calls.slice(before));
    }
  } finally {
    await api.close();
    await forge.close();
    await rm(dataDir, { recursive: true, force: true });
  }

  const requests = perComment.map((list) => list.length);
  const writes = perComment.map((list) => list.filter((c) => WRITE_METHODS.has(c.method)).length);
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const failed = perComment.flat().filter((call) => call.status >= 400).length;
  const shapes = new Map<string, number>();
  for (const list of perComment) {
    const shape = list.map((call) => `${call.method} ${genericPath(call.path)}`).join(', ');
    shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
  }

  report({
    bench: 'forge-calls',
    method:
      `${comments} comments submitted one at a time as JSON to the API (startApiServer) on a public ` +
      'post; the delivery worker proposes each through the GitHub client (createGitHubForge, with ' +
      'the retry and throttling plugins, no write spacing) to the local forge. Requests are counted at the Octokit fetch from the submission until ' +
      `${SETTLE_MS} ms after the receipt reads "proposed". Writes are POST, PUT, PATCH and DELETE.`,
    figures: [
      figure('requests per comment, max', Math.max(...requests), 'requests', { max: 4 }),
      figure('requests per comment, mean', round(mean(requests), 2), 'requests'),
      figure('writes per comment, max', Math.max(...writes), 'writes', { max: 3 }),
      figure('writes per comment, mean', round(mean(writes), 2), 'writes'),
      figure('responses with status >= 400', failed, 'responses'),
    ],
    notes: [...shapes].map(([shape, count]) => `${count} x [${shape}]`),
  });
}

/** Replaces the comment-specific parts of a forge path, so that equal call sequences group. */
function genericPath(pathname: string): string {
  return pathname
    .replace(/^\/repos\/[^/]+\/[^/]+/, '')
    .replace(/\/contents\/.*$/, '/contents/:path')
    .replace(/\/pulls\/\d+/, '/pulls/:number');
}

runMain(main);
