// The API process of the accept benchmark: startApiServer with its SQLite outbox and delivery
// worker, whose GitHub client waits `--forge-latency-ms` before every request to the forge. It
// prints one JSON line {"url": ...} on stdout when listening, and closes on SIGTERM.
//
//   node test/bench/accept-server.ts --forge-url URL --forge-token TOKEN --data-dir DIR
//     [--forge-latency-ms 100]
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createGitHubForge, createOctokit, LOCAL_FORGE_SPACING } from '../../api/forge/github.ts';
import { startApiServer } from '../../api/node/server.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { BENCH_API_CONFIG, numberOption, optionValue, sampleContentDir, sleep } from './common.ts';

function requiredOption(name: string): string {
  const value = optionValue(process.argv, name);
  if (value === null) throw new Error(`${name} is missing; accept.ts passes it.`);
  return value;
}

async function main(): Promise<void> {
  const forgeUrl = requiredOption('--forge-url');
  const token = requiredOption('--forge-token');
  const dataDir = requiredOption('--data-dir');
  const latencyMs = numberOption(process.argv, '--forge-latency-ms', 100);

  const logStream = createWriteStream(path.join(dataDir, 'api.log'));
  const logger = createJsonLogger(
    (line) => logStream.write(line),
    () => new Date(),
  );
  const slowFetch: typeof fetch = async (input, init) => {
    await sleep(latencyMs);
    return fetch(input, init);
  };
  const forge = createGitHubForge({
    octokit: createOctokit({ baseUrl: forgeUrl, token, fetch: slowFetch, ...LOCAL_FORGE_SPACING }),
    owner: 'marginalia',
    repo: 'blog',
    baseBranch: 'main',
    committer: { name: 'Marginalia', email: 'marginalia@localhost' },
    logger,
  });
  const api = await startApiServer({
    config: BENCH_API_CONFIG,
    forge,
    dataDir: path.join(dataDir, 'api'),
    contentDir: sampleContentDir,
    logger,
  });
  // Largest values of process.memoryUsage(), to tell the V8 heap from other memory.
  const keys = ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'] as const;
  const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    for (const key of keys) {
      peak[key] = Math.max(peak[key], usage[key]);
    }
  }, 100);
  process.once('SIGTERM', () => {
    void (async () => {
      clearInterval(sampler);
      await api.close();
      // With --expose-gc, a full collection shows how much of the heap is still referenced.
      const collect: unknown = Reflect.get(globalThis, 'gc');
      if (typeof collect === 'function') collect();
      const retainedHeap = process.memoryUsage().heapUsed;
      const counts = countByStatus(path.join(dataDir, 'api', 'outbox.sqlite'));
      await new Promise<void>((resolve) => logStream.end(resolve));
      process.stdout.write(JSON.stringify({ closed: true, counts, peak, retainedHeap }) + '\n');
      process.exit(0);
    })();
  });
  process.stdout.write(JSON.stringify({ url: api.url, pid: process.pid }) + '\n');
}

/** Counts the outbox's comments by status, reading the closed database file. */
function countByStatus(file: string): Record<string, number> {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const counts: Record<string, number> = {};
    const rows = db.prepare('SELECT status, COUNT(*) AS n FROM comments GROUP BY status').all();
    for (const row of rows) {
      counts[String(row['status'])] = Number(row['n']);
    }
    return counts;
  } finally {
    db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
