// Merge to both sites rebuilt, on the local default with the sample blog: the whole local stack
// (startLocalStack) on loopback. Each round submits one public comment, waits until it is
// proposed, and approves it through the staff API. The clock runs from the approve request until
// the builder records a finished build of the merge commit. A second time is taken when the
// public post page shows the comment.
//
//   node test/bench/rebuild.ts [--rounds 3] [--json-out FILE]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startLocalStack } from '../../api/node/local-stack.ts';
import type { BuildRecord } from '../../api/sites/builder.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import {
  figure,
  median,
  numberOption,
  postJson,
  receiptStatus,
  report,
  round,
  runMain,
  sampleContentDir,
  stringField,
  waitFor,
} from './common.ts';

const POST = { id: 'welcome', path: '/posts/welcome-to-marginalia/' };

interface Round {
  approveMs: number;
  builtMs: number;
  visibleMs: number;
  buildRecordMs: number;
}

async function main(): Promise<void> {
  const rounds = numberOption(process.argv, '--rounds', 3);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-bench-rebuild-'));
  const logs: string[] = [];
  const stack = await startLocalStack({
    dataDir,
    seedContentDir: sampleContentDir,
    ports: { forge: 0, api: 0, public: 0, internal: 0 },
    rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
    logger: createJsonLogger(
      (line) => logs.push(line),
      () => new Date(),
    ),
  });
  const results: Round[] = [];
  let firstBuildMs = 0;
  try {
    const first = await stack.firstBuild;
    if (!first.ok) throw new Error(`the first build failed:\n${first.error ?? ''}`);
    firstBuildMs = first.ms;

    for (let index = 0; index < rounds; index += 1) {
      const marker = `rebuild-bench-${Date.now().toString(36)}-${index}`;
      const submitted = await postJson(
        `${stack.urls.api}/api/comments`,
        {
          post: POST.id,
          author: 'Rebuild bench',
          text: `Comment ${marker} for timing a rebuild.`,
        },
        { origin: stack.urls.public },
      );
      const receipt = stringField(submitted.body, 'receipt');
      if (submitted.status !== 202 || receipt === null) {
        throw new Error(`submitting the comment returned ${submitted.status}, expected 202`);
      }
      await waitFor(
        `receipt ${receipt} to read "proposed"`,
        async () => ((await receiptStatus(stack.urls.api, receipt)) === 'proposed' ? true : null),
        30_000,
      );

      const started = performance.now();
      const approved = await postJson(
        `${stack.urls.api}/api/staff/comments/${receipt}/approve`,
        {},
        { authorization: `Bearer ${stack.staffToken}` },
      );
      const approveMs = performance.now() - started;
      const mergeSha = stringField(approved.body, 'mergeSha');
      if (approved.status !== 200 || mergeSha === null) {
        throw new Error(`approving ${receipt} returned ${approved.status} without a merge sha`);
      }
      const pageUrl = `${stack.urls.public}${POST.path}`;
      let builtMs = 0;
      let visibleMs = 0;
      let record: BuildRecord | null = null;
      await waitFor(
        'the merge to be built and the comment to show on the public post',
        async () => {
          if (record === null) {
            record = stack.builder.history().find((r) => r.sha === mergeSha) ?? null;
            if (record !== null) {
              if (!record.ok) throw new Error(`the build of ${mergeSha} failed:\n${record.error}`);
              builtMs = performance.now() - started;
            }
          }
          if (visibleMs === 0) {
            const page = await fetch(pageUrl).then((response) => response.text());
            if (page.includes(marker)) visibleMs = performance.now() - started;
          }
          return record !== null && visibleMs !== 0 ? true : null;
        },
        120_000,
        50,
      );
      const buildRecordMs = stack.builder.history().find((r) => r.sha === mergeSha)?.ms ?? 0;
      results.push({ approveMs, builtMs, visibleMs, buildRecordMs });
      console.log(
        `round ${index + 1}: approve answered in ${Math.round(approveMs)} ms, build of ` +
          `${mergeSha.slice(0, 8)} recorded at ${Math.round(builtMs)} ms, comment on the ` +
          `public page at ${Math.round(visibleMs)} ms (the build itself took ${buildRecordMs} ms)`,
      );
    }
  } finally {
    await stack.close();
    await rm(dataDir, { recursive: true, force: true });
  }

  const seconds = (ms: number) => round(ms / 1000, 2);
  report({
    bench: 'rebuild',
    method:
      `startLocalStack on loopback with the sample blog (content/). ${rounds} rounds, one after ` +
      'another: submit a public comment, wait until it is proposed, then time from the staff ' +
      'approve request (POST /api/staff/comments/:id/approve) until the site builder records a ' +
      'finished build of the merge commit (both variants), and until the public post page served ' +
      'by the stack contains the comment.',
    figures: [
      figure(
        'merge to both sites rebuilt, median',
        seconds(median(results.map((r) => r.builtMs))),
        's',
        { below: 15 },
      ),
      figure(
        'merge to comment on the public page, median',
        seconds(median(results.map((r) => r.visibleMs))),
        's',
      ),
      figure('first build at start (not a merge)', seconds(firstBuildMs), 's'),
    ],
    notes: results.map(
      (r, index) =>
        `round ${index + 1}: built ${seconds(r.builtMs)} s, visible ${seconds(r.visibleMs)} s, ` +
        `approve request ${Math.round(r.approveMs)} ms, builder's own build time ${seconds(r.buildRecordMs)} s`,
    ),
  });
}

runMain(main);
