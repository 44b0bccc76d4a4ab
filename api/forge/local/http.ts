// Request and response helpers shared by the local forge's routes, and GitHub's error shapes.

import type { IncomingMessage } from 'node:http';

const DOCS = 'https://docs.github.com/rest';

/** An error the forge returns as GitHub does: `{message, documentation_url, status, errors?}`. */
export class GitHubHttpError extends Error {
  readonly status: number;
  readonly documentationUrl: string;
  readonly errors: ReadonlyArray<Record<string, string>> | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    options: {
      docsPath?: string;
      errors?: ReadonlyArray<Record<string, string>>;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = 'GitHubHttpError';
    this.status = status;
    this.documentationUrl = options.docsPath === undefined ? DOCS : `${DOCS}/${options.docsPath}`;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  toJson(): Record<string, unknown> {
    const body: Record<string, unknown> = {
      message: this.message,
      documentation_url: this.documentationUrl,
      status: String(this.status),
    };
    if (this.errors !== undefined) body['errors'] = this.errors;
    return body;
  }
}

export function notFound(docsPath?: string): GitHubHttpError {
  return new GitHubHttpError(404, 'Not Found', docsPath === undefined ? {} : { docsPath });
}

/** GitHub's 422 for a request body that names no value for a required field. */
export function missingField(field: string, docsPath: string): GitHubHttpError {
  return new GitHubHttpError(422, `Invalid request.\n\n"${field}" wasn't supplied.`, { docsPath });
}

export function validationFailed(
  docsPath: string,
  errors: ReadonlyArray<Record<string, string>>,
): GitHubHttpError {
  return new GitHubHttpError(422, 'Validation Failed', { docsPath, errors });
}

/** Largest request body accepted; GitHub's contents API takes files up to 100 MB. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

export async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      throw new GitHubHttpError(413, `Request body is larger than ${MAX_BODY_BYTES} bytes.`);
    }
    chunks.push(buffer);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new GitHubHttpError(400, 'Problems parsing JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new GitHubHttpError(400, 'Problems parsing JSON');
  }
  // GitHub accepts a bare array for the labels endpoint, which arrives here as { labels: [...] }.
  if (Array.isArray(parsed)) return { labels: parsed };
  return Object.fromEntries(Object.entries(parsed));
}

export function stringField(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  return typeof value === 'string' ? value : undefined;
}
