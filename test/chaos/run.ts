// `npm run chaos`: the full-size fault-injection run. Prints the counts and the duration, and
// exits non-zero on any difference. CHAOS_SEED repeats an earlier run; CHAOS_COMMENTS sets the size.
import { createStderrLogger } from '../../api/platform/logger.ts';
import { runChaos } from './harness.ts';

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a whole number, not ${JSON.stringify(raw)}`);
  }
  return value;
}

const seed = numberFromEnv('CHAOS_SEED', Math.floor(Math.random() * 2 ** 31));
const report = await runChaos({
  comments: numberFromEnv('CHAOS_COMMENTS', 1_000),
  failureRate: 0.3,
  kills: numberFromEnv('CHAOS_KILLS', 3),
  seed,
  logger: createStderrLogger(),
});

process.stdout.write(`seed: ${report.seed}\n`);
for (const [name, value] of Object.entries(report.counts)) {
  process.stdout.write(`${name}: ${value}\n`);
}
process.stdout.write(`duration: ${(report.durationMs / 1000).toFixed(1)} s\n`);
if (report.differences.length > 0) {
  process.stdout.write(`differences: ${report.differences.length}\n`);
  for (const difference of report.differences) process.stdout.write(`  ${difference}\n`);
  process.stdout.write(`work folder kept: ${report.workDir}\n`);
  process.stdout.write(`repeat with: CHAOS_SEED=${report.seed} npm run chaos\n`);
  process.exitCode = 1;
} else {
  process.stdout.write('differences: 0\n');
}
