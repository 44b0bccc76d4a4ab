// Monitoring settings, read from the environment with the rest of the API's configuration.
import * as v from 'valibot';
import { DEFAULT_THRESHOLDS, type HealthThresholds } from './checks.ts';

export const MONITOR_ENV = {
  alertWebhookUrl: 'MARGINALIA_ALERT_WEBHOOK_URL',
  canaryIntervalMinutes: 'MARGINALIA_CANARY_INTERVAL_MINUTES',
  canaryPost: 'MARGINALIA_CANARY_POST',
  deadmanUrl: 'MARGINALIA_DEADMAN_URL',
  reviewDeadlineHours: 'MARGINALIA_REVIEW_DEADLINE_HOURS',
  maxOutboxAgeSeconds: 'MARGINALIA_MAX_OUTBOX_AGE_SECONDS',
} as const;

export const DEFAULT_CANARY_INTERVAL_MINUTES = 5;

export interface MonitorSettings {
  /** Slack- or Discord-compatible webhook that receives alerts; no alerts are sent when absent. */
  alertWebhookUrl?: string;
  /** Minutes between canaries; 0 turns the canary off. */
  canaryIntervalMinutes: number;
  /** Post the canary comments on; the first open public post when absent. */
  canaryPost?: string;
  /** URL pinged after each passing canary, for an outside dead-man's switch. */
  deadmanUrl?: string;
  thresholds: HealthThresholds;
}

export const DEFAULT_MONITOR_SETTINGS: MonitorSettings = {
  canaryIntervalMinutes: DEFAULT_CANARY_INTERVAL_MINUTES,
  thresholds: DEFAULT_THRESHOLDS,
};

function httpUrl(example: string) {
  return v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.check(
        (value) =>
          value === '' || (URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)),
        `must be an http or https URL, such as ${example}`,
      ),
    ),
  );
}

function wholeNumber(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.regex(/^\d{1,7}$/, message),
      v.transform(Number),
      v.minValue(min, message),
      v.maxValue(max, message),
    ),
  );
}

const MonitorEnvSchema = v.object({
  [MONITOR_ENV.alertWebhookUrl]: httpUrl('https://hooks.slack.com/services/…'),
  [MONITOR_ENV.canaryIntervalMinutes]: wholeNumber(0, 1440),
  [MONITOR_ENV.canaryPost]: v.optional(
    v.pipe(
      v.string('must be text'),
      v.trim(),
      v.regex(/^[a-z0-9-]*$/, 'must be a post id: lowercase letters, digits and hyphens'),
    ),
  ),
  [MONITOR_ENV.deadmanUrl]: httpUrl('https://hc-ping.com/<uuid>'),
  [MONITOR_ENV.reviewDeadlineHours]: wholeNumber(1, 10_000),
  [MONITOR_ENV.maxOutboxAgeSeconds]: wholeNumber(10, 86_400),
});

export type MonitorSettingsResult =
  { ok: true; settings: MonitorSettings } | { ok: false; variable: string; message: string };

/** Reads the monitoring settings from `env`; the first invalid variable is named in the result. */
export function monitorSettingsFrom(
  env: Record<string, string | undefined>,
): MonitorSettingsResult {
  const result = v.safeParse(MonitorEnvSchema, env);
  if (!result.success) {
    const issue = result.issues[0];
    return { ok: false, variable: v.getDotPath(issue) ?? '(environment)', message: issue.message };
  }
  const values = result.output;
  const nonEmpty = (value: string | undefined) =>
    value === undefined || value === '' ? undefined : value;
  const alertWebhookUrl = nonEmpty(values[MONITOR_ENV.alertWebhookUrl]);
  const canaryPost = nonEmpty(values[MONITOR_ENV.canaryPost]);
  const deadmanUrl = nonEmpty(values[MONITOR_ENV.deadmanUrl]);
  const settings: MonitorSettings = {
    canaryIntervalMinutes:
      values[MONITOR_ENV.canaryIntervalMinutes] ?? DEFAULT_CANARY_INTERVAL_MINUTES,
    thresholds: {
      ...DEFAULT_THRESHOLDS,
      reviewDeadlineHours:
        values[MONITOR_ENV.reviewDeadlineHours] ?? DEFAULT_THRESHOLDS.reviewDeadlineHours,
      maxOutboxAgeSeconds:
        values[MONITOR_ENV.maxOutboxAgeSeconds] ?? DEFAULT_THRESHOLDS.maxOutboxAgeSeconds,
    },
  };
  if (alertWebhookUrl !== undefined) settings.alertWebhookUrl = alertWebhookUrl;
  if (canaryPost !== undefined) settings.canaryPost = canaryPost;
  if (deadmanUrl !== undefined) settings.deadmanUrl = deadmanUrl;
  return { ok: true, settings };
}
