// Accepting comments on Node under 50 concurrent clients, in three processes so that each one's
// CPU and memory are its own. This one runs the local forge and samples the API's memory. The API
// process (accept-server.ts) runs startApiServer with a forge client that waits 100 ms before
// every request. The load generator (accept-load.ts) sends the comments.
//
//   node test/bench/accept.ts [--clients 50] [--warmup-s 2] [--duration-s 10]
//     [--forge-latency-ms 100] [--profile] [--json-out FILE]
//
// --profile runs the API with --cpu-prof and prints the functions with the most self time.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startLocalForge } from '../../api/forge/local/index.ts';
import type { LoadResult } from './accept-load.ts';
import {
  figure,
  numberOption,
  repoRoot,
  report,
  round,
  runMain,
  sampleContentDir,
} from './common.ts';

const benchDir = import.meta.dirname;

/** Starts a Node child and resolves with it and its first stdout line parsed as JSON. */
async function spawnNode(
  args: string[],
  nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; first: unknown; lines: AsyncIterator<string> }> {
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.stdout === null) throw new Error('the child process has no stdout pipe');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done === true) {
    throw new Error(`${path.basename(args[0] ?? '')} exited before printing its first line`);
  }
  return { child, first: JSON.parse(first.value), lines };
}

/** Reads a field of /proc/<pid>/status in KiB, such as VmRSS or VmHWM; null once it has exited. */
function procStatusKiB(pid: number, field: string): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match?.[1] === undefined ? null : Number(match[1]);
  } catch {
    return null;
  }
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined;
}

interface ProfileNode {
  id: number;
  hitCount?: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Sums self samples of a V8 .cpuprofile by function and returns the top entries as text. */
async function topSelfTime(dir: string, count: number): Promise<string[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'));
  if (files[0] === undefined) return ['no .cpuprofile was written'];
  const profile: unknown = JSON.parse(await readFile(path.join(dir, files[0]), 'utf8'));
  const nodes = field(profile, 'nodes');
  if (!Array.isArray(nodes)) return ['the .cpuprofile has no nodes'];
  const totals = new Map<string, number>();
  let all = 0;
  for (const node of nodes as ProfileNode[]) {
    const hits = node.hitCount ?? 0;
    all += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(`file://${repoRoot}/`, '').replace(/^.*\/node_modules\//, '');
    const where = url === '' ? '' : ` ${file}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    totals.set(key, (totals.get(key) ?? 0) + hits);
  }
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, hits]) => `${((100 * hits) / all).toFixed(1)}% self: ${key}`);
}

async function main(): Promise<void> {
  const argv = process.argv;
  const clients = numberOption(argv, '--clients', 50);
  const warmupS = numberOption(argv, '--warmup-s', 2);
  const durationS = numberOption(argv, '--duration-s', 10);
  const latencyMs = numberOption(argv, '--forge-latency-ms', 100);
  const profile = argv.includes('--profile');

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-bench-accept-'));
  const profileDir = path.join(dataDir, 'profile');
  const token = 'bench-forge-token';
  const forge = await startLocalForge({
    dataDir: path.join(dataDir, 'forge'),
    owner: 'marginalia',
    repo: 'blog',
    baseBranch: 'main',
    token,
    seed: { directory: sampleContentDir, prefix: 'content' },
  });

  let api: ChildProcess | null = null;
  let peakSampledKiB = 0;
  let samples = 0;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const server = await spawnNode(
      [
        path.join(benchDir, 'accept-server.ts'),
        '--forge-url',
        forge.url,
        '--forge-token',
        token,
        '--data-dir',
        dataDir,
        '--forge-latency-ms',
        String(latencyMs),
      ],
      ['--expose-gc', ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    );
    api = server.child;
    const apiUrl = field(server.first, 'url');
    const pid = api.pid;
    if (typeof apiUrl !== 'string' || pid === undefined) {
      throw new Error(`the API process printed ${JSON.stringify(server.first)}, expected its url`);
    }
    const idleKiB = procStatusKiB(pid, 'VmRSS') ?? 0;
    sampler = setInterval(() => {
      const rss = procStatusKiB(pid, 'VmRSS');
      if (rss === null) return;
      samples += 1;
      peakSampledKiB = Math.max(peakSampledKiB, rss);
    }, 100);

    const load = await spawnNode([
      path.join(benchDir, 'accept-load.ts'),
      '--url',
      apiUrl,
      '--clients',
      String(clients),
      '--warmup-s',
      String(warmupS),
      '--duration-s',
      String(durationS),
    ]);
    // The generator prints its one line at the end, so `first` is the result.
    const result = load.first as LoadResult;
    clearInterval(sampler);
    const hwmKiB = procStatusKiB(pid, 'VmHWM') ?? peakSampledKiB;

    api.kill('SIGTERM');
    const closed = await server.lines.next();
    const closing: unknown = closed.done === true ? {} : JSON.parse(closed.value);
    const counts = field(closing, 'counts');
    const peak = field(closing, 'peak');
    const retained = field(closing, 'retainedHeap');
    const mib = (name: string) => {
      const bytes = field(peak, name);
      return typeof bytes === 'number' ? round(bytes / 2 ** 20) : null;
    };
    await new Promise((resolve) => api?.once('exit', resolve));
    api = null;

    const perSecond = result.accepted / result.windowS;
    const errorCount = Object.values(result.errors).reduce((a, b) => a + b, 0);
    const notes = [
      `${result.measured} requests in the measured window of ${round(result.windowS, 2)} s ` +
        `(${result.totalSent} sent in all, warm-up included); errors by status: ` +
        `${JSON.stringify(result.errors)}.`,
      `latency p90 ${result.latencyMs.p90} ms, max ${result.latencyMs.max} ms.`,
      `API resident memory: ${round(idleKiB / 1024)} MiB idle after start, peak sampled ` +
        `${round(peakSampledKiB / 1024)} MiB (${samples} samples of VmRSS every 100 ms); ` +
        `largest process.memoryUsage() values inside the API: heapTotal ${mib('heapTotal')} MiB, ` +
        `heapUsed ${mib('heapUsed')} MiB, external ${mib('external')} MiB, arrayBuffers ` +
        `${mib('arrayBuffers')} MiB; heap in use after a full collection once the server ` +
        `closed: ${typeof retained === 'number' ? round(retained / 2 ** 20) : null} MiB.`,
      `outbox after the run, by status: ${JSON.stringify(counts)} ` +
        '(the worker delivers one comment at a time at the forge latency, so most stay "received").',
    ];
    if (profile) {
      notes.push('API CPU profile, top self time:', ...(await topSelfTime(profileDir, 15)));
    }
    report({
      bench: 'accept',
      method:
        `${clients} concurrent keep-alive HTTP/1.1 clients in a separate process (accept-load.ts) ` +
        `POST distinct valid JSON comments to startApiServer in its own process for ${warmupS} s ` +
        `of warm-up then ${durationS} s measured. The outbox is SQLite (WAL, synchronous=FULL, ` +
        `the default) in a temporary folder; the delivery worker runs against the local forge ` +
        `with ${latencyMs} ms added before every forge request. Memory is the API process's ` +
        `VmHWM from /proc.`,
      figures: [
        figure('accepted per second', round(perSecond, 0), 'comments/s', { min: 1800 }),
        figure('latency p50', result.latencyMs.p50, 'ms'),
        figure('latency p99', result.latencyMs.p99, 'ms', { below: 20 }),
        figure('errors (non-202 or network)', errorCount, 'requests', { max: 0 }),
        figure('API peak resident memory', round(hwmKiB / 1024), 'MiB', { below: 150 }),
      ],
      notes,
    });
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
    api?.kill('SIGKILL');
    await forge.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

runMain(main);
