// `npm run doctor` as a subprocess against the local forge: one line per check, and the exit
// status the operator's scripts rely on.

import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { ENV } from '../../api/config.ts';
import { GITHUB_ENV } from '../../api/forge/github-config.ts';
import type { LocalForgeOptions } from '../../api/forge/local/index.ts';
import {
  OWNER,
  REPO,
  TOKEN,
  createOpenApiChecker,
  startForgeFixture,
  type ForgeFixture,
} from './harness.ts';

const checker = createOpenApiChecker();

const API_ENV = {
  [ENV.publicSiteUrl]: 'http://127.0.0.1:4321',
  [ENV.internalSiteUrl]: 'http://127.0.0.1:4322',
  // Port 9 (discard) has no listener here, so the health lines report an API not running.
  [ENV.apiPublicUrl]: 'http://127.0.0.1:9',
  [ENV.staffToken]: 's'.repeat(32),
  [ENV.webhookSecret]: 'w'.repeat(32),
};

const APP_ID = 99;
const INSTALLATION_ID = 1234;
const KEYS = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
});

let fixture: ForgeFixture | null = null;

afterEach(async () => {
  await fixture?.close();
  fixture = null;
});

async function startForge(options: Partial<LocalForgeOptions> = {}): Promise<ForgeFixture> {
  fixture = await startForgeFixture({
    checker,
    app: { id: APP_ID, publicKey: KEYS.publicKey, installationId: INSTALLATION_ID },
    ...options,
  });
  return fixture;
}

function tokenEnv(forge: ForgeFixture, extra: Record<string, string> = {}) {
  return {
    ...API_ENV,
    [GITHUB_ENV.owner]: OWNER,
    [GITHUB_ENV.repo]: REPO,
    [GITHUB_ENV.apiUrl]: forge.forge.url,
    [GITHUB_ENV.token]: TOKEN,
    ...extra,
  };
}

function appEnv(forge: ForgeFixture) {
  return {
    ...API_ENV,
    [GITHUB_ENV.owner]: OWNER,
    [GITHUB_ENV.repo]: REPO,
    [GITHUB_ENV.apiUrl]: forge.forge.url,
    [GITHUB_ENV.appId]: String(APP_ID),
    // As an env file stores it: one line with literal \n sequences.
    [GITHUB_ENV.appPrivateKey]: KEYS.privateKey.trim().replaceAll('\n', '\\n'),
    [GITHUB_ENV.installationId]: String(INSTALLATION_ID),
  };
}

interface DoctorRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Status word per check name, such as { credentials: 'ok', repository: 'FAILED' }. */
  statuses: Record<string, string>;
}

function runDoctor(env: Record<string, string>): Promise<DoctorRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['api/cli/doctor.ts'],
      { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) {
          if (typeof error.code !== 'number') {
            reject(error);
            return;
          }
          code = error.code;
        }
        const statuses: Record<string, string> = {};
        for (const line of stdout.split('\n')) {
          const match = /^(ok|FAILED|-)\s+([a-zA-Z ]+):/.exec(line);
          if (match?.[1] !== undefined && match[2] !== undefined) statuses[match[2]] = match[1];
        }
        resolve({ code, stdout, stderr, statuses });
      },
    );
  });
}

describe('doctor', () => {
  test('passes with a good token', async () => {
    const forge = await startForge();

    const run = await runDoctor(tokenEnv(forge));

    expect(run.code).toBe(0);
    expect(run.statuses).toEqual({
      'API settings': 'ok',
      'GitHub settings': 'ok',
      credentials: 'ok',
      repository: 'ok',
      'base branch': 'ok',
      permissions: 'ok',
      pipeline: '-',
    });
    expect(run.stdout).toContain('All 4 forge checks passed.');
    expect(run.stdout).not.toContain(TOKEN);
  });

  test('passes with a GitHub App installation', async () => {
    const forge = await startForge();

    const run = await runDoctor(appEnv(forge));

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`GitHub App ${APP_ID}, installation ${INSTALLATION_ID}`);
    expect(run.statuses['permissions']).toBe('ok');
  });

  test('fails a bad token with 401', async () => {
    const forge = await startForge();

    const run = await runDoctor(tokenEnv(forge, { [GITHUB_ENV.token]: 'wrong-token' }));

    expect(run.code).toBe(1);
    expect(run.statuses['credentials']).toBe('FAILED');
    expect(run.stdout).toMatch(/FAILED {2}credentials: .*HTTP 401: Bad credentials/);
    expect(run.statuses['repository']).toBe('-');
    expect(run.stdout).not.toContain('wrong-token');
  });

  test('fails a wrong repository with 404', async () => {
    const forge = await startForge();

    const run = await runDoctor(tokenEnv(forge, { [GITHUB_ENV.repo]: 'no-such-repo' }));

    expect(run.code).toBe(1);
    expect(run.statuses['credentials']).toBe('ok');
    expect(run.stdout).toMatch(/FAILED {2}repository: marginalia\/no-such-repo .*HTTP 404/);
  });

  test('fails a missing base branch', async () => {
    const forge = await startForge();

    const run = await runDoctor(tokenEnv(forge, { [GITHUB_ENV.baseBranch]: 'trunk' }));

    expect(run.code).toBe(1);
    expect(run.statuses['repository']).toBe('ok');
    expect(run.stdout).toMatch(/FAILED {2}base branch: trunk not found .*such as main/);
  });

  test('fails a read-only token and says how to fix it', async () => {
    const forge = await startForge({ permissions: { contents: 'read', pull_requests: 'read' } });

    const run = await runDoctor(tokenEnv(forge));

    expect(run.code).toBe(1);
    expect(run.statuses['base branch']).toBe('ok');
    expect(run.stdout).toMatch(
      /FAILED {2}permissions: the token may not push to marginalia\/blog; .*Contents and Pull requests/,
    );
  });

  test('fails a read-only installation and names the permission', async () => {
    const forge = await startForge({ permissions: { pull_requests: 'read' } });

    const run = await runDoctor(appEnv(forge));

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /FAILED {2}permissions: the installation lacks pull_requests: write \(it has pull_requests: read\)/,
    );
  });

  test('passes a repository name in another case', async () => {
    const forge = await startForge();

    const run = await runDoctor(
      tokenEnv(forge, { [GITHUB_ENV.owner]: 'Marginalia', [GITHUB_ENV.repo]: 'BLOG' }),
    );

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ok      repository: marginalia/blog');
  });

  test('exits 2 naming a missing variable', async () => {
    const forge = await startForge();
    const env: Record<string, string> = tokenEnv(forge);
    delete env[GITHUB_ENV.token];

    const run = await runDoctor(env);

    expect(run.code).toBe(2);
    expect(run.stdout).toContain(`FAILED  GitHub settings: ${GITHUB_ENV.token} is missing`);
    expect(run.statuses['credentials']).toBeUndefined();
  });

  test('exits 2 naming an invalid API setting', async () => {
    const forge = await startForge();

    const run = await runDoctor(tokenEnv(forge, { [ENV.staffToken]: 'short' }));

    expect(run.code).toBe(2);
    expect(run.stdout).toContain(`FAILED  API settings: ${ENV.staffToken} must be at least`);
    expect(run.statuses['GitHub settings']).toBe('ok');
  });

  test('exits 1 when the forge cannot be reached', async () => {
    const forge = await startForge();
    // A port that was free a moment ago, so nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
      });
    });

    const run = await runDoctor(
      tokenEnv(forge, { [GITHUB_ENV.apiUrl]: `http://127.0.0.1:${port}` }),
    );

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /FAILED {2}connection: http:\/\/127\.0\.0\.1:\d+ could not be reached/,
    );
  });

  test('prints the pipeline health of a running API', async () => {
    const forge = await startForge();
    const health = await startHealthServer({
      status: 'degraded',
      checks: {
        outboxAge: {
          status: 'ok',
          value: 3,
          threshold: 300,
          unit: 'seconds',
          detail: 'Comments reach the forge in time.',
        },
        reviewDeadline: {
          status: 'degraded',
          value: 2,
          threshold: 0,
          unit: 'pull requests',
          detail: '2 comment pull requests have waited more than 72 h for review.',
        },
      },
    });
    try {
      const run = await runDoctor(tokenEnv(forge, { [ENV.apiPublicUrl]: health.url }));
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('ok      outboxAge: 3 seconds (threshold 300 seconds).');
      expect(run.stdout).toContain(
        'DEGRADED  reviewDeadline: 2 pull requests (threshold 0 pull requests).',
      );
      expect(run.stdout).toContain('The pipeline is degraded');
    } finally {
      await health.close();
    }
  });

  test('fails when the pipeline is down', async () => {
    const forge = await startForge();
    const health = await startHealthServer({
      status: 'down',
      checks: {
        deadLetters: {
          status: 'down',
          value: 4,
          threshold: 0,
          unit: 'comments',
          detail: '4 comments stopped retrying; see npm run replay for the cause of each.',
        },
      },
    });
    try {
      const run = await runDoctor(tokenEnv(forge, { [ENV.apiPublicUrl]: health.url }));
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('DOWN    deadLetters: 4 comments (threshold 0 comments).');
      expect(run.stdout).toContain('The pipeline is down');
    } finally {
      await health.close();
    }
  });
});

/** Serves `report` at /api/health on 127.0.0.1, as a running API would. */
async function startHealthServer(
  report: unknown,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer((request, response) => {
    const found = request.url === '/api/health';
    response.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(found ? report : { message: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
