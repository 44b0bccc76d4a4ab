// `npm start`: runs the whole pipeline on this machine and prints where to find it.
//
//   MARGINALIA_DATA_DIR   where the repository, outbox, builds and secrets live (.marginalia)
//   MARGINALIA_CONTENT_DIR  seed for the repository's first commit (content)
//   MARGINALIA_FORGE_PORT, MARGINALIA_API_PORT, MARGINALIA_PUBLIC_PORT, MARGINALIA_INTERNAL_PORT
//                         TCP ports on 127.0.0.1 (4010, 8787, 4321, 4322)
//   MARGINALIA_EMAIL_KEY  32-byte key (64 hex digits or base64) to keep reader email addresses,
//                         encrypted; without it no address is kept
//   MARGINALIA_EMAIL_RETENTION_DAYS  days an address is kept (90)
//   and the other optional settings of docs/configuration.md: rate limits, delivery attempts,
//   the canary (MARGINALIA_CANARY_INTERVAL_MINUTES, 5), alerts (MARGINALIA_ALERT_WEBHOOK_URL)
//
// Logs are JSON lines on stderr. Stop with Ctrl-C; the next start resumes from the data folder.
import path from 'node:path';
import { DEFAULT_PORTS, startLocalStack } from './local-stack.ts';
import { createJsonLogger } from '../platform/logger.ts';
import { parseOptionalSettings } from '../config.ts';
import { installProcessGuard } from './process-guard.ts';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';

function readPort(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} is ${JSON.stringify(value)}; set it to a TCP port from 0 to 65535.`);
  }
  return port;
}

const PORT_VARIABLES = {
  forge: 'MARGINALIA_FORGE_PORT',
  api: 'MARGINALIA_API_PORT',
  public: 'MARGINALIA_PUBLIC_PORT',
  internal: 'MARGINALIA_INTERNAL_PORT',
} as const;

/** Explains a port that is already taken, naming the variable that moves it. */
function describeStartFailure(error: unknown, ports: Record<keyof typeof PORT_VARIABLES, number>) {
  const message = error instanceof Error ? error.message : String(error);
  const taken = /EADDRINUSE.*:(\d+)$/.exec(message);
  if (!taken) return message;
  const port = Number(taken[1]);
  const part = (Object.keys(ports) as Array<keyof typeof ports>).find((key) => ports[key] === port);
  const variable = part ? PORT_VARIABLES[part] : 'the MARGINALIA_*_PORT variables';
  return [
    `Port ${port} on 127.0.0.1 is already in use${part ? ` (the ${part} port)` : ''}.`,
    `Stop the program that uses it, or pick free ports, for example:`,
    `  ${variable}=${port + 10000} npm start`,
    `Another npm start may still be running; its ports are in .marginalia/stack.json.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const dataDir = path.resolve(process.env['MARGINALIA_DATA_DIR'] ?? '.marginalia');
  const contentDir = path.resolve(process.env['MARGINALIA_CONTENT_DIR'] ?? 'content');
  mkdirSync(dataDir, { recursive: true });
  // The JSON log goes to a file so that the terminal keeps the few lines a person needs.
  const logFile = path.join(dataDir, 'marginalia.log');
  const logStream = createWriteStream(logFile, { flags: 'a' });
  const logger = createJsonLogger(
    (line) => logStream.write(line),
    () => new Date(),
  );

  const ports = {
    forge: readPort(PORT_VARIABLES.forge, DEFAULT_PORTS.forge),
    api: readPort(PORT_VARIABLES.api, DEFAULT_PORTS.api),
    public: readPort(PORT_VARIABLES.public, DEFAULT_PORTS.public),
    internal: readPort(PORT_VARIABLES.internal, DEFAULT_PORTS.internal),
  };
  installProcessGuard({
    logger,
    beforeExit: () => new Promise((resolve) => logStream.write('', () => resolve())),
  });
  // Reader email addresses are kept (encrypted) only when MARGINALIA_EMAIL_KEY is set.
  const settings = parseOptionalSettings(process.env);

  console.log('Starting the local forge, building both sites, then starting the API...');
  const started = Date.now();
  const stack = await startLocalStack({
    dataDir,
    seedContentDir: contentDir,
    ports,
    logger,
    settings,
    monitor: {},
  }).catch((error: unknown) => {
    throw new Error(describeStartFailure(error, ports));
  });
  // The CLIs find this instance's API through this file.
  const stackFile = path.join(dataDir, 'stack.json');
  writeFileSync(stackFile, JSON.stringify({ pid: process.pid, urls: stack.urls }, null, 2) + '\n');
  const shutdown = async (signal: string) => {
    console.log(`\n${signal} received; stopping after the delivery in flight...`);
    await stack.close();
    rmSync(stackFile, { force: true });
    logger.info('marginalia stopped', { signal });
    logStream.end(() => process.exit(0));
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  const build = await stack.firstBuild;
  if (!build.ok) {
    console.error(`The first site build failed:\n${build.error ?? '(no output)'}`);
    console.error(`Fix the content, then run npm start again. Log: ${logFile}`);
    await stack.close();
    process.exit(1);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`
Marginalia is running (ready in ${seconds} s).

  Public site     ${stack.urls.public}/
  Internal site   ${stack.urls.internal}/
  Review page     ${stack.urls.internal}/review/
  API             ${stack.urls.api}/api/health
  Pull requests   ${stack.urls.forge}/marginalia/blog/pulls   (the local forge)
  Repository      ${stack.forge.repoPath}

  Staff token     ${stack.staffToken}
                  (for the review page and \`npm run review\`)

  Data and logs   ${dataDir}
Post a comment on the public site, approve it on the review page, and both sites rebuild.
Press Ctrl-C to stop.`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
