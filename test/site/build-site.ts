// Runs `astro build` for one variant in a child process, the way the package.json scripts do.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
const astroBin = path.join(repoRoot, 'node_modules/astro/bin/astro.mjs');

/**
 * Creates a temporary folder for build output inside the repository. Astro 7 keeps intermediate
 * files in the output folder only when it lies under the working directory. Otherwise it uses
 * ./.astro/, so builds running at the same time would break each other.
 */
export async function makeBuildRoot(): Promise<string> {
  const parent = path.join(repoRoot, 'node_modules', '.cache');
  await mkdir(parent, { recursive: true });
  return mkdtemp(path.join(parent, 'marginalia-site-test-'));
}

export interface BuildOptions {
  variant: string;
  contentDir: string;
  outDir: string;
  cacheDir: string;
  env?: Record<string, string>;
}

export interface BuildResult {
  code: number;
  output: string;
  milliseconds: number;
}

/** Builds a site and resolves with the exit code and the combined output; never rejects. */
export function buildSite(options: BuildOptions): Promise<BuildResult> {
  const env = {
    ...process.env,
    ASTRO_TELEMETRY_DISABLED: '1',
    SITE_VARIANT: options.variant,
    MARGINALIA_CONTENT_DIR: options.contentDir,
    MARGINALIA_OUT_DIR: options.outDir,
    MARGINALIA_CACHE_DIR: options.cacheDir,
    ...options.env,
  };
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [astroBin, 'build'],
      { cwd: repoRoot, env, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) code = typeof error.code === 'number' ? error.code : 1;
        const milliseconds = Math.round(performance.now() - started);
        resolve({ code, output: `${stdout}\n${stderr}`, milliseconds });
      },
    );
  });
}
