// The local forge: an HTTP server that implements the subset of GitHub's REST API that the GitHub
// forge client uses, over a bare git repository on disk, and sends GitHub-style signed webhooks.

import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ForgeLogger } from '../types.ts';
import {
  createInstallationTokens,
  type Caller,
  type LocalForgeApp,
  type RepositoryPermissions,
} from './app-auth.ts';
import { defaultFaultMessage, type FaultDecision, type FaultHook } from './faults.ts';
import { readCommit, runGit } from './git.ts';
import { GitHubHttpError, notFound, readJsonBody } from './http.ts';
import type { ForgeUser } from './payloads.ts';
import { pullPageNumber, renderPullList, renderPullPage } from './pull-page.ts';
import { pullRoutes } from './pull-routes.ts';
import { openPullStore } from './pull-store.ts';
import { repositoryRoutes } from './repository-routes.ts';
import { seedRepository } from './seed.ts';
import { timestamp, type ForgeState, type Route, type RouteResponse } from './state.ts';
import { createWebhookSender, type WebhookDelivery, type WebhookOptions } from './webhooks.ts';

export interface LocalForgeOptions {
  /** Folder for the bare repository and the pull request file; created when missing. */
  dataDir: string;
  owner: string;
  repo: string;
  baseBranch?: string;
  /** The one token the forge accepts, as `Authorization: token …` or `Bearer …`. */
  token: string;
  /**
   * A GitHub App with one installation. Its JWTs are exchanged at
   * POST /app/installations/{installation_id}/access_tokens for tokens that expire.
   */
  app?: LocalForgeApp;
  /**
   * Permissions of the token and the installation tokens; `write` for both when omitted. With
   * `read`, writes that need the permission get 403 as GitHub returns it.
   */
  permissions?: Partial<RepositoryPermissions>;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** Defaults to 0: the system picks a free port. */
  port?: number;
  webhook?: WebhookOptions;
  /**
   * Files for the first commit when the repository does not exist yet. They go under `prefix`,
   * which defaults to the folder's own name, so seeding from ./content yields content/ in git.
   */
  seed?: { directory: string; prefix?: string };
  /** The account the token authenticates, which commits, opens and merges. */
  user?: { login: string; name: string; email: string };
  faults?: FaultHook;
  logger?: ForgeLogger;
  now?: () => Date;
  randomId?: () => string;
}

export interface LocalForge {
  /** Base URL for Octokit's `baseUrl`, such as http://127.0.0.1:40123. */
  url: string;
  port: number;
  /** Path of the bare git repository. */
  repoPath: string;
  /** Every webhook delivery so far, with its attempts. */
  deliveries(): readonly WebhookDelivery[];
  redeliver(deliveryId: string): Promise<WebhookDelivery>;
  /** Resolves when no webhook delivery is in flight or waiting for a retry. */
  webhooksIdle(): Promise<void>;
  close(): Promise<void>;
}

const silentLogger: ForgeLogger = { info() {}, warn() {}, error() {} };

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Returns the token in an Authorization header, or null when the header has none. */
function presentedToken(header: string | undefined): string | null {
  const match = /^(?:token|bearer)\s+(\S+)$/i.exec(header?.trim() ?? '');
  return match?.[1] ?? null;
}

const APP_TOKEN_PATH = /^\/app\/installations\/(?<id>[^/]+)\/access_tokens$/;
const APP_TOKEN_OPERATION = 'apps/create-installation-access-token';

/** Deterministic id for a repository name, so that restarts keep the same `id`. */
function repositoryId(owner: string, repo: string): number {
  return digest(`${owner}/${repo}`).readUInt32BE(0) & 0x7fffffff;
}

const routes: readonly Route[] = [...repositoryRoutes, ...pullRoutes];

function findRoute(
  method: string,
  rest: string,
): { route: Route; params: Record<string, string> } | null {
  for (const route of routes) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(rest);
    if (!match) continue;
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(match.groups ?? {})) {
      if (value !== undefined) params[name] = decodeURIComponent(value);
    }
    return { route, params };
  }
  return null;
}

function errorResponse(error: GitHubHttpError): RouteResponse {
  return { status: error.status, body: error.toJson(), headers: error.headers };
}

function faultResponse(decision: Extract<FaultDecision, { kind: 'fail' }>): RouteResponse {
  const headers: Record<string, string> = {};
  if (decision.retryAfterSeconds !== undefined)
    headers['retry-after'] = String(decision.retryAfterSeconds);
  if (decision.status === 403 || decision.status === 429) headers['x-ratelimit-remaining'] = '0';
  if (decision.rateLimitResetSeconds !== undefined)
    headers['x-ratelimit-reset'] = String(decision.rateLimitResetSeconds);
  const message = decision.message ?? defaultFaultMessage(decision.status);
  return errorResponse(new GitHubHttpError(decision.status, message, { headers }));
}

function send(response: ServerResponse, result: RouteResponse, requestId: string): void {
  const headers: Record<string, string> = {
    'x-github-request-id': requestId,
    'x-github-api-version-selected': '2022-11-28',
    ...result.headers,
  };
  if (result.body === undefined) {
    response.writeHead(result.status, headers);
    response.end();
    return;
  }
  const text = JSON.stringify(result.body);
  response.writeHead(result.status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  response.end(text);
}

const DEFAULT_USER = {
  login: 'marginalia-bot',
  name: 'Marginalia',
  email: 'marginalia-bot@users.noreply.localhost',
};

/** Seeds the repository when it is missing, then reads what the routes need from disk. */
async function prepareState(options: LocalForgeOptions, logger: ForgeLogger, now: () => Date) {
  const baseBranch = options.baseBranch ?? 'main';
  const ownerDir = path.join(options.dataDir, options.owner);
  await mkdir(ownerDir, { recursive: true });
  const repoPath = path.join(ownerDir, `${options.repo}.git`);
  const user = options.user ?? DEFAULT_USER;

  const seedDirectory = options.seed === undefined ? null : path.resolve(options.seed.directory);
  const seeded = await seedRepository(repoPath, seedDirectory, {
    baseBranch,
    prefix: seedDirectory === null ? '' : (options.seed?.prefix ?? path.basename(seedDirectory)),
    identity: { name: user.name, email: user.email },
    date: now(),
  });
  if (seeded) logger.info('local forge repository created', { repoPath, seed: seedDirectory });

  const roots = await runGit(repoPath, ['rev-list', '--max-parents=0', baseBranch]);
  const root = roots.split('\n')[0] ?? '';
  const createdAt = timestamp((await readCommit(repoPath, root)).committer.date);
  const pushedAt = timestamp((await readCommit(repoPath, baseBranch)).committer.date);
  const pulls = await openPullStore(path.join(ownerDir, `${options.repo}.pulls.json`));
  return { baseBranch, repoPath, user, createdAt, pushedAt, pulls };
}

export async function startLocalForge(options: LocalForgeOptions): Promise<LocalForge> {
  if (options.token === '') throw new Error('startLocalForge needs a non-empty token.');
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const randomId = options.randomId ?? randomUUID;
  const prepared = await prepareState(options, logger, now);
  const expectedToken = digest(options.token);
  const permissions: RepositoryPermissions = {
    contents: options.permissions?.contents ?? 'write',
    pull_requests: options.permissions?.pull_requests ?? 'write',
  };
  const installationTokens =
    options.app === undefined ? null : createInstallationTokens(options.app, permissions, now);

  /** Finds who sent a request: the configured token or a live installation token. */
  function authenticate(header: string | undefined): Caller {
    if (header === undefined) throw new GitHubHttpError(401, 'Requires authentication');
    const token = presentedToken(header);
    if (token === null) throw new GitHubHttpError(401, 'Bad credentials');
    if (timingSafeEqual(digest(token), expectedToken)) return { kind: 'token', permissions };
    const installation = installationTokens?.lookup(token) ?? null;
    if (installation === null) throw new GitHubHttpError(401, 'Bad credentials');
    return installation;
  }

  /** GitHub's 403 for a write the credential's permissions do not cover. */
  function forbidden(caller: Caller): GitHubHttpError {
    const kind = caller.kind === 'token' ? 'personal access token' : 'integration';
    return new GitHubHttpError(403, `Resource not accessible by ${kind}`);
  }

  const state: ForgeState = {
    repoPath: prepared.repoPath,
    owner: {
      login: options.owner,
      id: repositoryId(options.owner, ''),
      name: options.owner,
      email: `${options.owner}@users.noreply.localhost`,
      type: 'User',
    },
    user: {
      ...prepared.user,
      id: repositoryId(prepared.user.login, ''),
      type: 'Bot',
    } satisfies ForgeUser,
    repo: options.repo,
    repoId: repositoryId(options.owner, options.repo),
    baseBranch: prepared.baseBranch,
    createdAt: prepared.createdAt,
    pushedAt: prepared.pushedAt,
    baseUrl: '',
    pulls: prepared.pulls,
    webhooks:
      options.webhook === undefined
        ? null
        : createWebhookSender({
            options: options.webhook,
            hookId: repositoryId(options.repo, 'hook'),
            logger,
            now,
            randomId,
          }),
    now,
    logger,
  };

  // Writes run one at a time, so two requests never race on a ref or the pull request file.
  let writeTail: Promise<unknown> = Promise.resolve();
  function serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = writeTail.then(work, work);
    writeTail = run.catch(() => undefined);
    return run;
  }

  let sequence = 0;

  /** Handles POST /app/installations/{installation_id}/access_tokens, faults included. */
  async function createInstallationToken(
    request: IncomingMessage,
    path: string,
    installationId: string,
  ): Promise<{ result: RouteResponse; drop: boolean }> {
    if (installationTokens === null) throw notFound('apps/apps');
    sequence += 1;
    const fault = options.faults?.({
      method: 'POST',
      path,
      operation: APP_TOKEN_OPERATION,
      sequence,
    });
    if (fault?.kind === 'fail') return { result: faultResponse(fault), drop: false };
    await readJsonBody(request);
    const created = installationTokens.create(installationId, request.headers.authorization);
    if (fault?.kind === 'fail-after-effect') {
      const error = new GitHubHttpError(fault.status, defaultFaultMessage(fault.status));
      return { result: errorResponse(error), drop: false };
    }
    return { result: created, drop: fault?.kind === 'drop-after-effect' };
  }
  const repoPrefix = `/repos/${options.owner}/${options.repo}`.toLowerCase();

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // Pull request pages are for people in a browser, as on GitHub, and need no token.
    const pageNumber =
      request.method === 'GET'
        ? pullPageNumber(
            new URL(request.url ?? '/', 'http://localhost').pathname,
            options.owner,
            options.repo,
          )
        : null;
    if (pageNumber !== null) {
      const html =
        pageNumber === 'list'
          ? renderPullList(state)
          : await renderPullPage(state, pageNumber).catch(() => null);
      response.writeHead(html === null ? 404 : 200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      });
      response.end(html ?? 'No such pull request on this forge.\n');
      return;
    }
    const started = Date.now();
    const requestId = randomId().toUpperCase();
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', state.baseUrl);
    let operation: string | null = null;
    let result: RouteResponse;
    let drop = false;
    try {
      const pathname = url.pathname.replace(/\/+$/, '');
      const appToken = method === 'POST' ? APP_TOKEN_PATH.exec(pathname) : null;
      if (appToken !== null) {
        operation = APP_TOKEN_OPERATION;
        ({ result, drop } = await createInstallationToken(
          request,
          url.pathname,
          appToken.groups?.['id'] ?? '',
        ));
      } else {
        const caller = authenticate(request.headers.authorization);
        const prefixMatches = pathname.toLowerCase().startsWith(repoPrefix);
        const rest = pathname.slice(repoPrefix.length);
        const found =
          prefixMatches && (rest === '' || rest.startsWith('/')) ? findRoute(method, rest) : null;
        if (found === null) throw notFound();
        operation = found.route.operation;
        const needed = found.route.permission;
        if (needed !== undefined && caller.permissions[needed] !== 'write') throw forbidden(caller);
        sequence += 1;
        const fault = options.faults?.({ method, path: url.pathname, operation, sequence });
        if (fault?.kind === 'deny') {
          result = errorResponse(
            new GitHubHttpError(
              fault.status,
              fault.status === 401 ? 'Bad credentials' : 'Resource not accessible by integration',
            ),
          );
        } else if (fault?.kind === 'fail') {
          result = faultResponse(fault);
        } else {
          const body = method === 'GET' || method === 'DELETE' ? {} : await readJsonBody(request);
          const routeRequest = {
            state,
            params: found.params,
            query: url.searchParams,
            body,
            caller,
          };
          const run = () =>
            found.route.handle(routeRequest).catch((error: unknown) => {
              if (error instanceof GitHubHttpError) return errorResponse(error);
              throw error;
            });
          result = found.route.write ? await serialize(run) : await run();
          if (fault?.kind === 'fail-after-effect') {
            result = errorResponse(
              new GitHubHttpError(fault.status, defaultFaultMessage(fault.status)),
            );
          }
          drop = fault?.kind === 'drop-after-effect';
        }
      }
    } catch (error) {
      if (error instanceof GitHubHttpError) {
        result = errorResponse(error);
      } else {
        logger.error('local forge request failed', {
          requestId,
          method,
          path: url.pathname,
          error: error instanceof Error ? error.message : String(error),
        });
        result = errorResponse(new GitHubHttpError(500, 'Internal Server Error'));
      }
    }
    logger.info('local forge request', {
      method,
      path: url.pathname,
      operation,
      status: drop ? null : result.status,
      requestId,
      elapsedMs: Date.now() - started,
    });
    if (drop) {
      request.socket.destroy();
      return;
    }
    send(response, result, requestId);
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('The local forge is not listening on a TCP port.');
  const hostInUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  state.baseUrl = `http://${hostInUrl}:${address.port}`;
  logger.info('local forge started', { url: state.baseUrl, repoPath: state.repoPath });

  let closing: Promise<void> | null = null;
  async function stop(): Promise<void> {
    state.webhooks?.close();
    await new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeIdleConnections();
    });
    await writeTail;
    logger.info('local forge stopped', { url: state.baseUrl });
  }

  return {
    url: state.baseUrl,
    port: address.port,
    repoPath: state.repoPath,
    deliveries: () => state.webhooks?.deliveries() ?? [],
    redeliver: async (deliveryId) => {
      if (state.webhooks === null) throw new Error('The local forge has no webhook configured.');
      return state.webhooks.redeliver(deliveryId);
    },
    webhooksIdle: async () => {
      await state.webhooks?.idle();
    },
    close() {
      closing ??= stop();
      return closing;
    },
  };
}
