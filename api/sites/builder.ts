// Rebuilds both sites from the repository's base branch, the way a deploy pipeline would: check
// out the commit, build each variant into a fresh folder, then switch the served folder over in
// one step, so readers never see a half-written site.
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SITE_VARIANTS, type SiteVariant } from '../../site/settings.ts';
import type { Logger } from '../platform/logger.ts';
import { git } from './git.ts';

export interface BuildRecord {
  sha: string;
  startedAt: string;
  finishedAt: string;
  ms: number;
  ok: boolean;
  /** The last lines the build printed when it failed. */
  error?: string;
}

export interface SiteBuilderOptions {
  /** The repository to build from: a path or URL that `git clone` accepts. */
  repository: string;
  baseBranch: string;
  /** Scratch space for the checkout and the build folders. */
  workDir: string;
  /** Environment passed to `astro build`: PUBLIC_API_URL, PUBLIC_SITE_URL, INTERNAL_SITE_URL. */
  siteEnv: Record<string, string>;
  logger: Logger;
  /** Called after both variants of a commit are built and switched over. */
  onBuilt?: (record: BuildRecord) => void;
}

export interface SiteBuilder {
  /** Folder currently served for a variant, or null before the first successful build. */
  current(variant: SiteVariant): string | null;
  /** Content folder of the checkout the current sites were built from. */
  contentDir(): string;
  /** Builds the base branch's newest commit unless it is already built; concurrent calls share one build. */
  rebuild(reason: string): Promise<BuildRecord>;
  history(): readonly BuildRecord[];
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const astroBin = path.join(projectRoot, 'node_modules/astro/bin/astro.mjs');

export function createSiteBuilder(options: SiteBuilderOptions): SiteBuilder {
  const checkout = path.join(options.workDir, 'checkout');
  const served = new Map<SiteVariant, string>();
  const records: BuildRecord[] = [];
  let builtSha: string | null = null;
  let running: Promise<BuildRecord> | null = null;
  let queued: Promise<BuildRecord> | null = null;

  async function updateCheckout(): Promise<string> {
    if (!existsSync(path.join(checkout, '.git'))) {
      await mkdir(options.workDir, { recursive: true });
      // Comment bodies are built byte for byte, whatever the user's global line-ending setting.
      await git([
        'clone',
        '--quiet',
        '--config',
        'core.autocrlf=false',
        '--branch',
        options.baseBranch,
        options.repository,
        checkout,
      ]);
    } else {
      await git(['fetch', '--quiet', 'origin', options.baseBranch], checkout);
      await git(['reset', '--quiet', '--hard', 'FETCH_HEAD'], checkout);
    }
    return (await git(['rev-parse', 'HEAD'], checkout)).trim();
  }

  async function buildOnce(reason: string): Promise<BuildRecord> {
    const started = Date.now();
    const sha = await updateCheckout();
    if (sha === builtSha) {
      return records.at(-1) ?? finish(sha, started, true);
    }
    options.logger.info('site build started', { sha, reason });
    try {
      const folders = await Promise.all(SITE_VARIANTS.map((variant) => buildVariant(variant, sha)));
      const previous = SITE_VARIANTS.map((variant) => served.get(variant));
      SITE_VARIANTS.forEach((variant, index) => served.set(variant, folders[index]!));
      builtSha = sha;
      await Promise.all(
        previous
          .filter((folder) => folder !== undefined)
          .map((f) => rm(f, { recursive: true, force: true })),
      );
      const record = finish(sha, started, true);
      options.logger.info('site build finished', { sha, ms: record.ms });
      options.onBuilt?.(record);
      return record;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      options.logger.error('site build failed', { sha, error: message });
      return finish(sha, started, false, message);
    }
  }

  function finish(sha: string, started: number, ok: boolean, error?: string): BuildRecord {
    const record: BuildRecord = {
      sha,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      ms: Date.now() - started,
      ok,
      ...(error === undefined ? {} : { error }),
    };
    records.push(record);
    if (records.length > 50) records.shift();
    return record;
  }

  async function buildVariant(variant: SiteVariant, sha: string): Promise<string> {
    const outDir = path.join(
      options.workDir,
      'sites',
      `${variant}-${sha.slice(0, 12)}-${Date.now()}`,
    );
    // Astro writes intermediate modules to <cwd>/.astro when outDir is outside the current
    // directory, and those modules import packages from node_modules. Each build therefore runs
    // from a folder of its own inside the project, so two builds never share those files.
    const cwd = path.join(
      projectRoot,
      '.astro',
      'builds',
      `${variant}-${process.pid}-${Date.now()}`,
    );
    await mkdir(cwd, { recursive: true });
    await runAstroBuild(cwd, {
      ...options.siteEnv,
      SITE_VARIANT: variant,
      MARGINALIA_CONTENT_DIR: path.join(checkout, 'content'),
      MARGINALIA_OUT_DIR: outDir,
      MARGINALIA_CACHE_DIR: path.join(options.workDir, 'cache', variant),
    }).finally(() => rm(cwd, { recursive: true, force: true }));
    return outDir;
  }

  return {
    current: (variant) => served.get(variant) ?? null,
    contentDir: () => path.join(checkout, 'content'),
    history: () => records,
    rebuild(reason) {
      // One build at a time. A request that arrives during a build waits for one more build
      // after it, which picks up every commit merged meanwhile.
      if (!running) {
        running = buildOnce(reason).finally(() => {
          running = null;
        });
        return running;
      }
      queued ??= running.then(() => {
        queued = null;
        return this.rebuild(reason);
      });
      return queued;
    },
  };
}

/** Runs `astro build` on the project from `cwd` with the given variables, on this same Node binary. */
export function runAstroBuild(cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [astroBin, 'build', '--silent', '--root', projectRoot], {
      cwd,
      env: { ...process.env, ...env, ASTRO_TELEMETRY_DISABLED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (chunk: Buffer) => {
      output.push(chunk.toString('utf8'));
      if (output.length > 200) output.shift();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const tail = output.join('').split('\n').slice(-30).join('\n');
        reject(new Error(`astro build for ${env.SITE_VARIANT} exited with ${code}:\n${tail}`));
      }
    });
  });
}
