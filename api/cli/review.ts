// `npm run review`: staff review from the terminal, through the API's staff routes.
//
//   npm run review                    list the comments waiting for review
//   npm run review -- show RECEIPT    print one comment's text and metadata
//   npm run review -- approve RECEIPT merge its pull request; both sites rebuild
//   npm run review -- decline RECEIPT close its pull request unmerged
//
// MARGINALIA_API_URL is the API and MARGINALIA_STAFF_TOKEN the staff token. When unset, both come
// from the files that `npm start` writes in MARGINALIA_DATA_DIR (.marginalia): stack.json names
// the running API and secrets.json holds the token.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { terminalText } from './terminal-text.ts';

interface PendingComment {
  receipt: string;
  title: string;
  post?: { id: string; title: string | null };
  author?: string;
  date?: string;
  visibility?: string;
  parent?: string | null;
  text?: string;
  pullRequest: { number: number; url: string };
}

const USAGE = `Usage: npm run review [-- list | show RECEIPT | approve RECEIPT | decline RECEIPT]`;

const dataDir = path.resolve(process.env['MARGINALIA_DATA_DIR'] ?? '.marginalia');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Returns the API of the running `npm start`, unless MARGINALIA_API_URL names another. */
function apiUrl(): string {
  const fromEnv = process.env['MARGINALIA_API_URL'];
  if (fromEnv) return fromEnv.replace(/\/+$/, '');
  const file = path.join(dataDir, 'stack.json');
  if (existsSync(file)) {
    const stack: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (isRecord(stack) && isRecord(stack.urls) && typeof stack.urls.api === 'string') {
      return stack.urls.api;
    }
  }
  return 'http://127.0.0.1:8787';
}

function staffToken(): string {
  const fromEnv = process.env['MARGINALIA_STAFF_TOKEN'];
  if (fromEnv) return fromEnv;
  const file = path.join(dataDir, 'secrets.json');
  if (!existsSync(file)) {
    throw new Error(
      `MARGINALIA_STAFF_TOKEN is not set and ${file} does not exist; run npm start first, or set the token.`,
    );
  }
  const secrets: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (isRecord(secrets) && typeof secrets.staffToken === 'string') return secrets.staffToken;
  throw new Error(`${file} has no staffToken; delete it and run npm start again.`);
}

async function call(method: string, route: string): Promise<unknown> {
  const base = apiUrl();
  const token = staffToken();
  let response: Response;
  try {
    response = await fetch(`${base}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
  } catch (error) {
    throw new Error(`could not reach the API at ${base} (${String(error)}); is npm start running?`);
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = isRecord(body) && isRecord(body.error) ? body.error : {};
    const message = typeof error.message === 'string' ? error.message : '';
    throw new Error(`${base} returned HTTP ${response.status}. ${message}`.trim());
  }
  return body;
}

async function pending(): Promise<PendingComment[]> {
  const body = await call('GET', '/api/staff/comments');
  if (
    typeof body === 'object' &&
    body !== null &&
    'comments' in body &&
    Array.isArray(body.comments)
  ) {
    return body.comments as PendingComment[];
  }
  throw new Error('the API returned an unexpected list; check that it is a Marginalia API');
}

function describe(comment: PendingComment): string {
  const where = comment.post ? `on “${comment.post.title ?? comment.post.id}”` : '';
  const line = `${comment.receipt}  #${comment.pullRequest.number}  ${comment.author ?? '?'} ${where} (${comment.visibility ?? '?'})`;
  return terminalText(line, { multiline: false });
}

async function main(args: string[]): Promise<void> {
  const [command = 'list', receipt] = args;
  if (!['list', 'show', 'approve', 'decline'].includes(command)) {
    throw new Error(`unknown command "${command}".\n${USAGE}`);
  }
  if (command === 'list') {
    const comments = await pending();
    if (comments.length === 0) console.log('No comments are waiting for review.');
    for (const comment of comments) {
      console.log(describe(comment));
      const excerpt = (comment.text ?? '').replace(/\s+/g, ' ').slice(0, 100);
      if (excerpt) console.log(`    ${terminalText(excerpt, { multiline: false })}`);
    }
    return;
  }
  if (!receipt) throw new Error(`${command} needs a receipt id.\n${USAGE}`);
  if (command === 'show') {
    const comment = (await pending()).find((item) => item.receipt === receipt);
    if (!comment)
      throw new Error(
        `no pending comment has receipt ${receipt}; run npm run review to list them.`,
      );
    console.log(describe(comment));
    console.log(terminalText(`Pull request: ${comment.pullRequest.url}`, { multiline: false }));
    if (comment.parent) {
      console.log(terminalText(`Reply to: ${comment.parent}`, { multiline: false }));
    }
    const text = comment.text ?? '(text not in this API’s outbox)';
    console.log(`\n${terminalText(text, { multiline: true })}`);
    return;
  }
  if (command === 'approve' || command === 'decline') {
    const result = await call(
      'POST',
      `/api/staff/comments/${encodeURIComponent(receipt)}/${command}`,
    );
    const status = isRecord(result) && typeof result.status === 'string' ? result.status : '?';
    console.log(
      status === 'published'
        ? `Approved ${receipt}: its pull request is merged, and both sites are rebuilding.`
        : `Declined ${receipt}: its pull request is closed unmerged (status: ${status}).`,
    );
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
