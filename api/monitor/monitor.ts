// The monitor runs the pipeline's health checks on a schedule, sends the canary, requeues dead
// letters whose cause has cleared, and alerts when the overall status changes. It is what turns
// "the forge started rejecting us" into an alert within minutes rather than weeks of silence.
//
// Alerts follow the overall status, not each check: one alert when it leaves ok (or gets worse),
// one when it gets better and has stayed so for resolveAfterMs, and one "resolved" when it is ok
// again. A failure usually turns several checks red one after another (dead letters, then the
// canary, then the outbox age), and that is one incident, so it is one alert. Every check's own
// state change is logged.
import type { ApiConfig } from '../config.ts';
import type { ForgeClient } from '../forge/types.ts';
import type { CommentStore, DeadLetterCause } from '../outbox/types.ts';
import { sleep, type Clock } from '../platform/clock.ts';
import type { PostLookup } from '../platform/content-index.ts';
import { errorMessage, type Logger } from '../platform/logger.ts';
import type { AlertEvent, AlertSender } from './alerts.ts';
import { createCanary, type Canary } from './canary.ts';
import {
  CHECK_NAMES,
  evaluateHealth,
  type CheckName,
  type CheckResult,
  type CheckStatus,
  type ForgeCheckState,
  type HealthInputs,
  type HealthReport,
  type HealthThresholds,
  type RebuildCheckState,
  type SiteDeployment,
  type SilenceCheckState,
  worse,
} from './checks.ts';
import { DEFAULT_MONITOR_SETTINGS, type MonitorSettings } from './settings.ts';
import { learnHourOfWeekRates, silenceCheck } from './silence.ts';

/** Dead-letter causes that an operator fixes on the forge side, after which delivery works again. */
const RECOVERABLE_CAUSES: readonly DeadLetterCause[] = ['credentials', 'forbidden', 'not_found'];

/** Key of the last alerted overall status in the store's monitor state. */
const ALERT_STATE_KEY = 'alert-state';

/** Time between sending the current status again while alerts are undeliverable: 15 minutes. */
const ALERT_RESEND_MS = 15 * 60_000;

/** Time after the last alert from which a check that starts failing is a new incident: 1 hour. */
const NEW_INCIDENT_AFTER_MS = 60 * 60_000;

/**
 * A status that fails again within FLAPPING_WINDOW_MS of a RESOLVED alert is flapping, such as a
 * worker that stalls for minutes every quarter hour. Its next RESOLVED alert waits until the
 * status has been better for FLAPPING_RESOLVE_AFTER_MS, so it sends 3 alerts rather than 8 an hour.
 */
const FLAPPING_WINDOW_MS = 60 * 60_000;
const FLAPPING_RESOLVE_AFTER_MS = 60 * 60_000;

/** Time between reads of the deployed commits and the base branch's head: 1 minute. */
const REBUILD_CHECK_MS = 60_000;

/** Weeks of comment history the silence check learns from. */
const SILENCE_HISTORY_WEEKS = 8;

export interface DeploymentSource {
  /** Head of the base branch, or null when it cannot be read. */
  baseHead(): Promise<string | null>;
  deployments(): Promise<SiteDeployment[]>;
}

export interface MonitorOptions {
  store: CommentStore;
  forge: ForgeClient;
  clock: Clock;
  logger: Logger;
  posts: PostLookup;
  config: Pick<ApiConfig, 'publicSiteUrl' | 'apiPublicUrl' | 'staffToken'>;
  settings?: MonitorSettings;
  /** Sends a request to the API's own routes; the canary posts through it. */
  submit: (request: Request) => Promise<Response>;
  /** Tells the delivery worker that requeued comments are due. */
  wakeWorker: () => void;
  /** Tries once to deliver a dead letter, leaving it dead on failure (DeliveryWorker's). */
  retryDeadLetter: (id: string) => Promise<boolean>;
  /** Alert delivery; no alerts are sent when absent. */
  alerts?: AlertSender;
  /** The deployed sites and the base branch, for the rebuild check. */
  deployments?: DeploymentSource;
  /** Dates of the comments in the repository, for the silence check. */
  commentHistory?: () => Promise<Date[]>;
  /** Time between runs of the checks, in milliseconds; 15 seconds when absent. */
  tickMs?: number;
  /** Time between forge access checks, in milliseconds; 5 minutes when absent. */
  forgeCheckMs?: number;
  /** Time between attempts to deliver a recoverable dead letter, in milliseconds; 1 minute. */
  recoveryProbeMs?: number;
  /** Time between relearning the comment rate, in milliseconds; 1 hour when absent. */
  silenceRefreshMs?: number;
  /**
   * Time the status must stay better than the last alerted one before the improvement is
   * alerted, in milliseconds; 5 minutes when absent. A worse status is alerted at once.
   */
  resolveAfterMs?: number;
  fetch?: typeof fetch;
}

export interface Monitor {
  /** Runs `tick` every tickMs in the background until `stop`. */
  start(): void;
  stop(): Promise<void>;
  /** Runs the scheduled work that is due, evaluates the checks and alerts on a change. */
  tick(): Promise<HealthReport>;
  /** Evaluates the checks now without running scheduled work. */
  report(): Promise<HealthReport>;
}

interface AlertState {
  status: CheckStatus;
  since: string;
  /** The check the firing alert was named after. */
  check?: CheckName;
  /** The failing checks, kept current between alerts; absent in states stored before it. */
  failing?: CheckName[];
}

function formatValue(check: CheckResult): string {
  if (check.value === null) return 'none';
  return check.unit === null ? String(check.value) : `${check.value} ${check.unit}`;
}

function formatThreshold(check: CheckResult): string {
  if (check.threshold === null) return 'pass or fail';
  return check.unit === null ? String(check.threshold) : `${check.threshold} ${check.unit}`;
}

/**
 * Reads the checks' inputs that the outbox holds, with the others left unmeasured; the health
 * route uses it alone when no monitor runs.
 */
export async function storeHealthInputs(
  store: CommentStore,
  now: Date,
  thresholds: HealthThresholds,
): Promise<HealthInputs> {
  const reviewCutoff = new Date(now.getTime() - thresholds.reviewDeadlineHours * 3_600_000);
  const unmeasured = {
    forge: { kind: 'unchecked' },
    canary: null,
    rebuilds: null,
    silence: null,
    alerts: null,
  } as const;
  try {
    const [outbox, deadLetters, lastProposedAt, review] = await Promise.all([
      store.outboxStats(now),
      store.countDeadLetters(),
      store.lastProposedAt(),
      store.reviewStats(reviewCutoff),
    ]);
    return { now, thresholds, outbox, deadLetters, lastProposedAt, review, ...unmeasured };
  } catch (error) {
    return {
      now,
      thresholds,
      outbox: { depth: 0, oldestAgeSeconds: 0 },
      deadLetters: 0,
      lastProposedAt: null,
      review: { overdue: 0, oldestProposedAt: null },
      outboxError: errorMessage(error),
      ...unmeasured,
    };
  }
}

export function createMonitor(options: MonitorOptions): Monitor {
  const { store, forge, clock, logger } = options;
  const settings = options.settings ?? DEFAULT_MONITOR_SETTINGS;
  const thresholds: HealthThresholds = settings.thresholds;
  const tickMs = options.tickMs ?? 15_000;
  const forgeCheckMs = options.forgeCheckMs ?? 5 * 60_000;
  const recoveryProbeMs = options.recoveryProbeMs ?? 60_000;
  const silenceRefreshMs = options.silenceRefreshMs ?? 60 * 60_000;
  let lastRebuildCheck = Number.NEGATIVE_INFINITY;
  const resolveAfterMs = options.resolveAfterMs ?? 5 * 60_000;
  const canaryIntervalMs = settings.canaryIntervalMinutes * 60_000;

  const canary: Canary | null =
    canaryIntervalMs === 0
      ? null
      : createCanary({
          store,
          forge,
          clock,
          logger,
          posts: options.posts,
          intervalMs: canaryIntervalMs,
          submit: options.submit,
          publicSiteUrl: options.config.publicSiteUrl,
          apiPublicUrl: options.config.apiPublicUrl,
          staffToken: options.config.staffToken,
          ...(settings.canaryPost === undefined ? {} : { postId: settings.canaryPost }),
          ...(settings.deadmanUrl === undefined ? {} : { deadmanUrl: settings.deadmanUrl }),
          ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        });

  let forgeState: ForgeCheckState = { kind: 'unchecked' };
  let lastForgeCheck = Number.NEGATIVE_INFINITY;
  /** True after one failed forge check, while the next tick checks again. */
  let forgeRetrying = false;
  let lastProbe = Number.NEGATIVE_INFINITY;
  let silenceState: SilenceCheckState | null = null;
  let silenceRates: ReturnType<typeof learnHourOfWeekRates> | null = null;
  let silenceHistory: Date[] = [];
  let lastSilenceLearn = Number.NEGATIVE_INFINITY;
  let rebuildState: RebuildCheckState | null = null;
  const checkStates = new Map<CheckName, CheckStatus>();
  let alertState: AlertState | null = null;
  /** Since when the status has been better than the last alerted one, or null. */
  let improvingSince: number | null = null;
  /** When the last RESOLVED alert was sent. */
  let lastResolvedAt = Number.NEGATIVE_INFINITY;
  /** True when the status failed again within FLAPPING_WINDOW_MS of a RESOLVED alert. */
  let flapping = false;
  let lastAlertSentAt = Number.NEGATIVE_INFINITY;
  /** When each check of the alerted failing set last recovered, while the status is unchanged. */
  const recoveredAt = new Map<CheckName, number>();
  let running = false;
  let loopDone: Promise<void> = Promise.resolve();
  let stopSignal = new AbortController();

  async function refreshForge(now: number): Promise<void> {
    if (now - lastForgeCheck < forgeCheckMs) return;
    lastForgeCheck = now;
    try {
      forgeState = { kind: 'checked', at: clock.now(), report: await forge.checkAccess() };
      forgeRetrying = false;
    } catch (error) {
      // One failed request is often a blip, so the check runs again on the next tick and only a
      // second failure in a row turns it down.
      if (!forgeRetrying && forgeState.kind !== 'unreachable') {
        forgeRetrying = true;
        lastForgeCheck = Number.NEGATIVE_INFINITY;
        logger.warn('forge check failed, retrying on the next run', { error: errorMessage(error) });
        return;
      }
      forgeRetrying = false;
      forgeState = { kind: 'unreachable', at: clock.now(), error: errorMessage(error) };
    }
  }

  /**
   * Requeues dead letters of recoverable causes once a delivery has succeeded since the last of
   * them failed, which shows the cause has cleared. Until then it retries the oldest one now and
   * then, so that recovery is noticed even when no reader comments. The retried comment stays a
   * dead letter unless it is delivered, so health keeps counting it meanwhile.
   */
  async function recoverDeadLetters(now: number): Promise<void> {
    const letters = (await store.listDeadLetters()).filter((letter) =>
      RECOVERABLE_CAUSES.includes(letter.cause),
    );
    const oldest = letters[0];
    if (oldest === undefined) return;
    const latestFailure = Math.max(...letters.map((letter) => letter.deadSince.getTime()));
    const lastProposed = (await store.lastProposedAt())?.getTime() ?? Number.NEGATIVE_INFINITY;
    let recovered = lastProposed >= latestFailure;
    if (!recovered && now - lastProbe >= recoveryProbeMs) {
      lastProbe = now;
      logger.info('retrying one dead letter to see whether the forge works again', {
        commentId: oldest.id,
        cause: oldest.cause,
      });
      recovered = await options.retryDeadLetter(oldest.id);
    }
    if (!recovered) return;
    const requeued: string[] = [];
    for (const cause of RECOVERABLE_CAUSES) {
      requeued.push(...(await store.requeueDeadLetters({ cause }, clock.now())));
    }
    logger.info('dead letters requeued after the forge accepted a delivery', {
      count: requeued.length,
    });
    options.wakeWorker();
  }

  async function refreshSilence(now: number): Promise<void> {
    const since = new Date(now - SILENCE_HISTORY_WEEKS * 7 * 24 * 3_600_000);
    if (now - lastSilenceLearn >= silenceRefreshMs) {
      lastSilenceLearn = now;
      const repository = options.commentHistory === undefined ? [] : await options.commentHistory();
      // A merged comment is both a file in the repository and a row in the outbox, with the same
      // time, so each time counts once.
      const times = new Set<number>();
      for (const date of [...repository, ...(await store.acceptedSince(since))]) {
        if (date.getTime() >= since.getTime()) times.add(date.getTime());
      }
      silenceHistory = [...times].sort((a, b) => a - b).map((time) => new Date(time));
      silenceRates = learnHourOfWeekRates(silenceHistory, {
        now: new Date(now),
        weeks: SILENCE_HISTORY_WEEKS,
      });
    }
    if (silenceRates === null) return;
    const live = await store.acceptedSince(silenceHistory.at(-1) ?? since);
    const last = [...silenceHistory, ...live].reduce<Date | null>(
      (latest, date) => (latest === null || date > latest ? date : latest),
      null,
    );
    const result = silenceCheck(silenceRates, { lastCommentAt: last, now: new Date(now) });
    silenceState = {
      kind: 'measured',
      status: result.status,
      expected: result.expected,
      probability: result.probability,
      threshold: result.threshold,
      silentForMs: result.silentSinceMs ?? 0,
    };
  }

  /**
   * Reads the base branch's head and the deployed commits at most once a minute: each read is a
   * forge request, and the lag threshold is counted in minutes.
   */
  async function refreshRebuilds(now: number): Promise<void> {
    const source = options.deployments;
    if (source === undefined || now - lastRebuildCheck < REBUILD_CHECK_MS) return;
    lastRebuildCheck = now;
    const [baseHead, deployments] = await Promise.all([source.baseHead(), source.deployments()]);
    const lagging =
      baseHead !== null && deployments.some((deployment) => deployment.commit !== baseHead);
    const laggingSince = lagging ? (rebuildState?.laggingSince ?? clock.now()) : null;
    rebuildState = { baseHead, deployments, laggingSince };
  }

  async function gather(): Promise<HealthInputs> {
    const alerts = options.alerts?.status();
    return {
      ...(await storeHealthInputs(store, clock.now(), thresholds)),
      forge: forgeState,
      // A measurement three check periods old means the monitor's loop no longer runs.
      forgeStaleAfterMs: 3 * forgeCheckMs,
      canary: canary === null ? { intervalMs: 0, last: null, lastSuccessAt: null } : canary.state(),
      rebuilds: rebuildState,
      silence: silenceState,
      alerts:
        alerts === undefined
          ? { configured: false, pending: 0, undeliverable: 0, lastError: null }
          : {
              configured: true,
              pending: alerts.pending,
              undeliverable: alerts.undeliverable,
              lastError: alerts.lastError,
            },
    };
  }

  function logCheckChanges(report: HealthReport): void {
    for (const name of CHECK_NAMES) {
      const check = report.checks[name];
      const before = checkStates.get(name) ?? 'ok';
      checkStates.set(name, check.status);
      if (before === check.status) continue;
      const fields = {
        check: name,
        from: before,
        to: check.status,
        value: check.value,
        threshold: check.threshold,
        detail: check.detail,
      };
      if (check.status === 'ok') logger.info('health check recovered', fields);
      else logger.error('health check failing', fields);
    }
  }

  async function loadAlertState(): Promise<AlertState> {
    if (alertState !== null) return alertState;
    let stored: string | null = null;
    try {
      stored = await store.getState(ALERT_STATE_KEY);
    } catch (error) {
      logger.error('reading the alert state failed; assuming ok', { error: errorMessage(error) });
    }
    if (stored !== null) {
      try {
        alertState = JSON.parse(stored) as AlertState;
        return alertState;
      } catch {
        logger.warn('stored alert state is unreadable; assuming ok');
      }
    }
    alertState = { status: 'ok', since: clock.now().toISOString() };
    return alertState;
  }

  /**
   * Returns the checks failing now plus those that recovered less than resolveAfterMs ago, so
   * that a check flapping while the status stays degraded is alerted once.
   */
  function recentlyFailing(failing: CheckName[], before: CheckName[], now: number): CheckName[] {
    for (const name of failing) recoveredAt.delete(name);
    const recentlyRecovered = before.filter((name) => {
      if (failing.includes(name)) return false;
      const at = recoveredAt.get(name) ?? now;
      recoveredAt.set(name, at);
      return now - at < resolveAfterMs;
    });
    return CHECK_NAMES.filter((name) => failing.includes(name) || recentlyRecovered.includes(name));
  }

  function alertEvent(
    report: HealthReport,
    previous: AlertState,
    failing: CheckName[],
    primary: CheckName | 'pipeline',
  ): AlertEvent {
    const check = primary === 'pipeline' ? null : report.checks[primary];
    return {
      check: primary,
      state: report.status === 'ok' ? 'resolved' : 'firing',
      summary:
        report.status === 'ok'
          ? `Comment pipeline is ok again; it was ${previous.status} since ${previous.since}.`
          : `Comment pipeline is ${report.status}. ` +
            failing.map((name) => `${name}: ${report.checks[name].detail}`).join(' '),
      value: check === null ? report.status : formatValue(check),
      threshold: check === null ? 'ok' : formatThreshold(check),
      at: clock.now(),
      instance: options.config.apiPublicUrl,
    };
  }

  /** Returns true while alerts are being given up and the status was last sent long enough ago. */
  function resendDue(): boolean {
    // Only a delivered alert clears the alerts check, so without a resend it would never clear.
    const delivery = options.alerts?.status();
    return (
      delivery !== undefined &&
      delivery.undeliverable > 0 &&
      delivery.pending === 0 &&
      clock.now().getTime() - lastAlertSentAt >= ALERT_RESEND_MS
    );
  }

  /**
   * Returns true once a better status has held long enough to alert, so that a status that flaps
   * around a threshold does not alert on every tick.
   */
  function improvementHeld(): boolean {
    const now = clock.now().getTime();
    improvingSince ??= now;
    const holdMs = flapping ? FLAPPING_RESOLVE_AFTER_MS : resolveAfterMs;
    if (now - improvingSince < holdMs) return false;
    improvingSince = null;
    return true;
  }

  /**
   * Decides whether a status equal to the alerted one needs an alert anyway: for a new incident,
   * or to resend. Returns the checks that started failing and the failing set to store, or null
   * after storing a changed failing set.
   */
  async function unchangedStatusAlert(
    report: HealthReport,
    previous: AlertState,
    failing: CheckName[],
  ): Promise<{ newlyFailing: CheckName[]; tracked: CheckName[] } | null> {
    // Degraded checks rarely share a cause, unlike the down ones (dead letters, canary, outbox
    // age), so a check that starts failing while the status is degraded is a new incident. A down
    // check that starts failing an hour or more after the last alert is one too, because the
    // earlier incident, such as a dead letter waiting for a person, is not its cause.
    const before = previous.failing ?? failing;
    const now = clock.now().getTime();
    const tracked = recentlyFailing(failing, before, now);
    const stale = now - Date.parse(previous.since) >= NEW_INCIDENT_AFTER_MS;
    const newlyFailing =
      report.status === 'degraded' || stale ? failing.filter((name) => !before.includes(name)) : [];
    if (newlyFailing.length > 0 || resendDue()) return { newlyFailing, tracked };
    if (tracked.join() !== before.join()) {
      alertState = { ...previous, failing: tracked };
      await storeAlertState(alertState);
    }
    return null;
  }

  async function alertOnChange(report: HealthReport): Promise<void> {
    const previous = await loadAlertState();
    const failing = CHECK_NAMES.filter((name) => report.checks[name].status !== 'ok');
    let newlyFailing: CheckName[] = [];
    let tracked = failing;
    if (worse(report.status, previous.status) === report.status) {
      improvingSince = null;
      if (previous.status === report.status) {
        const decision = await unchangedStatusAlert(report, previous, failing);
        if (decision === null) return;
        ({ newlyFailing, tracked } = decision);
      }
    } else if (!improvementHeld()) {
      return;
    }

    // The alert is named after the new or the worst failing check, so that its runbook link points
    // where an operator starts. The summary lists every failing check.
    const primary: CheckName | 'pipeline' =
      newlyFailing[0] ??
      failing.find((name) => report.checks[name].status === report.status) ??
      previous.check ??
      'pipeline';
    const event = alertEvent(report, previous, failing, primary);
    if (newlyFailing.length === 0) recoveredAt.clear();
    const sentAt = clock.now().getTime();
    if (report.status === 'ok') lastResolvedAt = sentAt;
    if (previous.status === 'ok') flapping = sentAt - lastResolvedAt < FLAPPING_WINDOW_MS;
    alertState = {
      status: report.status,
      since: clock.now().toISOString(),
      ...(report.status === 'ok' || primary === 'pipeline' ? {} : { check: primary }),
      failing: tracked,
    };
    const alerted = alertState;
    const change =
      newlyFailing.length > 0
        ? `another check failing while ${report.status}`
        : previous.status === report.status
          ? 'alert sent again because the last one was not delivered'
          : 'pipeline status changed';
    logger[report.status === 'ok' ? 'info' : 'error'](change, {
      from: previous.status,
      to: report.status,
      failing: failing.join(','),
      alerted: options.alerts !== undefined,
    });
    if (options.alerts === undefined) {
      await storeAlertState(alerted);
      return;
    }
    // The state is stored once the alert is delivered, so that a restart before then sends it
    // again. A status that changed meanwhile is stored by its own alert.
    lastAlertSentAt = clock.now().getTime();
    void options.alerts.send(event).then(async (delivered) => {
      if (delivered && alertState === alerted) await storeAlertState(alerted);
    });
  }

  async function storeAlertState(state: AlertState): Promise<void> {
    // A broken outbox is itself an incident, so failing to store the state must not stop alerts.
    try {
      await store.putState(ALERT_STATE_KEY, JSON.stringify(state), clock.now());
    } catch (error) {
      logger.error('storing the alert state failed', { error: errorMessage(error) });
    }
  }

  /** Runs one piece of scheduled work, so that one failing part does not stop the others. */
  async function guarded(name: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      logger.error('monitor task failed', { task: name, error: errorMessage(error) });
    }
  }

  async function tick(): Promise<HealthReport> {
    const now = clock.now().getTime();
    await guarded('forge check', () => refreshForge(now));
    if (canary !== null) await guarded('canary', () => canary.step());
    await guarded('dead letter recovery', () => recoverDeadLetters(now));
    await guarded('silence check', () => refreshSilence(now));
    await guarded('rebuild check', () => refreshRebuilds(now));
    const report = evaluateHealth(await gather());
    logCheckChanges(report);
    await alertOnChange(report);
    return report;
  }

  async function loop(): Promise<void> {
    logger.info('monitor started', { tickMs, canaryIntervalMs });
    while (running) {
      try {
        await tick();
      } catch (error) {
        logger.error('monitor run failed', { error: errorMessage(error) });
      }
      await sleep(clock, tickMs, stopSignal.signal);
    }
    logger.info('monitor stopped');
  }

  return {
    start() {
      if (running) return;
      running = true;
      stopSignal = new AbortController();
      loopDone = loop();
    },
    async stop() {
      running = false;
      stopSignal.abort();
      await loopDone;
      await options.alerts?.stop();
    },
    tick,
    async report() {
      return evaluateHealth(await gather());
    },
  };
}
