// The process guard in a child process of its own: an unhandled rejection or an uncaught
// exception is logged with its context and ends the process with a non-zero code.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_EXIT_CODE } from '../../api/node/process-guard.ts';

const guardModule = fileURLToPath(new URL('../../api/node/process-guard.ts', import.meta.url));
const loggerModule = fileURLToPath(new URL('../../api/platform/logger.ts', import.meta.url));

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'process-guard-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ChildResult {
  code: number | null;
  lines: Array<Record<string, unknown>>;
}

/** Runs `body` after installing the guard in a fresh Node process. */
async function runChild(name: string, body: string): Promise<ChildResult> {
  const file = path.join(dir, `${name}.ts`);
  await writeFile(
    file,
    `import { installProcessGuard } from ${JSON.stringify(guardModule)};\n` +
      `import { createJsonLogger } from ${JSON.stringify(loggerModule)};\n` +
      `const logger = createJsonLogger((line) => process.stdout.write(line), () => new Date());\n` +
      `installProcessGuard({ logger });\n${body}\n`,
  );
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout: 20_000 }, (error, stdout) => {
      let code: number | null = 0;
      if (error !== null) code = typeof error.code === 'number' ? error.code : null;
      const lines = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, lines });
    });
  });
}

describe('process guard', () => {
  it('exits non-zero on an unhandled rejection', async () => {
    const result = await runChild(
      'rejection',
      "setTimeout(() => undefined, 10_000);\nPromise.reject(new Error('outbox write lost its lock'));",
    );
    expect(result.code).toBe(CRASH_EXIT_CODE);
    const [line] = result.lines;
    expect(line?.['level']).toBe('error');
    expect(line?.['event']).toBe('unhandled promise rejection');
    expect(line?.['error']).toBe('outbox write lost its lock');
    expect(typeof line?.['stack']).toBe('string');
    expect(typeof line?.['pid']).toBe('number');
  });

  it('exits non-zero on a rejection with a non-Error value', async () => {
    const result = await runChild('value', "void Promise.reject('plain text reason');");
    expect(result.code).toBe(CRASH_EXIT_CODE);
    expect(result.lines[0]).toMatchObject({ error: 'plain text reason', kind: 'string' });
  });

  it('exits non-zero on an uncaught exception', async () => {
    const result = await runChild(
      'exception',
      "setTimeout(() => { throw new TypeError('bad state'); }, 1);",
    );
    expect(result.code).toBe(CRASH_EXIT_CODE);
    expect(result.lines[0]).toMatchObject({ event: 'uncaught exception', kind: 'TypeError' });
  });

  it('logs once when several rejections follow', async () => {
    const result = await runChild(
      'several',
      "void Promise.reject(new Error('first'));\nvoid Promise.reject(new Error('second'));",
    );
    expect(result.code).toBe(CRASH_EXIT_CODE);
    expect(result.lines).toHaveLength(1);
    expect(result.lines[0]?.['error']).toBe('first');
  });

  it('leaves a process without failures running to its end', async () => {
    const result = await runChild(
      'clean',
      'await Promise.resolve(); console.log(\'{"done":true}\');',
    );
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([{ done: true }]);
  });
});
