// Runs on Node before the workerd tests. It writes the bundled content index from content/ and
// starts the local forge seeded with the same content/. It also starts a control server, through
// which the tests inside workerd (where no Node API runs) set forge faults and read webhooks.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  startLocalForge,
  type FaultDecision,
  type FaultHook,
} from '../../api/forge/local/index.ts';
import { writeContentIndex } from '../../api/workers/build-content-index.ts';
import type { FaultRule, RecordedWebhook } from './support/control.ts';

export const OWNER = 'marginalia';
export const REPO = 'blog';
export const FORGE_TOKEN = 'workers-test-forge-token';
export const WEBHOOK_SECRET = 'workers-test-webhook-secret';
export const APP_ID = 4242;
export const APP_INSTALLATION_ID = 77;

declare module 'vitest' {
  export interface ProvidedContext {
    forgeUrl: string;
    controlUrl: string;
    forgeToken: string;
    webhookSecret: string;
    appId: number;
    appInstallationId: number;
    appPrivateKey: string;
  }
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${address.port}`);
    });
  });
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = path.resolve(import.meta.dirname, '../..');
  const contentDir = path.join(root, 'content');
  await writeContentIndex(contentDir);

  // The forge sends its webhooks here; the tests read them and post them to the Worker.
  const webhooks: RecordedWebhook[] = [];
  const receiver = createServer(async (request, response) => {
    const body = await readBody(request);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string') headers[name] = value;
    }
    webhooks.push({ event: headers['x-github-event'] ?? '', headers, body });
    response.writeHead(204).end();
  });
  const receiverUrl = await listen(receiver);

  // Each rule fails the next `times` requests of its operation.
  let rules: FaultRule[] = [];
  const faults: FaultHook = (request) => {
    const rule = rules.find((item) => item.operation === request.operation && item.times > 0);
    if (rule === undefined) return undefined;
    rule.times -= 1;
    rule.applied += 1;
    if (rule.kind === 'fail-after-effect') return { kind: 'fail-after-effect', status: 502 };
    const decision: FaultDecision = { kind: 'fail', status: rule.status };
    if (rule.retryAfterSeconds !== undefined) decision.retryAfterSeconds = rule.retryAfterSeconds;
    return decision;
  };

  // The forge also accepts this GitHub App, so a test can deliver with installation tokens.
  const appKeys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'workers-forge-'));
  const forge = await startLocalForge({
    dataDir,
    owner: OWNER,
    repo: REPO,
    baseBranch: 'main',
    token: FORGE_TOKEN,
    webhook: { url: `${receiverUrl}/webhooks`, secret: WEBHOOK_SECRET, retryDelaysMs: [] },
    seed: { directory: contentDir, prefix: 'content' },
    faults,
    app: { id: APP_ID, publicKey: appKeys.publicKey, installationId: APP_INSTALLATION_ID },
  });

  const hookCalls: string[] = [];
  const control = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://control');
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method === 'PUT' && url.pathname === '/faults') {
      const body = JSON.parse(await readBody(request)) as { rules: FaultRule[] };
      rules = body.rules.map((rule) => ({ ...rule, applied: 0 }));
      send(200, { rules });
      return;
    }
    if (request.method === 'GET' && url.pathname === '/faults') {
      send(200, { rules });
      return;
    }
    // The sites' deploy hooks: the Worker POSTs here after a merge.
    const hook = /^\/hooks\/(public|internal)$/.exec(url.pathname);
    if (request.method === 'POST' && hook !== null) {
      hookCalls.push(hook[1] ?? '');
      send(200, { ok: true });
      return;
    }
    if (request.method === 'GET' && url.pathname === '/hooks') {
      send(200, { calls: hookCalls });
      return;
    }
    if (request.method === 'GET' && url.pathname === '/webhooks') {
      await forge.webhooksIdle();
      send(200, { webhooks });
      return;
    }
    send(404, { error: `no control route ${request.method} ${url.pathname}` });
  });
  const controlUrl = await listen(control);

  project.provide('forgeUrl', forge.url);
  project.provide('controlUrl', controlUrl);
  project.provide('forgeToken', FORGE_TOKEN);
  project.provide('webhookSecret', WEBHOOK_SECRET);
  project.provide('appId', APP_ID);
  project.provide('appInstallationId', APP_INSTALLATION_ID);
  project.provide('appPrivateKey', appKeys.privateKey);

  return async () => {
    await close(control);
    await forge.webhooksIdle();
    await forge.close();
    await close(receiver);
    await rm(dataDir, { recursive: true, force: true });
  };
}
