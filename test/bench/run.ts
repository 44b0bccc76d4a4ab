// `npm run bench`: runs every benchmark, one after another, each in its own Node process, then
// prints a summary of the figures against their targets. Name benchmarks to run only those, and
// pass options after them to every one, such as `npm run bench -- large-build --full`.
//
// The exit code is 1 only when a benchmark broke, because it crashed or could not measure. A
// missed target is reported in the summary but is not a failure.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { machineInfo, runMain, type BenchResult } from './common.ts';

export const BENCHMARKS = ['forge-calls', 'accept', 'rebuild', 'reader-js', 'large-build'] as const;
type BenchName = (typeof BENCHMARKS)[number];

function isBenchName(value: string): value is BenchName {
  return BENCHMARKS.some((name) => name === value);
}

function runBenchmark(name: BenchName, options: string[], jsonOut: string): Promise<number> {
  const script = path.join(import.meta.dirname, `${name}.ts`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...options, '--json-out', jsonOut], {
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const names = args.filter(isBenchName);
  const unknown = args.filter(
    (arg, index) =>
      !arg.startsWith('--') && !isBenchName(arg) && !(args[index - 1] ?? '').startsWith('--'),
  );
  if (unknown.length > 0) {
    throw new Error(
      `unknown benchmark ${unknown.map((name) => JSON.stringify(name)).join(', ')}; ` +
        `choose from ${BENCHMARKS.join(', ')}.`,
    );
  }
  const options = args.filter((arg) => !isBenchName(arg));
  const selected = names.length > 0 ? names : [...BENCHMARKS];

  console.log('machine:');
  for (const [key, value] of Object.entries(machineInfo())) console.log(`  ${key}: ${value}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-bench-'));
  const results: BenchResult[] = [];
  const broken: string[] = [];
  try {
    for (const name of selected) {
      const started = performance.now();
      const jsonOut = path.join(dir, `${name}.json`);
      const code = await runBenchmark(name, options, jsonOut);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (code !== 0) {
        console.log(`${name} broke: exit code ${code} after ${seconds} s`);
        broken.push(name);
        continue;
      }
      console.log(`(${name} ran for ${seconds} s)`);
      const parsed: unknown = JSON.parse(await readFile(jsonOut, 'utf8'));
      results.push(parsed as BenchResult);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  console.log(`\n== summary (${new Date().toISOString()}) ==`);
  console.log(`load average at the end: ${machineInfo()['load']}`);
  for (const result of results) {
    for (const item of result.figures.filter((f) => f.target !== null)) {
      const verdict = item.met === true ? 'met   ' : 'MISSED';
      console.log(
        `${verdict} ${result.bench}: ${item.name} = ${item.value} ${item.unit} (target ${item.target})`,
      );
    }
  }
  for (const name of broken) console.log(`BROKEN ${name}: see its output above`);
  if (broken.length > 0) process.exitCode = 1;
}

runMain(async () => {
  await main();
  if (process.exitCode === 1) throw new Error('one or more benchmarks broke');
});
