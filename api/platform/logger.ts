// Structured logging: one JSON object per line. Callers pass ids, counts and timings as fields;
// request bodies, email addresses and tokens are never passed in, so they never reach a log.

export type LogLevel = 'info' | 'warn' | 'error';

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Creates a logger that writes each entry as one JSON line through `write`. */
export function createJsonLogger(write: (line: string) => void, now: () => Date): Logger {
  const log = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    write(JSON.stringify({ time: now().toISOString(), level, message, ...fields }) + '\n');
  };
  return {
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
  };
}

/** Creates a JSON-lines logger on the process's standard error. */
export function createStderrLogger(now: () => Date = () => new Date()): Logger {
  return createJsonLogger((line) => process.stderr.write(line), now);
}

/** Describes a caught value for a log field without its stack or any attached request data. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
