// Serves a built site from a folder that can change between requests, so a rebuild switches the
// whole site at once. Used by the local default; production hosts the sites on a static host.
import { createServer, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { securityHeaders } from '../../site/lib/security-headers.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export interface StaticSiteServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface StaticSiteOptions {
  /** Returns the folder to serve now, or null while the first build is still running. */
  root: () => string | null;
  port: number;
  host?: string;
  /** Origin of the API, allowed as a form target and for fetch in the Content-Security-Policy. */
  apiOrigin: string;
}

/** Finds the file for a URL path inside root, or null when the path leaves it or names nothing. */
export async function resolveFile(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const candidate = path.resolve(root, `.${path.posix.normalize(`/${decoded}`)}`);
  if (candidate !== root && !candidate.startsWith(root + path.sep)) return null;
  for (const file of [candidate, path.join(candidate, 'index.html'), `${candidate}.html`]) {
    const info = await stat(file).catch(() => null);
    if (info?.isFile()) return file;
  }
  return null;
}

export function startStaticSiteServer(options: StaticSiteOptions): Promise<StaticSiteServer> {
  const headers = securityHeaders({ apiOrigin: options.apiOrigin, turnstile: false });

  const server: Server = createServer(async (request, response) => {
    const root = options.root();
    if (!root) {
      response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '2' });
      response.end('The site is being built. Reload in a few seconds.\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' });
      response.end();
      return;
    }
    const urlPath = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = await resolveFile(root, urlPath);
    const target = file ?? (await resolveFile(root, '/404.html'));
    const status = file ? 200 : 404;
    if (!target) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      response.end('Not found\n');
      return;
    }
    response.writeHead(status, {
      'content-type': CONTENT_TYPES[path.extname(target)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      ...headers,
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(target).pipe(response);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
