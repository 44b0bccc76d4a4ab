// Shared pieces of the benchmark scripts: the result record each one writes, percentiles, the
// machine description, and small waiting and HTTP helpers.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ApiConfig } from '../../api/config.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const sampleContentDir = path.join(repoRoot, 'content');

/** The public site's origin in BENCH_API_CONFIG, which submissions send as their Origin. */
export const BENCH_PUBLIC_ORIGIN = 'http://127.0.0.1:9';

/** API settings for the benchmarks that start the API themselves. */
export const BENCH_API_CONFIG: ApiConfig = {
  publicSiteUrl: BENCH_PUBLIC_ORIGIN,
  internalSiteUrl: 'http://127.0.0.1:10',
  apiPublicUrl: 'http://127.0.0.1:11',
  staffToken: 'bench-staff-token-0123456789abcdef',
  webhookSecret: 'bench-webhook-secret-0123456789abcdef',
  // The benchmarks measure the pipeline, not the per-address limits, so those are off.
  rateLimits: { addressPerMinute: 0, addressPerHour: 0, postPerHour: 0 },
};

/** One measured figure, compared with its target. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The target as text, such as "<= 4"; null for a figure reported without a target. */
  target: string | null;
  /** Whether the value meets the target; null when there is no target. */
  met: boolean | null;
}

export interface BenchResult {
  bench: string;
  /** What was measured and how, in one or two sentences. */
  method: string;
  figures: Figure[];
  notes: string[];
}

export function figure(
  name: string,
  value: number,
  unit: string,
  target?: { max?: number; min?: number; below?: number },
): Figure {
  if (target === undefined) return { name, value, unit, target: null, met: null };
  if (target.max !== undefined) {
    return { name, value, unit, target: `<= ${target.max}`, met: value <= target.max };
  }
  if (target.below !== undefined) {
    return { name, value, unit, target: `< ${target.below}`, met: value < target.below };
  }
  const min = target.min ?? 0;
  return { name, value, unit, target: `>= ${min}`, met: value >= min };
}

/** Returns the p-th percentile (0 to 100) of `values` by the nearest-rank method. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns non-null, and throws after `timeoutMs`. */
export async function waitFor<T>(
  description: string,
  check: () => Promise<T | null> | T | null,
  timeoutMs: number,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await sleep(intervalMs);
  }
}

/** Describes the machine: cores, memory, load and versions, for the benchmark record. */
export function machineInfo(): Record<string, string> {
  const [one, five, fifteen] = os.loadavg().map((load) => load.toFixed(2));
  let git = 'unknown';
  try {
    git = execFileSync('git', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // git is optional for the description.
  }
  return {
    cpus: `${os.availableParallelism()} x ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free`,
    load: `${one} ${five} ${fifteen} (1, 5, 15 min)`,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    git,
  };
}

/** Prints a result as readable lines and, when `--json-out FILE` was given, writes it as JSON. */
export function report(result: BenchResult, argv: readonly string[] = process.argv): void {
  console.log(`\n== ${result.bench} ==`);
  console.log(`method: ${result.method}`);
  for (const item of result.figures) {
    let verdict = '';
    if (item.met === true) verdict = '  (target met)';
    if (item.met === false) verdict = '  (target MISSED)';
    const target = item.target === null ? '' : `  target ${item.target} ${item.unit}`;
    console.log(`  ${item.name}: ${item.value} ${item.unit}${target}${verdict}`);
  }
  for (const note of result.notes) console.log(`  note: ${note}`);
  const out = optionValue(argv, '--json-out');
  if (out !== null) writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

/** Returns the value after `--name` in argv, or null when the option is absent. */
export function optionValue(argv: readonly string[], name: string): string | null {
  const index = argv.indexOf(name);
  if (index === -1) return null;
  const value = argv[index + 1];
  if (value === undefined || value.startsWith('--')) {
    throw new Error(`${name} needs a value, for example ${name} 10.`);
  }
  return value;
}

/** Reads a positive number option, or returns `fallback` when absent. */
export function numberOption(argv: readonly string[], name: string, fallback: number): number {
  const text = optionValue(argv, name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} is ${JSON.stringify(text)}; give a positive number.`);
  }
  return value;
}

/** Runs a benchmark's main function, printing the error and exiting 1 when the run broke. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

/** Reads a string field of a parsed JSON object, or null when it is absent or not a string. */
export function stringField(value: unknown, name: string): string | null {
  if (typeof value !== 'object' || value === null || !(name in value)) return null;
  const field: unknown = Reflect.get(value, name);
  return typeof field === 'string' ? field : null;
}

/** Reads the status of a receipt from the API. */
export async function receiptStatus(apiUrl: string, receipt: string): Promise<string | null> {
  const response = await fetch(`${apiUrl}/api/comments/${receipt}`, {
    headers: { accept: 'application/json' },
  });
  return stringField(await response.json(), 'status');
}
