import { describe, expect, it } from 'vitest';
import { createJsonLogger } from '../../api/platform/logger.ts';
import { runChaos, type ChaosReport } from './harness.ts';

const logger = createJsonLogger(
  () => undefined,
  () => new Date(),
);

describe('delivery under faults and kills', () => {
  let report: ChaosReport;

  it('runs 120 comments through 30% faults and 3 kills', async () => {
    report = await runChaos({
      comments: 120,
      failureRate: 0.3,
      kills: 3,
      seed: 20_261_204,
      logger,
    });
    expect(report.counts.kills).toBe(3);
  }, 90_000);

  it('finds no difference', () => {
    expect(report.differences).toEqual([]);
  });

  it('delivers every received comment', () => {
    expect(report.counts.pullRequests).toBe(
      report.counts.received + report.counts.unknownDelivered,
    );
  });

  it('injects faults into the forge', () => {
    expect(report.counts.faultsInjected).toBeGreaterThan(0);
  });
});
