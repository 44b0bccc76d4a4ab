// `npm start`: runs the whole pipeline on this machine and prints where to find it.
//
//   MARGINALIA_DATA_DIR   where the repository, outbox, builds and secrets live (.marginalia)
//   MARGINALIA_CONTENT_DIR  seed for the repository's first commit (content)
//   MARGINALIA_FORGE_PORT, MARGINALIA_API_PORT, MARGINALIA_PUBLIC_PORT, MARGINALIA_INTERNAL_PORT
//                         TCP ports on 127.0.0.1 (4010, 8787, 4321, 4322)
//
// Logs are JSON lines on stderr. Stop with Ctrl-C; the next start resumes from the data folder.
import path from 'node:path';
import { DEFAULT_PORTS, startLocalStack } from './local-stack.ts';
import { createJsonLogger } from '../platform/logger.ts';
import { createWriteStream } from 'node:fs';
import { mkdirSync } from 'node:fs';

function readPort(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} is ${JSON.stringify(value)}; set it to a TCP port from 0 to 65535.`);
  }
  return port;
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

  console.log('Starting the local forge, building both sites, then starting the API...');
  const started = Date.now();
  const stack = await startLocalStack({
    dataDir,
    seedContentDir: contentDir,
    ports: {
      forge: readPort('MARGINALIA_FORGE_PORT', DEFAULT_PORTS.forge),
      api: readPort('MARGINALIA_API_PORT', DEFAULT_PORTS.api),
      public: readPort('MARGINALIA_PUBLIC_PORT', DEFAULT_PORTS.public),
      internal: readPort('MARGINALIA_INTERNAL_PORT', DEFAULT_PORTS.internal),
    },
    logger,
  });
  const shutdown = async (signal: string) => {
    console.log(`\n${signal} received; stopping after the delivery in flight...`);
    await stack.close();
    logStream.end();
    process.exit(0);
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
  Local forge     ${stack.urls.forge}/repos/marginalia/blog

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
