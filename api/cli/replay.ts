// `npm run replay`: lists the dead letters in the outbox and sends them again once the cause (an
// expired forge token, a renamed repository) is fixed.
//
//   npm run replay                 list the dead letters: id, post, attempts, since, last error
//   npm run replay -- --all        requeue every dead letter
//   npm run replay -- ID [ID...]   requeue these dead letters
//
// It opens the outbox database directly: MARGINALIA_DATA_DIR/api/outbox.sqlite, where `npm start`
// keeps it (MARGINALIA_DATA_DIR defaults to .marginalia). Set MARGINALIA_OUTBOX to the path of
// another outbox file, such as the one of a deployed API. This works whether the API is running
// or stopped, because SQLite serializes the writes. A requeued comment is received again, with no
// failed attempts, and due at once. A running worker picks it up within its idle wait (30
// seconds), and a stopped API delivers it when it starts.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openSqliteStore } from '../outbox/sqlite-store.ts';
import type { CommentStore, DeadLetter } from '../outbox/types.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import { terminalText } from './terminal-text.ts';

const USAGE = 'Usage: npm run replay [-- --all | ID [ID...]]';
/** Maximum length of a last error in the list, in characters. */
const ERROR_SHOWN = 200;

export interface ReplayDeps {
  store: CommentStore;
  clock: Clock;
  /** Writes one line of output. */
  print: (line: string) => void;
}

function describe(letter: DeadLetter): string {
  const error = (letter.lastError ?? '(no error recorded)').replace(/\s+/g, ' ');
  const line =
    `${letter.id}  ${letter.post}  ${letter.attempts} attempts  cause ${letter.cause}  ` +
    `since ${letter.deadSince.toISOString()}\n    ${error.slice(0, ERROR_SHOWN)}`;
  return terminalText(line, { multiline: true });
}

/**
 * Runs the command on `args` (the arguments after `--`) and returns the exit code: 0 on success,
 * 1 when an id named is not a dead letter, 2 on a usage error.
 */
export async function runReplay(args: readonly string[], deps: ReplayDeps): Promise<number> {
  const { store, clock, print } = deps;
  const unknown = args.find((arg) => arg.startsWith('-') && arg !== '--all');
  if (unknown !== undefined || (args.includes('--all') && args.length > 1)) {
    print(`Invalid arguments: ${terminalText(args.join(' '), { multiline: false })}. ${USAGE}`);
    return 2;
  }

  if (args.length === 0) {
    const letters = await store.listDeadLetters();
    if (letters.length === 0) {
      print('There are no dead letters; every comment is delivered or waiting for its next try.');
      return 0;
    }
    print(`${letters.length} dead letters, oldest first:`);
    for (const letter of letters) print(describe(letter));
    print('Fix the cause of the last error, then run: npm run replay -- --all');
    return 0;
  }

  const selection = args.includes('--all') ? 'all' : args;
  const requeued = await store.requeueDeadLetters(selection, clock.now());
  for (const id of requeued) print(`Requeued ${id}; it will be delivered on the next try.`);
  if (selection === 'all' && requeued.length === 0) print('There are no dead letters to requeue.');
  const skipped = selection === 'all' ? [] : selection.filter((id) => !requeued.includes(id));
  for (const id of skipped) {
    print(
      `Skipped ${terminalText(id, { multiline: false })}: it is not a dead letter. ` +
        'Run npm run replay to list them.',
    );
  }
  return skipped.length === 0 ? 0 : 1;
}

/** Returns the outbox file of `npm start`, unless MARGINALIA_OUTBOX names another. */
function outboxPath(env: NodeJS.ProcessEnv): string {
  const named = env['MARGINALIA_OUTBOX'];
  if (named !== undefined && named !== '') return path.resolve(named);
  const dataDir = path.resolve(env['MARGINALIA_DATA_DIR'] ?? '.marginalia');
  return path.join(dataDir, 'api', 'outbox.sqlite');
}

async function main(): Promise<number> {
  const file = outboxPath(process.env);
  // Opening a missing file would create an empty outbox and report no dead letters.
  if (!existsSync(file)) {
    console.error(
      `No outbox at ${file}. Run npm start once, or set MARGINALIA_DATA_DIR to the folder ` +
        'npm start uses, or MARGINALIA_OUTBOX to an outbox file.',
    );
    return 2;
  }
  const store = openSqliteStore({ path: file });
  try {
    return await runReplay(process.argv.slice(2), {
      store,
      clock: systemClock,
      print: (line) => console.log(line),
    });
  } finally {
    await store.close();
  }
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
