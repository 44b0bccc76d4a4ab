// Load generator of the accept benchmark: `--clients` concurrent keep-alive HTTP/1.1 clients, each
// sending one distinct valid JSON comment after another to POST /api/comments. Requests that start
// during the warm-up are sent but not counted. It stops at the end of the run or after
// `--max-requests`, whichever comes first, and prints one JSON line with the counts and latencies.
//
//   node test/bench/accept-load.ts --url API_URL [--clients 50] [--warmup-s 2] [--duration-s 10]
//     [--max-requests 200000]
import { Agent, request } from 'node:http';
import { BENCH_PUBLIC_ORIGIN, numberOption, optionValue } from './common.ts';

/** Public posts of the sample blog that take comments. */
const POSTS = [
  'welcome',
  'code-review-habits',
  'comments-as-prs',
  'markdown-in-comments',
  'why-static',
];
const FILLER =
  'Thanks for writing this up. We tried the same approach on our team blog and ran into the ' +
  'question of how to keep **review** quick; a short checklist helped. `code` too.';

export interface LoadResult {
  clients: number;
  warmupS: number;
  durationS: number;
  /** Requests started after the warm-up and completed, with any status. */
  measured: number;
  accepted: number;
  /** Responses other than 202, by status, plus "network" for failed requests. */
  errors: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Wall time of the measured window, in seconds. */
  windowS: number;
  totalSent: number;
}

interface Answer {
  status: number;
}

function post(agent: Agent, url: URL, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          // The API accepts comments only from its sites' origins.
          origin: BENCH_PUBLIC_ORIGIN,
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function nearestRank(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return Math.round((sorted[rank - 1] ?? Number.NaN) * 100) / 100;
}

async function main(): Promise<void> {
  const base = optionValue(process.argv, '--url');
  if (base === null) throw new Error('--url is missing; give the API base URL.');
  const url = new URL('/api/comments', base);
  const clients = numberOption(process.argv, '--clients', 50);
  const warmupS = numberOption(process.argv, '--warmup-s', 2);
  const durationS = numberOption(process.argv, '--duration-s', 10);
  const maxRequests = numberOption(process.argv, '--max-requests', 200_000);

  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies = new Float64Array(maxRequests);
  const errors: Record<string, number> = {};
  let measured = 0;
  let accepted = 0;
  let sent = 0;
  const started = performance.now();
  const measureFrom = started + warmupS * 1000;
  const stopAt = measureFrom + durationS * 1000;
  const run = `${process.pid}-${Date.now().toString(36)}`;

  async function client(clientIndex: number): Promise<void> {
    while (performance.now() < stopAt && sent < maxRequests) {
      const sequence = sent;
      sent += 1;
      const body = JSON.stringify({
        post: POSTS[sequence % POSTS.length],
        author: `Load reader ${clientIndex}`,
        text: `Comment ${sequence} of run ${run}. ${FILLER}`,
      });
      const begin = performance.now();
      let status: string;
      try {
        status = String((await post(agent, url, body)).status);
      } catch {
        status = 'network';
      }
      if (begin < measureFrom) continue;
      latencies[measured] = performance.now() - begin;
      measured += 1;
      if (status === '202') accepted += 1;
      else errors[status] = (errors[status] ?? 0) + 1;
    }
  }

  await Promise.all(Array.from({ length: clients }, (_, index) => client(index)));
  const windowS = (Math.max(performance.now(), measureFrom) - measureFrom) / 1000;
  agent.destroy();
  const sorted = latencies.subarray(0, measured).sort();
  const result: LoadResult = {
    clients,
    warmupS,
    durationS,
    measured,
    accepted,
    errors,
    latencyMs: {
      p50: nearestRank(sorted, 50),
      p90: nearestRank(sorted, 90),
      p99: nearestRank(sorted, 99),
      max: nearestRank(sorted, 100),
    },
    windowS,
    totalSent: sent,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
