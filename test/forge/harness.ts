// Test setup for the forge: a local forge in a temporary folder, a webhook receiver, and a GitHub
// client whose every request and response is recorded and checked against GitHub's schemas.

import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  LOCAL_FORGE_SPACING,
  createGitHubForge,
  createOctokit,
  type GitHubAppCredentials,
  type GitHubForgeOptions,
  type OctokitOptions,
} from '../../api/forge/github.ts';
import {
  startLocalForge,
  type FaultHook,
  type LocalForge,
  type LocalForgeOptions,
} from '../../api/forge/local/index.ts';
import type { ForgeClient } from '../../api/forge/types.ts';
import { createOpenApiChecker, type Exchange, type OpenApiChecker } from '../openapi/check.ts';

const run = promisify(execFile);

export const OWNER = 'marginalia';
export const REPO = 'blog';
export const TOKEN = 'local-test-token';
export const WEBHOOK_SECRET = 'webhook-test-secret';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Number of next deliveries to reject with 503, as an API that is down does. */
  failNext: number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const receiver = {
    url: '',
    received,
    failNext: 0,
    close: async () => {},
  };
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(Buffer.from(chunk));
    if (receiver.failNext > 0) {
      receiver.failNext -= 1;
      response.writeHead(503).end();
      return;
    }
    received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('webhook receiver has no port');
  receiver.url = `http://127.0.0.1:${address.port}/webhooks/github`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}

export type ClientOptions = Partial<Omit<GitHubForgeOptions, 'octokit'>> & {
  token?: string;
  /** Authenticates as this GitHub App installation instead of the token. */
  app?: GitHubAppCredentials;
  octokit?: Partial<OctokitOptions>;
};

export interface ForgeFixture {
  dataDir: string;
  forge: LocalForge;
  receiver: WebhookReceiver;
  checker: OpenApiChecker;
  exchanges: Exchange[];
  /** Fetch whose exchanges are checked and recorded in `exchanges`. */
  fetch: typeof fetch;
  /** Replaces the fault hook for the requests that follow; undefined removes it. */
  setFaults(hook: FaultHook | undefined): void;
  /**
   * Builds a GitHub client against the forge whose traffic lands in `exchanges`, with the retry and
   * throttling plugins: no write spacing and 1 ms retry waits, which `octokit` overrides.
   */
  client(options?: ClientOptions): ForgeClient;
  git(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

/** Starts a local forge seeded with a small content folder, in a fresh temporary folder. */
export async function startForgeFixture(
  options: Partial<LocalForgeOptions> & { checker: OpenApiChecker; webhookSecret?: string },
): Promise<ForgeFixture> {
  const { checker, webhookSecret, ...forgeOptions } = options;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'forge-test-'));
  const content = path.join(dataDir, 'seed', 'content');
  await mkdir(path.join(content, 'posts'), { recursive: true });
  await writeFile(path.join(content, 'posts', 'hello.md'), '---\ntitle: Hello\n---\nFirst post.\n');
  const receiver = await startWebhookReceiver();
  let faults: FaultHook | undefined;
  const forge = await startLocalForge({
    dataDir: path.join(dataDir, 'forge'),
    owner: OWNER,
    repo: REPO,
    baseBranch: 'main',
    token: TOKEN,
    webhook: {
      url: receiver.url,
      secret: webhookSecret ?? WEBHOOK_SECRET,
      retryDelaysMs: [20, 40],
    },
    seed: { directory: content },
    faults: (request) => faults?.(request),
    ...forgeOptions,
  });
  const recorder = checker.recordingFetch();
  return {
    dataDir,
    forge,
    receiver,
    checker,
    exchanges: recorder.exchanges,
    fetch: recorder.fetch,
    setFaults(hook) {
      faults = hook;
    },
    client(clientOptions = {}) {
      const { token, app, octokit: octokitOptions, ...rest } = clientOptions;
      const octokit = createOctokit({
        baseUrl: forge.url,
        ...(app === undefined ? { token: token ?? TOKEN } : { app }),
        fetch: recorder.fetch,
        ...LOCAL_FORGE_SPACING,
        retryBaseDelayMs: 1,
        ...octokitOptions,
      });
      return createGitHubForge({
        octokit,
        owner: OWNER,
        repo: REPO,
        baseBranch: 'main',
        committer: { name: 'Marginalia Bot', email: 'bot@marginalia.test' },
        requestTimeoutMs: 10_000,
        noCommitsRetryDelaysMs: [5, 10, 20],
        ...rest,
      });
    },
    async git(...args) {
      const { stdout } = await run('git', ['-C', forge.repoPath, ...args]);
      return stdout.trimEnd();
    },
    async close() {
      await forge.webhooksIdle();
      await forge.close();
      await receiver.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function problemsOf(exchanges: readonly Exchange[]): string[] {
  return exchanges.flatMap((exchange) =>
    exchange.problems.map(
      (problem) =>
        `${exchange.method} ${new URL(exchange.url).pathname} → ${exchange.status}: ${problem}`,
    ),
  );
}

export function writesOf(exchanges: readonly Exchange[]): Exchange[] {
  return exchanges.filter((exchange) => exchange.method !== 'GET' && exchange.method !== 'HEAD');
}

export { createOpenApiChecker };
