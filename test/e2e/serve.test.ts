// `npm run serve` as a child process, pointed at the local forge in place of GitHub: it refuses
// to start without a required variable and names it, and with every setting it accepts a comment,
// proposes it, and reports its health.
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../api/config.ts';
import { GITHUB_ENV } from '../../api/forge/github-config.ts';
import { startLocalForge, type LocalForge } from '../../api/forge/local/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'serve-test-token-0123456789';

let dir: string;
let forge: LocalForge;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function baseEnv(port: number): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    [ENV.publicSiteUrl]: 'http://127.0.0.1:4321',
    [ENV.internalSiteUrl]: 'http://127.0.0.1:4322',
    [ENV.apiPublicUrl]: `http://127.0.0.1:${port}`,
    [ENV.staffToken]: 's'.repeat(32),
    [ENV.webhookSecret]: 'w'.repeat(32),
    [GITHUB_ENV.owner]: 'marginalia',
    [GITHUB_ENV.repo]: 'blog',
    [GITHUB_ENV.apiUrl]: forge.url,
    [GITHUB_ENV.token]: TOKEN,
    MARGINALIA_PORT: String(port),
    MARGINALIA_DATA_DIR: path.join(dir, `data-${port}`),
    MARGINALIA_CONTENT_DIR: path.join(dir, 'content'),
    MARGINALIA_CANARY_INTERVAL_MINUTES: '0',
  };
}

interface Run {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startServe(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['api/node/serve.ts'], { cwd: root, env });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, stderr: () => stderr, exited };
}

async function waitFor(what: string, condition: () => Promise<boolean> | boolean) {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'serve-test-'));
  await cp(path.join(root, 'content'), path.join(dir, 'content'), { recursive: true });
  forge = await startLocalForge({
    dataDir: path.join(dir, 'forge'),
    owner: 'marginalia',
    repo: 'blog',
    baseBranch: 'main',
    token: TOKEN,
    seed: { directory: path.join(dir, 'content'), prefix: 'content' },
  });
});

afterAll(async () => {
  await forge.close();
  await rm(dir, { recursive: true, force: true });
});

describe('npm run serve', () => {
  it.each([ENV.webhookSecret, GITHUB_ENV.repo, GITHUB_ENV.token])(
    'names %s when it is missing',
    async (variable) => {
      const env = baseEnv(await freePort());
      delete env[variable];
      const run = startServe(env);
      expect(await run.exited).toBe(2);
      expect(run.stderr()).toContain(variable);
      expect(run.stderr()).toContain('docs/configuration.md');
    },
  );

  it('names an invalid port', async () => {
    const run = startServe({ ...baseEnv(await freePort()), MARGINALIA_PORT: '99999' });
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('MARGINALIA_PORT must be a TCP port');
  });

  it('accepts and proposes a comment', async () => {
    const port = await freePort();
    const run = startServe(baseEnv(port));
    const api = `http://127.0.0.1:${port}`;
    try {
      await waitFor('the API to listen', () => run.stderr().includes('"api listening"'));
      const response = await fetch(`${api}/api/comments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:4321' },
        body: JSON.stringify({
          post: 'code-review-habits',
          author: 'Self-hoster',
          text: 'Served by npm run serve.',
        }),
      });
      expect(response.status).toBe(202);
      const { receipt } = (await response.json()) as { receipt: string };
      await waitFor('the pull request', async () => {
        const status = await fetch(`${api}/api/comments/${receipt}`);
        return ((await status.json()) as { status: string }).status === 'proposed';
      });
      const health = await fetch(`${api}/api/health`);
      expect(health.status).toBe(200);
      const report = (await health.json()) as { checks: { forge: { status: string } } };
      expect(report.checks.forge.status).toBe('ok');
    } finally {
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    }
  });
});
