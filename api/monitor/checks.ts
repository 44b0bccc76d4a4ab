// The health checks of the comment pipeline. Each check turns one measured value into a status
// against its threshold; the report's status is the worst of them. "down" means comments are not
// reaching staff (or cannot be shown to be), "degraded" means something needs a person soon but
// comments still flow.
import type { ForgeAccessReport } from '../forge/types.ts';
import type { OutboxStats, ReviewStats } from '../outbox/types.ts';

export type CheckStatus = 'ok' | 'degraded' | 'down';

export const CHECK_NAMES = [
  'forge',
  'outboxDepth',
  'outboxAge',
  'deadLetters',
  'lastDelivery',
  'canary',
  'rebuilds',
  'reviewDeadline',
  'silence',
  'alerts',
] as const;

export type CheckName = (typeof CHECK_NAMES)[number];

export interface CheckResult {
  status: CheckStatus;
  /** The measured value, in `unit`; null when nothing was measured yet. */
  value: number | string | null;
  /** The value past which the check fails, in `unit`; null for a check that is pass or fail. */
  threshold: number | string | null;
  unit: string | null;
  /** One sentence on what was found. */
  detail: string;
}

export interface HealthReport {
  status: CheckStatus;
  checkedAt: string;
  checks: Record<CheckName, CheckResult>;
}

export interface HealthThresholds {
  /** Oldest undelivered comment, in seconds, past which comments count as stuck. */
  maxOutboxAgeSeconds: number;
  /** Undelivered comments past which the outbox counts as backed up. */
  maxOutboxDepth: number;
  /** Hours an open comment pull request may wait for staff. */
  reviewDeadlineHours: number;
  /** Minutes the deployed sites may lag behind the base branch. */
  maxRebuildLagMinutes: number;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  maxOutboxAgeSeconds: 300,
  maxOutboxDepth: 500,
  reviewDeadlineHours: 72,
  maxRebuildLagMinutes: 15,
};

/** The forge check's input: the last access check, or why it could not run. */
export type ForgeCheckState =
  | { kind: 'unchecked' }
  | { kind: 'checked'; at: Date; report: ForgeAccessReport }
  | { kind: 'unreachable'; at: Date; error: string };

export interface CanaryRecord {
  at: Date;
  ok: boolean;
  detail: string;
}

export interface CanaryCheckState {
  /** Time between canaries in milliseconds; 0 when the canary is off. */
  intervalMs: number;
  last: CanaryRecord | null;
  lastSuccessAt: Date | null;
}

export interface SiteDeployment {
  site: string;
  /** Commit the site was last built and deployed from, or null before the first deploy. */
  commit: string | null;
  at: Date | null;
  /** The last build's error, when the last build failed. */
  error: string | null;
}

export interface RebuildCheckState {
  /** Head of the base branch, or null when it could not be read. */
  baseHead: string | null;
  deployments: SiteDeployment[];
  /** Since when a deployed commit has differed from the base head, or null when none differs. */
  laggingSince: Date | null;
}

export type SilenceCheckState =
  | { kind: 'off'; reason: string }
  | {
      kind: 'measured';
      status: 'ok' | 'silent' | 'insufficient_history';
      expected: number;
      probability: number;
      threshold: number;
      silentForMs: number;
    };

export interface AlertDeliveryState {
  configured: boolean;
  pending: number;
  undeliverable: number;
  lastError: string | null;
}

/** Everything the checks measure, gathered by the monitor or, without one, by the health route. */
export interface HealthInputs {
  now: Date;
  thresholds: HealthThresholds;
  outbox: OutboxStats;
  deadLetters: number;
  lastProposedAt: Date | null;
  review: ReviewStats;
  /** Error raised while reading the outbox; the outbox figures are zeros when it is set. */
  outboxError?: string;
  forge: ForgeCheckState;
  /** Age past which the forge check's measurement is stale, in milliseconds; never when absent. */
  forgeStaleAfterMs?: number;
  canary: CanaryCheckState | null;
  rebuilds: RebuildCheckState | null;
  silence: SilenceCheckState | null;
  alerts: AlertDeliveryState | null;
}

const ok = (
  value: CheckResult['value'],
  threshold: CheckResult['threshold'],
  unit: string | null,
  detail: string,
): CheckResult => ({ status: 'ok', value, threshold, unit, detail });

function ageSeconds(now: Date, then: Date | null): number | null {
  return then === null ? null : Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
}

function forgeCheck(state: ForgeCheckState, now: Date, staleAfterMs: number): CheckResult {
  if (state.kind === 'unchecked') return ok(null, null, null, 'The forge was not checked yet.');
  const age = now.getTime() - state.at.getTime();
  if (age > staleAfterMs) {
    const seconds = Math.round(age / 1000);
    return {
      status: 'degraded',
      value: seconds,
      threshold: Math.round(staleAfterMs / 1000),
      unit: 'seconds',
      detail: `The forge was last checked ${seconds} s ago; the monitor may have stopped.`,
    };
  }
  if (state.kind === 'unreachable') {
    return {
      status: 'down',
      value: 'unreachable',
      threshold: null,
      unit: null,
      detail: `The forge could not be reached: ${state.error}`,
    };
  }
  const failed = state.report.checks.filter((item) => !item.ok);
  if (failed.length === 0) {
    return ok('ok', null, null, 'The credentials, repository, base branch and permissions work.');
  }
  return {
    status: 'down',
    value: failed.map((item) => item.name).join(', '),
    threshold: null,
    unit: null,
    detail: failed.map((item) => `${item.name}: ${item.detail}`).join(' '),
  };
}

function outboxDepthCheck(inputs: HealthInputs): CheckResult {
  const { depth } = inputs.outbox;
  const max = inputs.thresholds.maxOutboxDepth;
  const detail = `${depth} comments wait for delivery.`;
  if (depth > max)
    return { status: 'degraded', value: depth, threshold: max, unit: 'comments', detail };
  return ok(depth, max, 'comments', detail);
}

function outboxAgeCheck(inputs: HealthInputs): CheckResult {
  const age = inputs.outbox.oldestAgeSeconds;
  const max = inputs.thresholds.maxOutboxAgeSeconds;
  if (age > max) {
    return {
      status: 'down',
      value: age,
      threshold: max,
      unit: 'seconds',
      detail: `The oldest undelivered comment has waited ${age} s; delivery is stuck or failing.`,
    };
  }
  return ok(age, max, 'seconds', 'Comments reach the forge in time.');
}

function deadLetterCheck(inputs: HealthInputs): CheckResult {
  const count = inputs.deadLetters;
  if (count > 0) {
    return {
      status: 'down',
      value: count,
      threshold: 0,
      unit: 'comments',
      detail: `${count} comments stopped retrying; see npm run replay for the cause of each.`,
    };
  }
  return ok(0, 0, 'comments', 'No comment has stopped retrying.');
}

function lastDeliveryCheck(inputs: HealthInputs): CheckResult {
  const age = ageSeconds(inputs.now, inputs.lastProposedAt);
  const max = inputs.thresholds.maxOutboxAgeSeconds;
  const waiting = inputs.outbox.depth > 0;
  const detail =
    age === null
      ? 'No comment has been delivered yet.'
      : `The last comment was delivered ${age} s ago.`;
  // Only a waiting comment makes an old delivery a problem: a quiet blog delivers nothing.
  if (waiting && inputs.outbox.oldestAgeSeconds > max && (age === null || age > max)) {
    return { status: 'degraded', value: age, threshold: max, unit: 'seconds', detail };
  }
  return ok(age, max, 'seconds', detail);
}

function canaryCheck(state: CanaryCheckState | null, now: Date): CheckResult {
  if (state === null || state.intervalMs === 0) {
    return ok('off', null, null, 'The canary is off; set MARGINALIA_CANARY_INTERVAL_MINUTES.');
  }
  const intervalSeconds = Math.round(state.intervalMs / 1000);
  if (state.last === null) {
    return ok(null, intervalSeconds, 'seconds', 'The first canary has not finished yet.');
  }
  if (!state.last.ok) {
    return {
      status: 'down',
      value: 'failed',
      threshold: intervalSeconds,
      unit: 'seconds',
      detail: `The last canary failed at ${state.last.at.toISOString()}: ${state.last.detail}`,
    };
  }
  // Two missed periods mean the canary itself stopped running.
  const age = ageSeconds(now, state.lastSuccessAt) ?? 0;
  if (age > 3 * intervalSeconds) {
    return {
      status: 'degraded',
      value: age,
      threshold: 3 * intervalSeconds,
      unit: 'seconds',
      detail: `No canary has succeeded for ${age} s; the scheduler may have stopped.`,
    };
  }
  return ok(age, 3 * intervalSeconds, 'seconds', state.last.detail);
}

function rebuildCheck(state: RebuildCheckState | null, inputs: HealthInputs): CheckResult {
  if (state === null) return ok(null, null, null, 'No site deployments are watched.');
  const failed = state.deployments.filter((site) => site.error !== null);
  if (failed.length > 0) {
    return {
      status: 'degraded',
      value: failed.map((site) => site.site).join(', '),
      threshold: null,
      unit: null,
      detail: failed.map((site) => `${site.site}: the last build failed: ${site.error}`).join(' '),
    };
  }
  const maxMinutes = inputs.thresholds.maxRebuildLagMinutes;
  const lagMinutes =
    state.laggingSince === null
      ? 0
      : Math.floor((inputs.now.getTime() - state.laggingSince.getTime()) / 60_000);
  const deployed = state.deployments
    .map((site) => `${site.site} at ${site.commit?.slice(0, 12) ?? 'nothing yet'}`)
    .join(', ');
  const detail = `Base branch at ${state.baseHead?.slice(0, 12) ?? 'unknown'}; ${deployed}.`;
  if (lagMinutes > maxMinutes) {
    return {
      status: 'degraded',
      value: lagMinutes,
      threshold: maxMinutes,
      unit: 'minutes',
      detail,
    };
  }
  return ok(lagMinutes, maxMinutes, 'minutes', detail);
}

function reviewCheck(inputs: HealthInputs): CheckResult {
  const hours = inputs.thresholds.reviewDeadlineHours;
  const { overdue, oldestProposedAt } = inputs.review;
  if (overdue > 0) {
    return {
      status: 'degraded',
      value: overdue,
      threshold: 0,
      unit: 'pull requests',
      detail:
        `${overdue} comment pull requests have waited more than ${hours} h for review; the ` +
        `oldest since ${oldestProposedAt?.toISOString() ?? 'an unknown time'}.`,
    };
  }
  return ok(0, 0, 'pull requests', `No comment has waited more than ${hours} h for review.`);
}

function silenceCheck(state: SilenceCheckState | null): CheckResult {
  if (state === null) return ok(null, null, null, 'The silence check is not running.');
  if (state.kind === 'off') return ok('off', null, null, state.reason);
  const hours = Math.round(state.silentForMs / 360_000) / 10;
  if (state.status === 'insufficient_history') {
    return ok(
      null,
      state.threshold,
      'probability',
      'Too few comments to learn the usual rate; the canary carries detection here.',
    );
  }
  const detail =
    `No comment for ${hours} h, where ${state.expected.toFixed(1)} were expected; ` +
    `the chance of such a gap is ${state.probability.toPrecision(2)}.`;
  if (state.status === 'silent') {
    return {
      status: 'degraded',
      value: state.probability,
      threshold: state.threshold,
      unit: 'probability',
      detail,
    };
  }
  return ok(state.probability, state.threshold, 'probability', detail);
}

function alertsCheck(state: AlertDeliveryState | null): CheckResult {
  if (state === null || !state.configured) {
    return ok('off', null, null, 'No alert webhook is set; set MARGINALIA_ALERT_WEBHOOK_URL.');
  }
  if (state.undeliverable > 0) {
    return {
      status: 'degraded',
      value: state.undeliverable,
      threshold: 0,
      unit: 'alerts',
      detail: `${state.undeliverable} alerts could not be delivered: ${state.lastError ?? 'no error recorded'}`,
    };
  }
  return ok(0, 0, 'alerts', `${state.pending} alerts are waiting to be sent.`);
}

/** The checks computed from the outbox's figures. */
const OUTBOX_CHECKS = [
  'outboxDepth',
  'outboxAge',
  'deadLetters',
  'lastDelivery',
  'reviewDeadline',
] as const satisfies readonly CheckName[];

const SEVERITY: Record<CheckStatus, number> = { ok: 0, degraded: 1, down: 2 };

/** Returns the worse of two statuses. */
export function worse(a: CheckStatus, b: CheckStatus): CheckStatus {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}

/** Evaluates every check on `inputs`. */
export function evaluateHealth(inputs: HealthInputs): HealthReport {
  const checks: Record<CheckName, CheckResult> = {
    forge: forgeCheck(inputs.forge, inputs.now, inputs.forgeStaleAfterMs ?? Infinity),
    outboxDepth: outboxDepthCheck(inputs),
    outboxAge: outboxAgeCheck(inputs),
    deadLetters: deadLetterCheck(inputs),
    lastDelivery: lastDeliveryCheck(inputs),
    canary: canaryCheck(inputs.canary, inputs.now),
    rebuilds: rebuildCheck(inputs.rebuilds, inputs),
    reviewDeadline: reviewCheck(inputs),
    silence: silenceCheck(inputs.silence),
    alerts: alertsCheck(inputs.alerts),
  };
  if (inputs.outboxError !== undefined) {
    // Zeros read from a broken outbox would pass, so every check that reads it fails instead.
    const unreadable: CheckResult = {
      status: 'down',
      value: 'unreadable',
      threshold: null,
      unit: null,
      detail: `The outbox could not be read: ${inputs.outboxError}`,
    };
    for (const name of OUTBOX_CHECKS) checks[name] = unreadable;
  }
  const status = Object.values(checks).reduce<CheckStatus>(
    (current, check) => worse(current, check.status),
    'ok',
  );
  return { status, checkedAt: inputs.now.toISOString(), checks };
}
