// The local stack follows its repository: content merged into the base branch by any route
// reaches both the sites and the API's checks after the next build.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startLocalStack, type LocalStack } from '../../api/node/local-stack.ts';
import { createJsonLogger } from '../../api/platform/logger.ts';

const run = promisify(execFile);
const repositoryRoot = path.resolve(import.meta.dirname, '../..');

let stack: LocalStack;
let dataDir: string;

async function git(cwd: string, ...args: string[]): Promise<string> {
  const identity = {
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@localhost',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@localhost',
  };
  const { stdout } = await run('git', args, { cwd, env: { ...process.env, ...identity } });
  return stdout;
}

/** Pushes a new post straight to the base branch, as a staff member would with git. */
async function pushPost(id: string, visibility: 'public' | 'internal'): Promise<void> {
  const clone = path.join(dataDir, `clone-${id}`);
  await git(dataDir, 'clone', '--quiet', stack.forge.repoPath, clone);
  const text = `---\nid: "${id}"\ntitle: "Pushed ${id}"\ndate: "2026-12-01"\nvisibility: "${visibility}"\n---\n\nPushed with git.\n`;
  await writeFile(path.join(clone, 'content', 'posts', `${id}.md`), text);
  await git(clone, 'add', '.');
  await git(clone, 'commit', '--quiet', '-m', `Add ${id}`);
  await git(clone, 'push', '--quiet', 'origin', 'HEAD:main');
}

async function submit(post: string, origin: string): Promise<number> {
  const response = await fetch(`${stack.urls.api}/api/comments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ post, author: 'Ada', text: `Hello ${post}` }),
  });
  return response.status;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'marginalia-stack-'));
  const log: string[] = [];
  stack = await startLocalStack({
    dataDir,
    seedContentDir: path.join(repositoryRoot, 'content'),
    ports: { forge: 0, api: 0, public: 0, internal: 0 },
    logger: createJsonLogger(
      (line) => log.push(line),
      () => new Date(),
    ),
  });
  const first = await stack.firstBuild;
  if (!first.ok) throw new Error(`first build failed: ${first.error}`);
});

afterAll(async () => {
  await stack?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('local stack', () => {
  test('a post pushed to main takes comments after the rebuild', async () => {
    expect(await submit('pushed-later', stack.urls.public)).toBe(404);
    await pushPost('pushed-later', 'public');
    const build = await stack.builder.rebuild('test push');
    expect(build.ok).toBe(true);
    await expect.poll(() => submit('pushed-later', stack.urls.public)).toBe(202);

    const page = await fetch(`${stack.urls.public}/posts/pushed-later/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Pushed pushed-later');
  });

  test('sites serve the last build with a CSP', async () => {
    const builds = stack.builder.history();
    expect(builds.at(-1)?.ok).toBe(true);
    const home = await fetch(`${stack.urls.internal}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});
