// `npm run doctor`: checks a deployment's settings and its access to the forge before comments
// depend on them. It reads the API settings and the GitHub settings from the environment, then
// checks with the forge that the credentials work, the repository and base branch exist, and the
// credentials may write contents and pull requests.
//
// Then, when the API responds at MARGINALIA_API_PUBLIC_URL, it prints the pipeline's health
// checks from GET /api/health (docs/operations.md explains each).
//
// Prints one line per check, "ok" or "FAILED" with what to change. Exit status: 0 when every
// check passed, 1 when a check failed, the forge could not be reached or the pipeline is down,
// 2 when a setting is missing or invalid (the line names the variable). An API that is not
// running yet is reported but is not a failure, since doctor runs before the first deploy.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseConfig } from '../config.ts';
import {
  createForgeFromConfig,
  parseGitHubConfig,
  type GitHubConfig,
} from '../forge/github-config.ts';
import type { ForgeAccessCheck, ForgeLogger } from '../forge/types.ts';
import { terminalText } from './terminal-text.ts';

const CHECK_NAMES: readonly ForgeAccessCheck['name'][] = [
  'credentials',
  'repository',
  'base branch',
  'permissions',
];

function print(line: string): void {
  process.stdout.write(`${terminalText(line, { multiline: false })}\n`);
}

function report(ok: boolean, name: string, detail: string): void {
  print(`${ok ? 'ok    ' : 'FAILED'}  ${name}: ${detail}`);
}

/** Forge warnings (rate limits, token renewals) go to stderr as JSON lines; requests are not logged. */
const stderrLogger: ForgeLogger = {
  info() {},
  warn(message, fields) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', message, ...fields })}\n`);
  },
  error(message, fields) {
    process.stderr.write(`${JSON.stringify({ level: 'error', message, ...fields })}\n`);
  },
};

function describeAuth(config: GitHubConfig): string {
  return config.auth.kind === 'token'
    ? 'a fine-grained token'
    : `GitHub App ${config.auth.appId}, installation ${config.auth.installationId}`;
}

/** Maximum wait for the API's health report, in milliseconds. */
const HEALTH_TIMEOUT_MS = 10_000;

interface HealthCheckView {
  status: string;
  value: unknown;
  threshold: unknown;
  unit: unknown;
  detail: unknown;
}

function describeMeasure(value: unknown, unit: unknown): string {
  if (value === null || value === undefined) return 'none';
  return typeof unit === 'string' ? `${String(value)} ${unit}` : String(value);
}

/**
 * Prints the health checks of the API at `apiUrl`; returns false when the pipeline is down. An
 * API that cannot be reached is reported and returns true.
 */
async function printHealth(apiUrl: string): Promise<boolean> {
  let body: unknown;
  try {
    const response = await fetch(`${apiUrl}/api/health`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
    });
    body = await response.json();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    print(`-       pipeline: not checked, the API at ${apiUrl} did not answer (${reason})`);
    return true;
  }
  if (typeof body !== 'object' || body === null || !('checks' in body) || !('status' in body)) {
    report(false, 'pipeline', `${apiUrl}/api/health did not return a health report`);
    return false;
  }
  const checks = body.checks as Record<string, HealthCheckView>;
  for (const [name, check] of Object.entries(checks)) {
    const word = check.status === 'ok' ? 'ok    ' : check.status.toUpperCase().padEnd(6);
    const measure =
      check.threshold === null
        ? describeMeasure(check.value, check.unit)
        : `${describeMeasure(check.value, check.unit)} (threshold ${describeMeasure(check.threshold, check.unit)})`;
    print(`${word}  ${name}: ${measure}. ${String(check.detail)}`);
  }
  const status = String(body.status);
  print(`The pipeline is ${status}; docs/operations.md says what each check means.`);
  return status !== 'down';
}

/** Reads both settings groups, printing a line for each; returns the GitHub settings or null. */
function readSettings(env: Record<string, string | undefined>): GitHubConfig | null {
  let valid = true;
  try {
    parseConfig(env);
    report(true, 'API settings', 'every variable is set and valid');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    report(false, 'API settings', `${error.message}.`);
    valid = false;
  }
  let github: GitHubConfig | null = null;
  try {
    github = parseGitHubConfig(env);
    report(
      true,
      'GitHub settings',
      `${github.owner}/${github.repo}, base branch ${github.baseBranch}, ${github.apiUrl}, ${describeAuth(github)}`,
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    report(false, 'GitHub settings', `${error.message}.`);
    valid = false;
  }
  return valid ? github : null;
}

async function main(): Promise<number> {
  const github = readSettings(process.env);
  const apiUrl = (process.env['MARGINALIA_API_PUBLIC_URL'] ?? '').trim().replace(/\/+$/, '');
  if (github === null) {
    print('Fix the settings named above, then run npm run doctor again.');
    if (existsSync(path.join(process.env['MARGINALIA_DATA_DIR'] ?? '.marginalia', 'stack.json'))) {
      print(
        'npm start runs its own local forge and needs none of these; doctor checks a deployment ' +
          '(docs/deploy.md). The local API reports its health at /api/health.',
      );
    }
    return 2;
  }
  const forge = createForgeFromConfig(github, {
    logger: stderrLogger,
    octokit: { retries: 2, retryBaseDelayMs: 500 },
    client: { requestTimeoutMs: 15_000 },
  });
  let checks: ForgeAccessCheck[];
  try {
    checks = (await forge.checkAccess()).checks;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    report(
      false,
      'connection',
      `${github.apiUrl} could not be reached (${reason}); check MARGINALIA_GITHUB_API_URL and the network.`,
    );
    return 1;
  }
  for (const check of checks) report(check.ok, check.name, check.detail);
  const failed = checks.filter((check) => !check.ok);
  for (const name of CHECK_NAMES) {
    if (!checks.some((check) => check.name === name)) {
      print(`-       ${name}: not checked, because an earlier check failed`);
    }
  }
  if (failed.length === 0) {
    print(`All ${checks.length} forge checks passed.`);
  } else {
    print(
      `${failed.length} forge check${failed.length === 1 ? '' : 's'} failed; see FAILED above.`,
    );
  }
  const healthy = await printHealth(apiUrl);
  return failed.length === 0 && healthy ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `doctor failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
