// The Node scheduler of reconciliation: a run at start, runs at the interval, never two at once.
import { describe, expect, test } from 'vitest';
import { startReconcileScheduler } from '../../api/delivery/reconcile-scheduler.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';

function collectingLogger(lines: string[]) {
  return createJsonLogger(
    (line) => lines.push(line),
    () => new Date(),
  );
}

describe('reconcile scheduler', () => {
  test('runs once at start', async () => {
    let runs = 0;
    const scheduler = startReconcileScheduler({
      run: async () => {
        runs += 1;
      },
      logger: collectingLogger([]),
      intervalMs: 60_000,
    });
    await scheduler.stop();
    expect(runs).toBe(1);
  });

  test('runs again at the interval', async () => {
    let runs = 0;
    const scheduler = startReconcileScheduler({
      run: async () => {
        runs += 1;
      },
      logger: collectingLogger([]),
      intervalMs: 5,
    });
    await expect.poll(() => runs).toBeGreaterThanOrEqual(3);
    await scheduler.stop();
  });

  test('never overlaps two runs', async () => {
    let active = 0;
    let maxActive = 0;
    let release: () => void = () => {};
    const scheduler = startReconcileScheduler({
      run: async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        active -= 1;
      },
      logger: collectingLogger([]),
      intervalMs: 60_000,
    });
    const again = scheduler.runNow();
    release();
    await again;
    expect(maxActive).toBe(1);
    const stopping = scheduler.stop();
    release();
    await stopping;
  });

  test('logs a failed run and keeps running', async () => {
    const lines: string[] = [];
    let runs = 0;
    const scheduler = startReconcileScheduler({
      run: async () => {
        runs += 1;
        if (runs === 1) throw new Error('forge unreachable');
      },
      logger: collectingLogger(lines),
      intervalMs: 5,
    });
    await expect.poll(() => runs).toBeGreaterThanOrEqual(2);
    await scheduler.stop();
    expect(lines.filter((line) => line.includes('forge unreachable'))).toHaveLength(1);
  });

  test('rejects an interval of zero', () => {
    expect(() =>
      startReconcileScheduler({ run: async () => {}, logger: collectingLogger([]), intervalMs: 0 }),
    ).toThrow(RangeError);
  });
});
